"""The SQL tool's worker process: builds, dumps and queries SQLite databases under limits.

``sql.py`` runs this file as ``python -I -S _sql_worker.py`` (standard library only: it starts in
milliseconds and imports nothing from the process it serves) and kills it when a call overruns its time
limit. A separate process is needed because SQLite cannot stop some work from inside (reproduced on
SQLite 3.40.1):

* one function call runs to its end: the progress handler and ``Connection.interrupt()`` are only
  checked at VM jumps, so ``printf('%.*c', 2147483647, 'x')`` ran 23 s and ``instr``/``replace`` on two
  0.5 MB strings 9 s each, and a row of many such calls has no jump between them;
* preparing a statement is not interruptible at all: the query flattener copies a subquery's expressions
  into every reference, so 12 nested CTEs of ``x||x||x||x`` (a 480-character query) spent 17 s and
  gigabytes in ``prepare`` before any limit applied.

Inside the worker the in-process limits still apply first (they give the precise error messages): a
progress handler on a deadline, ``sqlite3`` limits (value length, LIKE pattern length, VM program size,
no attached databases), an authorizer with a function allowlist, a ``printf``/``format`` that refuses
widths and precisions above ``MAX_PRINTF_WIDTH``, databases in memory only (``temp_store = MEMORY``),
and process limits (address space, no file writes, CPU time per request).

Protocol (stdin -> stdout): frames of ``struct.pack("<QQ", len(header), len(blob)) + header + blob``,
where ``header`` is a UTF-8 JSON object. Requests: ``build`` (blob: script; reply blob: the serialized
database), ``dump`` (blob: a database file image; reply blob: a script that rebuilds it), ``load`` (blob:
a serialized database to query), ``query`` (``sql``, ``timeout_s``, ``max_rows``; reply ``output``) and
``drop`` (forget the loaded database; no reply). Importing this module has no side effects; ``sql.py``
imports its limits.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import struct
import sys
import time
from collections.abc import Callable
from typing import Any, BinaryIO

MAX_VALUE_BYTES = 1_000_000
"""Largest string or blob a database may hold or a statement may build (``SQLITE_LIMIT_LENGTH``)."""
MAX_DATABASE_BYTES = 64 * 2**20
"""Largest database a script may build (``PRAGMA max_page_count``) or a ``.sqlite`` file may have."""
MAX_SCRIPT_BYTES = 256 * 2**20
"""Longest build script (UTF-8 bytes); also ``SQLITE_LIMIT_SQL_LENGTH`` while building."""
MAX_BUILD_ROWS = 2_000_000
"""Most row changes (``total_changes``) a build may make; checked after every statement."""
MAX_VM_OPS = 50_000
"""Longest VM program one statement may compile to (``SQLITE_LIMIT_VDBE_OP``; typical queries use < 500)."""
MAX_LIKE_PATTERN = 1_000
"""Longest LIKE/GLOB pattern (``SQLITE_LIMIT_LIKE_PATTERN_LENGTH``; the default 50,000 ran 235 s)."""
MAX_PRINTF_WIDTH = 1_000
"""Largest width or precision ``printf``/``format`` accept."""
MAX_CELL_CHARS = 200
"""Longest value shown in one cell."""
MAX_QUERY_SQL_BYTES = 100_000
"""``SQLITE_LIMIT_SQL_LENGTH`` while querying (the tool accepts 10,000 characters)."""
WORKER_ADDRESS_SPACE = 2 * 2**30
"""``RLIMIT_AS`` of the worker: a database, a dump of it and the query's own memory fit."""
SQLITE_HEAP_BYTES = 768 * 2**20
"""``PRAGMA hard_heap_limit``: SQLite's allocations fail cleanly (out of memory) above this."""
PROGRESS_OPS = 1000
"""VM steps between two deadline checks."""

#: SQL functions a query or a build script may call (the authorizer's ``SQLITE_FUNCTION`` allowlist).
#: Left out on purpose: ``load_extension`` (loads code), ``fts3_tokenizer`` (reads and leaks pointers),
#: the FTS3/FTS5/R-tree internals (``fts5``, ``matchinfo``, ``offsets``, ``snippet``, ``highlight``,
#: ``bm25``, ``match``, ``optimize``, ``rtreenode``, ``rtreedepth``, ``rtreecheck``: they parse raw
#: blobs or hand out pointers, and no task can create their tables anyway), ``sqlite_log`` (writes to
#: the error log), ``sqlite_compileoption_*``/``sqlite_source_id`` (build details), ``changes``,
#: ``total_changes``, ``last_insert_rowid`` and ``subtype`` (nothing to read in a read-only database).
#: Every function listed costs at most linear time in its arguments except ``instr``, ``replace``,
#: ``trim`` with two arguments, ``like`` and ``glob`` (products of their lengths); those, like anything
#: else, end with the worker when the time limit passes.
SAFE_FUNCTIONS = frozenset({
    # core scalar
    "abs", "char", "coalesce", "concat", "concat_ws", "format", "glob", "hex", "ifnull", "iif", "instr",
    "length", "like", "likelihood", "likely", "lower", "ltrim", "max", "min", "nullif", "octet_length",
    "printf", "quote", "random", "randomblob", "replace", "round", "rtrim", "sign", "soundex",
    "sqlite_version", "substr", "substring", "trim", "typeof", "unhex", "unicode", "unlikely", "upper",
    "zeroblob",
    # aggregate and window
    "avg", "count", "group_concat", "string_agg", "sum", "total", "cume_dist", "dense_rank", "first_value",
    "lag", "last_value", "lead", "nth_value", "ntile", "percent_rank", "rank", "row_number",
    # date and time
    "current_date", "current_time", "current_timestamp", "date", "datetime", "julianday", "strftime",
    "time", "timediff", "unixepoch",
    # math (SQLITE_ENABLE_MATH_FUNCTIONS)
    "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "ceiling", "cos", "cosh", "degrees",
    "exp", "floor", "ln", "log", "log10", "log2", "mod", "pi", "pow", "power", "radians", "sin", "sinh",
    "sqrt", "tan", "tanh", "trunc",
    # JSON
    "json", "json_array", "json_array_length", "json_extract", "json_group_array", "json_group_object",
    "json_insert", "json_object", "json_patch", "json_quote", "json_remove", "json_replace", "json_set",
    "json_type", "json_valid", "->", "->>",
})
#: Pragmas a query may run (read-only schema introspection).
READ_PRAGMAS = frozenset({"table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
                          "foreign_key_list"})
#: Pragmas a build script may run besides ``READ_PRAGMAS`` (``sqlite3 .dump`` starts with the first).
BUILD_PRAGMAS = READ_PRAGMAS | {"foreign_keys"}
#: Built-in virtual tables no query reads: page-level and statement-level internals.
_HIDDEN_TABLES = frozenset({"dbstat", "sqlite_dbpage", "sqlite_stmt"})
_RECURSIVE = getattr(sqlite3, "SQLITE_RECURSIVE", 33)
_READ_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, _RECURSIVE})
#: What a build script may do in ``main``: create, fill and drop its own tables, indexes and views.
#: Writes to ``sqlite_master`` are what CREATE/DROP themselves do; SQLite refuses direct ones because
#: ``writable_schema`` cannot be set; CREATE INDEX asks for REINDEX of the new index. Triggers, temp
#: objects, virtual tables, ALTER, ANALYZE, ATTACH/DETACH (hence also ``VACUUM [INTO]``, which attaches
#: its target) and every other pragma are denied.
_BUILD_MAIN_ACTIONS = frozenset({
    sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_CREATE_INDEX, sqlite3.SQLITE_CREATE_VIEW,
    sqlite3.SQLITE_DROP_TABLE, sqlite3.SQLITE_DROP_INDEX, sqlite3.SQLITE_DROP_VIEW,
    sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE, sqlite3.SQLITE_REINDEX,
})
_BUILD_ANY_ACTIONS = _READ_ACTIONS | {sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT}
FRAME = struct.Struct("<QQ")
"""The length prefix of a frame: header bytes, blob bytes."""


# ------------------------------------------------------------------------------------------ authorizers
def query_authorizer(action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
    """Read-only: SELECT, reading columns, allowlisted functions, recursive CTEs, schema pragmas."""
    if action in _READ_ACTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_READ:
        return sqlite3.SQLITE_DENY if (arg1 or "").lower() in _HIDDEN_TABLES else sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION:
        return sqlite3.SQLITE_OK if (arg2 or "").lower() in SAFE_FUNCTIONS else sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in READ_PRAGMAS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def build_authorizer(action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
    """Build scripts: ``query_authorizer`` plus creating, filling and dropping objects in ``main``."""
    if action in _BUILD_ANY_ACTIONS:
        return sqlite3.SQLITE_OK
    if action in _BUILD_MAIN_ACTIONS:
        return sqlite3.SQLITE_OK if db == "main" else sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA:
        return sqlite3.SQLITE_OK if (arg1 or "").lower() in BUILD_PRAGMAS else sqlite3.SQLITE_DENY
    return query_authorizer(action, arg1, arg2, db, source)


# ---------------------------------------------------------------------------------------------- printf
def widest_printf_field(fmt: str, args: tuple[Any, ...], as_int: Callable[[Any], int]) -> int:
    """The largest width or precision the printf format ``fmt`` asks for, given its arguments.

    Follows SQLite's printf.c: a directive is ``%`` followed by flags, width and precision characters in
    any order (``-+ #!0,``, digits, ``.``, ``*``, ``l``) and one conversion character; every ``*``
    consumes the next argument, as does every conversion except ``%%`` and ``%n``. Literal numbers longer
    than 6 digits count as infinitely wide (they are refused, never parsed).

    Args:
        fmt: The format string.
        args: The arguments after the format.
        as_int: SQLite's integer conversion of an argument (for ``*``).

    Returns:
        The largest absolute width or precision (0 when there is none).
    """
    widest, arg, i, n = 0, 0, 0, len(fmt)
    while True:
        i = fmt.find("%", i)
        if i < 0 or i + 1 >= n:
            return widest
        i += 1
        while i < n and fmt[i] in "-+ #!0,.*l123456789":
            if fmt[i] == "*":
                widest = max(widest, abs(as_int(args[arg])) if arg < len(args) else 0)
                arg += 1
                i += 1
            elif fmt[i] in "123456789" or (fmt[i] == "0" and i > 0 and fmt[i - 1] == "."):
                start = i
                while i < n and "0" <= fmt[i] <= "9":
                    i += 1
                widest = max(widest, math.inf if i - start > 6 else int(fmt[start:i]))  # type: ignore[arg-type]
            else:
                i += 1
        if i < n and fmt[i] not in "%n":
            arg += 1
        i += 1


class _GuardedPrintf:
    """``printf``/``format`` that refuse widths and precisions above ``MAX_PRINTF_WIDTH``.

    SQLite 3.40's printf loops once per unit of width or precision even after its output hit
    ``SQLITE_LIMIT_LENGTH`` (``printf('%.*c', 2147483647, 'x')`` ran 23 s in one uninterruptible call).
    Accepted calls are delegated to the built-in printf of a private connection, so the output is
    SQLite's own.
    """

    def __init__(self, session: _Session):
        self.session = session
        self.plain = sqlite3.connect(":memory:")
        self.plain.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)

    def _as_int(self, value: Any) -> int:
        if isinstance(value, int):
            return value
        return int(self.plain.execute("SELECT CAST(? AS INTEGER)", (value,)).fetchone()[0] or 0)

    def __call__(self, *args: Any) -> Any:
        if not args or args[0] is None:
            return None
        fmt = args[0]
        if not isinstance(fmt, str):
            fmt = self.plain.execute("SELECT CAST(? AS TEXT)", (fmt,)).fetchone()[0]
        if widest_printf_field(fmt, args[1:], self._as_int) > MAX_PRINTF_WIDTH:
            self.session.udf_error = f"printf/format width or precision above {MAX_PRINTF_WIDTH}"
            raise ValueError(self.session.udf_error)
        try:
            return self.plain.execute(f"SELECT printf({', '.join('?' * len(args))})", args).fetchone()[0]
        except sqlite3.Error as exc:
            self.session.udf_error = f"printf: {exc}"
            raise


# ----------------------------------------------------------------------------------------------- dump
def _literal(value: Any) -> str:
    """``value`` as an SQL literal that inserts the same value (type included)."""
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("1e999" if value > 0 else "-1e999")
    if isinstance(value, bytes):
        return "X'" + value.hex() + "'"
    if "\x00" in value:  # a NUL would end the statement early
        return "CAST(X'" + value.encode("utf-8").hex() + "' AS TEXT)"
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def dump_script(conn: sqlite3.Connection) -> str:
    """A script that rebuilds ``conn``'s tables (with their rows), indexes and views.

    Reads the schema as data: the stored ``CREATE`` texts are copied into the script, never executed
    here, and the script is then built under ``build_authorizer`` like any other. Triggers (a read-only
    database never fires them), ``sqlite_*`` internal tables and generated columns' values are left
    out; virtual tables are refused.

    Raises:
        ValueError: A virtual table.
        sqlite3.Error: The database cannot be read.
    """
    schema = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid").fetchall()
    tables = [(name, sql) for kind, name, sql in schema if kind == "table" and not name.lower().startswith("sqlite_")]
    parts: list[str] = []
    for name, sql in tables:
        if re.match(r"\s*CREATE\s+VIRTUAL\b", sql, re.IGNORECASE):
            raise ValueError(f"virtual table {name!r} (FTS, R-tree, ...) is not supported")
        parts.append(sql + ";")
        columns = [row[1] for row in conn.execute(f"PRAGMA table_xinfo({_ident(name)})") if row[6] == 0]
        cols = ", ".join(_ident(c) for c in columns)
        head = f"INSERT INTO {_ident(name)}({cols}) VALUES("
        for row in conn.execute(f"SELECT {cols} FROM {_ident(name)}"):
            parts.append(head + ", ".join(_literal(v) for v in row) + ");")
    parts += [sql + ";" for kind, _, sql in schema if kind in ("index", "view")]
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------------------------- session
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


class _Session:
    """The worker's state: at most one loaded (query-only) database."""

    def __init__(self) -> None:
        self.conn: sqlite3.Connection | None = None
        self.udf_error: str | None = None

    def _connect(self, *, build: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(":memory:", isolation_level=None)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)  # also stops VACUUM INTO (it attaches its target)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, MAX_LIKE_PATTERN)
        conn.setlimit(sqlite3.SQLITE_LIMIT_VDBE_OP, MAX_VM_OPS)
        conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SCRIPT_BYTES if build else MAX_QUERY_SQL_BYTES)
        conn.execute("PRAGMA temp_store = MEMORY")  # sorts and temp b-trees never touch the disk
        printf = _GuardedPrintf(self)
        for name in ("printf", "format"):
            conn.create_function(name, -1, printf, deterministic=True)
        return conn

    def _guard(self, conn: sqlite3.Connection, timeout_s: float, max_rows: int | None = None) -> Callable[[], bool]:
        """Installs a progress handler; returns a function that says whether the deadline passed."""
        deadline = time.monotonic() + timeout_s
        expired = lambda: time.monotonic() > deadline  # noqa: E731
        if max_rows is None:
            conn.set_progress_handler(lambda: int(expired()), PROGRESS_OPS)
        else:  # total_changes is updated after each statement: one statement overshoots, size caps it
            conn.set_progress_handler(lambda: int(expired() or conn.total_changes > max_rows), PROGRESS_OPS)
        return expired

    def build(self, script: bytes, timeout_s: float, max_rows: int = MAX_BUILD_ROWS,
              max_bytes: int = MAX_DATABASE_BYTES) -> tuple[dict[str, Any], bytes]:
        self.udf_error = None
        conn = self._connect(build=True)
        try:
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {max(1, max_bytes // page_size)}")
            conn.set_authorizer(build_authorizer)
            expired = self._guard(conn, timeout_s, max_rows)
            try:
                conn.executescript(script.decode("utf-8"))
                if conn.in_transaction:  # a script that opened a transaction and ended: keep its rows
                    conn.execute("COMMIT")
            except (sqlite3.Error, ValueError, MemoryError) as exc:
                return {"ok": False, "error": self._build_error(exc, conn, expired, timeout_s, max_rows,
                                                                max_bytes)}, b""
            if conn.total_changes > max_rows:
                return {"ok": False, "error": f"more than {max_rows:,} row changes (row cap)"}, b""
            conn.set_progress_handler(None, 0)
            conn.set_authorizer(None)
            return {"ok": True, "rows": conn.total_changes}, conn.serialize()
        finally:
            conn.close()

    def _build_error(self, exc: BaseException, conn: sqlite3.Connection, expired: Callable[[], bool],
                     timeout_s: float, max_rows: int, max_bytes: int) -> str:
        msg = str(exc) or type(exc).__name__
        if "interrupted" in msg:
            if conn.total_changes > max_rows:
                return f"more than {max_rows:,} row changes (row cap)"
            if expired():
                return f"still running after {timeout_s:g}s (time limit)"
        if "database or disk is full" in msg:
            return f"a database larger than {max_bytes:,} bytes (size cap)"
        if isinstance(exc, MemoryError):
            return f"a statement too large or complex (over {MAX_VM_OPS:,} VM instructions, or out of memory)"
        if self.udf_error is not None:
            return self.udf_error
        if "not authorized" in msg or "authorization denied" in msg:
            return (f"{msg}: build scripts may only create, fill and drop their own tables, indexes and views "
                    "(no ATTACH, VACUUM, triggers, temp or virtual tables, ALTER, or pragmas other than "
                    "foreign_keys)")
        return msg

    def dump(self, image: bytes, timeout_s: float) -> tuple[dict[str, Any], bytes]:
        conn = self._connect(build=False)
        try:
            conn.deserialize(_rollback_journal_image(image))
            conn.execute("PRAGMA query_only = ON")
            conn.set_authorizer(query_authorizer)
            expired = self._guard(conn, timeout_s)
            try:
                script = dump_script(conn)
            except (sqlite3.Error, ValueError, MemoryError) as exc:
                late = "interrupted" in str(exc) and expired()
                return {"ok": False, "error": f"still reading after {timeout_s:g}s (time limit)" if late
                        else (str(exc) or type(exc).__name__)}, b""
            return {"ok": True}, script.encode("utf-8")
        finally:
            conn.close()

    def load(self, data: bytes) -> dict[str, Any]:
        self.drop()
        conn = self._connect(build=False)
        try:
            conn.deserialize(data)
            conn.execute("PRAGMA query_only = ON")
            conn.set_authorizer(query_authorizer)
        except sqlite3.Error as exc:
            conn.close()
            return {"ok": False, "error": str(exc)}
        self.conn = conn
        return {"ok": True}

    def drop(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:  # closing an in-memory database cannot lose anything
                pass

    def query(self, sql: str, timeout_s: float, max_rows: int) -> dict[str, Any]:
        if self.conn is None:
            return {"ok": False, "output": "error: no database is loaded"}
        conn, self.udf_error = self.conn, None
        expired = self._guard(conn, timeout_s)
        cur = None
        try:
            cur = conn.execute(sql)
            if cur.description is None:
                return {"ok": False, "output": "error: only queries that return rows (SELECT) are allowed"}
            rows = cur.fetchmany(max_rows + 1)
            header = " | ".join(str(c[0]) for c in cur.description)
        except (sqlite3.Error, sqlite3.Warning, ValueError, MemoryError, OverflowError) as exc:
            return {"ok": False, "output": self._query_error(exc, expired, timeout_s)}
        finally:
            conn.set_progress_handler(None, 0)
            if cur is not None:
                cur.close()
        lines = [header] + [" | ".join(_cell(v) for v in row) for row in rows[:max_rows]]
        if not rows:
            lines.append("(0 rows)")
        elif len(rows) > max_rows:
            lines.append(f"[more than {max_rows} rows; only the first {max_rows} are shown: use LIMIT, "
                         "WHERE or an aggregate]")
        return {"ok": True, "output": "\n".join(lines)}

    def _query_error(self, exc: BaseException, expired: Callable[[], bool], timeout_s: float) -> str:
        msg = str(exc) or type(exc).__name__
        if "interrupted" in msg and expired():
            return f"error: query aborted after {timeout_s:g}s (time limit); add conditions or a LIMIT"
        if self.udf_error is not None:
            return f"error: {self.udf_error}"
        if isinstance(exc, MemoryError):
            return (f"error: query too large or complex (over {MAX_VM_OPS:,} VM instructions, or out of memory); "
                    "simplify it")
        if "not authorized to use function" in msg:
            return (f"error: {msg}; available: the core, date/time, math, aggregate, window and JSON functions "
                    "(not extension, full-text or internal ones)")
        if any(w in msg for w in ("not authorized", "authorization denied", "prohibited", "readonly", "read-only")):
            return f"error: {msg}: the database is read-only; only SELECT queries are allowed"
        if "one statement at a time" in msg:
            return "error: only one statement per call is allowed"
        if "LIKE or GLOB pattern too complex" in msg:
            return f"error: {msg} (patterns are limited to {MAX_LIKE_PATTERN} characters)"
        return f"error: {msg}"

    def handle(self, header: dict[str, Any], blob: bytes) -> tuple[dict[str, Any], bytes] | None:
        """Runs one request; returns the reply (None for ``drop``)."""
        op = header.get("op")
        _budget_cpu(float(header.get("timeout_s", 60.0)))
        if op == "query":
            return self.query(str(header["sql"]), float(header["timeout_s"]), int(header["max_rows"])), b""
        if op == "build":  # the parent may lower the caps (tests do), never raise them
            max_rows = min(int(header.get("max_rows", MAX_BUILD_ROWS)), MAX_BUILD_ROWS)
            max_bytes = min(int(header.get("max_bytes", MAX_DATABASE_BYTES)), MAX_DATABASE_BYTES)
            return self.build(blob, float(header["timeout_s"]), max_rows, max_bytes)
        if op == "dump":
            return self.dump(blob, float(header["timeout_s"]))
        if op == "load":
            return self.load(blob), b""
        if op == "drop":
            self.drop()
            return None
        return {"ok": False, "error": f"unknown request {op!r}", "output": f"error: unknown request {op!r}"}, b""


def _rollback_journal_image(image: bytes) -> bytes:
    """``image`` with its header's WAL flags (bytes 18 and 19) set to rollback-journal mode.

    An in-memory database cannot use WAL; a WAL-mode file is otherwise a valid image of its last
    checkpoint (changes still in its ``-wal`` file are not in ``image`` at all).
    """
    if len(image) >= 100 and image.startswith(b"SQLite format 3\x00") and image[18:20] == b"\x02\x02":
        return image[:18] + b"\x01\x01" + image[20:]
    return image


# ---------------------------------------------------------------------------------------------- process
def _budget_cpu(timeout_s: float) -> None:
    """Lets this request use ``timeout_s`` + 2 s more CPU time; the kernel kills the worker after that.

    The parent kills an overrunning worker itself; this bound holds even if the parent died mid-call.
    """
    import resource

    used = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(used.ru_utime + used.ru_stime + timeout_s) + 2
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _limit_process() -> None:
    import resource
    import signal

    for limit, value in ((resource.RLIMIT_AS, WORKER_ADDRESS_SPACE), (resource.RLIMIT_FSIZE, 0),
                         (resource.RLIMIT_CORE, 0)):
        hard = resource.getrlimit(limit)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (value, hard))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past RLIMIT_FSIZE fails instead of killing us
    sqlite3.connect(":memory:").execute(f"PRAGMA hard_heap_limit = {SQLITE_HEAP_BYTES}")


def read_frame(stream: BinaryIO) -> tuple[dict[str, Any], bytes] | None:
    """Reads one frame; None at end of input."""
    prefix = stream.read(FRAME.size)
    if len(prefix) < FRAME.size:
        return None
    n_header, n_blob = FRAME.unpack(prefix)
    header = json.loads(stream.read(n_header).decode("utf-8"))
    return header, stream.read(n_blob)


def encode_frame(header: dict[str, Any], blob: bytes = b"") -> bytes:
    """One frame: the length prefix, ``header`` as JSON, then ``blob``."""
    raw = json.dumps(header).encode("utf-8")
    return FRAME.pack(len(raw), len(blob)) + raw + blob


def main() -> None:
    """Serves requests from stdin until it closes."""
    _limit_process()
    requests = sys.stdin.buffer
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed by accident goes to stderr, never into the reply stream
    session = _Session()
    while True:
        frame = read_frame(requests)
        if frame is None:
            return
        try:
            reply = session.handle(*frame)
        except Exception as exc:  # noqa: BLE001 - a reply keeps the parent in step; it reports the error
            message = f"internal error in the SQL worker: {type(exc).__name__}: {exc}"
            reply = {"ok": False, "error": message, "output": f"error: {message}"}, b""
        if reply is not None:
            replies.write(encode_frame(*reply))
            replies.flush()


if __name__ == "__main__":
    main()
