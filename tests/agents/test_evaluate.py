"""Held-out evaluation on a real env with the tiny model: the success CI is a binomial (Wilson) interval."""

from __future__ import annotations

import pytest

import turngym.envs  # noqa: F401  (registers the ids)
from turngym.agents.llm.policies.tiny import build_policy
from turngym.agents.llm.rollout import RolloutSettings
from turngym.agents.llm.train.config import EnvConfig
from turngym.agents.llm.train.evaluate import evaluate
from turngym.agents.stats import mean_ci, rate_ci
from turngym.envs.pool import make_pool

SEEDS = list(range(100, 104))


@pytest.fixture(scope="module")
def evaluated():
    policy = build_policy("tiny", seed=0, max_new_tokens=6)
    with make_pool("turngym/LeducHoldem-v0", 4, env_kwargs=EnvConfig().train_kwargs()) as pool:
        return evaluate(policy, pool, SEEDS, RolloutSettings(constrain=True, max_context_tokens=None))


def test_success_ci_is_wilson_inside_unit_interval(evaluated):
    """Fails on the old code: a t-interval is zero-width at 0/n and n/n and goes below 0 at 1/n.

    Whatever k the untrained model reaches, the interval must be Wilson's for k of n, inside [0, 1] and of
    positive width.
    """
    metrics, episodes = evaluated
    k, n = sum(ep.success for ep in episodes), len(episodes)
    assert n == len(SEEDS) and metrics["episodes"] == n
    rate, lo, hi = rate_ci(k, n)
    assert (metrics["success_rate"], metrics["success_ci_low"], metrics["success_ci_high"]) == (rate, lo, hi)
    assert 0.0 <= metrics["success_ci_low"] <= metrics["success_rate"] <= metrics["success_ci_high"] <= 1.0
    assert metrics["success_ci_high"] > metrics["success_ci_low"]


def test_returns_keep_the_t_interval(evaluated):
    metrics, episodes = evaluated
    mean, lo, hi = mean_ci([ep.total_reward for ep in episodes])
    assert (metrics["return_mean"], metrics["return_ci_low"], metrics["return_ci_high"]) == (mean, lo, hi)
