"""Building a local backend "image" (a prepared repository directory) from files, for tests and small setups.

Layout (``local`` module docstring): ``<image>/repo/`` a git work tree with the start state committed, and
optionally ``<image>/site/`` holding dependencies (``pip install --target <image>/site ...``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

_GIT_ENV = {"GIT_AUTHOR_NAME": "turngym", "GIT_AUTHOR_EMAIL": "image@turngym.invalid",
            "GIT_COMMITTER_NAME": "turngym", "GIT_COMMITTER_EMAIL": "image@turngym.invalid",
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": "/nonexistent"}


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "core.hooksPath=/dev/null", "-C", str(repo), *args], capture_output=True,
                          text=True, env=_GIT_ENV, timeout=120, check=True)
    return done.stdout.strip()


def commit_files(image: str | Path, files: Mapping[str, str | bytes], message: str = "update") -> str:
    """Writes ``files`` (path relative to the repository -> content) into ``<image>/repo`` and commits them.

    Returns:
        The new commit's full hash (it becomes ``HEAD``, i.e. the start state of sandboxes made afterwards).
    """
    repo = Path(image) / "repo"
    for rel, content in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "--no-verify", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


def make_local_image(dest: str | Path, files: Mapping[str, str | bytes], message: str = "start") -> Path:
    """A new image at ``dest`` whose repository holds ``files`` in one commit; returns ``dest``."""
    root = Path(dest)
    (root / "repo").mkdir(parents=True)
    _git(root / "repo", "init", "-q", "-b", "main")
    commit_files(root, files, message)
    return root
