"""The leaderboard-fit benchmark runs at its smoke size, records its seeds, and its methods agree.

Speed is never asserted here (DESIGN §6): the tests check that the numbers it reports are consistent with
what it timed and that every Bradley–Terry method it times lands on the same ratings.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from turngym.agents.leaderboard import bradley_terry
from turngym.benchmarks import leaderboard_fit

BT_METHODS = ("turngym end-to-end", "turngym fit", "scipy L-BFGS", "choix ILSR list", "choix Newton-CG list")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("leaderboard_fit")
    assert leaderboard_fit.main(["--quick", "--out", str(out)]) == 0
    return out, json.loads((out / "leaderboard_fit.json").read_text())


def test_quick_records_setup_and_command(quick):
    out, result = quick
    assert (out / "leaderboard_fit.md").read_text().startswith("# Leaderboard fit")
    c = result["config"]
    assert (c["games"], c["agents"], c["repeats"], c["seed"]) == (2_000, [6], 2, 0)
    assert c["seed_sequences"] == {"6": [0, 6]} and c["quick"]
    assert result["command"] == f"python -m turngym.benchmarks.leaderboard_fit --quick --out {out}"
    assert set(result["versions"]) == {"numpy", "scipy", "choix", "openskill"}


def test_methods_agree_and_ratios_match_the_timings(quick):
    _, result = quick
    (run,) = result["runs"]
    truth, records = leaderboard_fit.tournament(6, 2_000, 0)
    assert run["truth"] == pytest.approx(truth.tolist())  # the tournament is a function of the recorded seeds
    fit = bradley_terry(records, [f"a{i}" for i in range(6)])
    methods = run["methods"]
    assert set(methods) == {*BT_METHODS, "openskill sequential"}
    assert methods["turngym fit"]["ratings"] == pytest.approx(list(fit.values()), abs=1e-12)
    assert methods["scipy L-BFGS"]["max_abs_diff_vs_ours"] < 1e-6  # same posterior mode
    for name in ("choix ILSR list", "choix Newton-CG list"):  # plain ML / L2 1e-6 vs 0.01 virtual draws
        assert methods[name]["max_abs_diff_vs_ours"] < 1e-3
    ours = methods["turngym fit"]
    for name, m in methods.items():
        assert len(m["seconds_each"]) == (1 if name in ("choix Newton-CG list", "openskill sequential") else 2)
        assert m["seconds"] == pytest.approx(np.median(m["seconds_each"]))
        assert m["ratio_to_ours"] == pytest.approx(m["seconds"] / ours["seconds"])
        assert m["cpu_ratio_to_ours"] == pytest.approx(m["cpu_seconds"] / ours["cpu_seconds"])
        assert m["spearman_vs_truth"] > 0.8
    b = run["bootstrap"]
    assert b["n_boot"] == 20 and all(lo < t < hi for lo, t, hi in zip(b["ci95_low"], fit.values(), b["ci95_high"],
                                                                      strict=True))
    assert b["truth_covered"] == sum(lo <= t <= hi for lo, t, hi in zip(b["ci95_low"], truth, b["ci95_high"],
                                                                        strict=True))
