"""The credit-assignment benchmark: paired statistics are right, and a smoke run writes consistent JSON + PNG."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest
from scipy import stats


def test_paired_test_matches_scipy_and_the_differences():
    from turngym.benchmarks.credit_assignment import paired_test

    a, b = [0.5, 0.7, 0.6, 0.9, 0.4], [0.4, 0.5, 0.6, 0.6, 0.5]
    out = paired_test(a, b)
    assert out["differences"] == pytest.approx([0.1, 0.2, 0.0, 0.3, -0.1])
    assert out["mean_diff"] == pytest.approx(0.1) and (out["wins"], out["losses"]) == (3, 1)
    assert out["p_value"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert out["ci_low"] < out["mean_diff"] < out["ci_high"]  # bootstrap CI of the mean difference
    assert paired_test(a, b)["ci_low"] == out["ci_low"]  # seeded bootstrap: reproducible
    same = paired_test([0.3, 0.3], [0.1, 0.1])  # no spread: no test, a zero-width interval at the mean
    assert np.isnan(same["p_value"]) and same["ci_low"] == same["ci_high"] == pytest.approx(0.2)


def test_collapse_counter():
    from turngym.benchmarks.credit_assignment import _collapses

    assert _collapses([0.1, 0.9, 1.0, 0.02, 0.5, 0.6]) == 1
    assert _collapses([0.2]) == 0


def test_quick_leduc_comparison_writes_paired_results(tmp_path):
    from turngym.benchmarks import credit_assignment as ca

    assert ca.main(["--env", "leduc", "--quick", "--seeds", "0", "1", "--methods", "grpo", "gigpo",
                    "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "credit_assignment_leduc.json").read_text())
    assert (tmp_path / "credit_assignment_leduc.png").stat().st_size > 10_000
    assert result["metric"] == "return_mean" and result["seeds"] == [0, 1]
    assert "--seeds 0 1" in result["command"]
    summary = result["summary"]
    assert set(summary["methods"]) == {"grpo", "gigpo"} and list(summary["paired"]) == ["gigpo - grpo"]
    runs = {(r["method"], r["seed"]): r for r in result["runs"]}
    for method, row in summary["methods"].items():
        assert [p["iteration"] for p in row["curve"]] == [0, 1, 2] and all(p["n"] == 2 for p in row["curve"])
        for p in row["curve"]:  # the aggregate is the mean of the seeds' eval points, inside its band
            vals = [q["value"] for s in (0, 1) for q in runs[(method, s)]["curve"] if q["iteration"] == p["iteration"]]
            assert np.isclose(p["mean"], np.mean(vals)) and p["ci_low"] <= p["mean"] <= p["ci_high"]
        assert "train/advantage_std" in row["diagnostics"]
    # Same seed, same initial weights: every method starts from the same evaluation, so pairing is by seed.
    for s in (0, 1):
        assert runs[("grpo", s)]["curve"][0]["value"] == runs[("gigpo", s)]["curve"][0]["value"]
    diff = summary["paired"]["gigpo - grpo"]["final"]
    expected = [runs[("gigpo", s)]["curve"][-1]["value"] - runs[("grpo", s)]["curve"][-1]["value"] for s in (0, 1)]
    assert diff["differences"] == pytest.approx(expected)


def test_igpo_is_refused_where_the_env_has_no_gold_answers(tmp_path):
    from turngym.benchmarks import credit_assignment as ca

    with pytest.raises(SystemExit):
        ca.main(["--env", "leduc", "--quick", "--methods", "igpo", "--out", str(tmp_path)])


@pytest.mark.parametrize("env", ["frozenlake", "sokoban", "toolqa", "webshop"])
@pytest.mark.parametrize("method", ["grpo", "gigpo-epo", "turn-ppo"])
def test_each_run_is_one_turngym_train_command(env, method, tmp_path):
    from turngym.agents.llm.train.cli import parse_train_args
    from turngym.benchmarks.credit_assignment import PRESETS, cli_args, run_config

    cfg = run_config(PRESETS[env], method, 3, tmp_path / "run")
    assert parse_train_args(cli_args(cfg)) == cfg


def test_sokoban_runs_share_one_warm_start_and_reuse_it(tmp_path):
    from turngym.agents.llm.train.cli import parse_train_args
    from turngym.benchmarks import credit_assignment as ca

    argv = ["--env", "sokoban", "--quick", "--seeds", "0", "1", "--methods", "grpo", "gigpo", "--out", str(tmp_path)]
    assert ca.main(argv) == 0
    result = json.loads((tmp_path / "credit_assignment_sokoban.json").read_text())
    warm = tmp_path / "runs-sokoban" / "warm-start"
    assert result["warm_start"]["command"].startswith("turngym sft ") and "--sft.prompt-weight 1.0" in \
        result["warm_start"]["command"]
    for run in result["runs"]:  # every run loads the shared folder and trains no warm start of its own
        cfg = parse_train_args(shlex.split(run["command"])[2:])
        assert cfg.model.name == str(warm) and cfg.sft.episodes == 0
    # Same warm start: every (method, seed) starts from the same held-out evaluation.
    starts = {r["curve"][0]["value"] for r in result["runs"]}
    assert len(starts) == 1
    stamp = (warm / "model.safetensors").stat().st_mtime_ns
    once = argv[:4] + ["0", "--methods", "grpo", "--out", str(tmp_path)]
    assert ca.main(once) == 0  # cached: not trained again
    assert (warm / "model.safetensors").stat().st_mtime_ns == stamp
    record = json.loads((warm / "warm_start.json").read_text())
    record["args"][record["args"].index("--seed") + 1] = "7"  # a different warm start: trained again
    (warm / "warm_start.json").write_text(json.dumps(record))
    assert ca.main(once) == 0
    assert json.loads((warm / "warm_start.json").read_text())["args"] == ca.warm_start_args(
        ca.quick(ca.PRESETS["sokoban"]), warm)


def test_webshop_preset_stops_free_text_at_the_bracket_and_keeps_success_beside_the_score():
    from turngym.benchmarks import credit_assignment as ca

    preset = ca.PRESETS["webshop"]
    cfg = ca.run_config(preset, "gigpo", 0, Path("unused"))
    assert cfg.model.stop == ("]",) and cfg.rollout.constrain and preset.metric == "return_mean"
    runs = [{"method": m, "seed": s, "seconds": 1.0, "diagnostics": {},
             "curve": [{"iteration": 0, "value": 0.5, "success": 0.1},
                       {"iteration": 8, "value": 0.5 + d, "success": 0.1 + d}]}
            for m, d in (("grpo", 0.0), ("gigpo", 0.1)) for s in (0, 1)]
    table = ca.summarize(runs, ["grpo", "gigpo"], [0, 1])["methods"]
    assert table["gigpo"]["success"] == {"start": [0.1, 0.1], "final": [0.2, 0.2]}
    assert ca._title(preset, [0, 1, 2])[1] == "held-out WebShop score"
