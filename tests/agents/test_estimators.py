"""Known-answer, loop-reference and property tests of the advantage estimators (DESIGN section 4)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from turngym.agents.llm.batch import TurnBatch, encode_keys
from turngym.agents.llm.estimators import (
    ESTIMATORS,
    estimate,
    gae,
    gae_returns,
    gated_accumulation,
    get_estimator,
    gigpo,
    gigpo_episode,
    gigpo_step,
    grpo,
    has_value_targets,
    igpo,
    invalid_action_penalty,
    mars,
    register,
    rloo,
    value_targets,
)
from turngym.agents.llm.estimators.reference import REFERENCES
from turngym.envs.core.errors import ConfigError


def make_batch(episodes: list[dict], **extra) -> TurnBatch:
    """Builds a batch from a list of episodes: {"id", "group", "rewards", optional per-turn columns}."""
    cols: dict[str, list] = {k: [] for k in ("episode_id", "group_id", "turn", "reward", "agent_id",
                                             "state_key", "terminated", "truncated", "value", "score", "outcome")}
    for ep in episodes:
        n = len(ep["rewards"])
        cols["episode_id"] += [ep["id"]] * n
        cols["group_id"] += [ep["group"]] * n
        cols["turn"] += list(range(n))
        cols["reward"] += list(ep["rewards"])
        cols["agent_id"] += list(ep.get("agents", [0] * n))
        cols["state_key"] += list(ep.get("states", [-1] * n))
        cols["terminated"] += [False] * (n - 1) + [ep.get("terminated", True)]
        cols["truncated"] += [False] * (n - 1) + [ep.get("truncated", False)]
        cols["value"] += list(ep.get("values", [0.0] * n))
        cols["score"] += list(ep.get("scores", [0.0] * n))
        cols["outcome"] += [0.0] * (n - 1) + [ep.get("outcome", 0.0)]
    return TurnBatch(**{k: np.array(v) for k, v in cols.items()}, **extra)


# ---------------------------------------------------------------------------- known answers
# group 0: ep0 rewards [0, 1] (R=1), ep1 [0] (R=0), ep3 [2] (R=2); group 1: ep2 [2] alone.
KA = make_batch([
    {"id": 0, "group": 0, "rewards": [0.0, 1.0]},
    {"id": 1, "group": 0, "rewards": [0.0]},
    {"id": 3, "group": 0, "rewards": [2.0]},
    {"id": 2, "group": 1, "rewards": [2.0]},
])


def test_grpo_known_answer():
    # group 0: mean 1, population std sqrt(2/3) = 0.8164966 -> A = (R - 1)/0.8164966 = 0, -1.2247449, +1.2247449
    # group 1 is a singleton: R - mean = 0.
    np.testing.assert_allclose(grpo(KA), [0, 0, -1.2247449, 1.2247449, 0], atol=1e-5)
    np.testing.assert_allclose(grpo(KA, normalize_std=False), [0, 0, -1, 1, 0])


def test_rloo_known_answer():
    # ep0: 1 - (0+2)/2 = 0; ep1: 0 - (1+2)/2 = -1.5; ep3: 2 - (1+0)/2 = 1.5; singleton group -> 0
    np.testing.assert_allclose(rloo(KA), [0, 0, -1.5, 1.5, 0])


def test_gae_known_answer():
    # rewards [1, 0, 2], values [0.5, 1.0, 1.5], gamma 0.9, lambda 0.5 (gamma*lambda = 0.45)
    # terminated: deltas 1.4, 0.35, 0.5 -> A2 = 0.5, A1 = 0.35 + 0.45*0.5 = 0.575, A0 = 1.4 + 0.45*0.575 = 1.65875
    # truncated: delta2 = 2 + 0.9*1.5 - 1.5 = 1.85 -> A1 = 0.35 + 0.45*1.85 = 1.1825, A0 = 1.4 + 0.45*1.1825 = 1.932125
    ep = {"id": 0, "group": 0, "rewards": [1.0, 0.0, 2.0], "values": [0.5, 1.0, 1.5]}
    term = make_batch([ep])
    trunc = make_batch([{**ep, "terminated": False, "truncated": True}])
    np.testing.assert_allclose(gae(term, gamma=0.9, lam=0.5), [1.65875, 0.575, 0.5])
    np.testing.assert_allclose(gae(trunc, gamma=0.9, lam=0.5), [1.932125, 1.1825, 1.85])
    np.testing.assert_allclose(gae_returns(term, gamma=0.9, lam=0.5), [2.15875, 1.575, 2.0])


def test_gae_needs_values():
    with pytest.raises(ValueError, match="value"):
        gae(dataclasses.replace(KA, value=None))


# ep0: states [a, b], rewards [0, 1]; ep1: states [a, c, b], rewards [0, 0, 2]; gamma 0.5
GI = make_batch([
    {"id": 0, "group": 0, "rewards": [0.0, 1.0], "states": [0, 1]},
    {"id": 1, "group": 0, "rewards": [0.0, 0.0, 2.0], "states": [0, 2, 1]},
])


def test_gigpo_known_answer():
    # R: ep0 = 1, ep1 = 2. Discounted returns: ep0 [0.5, 1], ep1 [0.5, 1, 2].
    # A_E trajectories: mean 1.5 -> -0.5, +0.5. A_E rows: mean (2*1 + 3*2)/5 = 1.6 -> -0.6, +0.4.
    # step groups: a = {0.5, 0.5} -> 0, 0; b = {1, 2} -> -0.5, +0.5; c singleton -> 0.
    np.testing.assert_allclose(gigpo(GI, gamma=0.5, mode="mean_norm"), [-0.5, -1.0, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(gigpo(GI, gamma=0.5, mode="mean_norm", episode_norm_over="rows"),
                               [-0.6, -1.1, 0.4, 0.4, 0.9])
    # mean_std_norm: episode std 0.5 -> +-1; step group b std 0.5 -> +-1; a has std 0 -> 0.
    np.testing.assert_allclose(gigpo(GI, gamma=0.5), [-1, -2, 1, 1, 2], atol=1e-5)
    # step_weight scales only A_S
    np.testing.assert_allclose(gigpo(GI, gamma=0.5, mode="mean_norm", step_weight=0.0), [-0.5, -0.5, 0.5, 0.5, 0.5])


def test_gigpo_bad_options():
    with pytest.raises(ConfigError, match="mean_norm"):
        gigpo(GI, mode="mean_nrom")
    with pytest.raises(ConfigError, match="rows"):
        gigpo(GI, episode_norm_over="row")


def test_igpo_known_answer():
    # score0 = -2. ep0 scores [-1.5, -1.0] -> gains [0.5, 0.5], outcome 1; ep1 scores [-2.5] -> gain [-0.5], outcome 0.
    # gains pooled: mean 1/6, std sqrt(2/9) = 0.4714045 -> z = 0.7071068 (x2), -1.4142136
    # outcomes [1, 0] -> z = +1, -1
    # ep0 shaped [0.7071068, 1.7071068] -> A = [2.4142136, 1.7071068]; ep1 shaped [-2.4142136] -> A = [-2.4142136]
    b = make_batch([
        {"id": 0, "group": 0, "rewards": [0.0, 0.0], "scores": [-1.5, -1.0], "outcome": 1.0},
        {"id": 1, "group": 0, "rewards": [0.0], "scores": [-2.5], "outcome": 0.0},
    ])
    np.testing.assert_allclose(igpo(b, score0=-2.0), [2.4142136, 1.7071068, -2.4142136], atol=1e-5)
    # score0=None: the first turn's gain is 0 -> gains [0, 0.5, 0]: mean 1/6, std 0.2357023
    # z = -0.7071068, 1.4142136, -0.7071068; ep0 A = [-0.7071068 + 2.4142136, 2.4142136], ep1 A = [-1.7071068]
    np.testing.assert_allclose(igpo(b), [1.7071068, 2.4142136, -1.7071068], atol=1e-5)


def test_mars_known_answer():
    # ep0 agents [0,1,0,1] rewards [1,0,2,-1]: rtg agent0 [3, 2], agent1 [-1, -1]; ep1 agents [0,1] rewards [0,1]
    # Per-role baseline over EPISODE returns (MARS agent-specific normalization): role 0 returns {3, 0} -> mean
    # 1.5; role 1 returns {-1, 1} -> mean 0. (The old per-turn-row baseline gave role 0 mean 5/3: it counted
    # ep0's second turn as if it were another episode.)
    b = make_batch([
        {"id": 0, "group": 0, "rewards": [1.0, 0.0, 2.0, -1.0], "agents": [0, 1, 0, 1]},
        {"id": 1, "group": 0, "rewards": [0.0, 1.0], "agents": [0, 1]},
    ])
    np.testing.assert_allclose(mars(b), [1.5, -1.0, 0.5, -1.0, -1.5, 1.0])
    # with std: role 0 std of {3, 0} = 1.5 (population); unbiased: 2.1213203
    np.testing.assert_allclose(mars(b, normalize_std=True)[[0, 2, 4]], [1.0, 1 / 3, -1.0], atol=1e-5)
    np.testing.assert_allclose(mars(b, normalize_std=True, unbiased_std=True)[[0, 2, 4]],
                               np.array([1.5, 0.5, -1.5]) / 2.1213203, atol=1e-5)


def test_mars_single_role_metrics():
    from turngym.agents.llm.estimators import estimator_metrics

    one = make_batch([{"id": 0, "group": 0, "rewards": [0.0, 1.0]}, {"id": 1, "group": 0, "rewards": [2.0]}])
    assert estimator_metrics("mars", one) == {"roles": 1.0, "single_role": 1.0}
    # single-role MARS with gamma=1 on outcome-only rewards is Dr. GRPO (R - mean R), broadcast per episode
    np.testing.assert_allclose(mars(one), grpo(one, normalize_std=False))
    two = make_batch([{"id": 0, "group": 0, "rewards": [0.0, 1.0], "agents": [0, 1]}])
    assert estimator_metrics("mars", two) == {"roles": 2.0, "single_role": 0.0}
    assert estimator_metrics("grpo", two) == {}


def test_shapers():
    b = make_batch([
        {"id": 0, "group": 0, "rewards": [0.5, 0.5, 1.0], "outcome": 1.0},
        {"id": 1, "group": 0, "rewards": [0.5, 0.5, 0.0], "outcome": 0.0},
    ])
    np.testing.assert_allclose(gated_accumulation(b, gate=0.5), [0.5, 0.5, 1.0, 0, 0, 0])
    np.testing.assert_allclose(b.reward, [0.5, 0.5, 1.0, 0.5, 0.5, 0.0])  # unchanged
    mask = np.array([0, 1, 0, 0, 0, 1], dtype=bool)
    np.testing.assert_allclose(invalid_action_penalty(b, mask, 0.25), [0.5, 0.25, 1.0, 0.5, 0.5, -0.25])
    with pytest.raises(ValueError, match="invalid_mask"):
        invalid_action_penalty(b, mask[:3], 0.25)


# ---------------------------------------------------------------------------- vectorized == loop reference
def random_batch(seed: int, n_groups: int = 12, unique_states: bool = False,
                 fixed_len: int | None = None) -> TurnBatch:
    rng = np.random.default_rng(seed)
    episodes = []
    next_id = 0
    for g in range(n_groups):
        for _ in range(int(rng.integers(1, 5))):  # size-1 groups included
            n = fixed_len or int(rng.integers(1, 7))
            term = bool(rng.random() < 0.6)
            episodes.append({
                "id": int(next_id * 7 + 3), "group": int(g * 5 + 1), "rewards": rng.normal(size=n).round(2),
                "agents": rng.integers(0, 2, size=n), "states": rng.integers(-1, 4, size=n),  # -1: unknown key
                "terminated": term, "truncated": (not term) and bool(rng.random() < 0.5),
                "values": rng.normal(size=n), "scores": rng.normal(size=n), "outcome": float(rng.integers(0, 2)),
            })
            next_id += 1
    order = rng.permutation(len(episodes))
    b = make_batch([episodes[i] for i in order])
    if unique_states:
        b = dataclasses.replace(b, state_key=np.arange(len(b)))
    return b


OPTIONS = {
    "grpo": [{}, {"normalize_std": False}, {"unbiased_std": True}],
    "rloo": [{}],
    "gae": [{}, {"gamma": 0.9, "lam": 0.7}],
    "gigpo": [{}, {"mode": "mean_norm"}, {"episode_norm_over": "rows", "step_weight": 0.5, "gamma": 0.8},
              {"unbiased_std": True}, {"unbiased_std": True, "episode_norm_over": "rows"}],
    "igpo": [{}, {"gamma": 0.9, "score0": -1.0}],
    "mars": [{}, {"normalize_std": True, "gamma": 0.9}, {"normalize_std": True, "unbiased_std": True}],
}


@pytest.mark.parametrize("name", sorted(OPTIONS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_loop_reference(name, seed):
    b = random_batch(seed)
    assert len(np.unique(b.group_id)) == 12
    for opts in OPTIONS[name]:
        np.testing.assert_allclose(get_estimator(name)(b, **opts), REFERENCES[name](b, **opts), atol=1e-6)


def test_igpo_per_row_score0_matches_reference():
    b = random_batch(5)
    s0 = np.random.default_rng(5).normal(size=len(b))
    np.testing.assert_allclose(igpo(b, score0=s0), REFERENCES["igpo"](b, score0=s0), atol=1e-6)


def test_reference_covers_every_estimator():
    assert set(REFERENCES) == set(ESTIMATORS) == {"grpo", "rloo", "gae", "gigpo", "igpo", "mars"}


# ---------------------------------------------------------------------------- issue 13: bugs 2, 3 and item 10
def test_gigpo_without_state_keys_has_no_step_advantage():
    # Bug 3: a batch built without state_key used to default every key to -1, and GiGPO pooled all -1 rows
    # of a task into one step group (non-zero A_S nearly everywhere). Unknown keys are singletons now.
    b = make_batch([{"id": i, "group": i // 4, "rewards": list(np.arange(i % 3 + 1) * 0.5 + i)} for i in range(8)])
    no_key = TurnBatch(episode_id=b.episode_id, group_id=b.group_id, turn=b.turn, reward=b.reward)
    assert (no_key.state_key == -1).all()
    for mode in ("mean_norm", "mean_std_norm"):
        np.testing.assert_array_equal(gigpo_step(no_key, mode=mode), 0.0)
        np.testing.assert_allclose(gigpo(no_key, mode=mode), gigpo_episode(no_key, mode=mode))
    # Known keys still pool; a -1 row beside them stays out of their group.
    mixed = make_batch([{"id": 0, "group": 0, "rewards": [0.0, 1.0], "states": [5, -1]},
                        {"id": 1, "group": 0, "rewards": [1.0, 0.0], "states": [5, -1]}])
    np.testing.assert_allclose(gigpo_step(mixed, mode="mean_norm", gamma=1.0), [0.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(gigpo_step(mixed, mode="mean_norm", gamma=0.5), [-0.25, 0.0, 0.25, 0.0])


def test_gae_value_targets_use_the_estimator_options():
    # Bug 2: the loop called gae_returns(batch) with defaults, so targets != A + V under other options.
    b = random_batch(4)
    opts = {"gamma": 0.5, "lam": 0.5}
    np.testing.assert_allclose(value_targets("gae", b, **opts), gae(b, **opts) + b.value, rtol=0, atol=1e-12)
    np.testing.assert_allclose(gae_returns(b, **opts), estimate("gae", b, **opts) + b.value, rtol=0, atol=1e-12)
    assert np.abs(value_targets("gae", b) - value_targets("gae", b, **opts)).max() > 0.1
    assert has_value_targets("gae") and not has_value_targets("gigpo")
    # A critic-free estimator (e.g. with turn-level PPO's value head) gets GAE's default lambda-returns;
    # its own options are checked but not passed on (they mean something else).
    np.testing.assert_allclose(value_targets("gigpo", b, gamma=0.8), gae_returns(b), atol=1e-12)


@pytest.mark.parametrize("name, bad, near", [("gae", "lamda", "lam"), ("gigpo", "step_wieght", "step_weight"),
                                             ("grpo", "unbiased", "unbiased_std")])
def test_unknown_estimator_options_are_errors(name, bad, near):
    b = random_batch(0)
    with pytest.raises(ConfigError, match=f"Did you mean '{near}'"):
        estimate(name, b, **{bad: 0.5})
    with pytest.raises(ConfigError, match=f"Did you mean '{near}'"):
        value_targets(name, b, **{bad: 0.5})
    with pytest.raises(ConfigError, match="unbiased_std"):
        grpo(b, unbiased_std="true")


def test_unbiased_std_known_answer():
    # group 0 returns {1, 0, 2}: population std sqrt(2/3), unbiased std 1 -> A = R - 1 exactly
    np.testing.assert_allclose(grpo(KA, unbiased_std=True), [0, 0, -1, 1, 0], atol=1e-5)
    np.testing.assert_allclose(grpo(KA), [0, 0, -1.2247449, 1.2247449, 0], atol=1e-5)
    # matches torch.std (TRL, verl-agent) on a group of 8
    import torch

    r = np.array([0.0, 1, 1, 0, 2, 0.5, 0, 1])
    b = make_batch([{"id": i, "group": 0, "rewards": [x]} for i, x in enumerate(r)])
    t = torch.tensor(r, dtype=torch.float64)
    np.testing.assert_allclose(grpo(b, unbiased_std=True), ((t - t.mean()) / (t.std() + 1e-6)).numpy(), atol=1e-12)
    # GiGPO's step level: a step group of 2 with returns {0.5, 1}: population std 0.25, unbiased 0.3535534
    np.testing.assert_allclose(gigpo_step(GI, gamma=0.5, unbiased_std=True), [0, -0.7071068, 0, 0, 0.7071068],
                               atol=1e-5)


# ---------------------------------------------------------------------------- properties
@pytest.mark.parametrize("seed", [0, 1])
def test_gigpo_without_repeated_states_is_grpo(seed):
    b = random_batch(seed, unique_states=True)
    np.testing.assert_allclose(gigpo(b), grpo(b), atol=1e-9)
    np.testing.assert_allclose(gigpo(b, mode="mean_norm"), grpo(b, normalize_std=False), atol=1e-9)


def test_gigpo_rows_vs_trajectories():
    ragged = random_batch(3)
    assert not np.allclose(gigpo(ragged), gigpo(ragged, episode_norm_over="rows"))
    equal = random_batch(3, fixed_len=4)
    np.testing.assert_allclose(gigpo(equal), gigpo(equal, episode_norm_over="rows"), atol=1e-9)


def test_advantages_are_broadcast_per_episode():
    b = random_batch(4)
    for fn in (grpo, rloo):
        adv = fn(b)
        for e in np.unique(b.episode_id):
            assert np.ptp(adv[b.episode_id == e]) == 0


def test_empty_batch():
    b = TurnBatch(episode_id=np.zeros(0, np.int64), group_id=np.zeros(0, np.int64), turn=np.zeros(0, np.int64),
                  reward=np.zeros(0), value=np.zeros(0), score=np.zeros(0))
    for name, fn in ESTIMATORS.items():
        assert fn(b).shape == (0,), name


# ---------------------------------------------------------------------------- registry
def test_registry_lookup_and_error():
    assert get_estimator("gigpo") is gigpo
    with pytest.raises(ConfigError, match="Did you mean 'gigpo'"):
        get_estimator("gipgo")
    with pytest.raises(ValueError, match="already registered"):
        register("grpo")(grpo)


# ---------------------------------------------------------------------------- TurnBatch validation
def _cols(**over):
    base = {"episode_id": np.array([0, 0, 1]), "group_id": np.array([0, 0, 0]), "turn": np.array([0, 1, 0]),
            "reward": np.array([0.0, 1.0, 2.0])}
    return {**base, **over}


@pytest.mark.parametrize("over, match", [
    ({"reward": np.array([0.0, 1.0])}, "reward: expected length 3"),
    ({"episode_id": np.array([0, 1, 0]), "turn": np.array([0, 0, 1])}, "consecutive"),
    ({"turn": np.array([1, 2, 0])}, "start at turn 0"),
    ({"turn": np.array([0, 2, 0])}, "increase by 1"),
    ({"group_id": np.array([0, 1, 1])}, "constant within an episode"),
    ({"terminated": np.array([True, False, False])}, "last turn"),
    ({"terminated": np.array([False, True, False]), "truncated": np.array([False, True, False])}, "both"),
    ({"state_key": np.array(["a", "b", "a"])}, "encode_keys"),
    ({"reward": np.zeros((3, 1))}, "1-D"),
])
def test_turnbatch_validation(over, match):
    with pytest.raises(ValueError, match=match):
        TurnBatch(**_cols(**over))


def test_turnbatch_defaults_and_encode_keys():
    b = TurnBatch(**_cols(state_key=encode_keys(["x", "y", "x"])))
    assert b.state_key.tolist() == [0, 1, 0] and b.state_key.dtype == np.int64
    assert b.agent_id.tolist() == [0, 0, 0] and not b.terminated.any() and b.value is None
    assert len(b) == 3 and b.num_episodes == 2
    assert encode_keys([]).shape == (0,)


def test_long_episode_uses_bucketed_scan_and_matches_reference():
    # one 40-turn episode among 1-turn ones: padding would exceed the limit, so the bucketed path runs
    rng = np.random.default_rng(7)
    eps = [{"id": 0, "group": 0, "rewards": rng.normal(size=40), "states": rng.integers(0, 3, size=40),
            "agents": rng.integers(0, 2, size=40), "values": rng.normal(size=40), "scores": rng.normal(size=40)}]
    eps += [{"id": i, "group": i % 3, "rewards": rng.normal(size=1), "states": [1]} for i in range(1, 30)]
    b = make_batch(eps)
    for name, ref in REFERENCES.items():
        np.testing.assert_allclose(get_estimator(name)(b), ref(b), atol=1e-6, err_msg=name)


def test_dense_codes_matches_unique():
    from turngym.agents.llm.estimators._segments import dense_codes

    rng = np.random.default_rng(11)
    for key in (rng.integers(0, 50, size=200), rng.integers(-5, 5, size=50), np.array([2**61, 3, 2**61])):
        ids, n = dense_codes(key)
        uniq, inv = np.unique(key, return_inverse=True)
        assert n == uniq.size and ids.tolist() == inv.reshape(-1).tolist()
