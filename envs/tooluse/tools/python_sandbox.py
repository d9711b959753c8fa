"""A Python tool that runs model-written code in a sandboxed subprocess.

Threat model (DESIGN §5): the code is hostile. It may try to read or write host files, start programs,
reach the network, exhaust memory, processes or disk, outlive its call, or leave files behind.

Every call starts ``python3 -I`` (isolated mode) on the code, read from stdin, in a fresh empty working
directory, under:

- resource limits set in the child before ``exec`` (``sandbox.child``): CPU seconds, address space per
  process, file size (which also caps captured output), open files, process count, no core dumps;
- aggregate limits on the whole call (``sandbox.aggregate``): memory and tasks summed over all of its
  processes, by a cgroup (v2, else v1) where this process can create one, else by an RSS watchdog whose
  worst case is ``memory_mb`` x ``max_processes``;
- a wall-clock timeout after which everything the call started is killed;
- its own unused uid (``2100000000`` + random) when the host process is root, so that it owns no host
  file, ``RLIMIT_NPROC`` (the fork-bomb guard) counts only the call's processes, and every process of the
  call can be found and killed. The code never runs as root;
- no host files: code and output travel through anonymous memory files (``sandbox.capture``), so a
  caller killed mid-call leaves nothing behind, and the sandbox's processes die with it.

Backends:

``bwrap`` (what ``"auto"`` means; needs bubblewrap 0.5+ able to create namespaces)
    Isolation by bubblewrap (``sandbox.bwrap``): new mount, pid, network, ipc and uts namespaces, a
    read-only root with only ``/usr``, the interpreter's prefix and loader files, size-capped tmpfs
    mounts (``disk_mb``) as the only writable places (``/sandbox``, ``/tmp``, ``/dev/shm``), a private
    ``/proc``, no network but loopback, a cleared environment, ``no_new_privs``.

``unsafe-rlimit`` (alias ``rlimit``; only when asked for by name, and it warns every time)
    The same limits and uid without isolation, plus audit hooks that are known to be bypassable
    (``sandbox.unsafe`` lists what it does not contain). For code you would run yourself.

``"auto"`` never falls back to ``unsafe-rlimit``: without a working bubblewrap the tool refuses to be
built (``ConfigError`` that says ``apt-get install bubblewrap``). ``PythonTool.backend`` tells the active
backend, ``PythonTool.aggregate_limits`` the aggregate mechanism, and ``sandbox_backend()`` what a name
resolves to here.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import warnings
from typing import Any

from turngym.envs.core.errors import ConfigError
from turngym.envs.core.spaces import truncate
from turngym.envs.tooluse.base import ToolResult
from turngym.envs.tooluse.tools._common import safe_call, string_schema
from turngym.envs.tooluse.tools.sandbox import unsafe
from turngym.envs.tooluse.tools.sandbox.aggregate import (
    MECHANISMS,
    AggregateLimits,
    Breach,
    CallGroup,
    forget_cgroup_layout,
)
from turngym.envs.tooluse.tools.sandbox.bwrap import SAFE_PATH, THREAD_VARS, BwrapSandbox, forget_bwrap_probes
from turngym.envs.tooluse.tools.sandbox.capture import Streams
from turngym.envs.tooluse.tools.sandbox.child import ChildSetup
from turngym.envs.tooluse.tools.sandbox.interpreter import PYTHON_ARGS, find_python
from turngym.envs.tooluse.tools.sandbox.procs import (
    UID_BASE,
    UID_SPAN,
    count_processes,
    kill_tree,
    new_uid,
    wait_unreaped,
)

UNSAFE = "unsafe-rlimit"
BACKENDS = ("auto", "bwrap", UNSAFE, "rlimit")
"""Accepted ``backend`` names; ``"rlimit"`` is an alias of ``"unsafe-rlimit"``."""
INSTALL_HINT = "apt-get install bubblewrap"

_SIGNALS = {int(s) for s in signal.Signals}
_CALLER_SKIP = ("turngym.", "gymnasium.")


class UnsafeSandboxWarning(UserWarning):
    """The python tool runs model-written code without isolation (``backend="unsafe-rlimit"``)."""


def _warn_every_time(message: str) -> None:
    """Issues an ``UnsafeSandboxWarning`` on every call, attributed to the first caller outside turngym.

    ``warnings.warn`` records each warning in its caller module's registry and, under Python's default
    filter, shows it once per code location; a second env built by the same line would be silent. Issue 12
    (item 1) asks for a warning on every construction, so the registry is left out (``registry=None``).
    Filters still apply: ``warnings.filterwarnings("ignore", category=UnsafeSandboxWarning)`` silences it.
    """
    frame = sys._getframe(1)
    while frame.f_back is not None and str(frame.f_globals.get("__name__", "")).startswith(_CALLER_SKIP):
        frame = frame.f_back
    warnings.warn_explicit(message, UnsafeSandboxWarning, frame.f_code.co_filename, frame.f_lineno,
                           module=frame.f_globals.get("__name__"), registry=None)


def sandbox_backend(backend: str = "auto") -> str:
    """The backend ``PythonTool(backend=backend)`` runs here: ``"bwrap"`` or ``"unsafe-rlimit"``.

    Args:
        backend: ``"auto"`` or ``"bwrap"`` (bubblewrap, refused when it does not work here), or
            ``"unsafe-rlimit"`` / ``"rlimit"`` (no isolation; warns).

    Raises:
        ConfigError: ``backend`` is unknown, or is ``"auto"``/``"bwrap"`` and bubblewrap does not work here.
    """
    return PythonTool(backend=backend).backend


def isolation_unavailable() -> str | None:
    """Why ``backend="auto"`` refuses the python tool here (bubblewrap missing or not working), or None.

    The reason is the one the refusal's ``ConfigError`` gives; test suites use it to skip what needs the
    real sandbox.
    """
    try:
        sandbox_backend("auto")
    except ConfigError as exc:
        return str(exc.got)
    return None


def forget_probes() -> None:
    """Forgets what was probed about bubblewrap and cgroups here (after installing or changing them)."""
    forget_bwrap_probes()
    forget_cgroup_layout()


class PythonTool:
    """Runs Python code in a sandboxed subprocess and returns its output (see the module docstring).

    Args:
        timeout_s: Wall-clock limit of one call; everything the call started is killed after it.
        memory_mb: Memory of one call: the address space (``RLIMIT_AS``) of each process and, through the
            aggregate limits, the memory of all its processes, tmpfs files and captured output together.
        max_output_chars: Output cap (stdout then stderr, head and tail kept around a marker).
        cpu_s: CPU-time limit (``RLIMIT_CPU``) of each process.
        backend: ``"auto"`` (= ``"bwrap"``), ``"bwrap"``, or ``"unsafe-rlimit"`` (alias ``"rlimit"``;
            no isolation, warns on every construction). See the module docstring.
        file_size_mb: Largest file the code may write (``RLIMIT_FSIZE``; also caps captured output).
        disk_mb: Size of each tmpfs: the working directory, ``/tmp`` and ``/dev/shm`` (bwrap backend).
        max_processes: Tasks (threads included) the code may run at once: ``RLIMIT_NPROC`` and, with a
            cgroup, ``pids.max`` (plus bubblewrap's own two processes).
        max_open_files: ``RLIMIT_NOFILE``.
        max_code_chars: Longest code accepted.
        python: Interpreter to run. Default: this one under bwrap (its installed packages are visible
            read-only), and for ``unsafe-rlimit`` this one if the sandbox uid can reach it, else the
            system's ``python3``.
        aggregate_limits: How the whole call's memory and tasks are capped: ``"auto"`` (a cgroup when
            this process can create one, else the watchdog), ``"cgroup"`` (refuse without one) or
            ``"watchdog"`` (see ``sandbox.aggregate``).

    Attributes:
        backend: The active backend, ``"bwrap"`` or ``"unsafe-rlimit"``.
        aggregate_limits: ``"cgroup2"``, ``"cgroup1"`` or ``"watchdog"``.
        python: The interpreter that runs the code.

    Raises:
        ConfigError: A limit is not positive, ``backend`` or ``aggregate_limits`` is unknown, bubblewrap
            does not work here (``"auto"``, ``"bwrap"``), or ``aggregate_limits="cgroup"`` and no cgroup
            can be created.
    """

    name = "python"
    description = (
        "Runs a Python 3 program in a sandbox and returns what it prints (stdout, then stderr). Each call "
        "is a fresh process with no state kept between calls, no network and no access to host files; "
        "print() the values you need. Time, memory and output are limited."
    )
    parameters: dict[str, Any] = string_schema("code", "A complete Python program; print() the results.")

    def __init__(
        self,
        timeout_s: float = 5.0,
        memory_mb: int = 256,
        max_output_chars: int = 4000,
        cpu_s: int = 5,
        *,
        backend: str = "auto",
        file_size_mb: int = 10,
        disk_mb: int = 64,
        max_processes: int = 32,
        max_open_files: int = 64,
        max_code_chars: int = 100_000,
        python: str | None = None,
        aggregate_limits: str = "auto",
    ):
        for what, value in (("timeout_s", timeout_s), ("memory_mb", memory_mb), ("cpu_s", cpu_s),
                            ("max_output_chars", max_output_chars), ("file_size_mb", file_size_mb),
                            ("disk_mb", disk_mb), ("max_processes", max_processes),
                            ("max_open_files", max_open_files), ("max_code_chars", max_code_chars)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(what, "a positive number", value)
        if backend not in BACKENDS:
            raise ConfigError("backend", f"one of {', '.join(BACKENDS)}", backend, BACKENDS)
        if aggregate_limits not in MECHANISMS:
            raise ConfigError("aggregate_limits", f"one of {', '.join(MECHANISMS)}", aggregate_limits, MECHANISMS)
        self.timeout_s = float(timeout_s)
        self.memory_mb = int(memory_mb)
        self.max_output_chars = int(max_output_chars)
        self.cpu_s = max(1, int(cpu_s))
        self.file_size_mb = int(file_size_mb)
        self.disk_mb = int(disk_mb)
        self.max_processes = int(max_processes)
        self.max_open_files = int(max_open_files)
        self.max_code_chars = int(max_code_chars)
        self._is_root = os.geteuid() == 0
        self._bwrap: BwrapSandbox | None = None
        if backend in ("auto", "bwrap"):
            self.backend = "bwrap"
            self.python = python or (sys.executable if self._is_root else find_python(False))
            self._bwrap = self._working_bwrap(backend)
        else:
            self.backend = UNSAFE
            self.python = python or find_python(run_as_other_uid=self._is_root)
            unsafe.sweep_workdirs()
            _warn_every_time(
                f"python tool backend {backend!r}: model-written code runs WITHOUT isolation (it can read "
                f"world-readable host files, write to the host and start programs; see SECURITY.md). Use "
                f"backend='auto' with bubblewrap installed ({INSTALL_HINT}) for hostile code.")
        self._limits = AggregateLimits(self.memory_mb, self.max_processes, aggregate_limits)
        self.aggregate_limits = self._limits.mechanism

    def _working_bwrap(self, asked: str) -> BwrapSandbox:
        """The bubblewrap sandbox, or ConfigError (never a silent fallback: issue 12, item 1)."""
        path = shutil.which("bwrap")
        why = "not found on PATH"
        if path is not None:
            sandbox = BwrapSandbox(path, self.python, self._is_root, self.disk_mb)
            works, why = sandbox.probe(new_uid(self._is_root))
            if works:
                return sandbox
        raise ConfigError(
            f"python tool backend {asked!r}",
            f"a working bubblewrap to isolate model-written code (install it: {INSTALL_HINT}; version 0.5 or "
            f"newer, able to create namespaces here), or backend={UNSAFE!r} to run the code WITHOUT isolation",
            f"bwrap: {why}")

    def call(self, arguments: dict[str, Any]) -> ToolResult:
        """Runs ``arguments["code"]``; errors, timeouts and limits come back as ``ok=False`` results."""
        return safe_call(self.name, self.parameters, arguments, self._run, self.max_output_chars)

    # -- running ----------------------------------------------------------------------------------

    def _child_setup(self, uid: int | None, group: CallGroup) -> ChildSetup:
        # RLIMIT_NPROC counts every task of the real uid: a fresh uid has none; this user has some.
        nproc = self.max_processes + (0 if uid is not None else count_processes(os.getuid()))
        bwrap = self._bwrap is not None
        drop = None if bwrap else uid  # under bwrap, setpriv inside the sandbox drops the uid
        return ChildSetup(self.cpu_s, self.memory_mb, self.file_size_mb, self.max_open_files, nproc, drop,
                          new_netns=not bwrap, cgroup_procs=group.cgroup_procs)

    def _run(self, arguments: dict[str, Any]) -> ToolResult:
        code = arguments["code"]
        if len(code) > self.max_code_chars:
            return ToolResult(False, f"error: code too long ({len(code)} characters; at most {self.max_code_chars})")
        if not code.strip():
            return ToolResult(False, 'error: empty code; python expects {"code": string} with a program')
        uid = new_uid(self._is_root)
        workdir = None
        with Streams(code) as streams:
            try:
                group = self._limits.open_call()
            except OSError as exc:  # the call must not run without its limits
                return _infra_failure(f"the call's cgroup could not be created ({type(exc).__name__}: {exc})")
            try:
                if self._bwrap is not None:
                    argv, cwd, env = self._bwrap.command(uid), "/", {}
                else:
                    workdir = unsafe.make_workdir(uid)
                    argv = [self.python, *PYTHON_ARGS[:-1], "-c", unsafe.PRELUDE]
                    cwd = workdir
                    env = {"HOME": workdir, "TMPDIR": workdir, "PATH": SAFE_PATH, "LANG": "C.UTF-8",
                           **dict.fromkeys(THREAD_VARS, "1")}
                try:
                    rc, timed_out = self._execute(argv, cwd, env, streams, uid, group)
                except (OSError, subprocess.SubprocessError) as exc:  # no process started: nothing of the code ran
                    return _infra_failure(f"the sandbox could not start ({type(exc).__name__}: {exc})")
            finally:
                breach = group.close()
                if workdir is not None:
                    shutil.rmtree(workdir, ignore_errors=True)
            return self._report(rc, timed_out, breach, streams)

    def _execute(self, argv: list[str], cwd: str, env: dict[str, str], streams: Streams, uid: int | None,
                 group: CallGroup) -> tuple[int, bool]:
        proc = subprocess.Popen(argv, stdin=streams.stdin, stdout=streams.stdout, stderr=streams.stderr, cwd=cwd,
                                env=env, preexec_fn=self._child_setup(uid, group), start_new_session=True,
                                close_fds=True)
        timed_out = True
        try:
            group.watch(proc.pid, uid)
            timed_out = not wait_unreaped(proc.pid, self.timeout_s)
        finally:
            kill_tree(proc.pid, uid, extra=group.kill)
            proc.wait()  # reaped only now: until here the zombie keeps its pid (and group id) from reuse
        return proc.returncode, timed_out

    def _report(self, rc: int, timed_out: bool, breach: Breach, streams: Streams) -> ToolResult:
        budget = max(self.max_output_chars, 200)
        out, out_cut = streams.read("stdout", budget)
        err, err_cut = streams.read("stderr", budget)
        body = out
        if err:
            body += ("" if not body or body.endswith("\n") else "\n") + err
        truncated = out_cut or err_cut or len(body) > self.max_output_chars - 200
        # bwrap exits with 128 + N when the code died of signal N; a bare child has returncode -N.
        signo = -rc if rc < 0 else (rc - 128 if self._bwrap is not None and 128 < rc < 128 + 65 else 0)
        notes = []
        if timed_out:
            notes.append(f"timed out after {self.timeout_s:g}s (process killed)")
        elif signo == signal.SIGXCPU:
            notes.append(f"CPU time limit of {self.cpu_s}s reached (process killed)")
        elif signo == signal.SIGXFSZ:
            notes.append(f"file size limit of {self.file_size_mb} MB reached (process killed)")
        elif signo:
            notes.append(f"killed by signal {signal.Signals(signo).name if signo in _SIGNALS else signo}")
        elif rc != 0:
            notes.append(f"exit status {rc}")
        if breach.memory:
            notes.append(f"memory limit of {self.memory_mb} MB reached by the call's processes together (killed)")
        elif "MemoryError" in err:
            notes.append(f"memory limit of {self.memory_mb} MB reached")
        if breach.processes:
            notes.append(f"process limit of {self.max_processes} reached")
        if "File too large" in err and signo != signal.SIGXFSZ:
            notes.append(f"file size limit of {self.file_size_mb} MB reached")
        if truncated:
            notes.append("output truncated")
        ok = rc == 0 and not timed_out and not breach.memory
        if not body.strip() and ok:
            body = "(no output; print() the values you want to see)\n"
        text = truncate(body, max(self.max_output_chars - 200, 100))
        if notes:
            text += ("" if not text or text.endswith("\n") else "\n") + "[" + "; ".join(notes) + "]"
        return ToolResult(ok, text)


def _infra_failure(why: str) -> ToolResult:
    """A call that failed on the host's side before any of the agent's code ran (``ToolResult.infra_error``)."""
    return ToolResult(False, f"error: the python tool failed on the environment's side: {why}",
                      infra_error=f"python: {why}")


__all__ = ["BACKENDS", "INSTALL_HINT", "UID_BASE", "UID_SPAN", "UNSAFE", "PythonTool", "UnsafeSandboxWarning",
           "forget_probes", "sandbox_backend"]
