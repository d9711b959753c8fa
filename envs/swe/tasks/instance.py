r"""SWE-bench task instances: the dataclass, and a loader for untrusted JSON / JSONL exports.

One row is one task in SWE-bench's format (the fields of ``swebench.types.SWEbenchInstance``)::

    {"instance_id": "astropy__astropy-12907", "repo": "astropy/astropy", "base_commit": "d16bfe05...",
     "patch": "diff --git ...", "test_patch": "diff --git ...",
     "FAIL_TO_PASS": ["tests/test_x.py::test_a"] | "[\"tests/test_x.py::test_a\"]",
     "PASS_TO_PASS": [...] | "[...]", "problem_statement": "...", "hints_text": "...",
     "created_at": "2022-03-03T15:14:54Z", "version": "4.3", "environment_setup_commit": "298ccb47..."}

SWE-bench's own datasets store the two test lists as JSON-encoded strings; lists are accepted too. Required:
``instance_id``, ``repo`` and ``FAIL_TO_PASS``; every other field has an empty default, so rows of SWE-Gym and
SWE-smith load as they are. Fields this package reads besides SWE-bench's (all optional):

* ``image`` (SWE-bench 5, ours): the sandbox image (docker) or prepared tree (local) the task runs in;
  SWE-smith's ``image_name`` is read as ``image`` when ``image`` is absent, and kept in ``extra``;
* ``test_cmd``: the shell command that runs the instance's tests (default: ``grading.test_command``);
* ``log_parser`` / ``eval_type`` (SWE-bench 5): ``parse_log_pytest`` | ``parse_log_pytest_v2`` and
  ``pass_and_fail`` | ``fail_only``;
* ``lines_changed`` / ``files_touched``: difficulty tags of synthesized tasks.

Any other field is kept, as loaded, in ``extra`` and written back by ``to_dict``.

Task files may be forged (DESIGN section 5). Every problem raises ``ConfigError`` naming the file, the line
(JSONL) or item (JSON array) and the field, before anything is returned (no partial loads):

* files: at most ``MAX_FILE_BYTES`` (after gzip decompression, so a gzip bomb stops there), lines of at most
  ``MAX_ROW_BYTES``, UTF-8 JSON without NaN/Infinity, huge integers or lone surrogates;
* fields: known fields type-checked, strings capped (``MAX_TEXT_CHARS``, ``MAX_PATCH_CHARS``), test lists of
  at most ``MAX_TESTS`` ids; extra field names must be plain identifiers (at most ``MAX_EXTRA_FIELDS``);
* names that reach a shell or a path: ``instance_id`` (a log folder name: ``[A-Za-z0-9._-]``, no ``..``),
  ``repo`` (``owner/name``), ``base_commit`` / ``environment_setup_commit`` (a git revision: hex or a
  ref-name charset) are checked against strict patterns;
* ``patch`` and ``test_patch`` may only touch paths inside the repository: every path in their headers
  (``diff --git``, ``---``/``+++``, ``rename``/``copy``) must be relative, without ``..`` or ``.git``
  components, and neither may create a symlink or a submodule (``git apply`` would follow a symlink it
  created in a later hunk).
"""

from __future__ import annotations

import codecs
import dataclasses
import gzip
import io
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from turngym.envs.core.errors import ConfigError

MAX_FILE_BYTES = 2 * 2**30
"""Largest task file read, after decompression (SWE-smith's full export is ~1 GiB)."""
MAX_ROW_BYTES = 64 * 2**20
"""Largest single row (one JSONL line; one item of a JSON array is capped by the file cap)."""
MAX_PATCH_CHARS = 16 * 2**20
"""Longest ``patch`` / ``test_patch``."""
MAX_TEXT_CHARS = 4 * 2**20
"""Longest other string field (problem statement, hints, test command, ...)."""
MAX_TESTS = 200_000
"""Most ids in one test list (SWE-bench's longest PASS_TO_PASS lists hold a few thousand)."""
MAX_TEST_ID_CHARS = 8192
MAX_EXTRA_FIELDS = 64
MAX_INT_DIGITS = 4300
"""Longest integer literal accepted (Python's default int string-conversion limit)."""

SWEBENCH_FIELDS = ("instance_id", "repo", "base_commit", "patch", "test_patch", "FAIL_TO_PASS", "PASS_TO_PASS",
                   "problem_statement", "hints_text", "created_at", "version", "environment_setup_commit")
OWN_FIELDS = ("image", "test_cmd", "log_parser", "eval_type", "lines_changed", "files_touched")
LOG_PARSERS = ("parse_log_pytest", "parse_log_pytest_v2")
EVAL_TYPES = ("pass_and_fail", "fail_only")
_REQUIRED = ("instance_id", "repo", "FAIL_TO_PASS")

_INSTANCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}/[A-Za-z0-9._-]{1,100}")
_REVISION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,254}")
_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,511}")
_EXTRA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
_CTOR = "SWEInstance"


@dataclass(frozen=True)
class SWEInstance:
    """One SWE-bench task (field meanings as in SWE-bench; see the module docstring for ours).

    Attributes:
        instance_id: Unique id, ``<owner>__<repo>-<n>`` in SWE-bench.
        repo: ``owner/name``.
        base_commit: The commit the task starts from.
        patch: The gold fix (a unified diff); never shown to an acting agent.
        test_patch: The diff that adds or changes the tests; applied before grading.
        FAIL_TO_PASS: Tests that fail before the fix and must pass after it.
        PASS_TO_PASS: Tests that pass before and must still pass after.
        problem_statement: The issue text the agent sees.
        hints_text: Issue comments before the fix.
        created_at: When the fix was made (ISO timestamp in SWE-bench).
        version: The repository's version (selects the environment in SWE-bench).
        environment_setup_commit: The commit the environment was installed from.
        image: Sandbox image (docker) or prepared tree (local); empty = the task set's default.
        test_cmd: The command that runs the tests; empty = ``grading.test_command``'s pytest form.
        log_parser: ``parse_log_pytest`` (default) or ``parse_log_pytest_v2``.
        eval_type: ``pass_and_fail`` (default) or ``fail_only`` (SWE-bench's grading modes).
        lines_changed: Difficulty tag: lines the gold patch changes (None when unknown).
        files_touched: Difficulty tag: files the gold patch touches (None when unknown).
        extra: Every other field of the row, as loaded (SWE-Gym / SWE-smith extras such as ``image_name``).
    """

    instance_id: str
    repo: str
    base_commit: str = ""
    patch: str = ""
    test_patch: str = ""
    FAIL_TO_PASS: tuple[str, ...] = ()
    PASS_TO_PASS: tuple[str, ...] = ()
    problem_statement: str = ""
    hints_text: str = ""
    created_at: str = ""
    version: str = ""
    environment_setup_commit: str = ""
    image: str = ""
    test_cmd: str = ""
    log_parser: str = "parse_log_pytest"
    eval_type: str = "pass_and_fail"
    lines_changed: int | None = None
    files_touched: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _check_instance(self, _CTOR)

    @classmethod
    def from_dict(cls, row: Mapping[str, Any], where: str = "row") -> SWEInstance:
        """Builds an instance from one row (a parsed JSON object), checking every field.

        Args:
            row: The row.
            where: Where the row came from, for error messages (``file:line``).

        Raises:
            ConfigError: A missing, mistyped, oversized or unsafe field.
        """
        return _from_row(row, where)

    def to_dict(self) -> dict[str, Any]:
        """The row this instance was loaded from, in SWE-bench's field names (test lists as JSON lists).

        ``SWEInstance.from_dict(inst.to_dict()) == inst``. Our own optional fields appear only when set.
        """
        out: dict[str, Any] = {}
        for name in SWEBENCH_FIELDS:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        for name in OWN_FIELDS:
            if getattr(self, name) != defaults[name]:
                out[name] = getattr(self, name)
        for key, value in self.extra.items():
            out.setdefault(key, json.loads(json.dumps(value)))  # a deep copy: the caller may change it
        return out

    @property
    def test_ids(self) -> tuple[str, ...]:
        """FAIL_TO_PASS then PASS_TO_PASS."""
        return self.FAIL_TO_PASS + self.PASS_TO_PASS


# ------------------------------------------------------------------------------------------ field checks
def _text(row: Mapping[str, Any], key: str, where: str, cap: int | None = None) -> str:
    cap = MAX_TEXT_CHARS if cap is None else cap  # read at call time: the module constant is the setting
    value = row.get(key, "")
    if value is None:  # pandas/HF exports write null for empty optional strings
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key!r}", "a string", type(value).__name__)
    if len(value) > cap:
        raise ConfigError(f"{where}: {key!r}", f"a string of at most {cap:,} characters", f"{len(value):,}")
    return value


def _pattern(value: str, pattern: re.Pattern[str], where: str, key: str, expected: str) -> str:
    if value and (pattern.fullmatch(value) is None or ".." in value):
        shown = value if len(value) <= 80 else value[:80] + "..."
        raise ConfigError(f"{where}: {key!r}", expected, shown)
    return value


def _version(row: Mapping[str, Any], key: str, where: str) -> str:
    value = row.get(key, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # pandas turns "0.20" into 0.2 on export; the number is what arrived, kept as text
    return _text(row, key, where, cap=256)


def _tests(row: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = row.get(key, [])
    label = f"{where}: {key!r}"
    if value is None:
        value = []
    if isinstance(value, str):  # SWE-bench's datasets store the list JSON-encoded
        if len(value) > MAX_TESTS * 64:
            raise ConfigError(label, f"a JSON-encoded list of at most {MAX_TESTS:,} test ids", f"{len(value):,} chars")
        try:
            value = _loads(value)
        except _BadJSON as e:
            raise ConfigError(label, "a list of test ids, or a JSON-encoded list", f"invalid JSON ({e})") from None
    if not isinstance(value, list):
        raise ConfigError(label, "a list of test ids", type(value).__name__)
    if len(value) > MAX_TESTS:
        raise ConfigError(label, f"at most {MAX_TESTS:,} test ids", f"{len(value):,}")
    for i, test in enumerate(value):
        if not isinstance(test, str) or not test or len(test) > MAX_TEST_ID_CHARS or "\x00" in test:
            shown = test[:80] if isinstance(test, str) else type(test).__name__
            raise ConfigError(f"{label}[{i}]", f"a non-empty test id of at most {MAX_TEST_ID_CHARS} characters "
                              "without NUL", shown)
    return tuple(value)


def _count(row: Mapping[str, Any], key: str, where: str) -> int | None:
    value = row.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**9:
        raise ConfigError(f"{where}: {key!r}", "a non-negative integer", value)
    return value


def _choice(row: Mapping[str, Any], key: str, where: str, choices: tuple[str, ...]) -> str:
    value = row.get(key) or choices[0]
    if value not in choices:
        raise ConfigError(f"{where}: {key!r}", "one of " + ", ".join(choices), value, choices=choices)
    return value


def _check_instance(inst: SWEInstance, where: str) -> None:
    """The checks that hold for every instance, however built (``from_dict`` or the constructor)."""
    if not isinstance(inst.instance_id, str) or _INSTANCE_ID.fullmatch(inst.instance_id) is None \
            or ".." in inst.instance_id:
        raise ConfigError(f"{where}: 'instance_id'", "1-255 characters of [A-Za-z0-9._-], starting with a letter "
                          "or digit, without '..' (it names a log folder)", inst.instance_id)
    if not isinstance(inst.repo, str) or _REPO.fullmatch(inst.repo) is None or ".." in inst.repo:
        raise ConfigError(f"{where}: 'repo'", "'owner/name'", inst.repo)
    for key in ("base_commit", "environment_setup_commit"):
        _pattern(getattr(inst, key), _REVISION, where, key, "a git revision (hex, or [A-Za-z0-9._/-] without '..')")
    _pattern(inst.image, _IMAGE, where, "image", "an image name or a path ([A-Za-z0-9._/:@+-], without '..')")
    for key in ("FAIL_TO_PASS", "PASS_TO_PASS"):
        if not isinstance(getattr(inst, key), tuple):
            raise ConfigError(f"{where}: {key!r}", "a tuple of test ids", type(getattr(inst, key)).__name__)
    if not inst.FAIL_TO_PASS:
        raise ConfigError(f"{where}: 'FAIL_TO_PASS'", "at least one test id (a task must fail before its fix)",
                          "an empty list")
    if inst.log_parser not in LOG_PARSERS:
        raise ConfigError(f"{where}: 'log_parser'", "one of " + ", ".join(LOG_PARSERS), inst.log_parser,
                          choices=LOG_PARSERS)
    if inst.eval_type not in EVAL_TYPES:
        raise ConfigError(f"{where}: 'eval_type'", "one of " + ", ".join(EVAL_TYPES), inst.eval_type,
                          choices=EVAL_TYPES)
    for key in ("patch", "test_patch"):
        check_patch_paths(getattr(inst, key), f"{where}: {key!r}")


def _from_row(row: Mapping[str, Any], where: str) -> SWEInstance:
    if not isinstance(row, Mapping):
        raise ConfigError(where, "a JSON object (one SWE-bench instance)", type(row).__name__)
    for key in _REQUIRED:
        if key not in row:
            raise ConfigError(f"{where}: {key!r}", "a field of every SWE-bench instance", "missing",
                              hint=f"Required fields: {', '.join(_REQUIRED)}.")
    extra: dict[str, Any] = {}
    for key, value in row.items():
        if key in SWEBENCH_FIELDS or key in OWN_FIELDS:
            continue
        if not isinstance(key, str) or _EXTRA_NAME.fullmatch(key) is None:
            shown = key[:80] if isinstance(key, str) else key
            raise ConfigError(f"{where}: field name", "an identifier of at most 64 characters ([A-Za-z0-9_.-])",
                              shown, choices=SWEBENCH_FIELDS + OWN_FIELDS)
        extra[key] = value
    if len(extra) > MAX_EXTRA_FIELDS:
        raise ConfigError(f"{where}: extra fields", f"at most {MAX_EXTRA_FIELDS}", len(extra))
    try:
        extra_size = len(json.dumps(extra, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: extra fields", "JSON values", str(e)) from None
    if extra_size > MAX_TEXT_CHARS:
        raise ConfigError(f"{where}: extra fields", f"at most {MAX_TEXT_CHARS:,} characters of JSON",
                          f"{extra_size:,}")
    image = _text(row, "image", where, cap=512)
    if not image and isinstance(extra.get("image_name"), str):  # SWE-smith / SWE-Gym name the image so
        image = _text(extra, "image_name", where, cap=512)
    instance_id = row["instance_id"]
    if not isinstance(instance_id, str):
        raise ConfigError(f"{where}: 'instance_id'", "a string", type(instance_id).__name__)
    fields = dict(
        instance_id=instance_id,
        repo=_text(row, "repo", where, cap=256),
        base_commit=_text(row, "base_commit", where, cap=256),
        patch=_text(row, "patch", where, cap=MAX_PATCH_CHARS),
        test_patch=_text(row, "test_patch", where, cap=MAX_PATCH_CHARS),
        FAIL_TO_PASS=_tests(row, "FAIL_TO_PASS", where),
        PASS_TO_PASS=_tests(row, "PASS_TO_PASS", where),
        problem_statement=_text(row, "problem_statement", where),
        hints_text=_text(row, "hints_text", where),
        created_at=_version(row, "created_at", where),
        version=_version(row, "version", where),
        environment_setup_commit=_text(row, "environment_setup_commit", where, cap=256),
        image=image,
        test_cmd=_text(row, "test_cmd", where, cap=65536),
        log_parser=_choice(row, "log_parser", where, LOG_PARSERS),
        eval_type=_choice(row, "eval_type", where, EVAL_TYPES),
        lines_changed=_count(row, "lines_changed", where),
        files_touched=_count(row, "files_touched", where),
        extra=extra,
    )
    try:
        return SWEInstance(**fields)
    except ConfigError as e:  # __post_init__ names the instance; name the file and line instead
        raise ConfigError(e.what.replace(_CTOR, where, 1), e.expected, e.got, suggestion=e.suggestion) from None


# ------------------------------------------------------------------------------------------ patch paths
_PATH_LINES = ("--- ", "+++ ", "rename from ", "rename to ", "copy from ", "copy to ")
_UNSAFE_MODES = re.compile(r"^(new file mode|new mode|old mode|deleted file mode|index [0-9a-f]+\.\.[0-9a-f]+) "
                           r"(120000|160000)\b")
_HUNK = re.compile(r"@@ -\d{1,9}(?:,(\d{1,9}))? \+\d{1,9}(?:,(\d{1,9}))? @@")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", '"': '"', "\\": "\\"}


def _unquote(path: str) -> str:
    r"""A git C-quoted path (``"a/sp\303\251cial"``) decoded; other paths as they are."""
    if not (len(path) >= 2 and path.startswith('"') and path.endswith('"')):
        return path
    out, body, i = bytearray(), path[1:-1], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if re.fullmatch(r"[0-7]{3}", body[i + 1:i + 4]):
                out.append(int(body[i + 1:i + 4], 8))
                i += 4
                continue
            out.extend(_ESCAPES.get(nxt, nxt).encode("utf-8"))
            i += 2
            continue
        out.extend(ch.encode("utf-8"))
        i += 1
    return out.decode("utf-8", errors="replace")


def _bad_path(path: str, strip_prefix: bool) -> str | None:
    """Why ``path`` (from a diff header) may not be applied, or None when it stays inside the repository."""
    path = _unquote(path.split("\t", 1)[0].rstrip("\r"))  # "--- a/x\t2020-01-01": a timestamp may follow a tab
    if path == "/dev/null":
        return None
    if not path or "\x00" in path:
        return "an empty path"
    if path.startswith("/") or re.match(r"[A-Za-z]:[\\/]", path):
        return "an absolute path"
    if strip_prefix and path[:2] in ("a/", "b/"):
        path = path[2:]
        if path.startswith("/"):
            return "an absolute path"
    parts = re.split(r"[\\/]+", path)
    if ".." in parts:
        return "a '..' component"
    if any(p.lower() == ".git" for p in parts):
        return "a path inside .git"
    return None


def _header_paths(line: str) -> list[tuple[str, bool]]:
    """The paths a diff header line names, each with whether git strips its ``a/``/``b/`` prefix."""
    if line.startswith("diff --git "):
        rest = line[len("diff --git "):]
        if rest.startswith('"'):
            end = rest.find('" ', 1)
            halves = [rest[:end + 1], rest[end + 2:]] if end > 0 else [rest]
        else:  # "a/x b/x": unquoted paths may hold spaces, so split at " b/"; check both halves either way
            cut = rest.find(" b/")
            halves = [rest[:cut], rest[cut + 1:]] if cut > 0 else [rest]
        return [(h, True) for h in halves]
    for head in _PATH_LINES:
        if line.startswith(head):
            return [(line[len(head):], head in ("--- ", "+++ "))]
    return []


def check_patch_paths(patch: str, what: str = "patch") -> None:
    """Raises ``ConfigError`` unless every path ``patch`` names stays inside the repository.

    Header lines are read outside hunks only: inside a hunk (counted from its ``@@ -a,b +c,d @@`` line) a
    removed line ``-- x`` reads ``--- x`` and is content, not a path.

    Args:
        patch: A unified diff (git's format or plain).
        what: What the patch is, for the message.

    Raises:
        ConfigError: A header path that is absolute, has a ``..`` or ``.git`` component, a symlink or
            submodule mode, or a malformed hunk header.
    """
    old_left = new_left = 0
    for number, line in enumerate(patch.split("\n"), start=1):
        line = line.rstrip("\r")
        if old_left > 0 or new_left > 0:  # inside a hunk
            tag = line[:1]
            if tag in (" ", ""):
                old_left, new_left = old_left - 1, new_left - 1
            elif tag == "-":
                old_left -= 1
            elif tag == "+":
                new_left -= 1
            elif tag != "\\":  # "\ No newline at end of file"
                old_left = new_left = 0  # a short hunk ended early: read this line as a header
            if old_left > 0 or new_left > 0 or tag in (" ", "", "-", "+", "\\"):
                continue
        if line.startswith("@@"):
            m = _HUNK.match(line)
            if m is None:
                raise ConfigError(f"{what} line {number}", "a hunk header '@@ -a,b +c,d @@'", line[:120])
            old_left = int(m.group(1)) if m.group(1) is not None else 1
            new_left = int(m.group(2)) if m.group(2) is not None else 1
            continue
        if _UNSAFE_MODES.match(line):
            raise ConfigError(f"{what} line {number}", "regular files only (no symlink or submodule)", line[:120])
        for path, strip in _header_paths(line):
            why = _bad_path(path, strip)
            if why is not None:
                raise ConfigError(f"{what} line {number}", "paths inside the repository (relative, without '..' "
                                  "or '.git')", f"{why}: {line[:160]}")


# ------------------------------------------------------------------------------------------ JSON reading
class _BadJSON(ValueError):
    """A JSON value the loader refuses."""


def _refuse_constant(name: str) -> Any:
    raise _BadJSON(f"{name} is not a JSON number")


def _bounded_int(text: str) -> int:
    if len(text) - text.startswith("-") > MAX_INT_DIGITS:
        raise _BadJSON(f"an integer of {len(text):,} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _BadJSON(f"{text[:40]!r} is beyond the range of a float")
    return value


def _check_unicode(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise _BadJSON("a lone surrogate escape (not a Unicode character)") from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _loads(text: str) -> Any:
    """Strict JSON: no NaN/Infinity, no huge integers, no lone surrogates; ``_BadJSON`` otherwise."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_int=_bounded_int, parse_float=_finite_float)
    except json.JSONDecodeError as e:
        raise _BadJSON(f"{e.msg}, line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise _BadJSON("nested too deeply") from None
    except ValueError as e:
        raise _BadJSON(str(e)) from None
    _check_unicode(value)
    return value


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(where, "UTF-8 text", f"invalid UTF-8 (byte {e.start + 1})") from None


def _open(path: Path) -> io.BufferedIOBase:
    try:
        raw = open(path, "rb")  # noqa: SIM115 - the caller closes it
    except FileNotFoundError:
        raise ConfigError(str(path), "an existing JSON or JSONL file", "no such file") from None
    except OSError as e:
        raise ConfigError(str(path), "a readable JSON or JSONL file", f"{type(e).__name__}: {e}") from None
    if path.name.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw  # type: ignore[return-value]


def _rows_jsonl(stream: io.BufferedIOBase, path: Path, max_bytes: int) -> Iterator[tuple[str, Any]]:
    total = 0
    number = 0
    while True:
        raw = stream.readline(min(MAX_ROW_BYTES, max_bytes - total) + 1)  # never read past either cap
        if not raw:
            return
        number += 1
        where = f"{path}:{number}"
        total += len(raw)
        if total > max_bytes:
            raise ConfigError(str(path), f"at most {max_bytes:,} bytes (decompressed)", "more")
        if len(raw) > MAX_ROW_BYTES and not raw.endswith(b"\n"):
            raise ConfigError(where, f"a line of at most {MAX_ROW_BYTES:,} bytes", "a longer line")
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        if not raw.strip():
            continue
        try:
            yield where, _loads(_decode(raw, where))
        except _BadJSON as e:
            raise ConfigError(where, "one JSON object per line", f"invalid JSON ({e})") from None


def _rows_json(stream: io.BufferedIOBase, path: Path, max_bytes: int) -> Iterator[tuple[str, Any]]:
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ConfigError(str(path), f"at most {max_bytes:,} bytes (decompressed)", "more")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        value = _loads(_decode(data, str(path)))
    except _BadJSON as e:
        raise ConfigError(str(path), "a JSON array of SWE-bench instances", f"invalid JSON ({e})") from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(str(path), "a JSON array of SWE-bench instances (or one instance)", type(value).__name__)
    for i, row in enumerate(value):
        yield f"{path}[{i}]", row


def _is_jsonl(path: Path, head: bytes) -> bool:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".jsonl") or name.endswith(".ndjson"):
        return True
    if name.endswith(".json"):
        return False
    return not head.lstrip(codecs.BOM_UTF8 + b" \t\r\n").startswith(b"[")


def _file_rows(path: Path, max_bytes: int) -> list[tuple[str, Any]]:
    stream = _open(path)
    try:
        with stream:
            head = stream.peek(64)[:64] if hasattr(stream, "peek") else b""
            reader = _rows_jsonl if _is_jsonl(path, head) else _rows_json
            return list(reader(stream, path, max_bytes))
    except (OSError, EOFError, gzip.BadGzipFile, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(str(path), "a readable JSON or JSONL file (optionally gzip-compressed)",
                          f"{type(e).__name__}: {e}") from None


def load_instances(path_or_rows: str | Path | Iterable[Mapping[str, Any]], *,
                   max_bytes: int = MAX_FILE_BYTES) -> list[SWEInstance]:
    """Loads SWE-bench instances from a JSON / JSONL file (``.gz`` too) or from rows already in memory.

    A ``.jsonl`` / ``.ndjson`` file holds one instance per line; a ``.json`` file holds an array of instances
    (or one instance); for other names the first byte decides (``[``: JSON). Rows may come from a SWE-bench,
    SWE-Gym or SWE-smith export (a ``datasets.Dataset`` is an iterable of rows too).

    Args:
        path_or_rows: The file, or an iterable of row mappings.
        max_bytes: Largest file accepted, after decompression.

    Returns:
        The instances, in file order.

    Raises:
        ConfigError: Unreadable or oversized file, invalid JSON or UTF-8, a bad row or field, a duplicate
            ``instance_id``, or no instance at all; nothing is returned in that case.
    """
    if isinstance(path_or_rows, (str, Path)):
        path = Path(path_or_rows)
        rows = _file_rows(path, max_bytes)
        source = str(path)
    elif isinstance(path_or_rows, (bytes, bytearray)) or isinstance(path_or_rows, Mapping):
        raise ConfigError("load_instances", "a path or an iterable of rows", type(path_or_rows).__name__)
    else:
        rows = [(f"rows[{i}]", row) for i, row in enumerate(path_or_rows)]
        source = "rows"
    instances: list[SWEInstance] = []
    seen: dict[str, str] = {}
    for where, row in rows:
        inst = _from_row(row, where)
        if inst.instance_id in seen:
            raise ConfigError(f"{where}: 'instance_id'", f"a unique id (also at {seen[inst.instance_id]})",
                              inst.instance_id)
        seen[inst.instance_id] = where
        instances.append(inst)
    if not instances:
        raise ConfigError(source, "at least one instance", "none")
    return instances


def dump_instances(instances: Sequence[SWEInstance], path: str | Path, *, json_lists: bool = False) -> Path:
    """Writes instances as JSONL (``.gz`` compresses), one ``to_dict()`` per line, keys in SWE-bench's order.

    Args:
        instances: The instances.
        path: The output file.
        json_lists: Write FAIL_TO_PASS / PASS_TO_PASS as JSON-encoded strings, as SWE-bench's own datasets
            do (the ``swebench`` harness accepts both).

    Returns:
        The path written.
    """
    path = Path(path)
    lines = []
    for inst in instances:
        row = inst.to_dict()
        if json_lists:
            row["FAIL_TO_PASS"] = json.dumps(row["FAIL_TO_PASS"])
            row["PASS_TO_PASS"] = json.dumps(row["PASS_TO_PASS"])
        lines.append(json.dumps(row, ensure_ascii=False, allow_nan=False))
    data = ("\n".join(lines) + "\n").encode("utf-8")
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)  # mtime=0: the same instances give the same bytes
    path.write_bytes(data)
    return path
