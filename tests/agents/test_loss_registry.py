"""The loss registry and ``build_loss`` (issue 13: bug 4 and item 12): every config field reaches its term."""

from __future__ import annotations

import dataclasses

import pytest

from turngym.agents.llm.losses import (
    EntropyControl,
    KLPenalty,
    PhaseSchedule,
    PPOClip,
    TurnPPO,
    ValueLoss,
)
from turngym.agents.llm.losses.registry import (
    LOSSES,
    build_loss,
    get_loss,
    loss_requirements,
    phase_schedule,
    register_loss,
)
from turngym.agents.llm.train.config import AlgoConfig
from turngym.envs.core.errors import ConfigError


def test_registry_names_requirements_and_errors() -> None:
    assert {"ppo", "turn-ppo"} <= set(LOSSES)
    assert loss_requirements("turn-ppo") == {"value"} and loss_requirements("ppo") == frozenset()
    with pytest.raises(ConfigError, match="Did you mean 'turn-ppo'"):
        loss_requirements("turn_ppo")
    with pytest.raises(ConfigError, match="Did you mean 'ppo'"):
        build_loss(AlgoConfig(loss="ppp"), with_value=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="already registered"):
        register_loss("ppo")(get_loss("ppo"))


@pytest.mark.parametrize("loss, cls", [("ppo", PPOClip), ("turn-ppo", TurnPPO)])
@pytest.mark.parametrize("agg", ["token-mean", "turn-mean", "seq-mean-token-sum"])
def test_agg_reaches_both_policy_losses(loss, cls, agg) -> None:
    # Bug 4: --algo.agg was ignored for turn-ppo (TurnPPO was always built with its own default).
    policy = build_loss(AlgoConfig(loss=loss, agg=agg, clip=0.1, clip_high=0.3, dual_clip=None),
                        with_value=False).policy_loss
    assert type(policy) is cls
    assert (policy.agg, policy.clip_low, policy.clip_high, policy.dual_clip) == (agg, 0.1, 0.3, None)


def test_default_aggregation_is_turn_mean() -> None:
    assert AlgoConfig().agg == "turn-mean"
    assert build_loss(AlgoConfig(loss="turn-ppo"), with_value=True).policy_loss.agg == "turn-mean"


def test_epo_fields_reach_the_entropy_term() -> None:
    algo = AlgoConfig(epo=True, epo_coef=0.02, epo_smooth_coef=0.3, epo_kappa_low=0.5, epo_kappa_high=3.0,
                      epo_band="squared", epo_traj_weighting="turn", epo_schedule="[[0, 1], [1, 0]]")
    epo = build_loss(algo, with_value=False).terms["epo"]
    assert isinstance(epo, EntropyControl)
    assert (epo.beta, epo.smooth_coef, epo.kappa_low, epo.kappa_high) == (0.02, 0.3, 0.5, 3.0)
    assert (epo.band, epo.traj_weighting) == ("squared", "turn")
    assert epo.smooth_schedule(0.25) == pytest.approx(0.75)
    assert epo.bonus_schedule(0.9) == 1.0
    default = build_loss(dataclasses.replace(AlgoConfig(), epo=True), with_value=False).terms["epo"]
    assert (default.beta, default.kappa_low, default.kappa_high, default.band) == (0.001, 0.0, 2.0, "hinge")
    assert default.smooth_schedule == PhaseSchedule.epo_default()
    for band in ("hinge", "indicator"):
        assert build_loss(AlgoConfig(epo=True, epo_band=band), False).terms["epo"].band == band
    assert phase_schedule("constant")(0.7) == 1.0
    with pytest.raises(ConfigError, match="epo_schedule"):
        build_loss(AlgoConfig(epo=True, epo_schedule="epoo"), with_value=False)
    with pytest.raises(ConfigError, match="epo_schedule"):
        phase_schedule("[[0.5, 1], [0.2, 0]]")  # boundaries must increase


@pytest.mark.parametrize("kind", ["k2", "k1-reward", "k3"])
def test_kl_fields_reach_the_kl_term(kind) -> None:
    assert "kl" not in build_loss(AlgoConfig(kl_kind=kind), with_value=False).terms  # kl_coef 0: no reference
    loss = build_loss(AlgoConfig(kl_coef=0.2, kl_kind=kind), with_value=False)
    term = loss.terms["kl"]
    assert isinstance(term, KLPenalty) and (term.coef, term.kind) == (0.2, kind)
    assert "ref_logp" in loss.requires
    assert AlgoConfig().kl_kind == "k2"


def test_value_term_only_with_a_value_head() -> None:
    assert "value" not in build_loss(AlgoConfig(), with_value=False).terms
    value = build_loss(AlgoConfig(value_coef=0.7), with_value=True).terms["value"]
    assert isinstance(value, ValueLoss) and value.coef == 0.7
