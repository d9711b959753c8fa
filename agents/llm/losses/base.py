"""Shared pieces of the loss package: ``LossInputs``, masked reductions, ``LossTerm``, ``PolicyLoss``.

DESIGN section 4: "Losses are classes with one overridable objective hook". ``PolicyLoss.__call__`` turns
log-probs into importance ratios (per token, or per turn for turn-level PPO), applies the optional
clipping-bias correction weights, and aggregates; the per-element surrogate itself comes from the one
hook ``objective``. Every term returns ``(loss_to_minimize, metrics)``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor

Agg = Literal["token-mean", "turn-mean", "seq-mean", "seq-mean-token-sum"]
AGGREGATIONS: tuple[str, ...] = ("token-mean", "turn-mean", "seq-mean", "seq-mean-token-sum")
#: Older names kept working: "seq-mean" (verl's name) is "turn-mean" (one row = one turn here).
AGG_ALIASES: dict[str, str] = {"seq-mean": "turn-mean"}
_MAX_LOG_RATIO = 20.0


@dataclass
class LossInputs:
    """One minibatch of turns; one row = one agent turn = one (prompt + completion) sequence.

    Attributes:
        logp: [B, L] log-probs of each token under the current policy (requires grad).
        old_logp: [B, L] log-probs recorded at rollout (no grad).
        mask: [B, L] bool, True on the policy's completion tokens only (prompt, env and pad tokens never
            get gradient).
        advantages: [B] one advantage per turn (broadcast to its tokens).
        entropy: [B, L] per-token entropy of the current policy (requires grad).
        ref_logp: [B, L] log-probs under the frozen reference policy.
        values: [B] value-head prediction per turn (requires grad).
        old_values: [B] values at rollout (for value clipping).
        returns: [B] value targets per turn (GAE returns).
        episode_index: [B] long, trajectory of each turn (EPO trajectory entropy).
        turn_index: [B] long, turn number within its trajectory (EPO per-turn entropy).

    Raises:
        ValueError: When the token tensors are not [B, L] of one shape or a per-turn tensor is not [B].
    """

    logp: Tensor
    old_logp: Tensor
    mask: Tensor
    advantages: Tensor
    entropy: Tensor | None = None
    ref_logp: Tensor | None = None
    values: Tensor | None = None
    old_values: Tensor | None = None
    returns: Tensor | None = None
    episode_index: Tensor | None = None
    turn_index: Tensor | None = None

    def __post_init__(self) -> None:
        if self.logp.dim() != 2:
            raise ValueError(f"LossInputs: logp must be [B, L], got shape {tuple(self.logp.shape)}")
        shape = tuple(self.logp.shape)
        for name in ("old_logp", "mask", "entropy", "ref_logp"):
            t = getattr(self, name)
            if t is not None and tuple(t.shape) != shape:
                raise ValueError(f"LossInputs: {name} has shape {tuple(t.shape)}, logp has {shape}")
        for name in ("advantages", "values", "old_values", "returns", "episode_index", "turn_index"):
            t = getattr(self, name)
            if t is not None and tuple(t.shape) != shape[:1]:
                raise ValueError(f"LossInputs: {name} must be [B] = [{shape[0]}], got {tuple(t.shape)}")

    @property
    def valid(self) -> Tensor:
        """[B, L] bool loss mask."""
        return self.mask.bool()

    @property
    def valid_rows(self) -> Tensor:
        """[B] bool: the turns with at least one completion token."""
        return self.mask.bool().any(dim=1)


def require(inputs: LossInputs, field: str, who: str) -> Tensor:
    """Returns ``inputs.<field>``, raising a clear error when it is missing.

    Raises:
        ValueError: When the field is None.
    """
    value = getattr(inputs, field)
    if value is None:
        raise ValueError(f"{who}: LossInputs.{field} is required")
    return value


def masked_fill_zero(x: Tensor, mask: Tensor) -> Tensor:
    """``x`` where ``mask`` is True, exactly 0 elsewhere (no gradient flows to the masked-out entries)."""
    return torch.where(mask, x, torch.zeros((), dtype=x.dtype, device=x.device))


def masked_mean(x: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """Mean of ``x`` over the True entries of ``mask`` (over ``dim`` or all); 0 where nothing is True."""
    xs = masked_fill_zero(x, mask)
    m = mask.to(x.dtype)
    if dim is None:
        return xs.sum() / m.sum().clamp(min=1.0)
    return xs.sum(dim=dim) / m.sum(dim=dim).clamp(min=1.0)


def turn_mean(x: Tensor, mask: Tensor) -> Tensor:
    """[B] mean of [B, L] ``x`` over each row's valid tokens (0 for rows without any)."""
    return masked_mean(x, mask, dim=1)


def aggregate(per_token: Tensor, mask: Tensor, agg: str) -> Tensor:
    """Reduces a [B, L] per-token quantity to a scalar over the valid tokens.

    Args:
        per_token: [B, L] values (masked entries are ignored and get no gradient).
        mask: [B, L] bool loss mask.
        agg: ``"token-mean"``: mean over every valid token of the batch (each token weighs the same, so a
            turn weighs by its token count); ``"turn-mean"`` (alias ``"seq-mean"``): mean over each row's
            valid tokens, then over the rows that have any (each turn weighs the same, whatever its
            tokenization: "right" in 4 tokens and "up" in 1 count alike); ``"seq-mean-token-sum"``: sum
            over each row's valid tokens, then mean over the rows that have any.

    Raises:
        ValueError: On an unknown ``agg``.
    """
    agg = AGG_ALIASES.get(agg, agg)
    if agg == "token-mean":
        return masked_mean(per_token, mask)
    rows = mask.any(dim=1)
    if agg == "turn-mean":
        per_row = turn_mean(per_token, mask)
    elif agg == "seq-mean-token-sum":
        per_row = masked_fill_zero(per_token, mask).sum(dim=1)
    else:
        raise ValueError(f"unknown aggregation {agg!r}; expected one of {AGGREGATIONS}")
    return masked_mean(per_row, rows)


def as_float(x: Tensor) -> Tensor:
    """``x`` as a floating tensor of at least float32 precision (float64 stays float64)."""
    return x if x.dtype == torch.float64 else x.float()


def scalar(x: Tensor | float) -> float:
    """A detached Python float."""
    return float(x.detach().item()) if isinstance(x, Tensor) else float(x)


class LossTerm(ABC):
    """A loss term: ``term(inputs) -> (scalar loss to minimize, metrics)``.

    Stateful terms override ``state_dict``/``load_state_dict`` (bit-for-bit resume) and ``on_iteration``
    (called once per training iteration with the training progress in [0, 1], for schedules). A term that
    acts through the reward rather than the loss (KL in the reward, PPO-RLHF style) overrides
    ``reward_penalty``. ``requires`` names the optional ``LossInputs`` fields the term reads, so the trainer
    computes them without knowing which term is there.
    """

    name: ClassVar[str] = "term"
    """Prefix of the term's metrics inside a ``CompositeLoss``."""
    requires: ClassVar[frozenset[str]] = frozenset()
    """Optional ``LossInputs`` fields the term reads (``entropy``, ``ref_logp``, ``values``, ...)."""

    @abstractmethod
    def __call__(self, inputs: LossInputs) -> tuple[Tensor, dict[str, float]]:
        """Returns the scalar loss to minimize and its metrics."""

    def reward_penalty(self, old_logp: Tensor, ref_logp: Tensor, mask: Tensor) -> Tensor | None:
        """A per-turn amount the trainer subtracts from each turn's reward before the estimator, or None.

        Args:
            old_logp: [B, L] log-probs recorded at rollout (the policy that acted).
            ref_logp: [B, L] log-probs of the reference policy.
            mask: [B, L] bool, True on the policy's completion tokens.

        Returns:
            None (the default: the term acts through the loss only) or a [B] tensor, one penalty per turn.
        """
        del old_logp, ref_logp, mask
        return None

    def on_iteration(self, progress: float) -> None:
        """Hook called once per training iteration; ``progress`` is the training progress in [0, 1]."""
        del progress  # stateless terms have no schedule

    def state_dict(self) -> dict[str, Any]:
        """The term's mutable state (empty for stateless terms)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what ``state_dict`` returned.

        Raises:
            ValueError: When a stateless term is given a non-empty state.
        """
        if state:
            raise ValueError(f"{type(self).__name__} has no state to load, got keys {sorted(state)}")


def trust_region_weight(log_ratio: Tensor, clip_low: float, clip_high: float) -> Tensor:
    """Clipping-triggered normalization weight of each sample (detached), in (0, 1].

    ``w = 1`` while the ratio ``r = exp(log_ratio)`` is inside the trust region ``[1 - clip_low,
    1 + clip_high]``; outside it ``w = |log b| / |log r|`` where ``b`` is the violated bound, so that
    ``w * |log r| = |log b|``: the sample's off-policy distance (in log-ratio space) is normalized back to
    the trust-region boundary. ``w`` is continuous at the boundary and decays like ``1 / |log r|``.

    This is the clipping-bias correction of ST-PPO (Li et al. 2025, arXiv:2511.20718, Eq. 8 ff.) in the
    documented form of this package (see ``TurnPPO``; the paper's exact closed form was not available).

    Args:
        log_ratio: Log importance ratios (any shape).
        clip_low: Lower clip range (``1 - clip_low`` is the lower bound; ``clip_low < 1``).
        clip_high: Upper clip range.
    """
    lr = log_ratio.detach()
    hi = math.log1p(clip_high)
    lo = -math.log1p(-clip_low)  # |log(1 - clip_low)|
    w_hi = hi / lr.clamp(min=hi)
    w_lo = lo / (-lr).clamp(min=lo)
    return torch.where(lr > 0, w_hi, w_lo)


class PolicyLoss(LossTerm):
    """Importance-weighted policy loss with one overridable hook, ``objective``.

    ``__call__`` computes the per-token log-ratios ``log r_t = logp_t - old_logp_t`` on valid tokens
    (level ``"token"``), or one ratio per turn (level ``"turn"``: ``log r = mean_t log r_t`` over the turn's
    valid tokens, broadcast back to its tokens so that the gradient reaches each of them through the mean),
    calls ``objective(ratio, advantages, mask)`` for the per-element surrogate (to MAXIMIZE), multiplies it
    by the detached clipping-bias correction weights (when enabled), and returns
    ``-aggregate(surrogate)``.

    Args:
        clip_low: Lower clip range epsilon_low (ratio floor ``1 - clip_low``).
        clip_high: Upper clip range epsilon_high (ratio ceiling ``1 + clip_high``); None: same as
            ``clip_low`` (DAPO's clip-higher sets it larger).
        dual_clip: Dual-clip constant c > 1 for negative advantages (Ye et al. 2020); None disables.
        agg: ``"token-mean"``, ``"turn-mean"`` (alias ``"seq-mean"``) or ``"seq-mean-token-sum"`` (see
            ``aggregate``).
        bias_correction: Multiply each sample's surrogate by ``trust_region_weight`` (ST-PPO's
            clipping-bias correction).

    Raises:
        ValueError: On out-of-range clip settings or an unknown ``agg``.
    """

    name: ClassVar[str] = "policy"
    level: ClassVar[Literal["token", "turn"]] = "token"

    def __init__(
        self,
        *,
        clip_low: float = 0.2,
        clip_high: float | None = None,
        dual_clip: float | None = 3.0,
        agg: Agg = "token-mean",
        bias_correction: bool = False,
    ) -> None:
        clip_high = clip_low if clip_high is None else clip_high
        if not 0.0 < clip_low < 1.0:
            raise ValueError(f"clip_low must be in (0, 1), got {clip_low}")
        if clip_high <= 0.0:
            raise ValueError(f"clip_high must be > 0, got {clip_high}")
        if dual_clip is not None and dual_clip <= 1.0:
            raise ValueError(f"dual_clip must be > 1 (Ye et al. 2020), got {dual_clip}")
        if agg not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation {agg!r}; expected one of {AGGREGATIONS}")
        self.clip_low = float(clip_low)
        self.clip_high = float(clip_high)
        self.dual_clip = None if dual_clip is None else float(dual_clip)
        self.agg: Agg = agg
        self.bias_correction = bool(bias_correction)

    @abstractmethod
    def objective(self, ratio: Tensor, advantages: Tensor, mask: Tensor) -> Tensor:
        """The per-element surrogate objective to MAXIMIZE.

        Args:
            ratio: [B, L] importance ratios (per token, or the turn ratio broadcast to its tokens).
            advantages: [B, L] the turn advantage broadcast to its tokens.
            mask: [B, L] bool loss mask (entries outside it are discarded by the caller).

        Returns:
            [B, L] surrogate values.
        """

    def __call__(self, inputs: LossInputs) -> tuple[Tensor, dict[str, float]]:
        """Returns ``-aggregate(weight * objective(ratio, A, mask))`` and the ratio/clipping metrics."""
        mask = inputs.valid
        token_lr = masked_fill_zero(as_float(inputs.logp) - as_float(inputs.old_logp), mask)
        if self.level == "turn":
            # ST-PPO (Li et al. 2025, arXiv:2511.20718) Eq. 4: turn ratio = exp(mean of token log-ratios),
            # the geometric mean of the token ratios of the turn.
            turn_lr = turn_mean(token_lr, mask)
            log_ratio = turn_lr[:, None].expand_as(token_lr)
        else:
            log_ratio = token_lr
        # Clamped so exp cannot overflow to inf (whose zero-gradient branches would then backprop NaN);
        # ratios beyond e^20 get no gradient, which clipping or dual clip would give them anyway.
        log_ratio = log_ratio.clamp(-_MAX_LOG_RATIO, _MAX_LOG_RATIO)
        ratio = torch.exp(log_ratio)
        adv = as_float(inputs.advantages).to(ratio.dtype)[:, None].expand_as(ratio)
        surrogate = self.objective(ratio, adv, mask)
        weight = None
        if self.bias_correction:
            weight = trust_region_weight(log_ratio, self.clip_low, self.clip_high)
            surrogate = surrogate * weight
        loss = -aggregate(surrogate, mask, self.agg)
        return loss, self.metrics(ratio, token_lr, adv, mask, weight)

    def metrics(
        self, ratio: Tensor, token_log_ratio: Tensor, adv: Tensor, mask: Tensor, weight: Tensor | None
    ) -> dict[str, float]:
        """Detached diagnostics: ratios, approximate KL(old || new), clipping and dual-clipping fractions."""
        with torch.no_grad():
            r_tok = torch.exp(token_log_ratio)
            # k3 estimator of KL(old || new) (Schulman 2020, "Approximating KL divergence"):
            # E_old[(r - 1) - log r] with r = pi_new / pi_old.
            approx_kl = masked_mean((r_tok - 1.0) - token_log_ratio, mask)
            clipped = self.clip_active(ratio, adv) & mask
            dual = self.dual_clip_active(ratio, adv) & mask
            r_valid = ratio[mask]
            out = {
                "clip_frac": scalar(masked_mean(clipped.float(), mask)),
                "dual_clip_frac": scalar(masked_mean(dual.float(), mask)),
                "approx_kl": scalar(approx_kl),
                "ratio_mean": scalar(r_valid.mean()) if r_valid.numel() else 1.0,
                "ratio_max": scalar(r_valid.max()) if r_valid.numel() else 1.0,
                "ratio_min": scalar(r_valid.min()) if r_valid.numel() else 1.0,
            }
            if weight is not None:
                out["bias_weight_mean"] = scalar(masked_mean(weight, mask))
        return out

    def clip_active(self, ratio: Tensor, adv: Tensor) -> Tensor:
        """[B, L] bool: the clipped term is the one selected (the sample gets no gradient)."""
        clipped = torch.clamp(ratio, 1.0 - self.clip_low, 1.0 + self.clip_high) * adv
        return clipped < ratio * adv

    def dual_clip_active(self, ratio: Tensor, adv: Tensor) -> Tensor:
        """[B, L] bool: the dual-clip bound ``c * A`` is the one selected (A < 0 and ratio > c)."""
        if self.dual_clip is None:
            return torch.zeros_like(ratio, dtype=torch.bool)
        return (adv < 0) & (ratio > self.dual_clip)


class CompositeLoss(LossTerm):
    """The policy loss plus extra terms (entropy control, KL, value), summed.

    Metrics are merged with each term's name as prefix (``"policy/clip_frac"``, ``"kl/kl"``,
    ``"epo/entropy"``, ``"value/explained_variance"``), plus ``"<name>/loss"`` per term and the total
    ``"loss"``. ``on_iteration``, ``state_dict`` and ``load_state_dict`` are forwarded to every term.

    Args:
        policy_loss: The policy term (its ``name``, normally ``"policy"``, prefixes its metrics).
        terms: Extra terms, as a sequence (each named by its class ``name``) or a mapping name -> term.

    Raises:
        ValueError: When two terms share a name.

    Example:
        >>> from turngym.agents.llm.losses import CompositeLoss, KLPenalty, PPOClip
        >>> loss_fn = CompositeLoss(PPOClip(), [KLPenalty(coef=0.05)])
        >>> list(loss_fn.terms)
        ['policy', 'kl']
    """

    name: ClassVar[str] = "loss"

    def __init__(
        self, policy_loss: LossTerm, terms: Sequence[LossTerm] | Mapping[str, LossTerm] = ()
    ) -> None:
        named = list(terms.items()) if isinstance(terms, Mapping) else [(t.name, t) for t in terms]
        self.policy_loss = policy_loss
        self.terms: dict[str, LossTerm] = {}
        for term_name, term in [(policy_loss.name, policy_loss), *named]:
            if term_name in self.terms:
                raise ValueError(f"CompositeLoss: two terms named {term_name!r}; pass a mapping to rename")
            self.terms[term_name] = term

    def __call__(self, inputs: LossInputs) -> tuple[Tensor, dict[str, float]]:
        """Returns the sum of the terms' losses and the prefixed, merged metrics."""
        total: Tensor | None = None
        metrics: dict[str, float] = {}
        for term_name, term in self.terms.items():
            loss, term_metrics = term(inputs)
            total = loss if total is None else total + loss
            metrics[f"{term_name}/loss"] = scalar(loss)
            metrics.update({f"{term_name}/{k}": v for k, v in term_metrics.items()})
        assert total is not None  # the policy term is always there
        metrics["loss"] = scalar(total)
        return total, metrics

    @property
    def requires(self) -> frozenset[str]:  # type: ignore[override]
        """The union of the terms' ``requires``."""
        return frozenset().union(*(t.requires for t in self.terms.values()))

    def reward_penalty(self, old_logp: Tensor, ref_logp: Tensor | None, mask: Tensor) -> Tensor | None:
        """The sum of the terms' non-None ``reward_penalty`` results ([B]), or None when every term gives None.

        The trainer subtracts it from each turn's reward before the estimator runs.

        Raises:
            ValueError: When a term needs ``ref_logp`` and it is None.
        """
        total: Tensor | None = None
        for term in self.terms.values():
            if ref_logp is None:
                if "ref_logp" in term.requires:
                    raise ValueError(f"CompositeLoss.reward_penalty: term {term.name!r} needs ref_logp")
                continue
            pen = term.reward_penalty(old_logp, ref_logp, mask)
            if pen is not None:
                total = pen if total is None else total + pen
        return total

    def on_iteration(self, progress: float) -> None:
        """Forwards to every term."""
        for term in self.terms.values():
            term.on_iteration(progress)

    def state_dict(self) -> dict[str, Any]:
        """``{term name: term state}`` for the terms that have state."""
        return {n: s for n, t in self.terms.items() if (s := t.state_dict())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what ``state_dict`` returned.

        Raises:
            ValueError: When the state names a term this loss does not have.
        """
        unknown = set(state) - set(self.terms)
        if unknown:
            raise ValueError(f"CompositeLoss: state for unknown terms {sorted(unknown)}")
        for term_name, term_state in state.items():
            self.terms[term_name].load_state_dict(term_state)
