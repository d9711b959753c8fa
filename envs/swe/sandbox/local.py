"""The local sandbox backend: a bubblewrap "container" per sandbox, for machines without Docker.

Layout of the "image" (``SandboxSpec.image`` is a directory): ``<image>/repo/`` is a git work tree whose
committed ``HEAD`` is the start state, and ``<image>/site/`` (optional) holds the repository's dependencies
installed with ``pip install --target``. Both are only ever read.

How one sandbox is built (the docker backend's shape: one long-lived container, ``exec`` per command):

* **Holder.** One bubblewrap process per sandbox holds its namespaces (mount, pid, ipc, uts, and network
  unless ``spec.network``): a read-only root with only ``/usr`` (and the ``/bin``, ``/lib`` links), this
  interpreter's prefix and the loader files of ``/etc``; a private ``/proc`` and ``/dev``; and three
  size-capped tmpfs mounts that are the only writable places: the work tree at ``spec.workdir``, ``/tmp`` and
  ``/dev/shm`` (``spec.disk_mb`` each). The work tree living in a capped tmpfs is the disk-fill guard: a
  command that writes without end gets ``ENOSPC`` at ``disk_mb`` and nothing reaches the host disk; the
  tmpfs vanishes with the holder, so even a driver killed by ``SIGKILL`` leaves no mount behind (a quota or
  a loop-mounted image would need host setup and outlive the driver). The price is RAM: up to 3 x
  ``disk_mb`` per sandbox when an agent fills all three, and the tree's own size while it is idle.
  ``<image>/repo/.git/objects`` is bound read-only and serves as the work tree's git object store
  (``objects/info/alternates``), so only the checked-out files and a small ``.git`` live in the tmpfs.
  The holder's init (``sh -c 'read _'``, root without capabilities, which the agent's uid cannot signal)
  exits when the pipe on its stdin closes, i.e. when the driver process dies, however it dies; its pid
  namespace then dies with it. (``--die-with-parent`` is not used for the holder: its death signal fires
  when the *thread* that started it exits, and pools start sandboxes from worker threads.)
* **exec.** ``nsenter`` enters the holder's namespaces through descriptors opened at start (so a recycled
  pid can never point it at another process's namespaces), ``setpriv`` drops to the sandbox's own unused
  uid (no capabilities, ``no_new_privs``), and ``bash -c`` runs the command in the work tree. Each command
  runs under the python tool's limits (``tooluse.tools.sandbox``): rlimits (CPU seconds, address space,
  file size = ``disk_mb``, processes = ``spec.pids``, no core dumps) and a cgroup capping the memory and
  tasks of all its processes together (``memory_mb``, ``pids``; an RSS watchdog where no cgroup can be made),
  and its wall-clock limit. When the command ends (or times out) every process of the sandbox's uid is
  killed, so nothing it started outlives it (``procs.kill_tree``). ``spec.cpus`` is not enforced as a rate
  (the aggregate limits cap memory and tasks only); CPU time per process is capped by ``RLIMIT_CPU``.
* **reset.** Kills every process of the sandbox's uid, empties ``/tmp``, ``/dev/shm`` and the uid's SysV IPC
  objects, replaces ``.git`` wholesale with a pristine skeleton kept on the host (config, ``HEAD``, refs,
  index and the alternates file, bound read-only), then ``git reset --hard <commit>`` + ``git clean -ffdx``
  and checks ``git status`` is empty. Everything runs inside the sandbox as the sandbox's uid: git never
  runs on the host against a tree the agent controlled (hooks, ``core.fsmonitor``, filters, planted
  symlinks). Whatever the agent did to ``.git`` (``rm -rf``, hooks, config, stashes, extra refs,
  ``assume-unchanged`` bits, forged loose objects) is gone with it. If that fails (e.g. a directory made
  unreadable), the tree is emptied and checked out again; if that fails too, ``SandboxError``.
* **read_file / write_file** run on the host, resolved component by component under a descriptor of the
  work tree (``local_paths``): a path or planted symlink leaving the tree is a ``ValueError``.

Every sandbox has a host directory ``<tmp>/turngym.swe-local-<pid>-<random>`` (the git skeleton and an
``owner`` file with the driver's pid and start time); ``close()`` and interpreter exit remove it and the
holder, and ``reap_local()`` removes those whose driver is gone (``turngym swe clean``).

Needs: root (``nsenter`` into the holder's mount namespace), bubblewrap 0.5+ (``apt-get install
bubblewrap``), util-linux's ``nsenter`` and ``setpriv``, git and bash. Without them construction raises
``ConfigError``; there is no weaker fallback.
"""

from __future__ import annotations

import json
import math
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path

from turngym.envs.core.errors import ConfigError
from turngym.envs.swe.sandbox.base import LABEL, ExecResult, Sandbox, SandboxError, SandboxSpec, head_tail
from turngym.envs.swe.sandbox.local_paths import read_tree_file, write_tree_file
from turngym.envs.swe.sandbox.local_run import run_command
from turngym.envs.tooluse.tools.sandbox.aggregate import AggregateLimits
from turngym.envs.tooluse.tools.sandbox.bwrap import ETC_FILES, SAFE_PATH, SETPRIV, bwrap_features
from turngym.envs.tooluse.tools.sandbox.child import ChildSetup
from turngym.envs.tooluse.tools.sandbox.interpreter import SYSTEM_DIRS, python_dirs
from turngym.envs.tooluse.tools.sandbox.procs import kill, live_pids, new_uid, owner, pid_alive

INSTALL_HINT = "apt-get install bubblewrap"
DIR_PREFIX = f"{LABEL}-local-"
"""Host directories of local sandboxes are named ``<tmp>/turngym.swe-local-<driver pid>-<random>``."""
OBJECTS_DIR = "/opt/turngym/objects"
"""Inside the sandbox: the image's git object store (read-only), the work tree's git alternate."""
GIT_SKELETON = "/opt/turngym/git"
"""Inside the sandbox: the pristine ``.git`` (without objects) that ``reset`` copies over the work tree's."""
SITE_DIR = "/opt/turngym/site"
"""Inside the sandbox: ``<image>/site`` (read-only, on ``PYTHONPATH``)."""
REQUIRED_TOOLS = ("nsenter", "setpriv", "git", "bash")
OBJECTS_GID = 2_099_999_001
"""The group that alone may read a *protected* image's object store (``protect_objects``): ``reset`` runs with it
as a supplementary group, the agent's commands run with no group (``--clear-groups``). Outside the sandbox uid
range (``procs.UID_BASE``), so no sandbox's own gid is ever this one."""
_NAMESPACES = ("mnt", "uts", "ipc", "net", "pid")
_NSENTER_FLAGS = {"mnt": "--mount", "uts": "--uts", "ipc": "--ipc", "net": "--net", "pid": "--pid"}
_COMMIT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./^~@{}-]{0,255}$")
_START_TIMEOUT_S = 30.0
_RESET_TIMEOUT_S = 120.0
_OUTPUT_MARKER = "\n[... {n} characters cut ...]\n"

# Runs inside the sandbox as its uid; $1 = work tree, $2 = commit. Exit 0 = the tree is exactly the commit.
_RESET_SCRIPT = r"""
set -u
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
g() { git -c core.hooksPath=/dev/null -c core.fsmonitor=false -c gc.auto=0 "$@"; }
find /tmp /dev/shm -mindepth 1 -delete 2>/dev/null \
  || { chmod -R u+rwX /tmp /dev/shm; find /tmp /dev/shm -mindepth 1 -delete; }
ipcrm --all 2>/dev/null
cd "$1" || exit 90
checkout() {
  rm -rf .git && cp -R "$3" .git && g reset -q --hard "$2" && g clean -qffdx \
    && test -z "$(g status --porcelain --ignored --untracked-files=all)"
}
checkout "$1" "$2" "$3" 2>/dev/null && exit 0
# Slow path: something in the tree resisted (unreadable directories, a file where .git should be): empty it.
chmod -R u+rwX . 2>/dev/null
find . -mindepth 1 -delete || exit 91
checkout "$1" "$2" "$3"
"""

_probe_lock = threading.Lock()
_probe_cache: dict[str, str] = {}


def _refuse(why: str) -> ConfigError:
    return ConfigError("local sandbox backend", f"root, a working bubblewrap 0.5+ (install it: {INSTALL_HINT}), "
                       "util-linux (nsenter, setpriv), git and bash", why)


def _start_time(pid: int) -> str | None:
    """Process ``pid``'s start time (clock ticks since boot; ``/proc/<pid>/stat`` field 22), None when gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            data = fh.read()
    except OSError:
        return None
    return data[data.rfind(")") + 2:].split()[19]


def _bwrap_path() -> str:
    """The ``bwrap`` to use, after checking it (and the other tools) work here; ConfigError otherwise."""
    if os.geteuid() != 0:
        raise _refuse(f"running as uid {os.geteuid()}: the local backend needs root to enter its sandboxes' "
                      "namespaces (use the docker backend otherwise)")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise _refuse("bwrap: not found on PATH")
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        raise _refuse(f"not found on PATH: {', '.join(missing)}")
    lacking = [flag for flag in ("--size", "--chmod") if flag not in bwrap_features(bwrap)]
    if lacking:
        raise _refuse(f"{bwrap} lacks {', '.join(lacking)} (bubblewrap 0.5.0 or newer caps tmpfs sizes; upgrade)")
    with _probe_lock:
        if bwrap not in _probe_cache:
            argv = [bwrap, "--unshare-all", "--die-with-parent", "--cap-drop", "ALL",
                    *_system_binds(), "--proc", "/proc", "--dev", "/dev", "--size", str(2**20), "--tmpfs", "/w",
                    "--remount-ro", "/", "--", "/bin/sh", "-c", "test -w /w && ! test -e /etc/passwd"]
            try:
                done = subprocess.run(argv, capture_output=True, timeout=30)
                why = "" if done.returncode == 0 else (done.stderr.decode(errors="replace").strip()[-300:]
                                                      or f"exit status {done.returncode}")
            except (OSError, subprocess.SubprocessError) as exc:
                why = str(exc)
            _probe_cache[bwrap] = why
        why = _probe_cache[bwrap]
    if why:
        raise _refuse(f"bwrap does not work here: {why}")
    return bwrap


def forget_local_probe() -> None:
    """Forgets whether bubblewrap worked here (after installing or changing it in a running process)."""
    with _probe_lock:
        _probe_cache.clear()
    bwrap_features.cache_clear()


def _system_binds() -> list[str]:
    argv: list[str] = []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            argv += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            argv += ["--ro-bind", d, d]
    return argv


def _check_image(image: str) -> tuple[Path, Path | None]:
    root = Path(image)
    repo = root / "repo"
    if not (repo / ".git" / "objects").is_dir():
        raise ConfigError("local sandbox image", "a directory holding repo/ (a git work tree with its start state "
                          "committed) and optionally site/ (dependencies installed with pip install --target)",
                          image)
    site = root / "site"
    return repo, (site if site.is_dir() else None)


def protect_objects(image: str | Path) -> None:
    """Makes ``<image>/repo/.git/objects`` readable only by root and ``OBJECTS_GID`` (idempotent).

    The object store holds every file of the image's commits, e.g. the clean source a task's bug was made from
    (its gold fix). ``reset`` needs it; the agent's commands do not (the SWE env gives each episode a fresh
    repository without alternates), so with the store protected they cannot read it at ``OBJECTS_DIR``. The
    directory's own mode is enough: nothing below it can be reached without search permission on it.
    """
    objects = Path(image) / "repo" / ".git" / "objects"
    st = objects.stat()
    if st.st_gid != OBJECTS_GID or st.st_mode & 0o777 != 0o750:
        os.chown(objects, 0, OBJECTS_GID)
        objects.chmod(0o750)


def _reader_group(repo: Path) -> int | None:
    """``OBJECTS_GID`` when the image's object store is protected (``protect_objects``), else None."""
    st = (repo / ".git" / "objects").stat()
    return OBJECTS_GID if st.st_gid == OBJECTS_GID and not st.st_mode & 0o007 else None


def _git_host(repo: Path, *args: str) -> str:
    """Git on the host, only ever on the image (trusted, never written by an agent), hooks off."""
    env = {"PATH": SAFE_PATH, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "HOME": "/nonexistent"}
    done = subprocess.run(["git", "-c", "core.hooksPath=/dev/null", "-C", str(repo), *args], capture_output=True,
                          text=True, env=env, timeout=60)
    if done.returncode != 0:
        raise ConfigError("local sandbox image", f"a git repository at {repo} with a commit", done.stderr.strip())
    return done.stdout.strip()


def _make_skeleton(repo: Path, dest: Path) -> None:
    """A ``.git`` without objects: minimal config, ``HEAD``, refs, index, and the alternates file."""
    src = repo / ".git"
    dest.mkdir()
    (dest / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
                                 "\tlogallrefupdates = false\n")
    for name in ("HEAD", "packed-refs", "index"):
        if (src / name).is_file():
            shutil.copyfile(src / name, dest / name)
    shutil.copytree(src / "refs", dest / "refs", symlinks=False) if (src / "refs").is_dir() else (dest / "refs").mkdir()
    (dest / "objects" / "info").mkdir(parents=True)
    (dest / "objects" / "pack").mkdir()
    (dest / "objects" / "info" / "alternates").write_text(OBJECTS_DIR + "\n")
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


class _Holder:
    """The processes, descriptors and host directory of one sandbox; ``stop()`` releases all of them.

    Kept apart from ``LocalSandbox`` so that ``weakref.finalize`` can stop it at interpreter exit (or when the
    sandbox is garbage-collected) without keeping the sandbox alive.
    """

    def __init__(self, uid: int, host_dir: str):
        self.uid = uid
        self.host_dir = host_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.life_fd = -1  # write end of the init's stdin: closing it ends the sandbox
        self.init_pid = 0
        self.pidfd = -1
        self.ns_fds: dict[str, int] = {}
        self.root_fd = -1
        self.tree_fd = -1

    def kill_uid(self) -> None:
        """Kills every process of the sandbox's uid and waits until none is left (bounded)."""
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            left = live_pids(lambda p, st: owner(p) == self.uid)
            if not left:
                return
            for pid in left:
                kill(pid)
            time.sleep(0.002)

    def stop(self) -> None:
        self.kill_uid()
        if self.life_fd >= 0:
            os.close(self.life_fd)
            self.life_fd = -1
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                if self.init_pid and self.pidfd >= 0 and not _exited(self.pidfd):
                    kill(self.init_pid)  # its death ends the pid namespace, then bwrap exits
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        for fd in [*self.ns_fds.values(), self.root_fd, self.tree_fd, self.pidfd]:
            if fd >= 0:
                os.close(fd)
        self.ns_fds, self.root_fd, self.tree_fd, self.pidfd = {}, -1, -1, -1
        shutil.rmtree(self.host_dir, ignore_errors=True)


def _exited(pidfd: int) -> bool:
    return bool(select.select([pidfd], [], [], 0)[0])


class LocalSandbox(Sandbox):
    """One bubblewrap sandbox holding a private, size-capped copy of a repository (module docstring).

    Args:
        spec: What to run; ``spec.image`` is the prepared directory (``repo/``, optional ``site/``).
        python: Interpreter offered inside as ``python``/``python3`` (its prefix is bound read-only). Default:
            this one, so packages installed here (pytest) are importable there.

    Attributes:
        start_commit: The full hash of ``<image>/repo``'s ``HEAD``: what ``reset()`` returns to.
        uid: The uid the sandbox's commands run as.
        host_dir: The sandbox's marked host directory.

    Raises:
        ConfigError: Bubblewrap (or root, nsenter, setpriv, git, bash) is missing or does not work here, or the
            image is not a prepared repository.
        SandboxError: The sandbox did not start.
    """

    backend = "local"

    def __init__(self, spec: SandboxSpec, *, python: str | None = None):
        super().__init__(spec)
        if not spec.workdir.startswith("/") or os.path.normpath(spec.workdir) in ("/", *SYSTEM_DIRS, "/tmp", "/proc",
                                                                                    "/dev", "/opt", "/opt/turngym"):
            raise ConfigError("workdir", "an absolute path of its own, e.g. /testbed", spec.workdir)
        for what in ("memory_mb", "pids", "disk_mb", "exec_timeout_s", "max_output_chars"):
            if getattr(spec, what) <= 0:
                raise ConfigError(what, "a positive number", getattr(spec, what))
        self._bwrap = _bwrap_path()
        self._repo, self._site = _check_image(spec.image)
        self._objects_gid = _reader_group(self._repo)
        self.start_commit = _git_host(self._repo, "rev-parse", "--verify", "HEAD^{commit}")
        self.python = python or sys.executable
        self.workdir = os.path.normpath(spec.workdir)
        self._limits = AggregateLimits(spec.memory_mb, spec.pids)
        self._lock = threading.RLock()
        self._closed = False
        uid = new_uid(True)
        assert uid is not None  # root (checked by _bwrap_path)
        self.uid = uid
        self.host_dir = tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{os.getpid()}-")
        self._holder = _Holder(uid, self.host_dir)
        self._finalizer = weakref.finalize(self, self._holder.stop)
        try:
            Path(self.host_dir, "owner").write_text(f"{os.getpid()} {_start_time(os.getpid())}\n")
            _make_skeleton(self._repo, Path(self.host_dir, "git"))
            self._start()
            self.reset()
        except BaseException:
            self.close()
            raise

    # -- start ----------------------------------------------------------------------------------------

    def _bwrap_argv(self, info_fd: int) -> list[str]:
        size = ["--size", str(self.spec.disk_mb * 2**20)]
        argv = [self._bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try",
                *([] if self.spec.network else ["--unshare-net"]), "--new-session", "--clearenv",
                "--hostname", "sandbox", "--cap-drop", "ALL", *_system_binds(),
                "--proc", "/proc", "--dev", "/dev", *size, "--tmpfs", "/dev/shm", *size, "--tmpfs", "/tmp"]
        created: list[str] = []  # mount-point parents bwrap creates (with the host's modes: /root is 0700)
        binds = [(d, d) for d in python_dirs(self.python)]
        binds += [(str(self._repo / ".git" / "objects"), OBJECTS_DIR), (str(Path(self.host_dir, "git")), GIT_SKELETON)]
        binds += [(str(self._site), SITE_DIR)] if self._site is not None else []
        etc = list(ETC_FILES) + (["/etc/resolv.conf", "/etc/hosts", "/etc/ssl"] if self.spec.network else [])
        binds += [(f, f) for f in etc if os.path.exists(f)]
        for src, dst in binds:
            argv += ["--ro-bind", src, dst]
            created += [str(a) for a in Path(dst).parents if str(a) not in ("/", "/tmp") and str(a) not in created]
        argv += [*size, "--tmpfs", self.workdir]
        created += [str(a) for a in Path(self.workdir).parents if str(a) != "/" and str(a) not in created]
        argv += [x for a in sorted(created) for x in ("--chmod", "0755", a)]
        argv += [x for d in ("/tmp", "/dev/shm") for x in ("--chmod", "1777", d)]
        # The root and /dev are tmpfs mounts bwrap made, uncapped: read-only, as in the python tool.
        argv += ["--remount-ro", "/dev", "--remount-ro", "/", "--info-fd", str(info_fd),
                 "--", "/bin/sh", "-c", "echo ready; read _"]
        return argv

    def _start(self) -> None:
        holder = self._holder
        life_r, life_w = os.pipe()
        info_r, info_w = os.pipe()
        holder.life_fd = life_w
        try:
            holder.proc = subprocess.Popen(self._bwrap_argv(info_w), stdin=life_r, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, pass_fds=(info_w,), start_new_session=True)
        except OSError as exc:
            raise SandboxError(f"bubblewrap did not start: {exc}", self.backend) from exc
        finally:
            os.close(life_r)
            os.close(info_w)
        try:
            info = _read_all(info_r, _START_TIMEOUT_S)
        finally:
            os.close(info_r)
        # bwrap reports the pid before its mounts are done; the init prints "ready" once they are (until then
        # /proc/<pid>/root may still be the host's root).
        assert holder.proc.stdout is not None and holder.proc.stderr is not None
        ready = _read_line(holder.proc.stdout.fileno(), _START_TIMEOUT_S)
        holder.proc.stdout.close()
        try:
            init = int(json.loads(info)["child-pid"])
            if ready != b"ready\n":
                raise ValueError(ready)
        except (ValueError, KeyError, TypeError):
            err = holder.proc.stderr.read() if holder.proc.poll() is not None else b""
            raise SandboxError(f"bubblewrap did not set the sandbox up: {err.decode(errors='replace')[-300:]!r}",
                               self.backend) from None
        holder.proc.stderr.close()
        holder.init_pid = init
        holder.pidfd = os.pidfd_open(init)
        # Descriptors of the namespaces and root, opened now (before any agent command): nsenter gets these,
        # never a pid that could be recycled.
        for ns in _NAMESPACES:
            if ns == "net" and self.spec.network:
                continue
            holder.ns_fds[ns] = os.open(f"/proc/{init}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC)
        holder.root_fd = os.open(f"/proc/{init}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        host_root, root = os.stat("/"), os.fstat(holder.root_fd)
        if (root.st_dev, root.st_ino) == (host_root.st_dev, host_root.st_ino):
            raise SandboxError("the sandbox's root is the host's root (bwrap did not pivot)", self.backend)
        holder.tree_fd = os.open(self.workdir.lstrip("/"), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                 dir_fd=holder.root_fd)
        os.fchown(holder.tree_fd, self.uid, self.uid)
        if _exited(holder.pidfd):
            raise SandboxError("the sandbox's init exited during start", self.backend)

    # -- running --------------------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = {"PATH": f"{os.path.dirname(self.python)}:{SAFE_PATH}", "HOME": "/tmp", "TMPDIR": "/tmp",
               "LANG": "C.UTF-8", "GIT_AUTHOR_NAME": "turngym", "GIT_AUTHOR_EMAIL": "agent@turngym.invalid",
               "GIT_COMMITTER_NAME": "turngym", "GIT_COMMITTER_EMAIL": "agent@turngym.invalid",
               "GIT_CONFIG_NOSYSTEM": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        if self._site is not None:
            env["PYTHONPATH"] = SITE_DIR
        return env

    def _run(self, args: list[str], timeout: float, cap_bytes: int, cwd: str, *, reader: bool = False):
        holder = self._holder
        if self._closed:
            raise SandboxError("the sandbox is closed", self.backend)
        if not self.alive:
            raise SandboxError("the sandbox's init is gone", self.backend)
        fds = dict(holder.ns_fds)
        # Only reset reads a protected object store (``protect_objects``); agent commands get no group at all,
        # unless the spec lets them read the history (``SandboxSpec.history``).
        reads = reader or self.spec.history
        groups = f"--groups={self._objects_gid}" if reads and self._objects_gid is not None else "--clear-groups"
        argv = ["nsenter", *(f"{_NSENTER_FLAGS[ns]}=/proc/self/fd/{fd}" for ns, fd in fds.items()),
                f"--root=/proc/self/fd/{holder.root_fd}", f"--wdns={cwd}", "--",
                SETPRIV, f"--reuid={self.uid}", f"--regid={self.uid}", groups, "--inh-caps=-all",
                "--bounding-set=-all", "--no-new-privs", "/bin/bash", *args]
        try:
            group = self._limits.open_call()
        except OSError as exc:  # never run a command without its limits
            raise SandboxError(f"the command's cgroup could not be created: {exc}", self.backend) from exc
        cpu_s = int(math.ceil(timeout)) + 1
        setup = ChildSetup(cpu_s, self.spec.memory_mb, self.spec.disk_mb, 4096, self.spec.pids, None,
                           new_netns=False, cgroup_procs=group.cgroup_procs)
        try:
            done = run_command(argv, self._env(), setup, timeout, cap_bytes, self.uid, group,
                               pass_fds=(*fds.values(), holder.root_fd))
        except (OSError, subprocess.SubprocessError) as exc:
            raise SandboxError(f"the command could not be started: {exc}", self.backend) from exc
        if not self.alive:
            raise SandboxError("the sandbox's init died during the command", self.backend)
        return done

    def exec(self, command: str, timeout: float | None = None, max_output_chars: int | None = None,
             workdir: str | None = None) -> ExecResult:
        """Runs ``command`` with ``bash -c`` in the work tree; every process it starts is killed when it ends.

        Raises:
            ValueError: ``command`` holds a NUL byte, or ``workdir`` is not absolute.
            SandboxError: The sandbox is closed, died, or could not start the command.
        """
        if "\0" in command:
            raise ValueError("the command holds a NUL byte")
        cwd = os.path.normpath(workdir) if workdir is not None else self.workdir
        if not cwd.startswith("/"):
            cwd = os.path.normpath(os.path.join(self.workdir, cwd))
        limit = self.spec.max_output_chars if max_output_chars is None else max(0, int(max_output_chars))
        seconds = self.spec.exec_timeout_s if timeout is None else float(timeout)
        with self._lock:
            done = self._run(["-c", command], max(seconds, 0.001), 4 * limit + 64, cwd)
        text, cut = head_tail(done.output.text(_OUTPUT_MARKER), limit, _OUTPUT_MARKER)
        notes = []
        if done.breach.memory:
            notes.append(f"memory limit of {self.spec.memory_mb} MB reached (processes killed)")
        if done.breach.processes:
            notes.append(f"process limit of {self.spec.pids} reached")
        if notes:
            text += ("" if not text or text.endswith("\n") else "\n") + "[" + "; ".join(notes) + "]"
        rc = done.returncode
        # nsenter re-raises the signal that killed bash: report it the way a shell does (128 + signal).
        exit_code = None if rc is None else (128 - rc if rc < 0 else rc)
        return ExecResult(exit_code, text, done.timed_out, cut or done.output.cut, done.seconds)

    def read_file(self, path: str, max_bytes: int = 1_000_000) -> bytes:
        """The first ``max_bytes`` bytes of a regular file of the work tree (``ValueError`` if it leaves it)."""
        with self._lock:
            self._check_open()
            return read_tree_file(self._holder.tree_fd, self.workdir, path, max_bytes)

    def write_file(self, path: str, data: bytes) -> None:
        """Creates or replaces a regular file of the work tree, owned by the sandbox's uid."""
        with self._lock:
            self._check_open()
            write_tree_file(self._holder.tree_fd, self.workdir, path, data, self.uid)

    def reset(self, commit: str | None = None) -> None:
        """Back to ``commit`` (default ``start_commit``): no process, untracked file, stash or extra ref left.

        Raises:
            ValueError: ``commit`` is not a plausible commit name.
            SandboxError: The tree could not be reset (the sandbox should be replaced).
        """
        target = self.start_commit if commit is None else commit
        if not isinstance(target, str) or not _COMMIT.match(target) or ".." in target:
            raise ValueError(f"not a commit name: {commit!r}")
        with self._lock:
            self._check_open()
            if self._limits.mechanism == "watchdog":
                # Under a cgroup every command's processes were killed when it ended (its group emptied), and
                # no process of this uid can live outside a command's group; without one, scan /proc.
                self._holder.kill_uid()
            done = self._run(["-c", _RESET_SCRIPT, "reset", self.workdir, target, GIT_SKELETON],
                             _RESET_TIMEOUT_S, 4096, "/", reader=True)
        if done.returncode != 0:
            raise SandboxError(f"reset to {target} failed (exit {done.returncode}, timed out: {done.timed_out}): "
                               f"{done.output.text(_OUTPUT_MARKER)[-500:]}", self.backend)

    def _check_open(self) -> None:
        if self._closed:
            raise SandboxError("the sandbox is closed", self.backend)

    def close(self) -> None:
        """Kills the sandbox's processes and removes its holder, tmpfs mounts and host directory (idempotent).

        Does not wait for a command running in another thread: its processes are killed and that ``exec``
        raises ``SandboxError``.
        """
        self._closed = True
        self._finalizer()  # runs once; thread safe (weakref.finalize)

    @property
    def alive(self) -> bool:
        """The holder (and so the work tree) is still there."""
        holder = self._holder
        return (not self._closed and holder.proc is not None and holder.proc.poll() is None
                and holder.pidfd >= 0 and not _exited(holder.pidfd))


def _read_all(fd: int, timeout: float) -> bytes:
    """Everything written to pipe ``fd`` until its writers close it, or what came before ``timeout``."""
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data


def _read_line(fd: int, timeout: float) -> bytes:
    """One line from pipe ``fd`` (or what came before EOF or ``timeout``)."""
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(b"\n") and time.monotonic() < deadline:
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            break
        chunk = os.read(fd, 64)
        if not chunk:
            break
        data += chunk
    return data


def reap_local(tmpdir: str | None = None) -> list[str]:
    """Removes the host directories of local sandboxes whose driver process is gone; returns their paths.

    A directory whose ``owner`` file names a live process (same pid and start time, so a recycled pid does not
    count) is kept. The holder processes of a dead driver end on their own (their init's stdin closes).

    Args:
        tmpdir: Where to look (default: ``tempfile.gettempdir()``, where sandboxes are made).
    """
    base = tmpdir or tempfile.gettempdir()
    removed = []
    try:
        entries = [e for e in os.scandir(base) if e.name.startswith(DIR_PREFIX) and e.is_dir(follow_symlinks=False)]
    except OSError:
        return removed
    for entry in entries:
        try:
            pid_text, started = Path(entry.path, "owner").read_text().split()
        except (OSError, ValueError):  # not written yet (a sandbox starting now) or damaged: trust the name
            pid_text, started = entry.name[len(DIR_PREFIX):].split("-", 1)[0], ""
        if pid_text.isdigit() and pid_alive(int(pid_text)) and started in ("", _start_time(int(pid_text))):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry.path)
    return removed


__all__ = ["DIR_PREFIX", "INSTALL_HINT", "OBJECTS_GID", "LocalSandbox", "forget_local_probe", "protect_objects",
           "reap_local"]
