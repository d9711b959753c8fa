"""Token-level PPO clipped surrogate with asymmetric (clip-higher) ranges and dual clip."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from turngym.agents.llm.losses.base import PolicyLoss


def ppo_clip_objective(
    ratio: Tensor, advantages: Tensor, clip_low: float, clip_high: float, dual_clip: float | None
) -> Tensor:
    """Per-element PPO clipped surrogate (to maximize), optionally dual-clipped.

    Schulman et al. (2017), "Proximal Policy Optimization Algorithms", eq. 7:
    ``L = min(r A, clip(r, 1 - eps_low, 1 + eps_high) A)``, with the asymmetric range of DAPO (Yu et al.
    2025, arXiv:2503.14476, Sec. 3.1 "Clip-Higher"). Dual clip, Ye et al. (2020), "Mastering Complex
    Control in MOBA Games with Deep Reinforcement Learning", eq. 4: for ``A < 0`` the objective is
    ``max(min(r A, clip(r) A), c A)``, which bounds how much a sample with a huge ratio and a negative
    advantage can push.

    Args:
        ratio: Importance ratios pi_new / pi_old.
        advantages: Advantages, same shape as ``ratio``.
        clip_low: eps_low.
        clip_high: eps_high.
        dual_clip: c > 1, or None for no dual clip.
    """
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high) * advantages
    surrogate = torch.minimum(unclipped, clipped)  # Schulman et al. 2017, eq. 7
    if dual_clip is not None:
        # Ye et al. 2020, eq. 4: max(min(rA, clip(r)A), cA) for A < 0; unchanged for A >= 0.
        surrogate = torch.where(advantages < 0, torch.maximum(surrogate, dual_clip * advantages), surrogate)
    return surrogate


class PPOClip(PolicyLoss):
    """Token-level PPO clip: one importance ratio per completion token.

    ``r_t = exp(logp_t - old_logp_t)``; surrogate ``min(r_t A, clip(r_t, 1 - eps_low, 1 + eps_high) A)``
    (Schulman et al. 2017, eq. 7) with the turn's advantage ``A`` on each of its tokens, dual-clipped for
    ``A < 0`` (Ye et al. 2020, eq. 4); the loss is ``-aggregate(surrogate)``. With ``bias_correction=True``
    this is ST-PPO's "S-PPO" variant (clipping-bias correction at token level, see
    ``turngym.agents.llm.losses.base.trust_region_weight``).

    Metrics: ``clip_frac`` (valid tokens whose clipped term is selected), ``dual_clip_frac``, ``approx_kl``
    (k3 estimate of KL(old || new) on valid tokens), ``ratio_mean``, ``ratio_max``, ``ratio_min``, and
    ``bias_weight_mean`` when the correction is on.

    Example:
        >>> import torch
        >>> from turngym.agents.llm.losses import LossInputs, PPOClip
        >>> lp = torch.zeros(1, 2, requires_grad=True)
        >>> x = LossInputs(logp=lp, old_logp=torch.zeros(1, 2), mask=torch.tensor([[False, True]]),
        ...                advantages=torch.tensor([1.0]))
        >>> loss, m = PPOClip()(x)
        >>> loss.item(), m["clip_frac"]
        (-1.0, 0.0)
    """

    name: ClassVar[str] = "policy"

    def objective(self, ratio: Tensor, advantages: Tensor, mask: Tensor) -> Tensor:
        """PPO clipped (and dual-clipped) surrogate per element; see ``ppo_clip_objective``."""
        return ppo_clip_objective(ratio, advantages, self.clip_low, self.clip_high, self.dual_clip)
