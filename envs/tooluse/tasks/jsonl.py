"""Loads user tasks from a JSONL file: one task per line.

Each line is a JSON object::

    {"question": "...", "answer": "...",                     # required (answer: string or number)
     "answer_format": "an integer",                           # optional, default "a short answer"
     "corpus": "docs.jsonl" | [{"doc_id", "title", "text"}],  # optional: documents for search/open
     "database": "shop.sql" | "shop.sqlite",                  # optional: SQL script, or SQLite file (dumped)
     "tools": ["search", "open"],                             # optional, default from corpus/database
     "split": "test",                                         # optional, default "test"
     "meta": {...}}                                           # optional, free-form

Relative paths are resolved against the JSONL file's folder. Blank lines are skipped. Task ids are
``jsonl/<file stem>/<line number>``. Every problem raises ``ConfigError`` (a ``ValueError``) that names
the file, the line and what is wrong.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from turngym.envs.core.errors import ConfigError
from turngym.envs.tooluse.base import Document, Task

TOOL_NAMES = ("calculator", "python", "search", "open", "sql")
KEYS = ("question", "answer", "answer_format", "corpus", "database", "tools", "split", "meta")
DOC_KEYS = ("doc_id", "title", "text")


def _where(path: Path, line: int) -> str:
    return f"{path}:{line}"


def _read_jsonl(path: Path) -> list[tuple[int, Any]]:
    """(line number, parsed JSON) for every non-blank line; ConfigError on unreadable files or bad JSON."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "an existing JSONL file", "no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(str(path), "a readable UTF-8 JSONL file", f"{type(e).__name__}: {e}") from None
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((number, json.loads(line)))
        except json.JSONDecodeError as e:
            raise ConfigError(_where(path, number), "one JSON object per line", f"invalid JSON ({e.msg}, column "
                              f"{e.colno})") from None
    return out


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


def _corpus(value: Any, base: Path, where: str, cache: dict[Path, tuple[Document, ...]]) -> tuple[Document, ...]:
    if isinstance(value, list):
        return _documents(value, f"{where}: 'corpus'")
    if not isinstance(value, str):
        raise ConfigError(f"{where}: 'corpus'", "a path to a JSONL file of documents, or a list of documents",
                          type(value).__name__)
    path = (base / value).resolve()
    if path not in cache:
        if not path.is_file():
            raise ConfigError(f"{where}: 'corpus'", "an existing JSONL file of {doc_id, title, text}", str(path))
        rows = _read_jsonl(path)
        for number, row in rows:
            _documents([row], _where(path, number))
        cache[path] = _documents([row for _, row in rows], str(path))
    return cache[path]


def sqlite_to_script(path: str | Path) -> str:
    """The SQL script (``iterdump``) that rebuilds the SQLite database file at ``path``."""
    con = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        return "\n".join(con.iterdump()) + "\n"
    finally:
        con.close()


def _database(value: Any, base: Path, where: str, cache: dict[Path, str]) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: 'database'", "a path to a .sql script or a .sqlite/.db file",
                          type(value).__name__ if not isinstance(value, str) else value)
    path = (base / value).resolve()
    if path in cache:
        return cache[path]
    if not path.is_file():
        raise ConfigError(f"{where}: 'database'", "an existing .sql, .sqlite or .db file", str(path))
    if path.suffix.lower() == ".sql":
        script = path.read_text(encoding="utf-8")
    else:
        try:
            script = sqlite_to_script(path)
        except sqlite3.DatabaseError as e:
            raise ConfigError(f"{where}: 'database'", "a SQLite database file (or a .sql script)",
                              f"{path} ({e})") from None
    try:  # a script that does not build is a configuration error, not an episode failure
        con = sqlite3.connect(":memory:")
        con.executescript(script)
        con.close()
    except sqlite3.Error as e:
        raise ConfigError(f"{where}: 'database'", "a SQL script that builds a database", f"{path} ({e})") from None
    cache[path] = script
    return script


def load_jsonl(path: str | Path) -> list[Task]:
    """Loads the tasks of a JSONL file (format in the module docstring).

    Args:
        path: The JSONL file.

    Returns:
        One ``Task`` per non-blank line, ``family="jsonl"``, ids ``jsonl/<stem>/<line>``.

    Raises:
        ConfigError: Unreadable file, invalid JSON, a missing or mistyped field, an unknown key or tool,
            a corpus or database that cannot be read, or tools that lack their corpus or database.
    """
    path = Path(path)
    base = path.resolve().parent
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
