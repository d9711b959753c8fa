"""Known-answer, gradient and property tests of the loss package (DESIGN section 4, "Algorithms")."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from turngym.agents.llm.losses import (
    CompositeLoss,
    EntropyControl,
    KLPenalty,
    LossInputs,
    PhaseSchedule,
    PPOClip,
    TurnPPO,
    ValueHead,
    ValueLoss,
    aggregate,
    explained_variance,
    kl_k1,
    kl_k2,
    kl_k3,
    phase_weight,
    ppo_clip_objective,
    trajectory_entropy,
    trust_region_weight,
)


def single_token_inputs(ratios: list[float], advs: list[float]) -> tuple[LossInputs, torch.Tensor]:
    """One row per sample: a masked prompt token then one completion token with the given ratio."""
    n = len(ratios)
    old = torch.full((n, 2), -1.0)
    lp_val = old.clone()
    lp_val[:, 1] = old[:, 1] + torch.log(torch.tensor(ratios))
    lp_val[:, 0] = 7.0  # garbage on the prompt position: must not matter
    logp = lp_val.clone().requires_grad_(True)
    mask = torch.tensor([[False, True]] * n)
    return LossInputs(logp=logp, old_logp=old, mask=mask, advantages=torch.tensor(advs)), logp


# ------------------------------------------------------------------------------------------- PPOClip
@pytest.mark.parametrize(
    ("ratio", "adv", "expected", "clipped"),
    [
        (1.1, 1.0, 1.1, False),    # inside the range: r A
        (1.5, 1.0, 1.2, True),     # A > 0, r > 1 + eps: (1 + eps) A
        (0.5, 1.0, 0.5, False),    # A > 0, r < 1 - eps: min picks r A (not clipped)
        (0.5, -1.0, -0.8, True),   # A < 0, r < 1 - eps: (1 - eps) A
        (1.5, -1.0, -1.5, False),  # A < 0, r > 1 + eps: min picks r A
        (0.9, -2.0, -1.8, False),  # inside, negative advantage
    ],
)
def test_ppo_clip_known_values(ratio: float, adv: float, expected: float, clipped: bool) -> None:
    obj = ppo_clip_objective(torch.tensor([ratio]), torch.tensor([adv]), 0.2, 0.2, None)
    assert obj.item() == pytest.approx(expected, abs=1e-6)
    inputs, logp = single_token_inputs([ratio], [adv])
    loss, m = PPOClip(dual_clip=None)(inputs)
    assert loss.item() == pytest.approx(-expected, abs=1e-6)
    assert m["clip_frac"] == (1.0 if clipped else 0.0)
    loss.backward()
    # d(-r A)/d logp = -r A when the unclipped term is selected, 0 when the clipped one is
    expected_grad = 0.0 if clipped else -ratio * adv
    assert logp.grad[0, 1].item() == pytest.approx(expected_grad, abs=1e-6)
    assert logp.grad[0, 0].item() == 0.0


def test_asymmetric_clip_high() -> None:
    obj = ppo_clip_objective(torch.tensor([1.25, 1.35, 0.7]), torch.ones(3), 0.2, 0.28, None)
    assert obj.tolist() == pytest.approx([1.25, 1.28, 0.7])
    loss_fn = PPOClip(clip_low=0.2, clip_high=0.28, dual_clip=None)
    _, m = loss_fn(single_token_inputs([1.25, 1.35], [1.0, 1.0])[0])
    assert m["clip_frac"] == 0.5  # only 1.35 exceeds 1.28 (1.25 would be clipped with the symmetric 0.2)


def test_dual_clip_only_for_negative_advantages_and_large_ratios() -> None:
    ratios = [4.0, 2.0, 4.0, 0.5]
    advs = [-1.0, -1.0, 1.0, -1.0]
    obj = ppo_clip_objective(torch.tensor(ratios), torch.tensor(advs), 0.2, 0.2, 3.0)
    # r=4, A=-1: max(min(-4, -1.2), 3 * -1) = -3 (= c A); r=2, A=-1: -2; r=4, A=+1: 1.2; r=0.5, A=-1: -0.8
    assert obj.tolist() == pytest.approx([-3.0, -2.0, 1.2, -0.8])
    inputs, logp = single_token_inputs(ratios, advs)
    loss, m = PPOClip(dual_clip=3.0)(inputs)
    assert loss.item() == pytest.approx(-(-3.0 - 2.0 + 1.2 - 0.8) / 4)
    assert m["dual_clip_frac"] == 0.25
    loss.backward()
    assert logp.grad[0, 1].item() == 0.0  # the dual-clipped sample has no gradient
    assert logp.grad[1, 1].item() == pytest.approx(2.0 / 4)  # -r A / N with r = 2, A = -1
    no_dual, m0 = PPOClip(dual_clip=None)(single_token_inputs(ratios, advs)[0])
    assert m0["dual_clip_frac"] == 0.0
    assert no_dual.item() == pytest.approx(-(-4.0 - 2.0 + 1.2 - 0.8) / 4)


def ragged_inputs(ratio: float = 1.0) -> tuple[LossInputs, torch.Tensor]:
    """Row 0: 2 prompt + 1 completion token; row 1: 1 prompt + 3 completion tokens; A = [1, 2]."""
    mask = torch.tensor([[False, False, True, False], [False, True, True, True]])
    old = torch.full((2, 4), -2.0)
    lp = old + math.log(ratio) * mask
    lp = torch.where(mask, lp, torch.tensor(3.0)).requires_grad_(True)
    old = torch.where(mask, old, torch.tensor(float("-inf")))  # pad garbage in old_logp too
    return LossInputs(logp=lp, old_logp=old, mask=mask, advantages=torch.tensor([1.0, 2.0])), lp


def test_aggregations_differ_correctly_on_ragged_masks() -> None:
    expected = {"token-mean": (1 + 2 * 3) / 4, "seq-mean": (1 + 2) / 2, "seq-mean-token-sum": (1 + 6) / 2}
    for agg, value in expected.items():
        inputs, _ = ragged_inputs()
        loss, _ = PPOClip(agg=agg)(inputs)
        assert loss.item() == pytest.approx(-value), agg
    with pytest.raises(ValueError):
        PPOClip(agg="sum")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        aggregate(torch.zeros(1, 1), torch.ones(1, 1, dtype=torch.bool), "bogus")


@pytest.mark.parametrize("loss_cls", [PPOClip, TurnPPO])
@pytest.mark.parametrize("agg", ["token-mean", "seq-mean", "seq-mean-token-sum"])
def test_masked_tokens_get_exactly_zero_gradient(loss_cls: type, agg: str) -> None:
    inputs, lp = ragged_inputs(ratio=1.1)
    loss, _ = loss_cls(agg=agg)(inputs)
    loss.backward()
    assert torch.isfinite(lp.grad).all()
    assert (lp.grad[~inputs.mask] == 0).all()
    assert (lp.grad[inputs.mask] != 0).all()


def test_on_policy_ppo_equals_vanilla_policy_gradient() -> None:
    gen = torch.Generator().manual_seed(0)
    mask = torch.rand(4, 6, generator=gen) > 0.3
    mask[:, 0] = False
    mask[:, 1] = True
    old = -torch.rand(4, 6, generator=gen) * 3
    adv = torch.randn(4, generator=gen)
    for agg in ("token-mean", "seq-mean", "seq-mean-token-sum"):
        lp = old.clone().requires_grad_(True)
        loss, m = PPOClip(agg=agg)(LossInputs(logp=lp, old_logp=old, mask=mask, advantages=adv))
        loss.backward()
        lp_pg = old.clone().requires_grad_(True)
        pg = -aggregate(adv[:, None] * lp_pg, mask, agg)  # REINFORCE surrogate: -A log pi
        pg.backward()
        assert torch.allclose(lp.grad, lp_pg.grad, atol=1e-7), agg
        assert m["clip_frac"] == 0.0 and m["approx_kl"] == 0.0
        assert m["ratio_mean"] == 1.0 and m["ratio_max"] == 1.0


@pytest.mark.parametrize("loss_cls", [PPOClip, TurnPPO])
def test_extreme_ratios_give_finite_gradients(loss_cls: type) -> None:
    old = torch.zeros(4, 2)
    lp = torch.tensor([[200.0, 0.1], [-200.0, 0.1], [200.0, 0.1], [-200.0, 0.1]], requires_grad=True)
    inputs = LossInputs(logp=lp, old_logp=old, mask=torch.ones(4, 2, dtype=torch.bool),
                        advantages=torch.tensor([1.0, 1.0, -1.0, -1.0]))
    loss, _ = loss_cls(dual_clip=None)(inputs)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(lp.grad).all()


def test_approx_kl_is_the_k3_estimate_of_old_to_new() -> None:
    inputs, _ = single_token_inputs([2.0, 0.5], [1.0, 1.0])
    _, m = PPOClip()(inputs)
    expected = ((2.0 - 1 - math.log(2.0)) + (0.5 - 1 - math.log(0.5))) / 2
    assert m["approx_kl"] == pytest.approx(expected, rel=1e-6)
    assert m["ratio_max"] == pytest.approx(2.0) and m["ratio_mean"] == pytest.approx(1.25)


def test_invalid_settings_and_shapes_raise() -> None:
    with pytest.raises(ValueError):
        PPOClip(clip_low=1.5)
    with pytest.raises(ValueError):
        PPOClip(dual_clip=0.9)
    ones = torch.ones(2, 3, dtype=torch.bool)
    with pytest.raises(ValueError):
        LossInputs(logp=torch.zeros(2, 3), old_logp=torch.zeros(2, 4), mask=ones, advantages=torch.zeros(2))
    with pytest.raises(ValueError):
        LossInputs(logp=torch.zeros(2, 3), old_logp=torch.zeros(2, 3), mask=ones, advantages=torch.zeros(3))


# ------------------------------------------------------------------------------------------- TurnPPO
def test_turn_ratio_is_geometric_mean_of_token_ratios() -> None:
    deltas = torch.tensor([0.3, -0.1, 0.1])
    old = torch.tensor([[-1.0, -1.0, -2.0, -0.5]])
    mask = torch.tensor([[False, True, True, True]])
    lp = old.clone()
    lp[0, 1:] += deltas
    lp[0, 0] = 5.0
    lp.requires_grad_(True)
    loss, m = TurnPPO(bias_correction=False)(LossInputs(logp=lp, old_logp=old, mask=mask,
                                                        advantages=torch.tensor([1.0])))
    geo = torch.exp(deltas).prod().item() ** (1 / 3)
    assert m["ratio_mean"] == pytest.approx(geo, rel=1e-6)
    assert loss.item() == pytest.approx(-geo, rel=1e-6)
    loss.backward()
    # gradient through the mean: d(-r A)/d logp_t = -r A / n for every token of the turn
    assert lp.grad[0, 1:].tolist() == pytest.approx([-geo / 3] * 3, rel=1e-6)
    assert lp.grad[0, 0].item() == 0.0


@pytest.mark.parametrize("correction", [False, True])
def test_single_token_turns_equal_ppo_clip_seq_mean(correction: bool) -> None:
    gen = torch.Generator().manual_seed(1)
    ratios = torch.exp(torch.randn(16, generator=gen) * 0.8).tolist()
    advs = torch.randn(16, generator=gen).tolist()
    a, lp_a = single_token_inputs(ratios, advs)
    b, lp_b = single_token_inputs(ratios, advs)
    loss_t, m_t = TurnPPO(bias_correction=correction)(a)
    loss_p, m_p = PPOClip(agg="seq-mean", bias_correction=correction)(b)
    assert loss_t.item() == pytest.approx(loss_p.item(), rel=1e-6)
    loss_t.backward()
    loss_p.backward()
    assert torch.allclose(lp_a.grad, lp_b.grad, atol=1e-7)
    assert m_t["clip_frac"] == m_p["clip_frac"] == m_t["turn_clip_frac"]
    assert m_p["clip_frac"] > 0  # the random ratios do reach outside the clip range


def test_clipping_acts_per_turn_not_per_token() -> None:
    deltas = torch.tensor([0.5, -0.5, 0.1])  # token ratios 1.65, 0.61, 1.11; geometric mean 1.034
    old = torch.zeros(1, 3)
    mask = torch.ones(1, 3, dtype=torch.bool)
    lp = (old + deltas).requires_grad_(True)
    inputs = LossInputs(logp=lp, old_logp=old, mask=mask, advantages=torch.tensor([1.0]))
    loss, m = TurnPPO()(inputs)
    assert m["turn_clip_frac"] == 0.0 and m["clip_frac"] == 0.0
    loss.backward()
    assert (lp.grad != 0).all()  # no token lost its gradient
    tok_inputs = LossInputs(logp=lp.detach(), old_logp=old, mask=mask, advantages=torch.tensor([1.0]))
    _, m_tok = PPOClip()(tok_inputs)
    assert m_tok["clip_frac"] == pytest.approx(1 / 3)  # token-level PPO clips the 1.65 token


def test_turn_clipped_as_a_whole() -> None:
    old = torch.zeros(1, 2)
    lp = torch.tensor([[0.3, 0.3]], requires_grad=True)  # turn ratio 1.35 > 1.2, A > 0 -> clipped
    for corr in (False, True):
        inputs = LossInputs(logp=lp, old_logp=old, mask=torch.ones(1, 2, dtype=torch.bool),
                            advantages=torch.tensor([1.0]))
        loss, m = TurnPPO(bias_correction=corr)(inputs)
        assert m["turn_clip_frac"] == 1.0 and m["clip_frac"] == 1.0
        if not corr:
            assert loss.item() == pytest.approx(-1.2)
        loss.backward()
        assert (lp.grad == 0).all()


def test_bias_correction_downweights_extremely_off_policy_turn() -> None:
    # Turn 0: A < 0 and ratio e (> 1 + eps, below the dual clip c = 3): PPO keeps its full gradient.
    # Turn 1: on-policy, must be untouched by the correction.
    old = torch.zeros(2, 3)
    lp0 = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    mask = torch.ones(2, 3, dtype=torch.bool)
    adv = torch.tensor([-1.0, 0.5])
    grads = {}
    for corr in (False, True):
        lp = lp0.clone().requires_grad_(True)
        loss, m = TurnPPO(bias_correction=corr)(LossInputs(logp=lp, old_logp=old, mask=mask, advantages=adv))
        loss.backward()
        grads[corr] = lp.grad.clone()
    assert grads[True][0].norm() < grads[False][0].norm()
    weight = math.log(1.2) / 1.0  # log(1 + eps_high) / log r
    assert (grads[True][0].norm() / grads[False][0].norm()).item() == pytest.approx(weight, rel=1e-5)
    assert torch.allclose(grads[True][1], grads[False][1])
    assert m["bias_weight_mean"] == pytest.approx((weight + 1.0) / 2, rel=1e-5)


def test_trust_region_weight_is_one_inside_and_continuous() -> None:
    lr = torch.log(torch.tensor([1.0, 1.1, 0.85, 1.2, 0.8, 2.0, 0.25]))
    w = trust_region_weight(lr, 0.2, 0.2)
    expected = [1, 1, 1, 1, 1, math.log(1.2) / math.log(2.0), math.log(0.8) / math.log(0.25)]
    assert w.tolist() == pytest.approx(expected, rel=1e-5)
    assert not trust_region_weight(lr.requires_grad_(True), 0.2, 0.2).requires_grad


# ----------------------------------------------------------------------------------------------- EPO
def epo_inputs(turn_entropies: list[list[float]], episode: list[int] | None = None,
               turn: list[int] | None = None) -> tuple[LossInputs, torch.Tensor]:
    """One row per turn: a masked prompt token, then the turn's completion tokens with the given entropies."""
    width = 1 + max(len(t) for t in turn_entropies)
    n = len(turn_entropies)
    ent = torch.full((n, width), 9.0)  # garbage on prompt/pad positions
    mask = torch.zeros(n, width, dtype=torch.bool)
    for r, vals in enumerate(turn_entropies):
        ent[r, 1:1 + len(vals)] = torch.tensor(vals)
        mask[r, 1:1 + len(vals)] = True
    ent.requires_grad_(True)
    z = torch.zeros(n, width)
    return LossInputs(
        logp=z, old_logp=z, mask=mask, advantages=torch.zeros(n), entropy=ent,
        episode_index=None if episode is None else torch.tensor(episode),
        turn_index=None if turn is None else torch.tensor(turn),
    ), ent


def flat(**kw: object) -> EntropyControl:
    return EntropyControl(bonus_schedule=PhaseSchedule.constant(1.0),  # type: ignore[arg-type]
                          smooth_schedule=PhaseSchedule.constant(1.0), **kw)


def test_trajectory_bonus_is_token_mean_per_trajectory_then_mean_over_trajectories() -> None:
    # Rows: traj 1 (one 4-token turn), traj 0 turn 0 (2 tokens), traj 0 turn 1 (1 token).
    inputs, ent = epo_inputs([[0.5] * 4, [1.0, 2.0], [3.0]], episode=[1, 0, 0], turn=[0, 0, 1])
    loss, m = flat(beta=1.0, smooth_coef=0.0)(inputs)
    # traj 0: (1 + 2 + 3) / 3 = 2.0 (not the turn mean 2.25); traj 1: 0.5; bonus = 1.25
    assert m["traj_entropy"] == pytest.approx(1.25)
    assert m["entropy"] == pytest.approx((2 + 6) / 7)
    assert loss.item() == pytest.approx(-1.25)
    loss.backward()
    assert ent.grad[1, 1].item() == pytest.approx(-0.5 / 3)  # -(1/2 trajectories) * (1/3 tokens)
    assert ent.grad[0, 1].item() == pytest.approx(-0.5 / 4)
    assert (ent.grad[~inputs.mask] == 0).all()


def seeded_control(**kw: object) -> EntropyControl:
    ctrl = flat(beta=0.0, smooth_coef=1.0, kappa_low=0.5, kappa_high=2.0, **kw)
    ctrl(epo_inputs([[1.0, 1.0], [1.0]], turn=[0, 0])[0])
    ctrl.on_iteration(0.1)
    assert ctrl.reference(0) == pytest.approx(1.0)
    return ctrl


def test_smoothing_hinge_has_gradient_outside_band_and_none_inside() -> None:
    ctrl = seeded_control()
    inputs, ent = epo_inputs([[0.2, 0.2], [1.0, 1.0], [3.0, 3.0]], turn=[0, 0, 0])
    loss, m = ctrl(inputs)
    # band [0.5, 2.0]: (0.5 - 0.2) + 0 + (3.0 - 2.0) over 3 turns
    assert m["smooth_penalty"] == pytest.approx(1.3 / 3)
    assert loss.item() == pytest.approx(1.3 / 3)
    assert m["band_violation_frac"] == pytest.approx(2 / 3)
    assert m["hist_entropy"] == pytest.approx(1.0)
    loss.backward()
    assert ent.grad[0, 1:].tolist() == pytest.approx([-1 / 6, -1 / 6])  # below the band: raise entropy
    assert ent.grad[1].abs().sum().item() == 0.0  # inside the band: no gradient
    assert ent.grad[2, 1:].tolist() == pytest.approx([1 / 6, 1 / 6])  # above the band: lower entropy


def test_squared_hinge() -> None:
    ctrl = seeded_control(band="squared")
    _, m = ctrl(epo_inputs([[0.2], [3.0]], turn=[0, 0])[0])
    assert m["smooth_penalty"] == pytest.approx((0.3 ** 2 + 1.0 ** 2) / 2)


def test_no_penalty_before_history_and_per_turn_references() -> None:
    ctrl = flat(beta=0.0, smooth_coef=1.0)
    inputs, ent = epo_inputs([[0.01], [5.0]], turn=[0, 0])
    loss, m = ctrl(inputs)
    assert m["smooth_penalty"] == 0.0 and loss.item() == 0.0
    assert m["hist_entropy"] == pytest.approx(2.505)  # seeded from the current batch
    loss.backward()
    assert (ent.grad == 0).all()
    ctrl.on_iteration(0.0)
    ctrl(epo_inputs([[4.0]], turn=[3])[0])
    ctrl.on_iteration(0.0)
    assert ctrl.reference(0) == pytest.approx(2.505)
    assert ctrl.reference(3) == pytest.approx(4.0)
    assert ctrl.reference(1) is None and ctrl.reference(7) is None


def test_history_moves_toward_batch_entropy() -> None:
    ctrl = seeded_control()
    ctrl(epo_inputs([[2.0], [2.0, 2.0]], turn=[0, 0])[0])
    assert ctrl.reference(0) == pytest.approx(1.0)  # fixed within the iteration
    ctrl.on_iteration(0.2)
    assert ctrl.reference(0) == pytest.approx(1.5)  # running mean of 1.0 and 2.0
    ema = seeded_control(history_decay=0.9)
    ema(epo_inputs([[2.0]], turn=[0])[0])
    ema.on_iteration(0.2)
    assert ema.reference(0) == pytest.approx(1.1)


def test_state_dict_round_trip_reproduces_next_loss_exactly() -> None:
    gen = torch.Generator().manual_seed(3)
    ctrl = EntropyControl(beta=0.01, smooth_coef=0.1, history_decay=0.7)

    def batch() -> LossInputs:
        vals = [(torch.rand(k, generator=gen) * 2).tolist() for k in (3, 1, 2, 4)]
        return epo_inputs(vals, episode=[0, 0, 1, 1], turn=[0, 1, 0, 1])[0]

    for it in range(3):
        ctrl.on_iteration(it / 4)
        ctrl(batch())
        ctrl(batch())
    state = json.loads(json.dumps(ctrl.state_dict()))  # plain data, checkpointable as JSON
    twin = EntropyControl(beta=0.01, smooth_coef=0.1, history_decay=0.7)
    twin.load_state_dict(copy.deepcopy(state))
    x = batch()
    loss_a, m_a = ctrl(x)
    loss_b, m_b = twin(x)
    assert torch.equal(loss_a, loss_b) and m_a == m_b
    ctrl.on_iteration(0.9)
    twin.on_iteration(0.9)
    assert ctrl.state_dict() == twin.state_dict()
    # EPO's phase schedule weighs the smoothing penalty; the bonus weight stays 1 (issue 13, item 8)
    assert m_a["smooth_penalty"] >= 0 and m_a["smooth_weight"] == pytest.approx(PhaseSchedule.epo_default()(0.5))
    assert m_a["weight"] == 1.0


def test_phase_schedules() -> None:
    lin = PhaseSchedule(((0.0, 1.0), (0.5, 0.5), (1.0, 0.0)), "linear")
    assert [lin(p) for p in (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, -1.0)] == pytest.approx(
        [1.0, 0.75, 0.5, 0.25, 0.0, 0.0, 1.0])
    step = PhaseSchedule(((0.0, 1.0), (0.5, 0.5), (1.0, 0.0)), "step")
    assert [step(p) for p in (0.0, 0.25, 0.5, 0.99, 1.0)] == [1.0, 1.0, 0.5, 0.5, 0.0]
    late = PhaseSchedule(((0.2, 2.0), (0.6, 4.0)), "linear")
    assert [late(0.0), late(0.4), late(0.9)] == pytest.approx([2.0, 3.0, 4.0])
    epo = PhaseSchedule.epo_default()
    assert [epo(0.0), epo(0.25), epo(0.5), epo(1.0)] == pytest.approx([1.0, 0.9, 0.8, 0.8 * math.exp(-3)])
    assert phase_weight([(0.0, 3.0)], 0.7) == 3.0
    for bad in ((), ((0.5, 1.0), (0.5, 2.0)), ((0.0, 1.0), (1.5, 2.0))):
        with pytest.raises(ValueError):
            PhaseSchedule(bad)
    ctrl = EntropyControl(beta=1.0, smooth_coef=0.0, bonus_schedule=lin)
    inputs, _ = epo_inputs([[2.0]])
    ctrl.on_iteration(0.75)
    loss, m = ctrl(inputs)
    assert m["weight"] == pytest.approx(0.25) and loss.item() == pytest.approx(-0.25 * 2.0)


# ------------------------------------------------------------------------------------------------ KL
def test_k3_nonnegative_and_zero_iff_equal() -> None:
    gen = torch.Generator().manual_seed(4)
    a = -torch.rand(1000, generator=gen) * 5
    b = -torch.rand(1000, generator=gen) * 5
    k3 = kl_k3(a, b)
    assert (k3 >= 0).all() and (k3[a != b] > 0).all()
    assert (kl_k3(a, a) == 0).all() and (kl_k1(a, a) == 0).all()
    assert (kl_k1(a, b) < 0).any()  # k1 is unbiased but not pointwise non-negative


def test_k1_and_k3_estimate_the_true_kl_on_a_categorical() -> None:
    p = torch.tensor([0.5, 0.3, 0.2])
    ref = torch.tensor([0.2, 0.3, 0.5])
    true_kl = float((p * (p / ref).log()).sum())
    gen = torch.Generator().manual_seed(5)
    x = torch.multinomial(p, 200_000, replacement=True, generator=gen)
    logp, ref_logp = p.log()[x], ref.log()[x]
    assert kl_k1(logp, ref_logp).mean().item() == pytest.approx(true_kl, abs=0.01)
    assert kl_k3(logp, ref_logp).mean().item() == pytest.approx(true_kl, abs=0.01)
    mask = torch.ones(1, x.numel(), dtype=torch.bool)
    inputs = LossInputs(logp=logp[None], old_logp=logp[None], mask=mask, advantages=torch.zeros(1),
                        ref_logp=ref_logp[None])
    for kind in ("k2", "k3"):
        loss, m = KLPenalty(coef=2.0, kind=kind)(inputs)
        assert m["kl"] == pytest.approx(true_kl, abs=0.01) and m["kl_k3"] == pytest.approx(true_kl, abs=0.01)
        assert loss.item() == pytest.approx(2.0 * m["kl_loss_estimate"])
    assert KLPenalty(coef=2.0, kind="k3")(inputs)[1]["kl_loss_estimate"] == pytest.approx(true_kl, abs=0.01)


def test_kl_penalty_masks_tokens_and_requires_reference() -> None:
    lp = torch.tensor([[-1.0, -0.5, -2.0]], requires_grad=True)
    ref = torch.tensor([[float("-inf"), -1.5, -2.0]])
    mask = torch.tensor([[False, True, True]])
    inputs = LossInputs(logp=lp, old_logp=lp.detach(), mask=mask, advantages=torch.zeros(1), ref_logp=ref)
    loss, m = KLPenalty(coef=1.0, kind="k3")(inputs)
    assert m["kl_k3"] == pytest.approx((math.exp(-1.0) + 1.0 - 1.0) / 2)
    assert m["kl"] == pytest.approx((-0.5 + 1.5) / 2)
    loss.backward()
    assert lp.grad[0, 0].item() == 0.0 and torch.isfinite(lp.grad).all()
    with pytest.raises(ValueError, match="ref_logp"):
        KLPenalty()(LossInputs(logp=lp, old_logp=lp.detach(), mask=mask, advantages=torch.zeros(1)))
    with pytest.raises(ValueError):
        KLPenalty(kind="k4")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------- value
def value_inputs(values: list[float], returns: list[float], old: list[float] | None = None) -> LossInputs:
    n = len(values)
    z = torch.zeros(n, 2)
    return LossInputs(
        logp=z, old_logp=z, mask=torch.tensor([[False, True]] * n), advantages=torch.zeros(n),
        values=torch.tensor(values, requires_grad=True), returns=torch.tensor(returns),
        old_values=None if old is None else torch.tensor(old),
    )


def test_value_loss_unclipped_and_clipped() -> None:
    loss, m = ValueLoss(coef=0.5, clip=None)(value_inputs([1.0, 2.0], [0.0, 4.0]))
    assert m["value_loss"] == pytest.approx(0.5 * (1 + 4) / 2)
    assert loss.item() == pytest.approx(0.5 * 1.25)
    # V moved 1.0 away from V_old = 0 toward nothing useful: the clipped prediction 0.2 is farther from R
    x = value_inputs([1.0], [2.0], old=[0.0])
    loss, m = ValueLoss(coef=1.0, clip=0.2)(x)
    assert loss.item() == pytest.approx(0.5 * (0.2 - 2.0) ** 2) and m["value_clip_frac"] == 1.0
    loss.backward()
    assert x.values.grad.item() == 0.0  # the clipped branch is flat in V
    x = value_inputs([1.0], [0.0], old=[0.0])
    loss, m = ValueLoss(coef=1.0, clip=0.2)(x)
    assert loss.item() == pytest.approx(0.5) and m["value_clip_frac"] == 0.0
    loss.backward()
    assert x.values.grad.item() == pytest.approx(1.0)
    unclipped, _ = ValueLoss(coef=1.0, clip=None)(value_inputs([1.0], [2.0], old=[0.0]))
    assert unclipped.item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="old_values"):
        ValueLoss(clip=0.2)(value_inputs([1.0], [2.0]))


def test_explained_variance_known_cases() -> None:
    r = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert explained_variance(r, r) == pytest.approx(1.0)
    assert explained_variance(torch.full((4,), 2.5), r) == pytest.approx(0.0)
    assert explained_variance(r + torch.tensor([0.5, -0.5, 0.5, -0.5]), r) == pytest.approx(0.8)
    assert explained_variance(torch.zeros(4), torch.ones(4)) == 0.0
    _, m = ValueLoss(clip=None)(value_inputs([1.5, 1.5, 3.5, 3.5], [1.0, 2.0, 3.0, 4.0]))
    assert m["explained_variance"] == pytest.approx(0.8)


def test_value_head_reads_the_last_prompt_token() -> None:
    head = ValueHead(4, init_std=0.01, generator=torch.Generator().manual_seed(0))
    assert head.bias.item() == 0.0 and head.weight.abs().max().item() < 0.1
    hidden = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(1))
    index = torch.tensor([1, 2])
    v = head(hidden, index)
    assert v.shape == (2,)
    assert torch.allclose(v, head(hidden[torch.arange(2), index]))
    assert torch.allclose(v, hidden[torch.arange(2), index] @ head.weight[0])
    twin = ValueHead(4, init_std=0.01, generator=torch.Generator().manual_seed(0))
    assert torch.equal(twin.weight, head.weight)
    with pytest.raises(ValueError):
        head(hidden)


# ----------------------------------------------------------------------------------------- composite
def test_composite_sums_terms_and_prefixes_metrics() -> None:
    gen = torch.Generator().manual_seed(6)
    old = -torch.rand(3, 4, generator=gen)
    lp = (old + 0.1 * torch.randn(3, 4, generator=gen)).requires_grad_(True)
    mask = torch.tensor([[False, True, True, False], [False, False, True, True], [True, True, True, True]])
    inputs = LossInputs(
        logp=lp, old_logp=old, mask=mask, advantages=torch.tensor([1.0, -0.5, 0.2]),
        entropy=torch.rand(3, 4, generator=gen), ref_logp=old - 0.05, values=torch.tensor([0.1, 0.2, 0.3]),
        old_values=torch.tensor([0.0, 0.2, 0.5]), returns=torch.tensor([1.0, 0.0, 0.3]),
        episode_index=torch.tensor([0, 0, 1]), turn_index=torch.tensor([0, 1, 0]),
    )
    parts = [TurnPPO(), KLPenalty(coef=0.1), EntropyControl(), ValueLoss()]
    comp = CompositeLoss(parts[0], parts[1:])
    total, metrics = comp(inputs)
    expected = sum(term(inputs)[0] for term in parts)
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)
    for key in ("policy/clip_frac", "policy/turn_clip_frac", "kl/kl", "epo/entropy", "epo/traj_entropy",
                "value/explained_variance", "value/loss", "loss"):
        assert key in metrics, key
    assert metrics["loss"] == pytest.approx(total.item())
    assert set(comp.state_dict()) == {"epo"}
    comp.on_iteration(1.0)
    assert comp.terms["epo"].progress == 1.0  # type: ignore[attr-defined]
    fresh = CompositeLoss(TurnPPO(), [KLPenalty(coef=0.1), EntropyControl(), ValueLoss()])
    fresh.load_state_dict(comp.state_dict())
    assert fresh.state_dict() == comp.state_dict()
    with pytest.raises(ValueError):
        fresh.load_state_dict({"nope": {}})
    with pytest.raises(ValueError):
        CompositeLoss(PPOClip(), [KLPenalty(), KLPenalty()])
    renamed = CompositeLoss(PPOClip(), {"kl_a": KLPenalty(), "kl_b": KLPenalty(kind="k3")})
    assert {"kl_a/kl", "kl_b/kl"} <= set(renamed(inputs)[1])


# ------------------------------------------------------------------------------ issue 13: KL (item 9)
def _expected_grad(per_sample: Callable[[Tensor, Tensor], Tensor], theta: Tensor, ref_logp: Tensor) -> Tensor:
    """E_{x ~ pi}[grad_theta per_sample(log pi(x), log ref(x))], exactly, on a categorical pi = softmax(theta).

    The sampling distribution is held fixed (detached), as in a PPO step on sampled tokens.
    """
    theta = theta.clone().requires_grad_(True)
    logp = torch.log_softmax(theta, dim=0)
    (logp.exp().detach() * per_sample(logp, ref_logp)).sum().backward()
    return theta.grad


def _kl_grad(theta: Tensor, ref_logp: Tensor, forward: bool) -> Tensor:
    theta = theta.clone().requires_grad_(True)
    logp = torch.log_softmax(theta, dim=0)
    kl = (ref_logp.exp() * (ref_logp - logp)).sum() if forward else (logp.exp() * (logp - ref_logp)).sum()
    kl.backward()
    return theta.grad


def test_expected_gradient_of_each_kl_estimator_by_autograd() -> None:
    theta = torch.tensor([0.3, -1.2, 0.8, 0.0, 2.0], dtype=torch.float64)
    ref_logp = torch.log_softmax(torch.tensor([1.0, 0.5, -0.5, 0.2, -1.0], dtype=torch.float64), dim=0)
    reverse = _kl_grad(theta, ref_logp, forward=False)  # grad KL(pi || ref)
    forward = _kl_grad(theta, ref_logp, forward=True)  # grad KL(ref || pi)
    assert not torch.allclose(reverse, forward, atol=1e-3)
    # k1 as a loss: zero expected gradient (it regularizes nothing)
    assert torch.allclose(_expected_grad(kl_k1, theta, ref_logp), torch.zeros(5, dtype=torch.float64), atol=1e-12)
    # k2: exactly grad KL(pi || ref); k3: grad KL(ref || pi) (the k3 docstring's claim)
    assert torch.allclose(_expected_grad(kl_k2, theta, ref_logp), reverse, atol=1e-12)
    assert torch.allclose(_expected_grad(kl_k3, theta, ref_logp), forward, atol=1e-12)

    # k1 in the reward: the policy gradient of reward -k1 (REINFORCE, score function) is -grad KL(pi || ref)
    def reinforce(logp: Tensor, ref: Tensor) -> Tensor:
        return -(logp - ref).detach() * logp  # reward * log pi, reward held fixed

    assert torch.allclose(_expected_grad(reinforce, theta, ref_logp), -reverse, atol=1e-12)


def test_k1_reward_adds_no_loss_and_returns_the_per_turn_penalty() -> None:
    lp = torch.tensor([[-1.0, -0.5, -2.0], [-0.1, -0.2, -0.3]], requires_grad=True)
    old = torch.tensor([[-1.0, -0.4, -2.5], [-0.2, -0.2, -0.6]])
    ref = torch.tensor([[float("-inf"), -1.4, -2.0], [-0.1, float("-inf"), -0.1]])
    mask = torch.tensor([[False, True, True], [True, False, True]])
    term = KLPenalty(coef=0.5, kind="k1-reward")
    inputs = LossInputs(logp=lp, old_logp=old, mask=mask, advantages=torch.zeros(2), ref_logp=ref)
    loss, m = term(inputs)
    assert loss.item() == 0.0 and "kl" in m
    pen = term.reward_penalty(old, ref, mask)
    # row 0: (-0.4 + 1.4) + (-2.5 + 2.0) = 0.5; row 1: (-0.2 + 0.1) + (-0.6 + 0.1) = -0.6; times coef 0.5
    assert pen.tolist() == pytest.approx([0.25, -0.3])
    assert KLPenalty(coef=0.5, kind="k2").reward_penalty(old, ref, mask) is None
    composite = CompositeLoss(PPOClip(), {"kl_a": term, "kl_b": KLPenalty(coef=1.0, kind="k1-reward"),
                                          "kl_c": KLPenalty(coef=1.0, kind="k3")})
    assert composite.reward_penalty(old, ref, mask).tolist() == pytest.approx([0.75, -0.9])
    assert CompositeLoss(PPOClip()).reward_penalty(old, ref, mask) is None
    assert "ref_logp" in composite.requires
    with pytest.raises(ValueError, match="ref_logp"):
        composite.reward_penalty(old, None, mask)


def test_k1_as_a_loss_warns_that_it_regularizes_nothing() -> None:
    with pytest.warns(UserWarning, match="regularizes nothing"):
        KLPenalty(kind="k1")
    assert KLPenalty().kind == "k2"


# ------------------------------------------------------------------- issue 13: turn-mean (item 15c)
@pytest.mark.parametrize("loss_cls", [PPOClip, TurnPPO])
def test_turn_mean_gives_each_turn_equal_weight_whatever_its_token_count(loss_cls) -> None:
    # "up" = 1 token, "right" = 4 tokens: under turn-mean each turn's gradient mass is the same.
    lp = torch.zeros(2, 5, requires_grad=True)
    mask = torch.tensor([[True, False, False, False, False], [True, True, True, True, False]])
    x = LossInputs(logp=lp, old_logp=torch.zeros(2, 5), mask=mask, advantages=torch.ones(2))
    loss, _ = loss_cls(agg="turn-mean", bias_correction=False)(x)
    loss.backward()
    per_turn = lp.grad.sum(dim=1)
    assert per_turn.tolist() == pytest.approx([-0.5, -0.5])
    lp.grad = None
    loss, _ = loss_cls(agg="token-mean", bias_correction=False)(x)
    loss.backward()
    assert lp.grad.sum(dim=1).tolist() == pytest.approx([-0.2, -0.8])  # token-mean weighs by tokenization
    lp.grad = None
    old_name, _ = loss_cls(agg="seq-mean", bias_correction=False)(x)  # the old name still works
    assert old_name.item() == pytest.approx(-1.0)


# -------------------------------------------------------------------------- issue 13: EPO (item 8)
def test_turn_weighted_trajectory_entropy() -> None:
    # traj 0: turn 0 tokens [1, 2] (mean 1.5), turn 1 token [3]: token-weighted 2.0, turn-weighted 2.25
    inputs, ent = epo_inputs([[1.0, 2.0], [3.0]], episode=[0, 0], turn=[0, 1])
    h_tok, _ = trajectory_entropy(ent, inputs.mask, inputs.episode_index)
    h_turn, _ = trajectory_entropy(ent, inputs.mask, inputs.episode_index, "turn")
    assert h_tok.tolist() == pytest.approx([2.0]) and h_turn.tolist() == pytest.approx([2.25])
    loss, m = flat(beta=1.0, smooth_coef=0.0, traj_weighting="turn")(inputs)
    assert m["traj_entropy"] == pytest.approx(2.25)
    loss.backward()
    assert ent.grad[1, 1].item() == pytest.approx(-0.5)  # the lone token of turn 1 carries half the bonus


def test_indicator_band_reports_but_has_no_gradient() -> None:
    ctrl = seeded_control(band="indicator")
    inputs, ent = epo_inputs([[0.2, 0.2], [1.0, 1.0], [3.0, 3.0]], turn=[0, 0, 0])
    loss, m = ctrl(inputs)
    assert m["smooth_penalty"] == pytest.approx(2 / 3)  # two of three turns outside [0.5, 2.0]
    loss.backward()
    assert ent.grad is None or (ent.grad == 0).all()
    with pytest.raises(ValueError, match="band"):
        EntropyControl(band="hinged")  # type: ignore[arg-type]


def test_phase_schedule_weighs_the_penalty_not_the_bonus_and_paper_defaults() -> None:
    ctrl = EntropyControl()
    assert (ctrl.beta, ctrl.kappa_low, ctrl.kappa_high, ctrl.band) == (0.001, 0.0, 2.0, "hinge")
    ctrl(epo_inputs([[1.0]], turn=[0])[0])
    ctrl.on_iteration(0.75)
    _, m = ctrl(epo_inputs([[5.0]], turn=[0])[0])
    assert m["smooth_weight"] == pytest.approx(PhaseSchedule.epo_default()(0.75)) and m["weight"] == 1.0


def test_nonfinite_entropy_does_not_poison_the_history() -> None:
    ctrl = seeded_control()
    ctrl(epo_inputs([[float("nan")]], turn=[0])[0])
    ctrl.on_iteration(0.2)
    assert ctrl.reference(0) == pytest.approx(1.0)
