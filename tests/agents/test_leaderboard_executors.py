"""The leaderboard's executors (issue 16, "parallel over the env pools"): in-process, worker processes and real
Ray actors log the same games, append them as they finish (a run resumed on another executor completes the
same log), and re-raise a worker's error with its own type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from turngym.agents.leaderboard import EXECUTORS, LOG_NAME, parse_suite, read_log, run_suite, summarize
from turngym.agents.leaderboard.workers import chunk_size, chunks, play_matches, resolve_executor
from turngym.envs import ConfigError
from turngym.envs.pool import WorkerError

BAD = {"name": "bad", "kind": "scripted", "factory": "turngym.agents.leaderboard.agents:ConstantAgent",
       "kwargs": {"action": "xyzzy"}}


def mixed_suite() -> dict[str, Any]:
    """Two-seat games with chance (Kuhn, CFR+ vs random vs an agent that forfeits), a board game, and a
    single-agent task: every kind of log line."""
    return {"name": "mixed", "seeds": [0, 1, 2, 3], "n_boot": 50, "agents": [
        {"name": "cfr+", "kind": "cfr", "iterations": 30}, {"name": "random", "kind": "random", "seed": 3}, BAD],
        "envs": [{"id": "turngym/KuhnPoker-v0", "hands": 3},
                 {"id": "turngym/TicTacToe-v0", "agents": ["random", "bad"]},
                 {"id": "turngym/FrozenLake-v0", "agents": ["random"], "kwargs": {"max_steps": 8}}]}


def strip(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records without their timing (the one field that may differ between executors)."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


@pytest.fixture(scope="module")
def inprocess_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return run_suite(parse_suite(mixed_suite()), tmp_path_factory.mktemp("inprocess"), executor="inprocess")


def test_the_reference_run_has_every_kind_of_line(inprocess_run: Any) -> None:
    records = inprocess_run.records
    assert inprocess_run.played == inprocess_run.scheduled == 4 * (6 + 2 + 1)
    assert inprocess_run.executor == "inprocess" and inprocess_run.workers == 1
    assert any(r["forfeit"] for r in records) and any(r["forfeit"] is None and len(r["seats"]) == 2 for r in records)
    assert any(len(r["seats"]) == 1 for r in records)


@pytest.mark.parametrize("executor", ["subprocess", "ray"])
def test_every_executor_logs_the_same_games(executor: str, inprocess_run: Any, tmp_path: Path,
                                            request: pytest.FixtureRequest) -> None:
    if executor == "ray":
        request.getfixturevalue("ray_cluster")
    suite = parse_suite(mixed_suite())
    result = run_suite(suite, tmp_path, executor=executor, workers=2)
    assert (result.executor, result.workers, result.played) == (executor, 2, inprocess_run.scheduled)
    assert strip(result.records) == strip(inprocess_run.records)  # schedule order, whoever finished first
    logged = read_log(tmp_path / LOG_NAME)
    assert sorted(json.dumps(r, sort_keys=True) for r in strip(logged)) == sorted(
        json.dumps(r, sort_keys=True) for r in strip(inprocess_run.records))  # every line appended once
    s1, s2 = summarize(suite, inprocess_run.records), summarize(suite, result.records)
    assert s1.board == s2.board and s1.openskill == s2.openskill and s1.forfeits == s2.forfeits


def test_a_run_resumed_on_another_executor_completes_the_same_log(inprocess_run: Any, tmp_path: Path) -> None:
    suite = parse_suite(mixed_suite())
    first = run_suite(suite, tmp_path, executor="subprocess", workers=2, max_games=10)
    assert first.played == 10 and len(read_log(tmp_path / LOG_NAME)) == 10
    second = run_suite(suite, tmp_path, executor="inprocess")
    assert second.skipped == 10 and second.played == inprocess_run.scheduled - 10
    assert strip(second.records) == strip(inprocess_run.records)


def test_a_workers_error_is_raised_with_its_type(tmp_path: Path) -> None:
    data = mixed_suite()
    data["agents"][1] = {"name": "random", "kind": "scripted",
                         "factory": "turngym.agents.leaderboard.agents:RandomAgent", "kwargs": {"bogus": 1}}
    with pytest.raises(ConfigError, match="valid settings for kind scripted") as info:
        run_suite(parse_suite(data), tmp_path, executor="subprocess", workers=2)
    assert "leaderboard worker" in str(info.value.__cause__)  # the worker's traceback, chained


def test_a_dead_worker_raises_worker_error(tmp_path: Path) -> None:
    """A worker process that exits mid-run (here: building its agent ends the process) is a WorkerError."""
    data = mixed_suite()
    data["agents"].append({"name": "exit", "kind": "scripted", "factory": "os:_exit", "kwargs": {"status": 3}})
    data["envs"] = [{"id": "turngym/TicTacToe-v0", "agents": ["random", "exit"]}]
    with pytest.raises(WorkerError, match="exited with code 3"):
        run_suite(parse_suite(data), tmp_path, executor="subprocess", workers=2)


def test_executor_arguments_are_checked(tmp_path: Path) -> None:
    assert EXECUTORS == ("inprocess", "subprocess", "ray")
    assert resolve_executor(None, 1) == "inprocess" and resolve_executor(None, 3) == "subprocess"
    assert resolve_executor("inprocess", 4) == "inprocess"  # workers are ignored in-process, as make_pool does
    with pytest.raises(ConfigError, match="Did you mean 'subprocess'"):
        run_suite(parse_suite(mixed_suite()), tmp_path, executor="subproces")
    with pytest.raises(ConfigError, match="workers"):
        run_suite(parse_suite(mixed_suite()), tmp_path, workers=0)
    with pytest.raises(ConfigError, match="address"):
        run_suite(parse_suite(mixed_suite()), tmp_path, executor="subprocess", address="auto")
    with pytest.raises(ConfigError, match="address"):
        list(play_matches(parse_suite(mixed_suite()), [], address="auto"))
    assert chunk_size(1000, 2) == 16 and chunk_size(20, 2) == 2 and chunk_size(3, 8) == 1
    assert [len(c) for c in chunks(list(range(7)), 3)] == [3, 3, 1]
