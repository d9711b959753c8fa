"""The throughput benchmark counts the same unit for every library, skips missing peers, writes JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from turngym.benchmarks import throughput as tp


def _configs(names: list[str]) -> list[tp.Config]:
    by_name = {c.name: c for c in tp.our_configs() + tp.peer_configs()}
    return [by_name[n] for n in names]


@pytest.mark.parametrize("config", tp.our_configs(), ids=lambda c: c.name)
def test_our_runners_play_whole_hands_within_the_rules(config: tp.Config) -> None:
    m = tp.measure(config, seconds=None, steps=300, warmup=0.0, seed=3)
    low, high = tp.STEP_BOUNDS[config.game]
    assert m.steps >= 300
    assert m.episodes == m.resets and m.terminated == m.episodes  # no hand ends at the turn cap
    assert low <= m.min_ep_steps <= m.max_ep_steps <= high
    assert low <= m.steps_per_episode <= high
    if config.game in ("spatialpd", "harvest"):
        assert m.learner_steps == m.steps  # every agent decision counts, joint step by joint step
    elif config.form.startswith("aec"):
        players = 4 if config.game == "dhumbal" else 2
        assert m.dead_steps == players * m.episodes  # PettingZoo retires every agent once per hand
        assert m.learner_steps == m.steps
    else:
        assert 0 < m.learner_steps < m.steps  # the opponent's decisions are counted in steps only


def test_same_seed_same_hands() -> None:
    (config,) = _configs(["turngym leduc aec-vector"])
    a = tp.measure(config, seconds=None, steps=500, warmup=0.0, seed=11)
    b = tp.measure(config, seconds=None, steps=500, warmup=0.0, seed=11)
    assert (a.steps, a.episodes, a.min_ep_steps, a.max_ep_steps) == (b.steps, b.episodes, b.min_ep_steps,
                                                                     b.max_ep_steps)


def test_ratios_and_targets() -> None:
    def fake(name: str, rate: float) -> tp.Measurement:
        return tp.Measurement(name, "x", "leduc", "f", 1, 1, 0, 1, 1, 1, 0, 1, 1, 1.0, rate, rate, rate, 1.0)

    results = {"turngym leduc aec-vector": fake("a", 300.0), "rlcard leduc-holdem": fake("b", 200.0),
               "pettingzoo leduc_holdem_v4.env()": fake("c", 150.0)}
    rows = {(r["numerator"], r["denominator"]): r for r in tp.compute_ratios(results)}
    vs_rlcard = rows[("turngym leduc aec-vector", "rlcard leduc-holdem")]
    assert vs_rlcard["ratio"] == pytest.approx(1.5) and vs_rlcard["met"] is True
    vs_pz = rows[("turngym leduc aec-vector", "pettingzoo leduc_holdem_v4.env()")]
    assert vs_pz["ratio"] == pytest.approx(2.0) and vs_pz["met"] is False  # target is 3x
    missing = rows[("turngym kuhn aec-text", "textarena KuhnPoker-v0 (LLM wrappers)")]
    assert missing["ratio"] is None and missing["met"] is None
    assert missing["paired_ratio"] is None and missing["paired_cpu_ratio"] is None


def test_paired_ratio_is_the_median_of_per_round_ratios() -> None:
    def fake(wall: list[float], cpu: list[float]) -> tp.Measurement:
        best = max(wall)
        return tp.Measurement("x", "x", "kuhn", "f", 1, 1, 0, 1, 1, 1, 0, 1, 1, 1.0, best, best, best, 1.0,
                              repeats=wall, cpu_repeats=cpu)

    # Round 2 was slowed down for both sides alike (other load): best/best says 40/30, the rounds say 2x.
    ours, peer = fake([20.0, 40.0, 10.0], [3.0, 3.0, 3.0]), fake([10.0, 30.0, 5.0], [1.0, 2.0, 4.0])
    (row,) = [r for r in tp.compute_ratios({"turngym kuhn aec-text": ours, "textarena KuhnPoker-v0-raw": peer})
              if r["ratio"] is not None]
    assert row["ratio"] == pytest.approx(40 / 30)
    assert row["paired_ratio"] == pytest.approx(2.0)
    assert row["paired_cpu_ratio"] == pytest.approx(1.5)  # median of 3, 1.5, 0.75
    assert tp.paired_median([], []) is None


def test_missing_peer_is_skipped_and_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    ghost = tp.Config("ghostlib leduc", "ghostlib", "leduc", "raw", tp.RLCardRunner, "ghostlib_not_installed_xyz")
    monkeypatch.setattr(tp, "peer_configs", lambda: [ghost])
    out = tmp_path / "tp.json"
    code = tp.main(["--steps", "100", "--repeats", "1", "--warmup", "0", "--only", "turngym kuhn aec",
                    "--only", "ghostlib", "--out", str(out), "--cpu", "-1"])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["skipped"] == ["ghostlib leduc"]
    names = {r["name"] for r in report["results"]}
    assert names == {"turngym kuhn aec-text", "turngym kuhn aec-text words", "turngym kuhn aec-vector"}
    assert all(r["steps"] >= 100 and r["steps_per_sec"] > 0 for r in report["results"])
    assert "skipped: not installed" in capsys.readouterr().out


def test_strict_exits_1_when_a_target_is_missed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tp, "RATIOS", [("turngym kuhn aec-text", "turngym kuhn aec-vector", 1e9)])
    argv = ["--steps", "50", "--repeats", "1", "--warmup", "0", "--only", "turngym kuhn aec", "--cpu", "-1",
            "--out", str(tmp_path / "o.json")]
    assert tp.main(argv + ["--strict"]) == 1
    assert tp.main(argv) == 0


@pytest.mark.peers
@pytest.mark.parametrize("name", [c.name for c in tp.peer_configs()])
def test_peer_runners_count_decisions_like_ours(name: str) -> None:
    (config,) = _configs([name])
    if not tp.available(config):
        pytest.skip(f"{config.library} is not installed (pip install -e '.[peers]')")
    m = tp.measure(config, seconds=None, steps=200, warmup=0.0, seed=5)
    low, high = tp.STEP_BOUNDS[config.game]
    if config.library in ("rlcard", "pettingzoo"):
        low = 1  # RLCard's Leduc (also under PettingZoo) lets the first player fold with nothing to call
    assert m.episodes > 0 and m.terminated == m.episodes
    assert low <= m.min_ep_steps <= m.max_ep_steps <= high


@pytest.mark.peers
def test_textarena_observation_buffer_is_cleared_per_hand() -> None:
    pytest.importorskip("textarena")
    runner = tp.TextArenaRunner(0, "KuhnPoker-v0")
    assert runner.buffers, "expected TextArena's LLMObservationWrapper history buffer"
    for _ in range(5):
        runner.episode()
    one_hand = sum(len(v) for b in runner.buffers for v in b.values())
    for _ in range(50):
        runner.episode()
    assert sum(len(v) for b in runner.buffers for v in b.values()) <= 2 * one_hand
