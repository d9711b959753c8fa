"""Registry expert factories that need agent code: the CFR+ expert of two-player zero-sum card games.

Kuhn poker and Leduc hold'em name ``"turngym.agents.baselines.experts:cfr_expert"`` as their ``EnvInfo.expert``. The
string points from ``envs/`` into ``agents/``, against the package's dependency direction (envs <- agents),
but only lazily: the registry stores the string and checks its syntax, and nothing imports it until a
trainer (itself in ``agents/``) asks for the expert, so ``import turngym.envs`` never imports agent code.
The solver cannot live beside the envs: it is a baseline agent (a game-tree solver), not part of an env.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: CFR+ iterations of the expert's strategy (the warm start's budget before issue 13; Leduc solves in about
#: 4.5 s on one core, exploitability about 0.005).
CFR_ITERATIONS = 300


def cfr_expert(env_id: str, *, seed: int = 0, env_kwargs: dict[str, Any] | None = None,
               iterations: int = CFR_ITERATIONS) -> Callable[[Any, Any, dict[str, Any]], str]:
    """A CFR+ average strategy of ``env_id``, sampled for the learner's seat.

    The game is solved once here (its full tree, both seats); ``act`` then samples the strategy at the
    information state ``info["state_key"]`` names, with one RNG seeded by ``seed`` and consumed once per
    call, so a run of calls is reproducible.

    Args:
        env_id: A two-player zero-sum turn-based env with an AEC form (``turngym/LeducHoldem-v0``).
        seed: Seed of the policy's sampling.
        env_kwargs: Arguments of the single-agent env the expert plays in (opponents, seat); the game and
            so its solution do not depend on them.
        iterations: CFR+ iterations.

    Returns:
        ``act(env, observation, info)``: the sampled action's word (one of ``info["admissible_actions"]``).
    """
    from turngym.agents.baselines.cfr import solve

    del env_kwargs  # the seats' strategies are solved for the whole game, whoever sits where
    policy = solve(env_id, iterations, progress=False, seed=seed).policy
    rng = np.random.default_rng(seed)

    def act(env: Any, observation: Any, info: dict[str, Any]) -> str:
        action_id = policy.act([observation], [info], rng=rng)[0]
        return info["admissible_actions"][list(info["legal_action_ids"]).index(action_id)]

    return act


__all__ = ["CFR_ITERATIONS", "cfr_expert"]
