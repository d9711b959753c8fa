"""Per-turn generalized advantage estimation over the turn sequence of each episode."""

from __future__ import annotations

import numpy as np

from turngym.agents.llm.batch import TurnBatch
from turngym.agents.llm.estimators._segments import episode_scan, layout
from turngym.agents.llm.estimators.registry import register, register_value_targets


def _require_value(batch: TurnBatch) -> np.ndarray:
    if batch.value is None:
        raise ValueError("gae: the batch has no `value` column (per-turn critic values are required)")
    return batch.value


@register("gae", requires=("value",))
def gae(batch: TurnBatch, *, gamma: float = 1.0, lam: float = 0.95) -> np.ndarray:
    """GAE(gamma, lambda) with one step per turn.

    Schulman et al. (2016), "High-Dimensional Continuous Control Using Generalized Advantage Estimation"
    (arXiv:1506.02438), eqs. 11-16: ``delta_t = r_t + gamma V_{t+1} - V_t``,
    ``A_t = delta_t + gamma lambda A_{t+1}``.

    Bootstrap at an episode's last turn: ``V_{T+1} = 0`` when it is ``terminated``; otherwise (``truncated``,
    or the episode still running when the batch was cut) the successor state has no value in the batch,
    so its value is approximated by the last turn's own value, ``V_{T+1} = V_T``.

    Args:
        batch: The turns; needs the ``value`` column.
        gamma: Discount per turn.
        lam: GAE lambda.
    """
    value = _require_value(batch)
    lay = layout(batch)
    nxt = np.empty_like(value)
    nxt[:-1] = value[1:]
    if value.size:
        nxt[-1] = 0.0
    nxt = np.where(lay.is_last, np.where(batch.terminated, 0.0, value), nxt)
    delta = batch.reward + gamma * nxt - value
    return episode_scan(batch, lay, delta, gamma * lam)


@register_value_targets("gae")
def gae_returns(batch: TurnBatch, *, gamma: float = 1.0, lam: float = 0.95) -> np.ndarray:
    """Returns the value targets ``A_t + V_t`` (the lambda-returns) of ``gae`` with the same options.

    Schulman et al. (2016), eq. 18 ff.: the TD(lambda) return ``V_t + A_t^{GAE(gamma, lambda)}``. It takes
    exactly ``gae``'s options (an unknown one is a ``TypeError`` here and a ``ConfigError`` through
    ``value_targets``), so targets built with a run's estimator options equal ``A + V`` of that run.
    """
    return gae(batch, gamma=gamma, lam=lam) + _require_value(batch)
