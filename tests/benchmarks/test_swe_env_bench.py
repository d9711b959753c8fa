"""The SWE env benchmark: task counts from the shipped data, and a real one-task run per backend.

The local run uses real bubblewrap sandboxes (skipped where the backend cannot run); the docker run a real daemon
and the task's image (skipped, with the reason, where either is missing).
"""

from __future__ import annotations

import json

import pytest

from turngym.benchmarks import swe_env as bench
from turngym.envs.swe import env as swe_env

REPO = "inflection"  # the smallest test suite: grading takes about a second


def test_task_table_counts_every_shipped_row() -> None:
    table = bench.task_table()
    tasks = swe_env.load_shipped()
    assert set(table["per_repo"]) == set(bench.REPOS)
    assert table["total"]["tasks"] == len(tasks) == 200
    assert table["total"]["test"] == sum(swe_env.split_of(t.instance_id) == "test" for t in tasks)
    for repo, row in table["per_repo"].items():
        assert row["train"] + row["test"] == row["tasks"] == sum(row["difficulty"].values())
        assert row["tasks"] == len(swe_env.load_shipped([repo]))
        assert list(row["difficulty"])[:3] == ["easy", "medium", "hard"]
        assert 1 <= row["files_touched_max"] and 1 <= row["lines_changed_mean"] <= row["lines_changed_max"]


def test_pick_tasks_is_seeded_and_within_the_split() -> None:
    import numpy as np

    n = sum(swe_env.split_of(t.instance_id) == "test" for t in swe_env.load_shipped([REPO]))
    a = bench.pick_tasks(REPO, "test", 3, np.random.default_rng(5))
    assert a == bench.pick_tasks(REPO, "test", 3, np.random.default_rng(5))
    assert len(set(a)) == 3 and all(0 <= i < n for i in a)
    assert bench.pick_tasks(REPO, "test", 100, np.random.default_rng(0)) == list(range(n))  # capped at the split
    assert bench.pick_tasks(REPO, "test", 0, np.random.default_rng(0)) == list(range(n))  # 0: all of it


def check_backend(result: dict, backend: str) -> None:
    for kind in ("cold", "warm"):
        phases = result["reset"][kind]
        assert phases["total"]["n"] >= 1
        for name in ("total", *bench.PHASES, "other"):
            assert phases[name]["p50_ms"] <= phases[name]["p95_ms"]
        # The phases are parts of the reset: each no longer than it.
        assert all(phases[p]["p95_ms"] <= phases["total"]["p95_ms"] for p in bench.PHASES)
    cold, warm = result["reset"]["cold"], result["reset"]["warm"]
    # Cold starts a sandbox inside borrow; warm reuses the pool's, so borrow is only a lock and a list pop.
    assert cold["pool"]["p50_ms"] > 10 * max(warm["pool"]["p95_ms"], 0.1)
    assert result["reset"]["infra_errors"] == 0
    for op, n in (("bash_true", 2), ("view", 2), ("state_tree_in_step", 4), ("sandbox_exec_true", 2)):
        s = result["step"][op]
        assert s["n"] == n and 0 < s["p50_ms"] <= s["p95_ms"]
    # A step refreshes the state tree after the command, so it costs more than the tree alone.
    assert result["step"]["bash_true"]["p50_ms"] > result["step"]["state_tree_in_step"]["p50_ms"]
    expert, rand = result["expert"], result["random"]
    assert expert["episodes"] == rand["episodes"] == 1 and expert["infra_errors"] == 0
    assert expert["success_rate"] == 1.0 and expert["graded"] == 1
    assert rand["success_rate"] == 0.0
    assert 0 < expert["grade"]["p50_ms"] <= expert["submit"]["p50_ms"]
    assert expert["episodes_per_hour_per_core"] == pytest.approx(3600 / expert["episode_s_mean"])
    rows = result["episodes"]
    assert [r["agent"] for r in rows] == ["expert", "random"]
    assert rows[0]["grade"] == {"resolution": "RESOLVED_FULL", "f2p_rate": 1.0, "p2p_rate": 1.0}
    assert rows[0]["instance_id"] == rows[1]["instance_id"] == result["tasks"][REPO][0]
    assert rows[0]["seed"] == rows[1]["seed"] == 7 * 1_000_000  # recorded: seed, repo 0, task 0
    leaks = result["leaks"]
    assert leaks["episodes"] == 3  # the cold reset's episode and the two agents'
    boxes = "sandbox_dirs" if backend == "local" else "containers"
    assert leaks["after"][boxes] == 0 and leaks["delta"]["child_processes"] <= 0


def run_quick(tmp_path, backend: str) -> dict:
    report = bench.main(["--backends", backend, "--repos", REPO, "--tasks-per-repo", "1", "--cold", "1",
                         "--steps", "2", "--seed", "7", "--out", str(tmp_path)])
    assert json.loads((tmp_path / "swe_env.json").read_text()) == json.loads(json.dumps(report))
    assert report["seed"] == 7 and report["machine"]["cores"] >= 1
    assert len(report["machine"]["loadavg_start"]) == len(report["machine"]["loadavg_end"]) == 3
    return report


@pytest.mark.skipif(swe_env._backend_problem("local") is not None, reason="the local backend cannot run here")
def test_quick_local_run(tmp_path, capsys) -> None:
    report = run_quick(tmp_path, "local")
    assert set(report["backends"]) == {"local"}
    check_backend(report["backends"]["local"], "local")
    out = capsys.readouterr().out
    assert "| local | cold | 1 |" in out and "| local | expert | 1 | 1.00 |" in out


def test_quick_docker_run_or_its_skip_reason(tmp_path) -> None:
    why, missing = bench.docker_problem([REPO])
    report = run_quick(tmp_path, "docker")
    result = report["backends"]["docker"]
    if why is not None or missing:
        assert "skipped" in result and result["skipped"]
        pytest.skip(f"docker: {result['skipped']}")
    check_backend(result, "docker")
