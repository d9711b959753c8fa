"""The SWE file editor (``str_replace_editor``) on a real bubblewrap sandbox: every command, and path escapes."""

from __future__ import annotations

import pytest

from turngym.envs.swe.sandbox.base import SandboxSpec

local = pytest.importorskip("turngym.envs.swe.sandbox.local")
from turngym.envs.swe.editor import Editor  # noqa: E402
from turngym.envs.swe.sandbox.local_image import make_local_image  # noqa: E402

try:
    local._bwrap_path()
except Exception as exc:  # noqa: BLE001 - the reason is shown
    pytest.skip(f"the local backend does not run here: {exc}", allow_module_level=True)

FILES = {"pkg/__init__.py": "", "pkg/mod.py": "a = 1\nb = 2\na = 1\nc = 3\n", "README": "hello\n"}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    image = make_local_image(tmp_path_factory.mktemp("img") / "image", FILES)
    sb = local.LocalSandbox(SandboxSpec(str(image)))
    yield sb
    sb.close()


@pytest.fixture()
def editor(sandbox):
    sandbox.reset()
    return Editor(sandbox)


def test_view_file_with_line_numbers_and_range(editor):
    ok, text = editor.call({"command": "view", "path": "pkg/mod.py"})
    assert ok and "     2\tb = 2" in text and "     4\tc = 3" in text
    ok, text = editor.call({"command": "view", "path": "pkg/mod.py", "view_range": [2, 3]})
    assert ok and "b = 2" in text and "c = 3" not in text
    ok, text = editor.call({"command": "view", "path": "pkg/mod.py", "view_range": [3, 99]})
    assert not ok and "outside" in text


def test_view_directory_two_levels(editor):
    ok, text = editor.call({"command": "view", "path": "."})
    assert ok and "./pkg/mod.py" in text and "./README" in text and ".git" not in text


def test_create_refuses_existing_files(editor, sandbox):
    ok, _ = editor.call({"command": "create", "path": "pkg/new.py", "file_text": "x = 1\n"})
    assert ok and sandbox.read_file("pkg/new.py") == b"x = 1\n"
    ok, text = editor.call({"command": "create", "path": "pkg/mod.py", "file_text": ""})
    assert not ok and "exists" in text


def test_str_replace_unique_nonunique_missing(editor, sandbox):
    ok, text = editor.call({"command": "str_replace", "path": "pkg/mod.py", "old_str": "a = 1", "new_str": "a = 9"})
    assert not ok and "2 times" in text
    ok, text = editor.call({"command": "str_replace", "path": "pkg/mod.py", "old_str": "zzz", "new_str": ""})
    assert not ok and "does not occur" in text
    ok, _ = editor.call({"command": "str_replace", "path": "pkg/mod.py", "old_str": "b = 2", "new_str": "b = 20"})
    assert ok and sandbox.read_file("pkg/mod.py") == b"a = 1\nb = 20\na = 1\nc = 3\n"


def test_insert_after_line_and_at_top(editor, sandbox):
    assert editor.call({"command": "insert", "path": "pkg/mod.py", "insert_line": 2, "new_str": "z = 0"})[0]
    assert editor.call({"command": "insert", "path": "pkg/mod.py", "insert_line": 0, "new_str": "# top"})[0]
    assert sandbox.read_file("pkg/mod.py") == b"# top\na = 1\nb = 2\nz = 0\na = 1\nc = 3\n"
    ok, text = editor.call({"command": "insert", "path": "pkg/mod.py", "insert_line": 99, "new_str": "x"})
    assert not ok and "outside" in text


def test_undo_edit_per_file_history(editor, sandbox):
    editor.call({"command": "str_replace", "path": "pkg/mod.py", "old_str": "c = 3", "new_str": "c = 4"})
    editor.call({"command": "str_replace", "path": "pkg/mod.py", "old_str": "c = 4", "new_str": "c = 5"})
    editor.call({"command": "create", "path": "other.py", "file_text": "o\n"})
    assert editor.call({"command": "undo_edit", "path": "pkg/mod.py"})[0]
    assert sandbox.read_file("pkg/mod.py").endswith(b"c = 4\n")
    assert editor.call({"command": "undo_edit", "path": "./pkg/mod.py"})[0]  # same file, another spelling
    assert sandbox.read_file("pkg/mod.py").endswith(b"c = 3\n")
    ok, text = editor.call({"command": "undo_edit", "path": "pkg/mod.py"})
    assert not ok and "no edit" in text
    assert editor.call({"command": "undo_edit", "path": "other.py"})[0]  # undoing a create removes the file
    with pytest.raises(FileNotFoundError):
        sandbox.read_file("other.py")


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "pkg/../../outside.py", "link/passwd"])
def test_path_escapes_are_errors_not_crashes(editor, sandbox, path):
    sandbox.exec("ln -s /etc link")  # a planted symlink out of the tree
    for args in ({"command": "view"}, {"command": "create", "file_text": "x"},
                 {"command": "str_replace", "old_str": "root", "new_str": "x"},
                 {"command": "insert", "insert_line": 0, "new_str": "x"}):
        ok, text = editor.call({**args, "path": path})
        assert not ok, (args, path, text)


@pytest.mark.parametrize("args", [{}, {"command": "rm", "path": "x"}, {"command": "view", "path": 3},
                                  {"command": "view", "path": "\0"}, {"command": "str_replace", "path": "README"},
                                  {"command": "insert", "path": "README", "insert_line": "1", "new_str": "x"},
                                  {"command": "view", "path": "README", "view_range": "1-2"},
                                  {"command": "view", "path": "nope.py"}])
def test_bad_arguments_are_messages(editor, args):
    ok, text = editor.call(args)
    assert not ok and text
