"""``TurnBatch``: the typed, columnar batch the training pipeline hands to estimators (DESIGN section 4).

One row per turn. Rows of one episode are consecutive and their ``turn`` goes 0, 1, 2, ...; episodes
themselves may come in any order. Every column is a numpy array of the same length.

Example:
    >>> import numpy as np
    >>> from turngym.agents.llm.batch import TurnBatch, encode_keys
    >>> b = TurnBatch(episode_id=np.array([0, 0, 1]), group_id=np.array([0, 0, 0]), turn=np.array([0, 1, 0]),
    ...               reward=np.array([0.0, 1.0, 0.0]), state_key=encode_keys(["a", "b", "a"]))
    >>> b.num_episodes, b.state_key.tolist()
    (2, [0, 1, 0])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_INT_COLUMNS = ("episode_id", "group_id", "turn", "agent_id", "state_key")
_FLOAT_COLUMNS = ("reward", "value", "score", "outcome")
_BOOL_COLUMNS = ("terminated", "truncated")


def encode_keys(keys: Sequence[str]) -> np.ndarray:
    """Returns dense int64 codes for string state keys (equal strings get equal codes).

    Codes are only comparable within one call: encode the keys of a whole batch at once.

    Args:
        keys: One state key per turn row.
    """
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    _, inverse = np.unique(np.asarray(keys, dtype=object).astype(str), return_inverse=True)
    return inverse.reshape(-1).astype(np.int64)


@dataclass
class TurnBatch:
    """A columnar batch of turns.

    Attributes:
        episode_id: Episode of each row (int64).
        group_id: Task group of each row (int64; the G episodes of one task share it).
        turn: 0-based index of the turn within its episode (int64).
        reward: Reward of the turn (float64).
        agent_id: Acting player of the turn (int64; 0 for single-agent envs).
        state_key: Integer code of the observed state (int64, see ``encode_keys``). Negative (the default,
            -1, when the column is not given) means unknown: an unknown state is equal to no other state,
            not even another unknown one, so estimators that pool equal states (GiGPO's step groups) treat
            each such row as a singleton.
        terminated: True on the last turn of an episode that reached a terminal state.
        truncated: True on the last turn of an episode cut off by a time limit.
        value: Critic value V(s_t) of the turn (float64), for ``gae``.
        score: Information-gain score after the turn (float64), for ``igpo``.
        outcome: Outcome reward of the episode (float64; read at each episode's last row), for ``igpo``
            and reward shaping.

    Raises:
        ValueError: When columns differ in length, an episode's rows are not consecutive, its turns do
            not go 0, 1, 2, ..., its group changes, or episode-end flags sit on a non-final turn.
    """

    episode_id: np.ndarray
    group_id: np.ndarray
    turn: np.ndarray
    reward: np.ndarray
    agent_id: np.ndarray | None = None
    state_key: np.ndarray | None = None
    terminated: np.ndarray | None = None
    truncated: np.ndarray | None = None
    value: np.ndarray | None = None
    score: np.ndarray | None = None
    outcome: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = int(np.asarray(self.episode_id).shape[0])
        for name in _INT_COLUMNS + _FLOAT_COLUMNS + _BOOL_COLUMNS:
            col = getattr(self, name)
            if col is None:
                if name in ("agent_id",):
                    col = np.zeros(n, dtype=np.int64)
                elif name == "state_key":
                    col = np.full(n, -1, dtype=np.int64)
                elif name in _BOOL_COLUMNS:
                    col = np.zeros(n, dtype=bool)
                else:
                    setattr(self, name, None)
                    continue
            arr = np.asarray(col)
            if arr.ndim != 1:
                raise ValueError(f"TurnBatch.{name}: expected a 1-D array, got shape {arr.shape}")
            if arr.shape[0] != n:
                raise ValueError(f"TurnBatch.{name}: expected length {n} (as episode_id), got {arr.shape[0]}")
            if name in _INT_COLUMNS:
                if arr.size and not np.issubdtype(arr.dtype, np.integer):
                    raise ValueError(f"TurnBatch.{name}: expected integers (use encode_keys for strings), "
                                     f"got dtype {arr.dtype}")
                arr = arr.astype(np.int64)
            elif name in _FLOAT_COLUMNS:
                arr = arr.astype(np.float64)
            else:
                arr = arr.astype(bool)
            setattr(self, name, arr)
        self._validate()

    def _validate(self) -> None:
        n = len(self)
        if n == 0:
            return
        start = np.ones(n, dtype=bool)
        start[1:] = self.episode_id[1:] != self.episode_id[:-1]
        n_starts = int(start.sum())
        if n_starts != np.unique(self.episode_id).size:
            raise ValueError("TurnBatch: the rows of each episode must be consecutive; some episode_id appears "
                             "in more than one block")
        bad = np.flatnonzero(start & (self.turn != 0))
        if bad.size:
            raise ValueError(f"TurnBatch.turn: each episode must start at turn 0; row {bad[0]} "
                             f"(episode {self.episode_id[bad[0]]}) starts at turn {self.turn[bad[0]]}")
        inner = np.flatnonzero(~start)
        bad = inner[self.turn[inner] != self.turn[inner - 1] + 1]
        if bad.size:
            raise ValueError(f"TurnBatch.turn: turns must increase by 1 within an episode; row {bad[0]} "
                             f"(episode {self.episode_id[bad[0]]}) has turn {self.turn[bad[0]]} after "
                             f"{self.turn[bad[0] - 1]}")
        bad = inner[self.group_id[inner] != self.group_id[inner - 1]]
        if bad.size:
            raise ValueError(f"TurnBatch.group_id: must be constant within an episode; episode "
                             f"{self.episode_id[bad[0]]} changes group at row {bad[0]}")
        last = np.append(start[1:], True)
        for name in _BOOL_COLUMNS:
            bad = np.flatnonzero(getattr(self, name) & ~last)
            if bad.size:
                raise ValueError(f"TurnBatch.{name}: may only be set on an episode's last turn; row {bad[0]} "
                                 f"(episode {self.episode_id[bad[0]]}, turn {self.turn[bad[0]]}) is not last")
        bad = np.flatnonzero(self.terminated & self.truncated)
        if bad.size:
            raise ValueError(f"TurnBatch: row {bad[0]} is both terminated and truncated")

    def __len__(self) -> int:
        return int(self.episode_id.shape[0])

    @property
    def num_episodes(self) -> int:
        """Number of distinct episodes in the batch."""
        return int(np.unique(self.episode_id).size)
