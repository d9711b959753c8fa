"""Which Python runs the code, and which host directories it needs to start."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from turngym.envs.core.errors import ConfigError

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
"""Host directories a sandbox shows read-only (or as the symlinks they are)."""

PYTHON_ARGS = ("-I", "-X", "utf8", "-")
"""Isolated mode (no user site, ``PYTHON*`` variables ignored), UTF-8 I/O, program read from stdin."""


def world_accessible(path: str) -> bool:
    """True when any uid can execute ``path`` (every parent directory searchable, the file r-x)."""
    p = Path(path)
    try:
        if p.stat().st_mode & 0o005 != 0o005:
            return False
        return all(parent.stat().st_mode & stat.S_IXOTH for parent in p.parents)
    except OSError:
        return False


def find_python(run_as_other_uid: bool) -> str:
    """An interpreter the sandbox uid can run without bwrap: this one if reachable, else the system one.

    Raises:
        ConfigError: No candidate is executable (by another uid, when ``run_as_other_uid``).
    """
    candidates = [sys.executable]
    candidates += [os.path.realpath(p) for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.path.exists(p)]
    for cand in candidates:
        if os.access(cand, os.X_OK) and (not run_as_other_uid or world_accessible(os.path.realpath(cand))):
            return cand
    raise ConfigError("python interpreter", "a python3 the sandbox uid can execute (e.g. /usr/bin/python3)",
                      candidates)


def python_dirs(exe: str) -> list[str]:
    """The directories outside ``SYSTEM_DIRS`` that interpreter ``exe`` needs.

    That is its prefix, the prefix of the binary it links to, and, for this interpreter, its (virtual
    environment's) ``sys.prefix``.
    """
    found = {Path(exe).parent.parent, Path(os.path.realpath(exe)).parent.parent}
    if os.path.realpath(exe) == os.path.realpath(sys.executable):
        found |= {Path(sys.prefix), Path(sys.base_prefix)}
    dirs = {os.path.realpath(d) for d in found if d.is_dir()}
    dirs = {d for d in dirs if d != "/" and not any(d == s or d.startswith(s + "/") for s in SYSTEM_DIRS)}
    return sorted(d for d in dirs if not any(d.startswith(o + "/") for o in dirs))
