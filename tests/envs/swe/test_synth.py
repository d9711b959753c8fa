"""Bug synthesis (issue 15): mutation operators, determinism, validation, statements, pinned sdists, shipped data.

The validation tests run a real pytest on a tiny library packed as an sdist here (no network); the slow test
prepares one real repository from its pinned sdist (cached, else downloaded from PyPI) and checks every
shipped row of it against the prepared tree.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from turngym.envs.core.errors import ConfigError
from turngym.envs.swe.tasks.synth import mutate, statement
from turngym.envs.swe.tasks.synth.build import DATA_DIR, build_repo, difficulty, write_repo
from turngym.envs.swe.tasks.synth.repos import REPOS, RepoSpec, SdistHashError, get_spec, prepare
from turngym.envs.swe.tasks.synth.validate import Validator, cap_pass_to_pass

SOURCE = '''"""A module docstring: never mutated."""
import os

LIMIT = 10 + 1  # module level: never mutated


def area(w, h):
    """Docstring of a function: never mutated."""
    total  =  w  *  h   # odd spacing is kept
    return total


def pick(xs, n, flag=True):
    if n < 0 or not flag:
        return []
    elif n in xs:
        xs = xs[:n]
    else:
        n += 1
    label = "é" + str(n)
    print(label, n)
    return sorted(xs, key=len)[:n] == [1, 2] and True


class Box:
    def scale(self, k):
        return os.path.join(self.name, k)'''
# (no newline at the end on purpose: the diff needs git's "\\ No newline at end of file")

EXPECTED = {  # operator -> (a line it changes, what that line becomes) for one candidate of each
    "binary_op": ("    total  =  w  *  h   # odd spacing is kept", "    total  =  w  //  h   # odd spacing is kept"),
    "comparison": ("    if n < 0 or not flag:", "    if n <= 0 or not flag:"),
    "boolean_op": ("    if n < 0 or not flag:", "    if n < 0 and not flag:"),
    "remove_not": ("    if n < 0 or not flag:", "    if n < 0 or flag:"),
    "aug_assign": ("        n += 1", "        n -= 1"),
    "off_by_one": ("        n += 1", "        n += 2"),
    "slice_bound": ("        xs = xs[:n]", "        xs = xs[:n + 1]"),
    "constant_bool": ("    return sorted(xs, key=len)[:n] == [1, 2] and True",
                      "    return sorted(xs, key=len)[:n] == [1, 2] and False"),
    "remove_branch": ("        return []", "        pass"),
    "remove_return": ("    return total", "    return"),
    "swap_args": ("        return os.path.join(self.name, k)", "        return os.path.join(k, self.name)"),
    "drop_statement": ("    print(label, n)", None),
    "remove_elif": ("    elif n in xs:", None),
}


def _git(cwd: Path, *args: str, data: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, input=data, text=True, capture_output=True)


def _find(cands: list[mutate.Mutation], source: str, operator: str, old: str, new: str | None) -> mutate.Mutation:
    for m in cands:
        if m.operator != operator:
            continue
        after = m.apply(source).split("\n")
        before = source.split("\n")
        if new is None and old in before and old not in after:
            return m
        if new is not None and new in after and new not in before and old in before:
            return m
    raise AssertionError(f"no {operator} candidate turns {old!r} into {new!r}")


def test_every_operator_is_a_minimal_edit_of_one_function_and_its_diff_applies_and_reverts(tmp_path: Path):
    cands = mutate.candidates(SOURCE, "pkg/mod.py")
    assert {m.operator for m in cands} == set(mutate.OPERATORS)
    # nothing outside function bodies, nothing in docstrings
    first_def = SOURCE.index("def area")
    assert all(m.start > first_def for m in cands)
    doc = SOURCE.index('"""Docstring of a function')
    assert not any(m.start <= doc < m.end for m in cands)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(SOURCE)
    assert _git(tmp_path, "init", "-q").returncode == 0
    for operator, (old, new) in EXPECTED.items():
        m = _find(cands, SOURCE, operator, old, new)
        mutated = m.apply(SOURCE)
        assert mutated[: m.start] == SOURCE[: m.start]  # byte-identical outside the span
        assert mutated[m.start + len(m.replacement):] == SOURCE[m.end:]
        assert mutate.effective(m, SOURCE)
        assert m.function in ("area", "pick", "Box.scale")
        bug = mutate.unified_diff(m.path, SOURCE, mutated)
        fix = mutate.unified_diff(m.path, mutated, SOURCE)
        assert bug.startswith("diff --git a/pkg/mod.py b/pkg/mod.py\n--- a/pkg/mod.py\n+++ b/pkg/mod.py\n@@ ")
        assert _git(tmp_path, "apply", "-", data=bug).returncode == 0, (operator, bug)
        assert (tmp_path / "pkg" / "mod.py").read_text() == mutated
        assert _git(tmp_path, "apply", "-", data=fix).returncode == 0, (operator, fix)
        assert (tmp_path / "pkg" / "mod.py").read_text() == SOURCE
        assert _git(tmp_path, "apply", "-R", "-", data=fix).returncode == 0  # the fix reversed is the bug
        assert (tmp_path / "pkg" / "mod.py").read_text() == mutated
        (tmp_path / "pkg" / "mod.py").write_text(SOURCE)


def test_positions_count_utf8_bytes_before_the_node():
    # ast columns are UTF-8 byte offsets: a non-ASCII character before the operator must not shift the edit
    src = 'def f(x):\n    return "é€" + x\n'
    (m,) = [m for m in mutate.candidates(src, "m.py") if m.operator == "binary_op"]
    assert m.apply(src) == 'def f(x):\n    return "é€" - x\n'


def test_candidates_and_their_order_are_deterministic_and_use_no_global_rng():
    cands = mutate.candidates(SOURCE, "pkg/mod.py")
    assert cands == mutate.candidates(SOURCE, "pkg/mod.py")
    random.seed(1)
    first = mutate.sample(cands, seed=7)
    random.seed(2)
    assert mutate.sample(cands, seed=7) == first
    assert mutate.sample(cands, seed=8) != first
    assert sorted(first, key=lambda m: (m.start, m.end, m.operator, m.replacement)) == cands
    # round-robin over operators: the first len(OPERATORS) candidates are one of each
    assert {m.operator for m in first[: len(mutate.OPERATORS)]} == set(mutate.OPERATORS)


def test_cap_pass_to_pass_prefers_the_failing_tests_files_and_is_seeded():
    p2p = [f"tests/test_a.py::t{i}" for i in range(5)] + [f"tests/test_b.py::t{i}" for i in range(50)]
    capped = cap_pass_to_pass(p2p, ["tests/test_a.py::x"], cap=10, seed=3)
    assert len(capped) == 10 and capped == sorted(capped)
    assert all(f"tests/test_a.py::t{i}" in capped for i in range(5))
    assert capped == cap_pass_to_pass(p2p, ["tests/test_a.py::x"], cap=10, seed=3)
    assert cap_pass_to_pass(p2p[:4], [], cap=10, seed=0) == sorted(p2p[:4])


# ---------------------------------------------------------------------------------------------- a tiny repo
MINILIB = '''"""A tiny library for the synthesis tests."""


def add(a, b):
    return a + b


def clamp(x, lo, hi):
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def count_to(n):
    i = 0
    while i < n:
        i += 1
    return i


def table():
    return {"a": 1}


def unused(x):
    return x * 2
'''
MINITESTS = '''from minilib import add, clamp, count_to, table

TABLE = table()["a"]  # runs at import: a broken table() breaks the collection


def test_add():
    assert add(2, 3) == 5


def test_clamp():
    assert clamp(5, 0, 3) == 3
    assert clamp(-1, 0, 3) == 0


def test_count():
    assert count_to(3) == 3


def test_table():
    assert TABLE == 1
'''


def _sdist(folder: Path) -> Path:
    """A minimal sdist of ``minilib`` 0.1 (top folder ``minilib-0.1/``)."""
    path = folder / "minilib-0.1.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in {"PKG-INFO": "Name: minilib\nVersion: 0.1\n", "minilib/__init__.py": MINILIB,
                           "tests/test_minilib.py": MINITESTS}.items():
            data = text.encode()
            info = tarfile.TarInfo(f"minilib-0.1/{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return path


def _spec(sha256: str) -> RepoSpec:
    return RepoSpec(name="minilib", repo="example/minilib", dist="minilib", version="0.1",
                    sdist="minilib-0.1.tar.gz", sha256=sha256, source_dirs=("minilib",), test_paths=("tests",))


@pytest.fixture(scope="module")
def minirepo(tmp_path_factory: pytest.TempPathFactory) -> tuple[RepoSpec, Path, Path]:
    cache = tmp_path_factory.mktemp("cache")
    sdist = _sdist(cache)
    spec = _spec(hashlib.sha256(sdist.read_bytes()).hexdigest())
    dest = tmp_path_factory.mktemp("prepared")
    prepare(spec, dest, cache=cache)
    return spec, dest / "repo", cache


def test_prepare_is_deterministic_and_leaves_a_clean_work_tree(minirepo, tmp_path: Path):
    spec, tree, cache = minirepo
    again = prepare(spec, tmp_path / "again", cache=cache)
    head = _git(tree, "rev-parse", "HEAD").stdout.strip()
    assert again == head and len(head) == 40  # same commit hash: same tree, author, dates and message
    assert _git(tree, "status", "--porcelain", "--ignored").stdout == ""
    assert (tree / "minilib" / "__init__.py").read_text() == MINILIB
    # No test dependencies: site/ holds only the pinned pytest (and its own dependencies).
    from turngym.envs.swe.tasks.synth.repos import TASK_PYTEST, has_task_pytest

    assert has_task_pytest(tmp_path / "again")
    assert subprocess.run([sys.executable, "-c", "import pytest; print(pytest.__version__)"], env={
        **os.environ, "PYTHONPATH": str(tmp_path / "again" / "site")}, capture_output=True, text=True,
        cwd=tmp_path).stdout.strip() == TASK_PYTEST


def test_a_sdist_whose_sha256_differs_from_the_pin_is_refused(minirepo, tmp_path: Path):
    spec, _, cache = minirepo
    forged = tmp_path / "cache"
    forged.mkdir()
    (forged / spec.sdist).write_bytes((cache / spec.sdist).read_bytes() + b"\0")
    with pytest.raises(SdistHashError, match="is not the pinned"):
        prepare(spec, tmp_path / "dest", cache=forged)
    assert not (tmp_path / "dest" / "repo").exists()


def test_pins_are_well_formed_and_unknown_names_are_config_errors():
    assert len(REPOS) >= 5
    for spec in REPOS.values():
        assert len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0
        assert spec.sdist.endswith(".tar.gz") and spec.version in spec.sdist
        assert spec.image == f"turngym-swe/{spec.name}:{spec.version}"
    with pytest.raises(ConfigError, match="cachetools"):
        get_spec("cachetool")


@pytest.fixture(scope="module")
def validator(minirepo, tmp_path_factory: pytest.TempPathFactory) -> Validator:
    spec, tree, _ = minirepo
    work = tmp_path_factory.mktemp("work") / "tree"
    import shutil

    shutil.copytree(tree, work, ignore=shutil.ignore_patterns(".git"))
    return Validator(spec, work, tmp_path_factory.mktemp("scratch"), baseline_runs=1, timeout_factor=3.0,
                     min_timeout=3.0)


def _mutation(operator: str, function: str) -> mutate.Mutation:
    (m,) = [m for m in mutate.candidates(MINILIB, "minilib/__init__.py")
            if m.operator == operator and m.function == function]
    return m


def test_validation_keeps_a_real_bug_with_its_fail_and_pass_lists(validator: Validator):
    assert validator.baseline.passing == ("tests/test_minilib.py::test_add", "tests/test_minilib.py::test_clamp",
                                          "tests/test_minilib.py::test_count", "tests/test_minilib.py::test_table")
    m = _mutation("binary_op", "add")
    verdict = validator.check(m)
    assert verdict.kept and verdict.reason == "kept"
    assert verdict.fail_to_pass == ["tests/test_minilib.py::test_add"]
    assert verdict.pass_to_pass == ["tests/test_minilib.py::test_clamp", "tests/test_minilib.py::test_count",
                                    "tests/test_minilib.py::test_table"]
    assert (validator.work / "minilib" / "__init__.py").read_text() == MINILIB  # restored
    # the statement names the failing test and its assertion, and not the patch
    bug = mutate.unified_diff(m.path, MINILIB, m.apply(MINILIB))
    text = statement.write(validator.spec, verdict.fail_to_pass, verdict.run.failures, bug, work=validator.work)
    assert "tests/test_minilib.py::test_add" in text and "assert add(2, 3) == 5" in text
    assert "AssertionError" in text or "assert -1 == 5" in text
    assert "return a - b" not in text and "return a + b" not in text
    assert statement.leaks(text, bug) == []


def test_validation_rejects_a_mutation_that_breaks_nothing(validator: Validator):
    verdict = validator.check(_mutation("binary_op", "unused"))
    assert not verdict.kept and verdict.reason == "no_failure"


def test_validation_rejects_a_mutation_that_breaks_collection(validator: Validator):
    verdict = validator.check(_mutation("remove_return", "table"))
    assert not verdict.kept and verdict.reason == "collection_error"


def test_validation_rejects_a_mutation_that_loops_forever(validator: Validator):
    verdict = validator.check(_mutation("aug_assign", "count_to"))  # i -= 1: the while never ends
    assert not verdict.kept and verdict.reason == "timeout"
    assert verdict.run is not None and verdict.run.timed_out
    assert (validator.work / "minilib" / "__init__.py").read_text() == MINILIB


def test_statement_drops_lines_that_would_reveal_the_patch():
    spec = _spec("0" * 64)
    bug = mutate.unified_diff("minilib/__init__.py", MINILIB, MINILIB.replace("return a + b", "return a - b"))
    failures = {"tests/test_minilib.py::test_add": {
        "crash": "AssertionError: assert -1 == 5",
        "entries": [{"path": "tests/test_minilib.py", "lineno": 7, "lines": ["    assert add(2, 3) == 5", "E   x"]},
                    {"path": "minilib/__init__.py", "lineno": 5, "lines": ["    return a - b"]},
                    {"path": "tests/helper_test.py", "lineno": 1, "lines": ["    # return a - b"]}]}}
    text = statement.write(spec, ["tests/test_minilib.py::test_add"], failures, bug)
    assert "minilib/__init__.py" not in text  # library frames are never shown
    assert "return a - b" not in text and "return a + b" not in text  # the leaking test-file line is dropped
    assert "assert add(2, 3) == 5" in text
    assert statement.leaks("...return a + b...", bug) == ["return a + b"]


def test_difficulty_tags():
    assert difficulty(2, 1) == "easy" and difficulty(5, 1) == "medium"
    assert difficulty(12, 1) == "hard" and difficulty(2, 2) == "hard"


@pytest.mark.slow
def test_build_is_byte_identical_for_the_same_seed(minirepo, tmp_path: Path):
    spec, _, cache = minirepo
    outs = []
    for run in range(2):
        rows, summary = build_repo(spec, per_repo=2, seed=5, cache=cache, progress=False)
        outs.append([p.read_bytes() for p in write_repo(tmp_path / str(run), spec.name, rows, summary)])
    assert outs[0] == outs[1]
    rows = [json.loads(line) for line in outs[0][0].decode().splitlines()]
    assert len(rows) == 2 and all(r["FAIL_TO_PASS"] for r in rows)


# ----------------------------------------------------------------------------------------- the shipped data
def _shipped() -> dict[str, list[dict]]:
    out = {}
    for path in sorted(DATA_DIR.glob("*.jsonl")):
        out[path.stem] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return out


def test_shipped_rows_are_well_formed():
    from turngym.envs.swe.tasks import load_instances

    shipped = _shipped()
    assert shipped, f"no task files in {DATA_DIR}"
    ids = set()
    for name, rows in shipped.items():
        spec = get_spec(name)
        summary = json.loads((DATA_DIR / f"{name}.summary.json").read_text())
        assert summary["kept"] == len(rows) > 0
        instances = load_instances(DATA_DIR / f"{name}.jsonl")
        assert len(instances) == len(rows)
        for row in rows:
            assert row["instance_id"] not in ids
            ids.add(row["instance_id"])
            assert row["repo"] == spec.repo and row["version"] == spec.version and row["image"] == spec.image
            assert row["base_commit"] == row["environment_setup_commit"] == summary["base_commit"]
            assert row["FAIL_TO_PASS"] and not set(row["FAIL_TO_PASS"]) & set(row["PASS_TO_PASS"])
            assert row["test_patch"] == "" and row["mutation"] in mutate.OPERATORS
            minus = [ln[1:] for ln in row["bug_patch"].splitlines() if ln[:1] == "-" and not ln.startswith("---")]
            plus = [ln[1:] for ln in row["patch"].splitlines() if ln[:1] == "+" and not ln.startswith("+++")]
            assert minus == plus  # the fix restores exactly what the bug removed
            assert row["lines_changed"] == mutate.lines_changed(row["patch"]) and row["files_touched"] == 1
            assert row["difficulty"] == difficulty(row["lines_changed"], 1)
            assert statement.leaks(row["problem_statement"], row["bug_patch"]) == []


@pytest.mark.slow
def test_shipped_patches_apply_to_the_prepared_tree(tmp_path: Path):
    shipped = _shipped()
    name = min(shipped, key=lambda n: len(shipped[n]))  # the smallest file: one repository prepared
    spec = get_spec(name)
    head = prepare(spec, tmp_path)
    tree = tmp_path / "repo"
    for row in shipped[name]:
        assert row["base_commit"] == head
        assert _git(tree, "apply", "--check", "-", data=row["bug_patch"]).returncode == 0, row["instance_id"]
        assert _git(tree, "apply", "--check", "-R", "-", data=row["patch"]).returncode == 0, row["instance_id"]
    # one task end to end: its FAIL_TO_PASS fail with the bug and pass with the fix
    row = shipped[name][0]
    command = spec.test_cmd(row["FAIL_TO_PASS"][:3])
    assert _git(tree, "apply", "-", data=row["bug_patch"]).returncode == 0
    run = subprocess.run(command, shell=True, cwd=tree, capture_output=True, text=True)
    assert run.returncode == 1, run.stdout[-2000:]
    assert _git(tree, "apply", "-", data=row["patch"]).returncode == 0
    run = subprocess.run(command, shell=True, cwd=tree, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:]
