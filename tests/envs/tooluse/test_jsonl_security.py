"""The JSONL task loader against forged task files (issue 12 item 3, DESIGN §5), on real files and SQLite.

A task file may try to write files through its ``database`` (ATTACH, VACUUM INTO, SQL text hidden in a
``.sqlite`` file's schema), never finish building, read files outside its folder, or crash the parser;
each must end in a ``ConfigError`` that names the file and line, with nothing written.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from turngym.envs.core.errors import ConfigError
from turngym.envs.tooluse import tasks as T
from turngym.envs.tooluse.tools import make_tools
from turngym.envs.tooluse.tools import sql as sqltool

HANG = 8.0  # generous bound on a build that must stop at a 1 s limit; today's code never finishes


def _write(path: Path, rows: list[Any]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def _task_file(folder: Path, database: str) -> Path:
    return _write(folder / "tasks.jsonl", [{"question": "How many?", "answer": "1", "database": database}])


@pytest.fixture()
def outside(tmp_path: Path) -> Path:
    """A folder next to the task folder: nothing may appear in it."""
    path = tmp_path / "outside"
    path.mkdir()
    return path


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "tasks"
    path.mkdir()
    return path


# ------------------------------------------------------------------------------------ database scripts
@pytest.mark.parametrize("script", [
    "ATTACH '{out}/x.db' AS e; CREATE TABLE e.t(a);",
    "CREATE TABLE t(a); INSERT INTO t VALUES (1); VACUUM INTO '{out}/y.db';",
], ids=["attach", "vacuum-into"])
def test_database_scripts_cannot_create_files(folder, outside, script):
    (folder / "db.sql").write_text(script.format(out=outside))
    with pytest.raises(ConfigError, match=r"tasks\.jsonl:1: 'database'.*not authorized|authorization denied"):
        T.load_jsonl(_task_file(folder, "db.sql"))
    assert list(outside.iterdir()) == []


def _sqlite_with_schema_text(path: Path, extra_sql: str) -> None:
    """A valid SQLite file whose stored CREATE text of table ``t`` ends with ``extra_sql``."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t(a)")
    con.execute("INSERT INTO t VALUES (1)")
    con.commit()
    con.execute("PRAGMA writable_schema = ON")
    con.execute("UPDATE sqlite_master SET sql = ? WHERE name = 't'", ("CREATE TABLE t(a); " + extra_sql,))
    con.commit()
    con.close()


def test_sql_text_hidden_in_a_sqlite_file_does_not_run(folder, outside):
    _sqlite_with_schema_text(folder / "db.sqlite", f"ATTACH '{outside}/z.db' AS e; CREATE TABLE e.u(b)")
    with pytest.raises(ConfigError, match=r"tasks\.jsonl:1: 'database'.*not authorized"):
        T.load_jsonl(_task_file(folder, "db.sqlite"))
    assert list(outside.iterdir()) == []
    with pytest.raises(ConfigError, match="not authorized"):  # the public helper reads it the same way
        sqltool.build_database(T.sqlite_to_script(folder / "db.sqlite"))
    assert list(outside.iterdir()) == []


def test_sqlite_files_load_with_their_rows_indexes_and_views(folder):
    con = sqlite3.connect(folder / "shop.db")
    con.executescript("CREATE TABLE p(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, price REAL, pic BLOB,"
                      " twice AS (price * 2));"
                      "INSERT INTO p(name, price, pic) VALUES ('it''s', 1.5, x'00ff');"
                      "CREATE INDEX pn ON p(name); CREATE VIEW cheap AS SELECT name FROM p WHERE price < 2;"
                      "CREATE TRIGGER tr AFTER INSERT ON p BEGIN SELECT 1; END;")
    con.execute("INSERT INTO p(name) VALUES (?)", ("nul\0byte",))
    con.commit()
    con.execute("PRAGMA journal_mode = WAL")  # a WAL-mode file: its image is read in rollback mode
    con.close()
    task = T.load_jsonl(_task_file(folder, "shop.db"))[0]
    sql = make_tools(task)["sql"]
    out = sql.call({"query": "SELECT name, price, hex(pic), twice FROM p ORDER BY id"}).output
    assert out.splitlines()[1:] == ["it's | 1.5 | 00FF | 3.0", "nul\x00byte | NULL |  | NULL"]
    assert sql.call({"query": "SELECT name FROM cheap"}).output == "name\nit's"
    kinds = sql.call({"query": "SELECT type, name FROM sqlite_master ORDER BY name"}).output.splitlines()[1:]
    assert "index | pn" in kinds and "view | cheap" in kinds and not any("trigger" in k for k in kinds)


def test_sqlite_files_with_virtual_tables_are_refused(folder):
    con = sqlite3.connect(folder / "fts.sqlite")
    con.execute("CREATE VIRTUAL TABLE d USING fts5(body)")
    con.close()
    with pytest.raises(ConfigError, match=r"tasks\.jsonl:1: 'database'.*virtual table"):
        T.load_jsonl(_task_file(folder, "fts.sqlite"))


@pytest.mark.parametrize("script", [
    "CREATE TABLE r(x); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) INSERT INTO r SELECT x FROM c;",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c;",
], ids=["recursive-insert", "recursive-select"])
def test_unbounded_database_scripts_stop_at_the_build_limit(folder, monkeypatch, script):
    monkeypatch.setattr(sqltool, "BUILD_TIMEOUT_S", 1.0, raising=False)
    (folder / "loop.sql").write_text(script)
    start = time.monotonic()
    with pytest.raises(ConfigError, match=r"tasks\.jsonl:1: 'database'.*time limit"):
        T.load_jsonl(_task_file(folder, "loop.sql"))
    assert time.monotonic() - start < HANG


def test_oversized_database_files_are_refused_before_reading(folder, monkeypatch):
    from turngym.envs.tooluse.tasks import jsonl

    monkeypatch.setattr(jsonl, "MAX_SCRIPT_BYTES", 100)
    (folder / "big.sql").write_text("CREATE TABLE t(a);" + " " * 200)
    with pytest.raises(ConfigError, match=r"tasks\.jsonl:1: 'database'.*at most"):
        T.load_jsonl(_task_file(folder, "big.sql"))


# ------------------------------------------------------------------------------------------- paths
@pytest.mark.parametrize("key", ["database", "corpus"])
def test_paths_cannot_lead_out_of_the_task_folder(folder, outside, key):
    (folder / "data").mkdir()
    (outside / "secret.sql").write_text("CREATE TABLE secret(a);")
    _write(outside / "secret.jsonl", [{"doc_id": "s", "title": "Secret", "text": "password"}])
    target = "secret.sql" if key == "database" else "secret.jsonl"
    os.symlink(outside / target, folder / "link")
    for value in [f"../outside/{target}", str(outside / target), "link", f"data/../../outside/{target}", "/etc/passwd",
                  "/dev/zero", "."]:
        _write(folder / "tasks.jsonl", [{"question": "q", "answer": "1", key: value}])
        with pytest.raises(ConfigError, match=rf"tasks\.jsonl:1: '{key}'"):
            T.load_jsonl(folder / "tasks.jsonl")


def test_symlinks_inside_the_folder_and_an_explicit_root_are_followed(folder, tmp_path):
    (folder / "data").mkdir()
    (folder / "data" / "db.sql").write_text("CREATE TABLE t(a); INSERT INTO t VALUES (7);")
    os.symlink(folder / "data" / "db.sql", folder / "alias.sql")
    for value in ["alias.sql", "data/../alias.sql", str(folder / "data" / "db.sql")]:  # all end inside the folder
        assert "VALUES (7)" in T.load_jsonl(_task_file(folder, value))[0].database
    # With root= the paths are relative to it: a task file in a subfolder reaches a shared database.
    sub = folder / "splits"
    sub.mkdir()
    path = _write(sub / "test.jsonl", [{"question": "q", "answer": "7", "database": "data/db.sql"}])
    assert T.load_jsonl(path, root=folder)[0].tools == ("sql",)
    with pytest.raises(ConfigError, match="'database'"):
        T.load_jsonl(path)  # without root, data/db.sql is looked for in splits/
    with pytest.raises(ConfigError, match="root"):
        T.load_jsonl(path, root=tmp_path / "absent")


# -------------------------------------------------------------------------------------------- JSON
@pytest.mark.parametrize("line", [
    b"[" * 100_000,  # RecursionError in json.loads
    b'{"question": "q", "answer": ' + b"9" * 5000 + b"}",  # more digits than int() converts
    b'{"question": "q", "answer": NaN}',
    b'{"question": "q", "answer": Infinity}',
    b'{"question": "q", "answer": -Infinity}',
    b'{"question": "q", "answer": 1e999}',
    b'{"question": "caf\xe9?", "answer": "1"}',  # Latin-1, not UTF-8
    b'{"question": "q\\ud800", "answer": "1"}',  # a lone surrogate escape
    b"\xff\xfe{}",
], ids=["deep-nesting", "5000-digit-int", "nan", "infinity", "-infinity", "1e999", "latin-1", "lone-surrogate",
        "utf-16-bom"])
def test_bad_lines_give_a_config_error_with_file_and_line(tmp_path, line):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"question": "fine", "answer": "1"}\n' + line + b"\n")
    with pytest.raises(ConfigError, match=r"bad\.jsonl:2: expected one JSON object per line"):
        T.load_jsonl(path)


def test_bad_lines_in_a_corpus_file_name_that_file_and_line(folder):
    (folder / "docs.jsonl").write_bytes(b'{"doc_id": "a", "title": "A", "text": "x"}\n{"doc_id": "\xff"}\n')
    _write(folder / "tasks.jsonl", [{"question": "q", "answer": "1", "corpus": "docs.jsonl"}])
    with pytest.raises(ConfigError, match=r"docs\.jsonl:2: expected one JSON object per line.*UTF-8"):
        T.load_jsonl(folder / "tasks.jsonl")


def test_lines_end_at_newlines_only(tmp_path):
    # U+2028 and U+0085 are legal inside JSON strings; str.splitlines() would cut the line there.
    path = tmp_path / "uni.jsonl"
    path.write_text('\ufeff{"question": "a\u2028b\u0085c?", "answer": "x"}\r\n\n{"question": "d?", "answer": 2}\n',
                    encoding="utf-8")
    loaded = T.load_jsonl(path)
    assert [t.question for t in loaded] == ["a\u2028b\u0085c?", "d?"]
    assert [t.task_id for t in loaded] == ["jsonl/uni/1", "jsonl/uni/3"]
