r"""Loads user tasks from a JSONL file: one task per line.

Each line is a JSON object::

    {"question": "...", "answer": "...",                     # required (answer: string or number)
     "answer_format": "an integer",                           # optional, default "a short answer"
     "corpus": "docs.jsonl" | [{"doc_id", "title", "text"}],  # optional: documents for search/open
     "database": "shop.sql" | "shop.sqlite",                  # optional: SQL script, or SQLite file
     "tools": ["search", "open"],                             # optional, default from corpus/database
     "split": "test",                                         # optional, default "test"
     "meta": {...}}                                           # optional, free-form

Blank lines are skipped; lines end at ``\n`` only. Task ids are ``jsonl/<file stem>/<line number>``. Every
problem raises ``ConfigError`` (a ``ValueError``) that names the file, the line and what is wrong.

Task files are untrusted (DESIGN §5), so:

* ``corpus``/``database`` paths (relative to the JSONL file's folder, or to the ``root`` given to
  ``load_jsonl``) must resolve, ``..`` and symlinks followed, to a regular file inside that folder;
* lines must be UTF-8 JSON without NaN/Infinity, numbers beyond float range or integers longer than
  ``MAX_INT_DIGITS`` digits, lone surrogate escapes, or nesting deeper than Python can parse;
* a ``database`` script is built only by ``tools.sql.build_database``: in memory, in a worker process,
  under an authorizer that allows only creating, filling and dropping the script's own tables, indexes
  and views, with time, row and size caps; a ``.sqlite``/``.db`` file is opened in memory in a worker,
  read-only, and turned into such a script (``tools.sql.database_script``), so no SQL text stored in it
  runs outside that authorizer.
"""

from __future__ import annotations

import codecs
import json
import math
from pathlib import Path
from typing import Any

from turngym.envs.core.errors import ConfigError
from turngym.envs.tooluse.base import Document, Task
from turngym.envs.tooluse.tools.sql import MAX_DATABASE_BYTES, MAX_SCRIPT_BYTES, build_database, database_script

TOOL_NAMES = ("calculator", "python", "search", "open", "sql")
KEYS = ("question", "answer", "answer_format", "corpus", "database", "tools", "split", "meta")
DOC_KEYS = ("doc_id", "title", "text")
MAX_INT_DIGITS = 4300
"""Longest integer literal accepted (Python's default ``int`` string-conversion limit)."""
_ONE_OBJECT = "one JSON object per line"


def _where(path: Path, line: int) -> str:
    return f"{path}:{line}"


class _BadJSON(ValueError):
    """A JSON value the loader refuses (raised from the ``json.loads`` hooks)."""


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
    r"""Raises ``_BadJSON`` for a string (key or value) with a lone surrogate (``"\ud800"`` escapes)."""
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


def _parse_line(raw: bytes, where: str) -> Any:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(where, _ONE_OBJECT, f"invalid UTF-8 (byte {e.start + 1} of the line)") from None
    try:
        value = json.loads(line, parse_constant=_refuse_constant, parse_int=_bounded_int, parse_float=_finite_float)
        _check_unicode(value)
    except json.JSONDecodeError as e:
        raise ConfigError(where, _ONE_OBJECT, f"invalid JSON ({e.msg}, column {e.colno})") from None
    except RecursionError:
        raise ConfigError(where, _ONE_OBJECT, "invalid JSON (nested too deeply)") from None
    except ValueError as e:  # _BadJSON, or Python's own int-size limit
        raise ConfigError(where, _ONE_OBJECT, f"invalid JSON ({e})") from None
    return value


def _read_jsonl(path: Path) -> list[tuple[int, Any]]:
    """(line number, parsed JSON) for every non-blank line; ConfigError on unreadable files or bad lines."""
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below; binary: lines end at b"\n" only
    except FileNotFoundError:
        raise ConfigError(str(path), "an existing JSONL file", "no such file") from None
    except OSError as e:
        raise ConfigError(str(path), "a readable JSONL file", f"{type(e).__name__}: {e}") from None
    out = []
    with stream:
        try:
            for number, raw in enumerate(stream, start=1):
                if number == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8):]
                if raw.strip():
                    out.append((number, _parse_line(raw, _where(path, number))))
        except OSError as e:  # a directory, an unreadable device
            raise ConfigError(str(path), "a readable JSONL file", f"{type(e).__name__}: {e}") from None
    return out


def _inside(value: Any, root: Path, where: str, key: str, expected: str) -> Path:
    """The real path of the file ``value`` names under ``root``; refuses anything that leads out of it."""
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise ConfigError(f"{where}: '{key}'", expected, value if isinstance(value, str) else type(value).__name__)
    given = root / value  # an absolute value replaces root
    try:
        real = given.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a symlink loop
        raise ConfigError(f"{where}: '{key}'", expected, str(given)) from None
    if not real.is_relative_to(root):  # '..' and symlinks are followed first: where the file really is counts
        raise ConfigError(f"{where}: '{key}'", f"a file inside {root} ('..' and symlinks may not lead out of it)",
                          f"{value} -> {real}")
    if not real.is_file():
        raise ConfigError(f"{where}: '{key}'", expected, f"{real} (not a regular file)")
    return real


def _read_capped(path: Path, cap: int, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(cap + 1)
    except OSError as e:
        raise ConfigError(what, "a readable file", f"{path} ({type(e).__name__}: {e})") from None
    if len(data) > cap:
        raise ConfigError(what, f"a file of at most {cap // 2**20} MiB", str(path))
    return data


def _documents(raw: Any, where: str) -> tuple[Document, ...]:
    if not isinstance(raw, list):
        raise ConfigError(where, "a list of {doc_id, title, text} objects", type(raw).__name__)
    docs, seen = [], set()
    for i, d in enumerate(raw):
        if not isinstance(d, dict) or any(not isinstance(d.get(k), str) for k in DOC_KEYS):
            raise ConfigError(f"{where} document {i}", "an object with string 'doc_id', 'title' and 'text'", d)
        if d["doc_id"] in seen:
            raise ConfigError(f"{where} document {i}", "unique doc_id values", d["doc_id"])
        seen.add(d["doc_id"])
        docs.append(Document(d["doc_id"], d["title"], d["text"]))
    return tuple(docs)


def _corpus(value: Any, root: Path, where: str, cache: dict[Path, tuple[Document, ...]]) -> tuple[Document, ...]:
    if isinstance(value, list):
        return _documents(value, f"{where}: 'corpus'")
    expected = "an existing JSONL file of {doc_id, title, text}, or a list of documents"
    path = _inside(value, root, where, "corpus", expected)
    if path not in cache:
        rows = _read_jsonl(path)
        for number, row in rows:
            _documents([row], _where(path, number))
        cache[path] = _documents([row for _, row in rows], str(path))
    return cache[path]


def sqlite_to_script(path: str | Path) -> str:
    """The SQL script that rebuilds the SQLite database file at ``path`` (``tools.sql.database_script``).

    The file is read as bytes and opened in memory in a worker process; nothing stored in it is executed.

    Raises:
        ConfigError: Unreadable, larger than ``MAX_DATABASE_BYTES``, not a SQLite database, or holding a
            virtual table.
    """
    return database_script(_read_capped(Path(path), MAX_DATABASE_BYTES, "database"))


def _database(value: Any, root: Path, where: str, cache: dict[Path, str]) -> str:
    what = f"{where}: 'database'"
    path = _inside(value, root, where, "database", "an existing .sql, .sqlite or .db file")
    if path in cache:
        return cache[path]
    if path.suffix.lower() == ".sql":
        try:
            script = _read_capped(path, MAX_SCRIPT_BYTES, what).decode("utf-8")
        except UnicodeDecodeError as e:
            raise ConfigError(what, "a UTF-8 .sql script", f"{path} (invalid UTF-8 at byte {e.start})") from None
    else:
        try:
            script = database_script(_read_capped(path, MAX_DATABASE_BYTES, what))
        except ConfigError as e:
            raise ConfigError(what, "a SQLite database file (or a .sql script)", f"{path} ({e.got})") from None
    try:  # a script that does not build is a configuration error, not an episode failure
        build_database(script)
    except ConfigError as e:
        raise ConfigError(what, "a SQL script that builds a database", f"{path} ({e.got})") from None
    cache[path] = script
    return script


def load_jsonl(path: str | Path, *, root: str | Path | None = None) -> list[Task]:
    """Loads the tasks of a JSONL file (format and safety rules in the module docstring).

    Args:
        path: The JSONL file.
        root: The folder that ``corpus`` and ``database`` paths are relative to and must stay inside;
            default: the JSONL file's folder.

    Returns:
        One ``Task`` per non-blank line, ``family="jsonl"``, ids ``jsonl/<stem>/<line>``.

    Raises:
        ConfigError: Unreadable file, invalid JSON, a missing or mistyped field, an unknown key or tool,
            a corpus or database path outside ``root``, a corpus or database that cannot be read or built,
            or tools that lack their corpus or database.
    """
    path = Path(path)
    try:
        base = Path(root).resolve(strict=True) if root is not None else path.resolve().parent
    except (OSError, RuntimeError):
        raise ConfigError("root", "an existing folder", str(root)) from None
    if not base.is_dir():
        raise ConfigError("root", "an existing folder", str(base))
    corpora: dict[Path, tuple[Document, ...]] = {}
    databases: dict[Path, str] = {}
    tasks = []
    for number, row in _read_jsonl(path):
        where = _where(path, number)
        if not isinstance(row, dict):
            raise ConfigError(where, "a JSON object", type(row).__name__)
        for key in row:
            if key not in KEYS:
                raise ConfigError(f"{where}: key", f"one of {', '.join(KEYS)}", key, choices=KEYS)
        question, answer = row.get("question"), row.get("answer")
        if not isinstance(question, str) or not question.strip():
            raise ConfigError(f"{where}: 'question'", "a non-empty string", question)
        if isinstance(answer, bool) or not isinstance(answer, (str, int, float)) or str(answer).strip() == "":
            raise ConfigError(f"{where}: 'answer'", "a non-empty string or a number", answer)
        answer_format = row.get("answer_format", "a short answer")
        if not isinstance(answer_format, str):
            raise ConfigError(f"{where}: 'answer_format'", "a string", answer_format)
        corpus = _corpus(row["corpus"], base, where, corpora) if "corpus" in row else ()
        database = _database(row["database"], base, where, databases) if "database" in row else ""
        default = (("search", "open") if corpus else ()) + (("sql",) if database else ())
        tools = row.get("tools", list(default or ("calculator", "python")))
        if not isinstance(tools, list) or not tools or not all(isinstance(t, str) for t in tools):
            raise ConfigError(f"{where}: 'tools'", f"a non-empty list of tool names ({', '.join(TOOL_NAMES)})", tools)
        for t in tools:
            if t not in TOOL_NAMES:
                raise ConfigError(f"{where}: tool", f"one of {', '.join(TOOL_NAMES)}", t, choices=TOOL_NAMES)
        if {"search", "open"} & set(tools) and not corpus:
            raise ConfigError(f"{where}: 'corpus'", "documents, since the tools include search/open", "none")
        if "sql" in tools and not database:
            raise ConfigError(f"{where}: 'database'", "a database, since the tools include sql", "none")
        split = row.get("split", "test")
        if split not in ("train", "test"):
            raise ConfigError(f"{where}: 'split'", "'train' or 'test'", split, choices=("train", "test"))
        meta = row.get("meta", {})
        if not isinstance(meta, dict):
            raise ConfigError(f"{where}: 'meta'", "a JSON object", meta)
        tasks.append(Task(
            task_id=f"jsonl/{path.stem}/{number}", family="jsonl", question=question, answer=str(answer).strip(),
            answer_format=answer_format, tools=tuple(dict.fromkeys(tools)), difficulty=1, seed=None, split=split,
            corpus=corpus, database=database, meta=dict(meta),
        ))
    if not tasks:
        raise ConfigError(str(path), "at least one task line", "an empty file")
    return tasks
