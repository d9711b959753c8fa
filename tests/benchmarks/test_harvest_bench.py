"""The Harvest PPO benchmark runs at its smoke size, records its seeds and writes a consistent report.

The benchmark is new (issue 12.15: README's Harvest figures came from a script that was not in the repo),
so every test here fails on the code before it (``turngym.benchmarks.harvest`` does not exist there).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from turngym.agents.baselines.dilemmas.harvest import METRICS
from turngym.agents.stats import mean_ci
from turngym.benchmarks import harvest


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("harvest")
    assert harvest.main(["--quick", "--no-progress", "--out", str(out)]) == 0
    return out, json.loads((out / "harvest.json").read_text())


def test_quick_writes_json_md_png_and_records_the_setup(quick):
    out, result = quick
    for name in ("harvest.json", "harvest.md", "harvest.png"):
        assert (out / name).stat().st_size > 0
    assert (out / "harvest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    c = result["config"]
    assert c["quick"] and c["seeds"] == [0, 1] and c["eval_seeds"] == [harvest.eval_seed(s) for s in (0, 1)]
    assert c["timesteps"] == harvest.QUICK["timesteps"] and c["horizon"] == harvest.QUICK["horizon"]
    assert result["command"] == f"python -m turngym.benchmarks.harvest --quick --no-progress --out {out}"
    assert result["versions"]["stable-baselines3"] and result["versions"]["supersuit"]
    assert [r["seed"] for r in result["runs"]] == c["seeds"]
    for run in result["runs"]:
        assert run["trained_timesteps"] >= c["timesteps"]
        for agent in harvest.AGENTS:
            episodes = run[agent]["per_episode"]
            assert len(episodes) == c["episodes"]
            for m in METRICS:  # the seed's value is the mean of its evaluation episodes
                assert run[agent][m] == pytest.approx(np.mean([e[m] for e in episodes]))
                lo, hi = harvest.metric_bounds(m, c["horizon"], c["players"])
                assert lo <= run[agent][m] <= hi


def test_summary_is_the_t_ci_and_paired_tests_over_seeds(quick):
    _, result = quick
    c = result["config"]
    assert list(result["summary"]) == list(METRICS)
    for m, row in result["summary"].items():
        lo_b, hi_b = harvest.metric_bounds(m, c["horizon"], c["players"])
        per_agent = {a: [r[a][m] for r in result["runs"]] for a in harvest.AGENTS}
        for agent, vals in per_agent.items():
            mean, lo, hi = mean_ci(vals)
            assert row[agent]["mean"] == pytest.approx(mean)
            assert row[agent]["ci"] == pytest.approx([max(lo_b, lo), min(hi_b, hi)])
        diff = np.subtract(per_agent["ppo"], per_agent["random"])
        assert row["paired"]["diff_mean"] == pytest.approx(diff.mean())
        if np.std(diff) > 0:
            assert row["paired"]["t_p"] == pytest.approx(stats.ttest_rel(per_agent["ppo"], per_agent["random"]).pvalue)


def test_markdown_table_matches_json(quick):
    out, result = quick
    text = (out / "harvest.md").read_text()
    assert result["command"] in text
    rows = [ln for ln in text.splitlines() if ln.startswith("| ") and ln.split(" | ")[0][2:] in METRICS]
    assert [r.split(" | ")[0][2:] for r in rows] == list(METRICS)
    for line, row in zip(rows, result["summary"].values(), strict=True):
        cells = [x.strip() for x in line.strip("|").split("|")]
        assert cells[1] == f"{row['ppo']['mean']:.3f}" and cells[3] == f"{row['random']['mean']:.3f}"
        assert cells[5] == f"{row['paired']['diff_mean']:+.3f}"


def test_random_baseline_and_ppo_are_reproducible_per_seed(quick, tmp_path):
    _, result = quick
    c = result["config"]
    env_kwargs = {"horizon": c["horizon"], "num_players": c["players"]}
    # The random players of seed 1 depend on seed 1 alone: evaluated on their own, or in a run that starts
    # at seed 1, they give the same numbers, episode by episode.
    alone = harvest.evaluate_random(1, c["episodes"], env_kwargs)
    assert alone == result["runs"][1]["random"]
    assert harvest.main(["--quick", "--no-progress", "--seed", "1", "--seeds", "1", "--out", str(tmp_path)]) == 0
    again = json.loads((tmp_path / "harvest.json").read_text())
    assert again["config"]["seeds"] == [1]
    assert again["runs"][0]["random"] == result["runs"][1]["random"]
    assert again["runs"][0]["ppo"] == result["runs"][1]["ppo"]  # training and evaluation are seeded too
    # Different seeds evaluate on different episodes (the pairing is per seed, not one shared set).
    assert result["runs"][0]["random"]["per_episode"] != result["runs"][1]["random"]["per_episode"]


def test_paired_comparison_known_values():
    a, b = [1.0, 2.0, 3.0, 4.0, 6.0], [0.5, 1.0, 2.0, 2.5, 3.0]
    out = harvest.paired_comparison(a, b)
    assert out["diff_mean"] == pytest.approx(1.4)
    assert out["t_p"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert out["wilcoxon_p"] == pytest.approx(0.0625)  # all 5 differences positive: exact p = 2 / 2^5
    same = harvest.paired_comparison([1.0, 2.0], [1.0, 2.0])
    assert same["t_p"] is None and same["wilcoxon_p"] is None and same["diff_mean"] == 0.0
    shift = harvest.paired_comparison([1.0, 2.0, 3.0], [0.0, 1.0, 2.0])  # constant difference: t undefined
    assert shift["t_p"] is None and shift["wilcoxon_p"] == pytest.approx(0.25)


def test_bad_arguments_are_rejected(capsys):
    with pytest.raises(SystemExit):
        harvest.main(["--seeds", "0"])
    assert "--seeds must be >= 1" in capsys.readouterr().err
