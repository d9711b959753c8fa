"""Held-out evaluation of a text policy: success rate with a Wilson interval, mean return with a Student-t interval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from turngym.agents.llm.policies.lm import LMPolicy
from turngym.agents.llm.rollout import Episode, RolloutSettings, collect
from turngym.agents.stats import mean_ci, rate_ci
from turngym.envs.core.errors import ConfigError
from turngym.envs.pool import EnvPool


def evaluate(
    policy: LMPolicy,
    pool: EnvPool,
    seeds: Sequence[int],
    settings: RolloutSettings,
    *,
    temperature: float = 0.0,
    sample_seed: int = 0,
    prompt_length: Any = None,
) -> tuple[dict[str, float], list[Episode]]:
    """Plays one episode per seed and summarizes them (``eval/`` metrics).

    The policy's sampling state is saved and restored around the evaluation, so evaluating does not
    change the course of training (resumed runs stay bit-for-bit equal).

    Args:
        policy: The policy; evaluated at ``temperature`` (0: greedy).
        pool: Env pool for the held-out envs (episodes run in chunks of its size).
        seeds: One held-out reset seed per episode.
        settings: Rollout budgets and prompt format (as in training).
        temperature: Sampling temperature for the evaluation.
        sample_seed: Seed of the evaluation's sampling.
        prompt_length: Token counter for the context budget.

    Returns:
        The metrics (over the scored episodes; ``infra_errors`` counts those whose env failed, which are
        left out) and every episode. ``success_ci_low``/``success_ci_high`` are the 95% Wilson interval
        of the success rate (``rate_ci``; [0, 1] when no episode was scored), ``return_ci_*`` the
        Student-t interval of the mean return (``mean_ci``).

    Raises:
        ConfigError: When ``seeds`` is empty (every metric would be NaN).
    """
    if len(seeds) == 0:
        raise ConfigError("eval_episodes", "at least one held-out episode (an int >= 1)", 0)
    saved_state, saved_temp = policy.rng_state(), policy.temperature
    policy.set_rng_state(torch.Generator().manual_seed(int(sample_seed)).get_state())
    policy.temperature = temperature
    episodes: list[Episode] = []
    try:
        for start in range(0, len(seeds), pool.num_envs):
            chunk = list(seeds[start:start + pool.num_envs])
            episodes.extend(collect(pool, policy, chunk, 1, settings, prompt_length=prompt_length))
    finally:
        policy.set_rng_state(saved_state)
        policy.temperature = saved_temp
    scored = [ep for ep in episodes if ep.infra_error is None]  # DESIGN §3: infrastructure failures are left out
    returns = [ep.total_reward for ep in scored]
    # A rate of 0/1 outcomes gets a binomial (Wilson) interval, inside [0, 1] and of positive width at 0/n
    # and n/n; a t-interval went below 0 (issue 13, item 15(b)).
    s_mean, s_lo, s_hi = rate_ci(sum(bool(ep.success) for ep in scored), len(scored))
    r_mean, r_lo, r_hi = mean_ci(returns)
    return {
        "success_rate": s_mean, "success_ci_low": s_lo, "success_ci_high": s_hi,
        "return_mean": r_mean, "return_ci_low": r_lo, "return_ci_high": r_hi,
        "turns_mean": float(np.mean([len(ep.turns) for ep in scored])) if scored else float("nan"),
        "episodes": float(len(scored)),
        "infra_errors": float(len(episodes) - len(scored)),
    }, episodes
