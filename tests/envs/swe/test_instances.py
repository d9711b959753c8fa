"""The SWE-bench instance format and its loader (issue 15, Tasks), on real files, forged ones included.

Every test here fails on the code before issue 15 (``turngym.envs.swe.tasks`` did not exist). A forged file
must end in a ``ConfigError`` naming the file, the line or item, and the field, with nothing returned.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from turngym.envs.core.errors import ConfigError
from turngym.envs.swe.tasks import SWEInstance, check_patch_paths, dump_instances, load_instances
from turngym.envs.swe.tasks import instance as I

GOLD = """diff --git a/src/m.py b/src/m.py
--- a/src/m.py
+++ b/src/m.py
@@ -1,3 +1,3 @@
 def f(x):
--- a comment line starting with two dashes, removed
+++ an added line starting with two pluses
"""


def _row(**kw: Any) -> dict[str, Any]:
    row = {"instance_id": "astropy__astropy-12907", "repo": "astropy/astropy",
           "base_commit": "d16bfe05a744909de4b27f5875fe0d4ed41ce607", "patch": GOLD, "test_patch": "",
           "FAIL_TO_PASS": json.dumps(["tests/t.py::test_a", "tests/t.py::test_b[x y]"]), "PASS_TO_PASS": "[]",
           "problem_statement": "It breaks.", "hints_text": "", "created_at": "2022-03-03T15:14:54Z",
           "version": "4.3", "environment_setup_commit": "298ccb478e6bf092953bca67a3d29dc6c35f6752"}
    row.update(kw)
    return {k: v for k, v in row.items() if v is not ...}


def _jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------ formats
def test_swebench_row_loads_and_round_trips(tmp_path):
    (inst,) = load_instances(_jsonl(tmp_path / "swe.jsonl", [_row()]))
    assert inst.FAIL_TO_PASS == ("tests/t.py::test_a", "tests/t.py::test_b[x y]") and inst.PASS_TO_PASS == ()
    assert SWEInstance.from_dict(inst.to_dict()) == inst
    for name, json_lists in (("out.jsonl", False), ("out.jsonl.gz", True)):
        out = dump_instances([inst], tmp_path / name, json_lists=json_lists)
        assert load_instances(out) == [inst]
    assert (tmp_path / "out.jsonl.gz").read_bytes()[:2] == b"\x1f\x8b"


def test_json_array_gz_and_rows(tmp_path):
    rows = [_row(), _row(instance_id="o__r-2", FAIL_TO_PASS=["t.py::x"])]
    path = tmp_path / "swe.json.gz"
    path.write_bytes(gzip.compress(json.dumps(rows).encode()))
    assert [i.instance_id for i in load_instances(path)] == ["astropy__astropy-12907", "o__r-2"]
    assert load_instances(rows) == load_instances(path)


def test_swe_smith_and_swe_gym_extras_are_kept():
    smith = {"instance_id": "oauthlib__oauthlib.1fd52536.combine_file__2nfzwp19",
             "repo": "swesmith/oauthlib__oauthlib.1fd52536",
             "patch": GOLD, "FAIL_TO_PASS": ["tests/t.py::a"], "PASS_TO_PASS": ["tests/t.py::b"],
             "image_name": "jyangballin/swesmith.x86_64.oauthlib_1776_oauthlib.1fd52536", "created_at": 1735689600000,
             "version": 0.2, "problem_statement": None}
    (inst,) = load_instances([smith])
    assert inst.image == smith["image_name"] and inst.extra == {"image_name": smith["image_name"]}
    assert inst.created_at == "1735689600000" and inst.version == "0.2" and inst.problem_statement == ""
    row = inst.to_dict()
    assert row["image_name"] == smith["image_name"] and row["image"] == smith["image_name"]
    assert SWEInstance.from_dict(row) == inst
    tagged = SWEInstance.from_dict(_row(lines_changed=3, files_touched=1, test_cmd="pytest -rA t.py",
                                        log_parser="parse_log_pytest_v2"))
    assert (tagged.lines_changed, tagged.files_touched, tagged.log_parser) == (3, 1, "parse_log_pytest_v2")
    assert SWEInstance.from_dict(tagged.to_dict()) == tagged


# ------------------------------------------------------------------------------------------ forged files
@pytest.mark.parametrize(("line", "match"), [
    ('{"instance_id": "a__b-1", "repo": "a/b"}', r"swe\.jsonl:2: 'FAIL_TO_PASS'.*missing"),
    ("[1, 2]", r"swe\.jsonl:2: expected a JSON object"),
    ('{"instance_id": "a__b-1", "repo": "a/b", "FAIL_TO_PASS": 5}', r":2: 'FAIL_TO_PASS'.*list of test ids"),
    ('{"instance_id": "a__b-1", "repo": "a/b", "FAIL_TO_PASS": "[1]"}', r":2: 'FAIL_TO_PASS'\[0\]"),
    ('{"instance_id": "a__b-1", "repo": "a/b", "FAIL_TO_PASS": "[\\"x\\""}', r":2: 'FAIL_TO_PASS'.*invalid JSON"),
    ('{"instance_id": "a__b-1", "repo": "a/b", "FAIL_TO_PASS": []}', r":2: 'FAIL_TO_PASS'.*at least one"),
    ('{"instance_id": "../../etc", "repo": "a/b", "FAIL_TO_PASS": ["t"]}', r":2: 'instance_id'"),
    ('{"instance_id": "a/b", "repo": "a/b", "FAIL_TO_PASS": ["t"]}', r":2: 'instance_id'"),
    ('{"instance_id": "a__b-1", "repo": "a/b; rm -rf /", "FAIL_TO_PASS": ["t"]}', r":2: 'repo'"),
    ('{"instance_id": "a__b-1", "repo": "a/b", "base_commit": "$(reboot)", "FAIL_TO_PASS": ["t"]}',
     r":2: 'base_commit'"),
    ('{"instance_id": "a__b-1", "repo": "a/b", "patch": 7, "FAIL_TO_PASS": ["t"]}', r":2: 'patch'.*a string"),
    ('{"instance_id": "a__b-1", "repo": "a/b", "FAIL_TO_PASS": ["t"], "bad key!": 1}', r":2: field name"),
    ('{"instance_id": "a__b-1", "repo": "a/b", "FAIL_TO_PASS": ["t"], "lines_changed": -1}', r":2: 'lines_changed'"),
    ('{"instance_id": "a__b-1", "repo": "a/b", "FAIL_TO_PASS": ["t"], "log_parser": "parse_log_django"}',
     r":2: 'log_parser'.*one of"),
    ('{"instance_id": "a__b-1", "repo": "a/b", "FAIL_TO_PASS": ["t"], "x": NaN}', r":2: .*NaN"),
    ('{"instance_id": "a__b-1", "repo": "a/b", "FAIL_TO_PASS": ["\\ud800"]}', r":2: .*surrogate"),
    ('{"instance_id": "a__b-1", "repo": "a/b", "FAIL_TO_PASS": ["t"], "n": 1' + "0" * 5000 + "}", r":2: .*digits"),
    ("[" * 100_000, r":2: .*(nested|invalid JSON)"),
    ('{"instance_id": "astropy__astropy-12907", "repo": "a/b", "FAIL_TO_PASS": ["t"]}', r":2: 'instance_id'.*unique"),
], ids=["missing-f2p", "not-object", "f2p-type", "f2p-item-type", "f2p-bad-json", "f2p-empty", "id-dotdot",
        "id-slash", "repo-shell", "commit-shell", "patch-type", "odd-field", "negative-tag", "unknown-parser", "nan",
        "surrogate", "huge-int", "deep-nesting", "duplicate-id"])
def test_forged_rows(tmp_path, line, match):
    path = _jsonl(tmp_path / "swe.jsonl", [_row(), line])
    with pytest.raises(ConfigError, match=match):
        load_instances(path)


def test_forged_bytes(tmp_path):
    bad = tmp_path / "swe.jsonl"
    bad.write_bytes(json.dumps(_row()).encode() + b"\n" + b'{"instance_id": "\xff\xfe"}\n')
    with pytest.raises(ConfigError, match=r"swe\.jsonl:2.*invalid UTF-8"):
        load_instances(bad)
    with pytest.raises(ConfigError, match=r"no such file"):
        load_instances(tmp_path / "missing.jsonl")
    with pytest.raises(ConfigError, match=r"at least one instance"):
        load_instances(_jsonl(tmp_path / "empty.jsonl", [""]))
    with pytest.raises(ConfigError, match=r"readable"):
        load_instances(tmp_path)  # a folder
    (tmp_path / "trunc.jsonl.gz").write_bytes(gzip.compress(json.dumps(_row()).encode())[:-12])
    with pytest.raises(ConfigError, match=r"trunc\.jsonl\.gz"):
        load_instances(tmp_path / "trunc.jsonl.gz")
    (tmp_path / "plain.jsonl.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ConfigError, match=r"plain\.jsonl\.gz"):
        load_instances(tmp_path / "plain.jsonl.gz")


def test_size_caps(tmp_path, monkeypatch):
    bomb = tmp_path / "bomb.jsonl.gz"
    bomb.write_bytes(gzip.compress(b" " * (8 * 2**20)))  # 8 MiB of blanks in ~8 KiB
    with pytest.raises(ConfigError, match=r"bomb\.jsonl\.gz.*at most 1,048,576 bytes"):
        load_instances(bomb, max_bytes=2**20)
    bomb.write_bytes(gzip.compress(b"\n" * (2**16 + 1)))  # many blank lines: counted too
    with pytest.raises(ConfigError, match=r"bomb\.jsonl\.gz.*at most 65,536 bytes"):
        load_instances(bomb, max_bytes=2**16)
    monkeypatch.setattr(I, "MAX_ROW_BYTES", 1000)
    with pytest.raises(ConfigError, match=r"long\.jsonl:1: expected a line of at most 1,000 bytes"):
        load_instances(_jsonl(tmp_path / "long.jsonl", [_row(problem_statement="x" * 5000)]))
    monkeypatch.setattr(I, "MAX_TEXT_CHARS", 100)
    with pytest.raises(ConfigError, match=r"\[0\]: 'problem_statement'.*at most 100 characters"):
        load_instances([_row(problem_statement="x" * 101)])
    monkeypatch.setattr(I, "MAX_TESTS", 3)
    with pytest.raises(ConfigError, match=r"'PASS_TO_PASS'.*at most 3 test ids"):
        load_instances([_row(PASS_TO_PASS=["a", "b", "c", "d"])])


# ------------------------------------------------------------------------------------------ patch paths
def _diff(old: str, new: str) -> str:
    return f"diff --git {old} {new}\n--- {old}\n+++ {new}\n@@ -1 +1 @@\n-a\n+b\n"


@pytest.mark.parametrize("patch", [
    _diff("a/../outside.py", "b/../outside.py"),
    _diff("a//etc/passwd", "b//etc/passwd"),
    "--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-a\n+b\n",
    _diff("a/.git/hooks/pre-commit", "b/.git/hooks/pre-commit"),
    _diff("a/sub/.GIT/config", "b/sub/.GIT/config"),
    _diff('"a/\\056\\056/x"', '"b/\\056\\056/x"'),  # git's octal quoting of "../x"
    "diff --git a/x b/x\nrename from x\nrename to ../../x\n",
    "diff --git a/l b/l\nnew file mode 120000\n--- /dev/null\n+++ b/l\n@@ -0,0 +1 @@\n+/etc\n",
    "diff --git a/m b/m\nnew file mode 160000\n",
    GOLD + "@@ -9,1 +9,1 @@\n-x\n+y\n" + _diff("a/ok.py", "b/../../evil.py"),  # after a second hunk
    "--- a/x\n+++ b/x\n@@ bogus @@\n",
], ids=["dotdot", "absolute-after-prefix", "absolute", "dot-git", "dot-git-case", "quoted-dotdot", "rename-out",
        "symlink", "submodule", "after-hunks", "bad-hunk-header"])
def test_patch_paths_outside_the_repo_are_refused(patch):
    with pytest.raises(ConfigError, match=r"patch line \d+"):
        check_patch_paths(patch)
    with pytest.raises(ConfigError, match=r"rows\[0\]: 'test_patch' line \d+"):
        load_instances([_row(test_patch=patch)])


def test_patch_paths_inside_the_repo_pass():
    check_patch_paths(GOLD)  # "--- a comment" / "+++ an added line" inside the hunk are content
    check_patch_paths(_diff("a/dir with space/x.py", "b/dir with space/x.py"))
    check_patch_paths("diff --git a/n.py b/n.py\nnew file mode 100644\n--- /dev/null\n+++ b/n.py\n@@ -0,0 +1 @@\n+x\n"
                      "\\ No newline at end of file\n")
    check_patch_paths(_diff('"a/sp\\303\\251cial..py"', '"b/sp\\303\\251cial..py"'))


def test_constructor_checks_too():
    with pytest.raises(ConfigError, match=r"SWEInstance: 'patch' line 1"):
        SWEInstance(instance_id="a__b-1", repo="a/b", FAIL_TO_PASS=("t",), patch="--- /etc/x\n")
    with pytest.raises(ConfigError, match=r"'FAIL_TO_PASS'.*tuple"):
        SWEInstance(instance_id="a__b-1", repo="a/b", FAIL_TO_PASS=["t"])  # type: ignore[arg-type]
