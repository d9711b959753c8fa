"""One policy-optimization phase: minibatched passes over a rollout's token batch.

The loss is built once from the config (``build_loss``) and the update never looks at which estimator
produced the advantages (DESIGN section 4: the trainer never branches on the estimator's name).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import torch

from turngym.agents.losses import (
    CompositeLoss,
    EntropyControl,
    KLPenalty,
    LossInputs,
    PPOClip,
    TurnPPO,
    ValueHead,
    ValueLoss,
)
from turngym.agents.policies.lm import forward_logprobs
from turngym.agents.train.config import AlgoConfig, OptimConfig
from turngym.agents.train.tensors import TokenBatch


def build_loss(algo: AlgoConfig, with_value: bool) -> CompositeLoss:
    """The composite objective of ``algo``: the policy loss plus value, EPO and KL terms as configured."""
    if algo.loss == "turn-ppo":
        policy = TurnPPO(clip_low=algo.clip, clip_high=algo.clip_high, dual_clip=algo.dual_clip)
    else:
        policy = PPOClip(clip_low=algo.clip, clip_high=algo.clip_high, dual_clip=algo.dual_clip, agg=algo.agg)
    terms = []
    if with_value:
        terms.append(ValueLoss(coef=algo.value_coef))
    if algo.epo:
        terms.append(EntropyControl(beta=algo.epo_coef, smooth_coef=algo.epo_smooth_coef))
    if algo.kl_coef > 0:
        terms.append(KLPenalty(coef=algo.kl_coef, kind=algo.kl_kind))
    return CompositeLoss(policy, terms)


def needs_entropy(loss: CompositeLoss) -> bool:
    """True when a term of ``loss`` reads per-token entropies."""
    return any(isinstance(t, EntropyControl) for t in loss.terms.values())


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
            logp, _ = forward_logprobs(ref_model, part.input_ids, part.attention_mask, temperature=temperature)[:2]
            out[rows, :logp.shape[1]] = logp.float()
    return out


def _micro_loss(model: torch.nn.Module, tb: TokenBatch, rows: torch.Tensor, inputs: UpdateInputs,
                loss_fn: CompositeLoss, device: torch.device, temperature: float, want_entropy: bool,
                value_head: ValueHead | None) -> tuple[torch.Tensor, dict[str, float]]:
    """The composite loss on the turn rows ``rows`` (one forward pass)."""
    mb = tb.select(rows).to(device)
    out = forward_logprobs(model, mb.input_ids, mb.attention_mask, temperature=temperature,
                           with_entropy=want_entropy, return_hidden=value_head is not None)
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

    Args:
        model: The policy model (trained in place).
        tb: Token batch of the rollout.
        inputs: Advantages and the optional value/KL inputs, row-aligned with ``tb``.
        loss_fn: The composite objective.
        optimizer: Optimizer over the model's (and value head's) trainable parameters.
        optim: Epochs, minibatch size, gradient clipping.
        generator: Shuffles the rows (checkpointed with the run, so resumes are bit-for-bit).
        temperature: Temperature the rollout's log-probs were recorded at.
        value_head: The value head when the loss has a value term.
    """
    device = next(model.parameters()).device
    params = [p for group in optimizer.param_groups for p in group["params"]]
    sums: dict[str, float] = defaultdict(float)
    steps = 0
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
                # seq-mean, approximate for token-mean when micro-batches hold different token counts).
                share = len(part) / len(rows)
                loss, metrics = _micro_loss(model, tb, part, inputs, loss_fn, device, temperature,
                                            want_entropy, value_head)
                (loss * share).backward()
                step_metrics["loss"] += float(loss.detach()) * share
                for key, value in metrics.items():
                    step_metrics[key] += float(value) * share
            grad_norm = torch.nn.utils.clip_grad_norm_(params, optim.max_grad_norm)
            optimizer.step()
            step_metrics["grad_norm"] = float(grad_norm)
            for key, value in step_metrics.items():
                sums[key] += value
            steps += 1
    return {key: value / max(steps, 1) for key, value in sums.items()}
