"""``sql``: read-only SQLite queries over a task's database.

The task's SQL script (schema and inserts) is executed once into an in-memory database; the built
database is cached by a digest of the script, so tools rebuilt every episode are cheap. Each tool gets
its own in-memory copy and runs queries read-only, enforced three ways:

* an authorizer (``Connection.set_authorizer``) that allows only reading: ``SELECT``, reading columns,
  calling functions, recursive CTEs and a few introspection pragmas; every write, ``ATTACH``,
  ``CREATE``/``DROP``, transaction control and other pragmas are denied when the statement is prepared;
* ``PRAGMA query_only = ON`` underneath, so a write the authorizer let through would still fail;
* one statement per call (``sqlite3`` refuses more).

A progress handler aborts queries that run longer than ``timeout_s`` (cartesian products), at most
``max_rows`` rows are shown, and ``SQLITE_LIMIT_LENGTH`` caps any single value (``randomblob(1e9)``).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections import OrderedDict
from typing import Any

from turngym.envs.core.errors import ConfigError
from turngym.envs.tooluse.base import ToolResult
from turngym.envs.tooluse.tools._common import safe_call, string_schema

MAX_QUERY_CHARS = 10_000
"""Longest query accepted."""
MAX_VALUE_BYTES = 1_000_000
"""Largest string or blob a query may build (``SQLITE_LIMIT_LENGTH``)."""
MAX_CELL_CHARS = 200
"""Longest value shown in one cell."""
DB_CACHE_SIZE = 32
"""Built databases kept (least recently used evicted)."""

_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION}
_RECURSIVE = getattr(sqlite3, "SQLITE_RECURSIVE", 33)
_ALLOWED_ACTIONS.add(_RECURSIVE)
_READ_PRAGMAS = frozenset({"table_info", "table_xinfo", "table_list", "index_list", "index_info",
                           "index_xinfo", "foreign_key_list"})
_db_lock = threading.Lock()
_db_cache: OrderedDict[str, bytes] = OrderedDict()


def build_database(script: str) -> bytes:
    """Runs ``script`` in a fresh in-memory database and returns it serialized (cached by digest).

    Raises:
        ConfigError: The script fails.
    """
    key = hashlib.sha256(script.encode("utf-8", errors="surrogatepass")).hexdigest()
    with _db_lock:
        data = _db_cache.get(key)
        if data is not None:
            _db_cache.move_to_end(key)
            return data
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(script)
        conn.commit()
        data = conn.serialize()
    except sqlite3.Error as exc:
        raise ConfigError("database", "an SQL script that builds the task's database",
                          f"script failing with {exc}") from exc
    finally:
        conn.close()
    with _db_lock:
        _db_cache[key] = data
        while len(_db_cache) > DB_CACHE_SIZE:
            _db_cache.popitem(last=False)
    return data


def _authorizer(action: int, arg1: str | None, arg2: str | None, db: str | None, trigger: str | None) -> int:
    if action in _ALLOWED_ACTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in _READ_PRAGMAS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        text = "x'" + value[: MAX_CELL_CHARS // 2].hex() + ("..." if len(value) > MAX_CELL_CHARS // 2 else "") + "'"
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = str(value)
    text = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 3] + "..."


class SQLTool:
    """Read-only SQL over the task's SQLite database.

    Args:
        script: SQL that builds the database (schema and inserts), run once.
        max_rows: Rows shown per query (more are counted as "more rows", not shown).
        timeout_s: Time limit of one query (checked every ``1000`` SQLite VM steps).
        max_output_chars: Output cap.

    Output: column names joined by ``" | "`` on the first line, then one line per row the same way.
    """

    name = "sql"
    description = (
        "Runs one read-only SQL query (SQLite dialect: SELECT or WITH ... SELECT) on the database and returns "
        "the column names on the first line, then one line per row, values separated by ' | '. The schema is "
        "in sqlite_master: SELECT name, sql FROM sqlite_master. At most {max_rows} rows are shown."
    )
    parameters: dict[str, Any] = string_schema("query", "One SQL SELECT statement.")

    def __init__(self, script: str, max_rows: int = 50, timeout_s: float = 2.0, max_output_chars: int = 4000):
        if not isinstance(script, str):
            raise ConfigError("script", "an SQL script (str)", type(script).__name__)
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
            raise ConfigError("max_rows", "a positive int", max_rows)
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or timeout_s <= 0:
            raise ConfigError("timeout_s", "a positive number of seconds", timeout_s)
        self.max_rows = max_rows
        self.timeout_s = float(timeout_s)
        self.max_output_chars = int(max_output_chars)
        self.description = SQLTool.description.format(max_rows=max_rows)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._conn.deserialize(build_database(script))
        self._conn.execute("PRAGMA query_only = ON")
        self._conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        self._conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        self._conn.set_authorizer(_authorizer)

    def call(self, arguments: dict[str, Any]) -> ToolResult:
        """Runs ``arguments["query"]`` read-only."""
        return safe_call(self.name, self.parameters, arguments, self._run, self.max_output_chars)

    def close(self) -> None:
        """Closes the database connection."""
        self._conn.close()

    def _run(self, arguments: dict[str, Any]) -> ToolResult:
        query = arguments["query"]
        if len(query) > MAX_QUERY_CHARS:
            return ToolResult(False, f"error: query too long ({len(query)} characters; at most {MAX_QUERY_CHARS})")
        if not query.strip().rstrip(";").strip():
            return ToolResult(False, 'error: empty query; sql expects {"query": string} with one SELECT statement')
        if "\x00" in query:
            return ToolResult(False, "error: the query contains a NUL character")
        with self._lock:
            deadline = time.monotonic() + self.timeout_s
            self._conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
            try:
                cur = self._conn.execute(query)
                if cur.description is None:
                    return ToolResult(False, "error: only queries that return rows (SELECT) are allowed")
                rows = cur.fetchmany(self.max_rows + 1)
                header = " | ".join(str(c[0]) for c in cur.description)
            except sqlite3.DatabaseError as exc:
                return ToolResult(False, self._error(exc, deadline))
            except (sqlite3.Warning, sqlite3.ProgrammingError) as exc:
                return ToolResult(False, self._error(exc, deadline))
            finally:
                self._conn.set_progress_handler(None, 0)
        lines = [header] + [" | ".join(_cell(v) for v in row) for row in rows[: self.max_rows]]
        if not rows:
            lines.append("(0 rows)")
        elif len(rows) > self.max_rows:
            lines.append(f"[more than {self.max_rows} rows; only the first {self.max_rows} are shown: use LIMIT, "
                         "WHERE or an aggregate]")
        return ToolResult(True, "\n".join(lines))

    def _error(self, exc: Exception, deadline: float) -> str:
        msg = str(exc)
        if "interrupted" in msg and time.monotonic() > deadline:
            return f"error: query aborted after {self.timeout_s:g}s (time limit); add conditions or a LIMIT"
        if any(w in msg for w in ("not authorized", "authorization denied", "prohibited", "readonly", "read-only")):
            return f"error: {msg}: the database is read-only; only SELECT queries are allowed"
        if "one statement at a time" in msg:
            return "error: only one statement per call is allowed"
        return f"error: {msg}"

    def __del__(self) -> None:
        try:
            self._conn.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
