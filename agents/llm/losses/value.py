"""Per-turn value head and the (optionally clipped) value loss used with GAE."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from turngym.agents.llm.losses.base import LossInputs, LossTerm, masked_mean, require, scalar


class ValueHead(nn.Module):
    """Linear critic ``V(s_t) = w . h + b`` on the hidden state of a turn's last prompt token.

    The state of turn t is its prompt (the whole history so far), so the value is read at the prompt's
    last position, before any completion token. The weight starts small (normal, std ``init_std``) and
    the bias at zero, so initial values are close to 0 and do not swamp early advantages.

    Args:
        hidden_size: Width of the language model's hidden states.
        init_std: Standard deviation of the initial weight.
        generator: Optional ``torch.Generator`` for the initial weight (no global RNG is needed when given).
    """

    def __init__(
        self, hidden_size: int, init_std: float = 0.01, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        # Parameters are created directly (not via nn.Linear) so that construction draws no random numbers
        # besides this one documented initialization.
        self.weight = nn.Parameter(torch.empty(1, hidden_size).normal_(0.0, init_std, generator=generator))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, hidden: Tensor, index: Tensor | None = None) -> Tensor:
        """Returns the [B] values.

        Args:
            hidden: [B, H] hidden states already taken at each turn's last prompt token, or [B, L, H]
                hidden states of the whole sequences (then ``index`` is required).
            index: [B] long position of each row's last prompt token (``TokenBatch.last_prompt_index``).

        Raises:
            ValueError: When ``hidden`` is [B, L, H] and ``index`` is missing, or has another rank.
        """
        if hidden.dim() == 3:
            if index is None:
                raise ValueError("ValueHead: [B, L, H] hidden states need the last-prompt-token index")
            rows = torch.arange(hidden.shape[0], device=hidden.device)
            hidden = hidden[rows, index.to(hidden.device)]
        elif hidden.dim() != 2:
            raise ValueError(f"ValueHead: hidden must be [B, H] or [B, L, H], got {tuple(hidden.shape)}")
        return nn.functional.linear(hidden.to(self.weight.dtype), self.weight, self.bias).squeeze(-1)


def explained_variance(pred: Tensor, target: Tensor) -> float:
    """``1 - Var(target - pred) / Var(target)``; 0.0 when the target has no variance or fewer than 2 items.

    1 means perfect prediction, 0 means no better than predicting the mean, < 0 means worse.
    """
    if target.numel() < 2:
        return 0.0
    var_t = torch.var(target.detach().double(), unbiased=False)
    if float(var_t) == 0.0:
        return 0.0
    return float(1.0 - torch.var((target - pred).detach().double(), unbiased=False) / var_t)


class ValueLoss(LossTerm):
    """Critic regression to per-turn returns, with optional PPO-style value clipping.

    ``L_V = coef * mean_k 0.5 (V_k - R_k)^2`` over the turns with completion tokens. With ``clip`` set,
    ``V_clip = V_old + clip(V - V_old, -clip, clip)`` and the per-turn loss is
    ``0.5 max((V - R)^2, (V_clip - R)^2)`` (the value clipping of the PPO reference implementation,
    Schulman et al. 2017 / OpenAI baselines ppo2; analysed by Engstrom et al. 2020, "Implementation Matters
    in Deep RL", Sec. 3 "value function clipping"). The returns are GAE lambda-returns,
    ``R = A + V_old`` (Schulman et al. 2016, arXiv:1506.02438, eqs. 11-16; ``gae_returns``).

    Metrics: ``value_loss`` (without ``coef``), ``explained_variance`` of the returns by the values,
    ``value_clip_frac``, ``value_mean``, ``return_mean``.

    Args:
        coef: Weight of the term.
        clip: Value clip range around ``old_values``; None: unclipped.
    """

    name: ClassVar[str] = "value"

    def __init__(self, coef: float = 0.5, clip: float | None = 0.2) -> None:
        if clip is not None and clip <= 0:
            raise ValueError(f"ValueLoss: clip must be > 0 or None, got {clip}")
        self.coef = float(coef)
        self.clip = None if clip is None else float(clip)

    def __call__(self, inputs: LossInputs) -> tuple[Tensor, dict[str, float]]:
        """Returns ``coef * value_loss`` and the value metrics."""
        values = require(inputs, "values", "ValueLoss").float()
        returns = require(inputs, "returns", "ValueLoss").float().detach()
        rows = inputs.valid_rows
        err = (values - returns) ** 2
        clip_frac = torch.zeros(())
        if self.clip is not None:
            old = require(inputs, "old_values", "ValueLoss (clip)").float().detach()
            v_clip = old + torch.clamp(values - old, -self.clip, self.clip)
            err_clip = (v_clip - returns) ** 2
            with torch.no_grad():
                clip_frac = masked_mean((err_clip > err).float(), rows)
            err = torch.maximum(err, err_clip)
        value_loss = 0.5 * masked_mean(err, rows)
        metrics = {
            "value_loss": scalar(value_loss),
            "explained_variance": explained_variance(values[rows], returns[rows]),
            "value_clip_frac": scalar(clip_frac),
            "value_mean": scalar(masked_mean(values.detach(), rows)),
            "return_mean": scalar(masked_mean(returns, rows)),
        }
        return self.coef * value_loss, metrics
