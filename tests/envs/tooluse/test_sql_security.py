"""The SQL tool and ``build_database`` against hostile SQL (issue 12 item 2, DESIGN §5), on real SQLite.

Every call must return within its time limit plus a small margin with a clear error, whatever the query
does; pointer-leaking, extension and file-touching functions are denied; build scripts may only create
and fill their own tables. Hang bounds are generous (``HANG``): today's code took 9 s to minutes on the
queries below against a 1 s limit.
"""

from __future__ import annotations

import gc
import random
import sqlite3
import time
from pathlib import Path

import pytest

from turngym.envs.core.errors import ConfigError
from turngym.envs.tooluse.base import ToolResult
from turngym.envs.tooluse.tools import _sql_worker as worker
from turngym.envs.tooluse.tools import sql as sqltool
from turngym.envs.tooluse.tools.sql import SQLTool, build_database

LIMIT = 1.0
HANG = LIMIT + 5.0  # the worker is killed at LIMIT + TIMEOUT_GRACE_S; the rest is slack for a loaded machine
SCRIPT = ("CREATE TABLE big(v TEXT); INSERT INTO big VALUES ('ab');"
          "CREATE TABLE t(a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'y');")
PRINTF = "length(printf('%.*c', 2147483647, 'x'))"
# Two strings of ~0.5 MB and ~0.25 MB (a row stays under the 1 MB value cap): instr/replace compare them
# at every offset, ~3 s per call in one uninterruptible VM step.
PAIR = ("WITH s(a, b) AS (SELECT replace(hex(zeroblob(249000)), '0', 'a'), "
        "replace(hex(zeroblob(125000)), '0', 'a') || 'b') SELECT ")


def _many(call: str, head: str = "SELECT ", tail: str = "", budget: int = 10_000) -> str:
    """A query of at most ``budget`` characters made of as many ``call``s as fit."""
    n = (budget - len(head) - len(tail)) // (len(call) + 2)
    return head + ", ".join([call] * n) + tail


def _blowup(levels: int = 12) -> str:
    """Nested CTEs that the query flattener copies into every reference: 4**levels copies in prepare."""
    ctes = ["l0(x) AS (SELECT v FROM big)"]
    ctes += [f"l{i}(x) AS (SELECT x||x||x||x FROM l{i - 1})" for i in range(1, levels)]
    return "WITH " + ", ".join(ctes) + f" SELECT length(x) FROM l{levels - 1}"


@pytest.fixture(scope="module")
def tool():
    t = SQLTool(SCRIPT, timeout_s=LIMIT)
    yield t
    t.close()


def _timed(tool: SQLTool, query: str) -> tuple[ToolResult, float]:
    start = time.monotonic()
    result = tool.call({"query": query})
    return result, time.monotonic() - start


def _healthy(tool: SQLTool) -> None:
    assert tool.call({"query": "SELECT count(*) FROM t"}) == ToolResult(True, "count(*)\n2")


# ------------------------------------------------------------------------------------ time limits
@pytest.mark.parametrize("query", [
    f"SELECT {PRINTF}, {PRINTF}",  # the reporter's query: 14-17 s (23 s with one call) against 2 s
    _many(PRINTF),  # ~230 such calls in 10,000 characters
    "SELECT format('%2147483647c', 'x')",
    "SELECT printf('%*d', '2147483647', 1)",  # the width from a text argument, converted as SQLite does
    "SELECT printf('%.100000000f', 1.5)",
], ids=["reporter", "230-calls", "format-literal-width", "star-width-from-text", "float-precision"])
def test_printf_with_huge_widths_is_refused_at_once(tool, query):
    r, elapsed = _timed(tool, query)
    assert not r.ok and "width or precision above 1000" in r.output
    assert elapsed < HANG
    _healthy(tool)


def test_printf_and_format_still_format(tool):
    r = tool.call({"query": "SELECT printf('%5.2f|%-4d|%.3s|%05d', 3.14159, 7, 'abcdef', 42), format('%q', 'it''s')"})
    assert r.ok and r.output.splitlines()[1] == " 3.14|7   |abc|00042 | it''s"


def test_printf_guard_accepts_only_formats_that_stay_small():
    """Fuzz: every format the guard accepts gives SQLite's printf an output bounded by the width cap."""
    plain = sqlite3.connect(":memory:")
    plain.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 10_000_000)

    def as_int(v):
        return v if isinstance(v, int) else int(plain.execute("SELECT CAST(? AS INTEGER)", (v,)).fetchone()[0] or 0)

    rng = random.Random(12)
    nums = ["", "*", "0", "7", "1000", "1001", "65535", "2147483647", "4294967297", "00000000000000000003"]
    junk = list("-+ #!0,.*l%dsc") + ["abc", "99"]
    accepted = refused = 0
    for _ in range(3000):
        parts = []
        for _ in range(rng.randint(1, 5)):
            d = "%" + "".join(rng.choice("-+ #!0,") for _ in range(rng.randint(0, 3))) + rng.choice(nums)
            d += ("." + rng.choice(nums)) if rng.random() < 0.6 else ""
            d += rng.choice(["", "", "l", "ll", rng.choice(junk)])
            parts.append(rng.choice([d + rng.choice("dsgzqQwcouxXfeEGinp%r"), rng.choice(junk)]))
        fmt = "".join(parts)
        args = tuple(rng.choice([1, -5, 2147483647, -2147483648, 3.5, 1e10, "7", "2147483647", "x" * 50, None])
                     for _ in range(rng.randint(0, 6)))
        if worker.widest_printf_field(fmt, args, as_int) > worker.MAX_PRINTF_WIDTH:
            refused += 1
            continue
        accepted += 1
        out = plain.execute(f"SELECT printf({', '.join('?' * (len(args) + 1))})", (fmt, *args)).fetchone()[0]
        assert out is None or len(out) <= len(fmt) + (fmt.count("%") + 1) * (worker.MAX_PRINTF_WIDTH + 400), fmt
    assert accepted > 500 and refused > 500
    for fmt in ("%d", "%5.2f", "%-10s|", "%05d", "%.3s", "%,d", "%q", "%Q", "%w", "%%", "%c", "%x", "%e", "%g", "%z"):
        assert worker.widest_printf_field(fmt, (12345,), as_int) <= worker.MAX_PRINTF_WIDTH, fmt


@pytest.mark.parametrize("query", [
    _many("instr(a, b)", head=PAIR, tail=" FROM s"),  # one call alone ran 9 s
    _many("length(replace(a, b, 'x'))", head=PAIR, tail=" FROM s"),
    _blowup(),  # 480 characters: 17 s in prepare, which no progress handler or interrupt() reaches
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
], ids=["instr", "replace", "flattener-blowup", "recursive-cte"])
def test_every_call_returns_within_its_time_limit(tool, query):
    r, elapsed = _timed(tool, query)
    assert elapsed < HANG, f"{elapsed:.1f}s"
    # Stopped by the time limit, or (the flattener blowup, on a fast or idle machine) by the VM-op / memory cap
    # first: either way a clear error within the limit.
    assert not r.ok and ("time limit" in r.output or "too large or complex" in r.output), r.output
    _healthy(tool)  # a killed worker is replaced; the database is the same


def test_long_like_and_glob_patterns_are_refused(tool):
    for op in ("LIKE", "GLOB"):  # the default 50,000-character pattern ran 235 s against a 1 MB string
        r, elapsed = _timed(tool, f"SELECT v {op} '%" + "a" * 5000 + "b' FROM big")
        assert not r.ok and "pattern too complex" in r.output and elapsed < HANG
    assert tool.call({"query": "SELECT count(*) FROM t WHERE b LIKE '_' AND b GLOB '[xy]'"}).output == "count(*)\n2"


def test_oversized_values_and_programs_get_clear_errors(tool):
    r = tool.call({"query": "SELECT length(zeroblob(2000000))"})
    assert not r.ok and "too big" in r.output
    r = tool.call({"query": _blowup(levels=9)})  # 4**8 copies: over MAX_VM_OPS before the time limit
    assert not r.ok and "too large or complex" in r.output
    _healthy(tool)


# ------------------------------------------------------------------------------------ functions
@pytest.mark.parametrize("query", [
    "SELECT hex(fts3_tokenizer('simple'))",  # returns a C pointer today
    "SELECT load_extension('/tmp/turngym-evil.so')",
    "SELECT fts5(NULL)",
    "SELECT rtreenode(2, x'00')",
    "SELECT matchinfo(1)",
    "SELECT sqlite_compileoption_get(0)",
    "SELECT sqlite_log(1, 'x')",
], ids=lambda q: q.split()[1].split("(")[0])
def test_dangerous_functions_are_denied(tool, query):
    r = tool.call({"query": query})
    assert not r.ok and "not authorized to use function" in r.output


@pytest.mark.parametrize("query", ["SELECT * FROM dbstat", "SELECT * FROM sqlite_stmt"])
def test_internal_virtual_tables_are_not_readable(tool, query):
    assert not tool.call({"query": query}).ok


def test_views_are_checked_with_the_query_authorizer():
    t = SQLTool("CREATE TABLE x(a); CREATE VIEW leak AS SELECT sqlite_compileoption_get(0) AS p;")
    try:
        r = t.call({"query": "SELECT p FROM leak"})
        assert not r.ok and "not authorized to use function" in r.output
    finally:
        t.close()


def test_common_functions_work(tool):
    r = tool.call({"query": "SELECT abs(-1), round(2.345, 2), upper(b), substr('abc', 2), "
                            "date('2024-01-02', '+1 day'), json_extract('{\"k\": 3}', '$.k'), sqrt(16), "
                            "coalesce(NULL, 5), iif(a > 1, 'big', 'small'), row_number() OVER (ORDER BY a) "
                            "FROM t ORDER BY a"})
    assert r.ok, r.output
    assert r.output.splitlines()[1:] == ["1 | 2.35 | X | bc | 2024-01-03 | 3 | 4.0 | 5 | small | 1",
                                         "1 | 2.35 | Y | bc | 2024-01-03 | 3 | 4.0 | 5 | big | 2"]


# ------------------------------------------------------------------------------------ build scripts
def _no_files(tmp_path: Path) -> None:
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("template", [
    "ATTACH '{d}/x.db' AS e; CREATE TABLE e.t(a);",
    "CREATE TABLE t(a); VACUUM INTO '{d}/y.db';",
    "CREATE TABLE t(a); VACUUM;",
    "CREATE TEMP TABLE t(a);",
    "CREATE TABLE t(a); CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END;",
    "CREATE VIRTUAL TABLE v USING fts5(x);",
    "PRAGMA writable_schema = ON;",
    "PRAGMA max_page_count = 1000000000;",
    "CREATE TABLE t(a); ALTER TABLE t RENAME TO u;",
    "CREATE TABLE t(a); ANALYZE;",
    "CREATE TABLE t(a, b AS (sqlite_compileoption_get(0)));",
    "CREATE TABLE t(a CHECK (sqlite_source_id() <> ''));",
    "SELECT load_extension('{d}/evil.so');",
], ids=["attach", "vacuum-into", "vacuum", "temp", "trigger", "virtual", "writable-schema", "max-page-count",
        "alter", "analyze", "generated-column-function", "check-function", "load-extension"])
def test_build_scripts_may_not_leave_their_own_tables(tmp_path, template):
    with pytest.raises(ConfigError, match="not authorized|authorization denied"):
        build_database(template.format(d=tmp_path))
    _no_files(tmp_path)


def test_build_scripts_may_create_fill_and_drop_their_own_objects():
    src = sqlite3.connect(":memory:")
    src.executescript("CREATE TABLE k(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, n REAL);"
                      "INSERT INTO k(name, n) VALUES ('a', 1.5), ('b''s', NULL); CREATE INDEX kn ON k(name);"
                      "CREATE VIEW kv AS SELECT upper(name) AS u FROM k;")
    dump = "PRAGMA foreign_keys=OFF;\n" + "\n".join(src.iterdump())  # what sqlite3's .dump writes
    src.close()
    extra = ("DROP TABLE IF EXISTS gone; CREATE TABLE gone(x); DROP TABLE gone; UPDATE k SET n = 2 WHERE name = 'a';"
             "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 10) "
             "INSERT INTO k(name, n) SELECT 'r' || i, i FROM c; DELETE FROM k WHERE name = 'r10';")
    t = SQLTool(dump + "\n" + extra)
    try:
        assert t.call({"query": "SELECT count(*), sum(n) FROM k"}).output == "count(*) | sum(n)\n11 | 47.0"
        assert t.call({"query": "SELECT u FROM kv ORDER BY u LIMIT 1"}).output == "u\nA"
    finally:
        t.close()


def test_unbounded_build_scripts_stop_at_the_time_limit():
    for script in ["CREATE TABLE r(x); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                   "INSERT INTO r SELECT x FROM c;",
                   "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c;",
                   "CREATE TABLE big(v); INSERT INTO big VALUES ('ab'); CREATE TABLE r(n); "
                   f"INSERT INTO r {_blowup()};"]:
        start = time.monotonic()
        with pytest.raises(ConfigError, match="time limit|too large or complex"):  # (see the test above)
            build_database(script, timeout_s=LIMIT)
        assert time.monotonic() - start < HANG


def test_build_row_and_size_caps(monkeypatch):
    monkeypatch.setattr(sqltool, "MAX_BUILD_ROWS", 1000)
    rows = "CREATE TABLE r(x); " + "INSERT INTO r VALUES (1);" * 600 + "INSERT INTO r SELECT x FROM r;"
    with pytest.raises(ConfigError, match="row cap"):
        build_database(rows)
    monkeypatch.setattr(sqltool, "MAX_BUILD_ROWS", 2_000_000)
    monkeypatch.setattr(sqltool, "MAX_DATABASE_BYTES", 1 << 20)
    with pytest.raises(ConfigError, match="size cap"):
        build_database("CREATE TABLE r(x); " + "INSERT INTO r VALUES (randomblob(100000));" * 12)
    with pytest.raises(ConfigError, match="too big"):
        build_database("CREATE TABLE r(x); INSERT INTO r VALUES (randomblob(2000000));")


def test_a_forged_task_database_cannot_touch_files_through_the_tool(tmp_path):
    # The env builds task.database with SQLTool at construction: the same authorizer applies.
    with pytest.raises(ConfigError, match="not authorized"):
        SQLTool(f"CREATE TABLE t(a); ATTACH '{tmp_path}/x.db' AS e; CREATE TABLE e.u(b);")
    _no_files(tmp_path)


def test_workers_are_pooled_not_leaked():
    tools = [SQLTool(f"CREATE TABLE z(a); INSERT INTO z VALUES ({i});") for i in range(4)]
    procs = [t._worker.proc for t in tools]
    assert [t.call({"query": "SELECT a FROM z"}).output for t in tools] == [f"a\n{i}" for i in range(4)]
    del tools  # no close(): dropping a tool hands its worker back or ends it
    gc.collect()
    alive = [p for p in procs if p.poll() is None]
    assert len(alive) <= sqltool.IDLE_WORKERS
    assert all(any(w.proc is p for w in sqltool._idle) for p in alive)


def test_a_closed_tool_starts_another_worker():
    t = SQLTool("CREATE TABLE z(a); INSERT INTO z VALUES (42);")
    t.close()
    assert t.call({"query": "SELECT a FROM z"}).output == "a\n42"
    t.close()


def test_a_worker_that_died_is_replaced():
    t = SQLTool("CREATE TABLE z(a); INSERT INTO z VALUES (5);")
    t._worker.proc.kill()  # e.g. the kernel's OOM killer, between two calls
    t._worker.proc.wait()
    assert t.call({"query": "SELECT a FROM z"}).output == "a\n5"
    t.close()
    for w in list(sqltool._idle):  # pooled workers that exit while idle are skipped, not used
        w.proc.kill()
        w.proc.wait()
    u = SQLTool("CREATE TABLE z(a); INSERT INTO z VALUES (6);")
    assert u.call({"query": "SELECT a FROM z"}).output == "a\n6"
    u.close()
