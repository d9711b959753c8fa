"""SWE-bench grading (issue 15, Tasks): log parsing, resolution levels, reports, and agreement with ``swebench``.

Every test here fails on the code before issue 15 (``turngym.envs.swe.tasks`` did not exist). The agreement
tests run real ``pytest -rA`` on ``fixtures/tinyrepo`` (a package whose checks produce every outcome) and
compare with the ``swebench`` package's own functions; they skip, saying why, when it is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from turngym.envs.swe.tasks import SWEInstance, grade, report, run_summary, test_command
from turngym.envs.swe.tasks import grading as G
from turngym.envs.swe.tasks.logparse import MAX_LOG_CHARS, parse_log_pytest, parse_log_pytest_v2

FIXTURE = Path(__file__).parent / "fixtures" / "tinyrepo"
F = "tests/test_m.py::"


def _inst(f2p, p2p=(), **kw) -> SWEInstance:
    return SWEInstance(instance_id="o__r-1", repo="o/r", FAIL_TO_PASS=tuple(f2p), PASS_TO_PASS=tuple(p2p), **kw)


def _frame(body: str, exit_code: int | None = None) -> str:
    tail = f"\n{G.TEST_EXIT_CODE}: {exit_code}" if exit_code is not None else ""
    return f"+ git apply test.patch\n{G.START_TEST_OUTPUT}\n{body}\n{G.END_TEST_OUTPUT}{tail}\n"


# ------------------------------------------------------------------------------------- hand-written logs
BASIC = f"""============================= test session starts ==============================
collected 6 items

tests/test_m.py ..FsxE                                                      [100%]

=========================== short test summary info ============================
PASSED {F}test_a
PASSED {F}test_b
SKIPPED [1] tests/test_m.py:20: not on this platform
XFAIL {F}test_x - reason
ERROR {F}test_e - RuntimeError: fixture broke
FAILED {F}test_f - AssertionError: 1 - 2 != 0
==== 1 failed, 2 passed, 1 skipped, 1 xfailed, 1 error in 0.10s ====
"""


def test_basic_statuses():
    assert parse_log_pytest(BASIC) == {
        F + "test_a": "PASSED", F + "test_b": "PASSED", F + "test_x": "XFAIL", F + "test_e": "ERROR",
        F + "test_f": "FAILED"}  # the "SKIPPED [1] file:line" summary is a count, not a test


def test_collection_error_fails_the_file_tests():
    log = ("ERROR tests/test_m.py - ModuleNotFoundError: No module named 'x'\n"
           "!!!!!!! Interrupted: 1 error during collection !!!!!!!\n")
    assert parse_log_pytest(log) == {"tests/test_m.py": "ERROR"}
    g = grade(_inst([F + "test_a"], [F + "test_b"]), log)
    assert g.found and not g.resolved and g.statuses == {F + "test_a": None, F + "test_b": None}
    assert g.tests_status["FAIL_TO_PASS"]["failure"] == [F + "test_a"]


def test_parametrized_ids_with_spaces_and_brackets():
    log = (f"PASSED {F}test_p[a b]\nPASSED {F}test_p[x[1]]\n"
           f"FAILED {F}test_p[dash - sep] - AssertionError\nPASSED {F}test_p[1-2]\n")
    # SWE-bench's parse_log_pytest cuts an id at its first space ...
    assert parse_log_pytest(log) == {F + "test_p[a": "PASSED", F + "test_p[x[1]]": "PASSED",
                                     F + "test_p[dash": "FAILED", F + "test_p[1-2]": "PASSED"}
    # ... its v2 keeps whole ids (and still cuts a FAILED line at the message's " - ")
    assert parse_log_pytest_v2(log) == {F + "test_p[a b]": "PASSED", F + "test_p[x[1]]": "PASSED",
                                        F + "test_p[dash": "FAILED", F + "test_p[1-2]": "PASSED"}
    # a cut id ("[" outnumbers "]") matches the ids that start with it when they agree on the outcome
    ok = grade(_inst([F + "test_p[a"], [F + "test_p[x[1]]"]), log)
    assert ok.resolved and ok.statuses[F + "test_p[a"] == "PASSED"
    v2 = grade(_inst([F + "test_p[a b]"], log_parser="parse_log_pytest_v2"), log)
    assert v2.resolved
    # ... and does not when they disagree
    mixed = "PASSED t.py::f[a-1]\nFAILED t.py::f[a-2] - boom\n"
    assert not grade(_inst(["t.py::f[a"]), mixed).resolved
    assert G.lookup("t.py::f[a", parse_log_pytest(mixed)) is None


def test_later_line_wins_and_odd_status_token_is_neither():
    log = f"FAILED {F}test_a - x\nPASSED {F}test_a\nPASSEDX {F}test_b\n"
    statuses = parse_log_pytest(log)
    assert statuses == {F + "test_a": "PASSED", F + "test_b": "PASSEDX"}
    g = grade(_inst([F + "test_a", F + "test_b"]), log)
    # SWE-bench files an odd status under neither list; the rates count only listed outcomes
    assert g.tests_status["FAIL_TO_PASS"] == {"success": [F + "test_a"], "failure": []}
    assert g.resolution is G.ResolvedStatus.FULL


def test_log_cut_midway():
    cut = BASIC[: BASIC.index(f"ERROR {F}test_e")]  # the run died while writing its summary
    g = grade(_inst([F + "test_a", F + "test_f"], [F + "test_b"]), cut)
    assert g.statuses == {F + "test_a": "PASSED", F + "test_f": None, F + "test_b": "PASSED"}
    assert g.resolution is G.ResolvedStatus.PARTIAL and g.partial_credit == 0.5
    framed = _frame(BASIC)
    assert grade(_inst([F + "test_a"]), framed[: framed.index(G.END_TEST_OUTPUT)]).found is False


def test_hostile_logs_never_raise():
    inst = _inst([F + "test_a"], [F + "test_b"])
    colour = f"\x1b[32mPASSED\x1b[0m {F}test_a\n\x1b[32mPASSED\x1b[0m {F}test_b\n"
    assert not grade(inst, colour).found  # parse_log_pytest, like SWE-bench's, reads no coloured line
    assert grade(SWEInstance(**{**_inst([F + "test_a"], [F + "test_b"]).__dict__,
                                "log_parser": "parse_log_pytest_v2"}), colour).resolved
    binary = bytes(range(256)) * 1000 + f"\nPASSED {F}test_a\nPASSED {F}test_b\n".encode() + b"\xff\xfe"
    assert grade(inst, binary).resolved
    assert grade(inst, "\x00PASSED\x00 x\n" * 1000 + "PASSED\nFAILED\n- - -\n").statuses == {
        F + "test_a": None, F + "test_b": None}
    huge = "x" * (MAX_LOG_CHARS + 10) + f"\nPASSED {F}test_a\nPASSED {F}test_b\n"
    g = grade(inst, huge)  # cut to head + tail: pytest's summary (at the end) survives
    assert g.resolved
    one_line = "PASSED " + "a" * (8 * 2**20)
    assert not grade(inst, one_line).resolved


# ------------------------------------------------------------------------------------- resolution levels
@pytest.mark.parametrize(("log", "level", "credit"), [
    ("PASSED f1\nPASSED f2\nPASSED f3\nPASSED p1\nSKIPPED p2\n", "RESOLVED_FULL", 1.0),
    ("PASSED f1\nPASSED f2\nFAILED f3\nPASSED p1\nPASSED p2\n", "RESOLVED_PARTIAL", 2 / 3),
    ("XFAIL f1\nERROR f2\n", "RESOLVED_NO", 0.0),  # P2P missing: broken
    ("PASSED f1\nPASSED f2\nPASSED f3\nPASSED p1\nFAILED p2\n", "RESOLVED_NO", 0.0),
    ("SKIPPED f1\nSKIPPED f2\nSKIPPED f3\nPASSED p1\nPASSED p2\n", "RESOLVED_NO", 0.0),  # a skipped F2P fails
    ("FAILED f1\nFAILED f2\nFAILED f3\nPASSED p1\nPASSED p2\n", "RESOLVED_NO", 0.0),
], ids=["full", "partial", "p2p-missing", "p2p-broken", "f2p-skipped", "none"])
def test_resolution_levels(log, level, credit):
    g = grade(_inst(["f1", "f2", "f3"], ["p1", "p2"]), log)
    assert g.resolution.value == level
    assert g.resolved is (level == "RESOLVED_FULL")
    assert g.partial_credit == pytest.approx(credit)


def test_fail_only_eval_type():
    inst = _inst(["f1", "f2"], ["p1"], eval_type="fail_only")
    assert grade(inst, "PASSED f1\nERROR f2\n").resolved  # only an explicit FAILED fails
    assert not grade(inst, "PASSED f1\nFAILED p1\n").resolved


# ------------------------------------------------------------------------------------- framed logs, reports
def test_framed_log_rules():
    inst = _inst([F + "test_a"], [F + "test_b"])
    assert grade(inst, _frame(BASIC, 1)).resolved
    for bad in (G.APPLY_PATCH_FAIL, G.RESET_FAILED, G.TESTS_ERROR, G.TESTS_TIMEOUT):
        assert grade(inst, bad + "\n" + _frame(BASIC)).found is False
    faked = f"PASSED {F}test_a\nPASSED {F}test_b\n"
    assert grade(inst, _frame(faked, 0)).resolved
    assert not grade(inst, _frame(faked, 2)).found  # exit 2 yet nothing failed: not this run's log
    outside = f"{G.START_TEST_OUTPUT}\n{G.END_TEST_OUTPUT}\n{faked}"
    assert grade(inst, outside).resolved  # results outside the markers: the whole log is read


def test_report_shape():
    inst = _inst([F + "test_a", F + "test_f"], [F + "test_b"])
    assert report(inst, None, None) == {"o__r-1": {"patch_is_None": True, "patch_exists": False,
                                                   "patch_successfully_applied": False, "resolved": False,
                                                   "infra_failure": False}}
    rep = report(inst, _frame(BASIC, 1), "diff --git a/x b/x")["o__r-1"]
    assert rep["patch_successfully_applied"] and not rep["resolved"]
    assert rep["tests_status"] == {
        "FAIL_TO_PASS": {"success": [F + "test_a"], "failure": [F + "test_f"]},
        "PASS_TO_PASS": {"success": [F + "test_b"], "failure": []},
        "FAIL_TO_FAIL": {"success": [], "failure": []}, "PASS_TO_FAIL": {"success": [], "failure": []}}
    oom = report(inst, "Killed\n", "diff")["o__r-1"]
    assert oom["infra_failure"] is True and oom["infra_failure_reason"] == "out_of_memory"
    assert not oom["patch_successfully_applied"] and "tests_status" not in oom


def test_write_report_and_run_summary(tmp_path):
    a, b, c, d = (SWEInstance(instance_id=f"o__r-{i}", repo="o/r", FAIL_TO_PASS=("f",)) for i in range(4))
    reports = {a.instance_id: report(a, _frame("PASSED f", 0), "p"),
               b.instance_id: report(b, "collected 0 items", "p")}
    path = G.write_report(tmp_path / a.instance_id, reports[a.instance_id])
    assert json.loads(path.read_text()) == reports[a.instance_id] and path.name == "report.json"
    summary = run_summary([a, b, c, d], reports, {a.instance_id: "p", b.instance_id: "p", c.instance_id: ""})
    assert summary["resolved_ids"] == ["o__r-0"] and summary["unresolved_ids"] == ["o__r-1"]
    assert summary["empty_patch_ids"] == ["o__r-2"] and summary["incomplete_ids"] == ["o__r-3"]
    assert summary["ambiguous_failure_ids"] == ["o__r-1"]
    assert summary["failure_reasons"] == {"o__r-1": "no_tests_collected"}


def test_test_command():
    tp = ("diff --git a/tests/test_x.py b/tests/test_x.py\n--- a/tests/test_x.py\n+++ b/tests/test_x.py\n"
          "@@ -1 +1 @@\n-a\n+b\ndiff --git a/tests/data.json b/tests/data.json\n--- a/tests/data.json\n"
          "+++ b/tests/data.json\n@@ -1 +1 @@\n-1\n+2\n")
    assert test_command(_inst(["tests/test_x.py::t"], test_patch=tp)).endswith(" tests/test_x.py")
    cmd = test_command(_inst(["tests/a b.py::t[1]", "tests/c.py::u"], ["tests/c.py::v"]))
    assert cmd.startswith("python -m pytest --no-header -rA --tb=no -p no:cacheprovider")
    assert cmd.endswith(" 'tests/a b.py' tests/c.py")
    assert test_command(_inst(["t"], test_cmd="tox -e py -- -rA")) == "tox -e py -- -rA"


# ------------------------------------------------------------------------------------- real pytest runs
def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # fast start
    env.pop("PY_COLORS", None)
    env.pop("FORCE_COLOR", None)
    return env


def _run_pytest(tmp_path: Path, *args: str) -> str:
    repo = tmp_path / "tinyrepo"
    if not repo.exists():
        shutil.copytree(FIXTURE, repo)
    env = _env()
    proc = subprocess.run([sys.executable, "-m", "pytest", "--no-header", "-rA", "--tb=no", "-p", "no:cacheprovider",
                           "--color=no", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def real_logs(tmp_path_factory) -> dict[str, str]:
    """Real pytest -rA logs of the fixture repo: every outcome; an interrupted collection; a framed run."""
    tmp = tmp_path_factory.mktemp("logs")
    full = _run_pytest(tmp, "--continue-on-collection-errors", "checks")
    interrupted = _run_pytest(tmp, "checks")
    framed = subprocess.run(["bash", "-c", G.framed("python -m pytest --no-header -rA --tb=no -p no:cacheprovider "
                                                    "--color=no checks/check_outcomes.py")],
                            cwd=tmp / "tinyrepo", env=_env(), capture_output=True, text=True, timeout=120).stdout
    return {"full": full, "interrupted": interrupted, "framed": framed}


CO = "checks/check_outcomes.py::"


def test_real_log_statuses(real_logs):
    statuses = parse_log_pytest(real_logs["full"])
    assert statuses[CO + "check_pass"] == "PASSED"
    assert statuses[CO + "check_fail"] == "FAILED"
    assert statuses[CO + "check_error_in_fixture"] == "ERROR"
    assert statuses[CO + "check_xfail"] == "XFAIL"
    assert statuses["checks/check_collect_error.py"] == "ERROR"
    assert statuses[CO + "check_param[2-3]"] == "FAILED"
    assert statuses[CO + "check_param_odd_ids[a"] == "PASSED"
    assert parse_log_pytest_v2(real_logs["full"])[CO + "check_param_odd_ids[a b]"] == "PASSED"
    assert parse_log_pytest(real_logs["interrupted"]) == {"checks/check_collect_error.py": "ERROR"}
    inst = _inst([CO + "check_pass", CO + "check_param[1-1]"], [CO + "CheckGroup::check_method"])
    assert grade(inst, real_logs["framed"]).resolved
    assert G.TEST_EXIT_CODE + ": 1" in real_logs["framed"]


# ------------------------------------------------------------------------------------- agreement with swebench
def _swebench():
    return pytest.importorskip("swebench.harness.grading",
                               reason="swebench is not installed (pip install turngym[peers]); agreement not checked")


HAND_LOGS = {"basic": BASIC, "collect": "ERROR tests/test_m.py - ImportError\n",
             "params": f"PASSED {F}test_p[a b]\nFAILED {F}test_p[dash - sep] - E\nPASSED {F}t[x[1]]\n",
             "colour": f"\x1b[32mPASSED\x1b[0m {F}test_a\nXFAIL {F}t - r\n", "odd": "PASSEDX a\nSKIPPED [3] x\n",
             "old-verbose": f"{F}test_a PASSED\n{F}test_b FAILED\n", "controls": "PASSED\ta\x01b\nFAILED - x\n"}


@pytest.mark.peers
@pytest.mark.parametrize("parser", ["parse_log_pytest", "parse_log_pytest_v2"])
def test_parsers_agree_with_swebench(real_logs, parser):
    _swebench()
    from swebench.harness.log_parsers import PARSER_REGISTRY

    ours = {"parse_log_pytest": parse_log_pytest, "parse_log_pytest_v2": parse_log_pytest_v2}[parser]
    for name, log in {**real_logs, **HAND_LOGS}.items():
        assert ours(log) == PARSER_REGISTRY[parser](log, None), name


def _agreement_instances(statuses: dict[str, str]) -> list[SWEInstance]:
    ids = sorted(statuses)
    passing = [t for t in ids if statuses[t] in ("PASSED", "XFAIL")]
    return [
        _inst(passing[:2], passing[2:]),                                     # resolved
        _inst(ids[:3], ids[3:]),                                             # everything mixed
        _inst([CO + "check_param_odd_ids[a", CO + "check_gone"], passing),   # a cut id and a missing one
        _inst(ids[-2:], ids[:-2], eval_type="fail_only"),
        _inst(passing[:1], [CO + "check_param_odd_ids[a b]"], log_parser="parse_log_pytest_v2"),
    ]


@pytest.mark.peers
def test_report_agrees_with_swebench(real_logs, tmp_path):
    grading = _swebench()
    from swebench.types import TestSpec

    logs = {**real_logs, "hand": _frame(BASIC, 1), "faked": _frame("PASSED a\nPASSED b", 3), "oom": "Killed\n",
            "no-markers": BASIC, "apply-failed": G.APPLY_PATCH_FAIL + "\n" + _frame(BASIC)}
    checked = 0
    for name, log in logs.items():
        path = tmp_path / f"{name}.txt"
        path.write_text(log, encoding="utf-8")
        for i, inst in enumerate(_agreement_instances(parse_log_pytest(real_logs["full"]))):
            spec = TestSpec(instance_id=inst.instance_id, image="", eval_script_list=[], repo=inst.repo, version="",
                            FAIL_TO_PASS=list(inst.FAIL_TO_PASS), PASS_TO_PASS=list(inst.PASS_TO_PASS),
                            log_parser=inst.log_parser, eval_type=inst.eval_type)
            for patch in ("diff --git a/x b/x", None):
                theirs = grading.get_eval_report(spec, {"instance_id": inst.instance_id, "model_patch": patch},
                                                 str(path), include_tests_status=True)
                assert report(inst, log, patch) == theirs, (name, i, patch)
                checked += 1
            statuses, found = grading.get_logs_eval(spec, str(path))
            assert G.read_framed_log(inst, log) == (statuses, found), (name, i)
    assert checked == len(logs) * 5 * 2
