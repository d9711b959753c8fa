"""What an SWE episode does to the repository in its sandbox: the start state, the state key, the agent's changes.

All of it runs inside the sandbox as the sandbox's own user (git never runs on the host against a tree the agent
controlled), with hooks, fsmonitor and the user's and system's git config out of the way.

**Start state without the gold.** After the sandbox is reset to ``base_commit``, the bug patch is applied and the
repository is replaced by a *fresh* one: ``.git`` is deleted, ``git init``, and the buggy tree committed as a
single root commit with fixed author, committer and dates (so its hash, and so every state key, is the same on
every run). The new repository has no parent commit, no other ref, no reflog, no stash, and no alternates file:
``git log --all``, ``git reflog``, ``git show HEAD`` and ``git cat-file --batch-all-objects`` show only the
buggy start. (A commit on top of ``base_commit`` would hand out the fix: ``git show HEAD`` prints the bug patch,
and ``git diff HEAD~1`` reverses it.) The sandbox image's own object store, which reset needs and which holds
the clean files, is a separate matter: hidden from the agent's commands on both backends (the ``SWEEnv``
docstring, SECURITY.md).

**Grading sees only source changes.** ``changed_files`` lists what the agent changed (``git status``); the env
reads those files, rebuilds the start state in a clean sandbox and writes back only the changes to files that are
not protected (``protected``: the tests it is graded on, ``conftest.py``, pytest's config files, ``*.pth``,
byte-code), so editing a test, planting a ``conftest.py`` that passes everything, or a ``pytest.py`` that shadows
pytest does not change the grade.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import shlex

from turngym.envs.swe.sandbox.base import Sandbox, SandboxError

START_PATCH = ".turngym-start.patch"
_GIT_ENV = ("export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0 "
            "GIT_AUTHOR_NAME=turngym GIT_AUTHOR_EMAIL=task@turngym.invalid GIT_COMMITTER_NAME=turngym "
            "GIT_COMMITTER_EMAIL=task@turngym.invalid GIT_AUTHOR_DATE=2025-01-01T00:00:00+0000 "
            "GIT_COMMITTER_DATE=2025-01-01T00:00:00+0000")
_G = ("g() { git -c core.hooksPath=/dev/null -c core.fsmonitor=false -c gc.auto=0 -c core.autocrlf=false "
      "-c commit.gpgsign=false -c init.defaultBranch=main -c core.quotePath=false \"$@\"; }")
#: Files that never count as the agent's fix (they decide how tests run, or are tests).
PROTECTED_NAMES = frozenset({"conftest.py", "pytest.py", "sitecustomize.py", "usercustomize.py", "pytest.ini",
                             ".pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml", "noxfile.py"})
_TEST_DIRS = frozenset({"tests", "test", "testing"})
#: Most changed files carried into grading, and the largest one.
MAX_CHANGED_FILES = 200
MAX_CHANGED_BYTES = 1_000_000
_HEX40 = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")


def start_script(workdir: str, apply_patch: bool) -> str:
    """Makes the fresh single-commit repository of the start state (module docstring); prints its commit and tree.

    The commit's tree is the whole work tree (``add -A -f`` after a reset that left no ignored file), so it is
    what ``state_tree`` would compute: the start's state key costs no second git run.
    """
    apply = (f"g apply --whitespace=nowarn {START_PATCH} && rm -f {START_PATCH} && " if apply_patch else "")
    return "\n".join([
        "set -u", _GIT_ENV, _G, f"cd {shlex.quote(workdir)} || exit 90",
        f"rm -rf .git && g init -q && {apply}g add -A -f && g commit -q --no-verify -m 'task start' "
        "&& g rev-parse HEAD 'HEAD^{tree}'",
    ])


def prepare_start(sandbox: Sandbox, workdir: str, bug_patch: str) -> tuple[str, str]:
    """Turns a sandbox reset to ``base_commit`` into the task's start state; returns its commit and tree hashes.

    Raises:
        SandboxError: The patch does not apply or git fails (the sandbox or the task is broken: not the agent's).
    """
    if bug_patch:
        sandbox.write_file(START_PATCH, bug_patch.encode("utf-8"))
    res = sandbox.exec(start_script(workdir, bool(bug_patch)), timeout=120, max_output_chars=4000)
    lines = res.output.strip().split("\n")
    commit, tree = (lines[-2], lines[-1]) if len(lines) >= 2 else ("", "")
    if res.exit_code != 0 or not (_HEX40.match(commit) and _HEX40.match(tree)):
        raise SandboxError(f"could not make the task's start state (exit {res.exit_code}): {res.output[-400:]}",
                           sandbox.backend)
    return commit, tree


def state_tree(sandbox: Sandbox) -> str | None:
    """The git tree hash of the whole work tree (tracked and untracked files, byte code left out), or None.

    Written through a temporary index in ``/tmp``, so the agent's index and ``git status`` are untouched.
    """
    script = "\n".join([
        "set -u", _GIT_ENV, _G, 'T=$(mktemp /tmp/.turngym-key.XXXXXX) || exit 1',
        'cp .git/index "$T" 2>/dev/null || rm -f "$T"',
        "GIT_INDEX_FILE=\"$T\" g add -A -f -- . ':(exclude,glob)**/__pycache__/**' ':(exclude,glob)**/*.pyc' "
        "':(exclude,glob)**/.pytest_cache/**' >/dev/null 2>&1 && GIT_INDEX_FILE=\"$T\" g write-tree; r=$?",
        'rm -f "$T"; exit $r'])
    res = sandbox.exec(script, timeout=60, max_output_chars=2000)
    out = res.output.strip()
    return out if res.exit_code == 0 and _HEX40.match(out) else None


def changed_files(sandbox: Sandbox) -> list[str] | None:
    """Paths (relative, posix) that differ from the start commit, untracked files included; None if git fails."""
    script = "\n".join(["set -u", _GIT_ENV, _G,
                        "g status --porcelain=v1 -z --untracked-files=all --no-renames"])
    res = sandbox.exec(script, timeout=60, max_output_chars=2_000_000)
    if res.exit_code != 0 or res.truncated:
        return None
    paths = []
    for entry in res.output.split("\0"):
        if len(entry) > 3 and entry[2] == " ":
            paths.append(entry[3:])
    return sorted(set(paths))


def protected(path: str, test_files: frozenset[str]) -> bool:
    """Whether a changed path is left out of grading (tests, test config, import hooks, byte code)."""
    norm = posixpath.normpath(path)
    parts = norm.split("/")
    name = parts[-1]
    return (norm in test_files or name in PROTECTED_NAMES or name.endswith((".pth", ".pyc"))
            or name.startswith("test_") or name.endswith("_test.py") or "__pycache__" in parts
            or any(p in _TEST_DIRS for p in parts[:-1]) or norm.startswith(".git") or norm == START_PATCH)


def remove_script(paths: list[str]) -> str:
    """Removes files (the agent's deletions, replayed on the clean start state)."""
    return "rm -f -- " + " ".join(shlex.quote(p) for p in paths)


def key_digest(*parts: str) -> str:
    """A short digest of text parts (for ``state_key`` fallbacks that must not collide with a tree hash)."""
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


__all__ = ["MAX_CHANGED_BYTES", "MAX_CHANGED_FILES", "PROTECTED_NAMES", "changed_files", "prepare_start",
           "protected", "remove_script", "start_script", "state_tree"]
