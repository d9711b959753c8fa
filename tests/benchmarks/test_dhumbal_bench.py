"""The Dhumbal tournament benchmark runs end to end at its smoke size with consistent statistics."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from turngym.benchmarks import dhumbal


def test_statistics_helpers_match_scipy():
    a = [3.0, 5.0, 4.0, 6.0, 8.0, 2.0]
    b = [1.0, 2.0, 0.5, 3.0]
    pooled = np.sqrt((5 * np.var(a, ddof=1) + 3 * np.var(b, ddof=1)) / 8)
    assert dhumbal.cohens_d(a, b) == pytest.approx((np.mean(a) - np.mean(b)) / pooled)
    rows = dhumbal.pairwise_welch({"a": a, "b": b, "c": [0.0, 1.0, 2.0]})
    assert [(r["a"], r["b"]) for r in rows] == [("a", "b"), ("a", "c"), ("b", "c")]
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert rows[0]["p"] == pytest.approx(ref.pvalue) and rows[0]["t"] == pytest.approx(ref.statistic)
    assert rows[0]["p_bonferroni"] == pytest.approx(min(1.0, 3 * ref.pvalue))
    lo, hi = dhumbal.wilson_ci(7, 10)
    assert lo < 0.7 < hi


def test_quick_protocol_writes_consistent_report(tmp_path):
    assert dhumbal.main(["--quick", "--ruleset", "both", "--out", str(tmp_path)]) == 0
    for name in ("dhumbal.json", "dhumbal.md", "dhumbal.png"):
        assert (tmp_path / name).stat().st_size > 0
    result = json.loads((tmp_path / "dhumbal.json").read_text())
    text = (tmp_path / "dhumbal.md").read_text()
    assert "| aggressive | " in text and "/ 88.3%" in text and "/ 81.0%" in text  # published rows beside ours
    ts = result["tournaments"]
    assert [(t["key"], t["ruleset"]) for t in ts] == [
        (k, r) for r in ("standard", "paper") for k in ("heuristics", "search", "learning", "championship")]
    champ = next(t for t in ts if t["key"] == "championship")
    assert champ["agents"] == ["aggressive", "ismcts", "ppo", "random"]
    for t in ts:
        agents = t["summary"]["agents"]
        expected = 8 if t["key"] == "search" else 12
        assert t["rounds"] == expected and len(t["records"]) == expected
        assert all(a["rounds"] == expected for a in agents.values())
        assert sum(a["win_rate"] for a in agents.values()) == pytest.approx(1.0, abs=1e-9)
        assert sum(a["wins"] for a in agents.values()) == expected
        if t["ruleset"] == "standard":
            leads = [a["leads"] for a in agents.values()]
            assert max(leads) - min(leads) <= 1 and sum(leads) == expected
        for p in t["summary"]["pairwise"]:
            if p["p"] is not None:
                assert 0.0 <= p["p"] <= 1.0 and p["p"] <= p["p_bonferroni"] <= 1.0
        for r in t["records"]:
            assert sum(r["coins"].values()) == 0  # zero-sum
            assert (r["caller"] is not None) == r["jhyap"]


def test_a_label_seats_a_second_agent_of_one_kind():
    records = dhumbal.play_rounds(["aggressive", "random#2", "random"], rounds=6, seed=3)
    assert all(set(r["coins"]) == {"aggressive", "random#2", "random"} for r in records)
    assert all(sum(r["coins"].values()) == 0 for r in records)
    with pytest.raises(ValueError, match="distinct"):
        dhumbal.play_rounds(["random", "random"], rounds=1)
    with pytest.raises(Exception, match="Did you mean|one of"):
        dhumbal.play_rounds(["aggresive#x", "random"], rounds=1)
