"""The SWE env's scripted expert (the gold patch applied through the editor) and a random agent baseline.

The expert is the registry's ``EnvInfo.expert`` factory (``gold_patch_expert(env_id, seed=, env_kwargs=)`` returns
``act(env, observation, info) -> str``, as the tool-use experts do): it turns the task's fix, a unified diff, into
``str_replace_editor`` ``str_replace`` calls (``plan_edits``: one per file, spanning its hunks), sends them (at most
the env's per-message limit at a time), then ``submit``. It reads the gold from
the env (``gold_patch()``), so it is a teacher for warm starts, never an acting policy in an evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from turngym.envs.core.errors import ConfigError
from turngym.envs.tooluse import formats
from turngym.envs.tooluse.base import ToolCall

ExpertAct = Callable[[Any, Any, dict[str, Any]], str]


def patch_to_edits(patch: str) -> list[ToolCall]:
    """``str_replace`` calls that apply a unified diff's hunks, in order.

    Raises:
        ValueError: A hunk adds a file or deletes one (no ``old_str`` to replace), or the diff is malformed.
    """
    calls: list[ToolCall] = []
    path: str | None = None
    old: list[str] = []
    new: list[str] = []
    in_hunk = False

    def flush() -> None:
        if in_hunk and path is not None:
            if not old:
                raise ValueError(f"a hunk of {path} has no old text to replace")
            calls.append(ToolCall("str_replace_editor", {"command": "str_replace", "path": path,
                                                         "old_str": "\n".join(old), "new_str": "\n".join(new)}))
        old.clear()
        new.clear()

    for line in patch.split("\n"):
        if line.startswith("diff --git "):
            flush()
            in_hunk = False
        elif line.startswith("+++ "):
            target = line[4:].split("\t", 1)[0]
            if target == "/dev/null":
                raise ValueError("the patch deletes a file")
            path = target[2:] if target.startswith("b/") else target
        elif line.startswith("--- ") and not in_hunk:
            continue
        elif line.startswith("@@"):
            flush()
            in_hunk = True
        elif in_hunk and line.startswith("\\"):
            continue  # "\ No newline at end of file"
        elif in_hunk and line[:1] in (" ", "-", "+"):
            if line[0] in " -":
                old.append(line[1:])
            if line[0] in " +":
                new.append(line[1:])
        elif in_hunk and line == "":
            continue  # the diff's final newline
    flush()
    return calls


def gold_patch_expert(env_id: str, *, seed: int = 0, env_kwargs: dict[str, Any] | None = None) -> ExpertAct:
    """The registry expert factory: apply the gold fix through the editor, then submit (module docstring).

    Args:
        env_id: The id the expert is asked for (``turngym/SWE-v0``).
        seed: Unused (the plan is deterministic).
        env_kwargs: Unused (the expert reads the env it is given).

    Returns:
        ``act(env, observation, info)``: the next message for the env's current episode: the edits still to make
        (``plan_edits`` on the live files, so it can take over an episode another policy started), or
        ``submit`` when none is left.
    """
    del seed, env_kwargs

    def act(env: Any, observation: Any, info: dict[str, Any]) -> str:
        from turngym.envs.swe.env import SWEEnv

        inner = getattr(env, "unwrapped", env)
        if not isinstance(inner, SWEEnv):
            raise ConfigError(f"{env_id} expert env", "an SWE env (SWEEnv)", type(inner).__name__)
        pending = plan_edits(inner.gold_patch(), _reader(inner))
        if pending:
            return formats.render_calls(pending[:inner.max_calls_per_turn], inner.format)
        return formats.render_calls([ToolCall("submit", {})], inner.format)

    return act


_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@")


def parse_hunks(patch: str) -> dict[str, list[tuple[int, list[str], list[str]]]]:
    """A unified diff as ``path -> [(old start line, old lines, new lines), ...]`` (hunks in file order)."""
    files: dict[str, list[tuple[int, list[str], list[str]]]] = {}
    path: str | None = None
    for line in patch.split("\n"):
        if line.startswith("+++ "):
            target = line[4:].split("\t", 1)[0]
            path = target[2:] if target.startswith("b/") else target
            files.setdefault(path, [])
            continue
        head = _HUNK.match(line)
        if head and path is not None:
            files[path].append((int(head.group(1)), [], []))
        elif files.get(path) and line[:1] in (" ", "-", "+") and not line.startswith(("--- ", "+++ ")):
            _, old, new = files[path][-1]  # type: ignore[index]
            if line[0] in " -":
                old.append(line[1:])
            if line[0] in " +":
                new.append(line[1:])
    return files


def plan_edits(patch: str, read: Callable[[str], str | None]) -> list[ToolCall]:
    """The ``str_replace`` calls that still have to be made to apply ``patch`` to the files as ``read`` shows them.

    One call per file: from the first hunk's first line to the last hunk's last line, the file's current text
    -> that text with every hunk applied (lines between hunks kept), widened by a line on each side until the
    old text is unique in the file. A file whose hunks no longer match at their lines (already fixed, or
    changed otherwise) needs no call. One call per file, not per hunk: a hunk's few lines of context can occur
    twice in a file (near-duplicate functions), and then neither the call nor "is it still to do" would be
    well defined.
    """
    calls = []
    for path, hunks in parse_hunks(patch).items():
        text = read(path)
        if text is None or not hunks:
            continue
        lines = text.split("\n")
        if any(lines[start - 1:start - 1 + len(old)] != old for start, old, _ in hunks):
            continue
        lo, hi = hunks[0][0] - 1, hunks[-1][0] - 1 + len(hunks[-1][1])
        new: list[str] = []
        at = lo
        for start, old, added in hunks:
            new += lines[at:start - 1] + added
            at = start - 1 + len(old)
        new += lines[at:hi]
        old_span = lines[lo:hi]
        while (not old_span or text.count("\n".join(old_span)) > 1) and (lo > 0 or hi < len(lines)):
            if lo > 0:
                lo -= 1
                old_span, new = [lines[lo], *old_span], [lines[lo], *new]
            if hi < len(lines):
                old_span, new = [*old_span, lines[hi]], [*new, lines[hi]]
                hi += 1
        calls.append(ToolCall("str_replace_editor", {"command": "str_replace", "path": path,
                                                     "old_str": "\n".join(old_span), "new_str": "\n".join(new)}))
    return calls


def _reader(env: Any) -> Callable[[str], str | None]:
    def read(path: str) -> str | None:
        if env.sandbox is None:
            return None
        try:
            return env.sandbox.read_file(path).decode("utf-8", "surrogateescape")
        except (OSError, ValueError):
            return None

    return read


#: Commands the random agent picks from.
RANDOM_COMMANDS = ("ls", "git status", "git diff", "cat README* | head -20", "python -c 'print(1)'",
                   "find . -name '*.py' | head", "grep -rn def . | head", "true")


def random_agent(seed: int = 0, submit_prob: float = 0.1) -> ExpertAct:
    """A baseline that sends random tool calls: bash commands from a list, views, random edits, and submits.

    Each turn: with ``submit_prob`` submit; else a random bash command, a view of a random tracked file, or a
    ``str_replace`` of a random line of it by a shuffled copy (most such edits break or change nothing).
    """
    rng = np.random.default_rng(seed)

    def act(env: Any, observation: Any, info: dict[str, Any]) -> str:
        inner = getattr(env, "unwrapped", env)
        fmt = inner.format
        if rng.random() < submit_prob:
            return formats.render_calls([ToolCall("submit", {})], fmt)
        kind = int(rng.integers(3))
        if kind == 0 or inner.sandbox is None:
            cmd = RANDOM_COMMANDS[int(rng.integers(len(RANDOM_COMMANDS)))]
            return formats.render_calls([ToolCall("bash", {"command": cmd})], fmt)
        files = inner.sandbox.exec("git ls-files '*.py' | head -200", timeout=10).output.split()
        path = files[int(rng.integers(len(files)))] if files else "."
        if kind == 1 or not files:
            return formats.render_calls([ToolCall("str_replace_editor", {"command": "view", "path": path})], fmt)
        try:
            lines = [ln for ln in inner.sandbox.read_file(path).decode("utf-8", "replace").split("\n") if ln.strip()]
        except (OSError, ValueError):
            lines = []
        if not lines:
            return formats.render_calls([ToolCall("bash", {"command": "true"})], fmt)
        line = lines[int(rng.integers(len(lines)))]
        chars = list(line)
        rng.shuffle(chars)
        return formats.render_calls([ToolCall("str_replace_editor", {"command": "str_replace", "path": path,
                                                                     "old_str": line, "new_str": "".join(chars)})], fmt)

    return act


__all__ = ["RANDOM_COMMANDS", "gold_patch_expert", "patch_to_edits", "random_agent"]
