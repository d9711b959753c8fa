"""A tabular stochastic policy keyed by the env's ``state_key`` (e.g. a solved CFR strategy).

Because ``state_key`` is a stable hash of the acting agent's information state (DESIGN §3), a table
computed on the AEC form of an env plays unchanged in its single-agent view, as a learner or as an
opponent (``gym.make(env_id, opponents=[policy])``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from turngym.envs.core.agent_api import legal_ids

FORMAT = "turngym.tabular_policy"
FORMAT_VERSION = 1


class TabularPolicy:
    """Plays a fixed behaviour strategy: ``state_key`` -> probability of each action id.

    Implements the batched agent protocol ``act(observations, infos, *, rng=None)``. Probabilities are
    restricted to ``info["legal_action_ids"]`` and renormalized; information states missing from the
    table (or whose legal actions all have probability 0) are played uniformly over the legal actions.

    Args:
        table: ``state_key`` -> probabilities indexed by action id (length ``num_actions``).
        num_actions: Size of the env's discrete action space.
        env_id: Env id the keys belong to (informational; keys are namespaced by it).
        action_names: Word of each action id (informational, saved with the table).
        seed: Seed of the policy's own RNG, used when ``act`` gets no ``rng``.

    Raises:
        ValueError: On a row of the wrong length, or with negative or non-finite entries.
    """

    name = "tabular"
    obs_mode = "vector"  # observations are ignored; the vector form is the cheaper one for envs to build

    def __init__(
        self,
        table: Mapping[str, Sequence[float] | np.ndarray],
        num_actions: int,
        *,
        env_id: str | None = None,
        action_names: Sequence[str] | None = None,
        seed: int | None = None,
    ):
        self.num_actions = int(num_actions)
        self.env_id = env_id
        self.action_names = tuple(action_names) if action_names is not None else None
        self.table: dict[str, np.ndarray] = {}
        for key, row in table.items():
            arr = np.asarray(row, dtype=np.float64)
            if arr.shape != (self.num_actions,):
                raise ValueError(f"row for {key!r} has shape {arr.shape}, expected ({self.num_actions},)")
            if not np.all(np.isfinite(arr)) or np.any(arr < 0):
                raise ValueError(f"row for {key!r} has negative or non-finite probabilities: {arr}")
            arr.setflags(write=False)
            self.table[str(key)] = arr
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.table)

    def __contains__(self, key: object) -> bool:
        return key in self.table

    def __repr__(self) -> str:
        return f"TabularPolicy(env_id={self.env_id!r}, entries={len(self.table)}, num_actions={self.num_actions})"

    # ---------------------------------------------------------------- acting
    def _distribution(self, info: Mapping[str, Any], observation: Any = None) -> tuple[list[int], np.ndarray]:
        """Legal ids and their probabilities (summing to 1) in the information state of ``info``."""
        legal = legal_ids(dict(info), observation)
        if not legal:
            return [], np.zeros(0)
        row = self.table.get(str(info.get("state_key")))
        probs = np.zeros(len(legal))
        if row is not None:
            ids = np.asarray(legal)
            ok = (ids >= 0) & (ids < self.num_actions)
            probs[ok] = row[ids[ok]]
        total = probs.sum()
        if total <= 0:
            return legal, np.full(len(legal), 1.0 / len(legal))
        return legal, probs / total

    def action_probs(self, info: Mapping[str, Any], observation: Any = None) -> dict[int, float]:
        """Probability of each legal action id in the information state described by ``info``.

        Args:
            info: An env info dict (``state_key`` and ``legal_action_ids``).
            observation: Optional vector observation, whose ``action_mask`` is used when the info has no
                ``legal_action_ids``.

        Returns:
            ``{action_id: probability}`` over the legal actions (empty when nothing is legal).
        """
        legal, probs = self._distribution(info, observation)
        return {a: float(p) for a, p in zip(legal, probs, strict=True)}

    def act(
        self,
        observations: Sequence[Any],
        infos: Sequence[Mapping[str, Any]],
        *,
        rng: np.random.Generator | None = None,
    ) -> list[Any]:
        """Samples one action id per environment from the table.

        Args:
            observations: One observation per env (used only for a vector ``action_mask`` fallback).
            infos: One info dict per env.
            rng: Generator to sample from (envs pass theirs for reproducible rollouts); default: the
                policy's own.

        Returns:
            One legal action id per env (``None`` where no action is legal).
        """
        gen = rng if rng is not None else self.rng
        out: list[Any] = []
        for obs, info in zip(observations, infos, strict=True):
            legal, probs = self._distribution(info, obs)
            if not legal:
                out.append(None)
                continue
            # Inverse-CDF draw with a single uniform, clamped against round-off at the top end.
            k = int(np.searchsorted(np.cumsum(probs), gen.random(), side="right"))
            out.append(legal[min(k, len(legal) - 1)])
        return out

    # ----------------------------------------------------------------- I/O
    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (floats are written with full precision, so it round-trips exactly)."""
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "env_id": self.env_id,
            "num_actions": self.num_actions,
            "action_names": list(self.action_names) if self.action_names is not None else None,
            "policy": {k: [float(x) for x in v] for k, v in sorted(self.table.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], seed: int | None = None) -> TabularPolicy:
        """Inverse of ``to_dict``.

        Raises:
            ValueError: If ``data`` is not a turngym tabular policy of a supported version.
        """
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} document")
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported {FORMAT} version {data.get('version')!r}, expected {FORMAT_VERSION}")
        return cls(
            data["policy"],
            int(data["num_actions"]),
            env_id=data.get("env_id"),
            action_names=data.get("action_names"),
            seed=seed,
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Writes the table as JSON; returns the path."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")
        return out

    @classmethod
    def load(cls, path: str | os.PathLike[str], seed: int | None = None) -> TabularPolicy:
        """Reads a table written by ``save``."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")), seed=seed)


__all__ = ["TabularPolicy"]
