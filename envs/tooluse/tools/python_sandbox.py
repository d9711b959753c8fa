"""A Python tool that runs model-written code in a sandboxed subprocess.

Every call starts ``python3 -I`` (isolated mode: no user site, no ``PYTHON*`` variables) on the code,
read from stdin, in a fresh empty working directory, with resource limits always applied
(``setrlimit`` in the child before ``exec``): CPU seconds, address space, file size (which also caps
captured output), open files, process count, no core dumps. A wall-clock timeout kills everything the
call started. The code never runs as root: the kernel ignores ``RLIMIT_NPROC`` for uid 0, so only an
unprivileged uid makes the process cap (the fork-bomb guard) bind. When the host process is root, each
call runs under its own unused uid (``2100000000`` + random): its process count starts at zero, it owns
no file of the host, and every process it started can be found by uid and killed afterwards.

Two backends:

``bwrap`` (used when bubblewrap is installed and works here)
    The child runs in new mount, pid, network, ipc, uts (and cgroup) namespaces. The filesystem is a
    fresh root with ``/usr`` and the interpreter's prefix bound read-only, a few loader files of
    ``/etc``, a private ``/proc`` and ``/dev``, and size-capped tmpfs mounts at ``/tmp`` and at the
    working directory ``/sandbox``: nothing of the host's home, temp dirs or sockets is visible and
    nothing written reaches the host disk. The network namespace has only its own loopback. The
    environment is cleared, mounts are ``nosuid`` and ``no_new_privs`` is set. As root, bubblewrap runs
    without a user namespace (so it can bind this interpreter, with its installed packages, even from a
    root-only path such as ``/root/.pyenv``) and keeps only ``CAP_SETUID``/``CAP_SETGID`` for
    ``setpriv`` (or a two-line Python launcher) to drop to the call's uid before the code starts. As any
    other user, bubblewrap runs as that user inside a user namespace. The pid namespace dies with its
    init, so a timeout kill leaves no process behind.

``rlimit`` (fallback when bubblewrap is missing or cannot create namespaces; best effort)
    The same resource limits and uid, a temporary working directory on the host (removed after the
    call), a cleared environment, a new network namespace when the kernel allows it, and Python audit
    hooks (PEP 578) that refuse sockets, starting programs, ``ctypes`` and writes outside the working
    directory. Its limits: code can read world-readable host files and, as a fresh uid, write to
    world-writable directories (``/tmp``) by means the hooks do not see; as a non-root host user it runs
    as that user, so it can read that user's files, and a process that calls ``setsid`` escapes the
    final kill (it is still bound by its CPU limit). Install bubblewrap (``apt-get install bubblewrap``)
    for real isolation.

``PythonTool.backend`` tells which backend is active; ``sandbox_backend()`` tells what "auto" picks.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import resource
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from turngym.envs.core.errors import ConfigError
from turngym.envs.core.spaces import truncate
from turngym.envs.tooluse.base import ToolResult
from turngym.envs.tooluse.tools._common import safe_call, string_schema

BACKENDS = ("auto", "bwrap", "rlimit")
SANDBOX_DIR = "/sandbox"
"""The working directory inside the bwrap sandbox."""
UID_BASE, UID_SPAN = 2_100_000_000, 40_000_000
"""Per-call uids (when the host process is root) are drawn from ``[UID_BASE, UID_BASE + UID_SPAN)``."""

_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/alternatives")
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
_PATH = "/usr/local/bin:/usr/bin:/bin"
_SETPRIV = "/usr/bin/setpriv"

_PYTHON_ARGS = ("-I", "-X", "utf8", "-")
"""Isolated mode (no user site, ``PYTHON*`` variables ignored), UTF-8 I/O, program read from stdin."""

# Under bwrap as root without setpriv: the sandbox's first process drops to the call's uid, then
# becomes the interpreter that runs the agent's code (stdin is inherited). Capabilities go with the uid
# change; bwrap mounts nosuid and sets no_new_privs, so they cannot come back.
_DROP_LAUNCHER = (
    "import os, sys; os.setgroups([]); os.setresgid({gid}, {gid}, {gid}); os.setresuid({uid}, {uid}, {uid}); "
    "os.execv(sys.executable, [sys.executable, " + ", ".join(map(repr, _PYTHON_ARGS)) + "])"
)

# Run by the fallback backend before the agent's code (read from stdin): audit hooks that refuse network
# access, starting programs, ctypes (which could call libc around the hooks) and writes outside the
# working directory. Not a security boundary by itself; the uid and rlimits are. The hook keeps what it
# needs in default arguments because the module globals are cleared before the code runs.
_FALLBACK_PRELUDE = r"""
import os, sys
def _hook(event, args, _work=os.path.realpath(os.getcwd()), _real=os.path.realpath, _dec=os.fsdecode,
          _sep=os.sep, _flags=os.O_WRONLY | os.O_RDWR | os.O_CREAT,
          _deny=("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
                 "socket.gethostbyname", "socket.gethostbyaddr", "subprocess.Popen", "os.system", "os.exec",
                 "os.posix_spawn", "os.spawn", "os.startfile", "ctypes.dlopen", "ctypes.dlsym",
                 "ctypes.cdata", "ctypes.call_function", "sys.remote_exec")):
    if event.startswith(_deny):
        if event.startswith("ctypes"):
            raise ImportError("ctypes is disabled in this sandbox")
        raise PermissionError("sandbox: " + event + " is not allowed")
    if event == "open" and isinstance(args[0], (str, bytes)):
        mode, flags = args[1] or "", args[2] or 0
        if any(c in mode for c in "wax+") or flags & _flags:
            p = _real(_dec(args[0]))
            if not (p == _work or p.startswith(_work + _sep) or p == "/dev/null"):
                raise PermissionError("sandbox: writing outside the working directory is not allowed: " + p)
sys.addaudithook(_hook)
def _start(g=globals()):
    import os as o, sys as s
    code = compile(s.stdin.read(), "<stdin>", "exec")
    s.stdin = open(o.devnull)
    for k in [k for k in g if not k.startswith("__")]:
        del g[k]
    try:
        exec(code, g)
    except SystemExit:
        raise
    except BaseException as e:  # report without this prelude's frames
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == "<string>":
            tb = tb.tb_next
        s.excepthook(type(e), e.with_traceback(tb), tb)
        s.exit(1)
_start()
"""

_probe_lock = threading.Lock()
_probe_cache: dict[tuple[Any, ...], tuple[bool, str, bool]] = {}
_SIGNALS = {int(s) for s in signal.Signals}


def _load_libc() -> Any:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:  # pragma: no cover - every Linux has a libc
        return None


_LIBC = _load_libc()


def _world_accessible(path: str) -> bool:
    """True when any uid can execute ``path`` (every parent directory searchable, the file r-x)."""
    p = Path(path)
    try:
        if p.stat().st_mode & 0o005 != 0o005:
            return False
        return all(parent.stat().st_mode & stat.S_IXOTH for parent in p.parents)
    except OSError:
        return False


def _find_python(run_as_other_uid: bool) -> str:
    """An interpreter the sandbox uid can run without bwrap: this one if reachable, else the system one."""
    candidates = [sys.executable]
    candidates += [os.path.realpath(p) for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.path.exists(p)]
    for cand in candidates:
        if os.access(cand, os.X_OK) and (not run_as_other_uid or _world_accessible(os.path.realpath(cand))):
            return cand
    raise ConfigError("python interpreter", "a python3 the sandbox uid can execute (e.g. /usr/bin/python3)",
                      candidates)


def _python_dirs(exe: str) -> list[str]:
    """The directories outside the system dirs that interpreter ``exe`` needs.

    That is its prefix, the prefix of the binary it links to, and, for this interpreter, its (virtual
    environment's) ``sys.prefix``.
    """
    found = {Path(exe).parent.parent, Path(os.path.realpath(exe)).parent.parent}
    if os.path.realpath(exe) == os.path.realpath(sys.executable):
        found |= {Path(sys.prefix), Path(sys.base_prefix)}
    dirs = {os.path.realpath(d) for d in found if d.is_dir()}
    dirs = {d for d in dirs if d != "/" and not any(d == s or d.startswith(s + "/") for s in _SYSTEM_DIRS)}
    return sorted(d for d in dirs if not any(d.startswith(o + "/") for o in dirs))


@functools.lru_cache(maxsize=8)
def _bwrap_features(bwrap: str) -> frozenset[str]:
    try:
        text = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(flag for flag in ("--disable-userns", "--size", "--chmod") if flag in text)


def _proc_stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, ppid, pgrp, session) of ``pid`` from /proc, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            data = fh.read()
    except OSError:
        return None
    rest = data[data.rfind(")") + 2 :].split()
    return rest[0], int(rest[1]), int(rest[2]), int(rest[3])


def _live_pids(pred: Callable[[int, tuple[str, int, int, int]], bool]) -> list[int]:
    """Pids of live (non-zombie) processes for which ``pred(pid, stat)`` holds."""
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            pid = int(entry.name)
            st = _proc_stat(pid)
            if st is not None and st[0] != "Z" and pred(pid, st):
                out.append(pid)
    return out


def _owner(pid: int) -> int:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return -1


def _count_processes(uid: int) -> int:
    """How many tasks ``uid`` runs now (threads count, as for ``RLIMIT_NPROC``), from /proc."""
    total = 0
    for pid in _live_pids(lambda p, st: _owner(p) == uid):
        try:
            total += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue
    return total


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _wait_unreaped(pid: int, timeout: float) -> bool:
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


def _kill_tree(pid: int, uid: int | None) -> None:
    """Kills what the unreaped child ``pid`` started and waits until it is all gone.

    Order matters: first the child's own children (under bwrap, the sandbox's init, whose death ends
    its pid namespace), then the process group and session ``pid`` leads (``start_new_session``), and,
    when the call ran under its own uid, every process of that uid; repeated until none is left.
    """
    inner = _live_pids(lambda p, st: st[1] == pid)
    for child in inner:
        _kill(child)
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        left = _live_pids(lambda p, st: st[3] == pid or st[2] == pid or p in inner
                          or (uid is not None and _owner(p) == uid))
        if not left:
            return
        for p in left:
            _kill(p)
        time.sleep(0.005)


class _ChildSetup:
    """Applied in the child between ``fork`` and ``exec``: rlimits, then network namespace and uid."""

    def __init__(self, cpu_s: int, memory_mb: int, file_size_mb: int, max_open_files: int, nproc: int,
                 drop_to: int | None, new_netns: bool):
        self.rlimits = [
            (resource.RLIMIT_CORE, 0, 0),
            (resource.RLIMIT_CPU, cpu_s, cpu_s + 1),  # SIGXCPU at the soft limit, SIGKILL one second later
            (resource.RLIMIT_AS, memory_mb * 2**20, memory_mb * 2**20),
            (resource.RLIMIT_FSIZE, file_size_mb * 2**20, file_size_mb * 2**20),
            (resource.RLIMIT_NOFILE, max_open_files, max_open_files),
            (resource.RLIMIT_NPROC, nproc, nproc),
        ]
        self.drop_to = drop_to
        self.new_netns = new_netns

    def __call__(self) -> None:  # runs in the forked child: keep it to system calls
        for which, soft, hard in self.rlimits:
            cur_hard = resource.getrlimit(which)[1]
            if cur_hard != resource.RLIM_INFINITY:
                soft, hard = min(soft, cur_hard), min(hard, cur_hard)
            resource.setrlimit(which, (soft, hard))
        if self.new_netns and self.drop_to is not None and _LIBC is not None:
            _LIBC.unshare(_CLONE_NEWNET)  # as root no user namespace is needed; on failure the hooks remain
        if self.drop_to is not None:
            os.setgroups([])
            os.setresgid(self.drop_to, self.drop_to, self.drop_to)
            os.setresuid(self.drop_to, self.drop_to, self.drop_to)
        if _LIBC is not None:
            # After the uid change, which clears it: the sandbox dies with the thread that started it.
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if self.new_netns and self.drop_to is None:
                _LIBC.unshare(_CLONE_NEWUSER | _CLONE_NEWNET)


def sandbox_backend(backend: str = "auto") -> str:
    """The backend ``PythonTool(backend=...)`` uses here: ``"bwrap"`` or ``"rlimit"``.

    Args:
        backend: ``"auto"`` (bwrap when it works here, else rlimit), ``"bwrap"`` or ``"rlimit"``.

    Raises:
        ConfigError: ``backend`` is unknown, or ``"bwrap"`` was asked for and does not work here.
    """
    return PythonTool(backend=backend).backend


class PythonTool:
    """Runs Python code in a sandboxed subprocess and returns its output (see the module docstring).

    Args:
        timeout_s: Wall-clock limit of one call; everything the call started is killed after it.
        memory_mb: Address-space limit (``RLIMIT_AS``) of each process.
        max_output_chars: Output cap (stdout then stderr, head and tail kept around a marker).
        cpu_s: CPU-time limit (``RLIMIT_CPU``) of each process.
        backend: ``"auto"``, ``"bwrap"`` or ``"rlimit"`` (see the module docstring).
        file_size_mb: Largest file the code may write (``RLIMIT_FSIZE``; also caps captured output).
        disk_mb: Size of each tmpfs, the working directory and ``/tmp`` (bwrap backend).
        max_processes: Processes (threads included) the code may run at once (``RLIMIT_NPROC``).
        max_open_files: ``RLIMIT_NOFILE``.
        max_code_chars: Longest code accepted.
        python: Interpreter to run. Default: this one under bwrap (its installed packages are visible
            read-only), and for the fallback this one if the sandbox uid can reach it, else the system's
            ``python3``.

    Attributes:
        backend: The active backend, ``"bwrap"`` or ``"rlimit"``.
        python: The interpreter that runs the code.

    Raises:
        ConfigError: A limit is not positive, ``backend`` is unknown, or ``"bwrap"`` does not work here.
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
    ):
        for what, value in (("timeout_s", timeout_s), ("memory_mb", memory_mb), ("cpu_s", cpu_s),
                            ("max_output_chars", max_output_chars), ("file_size_mb", file_size_mb),
                            ("disk_mb", disk_mb), ("max_processes", max_processes),
                            ("max_open_files", max_open_files), ("max_code_chars", max_code_chars)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(what, "a positive number", value)
        if backend not in BACKENDS:
            raise ConfigError("backend", f"one of {', '.join(BACKENDS)}", backend, BACKENDS)
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
        self._bwrap = shutil.which("bwrap")
        self._features = _bwrap_features(self._bwrap) if self._bwrap else frozenset()
        self.backend = "rlimit"
        self.python = python or ""
        self._use_setpriv = False
        if backend != "rlimit":
            self.python = python or (sys.executable if self._is_root else _find_python(False))
            works, why = self._probe_bwrap()
            if works:
                self.backend = "bwrap"
            elif backend == "bwrap":
                raise ConfigError("backend", "a working bubblewrap ('bwrap' on PATH, able to create "
                                  "namespaces; apt-get install bubblewrap)", f"bwrap: {why}")
        if self.backend == "rlimit":
            self.python = python or _find_python(run_as_other_uid=self._is_root)

    def call(self, arguments: dict[str, Any]) -> ToolResult:
        """Runs ``arguments["code"]``; errors, timeouts and limits come back as ``ok=False`` results."""
        return safe_call(self.name, self.parameters, arguments, self._run, self.max_output_chars)

    # -- command lines ----------------------------------------------------------------------------

    def _bwrap_command(self, uid: int | None) -> list[str]:
        """The bwrap command line that runs the code read from stdin (as ``uid`` when root)."""
        assert self._bwrap is not None
        common = ["--die-with-parent", "--new-session", "--clearenv", "--hostname", "sandbox"]
        if self._is_root:
            # No user namespace: as root, bwrap can mount without one. setpriv below drops to ``uid``.
            argv = [self._bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                    "--unshare-cgroup-try", *common, "--cap-drop", "ALL", "--cap-add", "CAP_SETUID",
                    "--cap-add", "CAP_SETGID"]
        else:
            argv = [self._bwrap, "--unshare-all", "--unshare-user", *common]
            if "--disable-userns" in self._features:
                argv.append("--disable-userns")
        for d in _SYSTEM_DIRS:
            if os.path.islink(d):
                argv += ["--symlink", os.readlink(d), d]
            elif os.path.isdir(d):
                argv += ["--ro-bind", d, d]
        size = ["--size", str(self.disk_mb * 2**20)] if "--size" in self._features else []
        # /tmp first: an interpreter (or virtualenv) under /tmp is then bound on top of the tmpfs.
        argv += ["--proc", "/proc", "--dev", "/dev", *size, "--tmpfs", "/tmp"]
        created: list[str] = []  # directories bwrap creates as parents of mount points
        for d in _python_dirs(self.python):
            argv += ["--ro-bind", d, d]
            created += [str(a) for a in Path(d).parents if str(a) != "/" and str(a) not in created]
        for f in _ETC_FILES:
            if os.path.exists(f):
                argv += ["--ro-bind", f, f]
                created += [] if "/etc" in created else ["/etc"]
        argv += [*size, "--tmpfs", SANDBOX_DIR]
        if self._is_root:
            # As root, bwrap creates mount-point parents with the host's modes (/root is 0700) and the
            # tmpfs mounts as root's: open them to the uid the code runs as.
            argv += [x for a in sorted(created) if a != "/tmp" for x in ("--chmod", "0755", a)]
            argv += ["--chmod", "1777", "/tmp", "--chmod", "1777", SANDBOX_DIR]
        argv += ["--chdir", SANDBOX_DIR]
        env = {"HOME": SANDBOX_DIR, "TMPDIR": "/tmp", "PATH": _PATH, "LANG": "C.UTF-8",
               **dict.fromkeys(_THREAD_VARS, "1")}
        for key, value in env.items():
            argv += ["--setenv", key, value]
        if uid is None:
            return [*argv, "--", self.python, *_PYTHON_ARGS]
        if self._use_setpriv:  # util-linux; saves a second interpreter start
            return [*argv, "--", _SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                    "--inh-caps=-all", self.python, *_PYTHON_ARGS]
        return [*argv, "--", self.python, "-I", "-c", _DROP_LAUNCHER.format(uid=uid, gid=uid)]

    def _probe_bwrap(self) -> tuple[bool, str]:
        """Whether the bwrap command line works here (run once per interpreter and uid kind, then cached)."""
        if self._bwrap is None:
            return False, "not installed"
        key = (self._bwrap, self.python, self._is_root)
        with _probe_lock:
            if key not in _probe_cache:
                # As root, try dropping the uid with setpriv first, then with the Python launcher.
                variants = [True, False] if self._is_root and os.access(_SETPRIV, os.X_OK) else [False]
                for use_setpriv in variants:
                    self._use_setpriv = use_setpriv
                    ok, why = self._probe_once()
                    if ok:
                        break
                _probe_cache[key] = (ok, why, self._use_setpriv)
            ok, why, self._use_setpriv = _probe_cache[key]
            return ok, why

    def _probe_once(self) -> tuple[bool, str]:
        uid = self._new_uid()
        probe = b"import os; print(os.getuid() != 0 and 6 * 7)"
        try:
            done = subprocess.run(self._bwrap_command(uid), capture_output=True, timeout=30, input=probe,
                                  preexec_fn=self._child_setup(uid, bwrap=True), cwd="/")
        except (OSError, subprocess.SubprocessError) as exc:
            return False, str(exc)
        if done.returncode == 0 and done.stdout.strip() == b"42":
            return True, ""
        return False, done.stderr.decode(errors="replace").strip()[-300:] or f"exit status {done.returncode}"

    def _new_uid(self) -> int | None:
        """A fresh unused uid for one call when root (None otherwise: the code runs as this user)."""
        if not self._is_root:
            return None
        while True:
            uid = UID_BASE + secrets.randbelow(UID_SPAN)
            if _count_processes(uid) == 0:
                return uid

    def _child_setup(self, uid: int | None, bwrap: bool) -> _ChildSetup:
        # RLIMIT_NPROC counts every task of the real uid: a fresh uid has none; this user has some.
        nproc = self.max_processes + (0 if uid is not None else _count_processes(os.getuid()))
        drop = None if bwrap else uid  # under bwrap, setpriv inside the sandbox drops the uid
        return _ChildSetup(self.cpu_s, self.memory_mb, self.file_size_mb, self.max_open_files, nproc, drop,
                           new_netns=not bwrap)

    # -- running ----------------------------------------------------------------------------------

    def _run(self, arguments: dict[str, Any]) -> ToolResult:
        code = arguments["code"]
        if len(code) > self.max_code_chars:
            return ToolResult(False, f"error: code too long ({len(code)} characters; at most {self.max_code_chars})")
        if not code.strip():
            return ToolResult(False, 'error: empty code; python expects {"code": string} with a program')
        uid = self._new_uid()
        private = tempfile.mkdtemp(prefix="turngym-py-")  # 0700: code and captured output, host side only
        workdir = None
        try:
            with open(os.path.join(private, "code.py"), "w", encoding="utf-8", errors="surrogatepass") as fh:
                fh.write(code)
            if self.backend == "bwrap":
                argv, cwd, env = self._bwrap_command(uid), "/", {}
            else:
                workdir = tempfile.mkdtemp(prefix="turngym-py-work-")
                if uid is not None:
                    os.chown(workdir, uid, uid)
                argv = [self.python, *_PYTHON_ARGS[:-1], "-c", _FALLBACK_PRELUDE]
                cwd = workdir
                env = {"HOME": workdir, "TMPDIR": workdir, "PATH": _PATH, "LANG": "C.UTF-8",
                       **dict.fromkeys(_THREAD_VARS, "1")}
            return self._execute(argv, cwd, env, self._child_setup(uid, self.backend == "bwrap"), uid, private)
        finally:
            shutil.rmtree(private, ignore_errors=True)
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)

    def _execute(self, argv: list[str], cwd: str, env: dict[str, str], setup: _ChildSetup, uid: int | None,
                 private: str) -> ToolResult:
        out_path, err_path = os.path.join(private, "stdout"), os.path.join(private, "stderr")
        with open(os.path.join(private, "code.py"), "rb") as stdin, open(out_path, "wb") as out, \
                open(err_path, "wb") as err:
            proc = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=err, cwd=cwd, env=env,
                                    preexec_fn=setup, start_new_session=True, close_fds=True)
            try:
                timed_out = not _wait_unreaped(proc.pid, self.timeout_s)
                _kill_tree(proc.pid, uid)
            finally:
                proc.wait()  # reaped only now: until here the zombie keeps its pid (and group id) from reuse
        return self._report(proc.returncode, timed_out, out_path, err_path)

    def _report(self, rc: int, timed_out: bool, out_path: str, err_path: str) -> ToolResult:
        budget = max(self.max_output_chars, 200)
        out, out_cut = _read_capped(out_path, budget)
        err, err_cut = _read_capped(err_path, budget)
        body = out
        if err:
            body += ("" if not body or body.endswith("\n") else "\n") + err
        truncated = out_cut or err_cut or len(body) > self.max_output_chars - 200
        # bwrap exits with 128 + N when the code died of signal N; a bare child has returncode -N.
        signo = -rc if rc < 0 else (rc - 128 if self.backend == "bwrap" and 128 < rc < 128 + 65 else 0)
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
        if "MemoryError" in err:
            notes.append(f"memory limit of {self.memory_mb} MB reached")
        if "File too large" in err and signo != signal.SIGXFSZ:
            notes.append(f"file size limit of {self.file_size_mb} MB reached")
        if truncated:
            notes.append("output truncated")
        ok = rc == 0 and not timed_out
        if not body.strip() and ok:
            body = "(no output; print() the values you want to see)\n"
        text = truncate(body, max(self.max_output_chars - 200, 100))
        if notes:
            text += ("" if not text or text.endswith("\n") else "\n") + "[" + "; ".join(notes) + "]"
        return ToolResult(ok, text)


def _read_capped(path: str, limit: int) -> tuple[str, bool]:
    """Reads a captured stream, keeping at most ``limit`` bytes of head and of tail."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            if size <= 2 * limit:
                return fh.read().decode("utf-8", errors="replace"), False
            head = fh.read(limit)
            fh.seek(size - limit)
            tail = fh.read(limit)
    except OSError:
        return "", False
    marker = "\n[... truncated ...]\n"
    return head.decode("utf-8", errors="replace") + marker + tail.decode("utf-8", errors="replace"), True
