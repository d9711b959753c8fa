"""The self-play experiment's statistics and reports (``turngym.benchmarks.selfplay``), on runs with known outcomes."""

from __future__ import annotations

import numpy as np
import pytest

from turngym.benchmarks import selfplay as sp


def _rows(results: list[int | None]) -> list[dict]:
    return [{"seed": sp.EVAL_SEED_BASE + k, "return": float(r or 0), "result": r} for k, r in enumerate(results)]


def _run(seed: int, wins_before: int, wins_after: int, n: int = 10) -> dict:
    """A run whose checkpoints 0 and 2 win ``wins_*`` of ``n`` games vs random (the rest lost)."""
    before = _rows([1] * wins_before + [-1] * (n - wins_before))
    after = _rows([1] * wins_after + [-1] * (n - wins_after))
    solver0 = _rows([0] * 2 + [-1] * (n - 2))
    solver2 = _rows([0] * 6 + [-1] * (n - 6))
    held = {env: {0: _rows([1] * 5 + [-1] * 5), 2: _rows([1] * 5 + [-1] * 4 + [None])} for env in sp.HELD_OUT}
    return {"seed": seed, "iterations": [0, 2], "evals": {
        "random": {0: before, 2: after}, "solver": {0: solver0, 2: solver2}, "held_out": held,
        "vs_last": {0: [1.0] * 7 + [0.5] * 2 + [0.0]}}, "training": [{"iteration": 1, "pool/rating": 0.1}]}


def test_rates_count_scored_episodes_only() -> None:
    rows = _rows([1, 0, -1, None])
    assert sp.rate(rows, "win") == pytest.approx(1 / 3)
    assert sp.rate(rows, "nonloss") == pytest.approx(2 / 3)
    assert np.isnan(sp.rate(_rows([None]), "win"))


def test_aggregate_pairs_by_seed_and_tests_the_change() -> None:
    runs = [_run(s, 3 + s % 2, 7 + s % 3) for s in range(5)]
    agg = sp.aggregate(runs)
    before = [0.3, 0.4, 0.3, 0.4, 0.3]
    after = [0.7, 0.8, 0.9, 0.7, 0.8]
    assert agg["curves"]["random_win"][0]["per_seed"] == pytest.approx(before)
    assert agg["curves"]["random_win"][2]["mean"] == pytest.approx(np.mean(after))
    test = agg["tests"]["random_win"]
    assert test["diff"]["mean"] == pytest.approx(np.mean(np.subtract(after, before)))
    assert test["diff"]["ci_low"] < test["diff"]["mean"] < test["diff"]["ci_high"]
    assert test["t_test_p"] < 0.001  # every seed improved by 0.3-0.6
    # McNemar over the pooled (seed, episode) pairs: only gains, so a small p.
    assert test["mcnemar"]["p_value"] < 0.001
    assert agg["curves"]["solver_nonloss"][2]["mean"] == pytest.approx(0.6)
    vs = agg["vs_last"][0]
    assert vs["mean"] == pytest.approx(0.8) and vs["t_test_vs_half_p"] == 1.0  # no spread over seeds: no test
    ho = agg["held_out"][sp.HELD_OUT[0]]["win"]
    assert ho["before"]["mean"] == pytest.approx(0.5) and ho["after"]["mean"] == pytest.approx(5 / 9)


def test_no_change_gives_no_evidence() -> None:
    runs = [_run(s, 5, 5) for s in range(5)]
    test = sp.aggregate(runs)["tests"]["random_win"]
    assert test["diff"]["mean"] == 0 and test["t_test_p"] == 1.0
    assert test["mcnemar"]["p_value"] == pytest.approx(1.0)


def test_markdown_and_plot(tmp_path) -> None:
    runs = [_run(s, 3, 7) for s in range(3)]
    result = {"seeds": [0, 1, 2], "command": "python -m turngym.benchmarks.selfplay --quick",
              "budget": {"episodes": 10}, "runs": runs, "aggregate": sp.aggregate(runs)}
    md = sp.markdown(result)
    assert "| 2 | 70.0% [70.0%, 70.0%]" in md  # every seed at 7/10 after training
    assert "turngym/ConnectFour-v0" in md and "--quick" in md
    sp.plot(result, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 10_000


def test_cli_refuses_one_seed(capsys) -> None:
    with pytest.raises(SystemExit):
        sp.main(["--seeds", "0", "--out", "/nonexistent"])
    assert "at least two distinct training seeds" in capsys.readouterr().err
