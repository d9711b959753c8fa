"""``--resume`` with ``--selfplay``: the opponent pool is checkpointed and a resumed run is bit-for-bit the same.

The self-play analogue of ``test_train.py::test_resume_is_bit_for_bit``, plus the opponent pool's checkpoint
format against forged entries (DESIGN section 5: checkpoints may be forged), the LoRA layout of a member's
weights, the progress bar's self-play numbers, and the run folder of a self-play run.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import turngym.envs  # noqa: F401  (registers the ids)
from turngym.agents.llm.policies.tiny import build_policy
from turngym.agents.llm.rollout import RolloutSettings
from turngym.agents.llm.selfplay import (
    OpponentPool,
    check_pool_state,
    collect_selfplay,
    member_weight_names,
    selfplay_metrics,
)
from turngym.agents.llm.train.checkpoint import (
    CheckpointError,
    checkpoint_path,
    clear_run_folder,
    list_checkpoints,
    load_checkpoint,
)
from turngym.agents.llm.train.config import (
    AlgoConfig,
    EnvConfig,
    ModelConfig,
    OpponentPoolConfig,
    OptimConfig,
    RolloutConfig,
    TrainConfig,
)
from turngym.agents.llm.train.loop import (
    EVAL_EPISODES,
    SELFPLAY_GAMES,
    _check_resumed_pool,
    _resume_state,
    _Run,
    progress_postfix,
    snapshot_iterations,
    train,
)

pytestmark = pytest.mark.usefixtures("one_thread")

ENV = "turngym/TicTacToe-v0"


def selfplay_config(out: Path, **overrides) -> TrainConfig:
    """Self-play with a rating-weighted pool that drops members (max_size 3 < snapshots): seconds per iteration."""
    cfg = TrainConfig(
        model=ModelConfig(max_new_tokens=4), env=EnvConfig(env_id=ENV),
        rollout=RolloutConfig(tasks_per_iter=2, group_size=2, max_turns=5), algo=AlgoConfig(estimator="mars"),
        optim=OptimConfig(minibatch_size=16), iterations=4, eval_every=2, eval_episodes=4, checkpoint_every=2,
        out_dir=str(out), tensorboard=False, progress=False, selfplay=True,
        opponents=OpponentPoolConfig(fraction=0.5, snapshot_every=1, max_size=3, sampling="rating"))
    return replace(cfg, **overrides)


def metric_rows(out: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if not k.startswith("time/")}
            for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())]


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def assert_same_pool(a: dict, b: dict) -> None:
    assert [m["name"] for m in a["members"]] == [m["name"] for m in b["members"]]
    for ma, mb in zip(a["members"], b["members"], strict=True):
        assert ma["weights"].keys() == mb["weights"].keys()
        for k in ma["weights"]:
            assert torch.equal(ma["weights"][k], mb["weights"][k]), (ma["name"], k)
        assert torch.equal(ma["generator"], mb["generator"]), ma["name"]
    for key in ("rng", "records", "added", "last_learner"):
        assert a[key] == b[key], key


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> TrainConfig:
    """Four uninterrupted self-play iterations."""
    cfg = selfplay_config(tmp_path_factory.mktemp("straight") / "run")
    train(cfg)
    return cfg


def test_a_resumed_selfplay_run_is_bit_for_bit_the_same(straight, tmp_path):
    out = tmp_path / "run"
    first = selfplay_config(out, iterations=3)
    train(first)
    # Killed after iteration 3 was logged and its games written, before its checkpoint: resume from 2.
    checkpoint_path(out, 3).unlink()
    assert max(g["iteration"] for g in jsonl(out / SELFPLAY_GAMES)) == 3
    with open(out / SELFPLAY_GAMES, "a") as f:  # and torn mid-line
        f.write('{"iteration": 3, "se')
    state = load_checkpoint(checkpoint_path(out, 2))
    assert [m["name"] for m in state["opponent_pool"]["members"]] == ["iter0", "iter1"]
    with pytest.warns(RuntimeWarning, match="torn last line"):
        train(replace(first, iterations=4, resume=True))

    a, b = Path(straight.out_dir), out
    assert metric_rows(a) == metric_rows(b)
    assert jsonl(a / SELFPLAY_GAMES) == jsonl(b / SELFPLAY_GAMES)
    assert jsonl(a / EVAL_EPISODES) == jsonl(b / EVAL_EPISODES)
    ca, cb = load_checkpoint(checkpoint_path(a, 4)), load_checkpoint(checkpoint_path(b, 4))
    for k in ca["model"]:
        assert torch.equal(ca["model"][k], cb["model"][k]), k
    assert torch.equal(ca["policy_rng"], cb["policy_rng"])
    assert_same_pool(ca["opponent_pool"], cb["opponent_pool"])
    # The pool went on past the checkpoint: iteration 4 added iter3 and dropped iter0 (max_size 3); iter1, a
    # member restored from the checkpoint, is still in it (its sampling generator is compared above).
    pool = cb["opponent_pool"]
    assert [m["name"] for m in pool["members"]] == ["iter1", "iter2", "iter3"] and pool["added"] == 4
    assert pool["last_learner"] == "iter3" and len(pool["records"]) == 4 * 2 * 2
    games = jsonl(b / SELFPLAY_GAMES)
    assert [g["iteration"] for g in games] == [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4
    assert [(r["seed"], r["seats"]) for r in pool["records"]] == [(g["seed"], g["seats"]) for g in games]
    # Restored members played after the resume (their weights and generators were used, not only stored).
    assert {s for g in games if g["iteration"] > 2 for s in g["seats"]} & {"iter0", "iter1"}


# -------------------------------------------------------------------------------- forged pool entries
def _forge(pool: dict, where: str, value) -> dict:
    forged = {**pool, "members": [dict(m) for m in pool["members"]], "records": [dict(r) for r in pool["records"]]}
    path = where.split(".")
    target = forged
    for step in path[:-1]:
        target = target[int(step)] if isinstance(target, list) else target[step]
    last = path[-1]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return forged


_DELETE = object()


@pytest.mark.parametrize(("where", "value", "message"), [
    ("members", "iter0", "'members' must be a list"),
    ("members.0.name", 7, "name must be a distinct non-empty string"),
    ("members.1.name", "iter1", "name must be a distinct non-empty string"),
    ("members.1.name", "iter9", r"holds \['iter1', 'iter9', 'iter3'\]"),
    ("members.0.weights", [1, 2], "weights must be a state dict"),
    ("members.0.generator", torch.zeros(8), "generator must be a torch.Generator state"),
    ("members.0.extra", 1, "members\\[0\\] must be a dict with keys"),
    ("rng", [1, 2], "'rng' must be a numpy bit-generator state"),
    ("records", {"a": 1}, "'records' must be a list"),
    ("records.0", {"seed": 1}, r"records\[0\] must be"),
    ("records.0.returns", ["win", "loss"], r"records\[0\] must be"),
    ("records.0.seed", True, r"records\[0\] must be"),
    ("added", 3, r"\(3 added\); after iteration 4"),
    ("added", "4", "'added' must be an int"),
    ("last_learner", "iter9", "last_learner 'iter9' is not one of iter0..iter3"),
    ("last_learner", _DELETE, "must be a dict with keys"),
])
def test_forged_pool_structure_is_refused_before_any_model_loads(straight, tmp_path, where, value, message):
    path = checkpoint_path(straight.out_dir, 4)
    state = load_checkpoint(path)
    assert _resume_state(straight, path)["iteration"] == 4
    forged = tmp_path / "checkpoints" / path.name
    forged.parent.mkdir()
    torch.save({**state, "opponent_pool": _forge(state["opponent_pool"], where, value)}, forged)
    with pytest.raises(CheckpointError, match=message) as caught:
        _resume_state(straight, forged)
    assert str(forged) in str(caught.value)


def test_a_checkpoint_without_or_with_a_stray_pool_is_refused(straight, tmp_path):
    path = checkpoint_path(straight.out_dir, 4)
    state = load_checkpoint(path)
    with pytest.raises(CheckpointError, match="without its opponent pool"):
        _check_resumed_pool(straight, {**state, "opponent_pool": None}, path)
    with pytest.raises(CheckpointError, match="without its opponent pool"):  # a checkpoint from before the pool
        _check_resumed_pool(straight, {k: v for k, v in state.items() if k != "opponent_pool"}, path)
    with pytest.raises(CheckpointError, match="not a self-play run"):
        _check_resumed_pool(replace(straight, selfplay=False), state, path)
    forged = tmp_path / "checkpoints" / path.name
    forged.parent.mkdir()
    torch.save({**state, "opponent_pool": "iter0,iter1"}, forged)
    with pytest.raises(CheckpointError, match="'opponent_pool' must be an opponent pool state"):
        _resume_state(straight, forged)


def _copy_run(cfg: TrainConfig, dest: Path) -> TrainConfig:
    shutil.copytree(cfg.out_dir, dest)
    return replace(cfg, out_dir=str(dest), iterations=5, resume=True)


@pytest.mark.parametrize("damage", ["missing weight", "extra weight", "wrong shape", "short generator",
                                    "other bit generator", "unscorable record"])
def test_a_pool_that_does_not_fit_the_model_is_a_clear_error(straight, tmp_path, damage):
    cfg = _copy_run(straight, tmp_path / "run")
    path = checkpoint_path(cfg.out_dir, 4)
    state = load_checkpoint(path)
    pool = state["opponent_pool"]
    weights = dict(pool["members"][1]["weights"])
    name = sorted(weights)[0]
    if damage == "missing weight":
        del weights[name]
        pool = _forge(pool, "members.1.weights", weights)
        message = r"members\[1\] \('iter2'\): its weights do not fit this model \(missing"
    elif damage == "extra weight":
        pool = _forge(pool, "members.1.weights", {**weights, "lm_head.backdoor": torch.zeros(1)})
        message = r"unexpected \['lm_head.backdoor'\]"
    elif damage == "wrong shape":
        pool = _forge(pool, "members.1.weights", {**weights, name: torch.zeros(3)})
        message = r"members\[1\] \('iter2'\): .*size mismatch"
    elif damage == "short generator":
        pool = _forge(pool, "members.0.generator", torch.zeros(16, dtype=torch.uint8))
        message = r"members\[0\] \('iter1'\)"
    elif damage == "other bit generator":
        pool = _forge(pool, "rng", {"bit_generator": "SFC64", "state": {"state": [1, 2, 3, 4]}, "has_uint32": 0,
                                    "uinteger": 0})
        message = "rng: not a state of this pool's PCG64"
    else:  # a scored game whose returns do not match its seats
        pool = _forge(pool, "records.0", {**pool["records"][0], "returns": [1.0], "infra_error": None})
        message = r"records\[0\]: "
    torch.save({**state, "opponent_pool": pool}, path)
    before = sorted(p.name for p in Path(cfg.out_dir).iterdir())
    with pytest.raises(CheckpointError, match=message) as caught:
        train(cfg)
    assert str(path) in str(caught.value) and "opponent_pool" in str(caught.value)
    assert sorted(p.name for p in Path(cfg.out_dir).iterdir()) == before
    assert [it for it, _ in list_checkpoints(cfg.out_dir)] == [2, 4], "a refused resume writes nothing"


def test_pool_state_checks_its_size_and_the_snapshot_schedule() -> None:
    assert snapshot_iterations(4, 1, 2) == [2, 3]
    assert snapshot_iterations(25, 10, 8) == [0, 10, 20] and snapshot_iterations(0, 3, 8) == []
    pool = OpponentPool(max_size=1)
    with pytest.raises(ValueError, match="at most 1"):
        check_pool_state({"members": [{}, {}], "rng": {}, "records": [], "added": 2, "last_learner": None}, 1)
    state = pool.state_dict(build_policy("tiny", seed=0))
    check_pool_state(state, 1)
    assert state["members"] == [] and state["added"] == 0 and state["last_learner"] is None


# ------------------------------------------------------------------------------------------- LoRA layout
def test_lora_members_store_only_the_adapters_and_play_the_same_after_a_reload() -> None:
    learner = build_policy("tiny", seed=0, max_new_tokens=4).with_lora(r=2)
    names = member_weight_names(learner.model)
    trained = {n for n, p in learner.model.named_parameters() if p.requires_grad}
    assert names == trained and all(".lora_" in n for n in names), "frozen base weights are not stored"
    pool = OpponentPool(max_size=2, seed=3)
    with torch.no_grad():  # make the member differ from a fresh LoRA init (peft starts lora_B at 0)
        for n, p in learner.model.named_parameters():
            if p.requires_grad:
                p.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(len(n))))
    pool.add(learner, "iter0")
    state = pool.state_dict(learner)
    assert set(state["members"][0]["weights"]) == names and len(names) < len(learner.model.state_dict())
    # A later learner (its adapters moved on) rebuilds the member from the stored adapters.
    with torch.no_grad():
        for p in learner.model.parameters():
            if p.requires_grad:
                p.mul_(-1.0)
    restored = OpponentPool(max_size=2, seed=3)
    restored.load_state_dict(state, learner)
    a, b = pool.members[0].policy, restored.members[0].policy
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    settings = RolloutSettings(history_turns=0, max_turns=9, max_context_tokens=None, constrain=True,
                               include_first=False)
    ga = [g.text for g in a.generate([[{"role": "user", "content": "board"}]] * 3)]
    gb = [g.text for g in b.generate([[{"role": "user", "content": "board"}]] * 3)]
    assert ga == gb
    ro = collect_selfplay(ENV, learner, [0], 2, settings, opponents=restored.opponents(), opponent_fraction=0.5,
                          rng=restored.rng)
    assert selfplay_metrics(ro)["pool_games"] == 2


# ------------------------------------------------------------------------------- the run and its folder
def test_a_selfplay_run_builds_no_single_agent_training_pool(tmp_path):
    run = _Run(selfplay_config(tmp_path / "run"))
    try:
        assert run.pool is None and run.eval_pool is not None
    finally:
        run.close()


def test_overwrite_removes_the_selfplay_games_of_the_old_run(tmp_path):
    (tmp_path / SELFPLAY_GAMES).write_text('{"iteration": 1}\n')
    (tmp_path / "notes.txt").write_text("mine")
    assert SELFPLAY_GAMES in clear_run_folder(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_the_progress_bar_shows_selfplay_numbers_not_nan():
    metrics = {"rollout/pool_score": 0.625, "rollout/seat0_return_mean": 0.5, "rollout/seat1_return_mean": -0.25,
               "rollout/invalid_action_frac": 0.1, "rollout/pool_games": 8.0}
    assert progress_postfix(metrics, selfplay=True) == {"pool": "0.62", "ret": "+0.50/-0.25", "invalid": "0.10"}
    assert progress_postfix({"rollout/seat0_return_mean": 0.0}, selfplay=True) == {
        "pool": "-", "ret": "+0.00", "invalid": "-"}
    assert progress_postfix({"rollout/success_rate": 0.5, "rollout/return_mean": 1.0}, selfplay=False) == {
        "success": "0.50", "ret": "1.00"}
    assert "nan" not in "".join(progress_postfix({}, selfplay=False).values())
