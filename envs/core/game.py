"""Rules of turn-based games with chance, separate from the env front ends.

A ``TurnGame`` holds no episode state: it is a set of functions over a small mutable state object. The
same rules then drive every front end (PettingZoo AEC, Gymnasium single-agent view with opponents, text
mode and vector mode), so the modes cannot drift apart in dynamics, seeds or rewards.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

S = TypeVar("S")


class GameRules(ABC, Generic[S]):
    """What turn-based and simultaneous-move rules share: the action vocabulary and the state functions.

    Attributes:
        title: Human-readable name, used in text observations.
        instruction: The task in one sentence (``info["task"]["instruction"]`` at reset).
        num_players: Number of seats.
        action_names: Canonical word of each action id; the action space is ``Discrete(len(...))``.
        aliases: Extra accepted words mapped to action ids (for example ``check`` -> call).
        obs_size: Length of the vector observation.
    """

    title: ClassVar[str] = ""
    instruction: ClassVar[str] = ""
    num_players: int
    action_names: tuple[str, ...]
    aliases: Mapping[str, int] = {}
    obs_size: int

    @property
    def num_actions(self) -> int:
        """Size of the discrete action space."""
        return len(self.action_names)

    @property
    def vocabulary(self) -> dict[str, int]:
        """Every accepted word (canonical names and aliases) mapped to its action id."""
        vocab = {name: i for i, name in enumerate(self.action_names)}
        for word, a in self.aliases.items():
            vocab.setdefault(word, a)
        return vocab

    @abstractmethod
    def new_state(self) -> S:
        """Returns the state at the start of an episode."""

    @abstractmethod
    def is_terminal(self, s: S) -> bool:
        """True when the game is over."""

    @abstractmethod
    def returns(self, s: S) -> list[float]:
        """Payoff of every seat (the final payoffs at a terminal state)."""

    @abstractmethod
    def info_encoding(self, s: S, player: int) -> str:
        """Canonical encoding of everything ``player`` can know (its information state)."""

    @abstractmethod
    def render(self, s: S, player: int) -> str:
        """Text observation of ``player`` (without the legal-action footer)."""

    @abstractmethod
    def encode(self, s: S, player: int, out: np.ndarray) -> None:
        """Writes the vector observation of ``player`` into the zeroed float32 array ``out``."""

    @abstractmethod
    def to_json(self, s: S) -> Any:
        """JSON-compatible copy of the state (for snapshots)."""

    @abstractmethod
    def from_json(self, data: Any) -> S:
        """Inverse of ``to_json``; raises ``KeyError``/``TypeError``/``ValueError`` on malformed data.

        ``data`` comes from untrusted bytes (DESIGN §5: snapshots may be forged): read every field with its
        exact type and range (``turngym.envs.core.session.read_int`` and friends), and build a new state
        without keeping references into ``data``.
        """

    def validate_state(self, s: S) -> None:
        """Raises ``ValueError`` when ``s`` is a state the rules cannot reach.

        Called on every state restored from a snapshot (``load_state``), after ``from_json`` checked the
        types and ranges. Games override it with their invariants (a card dealt twice, stakes the betting
        cannot produce, a turn counter that disagrees with the history, ...): an accepted snapshot must
        never make a later ``step``, observation, info or render raise, and must never show an agent a
        view that no real game shows (sessions cache views per information state, across envs).
        Replaying the recorded history from the start, as Kuhn poker and Leduc hold'em do, is the
        simplest complete check. The default accepts every state ``from_json`` accepts.
        """

    def load_state(self, data: Any) -> S:
        """``from_json`` then ``validate_state``: the one way sessions restore a state from a snapshot."""
        s = self.from_json(data)
        self.validate_state(s)
        return s

    def copy_state(self, s: S) -> S:
        """Independent copy of a state."""
        return copy.deepcopy(s)


class TurnGame(GameRules[S]):
    """Abstract rules of a finite turn-based game with explicit chance events.

    Attributes (besides ``GameRules``'):
        views_follow_info_state: Set True when, at every non-terminal state, ``render(s, p)``,
            ``encode(s, p)`` and (when ``p`` is to act) ``legal_actions(s)`` depend only on
            ``info_encoding(s, p)``. Sessions then build each player's view of an information state
            once and reuse it (the turn-based analogue of a transposition table), which is most of
            the per-step cost of a small game. Leave False when the view shows anything else.
    """

    views_follow_info_state: ClassVar[bool] = False

    @abstractmethod
    def chance_outcomes(self, s: S) -> list[tuple[int, float]]:
        """Returns the pending chance event as (outcome, probability) pairs; empty when none.

        Callers treat the list as read-only, so games may return cached lists.
        """

    def chance_pending(self, s: S) -> bool:
        """True when a chance event is due; games override it with a test cheaper than listing outcomes."""
        return bool(self.chance_outcomes(s))

    @abstractmethod
    def apply_chance(self, s: S, outcome: int) -> None:
        """Applies a chance outcome in place."""

    @abstractmethod
    def current_player(self, s: S) -> int:
        """The seat to act, or -1 when the game is over or a chance event is pending."""

    @abstractmethod
    def legal_actions(self, s: S) -> list[int]:
        """Legal action ids of the current player, ascending."""

    @abstractmethod
    def apply_action(self, s: S, action: int) -> None:
        """Applies a legal action of the current player in place."""

    def terminal_view_key(self, s: S, player: int) -> str | None:
        """With ``views_follow_info_state``: a string that determines ``player``'s view of terminal ``s``.

        Terminal views may reveal hidden information (a showdown shows the opponent's card), so they
        are cached only under this key; ``None`` (the default) builds each terminal view afresh.
        """
        return None

    def illegal_reason(self, s: S, action: int) -> str:
        """Why a known action is illegal now; games override this with rule-specific reasons."""
        return f"{self.action_names[action]} is not allowed now"
