"""The file editor tool of SWE episodes: SWE-agent's / OpenHands' ``str_replace_editor`` over a sandbox.

Commands (OpenHands' names and semantics):

* ``view path [view_range]``: a file with line numbers (``cat -n`` style), optionally lines ``[start, end]``
  (``end`` -1 = to the end); a directory: its files and folders two levels deep (hidden ones left out).
* ``create path file_text``: a new file (refused when it exists: use ``str_replace``).
* ``str_replace path old_str [new_str]``: ``old_str`` must occur exactly once; it is replaced by ``new_str``.
* ``insert path insert_line new_str``: ``new_str`` goes after line ``insert_line`` (0 = at the top).
* ``undo_edit path``: the file as it was before the last edit of this episode (per-file history).

Files are read and written with the sandbox's ``read_file``/``write_file``, which resolve paths inside the work
tree; a path leaving it (``..``, an absolute path elsewhere, a planted symlink) is an error shown to the agent,
never an exception. Every problem is an ``(ok=False, message)`` result.
"""

from __future__ import annotations

import posixpath
import shlex
from typing import Any

from turngym.envs.swe.sandbox.base import Sandbox

COMMANDS = ("view", "create", "str_replace", "insert", "undo_edit")
#: Largest file the editor reads or writes (bigger files: use bash).
MAX_FILE_BYTES = 1_000_000
#: Edits remembered per file for ``undo_edit``.
MAX_HISTORY = 10

PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "enum": list(COMMANDS),
                    "description": "view, create, str_replace, insert or undo_edit"},
        "path": {"type": "string", "description": "File or directory, relative to the repository root or absolute"},
        "file_text": {"type": "string", "description": "create: the new file's content"},
        "old_str": {"type": "string", "description": "str_replace: text that occurs exactly once in the file"},
        "new_str": {"type": "string", "description": "str_replace: the replacement; insert: the text to insert"},
        "insert_line": {"type": "integer", "description": "insert: the line after which new_str goes (0 = top)"},
        "view_range": {"type": "array", "description": "view: [start, end] line numbers (end -1 = to the end)"},
    },
    "required": ["command", "path"],
}


class Editor:
    """``str_replace_editor`` over one sandbox's work tree (see the module docstring).

    Args:
        sandbox: The sandbox whose files are edited.
    """

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        self.history: dict[str, list[bytes | None]] = {}  # path -> earlier contents (None: did not exist)

    def call(self, arguments: dict[str, Any]) -> tuple[bool, str]:
        """Runs one editor command; returns ``(ok, message)`` and never raises on bad arguments or paths.

        ``SandboxError`` (the sandbox itself failed) is not caught: it is an infrastructure failure.
        """
        command = arguments.get("command")
        path = arguments.get("path")
        if command not in COMMANDS:
            return False, f"unknown command {str(command)[:40]!r}; use one of {', '.join(COMMANDS)}"
        if not isinstance(path, str) or not path.strip() or "\0" in path:
            return False, "path must be a non-empty string"
        try:
            return getattr(self, f"_{command}")(path, arguments)
        except ValueError as exc:  # the sandbox refuses paths that leave the work tree
            return False, f"{path}: {exc}"
        except IsADirectoryError:
            return False, f"{path} is a directory"
        except (FileNotFoundError, NotADirectoryError):
            return False, f"{path} does not exist"
        except OSError as exc:
            return False, f"{path}: {exc.strerror or exc}"

    # -- helpers --------------------------------------------------------------------------------------------
    def _read(self, path: str) -> bytes:
        data = self.sandbox.read_file(path, max_bytes=MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"larger than {MAX_FILE_BYTES} bytes: use bash")
        return data

    def _text(self, path: str) -> str:
        data = self._read(path)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("not a UTF-8 text file") from None

    def _write(self, path: str, text: str, before: bytes | None) -> None:
        data = text.encode("utf-8", "surrogatepass")
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"the result would be larger than {MAX_FILE_BYTES} bytes")
        self.sandbox.write_file(path, data)
        past = self.history.setdefault(normalize(path), [])
        past.append(before)
        del past[:-MAX_HISTORY]

    def _is_dir(self, path: str) -> bool:
        res = self.sandbox.exec(f"test -d {shlex.quote(path)} && ! test -L {shlex.quote(path)}", timeout=10)
        return res.exit_code == 0

    @staticmethod
    def _snippet(text: str, center: int, path: str, context: int = 4) -> str:
        lines = text.split("\n")
        lo, hi = max(0, center - context), min(len(lines), center + context + 1)
        body = "\n".join(f"{i + 1:6}\t{lines[i]}" for i in range(lo, hi))
        return f"The file {path} has been edited. Lines {lo + 1}-{hi}:\n{body}"

    # -- commands -------------------------------------------------------------------------------------------
    def _view(self, path: str, args: dict[str, Any]) -> tuple[bool, str]:
        if self._is_dir(path):
            res = self.sandbox.exec(f"find {shlex.quote(path)} -maxdepth 2 -not -path '*/.*' | sort | head -n 500",
                                    timeout=20, max_output_chars=20_000)
            return True, f"Files and directories up to 2 levels deep in {path}:\n{res.output}"
        text = self._text(path)
        lines = text.split("\n")
        start, end = 1, len(lines)
        rng = args.get("view_range")
        if rng is not None:
            if (not isinstance(rng, list) or len(rng) != 2 or not all(type(x) is int for x in rng)):
                return False, "view_range must be [start, end] with integers"
            start, end = rng[0], (len(lines) if rng[1] == -1 else rng[1])
            if not 1 <= start <= len(lines) or end < start or end > len(lines):
                return False, f"view_range {rng} is outside the file's lines 1-{len(lines)}"
        body = "\n".join(f"{i:6}\t{lines[i - 1]}" for i in range(start, end + 1))
        return True, f"Here is {path} (lines {start}-{end}):\n{body}"

    def _create(self, path: str, args: dict[str, Any]) -> tuple[bool, str]:
        text = args.get("file_text")
        if not isinstance(text, str):
            return False, "create needs file_text (a string)"
        try:
            self.sandbox.read_file(path, max_bytes=1)
            return False, f"{path} exists already; edit it with str_replace"
        except FileNotFoundError:
            pass
        self._write(path, text, None)
        return True, f"File created: {path}"

    def _str_replace(self, path: str, args: dict[str, Any]) -> tuple[bool, str]:
        old, new = args.get("old_str"), args.get("new_str", "")
        if not isinstance(old, str) or not old:
            return False, "str_replace needs old_str (a non-empty string)"
        if not isinstance(new, str):
            return False, "new_str must be a string"
        before = self._read(path)
        text = self._text(path)
        count = text.count(old)
        if count == 0:
            return False, f"old_str does not occur in {path} (it must match exactly, whitespace included)"
        if count > 1:
            lines = [text[:m].count("\n") + 1 for m in _find_all(text, old)][:10]
            return False, f"old_str occurs {count} times in {path} (lines {lines}); make it unique"
        at = text.index(old)
        result = text[:at] + new + text[at + len(old):]
        self._write(path, result, before)
        return True, self._snippet(result, text[:at].count("\n"), path)

    def _insert(self, path: str, args: dict[str, Any]) -> tuple[bool, str]:
        line, new = args.get("insert_line"), args.get("new_str")
        if type(line) is not int or not isinstance(new, str):
            return False, "insert needs insert_line (an integer) and new_str (a string)"
        before = self._read(path)
        lines = self._text(path).split("\n")
        if not 0 <= line <= len(lines):
            return False, f"insert_line {line} is outside 0-{len(lines)}"
        result = "\n".join(lines[:line] + new.split("\n") + lines[line:])
        self._write(path, result, before)
        return True, self._snippet(result, line, path)

    def _undo_edit(self, path: str, args: dict[str, Any]) -> tuple[bool, str]:
        past = self.history.get(normalize(path))
        if not past:
            return False, f"no edit of {path} to undo"
        before = past.pop()
        if before is None:
            res = self.sandbox.exec(f"rm -f -- {shlex.quote(path)}", timeout=10)
            if res.exit_code != 0:
                return False, f"could not remove {path}: {res.output[-200:]}"
            return True, f"Undid the creation of {path}"
        self.sandbox.write_file(path, before)
        return True, f"Last edit of {path} undone"


def _find_all(text: str, sub: str):
    at = text.find(sub)
    while at >= 0:
        yield at
        at = text.find(sub, at + 1)


def normalize(path: str) -> str:
    """A path's key for the undo history (``a/./b`` and ``a/b`` are one file)."""
    return posixpath.normpath(path)


__all__ = ["COMMANDS", "PARAMETERS", "Editor"]
