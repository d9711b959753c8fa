"""Problem statements written from the failing tests' output, without revealing the patch.

A statement is what a user filing the bug would paste: which tests fail, the exception each raises, and the
traceback through the test code. Frames in the library's own files are left out (they point at the mutated
line), so only frames in the suite's test files are shown, with pytest's ``E`` lines (the assertion and the
values compared). As a last guard, any statement line that contains the text of a line the bug changed
(either side of the diff, long enough to be specific) is removed, and ``leaks`` says whether any remain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from turngym.envs.swe.tasks.synth.repos import RepoSpec

#: Changed lines shorter than this (``pass``, ``return``, ``i += 1``) are too generic to count as a leak.
MIN_LEAK_CHARS = 8
MAX_DETAILED = 5
"""Failing tests whose traceback is shown (the others are listed by name)."""
MAX_LISTED = 30
MAX_FRAME_LINES = 25
MAX_LINE_CHARS = 240


def changed_lines(diff: str) -> list[str]:
    """The stripped text of every line a unified diff removes or adds, long enough to be specific."""
    out = []
    for line in diff.splitlines():
        if line[:1] in "+-" and not line.startswith(("+++ ", "--- ")):
            text = line[1:].strip()
            if len(text) >= MIN_LEAK_CHARS:
                out.append(text)
    return out


def leaks(statement: str, diff: str) -> list[str]:
    """The changed lines of ``diff`` that appear in ``statement`` (empty: nothing of the patch is revealed)."""
    return [text for text in changed_lines(diff) if text in statement]


def _relative(path: str, work: Path | None) -> str:
    if work is not None and Path(path).is_absolute():
        try:
            return Path(path).relative_to(work).as_posix()
        except ValueError:
            return path
    return path


def _clip(line: str) -> str:
    return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 3] + "..."


def write(spec: RepoSpec, fail_to_pass: Sequence[str], failures: Mapping[str, Mapping], diff: str,
          work: Path | None = None) -> str:
    """The problem statement of a synthesized bug.

    Args:
        spec: The repository.
        fail_to_pass: The tests the bug makes fail (sorted node ids).
        failures: The outcomes plugin's ``failures`` (node id -> crash message and traceback entries).
        diff: The bug's diff (either direction): lines it changes are never shown.
        work: The tree the tests ran in (to make absolute frame paths relative).
    """
    n = len(fail_to_pass)
    parts = [f"Some tests of {spec.repo} ({spec.dist} {spec.version}) fail: {n} test{'s' if n != 1 else ''} "
             "that should pass do not.", "", "Failing tests:"]
    parts += [f"- {t}" for t in fail_to_pass[:MAX_LISTED]]
    if n > MAX_LISTED:
        parts.append(f"- ... and {n - MAX_LISTED} more")
    shown: dict[tuple, str] = {}
    for test in fail_to_pass:
        failure = failures.get(test)
        if not failure or len(shown) >= MAX_DETAILED:
            continue
        entries = failure.get("entries", [])
        frames = [e for e in entries if spec.is_test_path(_relative(e["path"], work))]
        crash = str(failure.get("crash") or "").strip()
        block = []
        if crash and (not entries or entries[-1] not in frames):
            # raised outside the test code: its message is all that shows of the innermost frame
            block += [f"    {_clip(line)}" for line in crash.splitlines()[:6]]
        if frames:
            block.append("  in the test code:")
            for entry in frames[-3:]:  # the innermost test frames are the informative ones
                block.append(f"  {_relative(entry['path'], work)}:{entry['lineno']}")
                lines = [ln for ln in entry["lines"] if ln.strip()][-MAX_FRAME_LINES:]
                block += [f"    {_clip(ln)}" for ln in lines]
        key = tuple(block)
        if key in shown:  # parametrized cases failing the same way: one traceback, the others named
            continue
        shown[key] = test
        parts += ["", f"{test} fails with:", *block]
    parts += ["", "The tests are correct; the library's source is not. Fix the source so that these tests pass "
              "and the rest of the suite keeps passing."]
    redact = changed_lines(diff)
    kept = [line for line in parts if not any(text in line for text in redact)]
    return "\n".join(kept) + "\n"
