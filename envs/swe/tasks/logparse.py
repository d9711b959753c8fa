r"""Test-log parsers: a pytest ``-rA`` log -> ``{test id: status}``, with SWE-bench's exact rules.

SWE-bench grades a run by parsing the test command's output into a status map and looking the instance's
``FAIL_TO_PASS``/``PASS_TO_PASS`` ids up in it, so the ids in a task file are only meaningful together with
the parser that produced them. Two parsers are offered, named as the ``swebench`` harness names them (an
instance's ``log_parser`` field picks one; ``swebench.harness.log_parsers`` is the reference, and
``tests/envs/swe/test_grading.py`` checks agreement with it on real pytest logs):

``parse_log_pytest`` (the default, what SWE-bench's Python repositories use)
    A line that starts with a status word (``PASSED``, ``FAILED``, ``SKIPPED``, ``ERROR``, ``XFAIL``)
    records the line's second whitespace-separated token as the test id and its first token as the status.
    On ``FAILED`` lines ``" - "`` is removed first (pytest writes ``FAILED <id> - <message>``). A test id
    that contains a space is therefore cut at its first space (``test_f[a b]`` -> ``test_f[a``): SWE-bench's
    datasets store such ids cut the same way, and the grader's prefix rule (``grading.lookup``) matches
    them. pytest's ``SKIPPED [N] file:line: reason`` summary lines are not tests and are dropped. ANSI
    colour codes are *not* removed: run pytest with ``--color=no`` (``grading.test_command`` does).
``parse_log_pytest_v2`` (SWE-bench's parser for later pytest versions)
    Removes ``ESC[<n>m`` colour codes and every control character first, keeps whole ids (spaces included,
    runs of spaces collapsed to one), cuts ``FAILED`` lines at their first ``" - "``, and also reads the
    ``<id> STATUS`` form of old pytest versions' verbose lines.

A later line for the same id overwrites an earlier one (the ``-rA`` summary comes last, so it wins over
verbose progress lines). Statuses are kept as the strings found, like SWE-bench's maps, so that grading
treats an odd token (``PASSEDx``) exactly as SWE-bench does: as neither passed nor failed.

Logs are model-influenced (a test can print anything): parsing is linear in the log's length, never raises
on any ``str``, and ``bound_log`` cuts a log beyond ``MAX_LOG_CHARS`` to its head and tail (pytest's summary
is at the end) before parsing.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable

from turngym.envs.swe.sandbox.base import head_tail

#: Longest log parsed whole; a longer one keeps its head and tail (``bound_log``). The sandboxes already cap
#: command output far below this (``SandboxSpec.max_output_chars``); the cap protects direct callers.
MAX_LOG_CHARS = 64 * 2**20


class TestStatus(str, enum.Enum):
    """The status words pytest's ``-rA`` summary writes, as SWE-bench's ``TestStatus`` lists them."""

    __test__ = False  # not a pytest test class, despite its name

    FAILED = "FAILED"
    PASSED = "PASSED"
    SKIPPED = "SKIPPED"
    ERROR = "ERROR"
    XFAIL = "XFAIL"


_STATUS_WORDS = tuple(s.value for s in TestStatus)
_SKIP_SUMMARY = re.compile(r"\[\d+\]")  # "SKIPPED [2] tests/x.py:3: reason": [2] is a count, not a test
_COLOUR = re.compile(r"\[(\d+)m")  # v2 removes "[<n>m" (the ESC before it is a control character, removed too)
_CONTROL = str.maketrans("", "", "".join(chr(c) for c in range(1, 32)))
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def bound_log(log: str | bytes) -> str:
    """``log`` as text, decoded as UTF-8 with replacement, cut to ``MAX_LOG_CHARS`` keeping head and tail."""
    if isinstance(log, (bytes, bytearray, memoryview)):
        log = bytes(log).decode("utf-8", errors="replace")
    return head_tail(log, MAX_LOG_CHARS)[0]


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape sequences (CSI: colours, cursor moves)."""
    return _ANSI.sub("", text)


def _skip_summary(status: str, name: str) -> bool:
    return status == TestStatus.SKIPPED.value and _SKIP_SUMMARY.fullmatch(name) is not None


def parse_log_pytest(log: str) -> dict[str, str]:
    """Test id -> status word from a pytest ``-rA`` log, by SWE-bench's ``parse_log_pytest`` rule.

    Args:
        log: The test command's output.

    Returns:
        The status map (ids cut at their first space, see the module docstring).
    """
    statuses: dict[str, str] = {}
    for line in log.split("\n"):
        if not line.startswith(_STATUS_WORDS):
            continue
        if line.startswith(TestStatus.FAILED.value):
            line = line.replace(" - ", " ")  # "FAILED id - message": the message must not become the id
        tokens = line.split(maxsplit=2)
        if len(tokens) < 2 or _skip_summary(tokens[0], tokens[1]):
            continue
        statuses[tokens[1]] = tokens[0]
    return statuses


def parse_log_pytest_v2(log: str) -> dict[str, str]:
    """Test id -> status word, by SWE-bench's ``parse_log_pytest_v2`` rule (whole ids, colours removed).

    Args:
        log: The test command's output.

    Returns:
        The status map.
    """
    statuses: dict[str, str] = {}
    for line in log.split("\n"):
        line = _COLOUR.sub("", line).translate(_CONTROL)
        if line.startswith(_STATUS_WORDS):
            if line.startswith(TestStatus.FAILED.value):
                line = line.split(" - ", 1)[0]
            tokens = line.split()
            if len(tokens) >= 2 and not _skip_summary(tokens[0], tokens[1]):
                statuses[" ".join(tokens[1:])] = tokens[0]
        elif line.endswith(_STATUS_WORDS):  # "<id> PASSED": old pytest versions' verbose lines
            tokens = line.split()
            if len(tokens) >= 2:
                statuses[" ".join(tokens[:-1])] = tokens[-1]
    return statuses


#: Parsers by the name an instance's ``log_parser`` field gives (SWE-bench's names).
PARSERS: dict[str, Callable[[str], dict[str, str]]] = {
    "parse_log_pytest": parse_log_pytest,
    "parse_log_pytest_v2": parse_log_pytest_v2,
}
DEFAULT_PARSER = "parse_log_pytest"
