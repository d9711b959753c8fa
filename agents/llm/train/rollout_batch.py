"""``RolloutBatch``: one container from rollout to loss (DESIGN section 4, "Batch"; STYLE: typed containers).

The estimators read a ``TurnBatch`` (numpy columns, one row per turn), the update reads a ``TokenBatch``
(padded token tensors, one row per turn). Both are views of the same rows, so they are built together by
one function from one list of episodes, checked to line up (row count, episode and turn of every row), and
never change apart: a new column (shaped rewards, critic values) gives a new, re-validated batch through
``with_columns``, never an attribute assignment that would skip ``TurnBatch``'s checks.

Example:
    >>> from turngym.agents.llm.policies.base import Generation
    >>> from turngym.agents.llm.rollout import Episode, Turn
    >>> gen = Generation(text="a", prompt_ids=[5, 6], completion_ids=[7], logprobs=[-0.5])
    >>> eps = [Episode(episode_id=i, group_id=0, seed=0, terminated=True,
    ...                turns=[Turn(turn=0, state_key="s", prompt=[], generation=gen, reward=float(i))])
    ...        for i in range(2)]
    >>> batch = build_rollout_batch(eps, pad_id=0)
    >>> len(batch), batch.turns.reward.tolist(), batch.tokens.loss_mask[0].tolist()
    (2, [0.0, 1.0], [False, False, True])
    >>> batch.with_columns(reward=batch.turns.reward + 1).turns.reward.tolist()
    [1.0, 2.0]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from turngym.agents.llm.batch import TurnBatch
from turngym.agents.llm.rollout import Episode, score0_column
from turngym.agents.llm.selfplay import seat_turn_batch
from turngym.agents.llm.train.tensors import TokenBatch, build_token_batch


@dataclass(frozen=True)
class RolloutBatch:
    """The rows of one rollout, for the estimators (``turns``) and the update (``tokens``).

    Attributes:
        turns: One row per turn, episodes in order (``to_turn_batch``; ``agent_id`` is the seat of a self-play
            ``SeatEpisode``, 0 otherwise: ``seat_turn_batch``).
        tokens: The same rows as padded token sequences (``build_token_batch``).
        action_valid: [B] whether the env accepted each turn's action (``invalid_action_penalty``).
        score0: [B] each row's episode's score before its first turn (``s_{-1}``; NaN when not scored).

    Raises:
        ValueError: When the two views do not hold the same rows: different counts, a row whose turn
            differs, or episode boundaries that differ (the two views' episode ids must match one to one).
    """

    turns: TurnBatch
    tokens: TokenBatch
    action_valid: np.ndarray
    score0: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.turns)
        sizes = {"tokens": len(self.tokens), "action_valid": len(self.action_valid), "score0": len(self.score0)}
        for name, size in sizes.items():
            if size != n:
                raise ValueError(f"RolloutBatch: {name} has {size} rows, turns has {n}")
        turn_index = self.tokens.turn_index.cpu().numpy()
        bad = np.flatnonzero(turn_index != self.turns.turn)
        if bad.size:
            raise ValueError(f"RolloutBatch: row {bad[0]} is turn {self.turns.turn[bad[0]]} in turns but turn "
                             f"{turn_index[bad[0]]} in tokens")
        episode_index = self.tokens.episode_index.cpu().numpy()
        pairs = np.unique(np.stack([self.turns.episode_id, episode_index]), axis=1).shape[1] if n else 0
        if pairs != np.unique(self.turns.episode_id).size or pairs != np.unique(episode_index).size:
            raise ValueError("RolloutBatch: turns and tokens group the rows into different episodes "
                             "(their episode ids do not match one to one)")

    def __len__(self) -> int:
        return len(self.turns)

    def with_columns(self, **columns: Any) -> RolloutBatch:
        """A new batch with ``TurnBatch`` columns replaced (``reward=...``, ``value=...``), re-validated.

        Raises:
            ValueError: A column of the wrong length or kind (``TurnBatch``'s checks).
            TypeError: A name that is not a ``TurnBatch`` column.
        """
        return dataclasses.replace(self, turns=dataclasses.replace(self.turns, **columns))


def build_rollout_batch(episodes: Sequence[Episode], pad_id: int) -> RolloutBatch:
    """Both views of every turn of ``episodes`` (in order), built from the same list and checked to line up.

    Args:
        episodes: The episodes to train on (each with at least one turn).
        pad_id: Token id the sequences are padded with.

    Raises:
        ValueError: No turns, or a turn's recorded log-probs do not match its completion.
    """
    valid = np.array([t.action_valid for ep in episodes for t in ep.turns], dtype=bool)
    return RolloutBatch(turns=seat_turn_batch(episodes), tokens=build_token_batch(episodes, pad_id),
                        action_valid=valid, score0=score0_column(episodes))
