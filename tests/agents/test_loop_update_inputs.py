"""What the loop hands to the update (issue 13: bug 2, item 9's KL in the reward), on a real tiny run.

``_Run.prepare`` is the step between the rollout batch and ``ppo_update``: the inputs it returns are the
ones the loop passes on. On the code before this change there was no such step: the loop computed the value
targets as ``gae_returns(batch)`` with GAE's defaults (gamma 1, lambda 0.95) whatever the estimator's
options, so with ``{"gamma": 0.5, "lam": 0.5}`` the targets differed from ``A + V``; and it had no reward
penalty, so a KL "in the reward" never reached the rewards the advantages are estimated from.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import turngym.envs  # noqa: F401  (registers the ids)
from turngym.agents.llm.estimators import estimate, gae
from turngym.agents.llm.rollout import collect
from turngym.agents.llm.train.config import AlgoConfig, EnvConfig, ModelConfig, OptimConfig, RolloutConfig, TrainConfig
from turngym.agents.llm.train.loop import _Run, train_seeds
from turngym.agents.llm.train.rollout_batch import build_rollout_batch
from turngym.agents.llm.train.update import reference_logprobs


def small_config(tmp_path: Path, algo: AlgoConfig) -> TrainConfig:
    return TrainConfig(model=ModelConfig(max_new_tokens=6), env=EnvConfig(),
                       rollout=RolloutConfig(tasks_per_iter=3, group_size=2, max_turns=3), algo=algo,
                       optim=OptimConfig(minibatch_size=8), iterations=1, eval_episodes=2,
                       out_dir=str(tmp_path / "run"), tensorboard=False, progress=False)


def rollout(run: _Run):
    episodes = collect(run.pool, run.policy, train_seeds(run.task_rng, run.cfg.rollout.tasks_per_iter),
                       run.cfg.rollout.group_size, run.settings, prompt_length=run.prompt_length)
    return build_rollout_batch([ep for ep in episodes if ep.turns], run._pad_id())


@pytest.fixture
def built(tmp_path):
    runs = []

    def build(algo: AlgoConfig) -> _Run:
        runs.append(_Run(small_config(tmp_path, algo)))
        return runs[-1]

    yield build
    for run in runs:
        run.close()


def test_value_targets_use_the_estimators_options(built):
    options = {"gamma": 0.5, "lam": 0.5}
    run = built(AlgoConfig(estimator="gae", estimator_options='{"gamma": 0.5, "lam": 0.5}'))
    batch, inputs, _ = run.prepare(rollout(run))
    assert inputs.returns is not None and inputs.old_values is not None
    values = inputs.old_values.double().numpy()
    assert np.allclose(batch.turns.value, values)
    assert np.allclose(inputs.advantages.numpy(), gae(batch.turns, **options), atol=1e-6)
    # The targets are A + V under the same gamma and lambda ...
    assert np.allclose(inputs.returns.numpy(), inputs.advantages.numpy() + values, atol=1e-5)
    # ... which on this batch is not what GAE's defaults give (the old targets).
    default = gae(batch.turns) + values
    assert np.abs(default - inputs.returns.numpy()).max() > 1e-3


def test_kl_in_the_reward_is_subtracted_before_the_estimator(built):
    # Dr. GRPO (R - mean): with G = 2 the std-normalized advantages are +-1 whatever the rewards' scale.
    algo = AlgoConfig(estimator="grpo", estimator_options='{"normalize_std": false}', kl_coef=0.5,
                      kl_kind="k1-reward")
    run = built(algo)
    run.freeze_reference()
    assert run.ref_model is not None
    with torch.no_grad():  # a reference that differs from the policy (at freezing they are equal: KL = 0)
        gen = torch.Generator().manual_seed(0)
        for p in run.ref_model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    batch = rollout(run)
    shaped, inputs, metrics = run.prepare(batch)
    ref = reference_logprobs(run.ref_model, batch.tokens, run.temperature)
    mask = batch.tokens.loss_mask
    penalty = 0.5 * ((batch.tokens.old_logp - ref) * mask).sum(dim=1).double().numpy()
    assert np.abs(penalty).max() > 1e-3
    assert np.allclose(shaped.turns.reward, batch.turns.reward - penalty, atol=1e-5)
    assert metrics["kl_reward_mean"] == pytest.approx(float(penalty.mean()), abs=1e-5)
    # The advantages are the estimator's on the penalized rewards, not on the env's.
    assert np.allclose(inputs.advantages.numpy(), estimate("grpo", shaped.turns, normalize_std=False), atol=1e-5)
    assert not np.allclose(inputs.advantages.numpy(), estimate("grpo", batch.turns, normalize_std=False), atol=1e-3)
    assert torch.equal(inputs.ref_logp, ref)


def test_a_kl_loss_leaves_the_rewards_alone(built):
    run = built(AlgoConfig(estimator="grpo", kl_coef=0.5, kl_kind="k3"))
    run.freeze_reference()
    batch = rollout(run)
    shaped, inputs, metrics = run.prepare(batch)
    assert np.array_equal(shaped.turns.reward, batch.turns.reward) and "kl_reward_mean" not in metrics
    assert inputs.ref_logp is not None


def test_the_loop_builds_a_value_head_from_the_loss_requirements(built):
    # turn-ppo declares {"value"} in the loss registry; the loop reads that, not the name.
    run = built(replace(AlgoConfig(estimator="grpo"), loss="turn-ppo"))
    assert run.value_head is not None and "value" in run.requires
    assert built(AlgoConfig(estimator="grpo")).value_head is None
