"""A pytest plugin that writes every test's outcome, and the failures' test-file frames, to a JSON file.

Standalone on purpose (no turngym import): ``validate`` copies it into a temporary folder put on the test
run's ``PYTHONPATH`` and loads it with ``-p``. Reading pytest's report objects gives exact node ids and the
structured traceback, where parsing ``-rA`` text would have to guess at ids containing spaces or `` - ``.

The output file (``$TURNGYM_OUTCOMES``) holds ``{"tests": {nodeid: outcome}, "collect_errors": [nodeid],
"failures": {nodeid: {"crash": str, "entries": [{"path", "lineno", "lines"}]}}}``; outcomes are ``passed``,
``failed`` (the test body), ``error`` (setup/teardown), ``skipped``, ``xfailed`` and ``xpassed``.
"""

from __future__ import annotations

import json
import os

_tests: dict[str, str] = {}
_failures: dict[str, dict] = {}
_collect_errors: list[str] = []


def _entries(longrepr: object) -> list[dict]:
    """The traceback entries of a failure (file, line, source lines with the ``E`` lines), when pytest has them."""
    out = []
    chain = getattr(longrepr, "chain", None) or []
    tracebacks = [element[0] for element in chain] or [getattr(longrepr, "reprtraceback", None)]
    for reprtraceback in tracebacks:
        for entry in getattr(reprtraceback, "reprentries", None) or []:
            loc = getattr(entry, "reprfileloc", None)
            if loc is None:
                continue
            out.append({"path": str(loc.path), "lineno": int(loc.lineno), "lines": list(entry.lines)})
    return out


def pytest_runtest_logreport(report) -> None:  # noqa: ANN001 (pytest's TestReport)
    """Records one phase's outcome; a failure in any phase (setup, call, teardown) is the test's outcome."""
    nodeid = report.nodeid
    previous = _tests.get(nodeid)
    if report.failed:
        outcome = "failed" if report.when == "call" else "error"
        if report.when == "call" and hasattr(report, "wasxfail"):
            outcome = "failed"  # a strict xpass
        crash = getattr(getattr(report.longrepr, "reprcrash", None), "message", None)
        _failures.setdefault(nodeid, {"crash": crash if crash is not None else str(report.longrepr)[-2000:],
                                      "entries": _entries(report.longrepr)})
    elif report.skipped:
        outcome = "xfailed" if hasattr(report, "wasxfail") else "skipped"
    elif report.when == "call":
        outcome = "xpassed" if hasattr(report, "wasxfail") else "passed"
    else:
        return  # a passing setup or teardown says nothing new
    if previous in ("failed", "error"):
        return  # a failure in any phase is the test's outcome
    _tests[nodeid] = outcome


def pytest_collectreport(report) -> None:  # noqa: ANN001 (pytest's CollectReport)
    """Records a file or class that failed to collect (an import error, a bad parametrize)."""
    if report.failed:
        _collect_errors.append(report.nodeid)


def pytest_sessionfinish(session) -> None:  # noqa: ANN001
    """Writes everything recorded to ``$TURNGYM_OUTCOMES``."""
    path = os.environ.get("TURNGYM_OUTCOMES")
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"tests": _tests, "failures": _failures, "collect_errors": _collect_errors}, fh)
