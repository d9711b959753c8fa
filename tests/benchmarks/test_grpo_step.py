"""The GRPO-iteration benchmark (turngym vs TRL) runs both trainers on the same tiny model (CPU smoke)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("trl")


def test_grpo_step_times_both_trainers_on_the_same_work(tmp_path):
    from turngym.benchmarks import grpo_step

    assert grpo_step.main(["--model", "tiny", "--prompts", "3", "--group", "2", "--new-tokens", "6",
                           "--micro-batch", "3", "--device", "cpu", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "grpo_step.json").read_text())
    for name in ("turngym", "trl"):
        r = result[name]
        assert len(r["all_seconds"]) == 2 and r["samples_per_s"] == pytest.approx(6 / r["seconds"])
        # Both sample the full budget or stop at an end token: never more than max new tokens.
        assert 1 <= r["completion_tokens_mean"] <= 6
    assert result["ratio"] == pytest.approx(result["turngym"]["samples_per_s"] / result["trl"]["samples_per_s"])
