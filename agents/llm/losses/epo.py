"""EPO entropy control for multi-turn agents: trajectory entropy bonus, entropy smoothing, phase weights.

Xu et al. (2025), "EPO: Entropy-regularized Policy Optimization for LLM Agents Reinforcement Learning",
arXiv:2509.22576 (code: github.com/WujiangXu/EPO). Three mechanisms, all in ``EntropyControl``:

1. Trajectory-level entropy regularization (the paper's ``L^H`` term): the entropy is averaged over
   all turns of a trajectory, and the bonus ``-beta * mean_traj H_traj`` is added to the loss. The paper's
   runs use ``beta = 0.001`` (our default). The average over a trajectory is token-weighted by default
   (every completion token counts once) or turn-weighted (``traj_weighting="turn"``: each turn's mean token
   entropy, averaged over the turns, so a long turn does not outweigh a short one).
2. Entropy smoothing regularizer (paper Eq. 8 / Alg. 1, ``L^smooth``; v1 numbering, per the authors'
   rebuttal notes): keeps each turn's entropy inside the band ``[kappa_low * H_hist, kappa_high * H_hist]``
   around its historical average; the paper's runs use ``kappa = (0, 2.0)`` (our default). See
   ``band_penalty`` for the three forms offered (hinge, squared hinge, the paper's indicator).
3. Phase-based weighting (the paper's "adaptive phase-based weighting", a fixed schedule over training
   progress): ``PhaseSchedule`` multiplies the smoothing penalty's weight, as in the paper (the bonus weight
   is constant unless a ``bonus_schedule`` is given).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

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
    turn_mean,
)

Interpolation = Literal["linear", "step"]
Band = Literal["hinge", "squared", "indicator"]
BANDS: tuple[str, ...] = ("hinge", "squared", "indicator")
TrajWeighting = Literal["token", "turn"]


def phase_weight(
    phases: Sequence[tuple[float, float]], progress: float, interpolation: Interpolation = "linear"
) -> float:
    """Weight of a piecewise schedule at ``progress`` (clamped to [0, 1]).

    Args:
        phases: ``(boundary, weight)`` knots with strictly increasing boundaries in [0, 1].
        progress: Training progress.
        interpolation: ``"step"``: the weight of the last knot whose boundary is <= progress (phase i holds
            from its boundary until the next one; before the first boundary, the first weight);
            ``"linear"``: linear interpolation between consecutive knots, constant before the first and
            after the last.
    """
    p = min(max(float(progress), 0.0), 1.0)
    bounds = [b for b, _ in phases]
    weights = [w for _, w in phases]
    if p <= bounds[0]:
        return float(weights[0])
    if p >= bounds[-1]:
        return float(weights[-1])
    i = max(k for k, b in enumerate(bounds) if b <= p)
    if interpolation == "step":
        return float(weights[i])
    frac = (p - bounds[i]) / (bounds[i + 1] - bounds[i])
    return float(weights[i] + frac * (weights[i + 1] - weights[i]))


@dataclass(frozen=True)
class PhaseSchedule:
    """A weight that follows training progress through phases (EPO's phase-based weighting).

    Attributes:
        phases: ``(progress_boundary, weight)`` knots, boundaries strictly increasing in [0, 1].
        interpolation: ``"linear"`` or ``"step"`` (see ``phase_weight``).

    Raises:
        ValueError: On an empty list, unsorted or out-of-range boundaries, or an unknown interpolation.
    """

    phases: tuple[tuple[float, float], ...] = ((0.0, 1.0),)
    interpolation: Interpolation = "linear"

    def __post_init__(self) -> None:
        phases = tuple((float(b), float(w)) for b, w in self.phases)
        object.__setattr__(self, "phases", phases)
        if not phases:
            raise ValueError("PhaseSchedule: at least one phase is required")
        bounds = [b for b, _ in phases]
        increasing = all(a < b for a, b in zip(bounds, bounds[1:], strict=False))
        if any(not 0.0 <= b <= 1.0 for b in bounds) or not increasing:
            raise ValueError(f"PhaseSchedule: boundaries must increase strictly within [0, 1], got {bounds}")
        if self.interpolation not in ("linear", "step"):
            raise ValueError(f"PhaseSchedule: unknown interpolation {self.interpolation!r}")

    def __call__(self, progress: float) -> float:
        """The weight at ``progress``."""
        return phase_weight(self.phases, progress, self.interpolation)

    @classmethod
    def constant(cls, weight: float = 1.0) -> PhaseSchedule:
        """A schedule that is ``weight`` throughout."""
        return cls(((0.0, weight),), "step")

    @classmethod
    def epo_default(cls) -> PhaseSchedule:
        """Piecewise-linear form of the EPO reference code's two-phase decay.

        The authors' code decays the weight slowly from 1.0 to 0.8 over the first half of training and then
        fast, ``0.8 exp(-3 x)`` over the second half (x the progress within that half). The knots
        (0, 1.0), (0.5, 0.8), (0.75, 0.8 e^-1.5 = 0.1785), (1, 0.8 e^-3 = 0.0398) follow it linearly.
        """
        return cls(((0.0, 1.0), (0.5, 0.8), (0.75, 0.8 * math.exp(-1.5)), (1.0, 0.8 * math.exp(-3.0))))


def trajectory_entropy(entropy: Tensor, mask: Tensor, episode_index: Tensor | None,
                       weighting: TrajWeighting = "token") -> tuple[Tensor, Tensor]:
    """Mean entropy of each trajectory over all its turns' completion tokens.

    Args:
        entropy: [B, L] per-token entropies.
        mask: [B, L] bool loss mask.
        episode_index: [B] trajectory of each row; None treats each row as its own trajectory.
        weighting: ``"token"``: the mean over every completion token of the trajectory (a turn weighs by
            its token count); ``"turn"``: each turn's mean token entropy, averaged over the trajectory's
            turns that have tokens (every turn weighs the same).

    Returns:
        ``(h_traj, has_tokens)``: [T] entropies of the T distinct trajectories (sorted by index) and
        [T] bool, True for trajectories with at least one valid token.

    Raises:
        ValueError: On an unknown ``weighting``.
    """
    if weighting not in ("token", "turn"):
        raise ValueError(f"trajectory_entropy: weighting must be 'token' or 'turn', got {weighting!r}")
    per_row_cnt = mask.to(entropy.dtype).sum(dim=1)
    if weighting == "token":
        per_row_sum = masked_fill_zero(entropy, mask).sum(dim=1)
    else:  # one unit of weight per turn with tokens, carrying the turn's mean entropy
        per_row_sum = turn_mean(entropy, mask)
        per_row_cnt = (per_row_cnt > 0).to(entropy.dtype)
    if episode_index is None:
        return per_row_sum / per_row_cnt.clamp(min=1.0), per_row_cnt > 0
    _, inv = torch.unique(episode_index, return_inverse=True)
    n = int(inv.max().item()) + 1 if inv.numel() else 0
    sums = torch.zeros(n, dtype=entropy.dtype, device=entropy.device).index_add(0, inv, per_row_sum)
    cnts = torch.zeros(n, dtype=entropy.dtype, device=entropy.device).index_add(0, inv, per_row_cnt)
    return sums / cnts.clamp(min=1.0), cnts > 0


def band_penalty(h: Tensor, reference: Tensor, kappa_low: float, kappa_high: float,
                 band: Band = "hinge") -> Tensor:
    """Penalty of ``h`` outside ``[kappa_low * reference, kappa_high * reference]`` (elementwise).

    EPO (Xu et al. 2025) Eq. 8 penalizes a turn whose entropy leaves the band around its history. Forms:

    * ``"hinge"`` (default): ``relu(kappa_low H_hist - h) + relu(h - kappa_high H_hist)``. Zero with zero
      gradient inside the band; outside, a unit-slope gradient that pushes the entropy back toward the band.
      DESIGN section 4 asks for this form: a penalty is only useful to gradient descent if it has a gradient.
    * ``"squared"``: the hinge squared (gradient proportional to the distance from the band).
    * ``"indicator"``: the paper's form, ``1[h outside the band]``. As a function of the parameters it is
      piecewise constant, so its gradient is zero almost everywhere: it raises the reported loss on
      out-of-band turns but does not change the update. Offered to reproduce the paper's objective
      exactly, not as a working regularizer (which is why the hinge is the default).

    Raises:
        ValueError: On an unknown ``band``.
    """
    below = torch.relu(kappa_low * reference - h)
    above = torch.relu(h - kappa_high * reference)
    dist = below + above
    if band == "hinge":
        return dist
    if band == "squared":
        return dist * dist
    if band == "indicator":
        return (dist > 0).to(h.dtype).detach()
    raise ValueError(f"band_penalty: band must be one of {list(BANDS)}, got {band!r}")


class EntropyControl(LossTerm):
    """EPO entropy control: ``-w_b beta H_traj + w_s smooth_coef P_smooth``.

    * Trajectory bonus ``H_traj``: the mean, over the trajectories in the batch (``episode_index``), of each
      trajectory's entropy (``trajectory_entropy`` with ``traj_weighting``; EPO ``L^H``). Without
      ``episode_index`` each row counts as a trajectory.
    * Smoothing penalty ``P_smooth``: the mean over the batch's turns of ``band_penalty(H_turn, H_hist)``,
      ``H_turn`` the turn's mean token entropy (with gradient) and ``H_hist`` the historical average entropy
      of turns at the same turn position (``turn_index``; one shared reference when ``by_turn`` is False or
      ``turn_index`` is None). A per-position reference follows the authors' implementation, which anchors
      each turn to the history of its own turn index.
    * History: every call adds the batch's detached per-turn entropies to a pending per-position sum;
      ``on_iteration`` (called once per training iteration) commits the pending mean of each position into
      ``H_hist``: a cumulative mean over the iterations seen so far (``history_decay=None``, as in the
      authors' code), or an exponential moving average ``H <- d H + (1 - d) x`` (``history_decay=d``).
      So the band is fixed within an iteration. A turn position without any committed history contributes
      exactly 0 penalty (its reference is reported as the current batch's mean, i.e. the history is seeded
      from the current batch and the penalty is 0 on the first step).
    * Weights: ``w_s = smooth_schedule(progress)`` multiplies the smoothing penalty (EPO's phase-based
      weighting acts on the smoothing regularizer; default ``PhaseSchedule.epo_default()``), and
      ``w_b = bonus_schedule(progress)`` the bonus (default constant 1); ``progress`` is the value last
      given to ``on_iteration`` (0 before).

    Metrics: ``entropy`` (token-mean), ``turn_entropy`` (mean per-turn entropy), ``traj_entropy``,
    ``hist_entropy`` (mean reference of the batch's turns), ``band_violation_frac`` (turns outside their
    band), ``smooth_penalty`` (unweighted), ``weight`` (bonus weight ``w_b``), ``smooth_weight`` (``w_s``).

    Args:
        beta: Coefficient of the trajectory entropy bonus (the paper's runs: 0.001).
        smooth_coef: Coefficient of the smoothing penalty.
        kappa_low: Lower band factor (0 disables the lower side; the paper's runs used 0).
        kappa_high: Upper band factor (the paper's runs used 2.0).
        band: ``"hinge"`` (default), ``"squared"`` or ``"indicator"`` (the paper's; no gradient), see
            ``band_penalty``.
        traj_weighting: ``"token"`` (default) or ``"turn"``, see ``trajectory_entropy``.
        history_decay: None for a cumulative mean over iterations; d in [0, 1) for an EMA.
        by_turn: Keep one reference per turn position (needs ``turn_index``).
        bonus_schedule: Phase schedule of the bonus weight (default: constant 1).
        smooth_schedule: Phase schedule of the penalty weight (default: ``PhaseSchedule.epo_default()``).

    Raises:
        ValueError: On a negative or inverted band, an unknown band form or weighting, or a decay outside
            [0, 1).
    """

    name: ClassVar[str] = "epo"
    requires: ClassVar[frozenset[str]] = frozenset({"entropy"})

    def __init__(
        self,
        beta: float = 0.001,
        smooth_coef: float = 0.1,
        kappa_low: float = 0.0,
        kappa_high: float = 2.0,
        *,
        band: Band = "hinge",
        traj_weighting: TrajWeighting = "token",
        history_decay: float | None = None,
        by_turn: bool = True,
        bonus_schedule: PhaseSchedule | None = None,
        smooth_schedule: PhaseSchedule | None = None,
    ) -> None:
        if not 0.0 <= kappa_low < kappa_high:
            raise ValueError(
                f"EntropyControl: need 0 <= kappa_low < kappa_high, got {kappa_low}, {kappa_high}"
            )
        if band not in BANDS:
            raise ValueError(f"EntropyControl: band must be one of {list(BANDS)}, got {band!r}")
        if traj_weighting not in ("token", "turn"):
            raise ValueError(f"EntropyControl: traj_weighting must be 'token' or 'turn', got {traj_weighting!r}")
        if history_decay is not None and not 0.0 <= history_decay < 1.0:
            raise ValueError(f"EntropyControl: history_decay must be in [0, 1) or None, got {history_decay}")
        self.beta = float(beta)
        self.smooth_coef = float(smooth_coef)
        self.kappa_low = float(kappa_low)
        self.kappa_high = float(kappa_high)
        self.band: Band = band
        self.traj_weighting: TrajWeighting = traj_weighting
        self.history_decay = None if history_decay is None else float(history_decay)
        self.by_turn = bool(by_turn)
        self.bonus_schedule = bonus_schedule if bonus_schedule is not None else PhaseSchedule.constant(1.0)
        self.smooth_schedule = smooth_schedule if smooth_schedule is not None else PhaseSchedule.epo_default()
        self.progress = 0.0
        self._hist: list[float] = []
        self._hist_count: list[int] = []
        self._pending_sum: list[float] = []
        self._pending_count: list[int] = []

    # ----------------------------------------------------------------------------------------- history
    def reference(self, turn: int = 0) -> float | None:
        """The committed historical entropy of turn position ``turn`` (None before any history)."""
        if turn < len(self._hist) and self._hist_count[turn] > 0:
            return self._hist[turn]
        return None

    def _grow(self, n: int) -> None:
        extra = n - len(self._hist)
        if extra > 0:
            self._hist += [0.0] * extra
            self._hist_count += [0] * extra
            self._pending_sum += [0.0] * extra
            self._pending_count += [0] * extra

    def on_iteration(self, progress: float) -> None:
        """Commits the entropy seen since the last call into the history and sets the schedule progress."""
        for p, cnt in enumerate(self._pending_count):
            if cnt == 0:
                continue
            x = self._pending_sum[p] / cnt
            k = self._hist_count[p]
            if k == 0:
                self._hist[p] = x
            elif self.history_decay is None:
                self._hist[p] += (x - self._hist[p]) / (k + 1)  # running mean over iterations
            else:
                self._hist[p] = self.history_decay * self._hist[p] + (1.0 - self.history_decay) * x
            self._hist_count[p] = k + 1
            self._pending_sum[p] = 0.0
            self._pending_count[p] = 0
        self.progress = min(max(float(progress), 0.0), 1.0)

    def state_dict(self) -> dict[str, Any]:
        """History, pending statistics and progress (plain Python lists and floats)."""
        return {
            "progress": self.progress,
            "hist": list(self._hist),
            "hist_count": list(self._hist_count),
            "pending_sum": list(self._pending_sum),
            "pending_count": list(self._pending_count),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what ``state_dict`` returned."""
        self.progress = float(state["progress"])
        self._hist = [float(x) for x in state["hist"]]
        self._hist_count = [int(x) for x in state["hist_count"]]
        self._pending_sum = [float(x) for x in state["pending_sum"]]
        self._pending_count = [int(x) for x in state["pending_count"]]

    # -------------------------------------------------------------------------------------------- loss
    def __call__(self, inputs: LossInputs) -> tuple[Tensor, dict[str, float]]:
        """Returns the EPO loss term and its metrics, and records the batch entropy as pending history."""
        ent = as_float(require(inputs, "entropy", "EntropyControl"))
        mask, rows = inputs.valid, inputs.valid_rows
        h_turn = turn_mean(ent, mask)

        # EPO L^H (Xu et al. 2025, trajectory-level term): mean over trajectories of each one's entropy over
        # all its turns (token- or turn-weighted).
        h_traj, has = trajectory_entropy(ent, mask, inputs.episode_index, self.traj_weighting)
        bonus = masked_mean(h_traj, has)

        # EPO Eq. 8: penalty for per-turn entropy outside [kappa_low H_hist, kappa_high H_hist] (see band_penalty).
        if self.by_turn and inputs.turn_index is not None:
            pos = inputs.turn_index.long().to(ent.device)
            if pos.numel() and int(pos.min()) < 0:
                raise ValueError("EntropyControl: turn_index must be >= 0")
        else:
            pos = torch.zeros(ent.shape[0], dtype=torch.long, device=ent.device)
        n_pos = max(int(pos.max()) + 1 if pos.numel() else 1, len(self._hist))
        self._grow(n_pos)
        h_det = h_turn.detach().double()
        rows_d = rows.double()
        zeros = torch.zeros(n_pos, dtype=torch.float64, device=ent.device)
        batch_sum = zeros.index_add(0, pos, h_det * rows_d)
        batch_cnt = zeros.index_add(0, pos, rows_d)
        known_pos = torch.tensor([c > 0 for c in self._hist_count], dtype=torch.bool, device=ent.device)
        hist_pos = torch.tensor(self._hist, dtype=torch.float64, device=ent.device)
        ref_pos = torch.where(known_pos, hist_pos, batch_sum / batch_cnt.clamp(min=1.0))
        reference = ref_pos[pos].to(ent.dtype)
        active = rows & known_pos[pos]
        per_turn = band_penalty(h_turn, reference, self.kappa_low, self.kappa_high, self.band)
        penalty = masked_mean(masked_fill_zero(per_turn, active), rows)  # positions without history: 0

        w_b = self.bonus_schedule(self.progress)
        w_s = self.smooth_schedule(self.progress)
        # EPO: the phase-based weight w_s scales the smoothing regularizer; the bonus has its own weight.
        loss = -(w_b * self.beta) * bonus + (w_s * self.smooth_coef) * penalty

        # Pending history: detached per-position sums of per-turn entropies, committed by on_iteration.
        for p, (s, c) in enumerate(zip(batch_sum.tolist(), batch_cnt.tolist(), strict=True)):
            # A non-finite entropy (a NaN model; the update skips that step) must not enter the history,
            # which would otherwise stay NaN for the rest of the run.
            if c > 0 and math.isfinite(s):
                self._pending_sum[p] += s
                self._pending_count[p] += int(c)

        with torch.no_grad():
            lo, hi = self.kappa_low * reference, self.kappa_high * reference
            outside = active & ((h_turn < lo) | (h_turn > hi))
            metrics = {
                "entropy": scalar(masked_mean(ent, mask)),
                "turn_entropy": scalar(masked_mean(h_turn, rows)),
                "traj_entropy": scalar(bonus),
                "hist_entropy": scalar(masked_mean(reference, rows)),
                "band_violation_frac": scalar(masked_mean(outside.float(), rows)),
                "smooth_penalty": scalar(penalty),
                "weight": w_b,
                "smooth_weight": w_s,
            }
        return loss, metrics
