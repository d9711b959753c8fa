"""The credit-assignment benchmark runs end to end at its smoke size and writes consistent JSON + PNG."""

from __future__ import annotations

import json

import numpy as np


def test_quick_leduc_comparison_writes_curves(tmp_path):
    from turngym.benchmarks import credit_assignment as ca

    assert ca.main(["--env", "leduc", "--quick", "--seeds", "0", "1", "--methods", "grpo", "gigpo",
                    "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "credit_assignment_leduc.json").read_text())
    assert (tmp_path / "credit_assignment_leduc.png").stat().st_size > 10_000
    assert result["metric"] == "return_mean" and set(result["aggregate"]) == {"grpo", "gigpo"}
    for method, rows in result["aggregate"].items():
        per_seed = result["runs"][method]
        assert [r["iteration"] for r in rows] == [0, 1, 2] and all(r["n"] == 2 for r in rows)
        for r in rows:  # the aggregate is the mean of the seeds' eval points, inside its band
            vals = [dict(map(tuple, per_seed[s]))[r["iteration"]] for s in per_seed]
            assert np.isclose(r["mean"], np.mean(vals)) and r["ci_low"] <= r["mean"] <= r["ci_high"]
    # Same seed, same warm start: every method starts from the same evaluation.
    assert result["aggregate"]["grpo"][0]["mean"] == result["aggregate"]["gigpo"][0]["mean"]
