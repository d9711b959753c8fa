"""``ppo_update`` guards (issue 13): non-finite steps are skipped, approx-KL stops an iteration early.

A real tiny transformers model (``make_tiny_model``) on a synthetic token batch whose ``old_logp`` are the
model's own log-probs, so the first minibatch is exactly on-policy.
"""

from __future__ import annotations

import copy
import logging

import pytest
import torch

from turngym.agents.llm.losses import CompositeLoss, PPOClip
from turngym.agents.llm.policies.lm import forward_logprobs
from turngym.agents.llm.policies.tiny import make_tiny_model
from turngym.agents.llm.train.config import AlgoConfig, OptimConfig
from turngym.agents.llm.train.tensors import TokenBatch
from turngym.agents.llm.train.update import UpdateInputs, ppo_update

ROWS, LENGTH, COMPLETION = 8, 8, 3


@pytest.fixture(scope="module")
def model_and_batch() -> tuple[torch.nn.Module, TokenBatch]:
    model = make_tiny_model(seed=0, num_hidden_layers=1, hidden_size=64, intermediate_size=128)  # fast
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(3, int(model.config.vocab_size), (ROWS, LENGTH), generator=gen)
    attention = torch.ones(ROWS, LENGTH, dtype=torch.long)
    mask = torch.zeros(ROWS, LENGTH, dtype=torch.bool)
    mask[:, -COMPLETION:] = True
    with torch.no_grad():
        logp, _ = forward_logprobs(model, ids, attention)
    tb = TokenBatch(input_ids=ids, attention_mask=attention, loss_mask=mask,
                    old_logp=torch.where(mask, logp.float(), torch.zeros(())),
                    last_prompt_index=torch.full((ROWS,), LENGTH - COMPLETION - 1),
                    episode_index=torch.arange(ROWS), turn_index=torch.zeros(ROWS, dtype=torch.long))
    return model, tb


def _params(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten().clone() for p in model.parameters()])


def _run(model: torch.nn.Module, tb: TokenBatch, adv: torch.Tensor, optim: OptimConfig,
         lr: float = 1e-3) -> dict[str, float]:
    work = copy.deepcopy(model)
    opt = torch.optim.AdamW(work.parameters(), lr=lr)
    before = _params(work)
    metrics = ppo_update(work, tb, UpdateInputs(adv), CompositeLoss(PPOClip(dual_clip=None)), opt, optim,
                         torch.Generator().manual_seed(1), temperature=1.0)
    metrics["_changed"] = float(not torch.equal(before, _params(work)))
    metrics["_adam_state"] = float(len(opt.state))
    return metrics


def test_nonfinite_loss_skips_the_step_and_leaves_parameters_unchanged(model_and_batch, caplog):
    # Bug 1: a NaN advantage (e.g. IGPO scores without a gold answer) made a NaN loss, the step wrote NaN
    # into every parameter, and generation crashed later. Now the step is skipped, counted and logged.
    model, tb = model_and_batch
    adv = torch.ones(ROWS)
    adv[3] = float("nan")
    with caplog.at_level(logging.WARNING, logger="turngym.agents.llm.train.update"):
        m = _run(model, tb, adv, OptimConfig(epochs=2, minibatch_size=ROWS, target_kl=None))
    assert m["_changed"] == 0.0 and m["_adam_state"] == 0.0  # parameters and optimizer state untouched
    assert m["skipped_nonfinite"] == 2.0 and m["steps"] == 0.0 and m["epochs_done"] == 2.0
    assert "skipped a minibatch step" in caplog.text
    # Only the minibatch holding the NaN row is skipped; the others still train.
    m = _run(model, tb, adv, OptimConfig(epochs=1, minibatch_size=2, target_kl=None))
    assert m["skipped_nonfinite"] == 1.0 and m["steps"] == 3.0 and m["_changed"] == 1.0
    assert all(v == v for v in m.values())  # no NaN leaked into the averaged metrics


def test_huge_learning_rate_stops_the_iteration_early(model_and_batch):
    # Item 15(d): SB3's target_kl. The first minibatch is on-policy (approx_kl 0) and is applied; with a huge
    # step the next minibatch sees approx_kl > 1.5 * target_kl and the rest of the iteration is dropped.
    model, tb = model_and_batch
    adv = torch.linspace(-1.0, 1.0, ROWS)
    guarded = _run(model, tb, adv, OptimConfig(epochs=3, minibatch_size=4, target_kl=0.01), lr=0.5)
    assert guarded["early_stopped"] == 1.0 and guarded["approx_kl_at_stop"] > 0.015
    assert guarded["steps"] < 6 and guarded["epochs_done"] < 3
    assert guarded["epochs_done"] == pytest.approx(guarded["steps"] / 2)
    free = _run(model, tb, adv, OptimConfig(epochs=3, minibatch_size=4, target_kl=None), lr=0.5)
    assert free["early_stopped"] == 0.0 and free["epochs_done"] == 3.0 and free["steps"] == 6.0
    assert free["grad_norm_max"] >= free["grad_norm"] > 0  # pre-clip norms are logged


def test_small_steps_run_every_epoch_and_bad_target_kl_is_rejected(model_and_batch):
    model, tb = model_and_batch
    m = _run(model, tb, torch.linspace(-1.0, 1.0, ROWS), OptimConfig(epochs=2, minibatch_size=4), lr=1e-6)
    assert m["early_stopped"] == 0.0 and m["epochs_done"] == 2.0 and m["steps"] == 4.0
    assert OptimConfig().target_kl == 0.5
    with pytest.raises(ValueError, match="target_kl"):
        _run(model, tb, torch.zeros(ROWS), OptimConfig(target_kl=0.0))


def test_logged_loss_is_the_sum_of_the_terms_once(model_and_batch):
    # The composite loss reports its own total as "loss"; ppo_update used to add it to the loss it had
    # already counted, so train/loss was twice the objective (seen in the FrozenLake benchmark's metrics).
    model, tb = model_and_batch
    m = _run(model, tb, torch.linspace(-1.0, 1.0, ROWS), OptimConfig(epochs=1, minibatch_size=ROWS), lr=1e-6)
    assert m["loss"] == pytest.approx(m["policy/loss"], rel=1e-6, abs=1e-9) and m["loss"] != 0.0


def test_old_build_loss_import_path_still_works():
    from turngym.agents.llm.losses.registry import build_loss as new
    from turngym.agents.llm.train.update import build_loss as old

    assert old is new
    assert type(old(AlgoConfig(), with_value=False).policy_loss) is PPOClip
