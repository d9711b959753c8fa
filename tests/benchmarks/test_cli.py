"""Tests of the ``turngym`` command (``turngym.benchmarks.cli``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

import turngym.benchmarks
import turngym.envs
from turngym.benchmarks import cli

runner = CliRunner()

KUHN = "turngym/KuhnPoker-v0"
LEDUC = "turngym/LeducHoldem-v0"
UNIFORM_KUHN_EXPLOITABILITY = 0.4583  # NashConv/2 of the uniform random policy (OpenSpiel: 0.458333)


def turngym_cmd() -> list[str]:
    """The installed console script, or the module when the script is not on PATH."""
    exe = shutil.which("turngym")
    return [exe] if exe else [sys.executable, "-m", "turngym.benchmarks.cli"]


def reference_hand(env_id: str, seed: int, script: list[str], seat: int = 0) -> tuple[list[str], list[str]]:
    """Plays ``script`` in the library env until the hand ends.

    Returns:
        (observations seen, the script lines actually consumed).
    """
    env = turngym.envs.make(env_id, opponents=["random"], seat=seat)
    obs, _ = env.reset(seed=seed)
    seen, used = [obs], []
    for action in script:
        obs, _, terminated, truncated, _ = env.step(action)
        seen.append(obs)
        used.append(action)
        if terminated or truncated:
            return seen, used
    raise AssertionError("script too short to finish the hand")


# ---------------------------------------------------------------------------------------------- list
def test_list_shows_every_registered_id() -> None:
    result = runner.invoke(cli.app, ["list"])
    assert result.exit_code == 0, result.output
    ids = [e.id for e in turngym.envs.list_envs()]
    assert ids, "registry is empty"
    for env_id in ids:
        assert env_id in result.stdout
    for family in {e.family for e in turngym.envs.list_envs()}:
        assert family in result.stdout


def test_list_family_filters() -> None:
    result = runner.invoke(cli.app, ["list", "--family", "cards"])
    assert result.exit_code == 0, result.output
    for e in turngym.envs.list_envs():
        assert (e.id in result.stdout) == (e.family == "cards")


def test_list_json_has_what_trainers_read() -> None:
    result = runner.invoke(cli.app, ["list", "--json", "--family", "puzzles"])
    assert result.exit_code == 0, result.output
    entries = {e["id"]: e for e in json.loads(result.stdout)}
    assert set(entries) == {e.id for e in turngym.envs.list_envs("puzzles")}
    sokoban = entries["turngym/Sokoban-v0"]
    assert sokoban["eval_kwargs"] == {"split": "test"} and sokoban["train_kwargs"] == {}
    assert sokoban["expert"].endswith(":sokoban_expert") and sokoban["kinds"] == ["gymnasium"]


def test_list_unknown_family_exits_2_with_suggestion() -> None:
    result = runner.invoke(cli.app, ["list", "--family", "card"])
    assert result.exit_code == 2
    assert "Did you mean 'cards'?" in result.stderr


# ---------------------------------------------------------------------------------------------- play
@pytest.mark.parametrize("env_id", [LEDUC, KUHN])
def test_play_shows_exactly_the_env_observations(env_id: str) -> None:
    seed = 7
    word = "raise" if env_id == LEDUC else "bet"
    # The bad input comes first so that it is always used (a raise may end the hand at once).
    script = ["nonsense", word, "call", "call", "call", "call", "call", "call", "call"]
    observations, used = reference_hand(env_id, seed, script)
    stdin = "\n".join(used) + "\nquit\n"
    result = runner.invoke(cli.app, ["play", env_id, "--seed", str(seed), "--seat", "0"], input=stdin)
    assert result.exit_code == 0, result.output
    out = result.stdout
    # Every observation, verbatim (the person reads what an LLM reads), in order.
    pos = 0
    for obs in observations:
        at = out.find(obs, pos)
        assert at >= 0, f"observation not shown verbatim:\n{obs}\n--- output ---\n{out}"
        pos = at + len(obs)
    # The env's own message for the bad input.
    assert "Invalid action: unknown action 'nonsense'." in out
    # A hand result and the running score.
    m = re.search(r"Hand 1 ended: you ([+-]\d+(?:\.\d+)?)\. Score after 1 hand: ([+-]\d+(?:\.\d+)?)", out)
    assert m, out
    assert m.group(1) == m.group(2)
    assert "Final score" in out


def test_play_counts_hands_and_sums_the_score() -> None:
    # Always checking/calling ends every Kuhn hand within two of our moves.
    stdin = "call\n" * 20
    result = runner.invoke(cli.app, ["play", KUHN, "--seed", "1", "--hands", "3"], input=stdin)
    assert result.exit_code == 0, result.output
    hand_scores = [float(x) for x in re.findall(r"Hand \d ended: you ([+-]\d+)", result.stdout)]
    assert len(hand_scores) == 3
    final = re.search(r"Final score: ([+-]\d+) over 3 hands\.", result.stdout)
    assert final, result.stdout
    assert float(final.group(1)) == sum(hand_scores)
    assert "Hand 4" not in result.stdout


def test_play_is_reproducible_with_a_seed_and_random_seat() -> None:
    args = ["play", LEDUC, "--seed", "11", "--seat", "random", "--hands", "4"]
    stdin = "call\n" * 40
    first = runner.invoke(cli.app, args, input=stdin)
    second = runner.invoke(cli.app, args, input=stdin)
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    env = turngym.envs.make(LEDUC, opponents=["random"], seat="random")
    obs, info = env.reset(seed=11)
    assert obs in first.stdout
    assert f"Hand 1 (seat {info['seat']})" in first.stdout


def test_play_end_of_input_ends_cleanly() -> None:
    result = runner.invoke(cli.app, ["play", KUHN, "--seed", "0"], input="")
    assert result.exit_code == 0, result.output
    assert "Final score: +0 over 0 hands." in result.stdout


def test_play_bad_seat_is_a_usage_error() -> None:
    result = runner.invoke(cli.app, ["play", KUHN, "--seat", "left"])
    assert result.exit_code == 2
    out_of_range = runner.invoke(cli.app, ["play", KUHN, "--seat", "5"])
    assert out_of_range.exit_code == 2
    assert "seat" in out_of_range.stderr and "Traceback" not in out_of_range.output


# -------------------------------------------------------------------------------------- bad config
@pytest.mark.parametrize("command", [["play"], ["solve"]])
def test_unknown_env_exits_2_with_did_you_mean(command: list[str]) -> None:
    result = runner.invoke(cli.app, [*command, "turngym/LeducHoldm-v0"])
    assert result.exit_code == 2
    assert "Did you mean 'turngym/LeducHoldem-v0'?" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_installed_script_unknown_env_no_traceback() -> None:
    proc = subprocess.run(
        [*turngym_cmd(), "play", "KuhnPokr-v0"],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert "Did you mean 'turngym/KuhnPoker-v0'?" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_installed_script_plays_from_stdin() -> None:
    observations, used = reference_hand(KUHN, 3, ["bet", "call", "call"])
    proc = subprocess.run(
        [*turngym_cmd(), "play", KUHN, "--seed", "3"],
        input="\n".join(used) + "\nquit\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    for obs in observations:
        assert obs in proc.stdout
    assert "Hand 1 ended" in proc.stdout


# --------------------------------------------------------------------------------------------- bench
def test_bench_throughput_passes_arguments_through(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str] | None] = []

    def fake_main(argv: list[str] | None = None) -> int:
        seen.append(argv)
        print("fake throughput table")
        return 0

    fake = types.ModuleType("turngym.benchmarks.throughput")
    fake.main = fake_main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "turngym.benchmarks.throughput", fake)
    monkeypatch.setattr(turngym.benchmarks, "throughput", fake, raising=False)
    args = ["--envs", KUHN, "--steps", "100", "--json", "out.json", "--help"]
    result = runner.invoke(cli.app, ["bench", "throughput", *args])
    assert result.exit_code == 0, result.output
    assert seen == [args]
    assert "fake throughput table" in result.stdout


def test_bench_throughput_help_reaches_the_benchmark_parser() -> None:
    pytest.importorskip("turngym.benchmarks.throughput")
    result = runner.invoke(cli.app, ["bench", "throughput", "--help"])
    assert result.exit_code == 0, result.output
    assert "usage:" in result.stdout and "--out" in result.stdout  # argparse's help, not typer's


@pytest.mark.slow
def test_bench_throughput_runs_and_writes_json(tmp_path: Path) -> None:
    pytest.importorskip("turngym.benchmarks.throughput")
    out = tmp_path / "throughput.json"
    argv = ["--steps", "100", "--repeats", "1", "--warmup", "0", "--only", "kuhn", "--cpu", "-1", "--out", str(out)]
    result = runner.invoke(cli.app, ["bench", "throughput", *argv])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["settings"]["steps"] == 100


# --------------------------------------------------------------------------------------------- solve
def test_solve_kuhn_writes_policy_and_plot(tmp_path: Path) -> None:
    pytest.importorskip("turngym.agents.baselines.cfr")
    from turngym.agents.baselines.tabular import TabularPolicy

    out = tmp_path / "solve"
    result = runner.invoke(cli.app, ["solve", KUHN, "--iterations", "200", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    # Checkpoints are printed, starting from the uniform policy's exploitability at iteration 1.
    assert re.search(r"\b1 │\s+0\.458333", text), text
    final = re.search(r"Final exploitability: (\d+\.\d+) after 200 iterations", text)
    assert final, text
    assert 0 <= float(final.group(1)) < 0.01 < UNIFORM_KUHN_EXPLOITABILITY
    value = re.search(r"Game value \(player 0\): ([+-]\d+\.\d+)", text)
    assert value, text
    assert float(value.group(1)) == pytest.approx(-1 / 18, abs=2e-3)

    policy_path = out / "KuhnPoker-v0_cfrplus_policy.json"
    png_path = out / "KuhnPoker-v0_cfrplus_exploitability.png"
    summary_path = out / "KuhnPoker-v0_cfrplus_summary.json"
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    policy = TabularPolicy.load(policy_path)
    assert policy.env_id == KUHN and len(policy) == 12  # Kuhn has 12 information sets
    summary = json.loads(summary_path.read_text())
    assert summary["iterations"] == 200
    assert summary["exploitability"] == pytest.approx(float(final.group(1)), abs=1e-6)
    assert summary["curve"][0] == [1, pytest.approx(UNIFORM_KUHN_EXPLOITABILITY, abs=1e-4)]
    assert summary["curve"][-1][0] == 200


def test_solve_vanilla_cfr_also_converges(tmp_path: Path) -> None:
    pytest.importorskip("turngym.agents.baselines.cfr")
    result = runner.invoke(
        cli.app, ["solve", KUHN, "--iterations", "50", "--algo", "cfr", "--out", str(tmp_path), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    final = re.search(r"Final exploitability: (\d+\.\d+)", result.stdout)
    assert final and float(final.group(1)) < UNIFORM_KUHN_EXPLOITABILITY / 4
    assert (tmp_path / "KuhnPoker-v0_cfr_policy.json").exists()


def test_play_against_cfr_solves_once_then_uses_the_cache(tmp_path: Path) -> None:
    pytest.importorskip("turngym.agents.baselines.cfr")
    from turngym.agents.baselines.tabular import TabularPolicy

    args = ["play", KUHN, "--opponent", "cfr", "--seed", "5", "--seat", "1", "--cache", str(tmp_path)]
    args += ["--iterations", "100", "--hands", "2"]
    first = runner.invoke(cli.app, args, input="call\n" * 10)
    assert first.exit_code == 0, first.output
    cached = tmp_path / "cfr" / "KuhnPoker-v0_cfrplus_100.json"
    assert cached.exists()
    assert "Solving" in first.stderr
    second = runner.invoke(cli.app, args, input="call\n" * 10)
    assert second.exit_code == 0, second.output
    assert "Solving" not in second.stderr and "cached policy" in second.stderr
    assert first.stdout == second.stdout
    # The bot really is the cached CFR policy: the library env with that opponent shows the same text.
    env = turngym.envs.make(KUHN, opponents=[TabularPolicy.load(cached)], seat=1)
    obs, _ = env.reset(seed=5)
    assert obs in first.stdout
    while True:
        obs, _, terminated, truncated, _ = env.step("call")
        assert obs in first.stdout
        if terminated or truncated:
            break


def test_play_resolves_when_the_cached_policy_has_foreign_keys(tmp_path: Path) -> None:
    pytest.importorskip("turngym.agents.baselines.cfr")
    from turngym.agents.baselines.tabular import TabularPolicy

    stale = tmp_path / "cfr" / "KuhnPoker-v0_cfrplus_100.json"
    TabularPolicy({"0" * 32: [0.5, 0.5]}, 2, env_id=KUHN).save(stale)  # keys of some other env version
    args = ["play", KUHN, "--opponent", "cfr", "--seed", "5", "--cache", str(tmp_path), "--iterations", "100",
            "--hands", "1"]
    result = runner.invoke(cli.app, args, input="call\n" * 5)
    assert result.exit_code == 0, result.output
    assert "does not match" in result.stderr and "Solving" in result.stderr
    assert len(TabularPolicy.load(stale)) == 12  # re-solved: Kuhn's 12 information sets


# ------------------------------------------------------------------------- clean errors (issue 12, item 12)
def assert_clean_usage_error(result, *needles: str) -> None:
    """Exit status 2, the message on stderr, no traceback and no click "Aborted."."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and "Aborted" not in result.output
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_version_prints_the_package_version() -> None:
    import importlib.metadata

    import turngym

    expected = getattr(turngym, "__version__", None) or importlib.metadata.version("turngym")
    result = runner.invoke(cli.app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"turngym {expected}\n"


def test_play_negative_seed_is_a_usage_error() -> None:
    result = runner.invoke(cli.app, ["play", KUHN, "--seed", "-1"], input="quit\n")
    assert_clean_usage_error(result, "--seed")


def test_unknown_env_hint_names_turngym_list() -> None:
    result = runner.invoke(cli.app, ["play", "KuhnPokr-v0"])
    assert_clean_usage_error(result, "turngym list")


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    """A regular file: a folder cannot be created under it, even as root."""
    path = tmp_path / "a-file"
    path.write_text("")
    return path


def test_solve_unwritable_out_fails_before_solving(a_file: Path) -> None:
    pytest.importorskip("turngym.agents.baselines.cfr")
    result = runner.invoke(cli.app, ["solve", KUHN, "--iterations", "5", "--out", str(a_file / "out"),
                                     "--no-progress"])
    assert_clean_usage_error(result, "--out", "Not a directory")
    assert "Final exploitability" not in result.stdout


def test_play_unwritable_cache_fails_before_solving(a_file: Path) -> None:
    pytest.importorskip("turngym.agents.baselines.cfr")
    result = runner.invoke(cli.app, ["play", KUHN, "--opponent", "cfr", "--cache", str(a_file / "cache")],
                           input="quit\n")
    assert_clean_usage_error(result, "--cache")
    assert "Solving" not in result.stderr


@pytest.mark.parametrize(("bench", "out"), [("throughput", "x/result.json"), ("dhumbal", "x"),
                                            ("cooperation", "x")])
def test_bench_unwritable_out_fails_before_running(a_file: Path, bench: str, out: str) -> None:
    pytest.importorskip(f"turngym.benchmarks.{bench}")
    result = runner.invoke(cli.app, ["bench", bench, "--out", str(a_file / out)])
    assert_clean_usage_error(result, "--out")


def test_train_help_lists_overwrite() -> None:
    result = runner.invoke(cli.app, ["train", "--help"])
    assert result.exit_code == 0, result.output
    assert "--overwrite" in result.stdout and "--resume" in result.stdout


def _train(*args: str):
    return runner.invoke(cli.app, ["train", "--no-progress", "--no-tensorboard", *args])


def test_train_into_a_used_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    assert_clean_usage_error(_train("--out-dir", str(tmp_path)), "--resume", "--overwrite")


@pytest.mark.parametrize(("args", "named"), [
    (["--model.temperature", "nan"], "model.temperature"),  # was KeyError: 0 after a minute of rollouts
    (["--model.top-p", "nan"], "model.top_p"),
    (["--model.max-new-tokens", "0"], "model.max_new_tokens"),
    (["--eval-episodes", "0"], "eval_episodes"),  # was a run with NaN evaluations
    (["--model.name", "/nonexistent"], "model.name"),
    (["--env.kwargs", '{"obs_mode": "vector"}'], "obs_mode"),
    (["--resume"], "resume"),  # no checkpoint in the folder
])
def test_train_bad_settings_are_usage_errors(tmp_path: Path, args: list[str], named: str) -> None:
    assert_clean_usage_error(_train("--out-dir", str(tmp_path / "run"), *args), named)


def test_train_unwritable_out_dir_is_a_usage_error(a_file: Path) -> None:
    assert_clean_usage_error(_train("--out-dir", str(a_file / "run")), "out_dir")


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated zip", bytes(range(256)) * 8])
def test_train_resume_from_a_broken_checkpoint_is_a_usage_error(tmp_path: Path, content: bytes) -> None:
    checkpoint = tmp_path / "checkpoints" / "iter-000001.pt"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(content)
    assert_clean_usage_error(_train("--out-dir", str(tmp_path), "--resume"), "not a readable turngym checkpoint")



def test_swe_clean_removes_a_dead_drivers_local_sandbox_folder_and_keeps_a_live_ones(tmp_path, monkeypatch):
    from turngym.envs.swe.sandbox.local import DIR_PREFIX

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folders = {}
    for name, pid in (("dead", dead.pid), ("live", os.getpid())):
        folders[name] = tmp_path / f"{DIR_PREFIX}{pid}-{name}"
        folders[name].mkdir()
        started = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19] if name == "live" else "1"
        (folders[name] / "owner").write_text(f"{pid} {started}\n")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    result = runner.invoke(cli.app, ["swe", "clean"])
    assert result.exit_code == 0, result.output
    assert not folders["dead"].exists() and folders["live"].exists()
    assert f"local: removed 1\n  {folders['dead']}" in result.output
    assert "docker: " in result.output  # removed n, or skipped with the daemon's reason
