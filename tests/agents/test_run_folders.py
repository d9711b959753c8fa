"""Run folders (issue 12, item 11): one run per folder, --overwrite, --resume checks, checkpoint pruning,
the TensorBoard purge on resume, forged and broken checkpoints, and config errors found before any model
is loaded (item 12)."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import turngym.envs  # noqa: F401  (registers the ids)
from turngym.agents.llm.train.checkpoint import (
    CheckpointError,
    checkpoint_path,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
    validate_checkpoint,
)
from turngym.agents.llm.train.config import (
    AlgoConfig,
    EnvConfig,
    ModelConfig,
    OptimConfig,
    RolloutConfig,
    SFTConfig,
    TrainConfig,
    load_config,
    resume_differences,
)
from turngym.agents.llm.train.loop import train
from turngym.envs.core.errors import ConfigError


def small_config(out: Path, **overrides) -> TrainConfig:
    """Two iterations of the tiny model on Leduc, evaluated and saved after each (seconds)."""
    cfg = TrainConfig(
        model=ModelConfig(max_new_tokens=6),
        env=EnvConfig(),
        rollout=RolloutConfig(tasks_per_iter=2, group_size=2, max_turns=3),
        algo=AlgoConfig(estimator="grpo"),
        optim=OptimConfig(minibatch_size=8),
        iterations=2, eval_every=1, eval_episodes=4, checkpoint_every=1, out_dir=str(out),
        tensorboard=True, progress=False,
    )
    return replace(cfg, **overrides)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> TrainConfig:
    """One finished two-iteration run (TensorBoard on); tests copy its folder before changing anything."""
    cfg = small_config(tmp_path_factory.mktemp("finished") / "run")
    train(cfg)
    return cfg


def copy_run(cfg: TrainConfig, dest: Path) -> TrainConfig:
    shutil.copytree(cfg.out_dir, dest)
    return replace(cfg, out_dir=str(dest))


def metric_iterations(out: str | Path) -> list[int]:
    return [json.loads(line)["iteration"] for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]


def tensorboard_steps(out: str | Path, tag: str) -> list[int]:
    """Steps of ``tag`` as TensorBoard shows them (the reader applies the purge markers)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(Path(out) / "tb"))
    acc.Reload()
    return [e.step for e in acc.Scalars(tag)]


# ------------------------------------------------------------------------------------ one run per folder
def test_a_second_run_into_a_used_folder_is_refused_and_changes_nothing(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text('{"seed": 7}')
    with pytest.raises(ConfigError, match=r"--resume.*--overwrite"):
        train(small_config(out))
    assert (out / "config.json").read_text() == '{"seed": 7}'
    assert sorted(p.name for p in out.iterdir()) == ["config.json"]


def test_resume_and_overwrite_together_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="at most one"):
        train(small_config(tmp_path / "run", resume=True, overwrite=True))


def test_overwrite_replaces_every_artifact_of_the_old_run(finished_run, tmp_path):
    cfg = copy_run(finished_run, tmp_path / "run")
    out = Path(cfg.out_dir)
    (out / "notes.txt").write_text("mine")  # not a run artifact: --overwrite leaves it alone
    assert [it for it, _ in list_checkpoints(out)] == [1, 2]
    new = replace(cfg, iterations=1, seed=5, overwrite=True)
    train(new)
    assert [it for it, _ in list_checkpoints(out)] == [1]  # the old run's iteration-2 checkpoint is gone
    assert load_config(out / "config.json").seed == 5
    assert metric_iterations(out) == [0, 1]
    assert len(list((out / "tb").glob("events.out.tfevents.*"))) == 1  # no second run's event file mixed in
    assert tensorboard_steps(out, "eval/return_mean") == [0, 1]
    assert (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "summary.json").read_text())["iterations"] == 1


def test_unwritable_out_dir_is_a_config_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="out_dir"):
        train(small_config(tmp_path / "file" / "run"))


# ----------------------------------------------------------------------------------------------- resume
def test_resume_without_a_checkpoint_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="checkpoint"):
        train(small_config(tmp_path / "run", resume=True))


def test_resume_refuses_a_different_config_and_names_the_fields(finished_run, tmp_path):
    cfg = copy_run(finished_run, tmp_path / "run")
    other = replace(cfg, seed=1, algo=replace(cfg.algo, estimator="gigpo"), resume=True)
    with pytest.raises(CheckpointError, match=r"algo\.estimator: run 'grpo', given 'gigpo'; seed: run 0, given 1"):
        train(other)
    # Fields that only say how long, where and how visibly the run goes on may differ.
    same = replace(cfg, iterations=9, progress=True, tensorboard=False, eval_every=3, checkpoint_every=4,
                   torch_threads=2, out_dir="elsewhere", resume=True,
                   rollout=replace(cfg.rollout, executor="subprocess", workers=3),
                   model=replace(cfg.model, device="cpu"))
    assert resume_differences(finished_run, same) == []


def test_resume_with_more_iterations_updates_the_saved_config(finished_run, tmp_path):
    # Issue 13, item 15f: config.json used to keep the first invocation's iterations (2) after a resume to 3.
    cfg = copy_run(finished_run, tmp_path / "run")
    out = Path(cfg.out_dir)
    assert load_config(out / "config.json").iterations == 2
    train(replace(cfg, iterations=3, resume=True))
    assert load_config(out / "config.json").iterations == 3
    assert json.loads(load_checkpoint(checkpoint_path(out, 3))["config"])["iterations"] == 3
    assert metric_iterations(out) == [0, 1, 2, 3]
    assert json.loads((out / "summary.json").read_text())["iterations"] == 3


def test_every_evaluation_keeps_its_episodes_and_the_summary_pairs_first_and_last(finished_run, tmp_path):
    from turngym.agents.llm.train.loop import read_eval_episodes
    from turngym.agents.stats import paired_rate_test

    cfg = copy_run(finished_run, tmp_path / "run")
    out = Path(cfg.out_dir)
    # A crashed run's evaluation after the checkpoint it resumes from is dropped, then played again.
    with (out / "eval_episodes.jsonl").open("a") as f:
        f.write(json.dumps({"iteration": 3, "seed": 1, "success": True, "return": 9.0, "turns": 1,
                            "infra_error": None}) + "\n")
    train(replace(cfg, iterations=3, resume=True))
    evals = read_eval_episodes(out / "eval_episodes.jsonl")
    assert sorted(evals) == [0, 1, 2, 3]
    seeds = sorted(evals[0])
    assert len(seeds) == cfg.eval_episodes and all(sorted(e) == seeds for e in evals.values())
    lines = (out / "eval_episodes.jsonl").read_text().splitlines()
    assert len(lines) == 4 * cfg.eval_episodes  # the forged iteration-3 row is gone, not shadowed
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    for row in metrics:  # the logged mean return is the mean of the kept episodes
        kept = evals[row["iteration"]].values()
        assert row["eval/return_mean"] == pytest.approx(np.mean([e["return"] for e in kept]))
    paired = json.loads((out / "summary.json").read_text())["eval_paired"]
    expected = paired_rate_test([evals[0][s]["success"] for s in seeds], [evals[3][s]["success"] for s in seeds])
    assert paired == {"from_iteration": 0.0, "to_iteration": 3.0, **expected}


def test_tensorboard_keeps_the_checkpoint_step_after_resume(finished_run, tmp_path):
    cfg = copy_run(finished_run, tmp_path / "run")
    out = Path(cfg.out_dir)
    # Interrupted after logging iteration 2 but before its checkpoint: resume continues from iteration 1.
    checkpoint_path(out, 2).unlink()
    train(replace(cfg, resume=True))
    assert metric_iterations(out) == [0, 1, 2]
    # The eval point at the checkpoint's own step (1) survives the purge; step 2 appears once.
    assert tensorboard_steps(out, "eval/return_mean") == [0, 1, 2]
    assert tensorboard_steps(out, "train/loss") == [1, 2]


def test_resuming_a_finished_run_reports_its_last_evaluation(finished_run, tmp_path):
    cfg = copy_run(finished_run, tmp_path / "run")
    path = checkpoint_path(cfg.out_dir, 2)
    state = load_checkpoint(path)
    assert state["eval_after"] == json.loads((Path(cfg.out_dir) / "summary.json").read_text())["eval_after"]
    marked = {**state["eval_after"], "return_mean": 123.0}  # tells the checkpoint's value from eval_before
    torch.save({**state, "eval_after": marked}, path)
    result = train(replace(cfg, resume=True))  # nothing left to run: no iteration, no evaluation
    assert result.eval_after == marked
    assert result.eval_before == state["eval_before"]
    assert json.loads((Path(cfg.out_dir) / "summary.json").read_text())["eval_after"] == marked


# ------------------------------------------------------------------------------------------ checkpoints
def test_pruning_orders_checkpoints_by_iteration_not_by_file_name(tmp_path):
    for it in (999_998, 999_999, 1_000_000):  # "iter-1000000.pt" < "iter-999999.pt" as text
        save_checkpoint(tmp_path, it, {"x": torch.tensor(it)})
    assert [it for it, _ in list_checkpoints(tmp_path)] == [999_999, 1_000_000]
    assert latest_checkpoint(tmp_path) == checkpoint_path(tmp_path, 1_000_000)
    # A checkpoint above the one being saved is from a continuation this run replaced: --resume must not
    # pick it up later.
    save_checkpoint(tmp_path, 12, {"x": torch.tensor(12)})
    assert [it for it, _ in list_checkpoints(tmp_path)] == [12]


def _forge(state: dict, key: str, value) -> dict:
    forged = dict(state)
    if value is _DELETE:
        del forged[key]
    else:
        forged[key] = value
    return forged


_DELETE = object()


@pytest.mark.parametrize(("key", "value", "message"), [
    ("iteration", -1, r"outside \[0, 2\]"),
    ("iteration", 3, r"outside \[0, 2\]"),
    ("iteration", 10**30, r"outside \[0, 2\]"),
    ("iteration", "2", "must be an int"),
    ("iteration", True, "must be an int"),
    ("iteration", 1, "file name says iteration 2"),
    ("iteration", _DELETE, "missing iteration"),
    ("model", _DELETE, "missing model"),
    ("model", "weights", "'model' must be a state dict"),
    ("policy_rng", torch.zeros(3), "'policy_rng' must be a torch.Generator state"),
    ("task_rng", [1, 2], "'task_rng' must be a numpy bit-generator state"),
    ("eval_before", {"return_mean": "high"}, "'eval_before' must be a dict of metrics"),
    ("config", {"seed": 0}, "'config' must be the run's config"),
])
def test_forged_checkpoints_are_rejected(finished_run, key, value, message):
    path = checkpoint_path(finished_run.out_dir, 2)
    state = load_checkpoint(path)
    assert validate_checkpoint(state, path, 2) == 2
    with pytest.raises(CheckpointError, match=message):
        validate_checkpoint(_forge(state, key, value), path, 2)


def test_a_checkpoint_beyond_the_run_is_rejected_on_resume(finished_run, tmp_path):
    cfg = copy_run(finished_run, tmp_path / "run")
    state = load_checkpoint(checkpoint_path(cfg.out_dir, 2))
    torch.save({**state, "iteration": 50}, checkpoint_path(cfg.out_dir, 50))
    with pytest.raises(CheckpointError, match=r"iteration 50 is outside \[0, 2\]"):
        train(replace(cfg, resume=True))


def test_a_checkpoint_that_does_not_fit_the_model_is_rejected(finished_run, tmp_path):
    cfg = copy_run(finished_run, tmp_path / "run")
    path = checkpoint_path(cfg.out_dir, 2)
    state = load_checkpoint(path)
    name = next(iter(state["model"]))
    torch.save({**state, "model": {**state["model"], name: torch.zeros(3)}}, path)
    with pytest.raises(CheckpointError, match="does not fit"):
        train(replace(cfg, resume=True))


@pytest.mark.parametrize("damage", ["empty", "truncated", "random bytes", "a list"])
def test_broken_checkpoint_files_are_a_clear_error(finished_run, tmp_path, damage):
    cfg = copy_run(finished_run, tmp_path / "run")
    path = checkpoint_path(cfg.out_dir, 2)
    data = path.read_bytes()
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "random bytes":
        path.write_bytes(torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0),
                                       dtype=torch.uint8).numpy().tobytes())
    else:
        torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match=str(path.name)):
        train(replace(cfg, resume=True))


# ------------------------------------------------------------------------- config errors, before loading
@pytest.mark.parametrize(("overrides", "field"), [
    ({"eval_episodes": 0}, "eval_episodes"),
    ({"eval_every": 0}, "eval_every"),
    ({"checkpoint_every": 0}, "checkpoint_every"),
    ({"seed": -1}, "seed"),
    ({"model": ModelConfig(temperature=math.nan)}, "model.temperature"),
    ({"model": ModelConfig(temperature=-1.0)}, "model.temperature"),
    ({"model": ModelConfig(top_p=math.nan)}, "model.top_p"),
    ({"model": ModelConfig(top_p=0.0)}, "model.top_p"),
    ({"model": ModelConfig(max_new_tokens=0)}, "model.max_new_tokens"),
    ({"eval_temperature": math.inf}, "eval_temperature"),
    ({"optim": OptimConfig(lr=math.nan)}, "optim.lr"),
    ({"optim": OptimConfig(target_kl=0.0)}, "optim.target_kl"),
    ({"sft": SFTConfig(prompt_weight=-1.0)}, "sft.prompt_weight"),
    ({"env": EnvConfig(kwargs='["split", "test"]')}, "env.kwargs"),  # not a JSON object
    ({"env": EnvConfig(eval_kwargs="{split: test}")}, "env.eval_kwargs"),
    ({"env": EnvConfig(kwargs='{"size": NaN}')}, "env.kwargs"),  # Python's json accepts NaN; strict JSON does not
    ({"env": EnvConfig(eval_kwargs='{"size": -Infinity}')}, "env.eval_kwargs"),
    ({"algo": AlgoConfig(epo_kappa_low=1.0, epo_kappa_high=0.5)}, "algo.epo_kappa_high"),
    ({"algo": AlgoConfig(epo_kappa_low=-1.0)}, "algo.epo_kappa_low"),
    ({"env": EnvConfig(kwargs='{"obs_mode": "vector"}')}, "obs_mode"),
    ({"env": EnvConfig(eval_kwargs='{"obs_mode": "vector"}')}, "obs_mode"),
    ({"env": EnvConfig(env_id="turngym/LeducHoldm-v0")}, "LeducHoldem"),
    ({"model": ModelConfig(name="/nonexistent/model")}, "model.name"),
])
def test_bad_config_is_a_config_error(tmp_path, overrides, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        train(small_config(tmp_path / "run", **overrides))


def test_empty_env_kwargs_take_the_registry_training_and_held_out_arguments():
    # Leduc declares its opponent and seat; the puzzles declare the test split for evaluation.
    leduc = EnvConfig()
    assert leduc.train_kwargs() == {"obs_mode": "text", "opponents": ["random"], "seat": "random"}
    assert leduc.held_out_kwargs() == leduc.train_kwargs()
    sokoban = EnvConfig(env_id="turngym/Sokoban-v0")
    assert sokoban.train_kwargs() == {} and sokoban.held_out_kwargs() == {"split": "test"}
    # Explicit values win, "{}" included; the registry's dicts are copies (a caller's edit does not leak back).
    explicit = EnvConfig(env_id="turngym/Sokoban-v0", kwargs='{"num_boxes": 2}', eval_kwargs="{}")
    assert explicit.train_kwargs() == explicit.held_out_kwargs() == {"num_boxes": 2}
    leduc.train_kwargs()["opponents"].append("cfr")
    assert leduc.train_kwargs()["opponents"] == ["random"]
