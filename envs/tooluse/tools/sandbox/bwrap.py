"""The isolating backend: the bubblewrap command line that runs one call, and the probe that checks it.

The child runs in new mount, pid, network, ipc, uts (and cgroup) namespaces. Its file system is a fresh
read-only root holding ``/usr`` (and the ``/bin``, ``/lib`` links), the interpreter's prefix and a few
loader files of ``/etc``, all bound read-only; a private ``/proc`` (its own pid namespace: no other
process is visible) and a minimal ``/dev`` remounted read-only; and four size-capped tmpfs mounts, the
only writable places: the working directory ``/sandbox``, ``/tmp``, ``/dev/shm`` (``--dev`` alone gives
an uncapped one) each ``disk_mb``. Nothing of the host's home, temp dirs, project or sockets is visible
and nothing written reaches the host disk. The network namespace has only its own loopback. The
environment is cleared, mounts are ``nosuid``, ``no_new_privs`` is set, and bubblewrap and the sandbox's
init die with the process that started them (``--die-with-parent``), which ends the pid namespace.

As root, bubblewrap runs without a user namespace (so it can bind this interpreter, with its installed
packages, even from a root-only path such as ``/root/.pyenv``) and keeps only ``CAP_SETUID``/
``CAP_SETGID`` for ``setpriv`` (or a two-line Python launcher) to drop to the call's own uid before the
code starts. As any other user, bubblewrap runs as that user inside a user namespace (and forbids nested
ones where it can, ``--disable-userns``).
"""

from __future__ import annotations

import functools
import os
import subprocess
import threading
from pathlib import Path

from turngym.envs.tooluse.tools.sandbox.child import ChildSetup
from turngym.envs.tooluse.tools.sandbox.interpreter import PYTHON_ARGS, SYSTEM_DIRS, python_dirs

SANDBOX_DIR = "/sandbox"
"""The working directory inside the sandbox."""
REQUIRED_FEATURES = ("--size", "--chmod")
"""bubblewrap options (0.5.0+) the backend cannot do without: ``--size`` caps the tmpfs mounts, ``--chmod``
opens them to the call's uid."""
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/alternatives")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
SETPRIV = "/usr/bin/setpriv"

# As root without setpriv: the sandbox's first process drops to the call's uid, then becomes the
# interpreter that runs the agent's code (stdin is inherited). Capabilities go with the uid change;
# bwrap mounts nosuid and sets no_new_privs, so they cannot come back.
_DROP_LAUNCHER = (
    "import os, sys; os.setgroups([]); os.setresgid({gid}, {gid}, {gid}); os.setresuid({uid}, {uid}, {uid}); "
    "os.execv(sys.executable, [sys.executable, " + ", ".join(map(repr, PYTHON_ARGS)) + "])"
)
_PROBE_CODE = b"import os; print(os.getuid() != 0 and not os.path.exists('/etc/passwd') and 6 * 7)"

_probe_lock = threading.Lock()
_probe_cache: dict[tuple[str, str, bool], tuple[bool, str, bool]] = {}


@functools.lru_cache(maxsize=8)
def bwrap_features(bwrap: str) -> frozenset[str]:
    """The optional bubblewrap flags ``bwrap --help`` lists (``--size``, ``--chmod``, ``--disable-userns``)."""
    try:
        text = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(flag for flag in ("--disable-userns", "--size", "--chmod") if flag in text)


def forget_bwrap_probes() -> None:
    """Drops the cached probe results (after bubblewrap was installed or changed in a running process)."""
    with _probe_lock:
        _probe_cache.clear()
    bwrap_features.cache_clear()


class BwrapSandbox:
    """Builds and probes the bubblewrap command line of one tool (see the module docstring).

    Args:
        bwrap: Path of the ``bwrap`` executable.
        python: Interpreter to run inside (its prefix is bound read-only).
        is_root: Whether this process is root (no user namespace; drop to a per-call uid inside).
        disk_mb: Size of each tmpfs (``/sandbox``, ``/tmp``, ``/dev/shm``).
    """

    def __init__(self, bwrap: str, python: str, is_root: bool, disk_mb: int):
        self.bwrap = bwrap
        self.python = python
        self.is_root = is_root
        self.disk_mb = disk_mb
        self.features = bwrap_features(bwrap)
        self.use_setpriv = False

    def command(self, uid: int | None) -> list[str]:
        """The command line that runs the code read from stdin (as ``uid`` when root)."""
        common = ["--die-with-parent", "--new-session", "--clearenv", "--hostname", "sandbox"]
        if self.is_root:
            # No user namespace: as root, bwrap can mount without one. setpriv below drops to ``uid``.
            argv = [self.bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                    "--unshare-cgroup-try", *common, "--cap-drop", "ALL", "--cap-add", "CAP_SETUID",
                    "--cap-add", "CAP_SETGID"]
        else:
            argv = [self.bwrap, "--unshare-all", "--unshare-user", *common]
            if "--disable-userns" in self.features:
                argv.append("--disable-userns")
        for d in SYSTEM_DIRS:
            if os.path.islink(d):
                argv += ["--symlink", os.readlink(d), d]
            elif os.path.isdir(d):
                argv += ["--ro-bind", d, d]
        size = ["--size", str(self.disk_mb * 2**20)]
        # /tmp before the interpreter: an interpreter (or virtualenv) under /tmp is then bound on top.
        argv += ["--proc", "/proc", "--dev", "/dev", *size, "--tmpfs", "/dev/shm", *size, "--tmpfs", "/tmp"]
        created: list[str] = []  # directories bwrap creates as parents of mount points
        for d in python_dirs(self.python):
            argv += ["--ro-bind", d, d]
            created += [str(a) for a in Path(d).parents if str(a) != "/" and str(a) not in created]
        for f in ETC_FILES:
            if os.path.exists(f):
                argv += ["--ro-bind", f, f]
                created += [] if "/etc" in created else ["/etc"]
        argv += [*size, "--tmpfs", SANDBOX_DIR]
        if self.is_root:
            # As root, bwrap creates mount-point parents with the host's modes (/root is 0700) and the
            # tmpfs mounts as root's: open them to the uid the code runs as.
            argv += [x for a in sorted(created) if a != "/tmp" for x in ("--chmod", "0755", a)]
            argv += [x for d in ("/tmp", "/dev/shm", SANDBOX_DIR) for x in ("--chmod", "1777", d)]
        # The root and /dev are tmpfs mounts bwrap made; as the user-namespace owner the code could fill
        # them without a size cap. Read-only, only the four capped mounts above stay writable.
        argv += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", SANDBOX_DIR]
        env = {"HOME": SANDBOX_DIR, "TMPDIR": "/tmp", "PATH": SAFE_PATH, "LANG": "C.UTF-8",
               **dict.fromkeys(THREAD_VARS, "1")}
        for key, value in env.items():
            argv += ["--setenv", key, value]
        if uid is None:
            return [*argv, "--", self.python, *PYTHON_ARGS]
        if self.use_setpriv:  # util-linux; saves a second interpreter start
            return [*argv, "--", SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                    "--inh-caps=-all", self.python, *PYTHON_ARGS]
        return [*argv, "--", self.python, "-I", "-c", _DROP_LAUNCHER.format(uid=uid, gid=uid)]

    def probe(self, uid: int | None) -> tuple[bool, str]:
        """Whether the command line works here; run once per bwrap, interpreter and uid kind, then cached.

        Args:
            uid: A fresh uid to try the drop with (root), or None.

        Returns:
            ``(True, "")`` or ``(False, why)``.
        """
        missing = [f for f in REQUIRED_FEATURES if f not in self.features]
        if missing:
            return False, (f"{self.bwrap} lacks {', '.join(missing)} (bubblewrap 0.5.0 or newer is needed to "
                           "cap the sandbox's tmpfs mounts; upgrade it)")
        key = (self.bwrap, self.python, self.is_root)
        with _probe_lock:
            if key not in _probe_cache:
                # As root, try dropping the uid with setpriv first, then with the Python launcher.
                variants = [True, False] if self.is_root and os.access(SETPRIV, os.X_OK) else [False]
                ok, why = False, ""
                for use_setpriv in variants:
                    self.use_setpriv = use_setpriv
                    ok, why = self._probe_once(uid)
                    if ok:
                        break
                _probe_cache[key] = (ok, why, self.use_setpriv)
            ok, why, self.use_setpriv = _probe_cache[key]
            return ok, why

    def _probe_once(self, uid: int | None) -> tuple[bool, str]:
        # RLIMIT_NPROC counts every process of a non-root user: leave room for the ones it runs already.
        setup = ChildSetup(cpu_s=10, memory_mb=1024, file_size_mb=1, max_open_files=64,
                           nproc=64 if uid is not None else 1 << 20, drop_to=None, new_netns=False)
        try:
            done = subprocess.run(self.command(uid), capture_output=True, timeout=30, input=_PROBE_CODE,
                                  preexec_fn=setup, cwd="/")
        except (OSError, subprocess.SubprocessError) as exc:
            return False, str(exc)
        if done.returncode == 0 and done.stdout.strip() == b"42":
            return True, ""
        return False, done.stderr.decode(errors="replace").strip()[-300:] or f"exit status {done.returncode}"
