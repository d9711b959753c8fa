"""KL penalty to a frozen reference policy, with the k1 and k3 per-token estimators."""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from torch import Tensor

from turngym.agents.losses.base import (
    LossInputs,
    LossTerm,
    as_float,
    masked_fill_zero,
    masked_mean,
    require,
    scalar,
)

KLKind = Literal["k1", "k3"]

_MAX_LOG_RATIO = 20.0


def kl_k1(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """Per-token k1 estimate of KL(pi || ref) for tokens sampled from pi: ``log pi(x) - log ref(x)``.

    Schulman (2020), "Approximating KL Divergence" (joschu.net/blog/kl-approx.html), estimator k1:
    unbiased, but high variance and negative on some samples.
    """
    return logp - ref_logp


def kl_k3(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """Per-token k3 estimate of KL(pi || ref) for tokens sampled from pi: ``(rho - 1) - log rho``.

    Schulman (2020), "Approximating KL Divergence", estimator k3 with ``rho = ref(x) / pi(x)``:
    ``k3 = exp(log rho) - log rho - 1``; unbiased (E_pi[rho] = 1), always >= 0, and 0 iff
    ``logp == ref_logp``. ``log rho`` is clamped to [-20, 20] so ``exp`` cannot overflow.
    """
    log_rho = torch.clamp(ref_logp - logp, -_MAX_LOG_RATIO, _MAX_LOG_RATIO)
    return torch.exp(log_rho) - log_rho - 1.0


class KLPenalty(LossTerm):
    """``coef * token-mean KL(pi || ref)`` over the completion tokens.

    Args:
        coef: Weight of the penalty.
        kind: ``"k1"`` (``logp - ref_logp``) or ``"k3"`` (Schulman's low-variance, non-negative estimator).

    Metrics: ``kl`` (the token-mean estimate, without ``coef``).
    """

    name: ClassVar[str] = "kl"

    def __init__(self, coef: float = 0.01, kind: KLKind = "k3") -> None:
        if kind not in ("k1", "k3"):
            raise ValueError(f"KLPenalty: kind must be 'k1' or 'k3', got {kind!r}")
        self.coef = float(coef)
        self.kind: KLKind = kind

    def __call__(self, inputs: LossInputs) -> tuple[Tensor, dict[str, float]]:
        """Returns ``coef * kl`` and ``{"kl": kl}``."""
        ref = as_float(require(inputs, "ref_logp", "KLPenalty")).detach()
        mask = inputs.valid
        # Masked positions are zeroed before the estimator so pad garbage (e.g. -inf) never reaches exp.
        logp = masked_fill_zero(as_float(inputs.logp), mask)
        ref = ref.to(logp.dtype)
        ref = masked_fill_zero(ref, mask)
        per_token = kl_k1(logp, ref) if self.kind == "k1" else kl_k3(logp, ref)
        kl = masked_mean(per_token, mask)
        return self.coef * kl, {"kl": scalar(kl)}
