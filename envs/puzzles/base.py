"""What every puzzle env shares: step loop, info contract, observations, held-out splits, snapshots.

The step loop, the info contract and the snapshots follow DESIGN §3.

A puzzle is single-agent and fully observed, so its ``state_key`` is Markov: a digest of the current grid
(layout and positions) and nothing else, never the turn number or the history. The G episodes of a GiGPO
group share a reset seed, hence a level, so the same grid reached on different paths or at different turns
is one anchor state (as ALFWorld's observations are in Feng et al. 2025, §4.2).

Held-out levels (``split``): every generated level has a layout digest (BLAKE2b of its initial grid). A level
belongs to the test split iff ``digest mod 5 == 0``; an env with ``split="test"`` draws levels from its RNG
until one belongs to the test split, ``split="train"`` until one does not. The split is a function of the
layout itself, so no train seed and no test seed can give the same level, whatever the seeds.
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium
import numpy as np

from turngym.envs.core.errors import ConfigError, SnapshotError
from turngym.envs.core.parsing import MAX_ACTION_CHARS, parse_action
from turngym.envs.core.render import render_text
from turngym.envs.core.session import (
    RESET_FIRST,
    check_obs_mode,
    encode_snapshot,
    parsed_snapshot,
    read_dict,
    read_int,
    read_list,
    read_message,
    rng_from_state,
    rng_state,
)
from turngym.envs.core.spaces import Text, truncate
from turngym.envs.core.state_key import cached_state_key, canonical
from turngym.envs.core.text_env import TextEnv

SPLITS = ("train", "test")
#: A level is held out (test split) iff its layout digest is 0 modulo this: 1 level in 5.
TEST_MODULUS = 5
#: The last line of a text observation while the episode runs (the forms ``turngym.envs.core.parsing`` accepts).
REPLY_HINT = "Reply with one action word, bare or inside <action>...</action>."
_SNAPSHOT_KEYS = ("env_id", "version", "level", "position", "turn", "error", "rng")


def layout_digest(kind: str, rows: Sequence[str]) -> str:
    """BLAKE2b (128 bits) of a level's initial grid; ``kind`` keeps two puzzle families' digests apart."""
    h = hashlib.blake2b(digest_size=16)
    h.update(canonical([kind, list(rows)]).encode("utf-8"))
    return h.hexdigest()


def split_of(digest: str) -> str:
    """``"test"`` for the held-out levels (digest mod ``TEST_MODULUS`` == 0), else ``"train"``."""
    return "test" if int(digest, 16) % TEST_MODULUS == 0 else "train"


@dataclass(frozen=True)
class PuzzleActions:
    """The action set of a puzzle, under the names the conformance checker reads from ``env.game``.

    Attributes:
        action_names: Action words, indexed by action id.
    """

    action_names: tuple[str, ...]

    @property
    def num_actions(self) -> int:
        """Number of actions."""
        return len(self.action_names)


class PuzzleEnv(TextEnv):
    """Base of the puzzle envs; subclasses define the level, its generation, the moves and the grid.

    Every action is always legal while the episode runs (a move into a wall is a move that goes nowhere, as
    in gym-sokoban and Gymnasium's FrozenLake), so ``admissible_actions`` lists all of them and the vector
    action mask is all ones; only unparseable text or out-of-range ids are invalid. An invalid action leaves
    the state unchanged but consumes the turn (DESIGN §3).

    Args:
        obs_mode: ``"text"`` or ``"vector"``.
        split: ``"train"`` or ``"test"`` (module docstring).
        max_steps: Turns (invalid ones included) before the episode is truncated.
        invalid_action_penalty: Added to the reward of an invalid action.
        render_mode: ``None``, ``"ansi"`` or ``"human"``.
    """

    #: Action words, indexed by action id.
    action_names: ClassVar[tuple[str, ...]] = ()
    #: What ``layout_digest`` is namespaced by.
    kind: ClassVar[str] = ""
    #: First line of every text observation.
    title: ClassVar[str] = ""
    #: The task, as ``info["task"]["instruction"]`` and the text observation state it.
    instruction: ClassVar[str] = ""
    #: What each grid character means.
    legend: ClassVar[str] = ""
    #: Most level draws per reset before the arguments are declared unable to produce a level of the split.
    max_draws: ClassVar[int] = 2000

    def __init__(self, obs_mode: str, split: str, max_steps: int, invalid_action_penalty: float,
                 render_mode: str | None):
        self.obs_mode = check_obs_mode(obs_mode)
        if split not in SPLITS:
            raise ConfigError("split", "one of " + ", ".join(SPLITS), split, SPLITS)
        if type(max_steps) is not int or max_steps < 1:
            raise ConfigError("max_steps", "a positive int", max_steps)
        if not isinstance(invalid_action_penalty, (int, float)) or not np.isfinite(invalid_action_penalty):
            raise ConfigError("invalid_action_penalty", "a finite number", invalid_action_penalty)
        if render_mode not in (None, "ansi", "human"):
            raise ConfigError("render_mode", "None, 'ansi' or 'human'", render_mode, ("ansi", "human"))
        self.split = split
        self.max_steps = max_steps
        self.invalid_action_penalty = float(invalid_action_penalty)
        self.render_mode = render_mode
        self.game = PuzzleActions(self.action_names)
        self.vocabulary = {w: i for i, w in enumerate(self.action_names)}
        n = len(self.action_names)
        grid_chars = self.height * (self.width + 1)
        self.max_obs_chars = 1024 + grid_chars
        if obs_mode == "text":
            self.observation_space: gymnasium.Space = Text(self.max_obs_chars)
            self.action_space: gymnasium.Space = Text(MAX_ACTION_CHARS, examples=self.action_names)
        else:
            self.observation_space = gymnasium.spaces.Dict({
                "observation": gymnasium.spaces.Box(0.0, 1.0, (self.planes * self.height * self.width,), np.float32),
                "action_mask": gymnasium.spaces.MultiBinary(n),
            })
            self.action_space = gymnasium.spaces.Discrete(n)
        self.level: Any = None
        self.turn = 0
        self.error: str | None = None

    # ------------------------------------------------------------------ what subclasses define
    #: Grid size and number of binary planes of the vector observation; set by subclasses before ``__init__``.
    height: int
    width: int
    planes: ClassVar[int]

    @abstractmethod
    def _draw_level(self, rng: np.random.Generator) -> Any:
        """One candidate level (with ``rows``, its initial grid), or None when this draw failed."""

    @abstractmethod
    def _accept(self, level: Any) -> Any:
        """The level completed (optimal length filled in), or None when it must be redrawn (not solvable)."""

    @abstractmethod
    def _start(self, level: Any) -> Any:
        """The initial position of a level."""

    @abstractmethod
    def _move(self, action: int) -> float:
        """Plays a valid action on ``self.position``; returns its reward (besides ``step_reward``)."""

    @abstractmethod
    def grid(self) -> list[str]:
        """The current grid, one string per row (what the text observation shows and the state key hashes)."""

    @abstractmethod
    def _encode(self, out: np.ndarray) -> None:
        """Writes the vector observation (zeros on entry) as ``planes`` stacked ``height x width`` planes."""

    @abstractmethod
    def solved(self) -> bool:
        """True when the task is done (terminated, success)."""

    @abstractmethod
    def failed(self) -> bool:
        """True when the episode ended without success (terminated, no success)."""

    @abstractmethod
    def _task_extra(self) -> dict[str, Any]:
        """Entries of ``info["task"]`` beyond the common ones (none may reveal a solution)."""

    @abstractmethod
    def _dump(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(level, position) as JSON-compatible data."""

    @abstractmethod
    def _parse(self, level: Any, position: Any, turn: int) -> tuple[Any, Any]:
        """Validates snapshot data into (level, position) without touching the env.

        Raises:
            SnapshotError: The data is malformed or is no level (or position) this env can be in.
        """

    step_reward: ClassVar[float] = 0.0

    # ------------------------------------------------------------------ levels
    def new_level(self, rng: np.random.Generator) -> Any:
        """Draws levels from ``rng`` until one belongs to this env's split and passes ``_accept``.

        Raises:
            ConfigError: ``max_draws`` draws gave no level of the split (the arguments allow too few layouts).
        """
        for _ in range(self.max_draws):
            level = self._draw_level(rng)
            if level is None or split_of(layout_digest(self.kind, level.rows)) != self.split:
                continue
            level = self._accept(level)
            if level is not None:
                return level
        raise ConfigError(f"{self.env_id} arguments", f"arguments that can generate {self.split}-split levels",
                          self._level_args(), hint=f"{self.max_draws} draws gave no level of the {self.split} "
                                                   "split; use a larger room or more level variety.")

    def _level_args(self) -> dict[str, Any]:
        return {}

    @property
    def layout(self) -> str:
        """The layout digest of the current level (its identity; decides its split)."""
        return layout_digest(self.kind, self.level.rows)

    # ------------------------------------------------------------------ loop
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Generates a level from the env's RNG (same seed, same level) and starts on it."""
        super().reset(seed=seed)
        self.level = self.new_level(self.np_random)
        self.position = self._start(self.level)
        self.turn = 0
        self.error = None
        info = self._info()
        info["task"] = {
            "id": f"{self.env_id}/level={self.layout[:16]}",
            "env_id": self.env_id,
            "seed": seed,
            "split": self.split,
            "layout": self.layout,
            "instruction": self.instruction,
            "optimal_length": self.level.optimal_length,
            **self._task_extra(),
        }
        return self._obs(), info

    def over(self) -> tuple[bool, bool]:
        """(terminated, truncated) of the current state."""
        terminated = self.solved() or self.failed()
        return terminated, self.turn >= self.max_steps and not terminated

    def step(self, action: Any):
        """Plays one action; every turn costs ``step_reward``, an invalid one adds ``invalid_action_penalty``."""
        if self.level is None:
            raise RuntimeError(f"step() called before reset(); {RESET_FIRST}")
        if any(self.over()):
            raise RuntimeError("step() called after the episode ended; call reset()")
        aid, error = parse_action(action, self.vocabulary, len(self.action_names))
        self.turn += 1
        reward = self.step_reward
        if aid is None:
            self.error = error
            reward += self.invalid_action_penalty
        else:
            self.error = None
            reward += self._move(aid)
        terminated, truncated = self.over()
        return self._obs(), float(reward), terminated, truncated, self._info()

    # ------------------------------------------------------------------ what the agent sees
    def state_key(self) -> str:
        """Markov anchor key: the current grid (layout and positions), hashed under the env id."""
        return cached_state_key(self.env_id, canonical(self.grid()))

    def _legal(self) -> list[int]:
        return [] if any(self.over()) else list(range(len(self.action_names)))

    def _info(self) -> dict[str, Any]:
        legal = self._legal()
        info: dict[str, Any] = {
            "state_key": self.state_key(),
            "admissible_actions": [self.action_names[a] for a in legal],
            "legal_action_ids": legal,
            "action_valid": self.error is None,
            "turn": self.turn,
        }
        if self.error is not None:
            info["error"] = self.error
        terminated, truncated = self.over()
        if terminated or truncated:
            info["success"] = self.solved()
        return info

    def text(self) -> str:
        """The text observation (without the invalid-action line)."""
        lines = [f"{self.title}: {self.instruction}", f"Legend: {self.legend}.", *self.grid()]
        terminated, truncated = self.over()
        if self.solved():
            lines.append("Solved.")
        elif self.failed():
            lines.append(self._failure_text())
        elif truncated:
            lines.append("Out of steps.")
        else:
            lines += [f"Actions: {', '.join(self.action_names)}.", REPLY_HINT]
        return "\n".join(lines)

    def _failure_text(self) -> str:
        return "Failed."

    def _obs(self) -> Any:
        if self.obs_mode == "vector":
            vec = np.zeros(self.planes * self.height * self.width, dtype=np.float32)
            self._encode(vec)
            mask = np.zeros(len(self.action_names), dtype=np.int8)
            mask[self._legal()] = 1
            return {"observation": vec, "action_mask": mask}
        body = self.text()
        if self.error is not None:
            body = f"Invalid action: {self.error}. Accepted actions: {', '.join(self.action_names)}.\n{body}"
        return truncate(body, self.max_obs_chars)

    def action_masks(self) -> np.ndarray:
        """Legal-action mask (the hook sb3-contrib's MaskablePPO calls)."""
        mask = np.zeros(len(self.action_names), dtype=bool)
        mask[self._legal()] = True
        return mask

    def render(self) -> str | None:
        """The text view (``ansi`` returns it, ``human`` prints it)."""
        return render_text(self.render_mode, self.text)

    # ------------------------------------------------------------------ snapshots
    def get_state(self) -> bytes:
        """Snapshot: the level, the position, the turn, the pending error message and the RNG (JSON bytes)."""
        if self.level is None:
            raise RuntimeError(f"get_state() called before reset(); {RESET_FIRST}")
        level, position = self._dump()
        return encode_snapshot(self.env_id, {"level": level, "position": position, "turn": self.turn,
                                             "error": self.error, "rng": rng_state(self.np_random)})

    def set_state(self, blob: bytes) -> None:
        """Restores a ``get_state`` snapshot; atomic: ``SnapshotError`` (only) leaves the env unchanged.

        Besides the types and ranges of every field, the level must be one this env generates (its size,
        its split, solvable) and the position one the turn count allows.
        """
        def parse(data: dict[str, Any]) -> tuple[Any, ...]:
            fields = read_dict(data, "snapshot", _SNAPSHOT_KEYS)
            if set(fields) != set(_SNAPSHOT_KEYS):
                raise SnapshotError(f"snapshot: unexpected keys {sorted(set(fields) - set(_SNAPSHOT_KEYS))[:5]}")
            turn = read_int(fields["turn"], 0, self.max_steps, "turn")
            level, position = self._parse(fields["level"], fields["position"], turn)
            error = read_message(fields["error"], "error")
            if error is not None and turn == 0:
                raise SnapshotError("error: no action was played yet")
            return level, position, turn, error, rng_from_state(fields["rng"])

        level, position, turn, error, rng = parsed_snapshot(self.env_id, blob, parse)
        self.level, self.position, self.turn, self.error = level, position, turn, error
        self._np_random = rng

    def check_level_split(self, rows: Sequence[str]) -> None:
        """Raises ``SnapshotError`` when a level's layout is not in this env's split (held-out levels stay out)."""
        if split_of(layout_digest(self.kind, rows)) != self.split:
            raise SnapshotError(f"level: its layout is not in the {self.split} split of this env")


def read_cell(value: Any, height: int, width: int, what: str) -> int:
    """A ``[row, col]`` pair inside a ``height x width`` grid, as a flat cell index."""
    row, col = read_list(value, what, 2)
    return read_int(row, 0, height - 1, what) * width + read_int(col, 0, width - 1, what)


def read_rows(value: Any, height: int, width: int, alphabet: str, what: str) -> tuple[str, ...]:
    """A grid as ``height`` strings of ``width`` characters from ``alphabet``."""
    rows = read_list(value, what, height)
    for row in rows:
        if type(row) is not str or len(row) != width or not set(row) <= set(alphabet):
            raise SnapshotError(f"{what}: expected {height} rows of {width} characters from {alphabet!r}")
    return tuple(rows)


def manhattan(a: int, b: int, width: int) -> int:
    """Grid distance between two flat cells."""
    (ra, ca), (rb, cb) = divmod(a, width), divmod(b, width)
    return abs(ra - rb) + abs(ca - cb)


__all__ = ["SPLITS", "TEST_MODULUS", "PuzzleActions", "PuzzleEnv", "layout_digest", "manhattan", "read_cell",
           "read_rows", "split_of"]
