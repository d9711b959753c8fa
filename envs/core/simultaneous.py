"""Rules of simultaneous-move games, and one episode of such a game under the turngym step contract.

A ``SimultaneousGame`` is the simultaneous-move counterpart of ``TurnGame``: it holds no episode state,
only functions over a small mutable state object, so the PettingZoo Parallel front end and the
Gymnasium single-agent view (text and vector modes) share one set of dynamics.

``SimultaneousSession`` runs one episode: it validates every player's action exactly as
``GameSession.to_action_id`` does, applies the joint action, and builds observations and infos.

Invalid actions in a simultaneous step (the rule every simultaneous env follows):
    When at least one player's action is invalid (unparseable, unknown, out of range, illegal, or
    missing), the joint step is **not applied**: the game state and the env RNG stay as they were, no
    step reward is paid, but the turn is consumed (``turn`` grows by one and counts toward
    ``max_turns``). Each invalid player gets ``action_valid=False``, ``info["error"]``, the message at
    the top of its next text observation, and ``invalid_action_penalty`` as reward. The valid players
    get ``action_valid=True`` and a note in their next text observation that the step was not played
    because of another player. Playing a void step rather than substituting a default move keeps the
    state unchanged after bad input (DESIGN §3) and never lets one seat's formatting errors decide
    another seat's payoff.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import gymnasium
import numpy as np

from turngym.envs.core.contract import add_outcome, game_task
from turngym.envs.core.errors import ConfigError
from turngym.envs.core.game import GameRules
from turngym.envs.core.parsing import MAX_ACTION_CHARS, parse_action
from turngym.envs.core.session import (
    check_obs_mode,
    check_truncation,
    read_bool,
    read_dict,
    read_int,
    read_list,
    read_message,
)
from turngym.envs.core.spaces import Text, truncate
from turngym.envs.core.state_key import cached_state_key as _state_key

S = TypeVar("S")


class SimultaneousGame(GameRules[S]):
    """Abstract rules of a finite simultaneous-move game (every player acts at every step).

    Chance, if any, is drawn inside ``apply_joint`` from the env RNG passed in, so seeded rollouts and
    snapshots stay reproducible.

    ``returns(s)`` is the total payoff of every seat so far (the final payoffs at a terminal state).

    Attributes (besides ``GameRules``'):
        obs_low: Lower bound of every vector-observation entry.
        obs_high: Upper bound of every vector-observation entry.
    """

    obs_low: float = -np.inf
    obs_high: float = np.inf

    @abstractmethod
    def legal_actions(self, s: S, player: int) -> list[int]:
        """Legal action ids of ``player``, ascending; non-empty at every non-terminal state."""

    @abstractmethod
    def apply_joint(self, s: S, actions: list[int], rng: np.random.Generator) -> None:
        """Applies one legal action per player in place; chance is drawn from ``rng``."""

    @abstractmethod
    def step_rewards(self, s: S) -> list[float]:
        """Reward of every seat for the most recent joint step (zeros before the first)."""

    def illegal_reason(self, s: S, player: int, action: int) -> str:
        """Why a known action of ``player`` is illegal now; games override this with specific reasons."""
        return f"{self.action_names[action]} is not allowed now"

    def initial_state(self, rng: np.random.Generator) -> S:
        """The state an episode starts from (default ``new_state()``).

        Games whose start is random (maps, spawn points) draw it from ``rng``, the env's own RNG, so the
        rules object never holds a reference to an env.
        """
        return self.new_state()


class SimultaneousSession:
    """Runs one episode of a ``SimultaneousGame`` under the turngym step contract.

    See the module docstring for what an invalid action does to a simultaneous step.

    Args:
        game: The rules.
        env_id: Registered id; namespaces the state keys.
        obs_mode: ``"text"`` or ``"vector"``.
        max_turns: Turn cap (joint steps, void ones included); reaching it truncates the episode.
        invalid_action_penalty: Reward added to a seat for each invalid action it takes.
        max_obs_chars: Text observations are truncated to this length.
    """

    def __init__(
        self,
        game: SimultaneousGame,
        env_id: str,
        obs_mode: str = "text",
        max_turns: int = 100,
        invalid_action_penalty: float = 0.0,
        max_obs_chars: int = 8192,
    ):
        self.game = game
        self.env_id = env_id
        self.obs_mode = check_obs_mode(obs_mode)
        if not isinstance(max_turns, int) or isinstance(max_turns, bool) or max_turns < 1:
            raise ConfigError("max_turns", "a positive int", max_turns)
        self.max_turns = max_turns
        self.invalid_action_penalty = float(invalid_action_penalty)
        self.max_obs_chars = int(max_obs_chars)
        self.vocabulary = game.vocabulary
        self.state: Any = None
        self.turn = 0
        n = game.num_players
        self.errors: list[str | None] = [None] * n
        #: Per player: why the last step was void although this player's own action was valid.
        self.notices: list[str | None] = [None] * n
        self.truncated = False
        self.terminal = False
        self.final_returns: list[float] | None = None

    # ----------------------------------------------------------------- spaces
    def observation_space(self) -> gymnasium.Space:
        """Text, or ``Dict(observation=Box, action_mask=MultiBinary)`` in vector mode."""
        if self.obs_mode == "text":
            return Text(self.max_obs_chars)
        game = self.game
        return gymnasium.spaces.Dict(
            {
                "observation": gymnasium.spaces.Box(game.obs_low, game.obs_high, (game.obs_size,), np.float32),
                "action_mask": gymnasium.spaces.MultiBinary(game.num_actions),
            }
        )

    def action_space(self) -> gymnasium.Space:
        """Text (any string) or ``Discrete(num_actions)``."""
        if self.obs_mode == "text":
            return Text(MAX_ACTION_CHARS, examples=self.game.action_names)
        return gymnasium.spaces.Discrete(self.game.num_actions)

    # ---------------------------------------------------------------- episode
    def reset(self, rng: np.random.Generator) -> None:
        """Starts a new episode from ``game.initial_state(rng)`` (``rng``: the env's RNG)."""
        n = self.game.num_players
        self.state = self.game.initial_state(rng)
        self.turn = 0
        self.errors = [None] * n
        self.notices = [None] * n
        self.truncated = False
        self._changed()

    def _changed(self) -> None:
        game, s = self.game, self.state
        self.terminal = game.is_terminal(s)
        self.final_returns = [float(r) for r in game.returns(s)] if self.terminal else None

    def to_action_id(self, player: int, action: object) -> tuple[int | None, str | None]:
        """Validates ``player``'s action; returns (action id, None) or (None, error)."""
        aid, error = parse_action(action, self.vocabulary, self.game.num_actions)
        if aid is None:
            return None, error
        if self.terminal or aid not in self.game.legal_actions(self.state, player):
            return None, self.game.illegal_reason(self.state, player, aid)
        return aid, None

    def act(self, actions: Sequence[object], rng: np.random.Generator,
            missing: Sequence[bool] = ()) -> tuple[list[bool], list[float]]:
        """Plays one joint step (one action per seat).

        Args:
            actions: One action (word or id) per seat.
            rng: The env RNG, passed to ``apply_joint`` (untouched when the step is void).
            missing: Per seat, True when the caller gave no action at all for it (an invalid action).

        Returns:
            (valid, rewards) per seat. If any action is invalid the step is void (module docstring).
        """
        game = self.game
        n = game.num_players
        if len(actions) != n:
            raise ValueError(f"expected {n} actions (one per seat), got {len(actions)}")
        ids: list[int] = []
        errors: list[str | None] = []
        for p, action in enumerate(actions):
            if missing and missing[p]:
                aid, error = None, "no action was given for this player"
            else:
                aid, error = self.to_action_id(p, action)
            ids.append(-1 if aid is None else aid)
            errors.append(error)
        self.turn += 1
        valid = [e is None for e in errors]
        rewards = [0.0] * n
        self.errors = errors
        if all(valid):
            self.notices = [None] * n
            game.apply_joint(self.state, ids, rng)
            rewards = [float(r) for r in game.step_rewards(self.state)]
            self._changed()
        else:
            bad = ", ".join(f"player {p}" for p in range(n) if not valid[p])
            note = f"the last step was not played because the action of {bad} was invalid; choose again"
            self.notices = [note if ok else None for ok in valid]
            rewards = [0.0 if ok else self.invalid_action_penalty for ok in valid]
        if self.turn >= self.max_turns and not self.terminal:
            self.truncated = True
        return valid, rewards

    # ------------------------------------------------------- what agents see
    def legal_ids(self, player: int) -> list[int]:
        """Legal action ids of ``player`` (empty once the game is over)."""
        if self.terminal:
            return []
        return list(self.game.legal_actions(self.state, player))

    def state_key(self, player: int) -> str:
        """Hex digest of ``player``'s information state (GiGPO anchor identity)."""
        return _state_key(self.env_id, self.game.info_encoding(self.state, player))

    def observation(self, player: int, mode: str | None = None) -> Any:
        """Observation of ``player`` in ``mode`` (default: the session's mode); always a fresh object."""
        game = self.game
        legal = self.legal_ids(player)
        if (mode or self.obs_mode) == "vector":
            vec = np.zeros(game.obs_size, dtype=np.float32)
            game.encode(self.state, player, vec)
            mask = np.zeros(game.num_actions, dtype=np.int8)
            mask[legal] = 1
            return {"observation": vec, "action_mask": mask}
        parts = []
        if self.errors[player] is not None:
            parts.append(f"Invalid action: {self.errors[player]}.")
        if self.notices[player] is not None:
            parts.append(f"Note: {self.notices[player]}.")
        parts.append(game.render(self.state, player))
        if legal and not self.truncated:
            names = game.action_names
            parts.append("Legal actions: " + ", ".join(names[a] for a in legal)
                         + ".\nReply with one action word, bare or inside <action>...</action>.")
        text = "\n".join(parts)
        return text if len(text) <= self.max_obs_chars else truncate(text, self.max_obs_chars)

    def info(self, player: int) -> dict[str, Any]:
        """The info contract of DESIGN §3 for ``player``."""
        legal = self.legal_ids(player)
        names = self.game.action_names
        error = self.errors[player]
        info: dict[str, Any] = {
            "state_key": self.state_key(player),
            "admissible_actions": [names[a] for a in legal],
            "legal_action_ids": legal,
            "action_valid": error is None,
            "turn": self.turn,
        }
        if error is not None:
            info["error"] = error
        add_outcome(info, self.final_returns, player, self.truncated)
        return info

    def task(self, seed: int | None, player: int) -> dict[str, Any]:
        """``info["task"]`` at reset: the env id, the seed and the seat."""
        return game_task(self.env_id, seed, player, self.game.instruction)

    # -------------------------------------------------------------- snapshots
    def dump(self) -> dict[str, Any]:
        """JSON-compatible snapshot of the episode."""
        return {
            "game": self.game.to_json(self.state),
            "turn": self.turn,
            "errors": list(self.errors),
            "notices": list(self.notices),
            "truncated": self.truncated,
        }

    def parse(self, data: Any) -> SimultaneousSnapshot:
        """Validates ``dump`` output into a ``SimultaneousSnapshot`` without touching the session.

        Front ends parse every part of a snapshot first and commit with ``restore`` only when all of it
        is valid, so a rejected snapshot leaves the env exactly as it was (atomic ``set_state``).

        Raises:
            SnapshotError: (or one of ``SNAPSHOT_ERRORS``, which ``set_state`` turns into one) when the
                data is malformed or describes a state the rules cannot reach.
        """
        n = self.game.num_players
        fields = read_dict(data, "session", ("game", "turn", "errors", "notices", "truncated"))
        state = self.game.load_state(fields["game"])
        errors = [read_message(e, "session errors") for e in read_list(fields["errors"], "session errors", n)]
        notices = [read_message(e, "session notices") for e in read_list(fields["notices"], "session notices", n)]
        turn = read_int(fields["turn"], 0, self.max_turns, "session turn")
        truncated = read_bool(fields["truncated"], "session truncated")
        terminal = self.game.is_terminal(state)
        check_truncation(truncated, turn, self.max_turns, terminal)
        return SimultaneousSnapshot(state, turn, errors, notices, truncated)

    def restore(self, snap: SimultaneousSnapshot) -> None:
        """Commits a ``parse`` result (cannot fail: everything was checked by ``parse``)."""
        self.state = snap.state
        self.turn = snap.turn
        self.errors = list(snap.errors)
        self.notices = list(snap.notices)
        self.truncated = snap.truncated
        self._changed()

    def load(self, data: Any) -> None:
        """Restores ``dump`` output (``parse`` then ``restore``)."""
        self.restore(self.parse(data))


@dataclass(frozen=True)
class SimultaneousSnapshot:
    """A validated ``SimultaneousSession`` snapshot, ready to commit with ``SimultaneousSession.restore``."""

    state: Any
    turn: int
    errors: list[str | None]
    notices: list[str | None]
    truncated: bool


__all__ = ["SimultaneousGame", "SimultaneousSession", "SimultaneousSnapshot", "parse_action"]
