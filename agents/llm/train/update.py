"""One policy-optimization phase: minibatched passes over a rollout's token batch.

The loss is built once from the config (``build_loss``, from the loss registry
``turngym.agents.llm.losses.registry``; re-exported here for older imports) and the update never looks at which
estimator produced the advantages or which loss it runs (DESIGN section 4: the trainer never branches on
a name). Guards (issue 13): a minibatch whose loss or gradient norm is not finite is skipped, not applied;
an iteration stops early when a minibatch's approximate KL exceeds ``1.5 * target_kl`` (SB3).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass

import torch

from turngym.agents.llm.losses import CompositeLoss, LossInputs, ValueHead
from turngym.agents.llm.losses.registry import build_loss
from turngym.agents.llm.policies.lm import forward_logprobs
from turngym.agents.llm.train.config import OptimConfig
from turngym.agents.llm.train.tensors import TokenBatch

__all__ = ["UpdateInputs", "build_loss", "needs_entropy", "ppo_update", "reference_logprobs", "turn_values"]

logger = logging.getLogger(__name__)

#: The policy-loss metric the early stop reads (``PolicyLoss.metrics``: k3 estimate of KL(old || new)).
APPROX_KL_KEY = "policy/approx_kl"


def needs_entropy(loss: CompositeLoss) -> bool:
    """True when a term of ``loss`` reads per-token entropies (its ``requires`` names ``entropy``)."""
    return "entropy" in loss.requires


@dataclass
class UpdateInputs:
    """What the update needs besides the token batch (one entry per turn row).

    Attributes:
        advantages: [B] estimator output.
        returns: [B] value targets (None without a value head).
        old_values: [B] values at rollout (None without a value head).
        ref_logp: [B, L] reference log-probs (None without KL).
    """

    advantages: torch.Tensor
    returns: torch.Tensor | None = None
    old_values: torch.Tensor | None = None
    ref_logp: torch.Tensor | None = None


def turn_values(model: torch.nn.Module, value_head: ValueHead, tb: TokenBatch, temperature: float,
                chunk: int = 64) -> torch.Tensor:
    """Value-head predictions V(s_t) for every row (no grad), read at each turn's last prompt token."""
    out = []
    with torch.no_grad():
        for start in range(0, len(tb), chunk):
            part = tb.select(torch.arange(start, min(start + chunk, len(tb))))
            _, _, hidden = forward_logprobs(model, part.input_ids, part.attention_mask,
                                            temperature=temperature, return_hidden=True)
            out.append(value_head(hidden, part.last_prompt_index).float())
    return torch.cat(out)


def reference_logprobs(ref_model: torch.nn.Module, tb: TokenBatch, temperature: float,
                       chunk: int = 64) -> torch.Tensor:
    """Per-token log-probs of the frozen reference model on every row (no grad)."""
    out = torch.zeros_like(tb.old_logp)
    with torch.no_grad():
        for start in range(0, len(tb), chunk):
            rows = torch.arange(start, min(start + chunk, len(tb)))
            part = tb.select(rows)
            # The reference policy is constrained by the same masks as the policy (KL between the q's).
            logp, _ = forward_logprobs(ref_model, part.input_ids, part.attention_mask, temperature=temperature,
                                       allowed=part.allowed_tokens(), score_mask=part.loss_mask)[:2]
            out[rows, :logp.shape[1]] = logp.float()
    return out


def _micro_loss(model: torch.nn.Module, tb: TokenBatch, rows: torch.Tensor, inputs: UpdateInputs,
                loss_fn: CompositeLoss, device: torch.device, temperature: float, want_entropy: bool,
                value_head: ValueHead | None) -> tuple[torch.Tensor, dict[str, float]]:
    """The composite loss on the turn rows ``rows`` (one forward pass)."""
    mb = tb.select(rows).to(device)
    # Constrained turns are scored under the restricted q they were sampled from (log-probs and entropy):
    # the policy that acted, so the ratio is 1 at the first epoch (turngym.agents.llm.policies.lm docstring).
    out = forward_logprobs(model, mb.input_ids, mb.attention_mask, temperature=temperature,
                           with_entropy=want_entropy, return_hidden=value_head is not None,
                           allowed=mb.allowed_tokens(), score_mask=mb.loss_mask)
    logp, entropy, hidden = out if len(out) == 3 else (*out, None)
    values = value_head(hidden, mb.last_prompt_index).float() if value_head is not None else None
    width = mb.input_ids.shape[1]
    li = LossInputs(
        logp=logp.float(), old_logp=mb.old_logp, mask=mb.loss_mask,
        advantages=inputs.advantages[rows].to(device).float(),
        entropy=entropy.float() if entropy is not None else None,
        ref_logp=inputs.ref_logp[rows][:, :width].to(device) if inputs.ref_logp is not None else None,
        values=values,
        old_values=inputs.old_values[rows].to(device) if inputs.old_values is not None else None,
        returns=inputs.returns[rows].to(device) if inputs.returns is not None else None,
        episode_index=mb.episode_index, turn_index=mb.turn_index,
    )
    return loss_fn(li)


def ppo_update(
    model: torch.nn.Module,
    tb: TokenBatch,
    inputs: UpdateInputs,
    loss_fn: CompositeLoss,
    optimizer: torch.optim.Optimizer,
    optim: OptimConfig,
    generator: torch.Generator,
    *,
    temperature: float,
    value_head: ValueHead | None = None,
) -> dict[str, float]:
    """Runs ``optim.epochs`` shuffled passes of minibatch gradient steps; returns mean metrics.

    Per minibatch: the loss is accumulated over micro-batches, the gradient norm is measured and clipped to
    ``optim.max_grad_norm`` (``grad_norm`` is the pre-clip norm), then

    * non-finite guard: when the loss or the gradient norm is not finite, the gradients are dropped and no
      optimizer step is taken (a NaN step would poison every parameter, and Adam's moments with them); it
      is counted in ``skipped_nonfinite`` and logged as a warning;
    * early stop (``optim.target_kl``, as SB3's PPO): when the minibatch's approximate KL(old || new) (the
      policy loss's ``approx_kl``, measured before its step) exceeds ``1.5 * target_kl``, its step is not
      taken and the remaining minibatches and epochs of this iteration are dropped (``early_stopped`` = 1).

    Returns the mean over the applied steps of the loss metrics and ``grad_norm``, plus ``grad_norm_max``,
    ``steps`` (applied optimizer steps), ``skipped_nonfinite``, ``early_stopped``, ``approx_kl_at_stop``
    (when stopped) and ``epochs_done`` (passes over the batch, fractional when stopped mid-epoch: the
    minibatches that were stepped or skipped, divided by the minibatches per epoch).

    Args:
        model: The policy model (trained in place).
        tb: Token batch of the rollout.
        inputs: Advantages and the optional value/KL inputs, row-aligned with ``tb``.
        loss_fn: The composite objective.
        optimizer: Optimizer over the model's (and value head's) trainable parameters.
        optim: Epochs, minibatch size, gradient clipping, ``target_kl``.
        generator: Shuffles the rows (checkpointed with the run, so resumes are bit-for-bit).
        temperature: Temperature the rollout's log-probs were recorded at.
        value_head: The value head when the loss has a value term.

    Raises:
        ValueError: When ``optim.target_kl`` is set but not > 0, or set while the policy loss reports no
            ``approx_kl``.
    """
    target_kl = optim.target_kl
    if target_kl is not None and not target_kl > 0:
        raise ValueError(f"ppo_update: optim.target_kl must be > 0 or None, got {target_kl}")
    device = next(model.parameters()).device
    params = [p for group in optimizer.param_groups for p in group["params"]]
    sums: dict[str, float] = defaultdict(float)
    steps = skipped = processed = 0
    grad_norm_max = 0.0
    stop_kl: float | None = None
    per_epoch = max(1, math.ceil(len(tb) / optim.minibatch_size))
    want_entropy = needs_entropy(loss_fn)
    model.train()
    for _ in range(optim.epochs):
        order = torch.randperm(len(tb), generator=generator)
        for start in range(0, len(tb), optim.minibatch_size):
            rows = order[start:start + optim.minibatch_size]
            micro = optim.micro_batch_size or len(rows)
            optimizer.zero_grad(set_to_none=True)
            step_metrics: dict[str, float] = defaultdict(float)
            for m0 in range(0, len(rows), micro):
                part = rows[m0:m0 + micro]
                # Each micro-batch's loss is a mean over its rows/tokens; weighting it by its share of the
                # minibatch makes the accumulated gradient that of the whole minibatch (exact for
                # turn-mean, approximate for token-mean when micro-batches hold different token counts).
                share = len(part) / len(rows)
                loss, metrics = _micro_loss(model, tb, part, inputs, loss_fn, device, temperature,
                                            want_entropy, value_head)
                (loss * share).backward()
                step_metrics["loss"] += float(loss.detach()) * share
                for key, value in metrics.items():
                    if key != "loss":  # a CompositeLoss reports its total too: count it once
                        step_metrics[key] += float(value) * share
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, optim.max_grad_norm))
            if not (math.isfinite(step_metrics["loss"]) and math.isfinite(grad_norm)):
                optimizer.zero_grad(set_to_none=True)
                skipped += 1
                processed += 1
                logger.warning("ppo_update: skipped a minibatch step (loss %s, gradient norm %s are not both "
                               "finite)", step_metrics["loss"], grad_norm)
                continue
            if target_kl is not None:
                if APPROX_KL_KEY not in step_metrics:
                    raise ValueError(f"ppo_update: optim.target_kl needs the policy loss to report "
                                     f"{APPROX_KL_KEY!r}; it reported {sorted(step_metrics)}")
                if step_metrics[APPROX_KL_KEY] > 1.5 * target_kl:  # SB3 PPO.train: stop before this step
                    optimizer.zero_grad(set_to_none=True)
                    stop_kl = step_metrics[APPROX_KL_KEY]
                    break
            optimizer.step()
            processed += 1
            steps += 1
            grad_norm_max = max(grad_norm_max, grad_norm)
            step_metrics["grad_norm"] = grad_norm
            for key, value in step_metrics.items():
                sums[key] += value
        if stop_kl is not None:
            break
    out = {key: value / max(steps, 1) for key, value in sums.items()}
    out.update({"grad_norm_max": grad_norm_max, "steps": float(steps), "skipped_nonfinite": float(skipped),
                "early_stopped": float(stop_kl is not None), "epochs_done": processed / per_epoch})
    if stop_kl is not None:
        out["approx_kl_at_stop"] = stop_kl
    return out
