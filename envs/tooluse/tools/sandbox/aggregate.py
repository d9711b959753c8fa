"""Limits on one call as a whole: memory and tasks summed over every process the call starts.

Per-process rlimits do not bound a call: 16 forked children under a 256 MB ``RLIMIT_AS`` each held
2.3 GB together (issue 12, item 1). Three mechanisms, best first:

``cgroup2``
    A cgroup v2 group with ``memory.max`` = the memory limit, ``memory.swap.max`` = 0 and ``pids.max`` =
    the task limit, created in this process's own group or, more often, beside it in its parent: the first
    of the two whose ``cgroup.subtree_control`` already lists ``memory`` and ``pids`` and where this process
    may create a group and move a process into it (turngym never changes ``subtree_control``).
``cgroup1``
    The same limits in the v1 ``memory`` (``memory.limit_in_bytes``, and ``memory.memsw.limit_in_bytes``
    where swap is accounted) and ``pids`` (``pids.max``) hierarchies, each under this process's own group.
    Used when the v1 hierarchies are mounted writable, as on turngym's CI machines.
``watchdog``
    Where no cgroup can be created (e.g. an unprivileged user without a delegated cgroup v2 subtree): a
    thread samples, every ``WATCHDOG_INTERVAL_S`` seconds, the anonymous and shared-memory resident set of
    every process of the call (descendants of the call's child, and every process of the call's uid)
    and kills them all when the sum exceeds the limit. Between two samples the call can grow, so the bound
    it guarantees is the one the rlimits give: ``memory_mb`` per process (``RLIMIT_AS``) times
    ``max_processes`` (``RLIMIT_NPROC``), plus the sandbox's tmpfs sizes. The task count is bounded by
    ``RLIMIT_NPROC`` alone (per call exactly when the call has its own uid, i.e. when the host is root).

Under a cgroup the memory limit counts everything the call holds in RAM: its processes, the files it
writes to its tmpfs mounts and its captured output. A call that exceeds it has a process killed by the
kernel's OOM killer inside the group (nothing outside the group is touched); ``Breach`` reports it.

Cgroups are named ``turngym-py-<pid>-<random>`` after the process that creates them and removed after
the call. A process killed during a call (``SIGKILL``) cannot remove its empty groups; the next group
created beside them removes those of processes that no longer exist (``rmdir`` of a group that still has
processes fails, so a live group is never touched).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from turngym.envs.core.errors import ConfigError
from turngym.envs.tooluse.tools.sandbox.child import join_cgroups
from turngym.envs.tooluse.tools.sandbox.procs import (
    descendants,
    kill,
    live_pids,
    owner,
    pid_alive,
    private_rss_bytes,
)

MECHANISMS = ("auto", "cgroup", "watchdog")
"""What ``AggregateLimits(mechanism=...)`` accepts: ``auto`` takes a cgroup when one works, else the watchdog."""
CGROUP_PREFIX = "turngym-py-"
BWRAP_OWN_TASKS = 2
"""Tasks bubblewrap itself keeps in the group (its outer process and the sandbox's init)."""
WATCHDOG_INTERVAL_S = 0.05

_layout_lock = threading.Lock()
_layout_cache: dict[int, tuple[CgroupLayout | None, str]] = {}


@dataclass(frozen=True)
class Breach:
    """Which aggregate limits one call hit."""

    memory: bool = False
    processes: bool = False


@dataclass(frozen=True)
class CgroupLayout:
    """Where this process may create its calls' cgroups.

    Attributes:
        version: 1 or 2.
        parents: Controller name (``memory``, ``pids``) -> the directory to create a call's group in
            (the same directory for both under v2).
    """

    version: int
    parents: dict[str, str]


class CallGroup(Protocol):
    """The aggregate limits of one running call."""

    cgroup_procs: tuple[str, ...]
    """``cgroup.procs`` files the call's first process joins before ``exec`` (empty for the watchdog)."""

    def watch(self, pid: int, uid: int | None) -> None:
        """Starts watching the call whose direct child is ``pid`` (running as ``uid``, if its own)."""
        ...

    def kill(self) -> None:
        """Kills every process still in the group (called repeatedly while the call is torn down)."""
        ...

    def close(self) -> Breach:
        """Stops watching, releases the group and says which limits the call hit."""
        ...


# ------------------------------------------------------------------------------------------ detection


def _unescape(field: str) -> str:
    """Mount points in ``mountinfo`` escape space, tab, newline and backslash as 3-digit octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _cgroup_mounts() -> list[tuple[str, str, str, set[str]]]:
    """``(root, mount point, fstype, super options)`` of every cgroup mount this process sees."""
    mounts = []
    try:
        with open("/proc/self/mountinfo") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if "-" not in fields:
            continue
        sep = fields.index("-")
        if len(fields) < sep + 4 or fields[sep + 1] not in ("cgroup", "cgroup2"):
            continue
        mounts.append((_unescape(fields[3]), _unescape(fields[4]), fields[sep + 1], set(fields[sep + 3].split(","))))
    return mounts


def _own_groups() -> dict[str, str]:
    """This process's group per v1 controller, and its v2 group under the key ``""``."""
    groups: dict[str, str] = {}
    try:
        with open("/proc/self/cgroup") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return groups
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in parts[1].split(",") if parts[1] else [""]:
            groups[controller] = parts[2]
    return groups


def _under(mount: tuple[str, str, str, set[str]], path: str) -> str | None:
    """The directory of group ``path`` inside ``mount``, or None when the mount does not show it."""
    root, point = mount[0], mount[1]
    if root != "/" and path != root and not path.startswith(root.rstrip("/") + "/"):
        return None
    rel = path[len(root):] if root != "/" else path
    directory = os.path.normpath(os.path.join(point, rel.lstrip("/")))
    return directory if os.path.isdir(directory) else None


def _v2_parents(mounts: list[tuple[str, str, str, set[str]]], groups: dict[str, str]) -> list[str]:
    """Directories where a call's v2 group may go: this process's group, then its parent.

    A directory qualifies when its ``cgroup.subtree_control`` already lists ``memory`` and ``pids``. This
    process's own group rarely does (cgroup v2's no-internal-process rule forbids a group with processes
    to delegate them), but its parent usually does (that is how this group gets its own memory
    accounting), so a call's group is most often a sibling of this process's group: e.g. under
    ``user@1000.service/app.slice`` for a desktop user, or under the slice of a root service. Enabling
    controllers is never attempted: that would change the host's setup.
    """
    found: list[str] = []
    if "" not in groups:
        return found
    for mount in mounts:
        if mount[2] != "cgroup2":
            continue
        own = _under(mount, groups[""])
        if own is None:
            continue
        candidates = [own] + ([os.path.dirname(own)] if os.path.normpath(own) != os.path.normpath(mount[1]) else [])
        for directory in candidates:
            try:
                with open(os.path.join(directory, "cgroup.subtree_control")) as fh:
                    enabled = set(fh.read().split())
            except OSError:
                continue
            if {"memory", "pids"} <= enabled and directory not in found:
                found.append(directory)
    return found


def _v1_parents(mounts: list[tuple[str, str, str, set[str]]], groups: dict[str, str]) -> dict[str, str] | None:
    parents = {}
    for controller in ("memory", "pids"):
        for mount in mounts:
            if mount[2] == "cgroup" and controller in mount[3] and controller in groups:
                parent = _under(mount, groups[controller])
                if parent is not None:
                    parents[controller] = parent
                    break
        else:
            return None
    return parents


def _probe(layout: CgroupLayout) -> str:
    """Creates a group with limits, runs ``true`` inside it and removes it; returns "" or what failed."""
    try:
        group = _CgroupCall(layout, 64 * 2**20, 8)
    except OSError as exc:
        return f"cannot create a cgroup under {sorted(set(layout.parents.values()))}: {exc}"
    try:
        done = subprocess.run([sys.executable, "-I", "-S", "-c", ""], timeout=30, capture_output=True,
                              preexec_fn=lambda: join_cgroups(group.cgroup_procs))
        return "" if done.returncode == 0 else f"a process in the cgroup exited with {done.returncode}"
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot move a process into the cgroup: {exc}"
    finally:
        group.close()


def cgroup_layout() -> tuple[CgroupLayout | None, str]:
    """Where this process can create limited cgroups (v2 first, then v1), probed once per uid.

    Returns:
        ``(layout, "")``, or ``(None, why)`` when no cgroup works here.
    """
    key = os.geteuid()
    with _layout_lock:
        if key not in _layout_cache:
            mounts, groups = _cgroup_mounts(), _own_groups()
            reasons = []
            found: CgroupLayout | None = None
            candidates = [CgroupLayout(2, {"memory": d, "pids": d}) for d in _v2_parents(mounts, groups)]
            v1 = _v1_parents(mounts, groups)
            candidates += [CgroupLayout(1, v1)] if v1 else []
            for layout in candidates:
                why = _probe(layout)
                if not why:
                    found = layout
                    break
                reasons.append(f"cgroup v{layout.version}: {why}")
            if not candidates:
                reasons.append("no cgroup v2 group delegating memory and pids, and no v1 memory and pids "
                               "hierarchies mounted")
            _layout_cache[key] = (found, "; ".join(reasons))
        return _layout_cache[key]


def forget_cgroup_layout() -> None:
    """Drops the cached ``cgroup_layout`` probe (after the host's cgroup setup changed)."""
    with _layout_lock:
        _layout_cache.clear()


# ---------------------------------------------------------------------------------------- the cgroups


def _write(path: str, value: str, optional: bool = False) -> None:
    """Writes a cgroup control file; ``optional`` files may be missing or refuse (e.g. no swap accounting)."""
    try:
        with open(path, "w") as fh:
            fh.write(value)
    except OSError:
        if not optional:
            raise


def _counter(path: str, name: str) -> int:
    """The value of ``name`` in a flat-keyed cgroup file (``memory.events``, ``pids.events``), else 0."""
    try:
        with open(path) as fh:
            for line in fh:
                parts = line.split()
                if len(parts) == 2 and parts[0] == name:
                    return int(parts[1])
    except (OSError, ValueError):
        pass
    return 0


def _sweep(parent: str) -> None:
    """Removes the empty groups that killed processes left beside ours (see the module docstring)."""
    me = os.getpid()
    try:
        entries = [e.name for e in os.scandir(parent) if e.name.startswith(CGROUP_PREFIX)]
    except OSError:
        return
    for name in entries:
        pid_text = name[len(CGROUP_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == me or pid_alive(int(pid_text)):
            continue
        try:
            os.rmdir(os.path.join(parent, name))
        except OSError:
            pass  # still has processes (or is not ours to remove): leave it


class _CgroupCall:
    """One call's cgroup(s) with their limits (see the module docstring)."""

    def __init__(self, layout: CgroupLayout, memory_bytes: int, max_tasks: int):
        self.version = layout.version
        name = f"{CGROUP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
        self.dirs: dict[str, str] = {}
        try:
            for controller, parent in layout.parents.items():
                path = os.path.join(parent, name)
                if path not in self.dirs.values():  # under v2 both controllers share one group
                    _sweep(parent)
                    os.mkdir(path, 0o755)
                self.dirs[controller] = path
            mem, pids = self.dirs["memory"], self.dirs["pids"]
            if self.version == 2:
                _write(os.path.join(mem, "memory.max"), str(memory_bytes))
                _write(os.path.join(mem, "memory.swap.max"), "0", optional=True)
            else:
                _write(os.path.join(mem, "memory.limit_in_bytes"), str(memory_bytes))
                # memsw >= limit must hold, so it is written second; absent without swap accounting.
                _write(os.path.join(mem, "memory.memsw.limit_in_bytes"), str(memory_bytes), optional=True)
            _write(os.path.join(pids, "pids.max"), str(max_tasks))
        except OSError:
            self._remove()
            raise
        self.cgroup_procs = tuple(os.path.join(d, "cgroup.procs") for d in sorted(set(self.dirs.values())))

    def watch(self, pid: int, uid: int | None) -> None:
        """Nothing to do: the kernel enforces the limits."""

    def _members(self) -> set[int]:
        pids: set[int] = set()
        for procs in self.cgroup_procs:
            try:
                with open(procs) as fh:
                    pids.update(int(x) for x in fh.read().split())
            except (OSError, ValueError):
                continue
        return pids

    def kill(self) -> None:
        """Kills every process in the group (``cgroup.kill`` under v2, one by one under v1)."""
        if self.version == 2 and _try_write(os.path.join(self.dirs["pids"], "cgroup.kill"), "1"):
            return
        for pid in self._members():
            kill(pid)

    def breach(self) -> Breach:
        """Which limits the kernel enforced during the call (OOM kills, refused forks)."""
        mem, pids = self.dirs["memory"], self.dirs["pids"]
        if self.version == 2:
            memory = _counter(os.path.join(mem, "memory.events"), "oom_kill") > 0
        else:
            memory = _counter(os.path.join(mem, "memory.oom_control"), "oom_kill") > 0
        return Breach(memory=memory, processes=_counter(os.path.join(pids, "pids.events"), "max") > 0)

    def close(self) -> Breach:
        """Reads the breach counters, then removes the group."""
        breach = self.breach()
        self._remove()
        return breach

    def _remove(self) -> None:
        # A group can only be removed once its last process is reaped; the caller has waited for the call's
        # child, whose exit implies its pid namespace is gone, so this rarely waits.
        deadline = time.monotonic() + 5.0
        for path in sorted(set(self.dirs.values())):
            while os.path.isdir(path):
                try:
                    os.rmdir(path)
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    self.kill()
                    time.sleep(0.01)


def _try_write(path: str, value: str) -> bool:
    try:
        _write(path, value)
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------- the watchdog


class _WatchdogCall:
    """Samples the call's private resident memory and kills the call above the limit (module docstring)."""

    cgroup_procs: tuple[str, ...] = ()

    def __init__(self, memory_bytes: int, interval_s: float = WATCHDOG_INTERVAL_S):
        self.memory_bytes = memory_bytes
        self.interval_s = interval_s
        self.memory_hit = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, pid: int, uid: int | None) -> None:
        """Starts the sampling thread for the call whose direct child is ``pid``."""
        self._thread = threading.Thread(target=self._loop, args=(pid, uid), name="turngym-py-watchdog", daemon=True)
        self._thread.start()

    def _members(self, pid: int, uid: int | None) -> list[int]:
        found = {pid, *descendants(pid)}
        if uid is not None:
            found.update(live_pids(lambda p, st: owner(p) == uid))
        return sorted(found)

    def _loop(self, pid: int, uid: int | None) -> None:
        while not self._stop.wait(self.interval_s):
            members = self._members(pid, uid)
            if private_rss_bytes(members) > self.memory_bytes:
                self.memory_hit = True
                for p in members:
                    kill(p)
                return

    def kill(self) -> None:
        """Stops sampling (the caller kills the process tree)."""
        self._stop.set()

    def close(self) -> Breach:
        """Stops the thread and reports whether it killed the call."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return Breach(memory=self.memory_hit)


class AggregateLimits:
    """Picks the mechanism that caps a whole call (see the module docstring) and opens one group per call.

    Args:
        memory_mb: Memory of the whole call (all its processes, tmpfs files and captured output).
        max_processes: Tasks (threads included) of the call's code; bubblewrap's own
            ``BWRAP_OWN_TASKS`` come on top.
        mechanism: ``"auto"`` (a cgroup when one works here, else the watchdog), ``"cgroup"`` (refuse
            when none works) or ``"watchdog"``.

    Attributes:
        mechanism: ``"cgroup2"``, ``"cgroup1"`` or ``"watchdog"``.

    Raises:
        ConfigError: ``mechanism`` is unknown, or is ``"cgroup"`` and no cgroup can be created here.
    """

    def __init__(self, memory_mb: int, max_processes: int, mechanism: str = "auto"):
        if mechanism not in MECHANISMS:
            raise ConfigError("aggregate_limits", f"one of {', '.join(MECHANISMS)}", mechanism, MECHANISMS)
        self.memory_bytes = int(memory_mb) * 2**20
        self.max_tasks = int(max_processes) + BWRAP_OWN_TASKS
        self.layout: CgroupLayout | None = None
        if mechanism != "watchdog":
            self.layout, why = cgroup_layout()
            if self.layout is None and mechanism == "cgroup":
                raise ConfigError("aggregate_limits", "a cgroup this process can create and limit (cgroup v2 "
                                  "with memory and pids delegated, or writable v1 memory and pids hierarchies)",
                                  f"cgroup: {why}")
        self.mechanism = f"cgroup{self.layout.version}" if self.layout is not None else "watchdog"

    def open_call(self) -> CallGroup:
        """A fresh group for one call.

        Raises:
            OSError: The call's cgroup could not be created (the call must not run).
        """
        if self.layout is not None:
            return _CgroupCall(self.layout, self.memory_bytes, self.max_tasks)
        return _WatchdogCall(self.memory_bytes)
