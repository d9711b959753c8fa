"""``sql``: read-only SQLite queries over a task's database, in a worker process killed at the time limit.

Model-written SQL is hostile and so is a task file's database script (DESIGN §5). SQLite runs in a worker
process (``_sql_worker.py``, standard library only) because it cannot bound its own time: one function
call (``printf('%.*c', 2147483647, 'x')``: 23 s) or the preparation of one statement (nested CTEs that the
query flattener copies into every reference: 17 s for 480 characters) runs to its end whatever the
progress handler or ``Connection.interrupt()`` say. The parent waits ``timeout_s`` +
``TIMEOUT_GRACE_S`` for each reply and kills the worker otherwise, so every call returns in that time;
the next call starts a fresh worker.

Inside the worker (details and values there):

* building: ``build_database`` runs the script in memory under an authorizer that allows only creating,
  filling and dropping the script's own tables, indexes and views, with a time limit
  (``BUILD_TIMEOUT_S``), a row cap (``MAX_BUILD_ROWS``) and a size cap (``MAX_DATABASE_BYTES``);
* querying: an authorizer that allows only reading (``SELECT``, columns, allowlisted functions, recursive
  CTEs, schema pragmas), ``PRAGMA query_only``, one statement per call, a progress handler on the
  deadline, caps on values (``MAX_VALUE_BYTES``), LIKE patterns and program size, a ``printf`` that
  refuses huge widths, no attached databases, no file writes, bounded memory and CPU.

Built databases are cached by a digest of the script (least recently used evicted, bounded in count and
bytes), and idle workers are reused (at most ``IDLE_WORKERS``), so tools rebuilt every episode are cheap.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from turngym.envs.core.errors import ConfigError
from turngym.envs.tooluse.base import ToolResult
from turngym.envs.tooluse.tools import _sql_worker as worker
from turngym.envs.tooluse.tools._common import safe_call, string_schema
from turngym.envs.tooluse.tools._sql_worker import (  # noqa: F401 - re-exported limits
    MAX_BUILD_ROWS,
    MAX_CELL_CHARS,
    MAX_DATABASE_BYTES,
    MAX_SCRIPT_BYTES,
    MAX_VALUE_BYTES,
    SAFE_FUNCTIONS,
)

MAX_QUERY_CHARS = 10_000
"""Longest query accepted."""
BUILD_TIMEOUT_S = 30.0
"""Time limit of building one database (running its script) or reading one ``.sqlite`` file."""
TIMEOUT_GRACE_S = 0.5
"""How long past its time limit a call may take before its worker is killed."""
START_TIMEOUT_S = 30.0
"""Time limit of loading a built database into a worker (a 64 MiB copy)."""
DB_CACHE_SIZE = 32
"""Built databases kept (least recently used evicted)."""
DB_CACHE_BYTES = 256 * 2**20
"""Total size of the built databases kept."""
IDLE_WORKERS = 2
"""Idle worker processes kept for reuse."""

_WORKER_SCRIPT = Path(worker.__file__).resolve()
_BUILD_EXPECTED = ("an SQL script that builds the task's database (CREATE TABLE/INDEX/VIEW, INSERT, UPDATE, "
                   "DELETE, DROP, transactions)")
_db_lock = threading.Lock()
_db_cache: OrderedDict[str, bytes] = OrderedDict()
_idle: collections.deque[_Worker] = collections.deque()  # append/pop are atomic: safe from __del__


class _WorkerLost(Exception):
    """The worker did not answer: it overran its time (``timed_out``), died, or could not start.

    ``delivered`` is False when the request never reached a running worker (it could not start, or a
    pooled one had exited): trying again with a fresh worker is then safe.
    """

    def __init__(self, why: str, timed_out: bool = False, delivered: bool = True):
        super().__init__(why)
        self.timed_out = timed_out
        self.delivered = delivered


class _Worker:
    """One worker process (``_sql_worker.py``) and its pipes; owned by the process that started it."""

    def __init__(self) -> None:
        self.owner = os.getpid()
        try:
            # -I -S: no site-packages, no environment variables, no current directory on sys.path.
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", str(_WORKER_SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, bufsize=0, cwd="/", env={}, close_fds=True, start_new_session=True)
        except OSError as exc:
            why = f"the SQL worker could not start ({type(exc).__name__}: {exc})"
            raise _WorkerLost(why, delivered=False) from None

    def alive(self) -> bool:
        """True when this process owns the worker and it is running."""
        return self.owner == os.getpid() and self.proc.poll() is None

    def call(self, header: dict[str, Any], blob: bytes, wait_s: float, max_blob: int) -> tuple[dict[str, Any], bytes]:
        """Sends one request and waits ``wait_s`` for the reply; kills the worker when none comes.

        Raises:
            _WorkerLost: No reply in time (the worker is killed), the worker died, or it sent garbage.
        """
        try:
            _write_all(self.proc.stdin.fileno(), worker.encode_frame(header, blob))  # type: ignore[union-attr]
        except OSError as exc:  # the worker had exited (broken pipe)
            self.kill()
            raise _WorkerLost(f"the SQL worker had exited ({type(exc).__name__})", delivered=False) from None
        try:
            deadline = time.monotonic() + wait_s
            prefix = self._read(worker.FRAME.size, deadline)
            n_header, n_blob = worker.FRAME.unpack(prefix)
            if n_header > 64 * 2**20 or n_blob > max_blob:
                raise _WorkerLost(f"the SQL worker sent an oversized reply ({n_header} + {n_blob} bytes)")
            reply = json.loads(self._read(n_header, deadline).decode("utf-8"))
            data = self._read(n_blob, deadline)
        except _WorkerLost:
            self.kill()
            raise
        except (OSError, ValueError, RecursionError) as exc:  # a read error, bad JSON
            self.kill()
            raise _WorkerLost(f"the SQL worker failed ({type(exc).__name__}: {exc})") from None
        if not isinstance(reply, dict):
            self.kill()
            raise _WorkerLost("the SQL worker sent a malformed reply")
        return reply, data

    def _read(self, n: int, deadline: float) -> bytes:
        fd = self.proc.stdout.fileno()  # type: ignore[union-attr]
        chunks, got = [], 0
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while got < n:
            left = deadline - time.monotonic()
            if left <= 0 or not poller.poll(left * 1000):
                raise _WorkerLost("the SQL worker overran its time limit", timed_out=True)
            chunk = os.read(fd, min(n - got, 1 << 20))
            if not chunk:
                try:
                    code = self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    raise _WorkerLost("the SQL worker closed its output") from None
                raise _WorkerLost(f"the SQL worker exited ({_exit_reason(code)})")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def send_drop(self) -> bool:
        """Asks the worker to forget its database (no reply); False when it is gone."""
        try:
            _write_all(self.proc.stdin.fileno(), worker.encode_frame({"op": "drop"}))  # type: ignore[union-attr]
        except OSError:
            return False
        return True

    def kill(self) -> None:
        """Kills the worker (SIGKILL) and reaps it; in a forked copy of the owner, only closes the pipes."""
        if self.owner == os.getpid():
            try:
                self.proc.kill()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()  # type: ignore[union-attr]
            except OSError:
                pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _exit_reason(code: int) -> str:
    if code < 0:
        return {9: "killed", 24: "CPU time limit"}.get(-code, f"signal {-code}")
    return f"exit status {code}"


def _acquire() -> _Worker:
    while True:
        try:
            w = _idle.pop()
        except IndexError:
            return _Worker()
        if w.alive():
            return w
        w.kill()


def _release(w: _Worker) -> None:
    if w.alive() and len(_idle) < IDLE_WORKERS and w.send_drop():
        _idle.append(w)
    else:
        w.kill()


def _forget_idle_after_fork() -> None:
    # A forked child shares the parent's pipes; the workers stay the parent's (``_Worker.owner``).
    _idle.clear()


os.register_at_fork(after_in_child=_forget_idle_after_fork)


def _call_fresh(header: dict[str, Any], payload: bytes, wait_s: float, max_blob: int) -> tuple[_Worker, dict, bytes]:
    """Sends one request to a pooled (or new) worker, once more if it never reached a running one."""
    for attempt in (1, 2):
        w = _acquire()
        try:
            reply, data = w.call(header, payload, wait_s, max_blob)
        except _WorkerLost as exc:
            if exc.delivered or attempt == 2:
                raise
            continue
        return w, reply, data
    raise AssertionError("unreachable")


def _run_op(header: dict[str, Any], payload: bytes, max_blob: int) -> tuple[dict[str, Any], bytes]:
    """Runs one build or dump request on a pooled worker and hands the worker back."""
    w, reply, data = _call_fresh(header, payload, float(header["timeout_s"]) + TIMEOUT_GRACE_S, max_blob)
    _release(w)
    return reply, data


def build_database(script: str, *, timeout_s: float | None = None) -> bytes:
    """Builds ``script`` into a fresh in-memory database and returns it serialized (cached by digest).

    The script runs in a worker process under the build authorizer (only CREATE/DROP TABLE, INDEX and
    VIEW in the main database, INSERT/UPDATE/DELETE, SELECT, transactions, allowlisted functions and
    ``PRAGMA foreign_keys``), with a time limit, a row cap and a size cap (see ``_sql_worker``).

    Args:
        script: SQL statements.
        timeout_s: Time limit; default ``BUILD_TIMEOUT_S``.

    Raises:
        ConfigError: The script is not a string, is too long, fails, does something not allowed, or
            exceeds a limit; the message says which.
    """
    if not isinstance(script, str):
        raise ConfigError("database", "an SQL script (str)", type(script).__name__)
    try:
        raw = script.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigError("database", _BUILD_EXPECTED, f"a script that is not valid Unicode ({exc.reason})") from None
    if len(raw) > MAX_SCRIPT_BYTES:
        raise ConfigError("database", f"a script of at most {MAX_SCRIPT_BYTES // 2**20} MiB", f"{len(raw):,} bytes")
    caps = {"max_rows": MAX_BUILD_ROWS, "max_bytes": MAX_DATABASE_BYTES}  # read now: tests lower them
    key = hashlib.sha256(raw + json.dumps(caps).encode()).hexdigest()
    with _db_lock:
        data = _db_cache.get(key)
        if data is not None:
            _db_cache.move_to_end(key)
            return data
    limit = BUILD_TIMEOUT_S if timeout_s is None else float(timeout_s)
    try:
        reply, data = _run_op({"op": "build", "timeout_s": limit, **caps}, raw, caps["max_bytes"])
    except _WorkerLost as exc:
        got = f"a script still running after {limit:g}s (time limit)" if exc.timed_out else str(exc)
        raise ConfigError("database", _BUILD_EXPECTED, got) from None
    if reply.get("ok") is not True:
        raise ConfigError("database", _BUILD_EXPECTED, f"script failing with {reply.get('error')}")
    with _db_lock:
        _db_cache[key] = data
        total = sum(len(v) for v in _db_cache.values())
        while len(_db_cache) > DB_CACHE_SIZE or (total > DB_CACHE_BYTES and len(_db_cache) > 1):
            total -= len(_db_cache.popitem(last=False)[1])
    return data


def database_script(image: bytes, *, timeout_s: float | None = None) -> str:
    """The SQL script that rebuilds the SQLite database whose file contents are ``image``.

    The image is opened in memory in a worker process, read-only under the query authorizer: the SQL
    text stored in it (``sqlite_master.sql``) is copied into the script as data, never executed there.
    Build the script with ``build_database`` (which applies the build authorizer to that text).

    Args:
        image: The bytes of a ``.sqlite``/``.db`` file (at most ``MAX_DATABASE_BYTES``).
        timeout_s: Time limit; default ``BUILD_TIMEOUT_S``.

    Raises:
        ConfigError: Not a database, too large, a virtual table, or over the time limit.
    """
    if len(image) > MAX_DATABASE_BYTES:
        raise ConfigError("database", f"a SQLite file of at most {MAX_DATABASE_BYTES // 2**20} MiB",
                          f"{len(image):,} bytes")
    limit = BUILD_TIMEOUT_S if timeout_s is None else float(timeout_s)
    try:
        reply, data = _run_op({"op": "dump", "timeout_s": limit}, image, MAX_SCRIPT_BYTES)
    except _WorkerLost as exc:
        got = f"a file still being read after {limit:g}s (time limit)" if exc.timed_out else str(exc)
        raise ConfigError("database", "a SQLite database file", got) from None
    if reply.get("ok") is not True:
        raise ConfigError("database", "a SQLite database file", str(reply.get("error")))
    return data.decode("utf-8")


class SQLTool:
    """Read-only SQL over the task's SQLite database.

    Args:
        script: SQL that builds the database (schema and inserts), run once (``build_database``).
        max_rows: Rows shown per query (more are counted as "more rows", not shown).
        timeout_s: Time limit of one query: the worker stops it at ``timeout_s`` (checked every 1000
            SQLite VM steps) and is killed at ``timeout_s + TIMEOUT_GRACE_S`` if it has not.
        max_output_chars: Output cap.

    Raises:
        ConfigError: Bad arguments, or a script ``build_database`` refuses.

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
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        if not isinstance(script, str):
            raise ConfigError("script", "an SQL script (str)", type(script).__name__)
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
            raise ConfigError("max_rows", "a positive int", max_rows)
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 0 < timeout_s < 1e6:
            raise ConfigError("timeout_s", "a positive number of seconds", timeout_s)
        self.max_rows = max_rows
        self.timeout_s = float(timeout_s)
        self.max_output_chars = int(max_output_chars)
        self.description = SQLTool.description.format(max_rows=max_rows)
        self._data = build_database(script)
        try:
            self._worker = self._start()
        except _WorkerLost as exc:
            raise ConfigError("sql tool", "a worker process that loads the database", str(exc)) from None

    def _start(self) -> _Worker:
        w, reply, _ = _call_fresh({"op": "load"}, self._data, START_TIMEOUT_S, 0)
        if reply.get("ok") is not True:
            w.kill()
            raise _WorkerLost(f"the SQL worker could not load the database ({reply.get('error')})")
        return w

    def call(self, arguments: dict[str, Any]) -> ToolResult:
        """Runs ``arguments["query"]`` read-only."""
        return safe_call(self.name, self.parameters, arguments, self._run, self.max_output_chars)

    def close(self) -> None:
        """Hands the worker back to the pool (or ends it); a later call starts another."""
        with self._lock:
            w, self._worker = self._worker, None
        if w is not None:
            _release(w)

    def _run(self, arguments: dict[str, Any]) -> ToolResult:
        query = arguments["query"]
        if len(query) > MAX_QUERY_CHARS:
            return ToolResult(False, f"error: query too long ({len(query)} characters; at most {MAX_QUERY_CHARS})")
        if not query.strip().rstrip(";").strip():
            return ToolResult(False, 'error: empty query; sql expects {"query": string} with one SELECT statement')
        if "\x00" in query:
            return ToolResult(False, "error: the query contains a NUL character")
        with self._lock:
            if self._worker is None or not self._worker.alive():
                try:
                    self._worker = self._start()  # outside the query's deadline: the query gets all of it
                except _WorkerLost as exc:  # the task's database could not be served: not the query's fault
                    self._worker = None
                    why = f"the SQL worker could not start ({exc})"
                    return ToolResult(False, f"error: the sql tool failed on the environment's side: {why}",
                                      infra_error=f"sql: {why}")
            try:
                reply, _ = self._worker.call(
                    {"op": "query", "sql": query, "timeout_s": self.timeout_s, "max_rows": self.max_rows}, b"",
                    self.timeout_s + TIMEOUT_GRACE_S, 0)
            except _WorkerLost as exc:
                self._worker = None
                if exc.timed_out:
                    return ToolResult(False, f"error: query aborted after {self.timeout_s:g}s (time limit); "
                                             "add conditions or a LIMIT")
                return ToolResult(False, f"error: {exc}; the query was not answered")
        ok, output = reply.get("ok"), reply.get("output")
        if not isinstance(ok, bool) or not isinstance(output, str):
            return ToolResult(False, "error: the SQL worker sent a malformed reply")
        return ToolResult(ok, output)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
