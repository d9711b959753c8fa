"""Turn-level PPO (ST-PPO): one importance ratio per turn, clipped per turn, clipping-bias corrected."""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from torch import Tensor

from turngym.agents.llm.losses.base import Agg, masked_mean, scalar
from turngym.agents.llm.losses.ppo import PPOClip


class TurnPPO(PPOClip):
    """ST-PPO: turn-level importance sampling + clipping-bias correction.

    Li et al. (2025), "ST-PPO: Stabilized Off-Policy Proximal Policy Optimization for Multi-Turn Agents
    Training", arXiv:2511.20718.

    Turn-level importance sampling (their Eq. 4): the ratio of turn ``k`` with valid completion tokens
    ``t = 1..n_k`` is the geometric mean of its token ratios,
    ``r_k = exp((1 / n_k) sum_t (logp_t - old_logp_t))``. The PPO clip (Schulman et al. 2017, eq. 7) and the
    dual clip (Ye et al. 2020, eq. 4) act on ``r_k`` with the turn advantage ``A_k``, so a turn is clipped
    or not as a whole: single tokens far outside the clip range do not clip their turn when the turn's
    geometric mean stays inside it. The gradient reaches every token of the turn through the mean:
    ``d r_k / d logp_t = r_k / n_k``.

    Clipping-bias correction (their Eq. 8 ff., "clipping-triggered normalization" in the paper's v2). The
    one-sided PPO clip zeroes the gradient only of samples whose clipped term is selected; a highly
    off-policy turn on the other side (``A_k > 0, r_k < 1 - eps_low`` or ``A_k < 0, r_k > 1 + eps_high``)
    keeps its full, unreliable gradient (critic advantages are poorest there). The exact closed form of the
    paper's Eq. 8 was not available to us, so this class implements the following documented form: each
    turn's surrogate is multiplied by the DETACHED weight

        ``w_k = 1``                                  if ``1 - eps_low <= r_k <= 1 + eps_high``,
        ``w_k = log(1 + eps_high) / log r_k``         if ``r_k > 1 + eps_high``,
        ``w_k = log(1 - eps_low) / log r_k``          if ``r_k < 1 - eps_low``,

    i.e. triggered exactly outside the trust region, continuous at its boundary, and normalizing the
    turn's off-policy distance ``|log r_k|`` back to the boundary's (``w_k |log r_k| = |log b|``). Being
    detached, ``w_k`` rescales the turn's gradient without changing its direction; turns inside the trust
    region are untouched, so on-policy (``r = 1``) the loss equals plain turn-level PPO.
    ``bias_correction=False`` gives the paper's "Turn-PPO" variant; ``PPOClip(bias_correction=True)`` gives
    "S-PPO".

    Aggregation: the turn surrogate is broadcast to the turn's tokens and then aggregated with ``agg``; the
    default ``"turn-mean"`` (alias ``"seq-mean"``) averages over turns (each turn weighs the same);
    ``"token-mean"`` weighs each turn by its number of completion tokens.

    Value head: ST-PPO is an actor-critic method. ``turngym.agents.llm.losses.value.ValueHead`` predicts a
    per-turn value V(s_k) from the hidden state of the turn's last prompt token; the trainer computes
    per-turn advantages and returns with the ``gae`` estimator (``turngym.agents.llm.estimators.gae``; returns
    = advantages + values, ``gae_returns``) and trains the head with ``ValueLoss`` in a ``CompositeLoss``.

    Metrics: those of ``PPOClip`` (``ratio_*`` are over turn ratios, ``clip_frac`` and ``dual_clip_frac``
    are fractions of valid tokens whose turn is clipped, ``approx_kl`` is the token-level k3 estimate)
    plus ``turn_clip_frac`` (fraction of turns whose clipped term is selected).

    Args:
        clip_low: Lower clip range eps_low.
        clip_high: Upper clip range eps_high; None: same as ``clip_low``.
        dual_clip: Dual-clip constant c > 1 for negative advantages; None disables.
        agg: ``"turn-mean"`` (default; alias ``"seq-mean"``), ``"token-mean"`` or ``"seq-mean-token-sum"``.
        bias_correction: Apply the clipping-bias correction above (ST-PPO); False gives Turn-PPO.
    """

    name: ClassVar[str] = "policy"
    level: ClassVar[Literal["token", "turn"]] = "turn"

    def __init__(
        self,
        *,
        clip_low: float = 0.2,
        clip_high: float | None = None,
        dual_clip: float | None = 3.0,
        agg: Agg = "turn-mean",
        bias_correction: bool = True,
    ) -> None:
        super().__init__(
            clip_low=clip_low, clip_high=clip_high, dual_clip=dual_clip, agg=agg,
            bias_correction=bias_correction,
        )

    def metrics(
        self, ratio: Tensor, token_log_ratio: Tensor, adv: Tensor, mask: Tensor, weight: Tensor | None
    ) -> dict[str, float]:
        """``PPOClip`` metrics with ratios over turns, plus ``turn_clip_frac``."""
        out = super().metrics(ratio, token_log_ratio, adv, mask, weight)
        with torch.no_grad():
            rows = mask.any(dim=1)
            r_turn, a_turn = ratio[:, 0], adv[:, 0]
            turn_clipped = self.clip_active(r_turn, a_turn) & rows
            out["turn_clip_frac"] = scalar(masked_mean(turn_clipped.float(), rows))
            r_valid = r_turn[rows]
            if r_valid.numel():
                out["ratio_mean"] = scalar(r_valid.mean())
                out["ratio_max"] = scalar(r_valid.max())
                out["ratio_min"] = scalar(r_valid.min())
            if weight is not None:
                out["bias_weight_mean"] = scalar(masked_mean(weight[:, 0], rows))
        return out
