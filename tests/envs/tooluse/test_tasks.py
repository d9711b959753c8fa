"""Task generators, split, scripted experts and the JSONL loader of the tool-use family."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import sqlite3
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from turngym.envs.core.errors import ConfigError
from turngym.envs.tooluse import tasks as T
from turngym.envs.tooluse.base import Answer, Task, ToolCall, ToolResult
from turngym.envs.tooluse.tasks import qa as qa_mod
from turngym.envs.tooluse.tasks import sql as sql_mod
from turngym.envs.tooluse.tasks.common import mentions, parse_exact, round_half_up

try:
    from turngym.envs.tooluse.tools import make_tools
except ImportError as e:  # pragma: no cover - only while the tools package is being written
    make_tools = None
    TOOLS_MISSING = f"turngym.envs.tooluse.tools is not importable yet: {e}"
else:
    TOOLS_MISSING = ""

needs_tools = pytest.mark.skipif(make_tools is None, reason=TOOLS_MISSING or "tools available")
CELLS = [(f, d) for f in T.FAMILIES for d in T.DIFFICULTIES]


def _digest(task: Task) -> str:
    return hashlib.sha256(repr(dataclasses.astuple(task)).encode()).hexdigest()


# ---------------------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("family,difficulty", CELLS)
def test_same_seed_same_task(family: str, difficulty: int) -> None:
    for seed in (0, 7, 123456):
        a, b = T.generate(family, seed, difficulty), T.generate(family, seed, difficulty)
        assert a == b
        assert _digest(a) == _digest(b)


def test_generation_is_stable_across_processes() -> None:
    code = ("import dataclasses, hashlib; from turngym.envs.tooluse import tasks as T; "
            "print(' '.join(hashlib.sha256(repr(dataclasses.astuple(T.generate(f, 42, d))).encode()).hexdigest() "
            "for f in T.FAMILIES for d in (1, 2, 3)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    here = " ".join(_digest(T.generate(f, 42, d)) for f in T.FAMILIES for d in (1, 2, 3))
    assert out.stdout.strip() == here


@pytest.mark.parametrize("family,difficulty", CELLS)
def test_different_seeds_differ(family: str, difficulty: int) -> None:
    generated = [T.generate(family, s, difficulty) for s in range(20)]
    assert len({_digest(t) for t in generated}) == 20
    # SQL questions have few parameters (a year, a city); their databases differ instead.
    assert len({t.question for t in generated}) >= (15 if family == "sql" else 19)
    assert len({(t.question, t.database, t.corpus) for t in generated}) == 20
    assert len({t.task_id for t in generated}) == 20


def test_families_and_difficulties_give_unrelated_tasks() -> None:
    assert T.generate("qa", 5, 1).question != T.generate("qa", 5, 2).question
    assert T.generate("sql", 5, 1).database != T.generate("sql", 5, 2).database


def test_task_fields() -> None:
    for family, d in CELLS:
        task = T.generate(family, 17, d)
        assert task.family == family and task.difficulty == d and task.seed == 17
        assert task.split == T.split_of(17)
        title = {"qa": "ToolQA", "math": "ToolMath", "sql": "ToolSQL"}[family]
        assert task.task_id == f"{title}/{task.split}/d{d}/seed=17"
        assert task.question.strip() and task.answer.strip() and task.answer_format
    assert T.generate("qa", 1, 1).tools == ("search", "open")
    assert T.generate("math", 1, 1).tools == ("calculator", "python")
    assert T.generate("sql", 1, 1).tools == ("sql",)


def test_generate_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'math'"):
        T.generate("maths", 1)
    with pytest.raises(ConfigError, match="difficulty"):
        T.generate("qa", 1, 4)
    with pytest.raises(ConfigError, match="seed"):
        T.generate("qa", -1)


# ------------------------------------------------------------------------------------------- split
def test_split_rule_documented_values() -> None:
    # The values the tasks package docstring lists.
    assert T.split_test_examples(100) == [1, 2, 7, 30, 48, 52, 74, 94, 99]
    assert [T.split_of(s) for s in (0, 1, 2, 3, 7)] == ["train", "test", "test", "train", "test"]
    share = np.mean([T.split_of(s) == "test" for s in range(20000)])
    assert 0.09 < share < 0.11


def test_sample_seed() -> None:
    for split in ("train", "test"):
        rng = np.random.default_rng(3)
        seeds = [T.sample_seed(rng, split) for _ in range(50)]
        assert all(T.split_of(s) == split for s in seeds)
        rng2 = np.random.default_rng(3)
        assert seeds == [T.sample_seed(rng2, split) for _ in range(50)]
    with pytest.raises(ConfigError, match="Did you mean 'test'"):
        T.sample_seed(np.random.default_rng(0), "tset")


# ------------------------------------------------------------------------------------- difficulty
def test_qa_difficulty_sets_hops() -> None:
    for d in T.DIFFICULTIES:
        for seed in range(15):
            task = T.generate("qa", seed, d)
            assert task.meta["hops"] == d + 1 == len(task.meta["relations"]) == len(task.meta["path"]) - 1
            # Each inner hop is one nested phrase of the question.
            nested = sum(task.question.count(p.split("{p}")[0]) for p in qa_mod.PHRASES.values())
            assert nested >= d


def test_math_difficulty_scales_steps_and_magnitude() -> None:
    steps = {d: np.mean([len(T.generate("math", s, d).meta["steps"]) for s in range(60)]) for d in T.DIFFICULTIES}
    assert steps[1] < steps[2] < steps[3]
    for kind, key in (("count", r"from 1 to (\d+)"), ("bigint", r"(\d+)")):
        sizes = {}
        for d in T.DIFFICULTIES:
            found = [t for t in (T.generate("math", s, d) for s in range(120)) if t.meta["kind"] == kind]
            assert found, kind
            sizes[d] = np.mean([max(int(x) for x in re.findall(key, t.question)) for t in found])
        assert sizes[1] < sizes[3], (kind, sizes)


def test_sql_difficulty_sets_query_shape() -> None:
    for seed in range(25):
        q1, q2, q3 = (T.generate("sql", seed, d).meta["sql"].upper() for d in T.DIFFICULTIES)
        joins = [len(re.findall(r"\bJOIN\b", q)) for q in (q1, q2, q3)]
        assert joins[0] == 0 and "GROUP BY" not in q1
        assert joins[1] == 1 and "GROUP BY" not in q2
        assert joins[2] >= 1 and "GROUP BY" in q3 and ("HAVING" in q3 or "ORDER BY" in q3)


# ------------------------------------------------------------------------------------- questions
@pytest.mark.parametrize("family,difficulty", CELLS)
def test_question_does_not_contain_answer(family: str, difficulty: int) -> None:
    for seed in range(40):
        task = T.generate(family, seed, difficulty)
        assert not mentions(task.question, task.answer), task


def test_sql_question_does_not_reveal_schema() -> None:
    for d in T.DIFFICULTIES:
        for seed in range(20):
            task = T.generate("sql", seed, d)
            con = sqlite3.connect(":memory:")
            con.executescript(task.database)
            tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            columns = {c[1] for t in tables for c in con.execute(f"PRAGMA table_info({t})")}
            con.close()
            assert 3 <= len(tables) <= 5
            for name in columns | set(tables):
                if "_" in name:  # identifiers that are not plain English words
                    assert name not in task.question, (name, task.question)
            assert not re.search(r"\b(SELECT|FROM|JOIN|WHERE)\b", task.question)


def test_math_answer_formats() -> None:
    for d in T.DIFFICULTIES:
        for seed in range(30):
            task = T.generate("math", seed, d)
            if task.answer_format == "an integer":
                assert re.fullmatch(r"-?\d+", task.answer)
            else:
                assert task.answer_format == "a decimal rounded to 2 places"
                assert re.fullmatch(r"-?\d+\.\d\d", task.answer)


def test_round_half_up_and_parse_exact() -> None:
    from fractions import Fraction

    assert round_half_up(Fraction(1, 8)) == "0.13"
    assert round_half_up(Fraction(-1, 8)) == "-0.13"
    assert round_half_up(Fraction(1, 1000)) == "0.00"
    assert round_half_up(Fraction(2049, 2)) == "1024.50"
    assert parse_exact("42") == 42
    assert parse_exact("7/3 ≈ 2.3333333333") == Fraction(7, 3)
    assert parse_exact("-3/10 = -0.3") == Fraction(-3, 10)
    assert parse_exact("error: division by zero") is None
    assert parse_exact("42.5") is None


# ---------------------------------------------------------------------------------------- QA corpus
def test_qa_gold_is_derivable_from_the_corpus() -> None:
    for d in T.DIFFICULTIES:
        for seed in range(30):
            task = T.generate("qa", seed, d)
            by_id = {doc.doc_id: doc for doc in task.corpus}
            assert len(by_id) == len(task.corpus), "doc ids are unique"
            assert 30 <= len(task.corpus) <= 80
            titles = [doc.title for doc in task.corpus]
            path = task.meta["path"]
            assert path[-1] == task.answer
            for i, rel in enumerate(task.meta["relations"]):
                doc = by_id[task.meta["path_doc_ids"][i]]
                assert doc.title == path[i] and titles.count(path[i]) == 1
                assert qa_mod.extract(rel, doc.text) == path[i + 1], (rel, doc.text)
            # Every hop but the start is named only in the documents, never in the question.
            for name in path[1:]:
                assert not mentions(task.question, name)


def test_qa_corpus_has_distractors_sharing_words() -> None:
    task = T.generate("qa", 3, 2)
    entity_titles = set(task.meta["path"])
    words = {w for t in entity_titles for w in t.split()}
    sharing = [d for d in task.corpus if d.title not in entity_titles and words & set(re.findall(r"\w+", d.text))]
    assert len(sharing) >= 3


# ---------------------------------------------------------------------------------------------- SQL
def test_sql_gold_equals_running_the_intended_query() -> None:
    for d in T.DIFFICULTIES:
        for seed in range(30):
            task = T.generate("sql", seed, d)
            con = sqlite3.connect(":memory:")
            con.executescript(task.database)
            rows = con.execute(task.meta["sql"]).fetchall()
            con.close()
            assert sql_mod.format_value(rows[0][0], task.meta["kind"]) == task.answer


# ------------------------------------------------------------------------------------------ experts
def _drive(task: Task, respond: Any, limit: int = 50) -> tuple[Any, int]:
    gen = T.expert(task)
    step, n = next(gen), 0
    while isinstance(step, ToolCall) and n < limit:
        step, n = gen.send(respond(step)), n + 1
    return step, n


@needs_tools
@pytest.mark.parametrize("family,difficulty", CELLS)
def test_expert_solves_tasks_through_real_tools(family: str, difficulty: int) -> None:
    assert make_tools is not None
    n, solved, calls = 40, 0, 0
    for seed in range(5000, 5000 + n):
        task = T.generate(family, seed, difficulty)
        answer, made = T.run_expert(task, make_tools(task))
        solved += answer == task.answer
        calls += made
    assert solved / n >= 0.95, f"{family} d{difficulty}: {solved}/{n}"
    if family == "qa":  # a search and an open per hop
        assert calls >= n * 2 * (difficulty + 1)


@needs_tools
def test_expert_reads_answers_from_tool_outputs() -> None:
    assert make_tools is not None
    # QA: rename the answer inside the last hop's document; the expert must follow the document.
    task = T.generate("qa", 11, 2)
    last = task.meta["path_doc_ids"][-1]
    fake = "Zedzed Quonk" if task.meta["answer_type"] != "year" else "1777"
    corpus = tuple(dataclasses.replace(d, text=d.text.replace(task.answer, fake)) if d.doc_id == last else d
                   for d in task.corpus)
    edited = dataclasses.replace(task, corpus=corpus)
    assert T.run_expert(edited, make_tools(edited))[0] == fake
    # SQL: change the data; the expert must report the new query result, not the stored gold.
    task = T.generate("sql", 4, 1)
    con = sqlite3.connect(":memory:")
    con.executescript(task.database)
    for table in task.meta["tables"]:
        con.execute(f"DELETE FROM {table} WHERE rowid % 2 = 0")
    script = "\n".join(con.iterdump())
    new_rows = con.execute(task.meta["sql"]).fetchall()
    con.close()
    edited = dataclasses.replace(task, database=script)
    expected = sql_mod.format_value(new_rows[0][0], task.meta["kind"]) if new_rows else None
    assert T.run_expert(edited, make_tools(edited))[0] == (expected if expected is not None else "unknown")
    # Math: the answer is the last tool output, in the task's format.
    task = T.generate("math", 2, 1)
    step, _ = _drive(task, lambda call: ToolResult(True, "12345"))
    assert step.text == ("12345" if task.answer_format == "an integer" else "12345.00")


@pytest.mark.parametrize("family,difficulty", CELLS)
def test_expert_survives_failing_and_garbage_tools(family: str, difficulty: int) -> None:
    task = T.generate(family, 9, difficulty)
    for respond in (lambda c: ToolResult(False, "error: boom"), lambda c: ToolResult(True, "\x00 | ||| \n garbage"),
                    lambda c: ToolResult(True, "")):
        step, n = _drive(task, respond)
        assert isinstance(step, Answer) and n <= 20


def test_run_expert_reports_missing_tools() -> None:
    task = T.generate("sql", 1, 1)
    answer, calls = T.run_expert(task, {})
    assert answer == "unknown" and calls == 2


# ---------------------------------------------------------------------------------------------- JSONL
def _write(path: Any, rows: list[Any]) -> None:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")


def test_load_jsonl_good_file(tmp_path: Any) -> None:
    _write(tmp_path / "docs.jsonl", [{"doc_id": "a", "title": "Alpha", "text": "Alpha was born in 1901."},
                                     {"doc_id": "b", "title": "Beta", "text": "Beta is a city."}])
    (tmp_path / "shop.sql").write_text("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (4), (5);")
    con = sqlite3.connect(tmp_path / "shop.sqlite")
    con.executescript("CREATE TABLE u (name TEXT); INSERT INTO u VALUES ('Ann'), ('Bob');")
    con.commit()
    con.close()
    _write(tmp_path / "mine.jsonl", [
        {"question": "When was Alpha born?", "answer": 1901, "corpus": "docs.jsonl"},
        "",
        {"question": "Sum of x?", "answer": "9", "answer_format": "an integer", "database": "shop.sql"},
        {"question": "How many people?", "answer": "2", "database": "shop.sqlite", "tools": ["sql", "calculator"]},
        {"question": "2+2?", "answer": "4", "split": "train", "meta": {"source": "me"}},
        {"question": "Inline?", "answer": "x", "corpus": [{"doc_id": "z", "title": "Z", "text": "zed"}]},
    ])
    loaded = T.load_jsonl(tmp_path / "mine.jsonl")
    assert [t.task_id for t in loaded] == [f"jsonl/mine/{n}" for n in (1, 3, 4, 5, 6)]
    first, second, third, fourth, fifth = loaded
    assert first.answer == "1901" and first.tools == ("search", "open") and len(first.corpus) == 2
    assert first.family == "jsonl" and first.split == "test" and first.answer_format == "a short answer"
    assert second.tools == ("sql",) and "INSERT INTO t" in second.database
    assert third.tools == ("sql", "calculator") and "'Bob'" in third.database
    assert fourth.tools == ("calculator", "python") and fourth.split == "train" and fourth.meta == {"source": "me"}
    assert fifth.corpus[0].doc_id == "z"
    # The expert of a loaded task has no plan: it answers at once.
    assert isinstance(next(T.expert(first)), Answer)
    if make_tools is not None:
        rows = make_tools(third)["sql"].call({"query": "SELECT COUNT(*) FROM u"})
        assert rows.ok and rows.output.splitlines()[1] == "2"


@pytest.mark.parametrize("row,match", [
    ('{"question": "q", "answer": ', r"bad\.jsonl:2: expected one JSON object per line"),
    ({"answer": "1"}, r"bad\.jsonl:2: 'question'"),
    ({"question": "q"}, r"bad\.jsonl:2: 'answer'"),
    ({"question": "q", "answer": True}, r"'answer'"),
    ({"question": "q", "anwser": "1"}, r"Did you mean 'answer'"),
    ({"question": "q", "answer": "1", "tools": ["calculater"]}, r"Did you mean 'calculator'"),
    ({"question": "q", "answer": "1", "tools": ["search"]}, r"'corpus'.*search/open"),
    ({"question": "q", "answer": "1", "tools": ["sql"]}, r"'database'"),
    ({"question": "q", "answer": "1", "corpus": "missing.jsonl"}, r"bad\.jsonl:2: 'corpus'.*missing\.jsonl"),
    ({"question": "q", "answer": "1", "corpus": [{"doc_id": "a"}]}, r"document 0"),
    ({"question": "q", "answer": "1", "database": "nope.sql"}, r"'database'"),
    ({"question": "q", "answer": "1", "database": "broken.sqlite"}, r"SQLite database"),
    ({"question": "q", "answer": "1", "database": "broken.sql"}, r"builds a database"),
    ({"question": "q", "answer": "1", "split": "dev"}, r"'split'"),
    (["not", "an", "object"], r"bad\.jsonl:2: expected a JSON object"),
])
def test_load_jsonl_bad_lines(tmp_path: Any, row: Any, match: str) -> None:
    (tmp_path / "broken.sqlite").write_bytes(b"this is not a database" * 10)
    (tmp_path / "broken.sql").write_text("CREATE TABLE (;")
    _write(tmp_path / "bad.jsonl", [{"question": "fine", "answer": "1"}, row])
    with pytest.raises(ConfigError, match=match):
        T.load_jsonl(tmp_path / "bad.jsonl")


def test_load_jsonl_bad_files(tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        T.load_jsonl(tmp_path / "absent.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(ConfigError, match="at least one task"):
        T.load_jsonl(tmp_path / "empty.jsonl")
    _write(tmp_path / "docs.jsonl", [{"doc_id": "a", "title": "A", "text": "x"},
                                     {"doc_id": "a", "title": "B", "text": "y"}])
    _write(tmp_path / "dup.jsonl", [{"question": "q", "answer": "1", "corpus": "docs.jsonl"}])
    with pytest.raises(ConfigError, match="unique doc_id"):
        T.load_jsonl(tmp_path / "dup.jsonl")
    assert issubclass(ConfigError, ValueError)


@pytest.mark.parametrize("family", T.FAMILIES)
def test_family_tools_are_the_tools_its_tasks_use(family):
    # The env decides at construction whether the python sandbox is needed from FAMILY_TOOLS (issue 12).
    used = {name for seed in range(20) for d in T.DIFFICULTIES for name in T.generate(family, seed, d).tools}
    assert used == set(T.FAMILY_TOOLS[family])
