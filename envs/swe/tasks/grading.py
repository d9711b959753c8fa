"""Grading by SWE-bench's rules, and the ``report.json`` the ``swebench`` harness writes.

SWE-bench grades a candidate patch like this (``swebench.harness.grading``, version pinned in setup.cfg's
``peers``; ``tests/envs/swe/test_grading.py`` compares against it):

1. Apply the candidate patch, then the instance's ``test_patch``; run the test command between the
   ``>>>>> Start Test Output`` and ``>>>>> End Test Output`` markers (``framed``), recording its exit status
   after the end marker.
2. Parse the output between the markers into ``{test id: status}`` with the instance's parser
   (``logparse``). The run is *not found* (``patch_successfully_applied`` false, nothing resolved) when the log
   holds an apply/reset failure, an error or time-out marker, lacks the markers, parses to no test at all, or
   when the test command exited non-zero while the log reports no failure (a patch printing its own
   ``PASSED`` lines).
3. A FAIL_TO_PASS test succeeds iff its status is PASSED or XFAIL; a PASS_TO_PASS test succeeds iff PASSED,
   XFAIL or SKIPPED (a skip is not a regression); a test missing from the log fails. An id cut inside its
   parameters (``test_f[a``, ``[`` outnumbering ``]``) matches the log's ids that start with it when they
   all agree on pass vs fail (``lookup``). Under ``eval_type="fail_only"`` only a FAILED status fails.
4. F2P rate = successes / listed (1 when none are listed), same for P2P. Resolution: FULL iff both rates
   are 1, PARTIAL iff 0 < F2P < 1 and P2P = 1, else NO; ``resolved`` iff FULL.

``partial_credit`` is the F2P rate when P2P is whole and 0 otherwise: breaking a passing test earns nothing,
as in the FULL/PARTIAL rule above.
"""

from __future__ import annotations

import enum
import json
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from turngym.envs.swe.tasks.instance import SWEInstance
from turngym.envs.swe.tasks.logparse import PARSERS, TestStatus, bound_log

# The harness's log markers (swebench.harness.constants): the test command's output lies between the two
# START/END markers; the others mean the run did not happen as asked.
START_TEST_OUTPUT = ">>>>> Start Test Output"
END_TEST_OUTPUT = ">>>>> End Test Output"
TEST_EXIT_CODE = ">>>>> Test Exit Code"
APPLY_PATCH_FAIL = ">>>>> Patch Apply Failed"
RESET_FAILED = ">>>>> Reset Failed"
TESTS_ERROR = ">>>>> Tests Errored"
TESTS_TIMEOUT = ">>>>> Tests Timed Out"
_BAD_MARKERS = (APPLY_PATCH_FAIL, RESET_FAILED, TESTS_ERROR, TESTS_TIMEOUT)
_EXIT_CODE = re.compile(re.escape(TEST_EXIT_CODE) + r":\s*(-?\d+)")

TEST_GROUPS = ("FAIL_TO_PASS", "PASS_TO_PASS", "FAIL_TO_FAIL", "PASS_TO_FAIL")
_PASSING = (TestStatus.PASSED.value, TestStatus.XFAIL.value)
_FAILING = (TestStatus.FAILED.value, TestStatus.ERROR.value, TestStatus.SKIPPED.value)

# Why a run left no parseable output, read from the log (swebench.harness.infra_failure, advisory only: it
# never changes `resolved`). "environment": the sandbox broke; "ambiguous": a bad patch can cause it too.
_INFRA_SIGNATURES = tuple((reason, tier, re.compile(pattern, re.MULTILINE)) for reason, tier, pattern in (
    ("browser_launch_failed", "environment", r"Failed to launch|Failed to connect to the bus"),
    ("display_unavailable", "environment", r"cannot open display|Missing X server|unable to open X display"),
    ("out_of_memory", "environment", r"Cannot allocate memory|OutOfMemoryError|^Killed$"),
    ("container_unavailable", "environment", r"Error response from daemon|Cannot connect to the Docker daemon"),
    ("network_unreachable", "environment", r"Could not resolve host|Temporary failure in name resolution"),
    ("missing_module", "ambiguous", r"Cannot find module|MODULE_NOT_FOUND|ModuleNotFoundError"),
    ("no_tests_collected", "ambiguous", r"no tests ran|collected 0 items"),
    ("tests_timed_out", "ambiguous", r"Timeout error: \d+ seconds exceeded"),
))

# Files a test patch touches that are not tests to run (swebench.harness.constants.NON_TEST_EXTS).
_NON_TEST_SUFFIXES = (".json", ".png", "csv", ".txt", ".md", ".jpg", ".jpeg", ".pkl", ".yml", ".yaml", ".toml")


class ResolvedStatus(str, enum.Enum):
    """SWE-bench's resolution levels (``swebench.harness.constants.ResolvedStatus``)."""

    NO = "RESOLVED_NO"
    PARTIAL = "RESOLVED_PARTIAL"
    FULL = "RESOLVED_FULL"


@dataclass(frozen=True)
class Grade:
    """The outcome of one graded run.

    Attributes:
        instance_id: The instance graded.
        found: The log described a test run (SWE-bench's ``patch_successfully_applied``); when False nothing
            below counts as passing.
        statuses: Every listed test (FAIL_TO_PASS then PASS_TO_PASS) -> the status the log gave it
            (``PASSED``, ``FAILED``, ``SKIPPED``, ``ERROR``, ``XFAIL`` or an odd token found in the log), or
            None when the log does not mention it.
        tests_status: SWE-bench's per-group ``{"success": [...], "failure": [...]}`` for FAIL_TO_PASS,
            PASS_TO_PASS, FAIL_TO_FAIL and PASS_TO_FAIL (the last two are always empty, as in the harness).
        resolution: FULL, PARTIAL or NO.
        f2p_rate: Fraction of FAIL_TO_PASS tests that succeeded (1.0 when none are listed).
        p2p_rate: Fraction of PASS_TO_PASS tests that succeeded (1.0 when none are listed).
        infra_failure_reason: When not found: why, when the log shows it (``out_of_memory``, ...), else "".
        infra_failure: That reason is the environment's fault, not the patch's.
    """

    instance_id: str
    found: bool
    statuses: dict[str, str | None]
    tests_status: dict[str, dict[str, list[str]]]
    resolution: ResolvedStatus
    f2p_rate: float
    p2p_rate: float
    infra_failure_reason: str = ""
    infra_failure: bool = False

    @property
    def resolved(self) -> bool:
        """Every FAIL_TO_PASS and PASS_TO_PASS test succeeded (resolution FULL)."""
        return self.resolution is ResolvedStatus.FULL

    @property
    def partial_credit(self) -> float:
        """The fraction of FAIL_TO_PASS tests passing, or 0 when a PASS_TO_PASS test broke (or not found)."""
        return self.f2p_rate if self.found and self.p2p_rate == 1.0 else 0.0


def lookup(test: str, statuses: Mapping[str, str]) -> str | None:
    """The key of ``statuses`` that ``test`` names, or None.

    An exact key wins. An id with more ``[`` than ``]`` was cut inside its parameters (SWE-bench's datasets
    hold such ids); it names the keys that start with it, when those all agree on passing vs not.
    """
    if test in statuses:
        return test
    if test.count("[") > test.count("]"):
        matches = [k for k in statuses if k.startswith(test)]
        if matches and len({statuses[k] in _PASSING for k in matches}) == 1:
            return matches[0]
    return None


def _succeeded(test: str, statuses: Mapping[str, str], *, skip_ok: bool, fail_only: bool) -> bool:
    """Whether ``test`` succeeded (each test is either a success or a failure, SWE-bench's step 3)."""
    if fail_only:  # EvalType.FAIL_ONLY compares the exact id and fails only an explicit FAILED
        return statuses.get(test) != TestStatus.FAILED.value
    key = lookup(test, statuses)
    if key is None:
        return False
    status = statuses[key]
    if status in _PASSING or (skip_ok and status == TestStatus.SKIPPED.value):
        return True
    if status in _FAILING:
        return False
    # An odd status token (a line "PASSEDx id"): the harness files the test under neither list; we do the
    # same so reports agree, and it counts as not succeeded below.
    raise _Neither


class _Neither(Exception):
    pass


def tests_report(instance: SWEInstance, statuses: Mapping[str, str]) -> dict[str, dict[str, list[str]]]:
    """SWE-bench's per-group success/failure lists for ``instance`` given a parsed status map."""
    out: dict[str, dict[str, list[str]]] = {g: {"success": [], "failure": []} for g in TEST_GROUPS}
    fail_only = instance.eval_type == "fail_only"
    for group, tests, skip_ok in (("FAIL_TO_PASS", instance.FAIL_TO_PASS, False),
                                  ("PASS_TO_PASS", instance.PASS_TO_PASS, True)):
        for test in tests:
            try:
                ok = _succeeded(test, statuses, skip_ok=skip_ok, fail_only=fail_only)
            except _Neither:
                continue
            out[group]["success" if ok else "failure"].append(test)
    return out


def _rate(group: Mapping[str, list[str]]) -> float:
    total = len(group["success"]) + len(group["failure"])
    return 1.0 if total == 0 else len(group["success"]) / total


def resolution_status(tests_status: Mapping[str, Mapping[str, list[str]]]) -> ResolvedStatus:
    """FULL iff both rates are 1; PARTIAL iff 0 < F2P rate < 1 and the P2P rate is 1; else NO."""
    f2p, p2p = _rate(tests_status["FAIL_TO_PASS"]), _rate(tests_status["PASS_TO_PASS"])
    if f2p == 1 and p2p == 1:
        return ResolvedStatus.FULL
    if 0 < f2p < 1 and p2p == 1:
        return ResolvedStatus.PARTIAL
    return ResolvedStatus.NO


def parse_test_log(instance: SWEInstance, log: str | bytes) -> dict[str, str]:
    """``{test id: status}`` from a raw test log, by the instance's parser (``logparse``)."""
    return PARSERS[instance.log_parser](bound_log(log))


def read_framed_log(instance: SWEInstance, content: str | bytes) -> tuple[dict[str, str], bool]:
    """The status map of a framed evaluation log and whether it describes a test run (step 2 above).

    Args:
        instance: The instance whose parser reads the log.
        content: The whole evaluation log (``framed``'s output, with whatever ran before and after).

    Returns:
        (status map, found); ``({}, False)`` when the run is not found.
    """
    content = bound_log(content)
    if any(marker in content for marker in _BAD_MARKERS):
        return {}, False
    if START_TEST_OUTPUT not in content or END_TEST_OUTPUT not in content:
        return {}, False
    parse = PARSERS[instance.log_parser]
    statuses = parse(content.split(START_TEST_OUTPUT, 1)[1].split(END_TEST_OUTPUT, 1)[0])
    if not statuses:  # some runners write results outside the markers: the harness then reads the whole log
        statuses = parse(content)
    if not statuses:
        return {}, False
    exit_code = _EXIT_CODE.search(content)
    if exit_code and int(exit_code.group(1)) != 0 and not any(
            s in (TestStatus.FAILED.value, TestStatus.ERROR.value) for s in statuses.values()):
        return {}, False  # the command failed, yet the log says nothing failed: the log is not this run's
    return statuses, True


def classify_failure(log: str) -> tuple[str, str] | None:
    """(reason, tier) for a log without test results, when it shows why (``out_of_memory``, ...)."""
    for reason, tier, pattern in _INFRA_SIGNATURES:
        if pattern.search(log):
            return reason, tier
    return None


def grade(instance: SWEInstance, test_log: str | bytes, *, framed: bool | None = None) -> Grade:
    """Grades one run of ``instance``'s tests by SWE-bench's rules.

    Args:
        instance: The task.
        test_log: The test command's output: framed by the harness markers (``framed``), or raw.
        framed: Whether the log carries the markers; default: it does iff it contains the start marker. A raw
            log is found iff it parses to at least one test.

    Returns:
        The grade.
    """
    text = bound_log(test_log)
    if framed is None:
        framed = START_TEST_OUTPUT in text
    if framed:
        statuses, found = read_framed_log(instance, text)
    else:
        statuses = parse_test_log(instance, text)
        found = bool(statuses)
    tests_status = tests_report(instance, statuses)
    if not found:
        tests_status = tests_report(instance, {})
    per_test = {t: statuses.get(k) if (k := lookup(t, statuses)) is not None else None for t in instance.test_ids}
    reason, tier = ("", "")
    if not found:
        reason, tier = classify_failure(text) or ("", "")
    return Grade(
        instance_id=instance.instance_id, found=found, statuses=per_test, tests_status=tests_status,
        resolution=resolution_status(tests_status) if found else ResolvedStatus.NO,
        f2p_rate=_rate(tests_status["FAIL_TO_PASS"]) if found else 0.0,
        p2p_rate=_rate(tests_status["PASS_TO_PASS"]) if found else 0.0,
        infra_failure_reason=reason, infra_failure=tier == "environment",
    )


def report(instance: SWEInstance, test_log: str | bytes | None, model_patch: str | None = "", *,
           include_tests_status: bool = True) -> dict[str, dict[str, Any]]:
    """The ``report.json`` content the ``swebench`` harness writes for one instance (``get_eval_report``).

    Args:
        instance: The task.
        test_log: The framed evaluation log (ignored when ``model_patch`` is None).
        model_patch: The candidate patch; None means the model produced none (``patch_is_None``).
        include_tests_status: Add ``tests_status`` when the run is found (the harness writes it).

    Returns:
        ``{instance_id: {"patch_is_None", "patch_exists", "patch_successfully_applied", "resolved",
        "infra_failure", ["infra_failure_reason"], ["tests_status"]}}``.
    """
    entry: dict[str, Any] = {"patch_is_None": False, "patch_exists": False, "patch_successfully_applied": False,
                             "resolved": False, "infra_failure": False}
    out = {instance.instance_id: entry}
    if model_patch is None:
        entry["patch_is_None"] = True
        return out
    entry["patch_exists"] = True
    result = grade(instance, test_log or "", framed=True)
    if not result.found:
        if result.infra_failure_reason:
            entry["infra_failure"] = result.infra_failure
            entry["infra_failure_reason"] = result.infra_failure_reason
        return out
    entry["patch_successfully_applied"] = True
    entry["resolved"] = result.resolved
    if include_tests_status:
        entry["tests_status"] = result.tests_status
    return out


def write_report(folder: str | Path, instance_report: Mapping[str, Any]) -> Path:
    """Writes ``folder/report.json`` as the harness does (``json.dumps(report, indent=4)``)."""
    path = Path(folder) / "report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(instance_report, indent=4), encoding="utf-8")
    return path


def run_summary(instances: Iterable[SWEInstance], reports: Mapping[str, Mapping[str, Any]],
                predictions: Mapping[str, str | None]) -> dict[str, Any]:
    """The run-level summary the harness writes (``make_run_report``), without its Docker leftovers part.

    Args:
        instances: Every instance of the run's dataset.
        reports: instance id -> that instance's ``report()`` (ids that were run).
        predictions: instance id -> the submitted patch (None or "" = empty).

    Returns:
        Counts and sorted id lists: total, submitted, completed, resolved, unresolved, infra-failure,
        ambiguous-failure, empty-patch, error and incomplete instances, plus ``failure_reasons``.
    """
    ids = [inst.instance_id for inst in instances]
    groups: dict[str, set[str]] = {k: set() for k in ("completed", "resolved", "unresolved", "error", "incomplete",
                                                      "empty_patch", "infra_failure", "ambiguous_failure")}
    reasons: dict[str, str] = {}
    for iid in ids:
        if iid not in predictions:
            groups["incomplete"].add(iid)
            continue
        if predictions[iid] in ("", None):
            groups["empty_patch"].add(iid)
            continue
        entry = reports.get(iid, {}).get(iid)
        if iid not in reports:
            groups["error"].add(iid)
            continue
        groups["completed"].add(iid)
        if not isinstance(entry, Mapping) or "resolved" not in entry:
            groups["error"].add(iid)
            continue
        groups["resolved" if entry["resolved"] else "unresolved"].add(iid)
        if entry.get("infra_failure_reason"):
            reasons[iid] = entry["infra_failure_reason"]
            groups["infra_failure" if entry.get("infra_failure") else "ambiguous_failure"].add(iid)
    return {
        "total_instances": len(ids),
        "submitted_instances": len(predictions),
        "completed_instances": len(groups["completed"]),
        "resolved_instances": len(groups["resolved"]),
        "unresolved_instances": len(groups["unresolved"]),
        "infra_failure_instances": len(groups["infra_failure"]),
        "ambiguous_failure_instances": len(groups["ambiguous_failure"]),
        "empty_patch_instances": len(groups["empty_patch"]),
        "error_instances": len(groups["error"]),
        "completed_ids": sorted(groups["completed"]),
        "incomplete_ids": sorted(groups["incomplete"]),
        "empty_patch_ids": sorted(groups["empty_patch"]),
        "submitted_ids": sorted(predictions),
        "resolved_ids": sorted(groups["resolved"]),
        "unresolved_ids": sorted(groups["unresolved"]),
        "infra_failure_ids": sorted(groups["infra_failure"]),
        "ambiguous_failure_ids": sorted(groups["ambiguous_failure"]),
        "failure_reasons": dict(sorted(reasons.items())),
        "error_ids": sorted(groups["error"]),
        "schema_version": 2,
    }


# ------------------------------------------------------------------------------------------ test commands
def test_files(instance: SWEInstance) -> list[str]:
    """The test files to run: those the test patch adds or changes, else the files of the listed test ids.

    SWE-bench runs the files its test patch touches (minus data files); a synthesized task has no test patch
    (the bug is in the source, the tests exist), so the files come from the ``file::test`` ids.
    """
    files: list[str] = []
    for line in instance.test_patch.split("\n"):
        if line.startswith("+++ b/"):
            path = line[len("+++ b/"):].split("\t", 1)[0].rstrip("\r")
            if not path.endswith(_NON_TEST_SUFFIXES):
                files.append(path)
    if not files:
        files = [t.split("::", 1)[0] for t in instance.test_ids if "::" in t]
    return list(dict.fromkeys(files))


def test_command(instance: SWEInstance) -> str:
    """The shell command that runs ``instance``'s tests: its ``test_cmd``, else ``pytest -rA <test files>``.

    The flags are SWE-bench's for pytest repositories (``--no-header -rA --tb=no -p no:cacheprovider``):
    ``-rA`` writes the one-line-per-test summary the parsers read, ``-p no:cacheprovider`` keeps
    ``.pytest_cache`` out of the work tree (whose diff is the episode's state); ``--color=no`` is ours and keeps
    colour codes out of the summary (``parse_log_pytest`` does not remove them).
    """
    if instance.test_cmd:
        return instance.test_cmd
    return " ".join(["python -m pytest --no-header -rA --tb=no -p no:cacheprovider --color=no",
                     *(shlex.quote(f) for f in test_files(instance))]).rstrip()


def framed(command: str) -> str:
    """``command`` wrapped in the harness markers, its exit status recorded after the end marker (step 1)."""
    return "\n".join([
        f"echo '{START_TEST_OUTPUT}'",
        command,
        "SWEBENCH_TEST_EXIT_CODE=$?",
        f"echo '{END_TEST_OUTPUT}'",
        f'echo "{TEST_EXIT_CODE}: $SWEBENCH_TEST_EXIT_CODE"',
    ])


# Their names start with "test_": tell pytest they are not tests when a test module imports them.
test_files.__test__ = False  # type: ignore[attr-defined]
test_command.__test__ = False  # type: ignore[attr-defined]
