"""What runs in the forked child between ``fork`` and ``exec``: cgroup join, rlimits, netns, uid, death signal."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import signal
from collections.abc import Sequence
from typing import Any

_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1


def _load_libc() -> Any:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:  # pragma: no cover - every Linux has a libc
        return None


_LIBC = _load_libc()


def join_cgroups(cgroup_procs: Sequence[str]) -> None:
    """Moves the calling process into each cgroup whose ``cgroup.procs`` file is given.

    Raises:
        OSError: A cgroup cannot be joined. In a ``preexec_fn`` this makes ``Popen`` fail, so no code
            ever runs outside the call's aggregate limits.
    """
    me = str(os.getpid()).encode()
    for path in cgroup_procs:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, me)
        finally:
            os.close(fd)


class ChildSetup:
    """Applied in the child before ``exec`` (``subprocess.Popen(preexec_fn=...)``).

    Order: join the call's cgroups (needs the host's privileges, so first), set the rlimits, optionally
    enter a new network namespace, drop to the call's uid, then ask for ``SIGKILL`` when the thread that
    started the child dies (after the uid change, which clears that setting).

    Args:
        cpu_s: ``RLIMIT_CPU`` (SIGXCPU at the soft limit, SIGKILL one second later).
        memory_mb: ``RLIMIT_AS`` of each process.
        file_size_mb: ``RLIMIT_FSIZE`` (also caps the captured output, which is a file).
        max_open_files: ``RLIMIT_NOFILE``.
        nproc: ``RLIMIT_NPROC`` (binds only for a non-root real uid).
        drop_to: Uid (and gid) to switch to, or None to stay.
        new_netns: Enter a new network namespace (the unsafe backend; bwrap makes its own).
        cgroup_procs: ``cgroup.procs`` files to write this process into.
    """

    def __init__(self, cpu_s: int, memory_mb: int, file_size_mb: int, max_open_files: int, nproc: int,
                 drop_to: int | None, new_netns: bool, cgroup_procs: Sequence[str] = ()):
        self.rlimits = [
            (resource.RLIMIT_CORE, 0, 0),
            (resource.RLIMIT_CPU, cpu_s, cpu_s + 1),
            (resource.RLIMIT_AS, memory_mb * 2**20, memory_mb * 2**20),
            (resource.RLIMIT_FSIZE, file_size_mb * 2**20, file_size_mb * 2**20),
            (resource.RLIMIT_NOFILE, max_open_files, max_open_files),
            (resource.RLIMIT_NPROC, nproc, nproc),
        ]
        self.drop_to = drop_to
        self.new_netns = new_netns
        self.cgroup_procs = tuple(cgroup_procs)

    def __call__(self) -> None:
        """Runs in the forked child before ``exec``: keep it to system calls."""
        join_cgroups(self.cgroup_procs)
        for which, soft, hard in self.rlimits:
            cur_hard = resource.getrlimit(which)[1]
            if cur_hard != resource.RLIM_INFINITY:
                soft, hard = min(soft, cur_hard), min(hard, cur_hard)
            resource.setrlimit(which, (soft, hard))
        if self.new_netns and self.drop_to is not None and _LIBC is not None:
            _LIBC.unshare(_CLONE_NEWNET)  # as root no user namespace is needed
        if self.drop_to is not None:
            os.setgroups([])
            os.setresgid(self.drop_to, self.drop_to, self.drop_to)
            os.setresuid(self.drop_to, self.drop_to, self.drop_to)
        if _LIBC is not None:
            # After the uid change, which clears it: the child dies with the thread that started it.
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if self.new_netns and self.drop_to is None:
                _LIBC.unshare(_CLONE_NEWUSER | _CLONE_NEWNET)
