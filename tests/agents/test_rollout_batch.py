"""One batch container from rollout to loss (issue 13, item 12).

Before this change the loop built a ``TurnBatch`` (``to_turn_batch``) and a ``TokenBatch``
(``build_token_batch``) separately from one rollout, lined up only by iteration order, and reassigned
``batch.reward`` / ``batch.value`` after construction, which skips ``TurnBatch``'s checks. There was no
``RolloutBatch``: every test here fails to import on that code.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import turngym.envs  # noqa: F401  (registers the ids)
from turngym.agents.llm.policies.tiny import build_policy
from turngym.agents.llm.rollout import RolloutSettings, collect, to_turn_batch
from turngym.agents.llm.train.rollout_batch import RolloutBatch, build_rollout_batch
from turngym.agents.llm.train.tensors import build_token_batch
from turngym.envs.pool import make_pool

LEDUC = {"obs_mode": "text", "opponents": ["random"], "seat": "random"}


@pytest.fixture(scope="module")
def episodes():
    policy = build_policy("tiny", seed=0, max_new_tokens=6)
    with make_pool("turngym/LeducHoldem-v0", 8, env_kwargs=LEDUC) as pool:
        eps = collect(pool, policy, [1, 2, 3, 4], 2, RolloutSettings(constrain=True, max_context_tokens=None))
    eps = [ep for ep in eps if ep.turns]
    assert len({len(ep.turns) for ep in eps}) > 1  # episodes of different lengths: a reordering shows
    return eps


def test_one_function_builds_both_views_of_the_same_rows(episodes):
    batch = build_rollout_batch(episodes, pad_id=0)
    rows = [(ep, t) for ep in episodes for t in ep.turns]
    assert len(batch) == len(batch.tokens) == len(rows)
    assert batch.turns.episode_id.tolist() == [ep.episode_id for ep, _ in rows]
    assert batch.tokens.turn_index.tolist() == batch.turns.turn.tolist() == [t.turn for _, t in rows]
    assert batch.action_valid.tolist() == [t.action_valid for _, t in rows]
    for r, (_, t) in enumerate(rows):
        ids = batch.tokens.input_ids[r][batch.tokens.loss_mask[r]].tolist()
        assert ids == t.generation.completion_ids


def test_views_of_different_rows_are_refused(episodes):
    turns = to_turn_batch(episodes)
    n = len(turns)
    cols = {"action_valid": np.ones(n, bool), "score0": np.zeros(n)}
    with pytest.raises(ValueError, match="rows"):  # fewer token rows than turn rows
        RolloutBatch(turns=turns, tokens=build_token_batch(episodes[:-1], 0), **cols)
    with pytest.raises(ValueError, match="turn|episodes"):  # the same episodes in another order
        RolloutBatch(turns=turns, tokens=build_token_batch(episodes[::-1], 0), **cols)
    with pytest.raises(ValueError, match="action_valid"):
        RolloutBatch(turns=turns, tokens=build_token_batch(episodes, 0), action_valid=np.ones(n - 1, bool),
                     score0=np.zeros(n))


def test_new_columns_go_through_validation(episodes):
    batch = build_rollout_batch(episodes, pad_id=0)
    n = len(batch)
    shaped = batch.with_columns(reward=batch.turns.reward - 1.0, value=np.arange(n, dtype=float))
    assert np.allclose(shaped.turns.reward, batch.turns.reward - 1.0) and shaped.turns.value.tolist() == list(range(n))
    assert batch.turns.value is None  # a new batch: the old one is unchanged
    assert shaped.tokens is batch.tokens
    with pytest.raises(ValueError, match="TurnBatch.reward"):
        batch.with_columns(reward=np.zeros(n + 1))
    with pytest.raises(TypeError):
        batch.with_columns(rewards=np.zeros(n))
    with pytest.raises(dataclasses.FrozenInstanceError):
        batch.turns = batch.turns  # type: ignore[misc]
