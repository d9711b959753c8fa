"""Finding, waiting for and killing the processes of one sandboxed call, from ``/proc``."""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Callable, Iterable

UID_BASE, UID_SPAN = 2_100_000_000, 40_000_000
"""Per-call uids (when the host process is root) are drawn from ``[UID_BASE, UID_BASE + UID_SPAN)``."""

ProcStat = tuple[str, int, int, int]
"""``(state, ppid, pgrp, session)`` of a process."""


def proc_stat(pid: int) -> ProcStat | None:
    """``(state, ppid, pgrp, session)`` of ``pid`` from ``/proc``, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            data = fh.read()
    except OSError:
        return None
    rest = data[data.rfind(")") + 2 :].split()  # the command name may contain spaces and parentheses
    return rest[0], int(rest[1]), int(rest[2]), int(rest[3])


def live_pids(pred: Callable[[int, ProcStat], bool]) -> list[int]:
    """Pids of live (non-zombie) processes for which ``pred(pid, stat)`` holds."""
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            pid = int(entry.name)
            st = proc_stat(pid)
            if st is not None and st[0] != "Z" and pred(pid, st):
                out.append(pid)
    return out


def owner(pid: int) -> int:
    """The uid that owns process ``pid`` (-1 when it is gone)."""
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return -1


def pid_alive(pid: int) -> bool:
    """Whether a (non-zombie) process ``pid`` exists."""
    st = proc_stat(pid)
    return st is not None and st[0] != "Z"


def count_processes(uid: int) -> int:
    """How many tasks ``uid`` runs now (threads count, as for ``RLIMIT_NPROC``), from ``/proc``."""
    total = 0
    for pid in live_pids(lambda p, st: owner(p) == uid):
        try:
            total += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue
    return total


def new_uid(is_root: bool) -> int | None:
    """A fresh unused uid for one call when root (None otherwise: the code runs as this user).

    A fresh uid has no process (so ``RLIMIT_NPROC`` counts the call's processes only), owns no host file,
    and lets every process of the call be found by uid and killed afterwards.
    """
    if not is_root:
        return None
    while True:
        uid = UID_BASE + secrets.randbelow(UID_SPAN)
        if count_processes(uid) == 0:
            return uid


def descendants(root: int) -> list[int]:
    """Live descendants of ``root`` (not ``root`` itself), from one scan of ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            st = proc_stat(int(entry.name))
            if st is not None and st[0] != "Z":
                children.setdefault(st[1], []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            out.append(child)
            todo.append(child)
    return out


def private_rss_bytes(pids: Iterable[int]) -> int:
    """Anonymous plus shared-memory resident bytes of ``pids`` (``RssAnon + RssShmem``), summed.

    Shared library pages are left out: they are the host's files, counted once by the kernel, and
    counting them per process would kill a modest ``multiprocessing`` pool.
    """
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith(("RssAnon:", "RssShmem:")):
                        total += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue
    return total


def kill(pid: int) -> None:
    """``SIGKILL`` to ``pid``, ignoring a process that is already gone."""
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def wait_unreaped(pid: int, timeout: float) -> bool:
    """Waits up to ``timeout`` seconds for child ``pid`` to exit without reaping it; True if it exited."""
    deadline = time.monotonic() + timeout
    pause = 0.0005
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.02)


def kill_tree(pid: int, uid: int | None, extra: Callable[[], None] | None = None) -> None:
    """Kills what the unreaped child ``pid`` started and waits until it is all gone.

    Order matters: first the child's own children (under bwrap, the sandbox's init, whose death ends
    its pid namespace), then the process group and session ``pid`` leads (``start_new_session``), and,
    when the call ran under its own uid, every process of that uid; repeated until none is left.
    ``extra`` (e.g. a cgroup's kill) runs on every round too.

    Args:
        pid: The call's direct child, not yet reaped (so its pid, group and session ids are not reused).
        uid: The call's own uid, or None when it ran as this user.
        extra: Another way to find and kill the call's processes.
    """
    inner = live_pids(lambda p, st: st[1] == pid)
    for child in inner:
        kill(child)
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        if extra is not None:
            extra()
        left = live_pids(lambda p, st: st[3] == pid or st[2] == pid or p in inner
                         or (uid is not None and owner(p) == uid))
        if not left:
            return
        for p in left:
            kill(p)
        time.sleep(0.005)
