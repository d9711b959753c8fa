"""From a rollout batch to what the update needs: shaped rewards, advantages and value targets.

DESIGN section 4, in order: reward shaping (invalid-action penalty, G-RA gating) -> the KL penalty in
the reward when the loss asks for it (k1 in the reward, as PPO-RLHF does: Ouyang et al. 2022, eq. 2) ->
the estimator, by name from the registry, with the user's options -> value targets with the same options
(``value_targets``).
A pure function of arrays and tensors (no model), so what the loop hands to the update can be checked
directly.
"""

from __future__ import annotations

from collections.abc import Set

import torch

from turngym.agents.llm.estimators import estimate, gated_accumulation, invalid_action_penalty, value_targets
from turngym.agents.llm.train.config import AlgoConfig
from turngym.agents.llm.train.rollout_batch import RolloutBatch
from turngym.agents.llm.train.update import UpdateInputs


def shape_rewards(batch: RolloutBatch, algo: AlgoConfig) -> RolloutBatch:
    """The batch with ``algo``'s reward shaping applied to its ``reward`` column (a new, validated batch)."""
    if algo.invalid_action_penalty:
        batch = batch.with_columns(reward=invalid_action_penalty(batch.turns, ~batch.action_valid,
                                                                 algo.invalid_action_penalty))
    if algo.gated_reward_gate is not None:
        batch = batch.with_columns(reward=gated_accumulation(batch.turns, algo.gated_reward_gate))
    return batch


def update_inputs(
    batch: RolloutBatch,
    algo: AlgoConfig,
    requires: Set[str],
    *,
    old_values: torch.Tensor | None = None,
    ref_logp: torch.Tensor | None = None,
    reward_penalty: torch.Tensor | None = None,
) -> tuple[RolloutBatch, UpdateInputs, dict[str, float]]:
    """Advantages and value targets for ``batch``.

    Args:
        batch: The rollout.
        algo: Estimator name and options, reward shaping.
        requires: What the estimator and loss declared they need (``score``: the scores before the first
            turn go to the estimator as ``score0``, the ``s_{-1}`` of information gain).
        old_values: [B] critic values at rollout, when a value head is trained; they become the ``value``
            column and the value targets are ``value_targets`` under the estimator's options (``gae``: the
            lambda-returns ``A + V``).
        ref_logp: [B, L] reference log-probs, handed to the loss (KL) unchanged.
        reward_penalty: [B] per-turn amount subtracted from each turn's reward before the estimator (the
            loss's ``reward_penalty``: KL k1 in the reward), or None.

    Returns:
        The batch with the columns used (shaped reward, values), the update's inputs, and ``train/``
        metrics (``kl_reward_mean`` when a reward penalty was applied).
    """
    metrics: dict[str, float] = {}
    batch = shape_rewards(batch, algo)
    if reward_penalty is not None:
        penalty = reward_penalty.detach().double().cpu().numpy()
        batch = batch.with_columns(reward=batch.turns.reward - penalty)
        metrics["kl_reward_mean"] = float(penalty.mean())
    if old_values is not None:
        batch = batch.with_columns(value=old_values.detach().double().cpu().numpy())
    options = algo.options()
    columns = {"score0": batch.score0} if "score" in requires else {}
    adv = estimate(algo.estimator, batch.turns, **{**options, **columns})
    returns = None
    if old_values is not None:
        # Value targets under the same options as the advantages (issue 13, bug 2: GAE's defaults were used).
        returns = torch.as_tensor(value_targets(algo.estimator, batch.turns, **options), dtype=torch.float32)
    return batch, UpdateInputs(torch.as_tensor(adv, dtype=torch.float32), returns, old_values, ref_logp), metrics
