"""Running one command of a local sandbox: bounded output, a wall-clock limit, every process killed at the end.

The python tool captures output in memory files capped by ``RLIMIT_FSIZE`` (``tooluse.tools.sandbox.capture``);
here ``RLIMIT_FSIZE`` must let the agent write files as large as the work tree's cap, so the output goes
through a pipe instead, read as it arrives into a head buffer and a rolling tail buffer of fixed size: a
command printing without end costs bounded memory and runs until its time limit. The wait watches the pipe
and a pidfd of the direct child together (no polling), so a command that exits returns at once even when
a background process it left still holds the pipe open; that process is then killed with the rest.
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from turngym.envs.tooluse.tools.sandbox.aggregate import Breach, CallGroup
from turngym.envs.tooluse.tools.sandbox.procs import kill_tree

_DRAIN_S = 2.0  # after the kill, how long to read what is left in the pipe (every writer is dead by then)


@dataclass
class Captured:
    """Output of one command: ``head`` + ``tail`` bytes of ``total`` written (``tail`` empty when all fit)."""

    head: bytearray
    tail: bytearray
    total: int = 0
    cap: int = 0

    def add(self, chunk: bytes) -> None:
        """Keeps the first ``cap`` bytes and the last ``cap`` bytes written."""
        self.total += len(chunk)
        room = self.cap - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > self.cap:
                del self.tail[: len(self.tail) - self.cap]

    @property
    def cut(self) -> bool:
        """Whether bytes between head and tail were dropped."""
        return self.total > len(self.head) + len(self.tail)

    def text(self, marker: str) -> str:
        """Head and tail decoded as UTF-8 (with replacement), ``marker`` between them where bytes were dropped."""
        head = self.head.decode("utf-8", errors="replace")
        if not self.tail:
            return head
        middle = marker.format(n=self.total - len(self.head) - len(self.tail)) if self.cut else ""
        return head + middle + self.tail.decode("utf-8", errors="replace")


@dataclass
class Finished:
    """How one command ended: ``returncode`` as ``subprocess`` gives it (None when timed out)."""

    returncode: int | None
    timed_out: bool
    output: Captured
    breach: Breach
    seconds: float


def run_command(argv: list[str], env: dict[str, str], preexec: Callable[[], None], timeout: float,
                cap_bytes: int, uid: int, group: CallGroup, pass_fds: tuple[int, ...] = ()) -> Finished:
    """Runs ``argv`` to its end or ``timeout``, then kills every process it started (``kill_tree``).

    Args:
        argv: The command line (its processes run as ``uid`` once inside the sandbox).
        env: Its environment.
        preexec: Run in the child before ``exec`` (rlimits, cgroup join).
        timeout: Wall-clock limit in seconds.
        cap_bytes: Bytes of head and of tail to keep.
        uid: The sandbox's uid: every process of it is killed afterwards.
        group: The call's aggregate limits (its ``kill`` joins the tree kill; closed here).
        pass_fds: Descriptors the command inherits.

    Raises:
        OSError, subprocess.SubprocessError: The command could not be started.
    """
    out = Captured(bytearray(), bytearray(), cap=max(1, cap_bytes))
    read_fd, write_fd = os.pipe()
    start = time.monotonic()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=write_fd, stderr=write_fd, env=env,
                                preexec_fn=preexec, start_new_session=True, close_fds=True, pass_fds=pass_fds,
                                cwd="/")
    except BaseException:
        os.close(read_fd)
        os.close(write_fd)
        group.close()
        raise
    os.close(write_fd)
    timed_out = True
    try:
        group.watch(proc.pid, uid)
        pidfd = os.pidfd_open(proc.pid)
        try:
            timed_out = not _pump(read_fd, pidfd, out, start + timeout)
        finally:
            os.close(pidfd)
    finally:
        if not (group.cgroup_procs and _empty_cgroup(group)):
            kill_tree(proc.pid, uid, extra=group.kill)
        proc.wait()  # reaped only now, so its pid (and session id) could not be reused during the kill
        _drain(read_fd, out)
        os.close(read_fd)
        breach = group.close()
    rc = None if timed_out else proc.returncode
    return Finished(rc, timed_out, out, breach, time.monotonic() - start)


def _cgroup_members(group: CallGroup) -> set[int]:
    pids: set[int] = set()
    for procs in group.cgroup_procs:
        with open(procs) as fh:
            pids.update(int(x) for x in fh.read().split())
    return pids


def _empty_cgroup(group: CallGroup, timeout: float = 5.0) -> bool:
    """Kills the call's cgroup until no process is left in it; False if that did not work (then scan /proc).

    Every process the command started is in the call's cgroup (joined before ``exec``; a process cannot leave
    a cgroup it does not own), so reading the group's few members is enough, where ``kill_tree`` scans all of
    ``/proc`` several times (most of an ``exec``'s cost on a busy host).
    """
    deadline = time.monotonic() + timeout
    try:
        while _cgroup_members(group):
            if time.monotonic() > deadline:
                return False
            group.kill()
            time.sleep(0.001)
    except (OSError, ValueError):
        return False
    return True


def _pump(read_fd: int, pidfd: int, out: Captured, deadline: float) -> bool:
    """Reads output until the child exits (True) or the deadline passes (False)."""
    poller = select.poll()
    poller.register(read_fd, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    pipe_open = True
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        for fd, _ in poller.poll(left * 1000):
            if fd == pidfd:
                return True
            chunk = os.read(read_fd, 1 << 16)
            if chunk:
                out.add(chunk)
            elif pipe_open:  # every writer closed the pipe; keep waiting on the child alone
                poller.unregister(read_fd)
                pipe_open = False


def _drain(read_fd: int, out: Captured) -> None:
    """Reads what is left in the pipe once every process that could write to it is dead."""
    deadline = time.monotonic() + _DRAIN_S
    os.set_blocking(read_fd, False)
    while time.monotonic() < deadline:
        try:
            chunk = os.read(read_fd, 1 << 16)
        except BlockingIOError:
            if not select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                return
            continue
        if not chunk:
            return
        out.add(chunk)
