"""The cooperation-vs-exploration benchmark runs at its smoke size and writes a consistent report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from turngym.agents.stats import mean_ci
from turngym.benchmarks import cooperation
from turngym.benchmarks.cli import app


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("coop")
    assert cooperation.main(["--quick", "--no-progress", "--out", str(out)]) == 0
    return out, json.loads((out / "cooperation.json").read_text())


def test_quick_writes_json_md_png(quick):
    out, result = quick
    for name in ("cooperation.json", "cooperation.md", "cooperation.png"):
        assert (out / name).stat().st_size > 0
    assert (out / "cooperation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    c = result["config"]
    assert c["quick"] and c["size"] == 6 and c["methods"] == ["shared", "grouped", "independent"]


def test_one_row_per_method_and_strength_with_cis_around_means(quick):
    _, result = quick
    c = result["config"]
    rows, runs = result["rows"], result["runs"]
    assert [(r["method"], r["strength"]) for r in rows] == [(m, s) for m in c["methods"] for s in c["strengths"]]
    assert len(runs) == len(rows) * len(c["seeds"])
    models = {"shared": 1, "grouped": c["groups"], "independent": c["size"] ** 2}
    for row in rows:
        mine = [r for r in runs if r["method"] == row["method"] and r["strength"] == row["strength"]]
        assert row["n"] == len(mine) == len(c["seeds"]) and row["num_models"] == models[row["method"]]
        for key in ("greedy_coop", "final_coop"):
            vals = [r[key] for r in mine]
            assert all(0.0 <= v <= 1.0 for v in vals)
            stat = row[key]
            assert stat["mean"] == pytest.approx(np.mean(vals))
            assert stat["ci"][0] <= stat["mean"] <= stat["ci"][1]
            _, lo, hi = mean_ci(vals)
            assert tuple(stat["ci"]) == pytest.approx((max(0.0, lo), min(1.0, hi)))  # t-CI clipped to [0, 1]
        for r in mine:
            assert len(r["episode_coop"]) == c["episodes"]
            assert r["final_coop"] == pytest.approx(np.mean(r["episode_coop"][-c["final_episodes"]:]))


def test_markdown_table_matches_json(quick):
    out, result = quick
    lines = [ln for ln in (out / "cooperation.md").read_text().splitlines() if ln.startswith("| ")]
    body = lines[1:]  # skip the header
    assert len(body) == len(result["rows"])
    for line, row in zip(body, result["rows"], strict=True):
        cells = [x.strip() for x in line.strip("|").split("|")]
        assert cells[0] == row["method"] and float(cells[1]) == pytest.approx(row["strength"])
        assert float(cells[3]) == pytest.approx(row["greedy_coop"]["mean"], abs=5e-4)
        assert float(cells[5]) == pytest.approx(row["final_coop"]["mean"], abs=5e-4)


def test_summarize_on_known_records():
    recs = [{"method": "shared", "strength": 0.1, "seed": s, "greedy_coop": g, "final_coop": f, "num_models": 1}
            for s, (g, f) in enumerate([(0.2, 0.3), (0.4, 0.5), (0.6, 0.4)])]
    (row,) = cooperation.summarize(recs, ["shared"], [0.1])
    assert row["greedy_coop"]["mean"] == pytest.approx(0.4) and row["n"] == 3
    # t_{0.975, 2} = 4.303; sem = 0.2 / sqrt(3)
    assert row["greedy_coop"]["ci"][1] - 0.4 == pytest.approx(4.3027 * 0.2 / np.sqrt(3), rel=1e-3)


def test_cli_command_runs_the_benchmark(tmp_path):
    res = CliRunner().invoke(app, ["bench", "cooperation", "--quick", "--no-progress", "--methods", "shared",
                                   "--exploration", "boltzmann", "--strengths", "0.1", "--seeds", "2",
                                   "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    result = json.loads((tmp_path / "cooperation.json").read_text())
    assert result["config"]["exploration"] == "boltzmann"
    assert [(r["method"], r["strength"], r["n"]) for r in result["rows"]] == [("shared", 0.1, 2)]
    assert "| shared | 0.1 |" in res.output
