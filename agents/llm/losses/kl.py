"""KL regularization to a frozen reference policy: k1 in the reward, k2 or k3 as a loss.

Notation: ``pi`` the policy being trained, ``ref`` the reference, tokens ``x ~ pi`` (on-policy), per-token
log-ratio ``l(x) = log pi(x) - log ref(x)``. The quantity to regularize is ``KL(pi || ref) = E_pi[l]``,
whose gradient is ``E_pi[l * grad log pi]`` (the ``E_pi[grad log pi] = 0`` term drops). What each estimator
of Schulman (2020), "Approximating KL Divergence" (joschu.net/blog/kl-approx.html) gives when its value is
MINIMIZED as a loss by autograd (samples held fixed, as in a PPO step):

* k1 = ``l``: ``grad k1 = grad log pi``; ``E_pi[grad log pi] = 0``. **Zero expected gradient**: as a loss it
  regularizes nothing (its value is an unbiased KL estimate, its gradient is noise). Used correctly, k1 is
  put **in the reward** (Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences", eq. 2;
  Ouyang et al. 2022, InstructGPT, eq. 2): ``r_t <- r_t - coef * sum_tokens (log pi_old - log ref)``; the
  policy gradient of that reward is ``-coef * E[l grad log pi] = -coef * grad KL(pi || ref)``.
* k2 = ``l^2 / 2``: ``grad k2 = l * grad log pi``, so ``E_pi[grad k2] = grad KL(pi || ref)`` exactly (on
  policy). The loss whose gradient is the reverse-KL gradient.
* k3 = ``(rho - 1) - log rho`` with ``rho = ref / pi``: ``grad k3 = (1 - rho) grad log pi``, so
  ``E_pi[grad k3] = -sum_x ref(x) grad log pi(x) = grad KL(ref || pi)``: the gradient of the FORWARD
  (mass-covering) KL, not of KL(pi || ref), although the value of k3 is an unbiased estimate of KL(pi || ref).
  GRPO (Shao et al. 2024, eq. 4) uses it as a loss.

``tests/agents/test_losses.py`` checks each statement by autograd on a small categorical distribution.
"""

from __future__ import annotations

import warnings
from typing import ClassVar, Literal

import torch
from torch import Tensor

from turngym.agents.llm.losses.base import (
    LossInputs,
    LossTerm,
    as_float,
    masked_fill_zero,
    masked_mean,
    require,
    scalar,
)

KLKind = Literal["k1-reward", "k2", "k3", "k1"]
#: Kinds a config may name. ``"k1"`` (k1 as a loss) is still accepted, with a warning, for old configs.
KL_KINDS: tuple[str, ...] = ("k1-reward", "k2", "k3")

_MAX_LOG_RATIO = 20.0


def kl_k1(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """Per-token k1 ``log pi(x) - log ref(x)``: unbiased estimate of KL(pi || ref), zero expected gradient."""
    return logp - ref_logp


def kl_k2(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """Per-token k2 ``(log pi(x) - log ref(x))^2 / 2``; its expected gradient is ``grad KL(pi || ref)``.

    Schulman (2020), estimator k2: biased as a value (low variance), but as a loss on on-policy samples
    its gradient ``l grad log pi`` has expectation exactly the gradient of the reverse KL. The log-ratio is
    clamped to [-20, 20] (beyond that the square is not a useful penalty, and it keeps float32 finite).
    """
    log_ratio = torch.clamp(logp - ref_logp, -_MAX_LOG_RATIO, _MAX_LOG_RATIO)
    return 0.5 * log_ratio * log_ratio


def kl_k3(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """Per-token k3 ``(rho - 1) - log rho``, ``rho = ref / pi``: value KL(pi || ref), gradient of KL(ref || pi).

    Schulman (2020), estimator k3: its value is unbiased for KL(pi || ref) (``E_pi[rho] = 1``), >= 0, and 0
    iff ``logp == ref_logp``. Its gradient is ``(1 - rho) grad log pi``, whose expectation under pi is
    ``grad KL(ref || pi)`` (the forward KL), not ``grad KL(pi || ref)`` (see the module docstring).
    ``log rho`` is clamped to [-20, 20] so ``exp`` cannot overflow.
    """
    log_rho = torch.clamp(ref_logp - logp, -_MAX_LOG_RATIO, _MAX_LOG_RATIO)
    return torch.exp(log_rho) - log_rho - 1.0


_LOSS_ESTIMATORS = {"k1": kl_k1, "k2": kl_k2, "k3": kl_k3}


class KLPenalty(LossTerm):
    """KL regularization to the frozen reference policy, in the reward or as a loss.

    Kinds:

    * ``"k1-reward"``: PPO-RLHF's KL in the reward. The term adds no loss; ``reward_penalty`` returns
      ``coef * sum over the turn's completion tokens of (old_logp - ref_logp)`` per turn, which the trainer
      subtracts from the turn's reward before the advantage estimator (so the penalty flows through the
      estimator's credit assignment like any reward).
    * ``"k2"``: loss ``coef * token-mean k2``; expected gradient ``coef * grad KL(pi || ref)``.
    * ``"k3"``: loss ``coef * token-mean k3`` (GRPO's choice); expected gradient ``coef * grad KL(ref || pi)``.
    * ``"k1"``: k1 as a loss, kept only so old configs load: it warns, because its expected gradient is 0.

    Every kind reports ``kl``: the token-mean k1 estimate of KL(pi || ref) under the current policy (unbiased
    on the first minibatch of an iteration, where pi = pi_old), and ``kl_k3`` (the non-negative estimate).

    Args:
        coef: Weight (``coef > 0`` is what makes the trainer build a reference model).
        kind: See above.

    Raises:
        ValueError: On an unknown ``kind`` or a negative ``coef``.
    """

    name: ClassVar[str] = "kl"
    requires: ClassVar[frozenset[str]] = frozenset({"ref_logp"})

    def __init__(self, coef: float = 0.01, kind: KLKind = "k2") -> None:
        if kind not in (*KL_KINDS, "k1"):
            raise ValueError(f"KLPenalty: kind must be one of {list(KL_KINDS)}, got {kind!r}")
        if coef < 0:
            raise ValueError(f"KLPenalty: coef must be >= 0, got {coef}")
        if kind == "k1":
            warnings.warn("KLPenalty(kind='k1'): k1 as a loss has zero expected gradient, so it regularizes "
                          "nothing; use 'k1-reward' (KL in the reward), 'k2' or 'k3'", UserWarning, stacklevel=2)
        self.coef = float(coef)
        self.kind: KLKind = kind

    def __call__(self, inputs: LossInputs) -> tuple[Tensor, dict[str, float]]:
        """Returns ``coef * kl`` (0 for ``k1-reward``) and the KL metrics."""
        ref = as_float(require(inputs, "ref_logp", "KLPenalty")).detach()
        mask = inputs.valid
        # Masked positions are zeroed before the estimator so pad garbage (e.g. -inf) never reaches exp.
        logp = masked_fill_zero(as_float(inputs.logp), mask)
        ref = masked_fill_zero(ref.to(logp.dtype), mask)
        with torch.no_grad():
            metrics = {"kl": scalar(masked_mean(kl_k1(logp, ref), mask)),
                       "kl_k3": scalar(masked_mean(kl_k3(logp, ref), mask))}
        if self.kind == "k1-reward":
            return logp.new_zeros(()), metrics
        kl = masked_mean(_LOSS_ESTIMATORS[self.kind](logp, ref), mask)
        metrics["kl_loss_estimate"] = scalar(kl)
        return self.coef * kl, metrics

    def reward_penalty(self, old_logp: Tensor, ref_logp: Tensor, mask: Tensor) -> Tensor | None:
        """``coef * sum_tokens (old_logp - ref_logp)`` per turn for ``k1-reward``; None for the loss kinds.

        Ziegler et al. (2019), eq. 2: the reward of a sampled completion is ``r - beta log(pi(y|x)/ref(y|x))``;
        the log-ratio of a turn is the sum of its tokens' log-ratios, measured with the policy that acted
        (``old_logp``), so it is a fixed number during the update.
        """
        if self.kind != "k1-reward":
            return None
        valid = mask.bool()
        diff = masked_fill_zero(as_float(old_logp).detach() - as_float(ref_logp).detach(), valid)
        return self.coef * diff.sum(dim=1)
