"""The docker backend: one long-lived, locked-down container per sandbox, driven over its attached stdin.

Containment (SECURITY.md; each line is tested in ``tests/envs/swe/test_sandbox_docker.py``):

* No network (``network_mode="none"``: only a loopback) unless ``spec.network``.
* ``nano_cpus``, ``mem_limit`` with swap equal to it (no swap), ``pids_limit``: a fork or memory bomb
  hits the container's cgroup, never the host.
* Read-only root file system. The only writable places are size-capped tmpfs mounts: the work tree
  (``spec.workdir``, checked out at start from the image's read-only pristine ``.git``), ``/tmp``, docker's
  ``/dev/shm`` (16 MiB) and ``/dev`` (64 MiB); tmpfs pages are also charged to the container's memory cgroup,
  so a disk fill stops at ``disk_mb`` (or a share of ``memory_mb``, ``tmpfs_sizes``) and never reaches the
  host disk. Every command runs at the OOM killer's highest score (``docker_server._drop``), so a memory bomb
  or a full tmpfs kills the command, never the init.
  ``reset`` empties ``/tmp`` and
  ``/dev/shm`` and removes what was added to ``/dev``, so nothing but the work tree's state carries over, and
  the work tree itself goes back to its commit.
* No command runs as root: the command server (the container's root, holding only ``SERVER_CAPS``) runs each
  one as ``AGENT_UID`` with no capability at all (``no-new-privileges``; tested), and the image's pristine
  store (``/opt/turngym``: the clean source, so every synthesized task's fix) is readable only by the group
  that reset requests hold. A container where the switch does not hold, or an image whose store the agent's
  uid can read, is refused (``docker_server``'s "Identities").
* Every container carries ``LABEL`` with the owner's pid, its start time, the host and a session id, so
  ``reap.reap_containers`` finds what a SIGKILLed driver left; ``close()`` and an ``atexit`` hook remove
  what this process owns.

Speed: the container's init is a small command server (``docker_server.py``) that reads one JSON request
per line from the attached stdin, so an ``exec`` is one write and one read on a socket that is already
open (~1 ms) instead of a ``docker exec`` (~77 ms here). ``reset`` is one such request running git in
the tmpfs work tree: it costs what ``git reset --hard`` + ``git clean`` cost for the files that changed.
"""

from __future__ import annotations

import atexit
import json
import os
import shlex
import socket
import struct
import threading
import time
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

from turngym.envs.swe.sandbox import docker_server
from turngym.envs.swe.sandbox.base import LABEL, ExecResult, Sandbox, SandboxError, SandboxSpec, head_tail

BACKEND = "docker"
AGENT_UID = docker_server.AGENT_UID
"""The uid every command runs as (``docker_server``'s "Identities")."""
RESET_GID = docker_server.RESET_GID
"""The group of the image's ``/opt/turngym``: only reset requests hold it (``docker/Dockerfile.repo``)."""
SERVER_CAPS = ("SETUID", "SETGID", "KILL")
"""The only capabilities of the container: its init (the command server, root) switches each command to
``AGENT_UID`` (the kernel then clears them all for the command) and kills what a command left running."""
SERVER_SOURCE = (Path(__file__).with_name("docker_server.py")).read_text()
PRISTINE_GIT = "/opt/turngym/pristine.git"
"""Where an image keeps its repository's ``.git`` (``docker/build.sh`` puts it there; ``build.sh adopt`` adds it to
a user's SWE-bench image). It lies in the read-only layer, so no command can alter it: the work tree is checked
out of it at start, borrows its objects, and ``reset`` restores a damaged or tampered ``.git`` from it."""
SESSION = uuid.uuid4().hex[:12]
"""This process's session id (a label on each of its containers)."""
START_TIMEOUT_S = 60.0
_CUT = "\n[... {n} characters cut ...]\n"

_live: dict[int, DockerSandbox] = {}
_live_lock = threading.Lock()


def process_start_ticks(pid: int) -> str:
    """The start time of ``pid`` in clock ticks since boot ('' when it is gone).

    With the pid it names one process for good: a pid alone can be reused after its owner died.
    """
    try:
        with open(f"/proc/{pid}/stat") as fh:
            data = fh.read()
    except OSError:
        return ""
    return data[data.rfind(")") + 2:].split()[19]


def owner_labels() -> dict[str, str]:
    """The labels that say which process on which host owns a container."""
    pid = os.getpid()
    return {LABEL: "1", f"{LABEL}.backend": BACKEND, f"{LABEL}.owner": str(pid),
            f"{LABEL}.owner_start": process_start_ticks(pid), f"{LABEL}.host": socket.gethostname(),
            f"{LABEL}.session": SESSION}


def tmpfs_sizes(spec: SandboxSpec) -> tuple[int, int]:
    """The sizes (MiB) of the work tree's and ``/tmp``'s tmpfs: ``disk_mb`` each, within a share of memory.

    tmpfs pages count against the container's memory limit and cannot be reclaimed (there is no swap), so two
    full ``disk_mb`` mounts above ``memory_mb`` would leave a disk fill nothing but OOM kills. Capped at half
    (work tree) and a quarter (``/tmp``) of ``memory_mb``, a full disk leaves a quarter for the processes.
    """
    return (max(16, min(int(spec.disk_mb), int(spec.memory_mb) // 2)),
            max(16, min(int(spec.disk_mb), int(spec.memory_mb) // 4)))


def docker_client(timeout: float = 30.0) -> Any:
    """A docker SDK client for the environment's daemon; ``SandboxError`` when none answers.

    The SDK is imported here, not at package import, so the local backend works without it (DESIGN section 4).
    """
    try:
        import docker
    except ImportError as exc:
        raise SandboxError("the docker SDK is missing: pip install 'turngym[swe]'", BACKEND) from exc
    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except Exception as exc:  # noqa: BLE001 - the SDK raises DockerException, requests' and socket errors
        raise SandboxError(f"no docker daemon answers ({type(exc).__name__}: {exc})", BACKEND) from exc
    return client


def docker_unavailable() -> str | None:
    """Why the docker backend cannot run here (no SDK, no daemon), or None when it can."""
    try:
        docker_client(timeout=5).close()
    except SandboxError as exc:
        return str(exc)
    return None


class DockerSandbox(Sandbox):
    """A sandbox in one locked-down container (see the module docstring).

    Args:
        spec: The image, work tree and limits.
        client: A docker SDK client to reuse (default: one from the environment).
        start_timeout: Seconds the container may take to start its command server.

    Raises:
        SandboxError: No daemon, the image is missing, the container would not start in time, or the image
            has no ``python3``/``bash`` for the command server.
    """

    backend = BACKEND

    def __init__(self, spec: SandboxSpec, client: Any = None, start_timeout: float = START_TIMEOUT_S):
        super().__init__(spec)
        if not PurePosixPath(spec.workdir).is_absolute() or spec.workdir == "/":
            raise ValueError(f"spec.workdir must be an absolute path below /, got {spec.workdir!r}")
        self._own_client = client is None
        self._client = client if client is not None else docker_client()
        self._raw: Any = None
        self._lock = threading.Lock()
        self._sock: Any = None
        self._buf = b""
        self._stderr = b""
        self._closed = False
        self._dead: str | None = None
        self.container: Any = None
        # Who runs the caller's commands: the bare agent uid, or with the store's group (``SandboxSpec.history``).
        self._role = "reset" if spec.history else "agent"
        self.start_commit = ""
        self.start_seconds = 0.0
        t0 = time.perf_counter()
        try:
            self._start(start_timeout)
        except BaseException:
            self.close()
            raise
        self.start_seconds = time.perf_counter() - t0

    # -- start -----------------------------------------------------------------------------------------
    def _create_kwargs(self) -> dict[str, Any]:
        spec = self.spec
        mem = f"{int(spec.memory_mb)}m"
        work_mb, tmp_mb = tmpfs_sizes(spec)
        # The work tree belongs to the agent's uid (every command runs as it, docker_server's "Identities").
        tmpfs = {spec.workdir: f"rw,exec,nosuid,nodev,size={work_mb}m,uid={AGENT_UID},gid={AGENT_UID},mode=0755",
                 "/tmp": f"rw,exec,nosuid,nodev,size={tmp_mb}m,mode=1777"}
        return dict(
            command=["python3", "-u", "-c", SERVER_SOURCE], stdin_open=True, detach=True, labels=owner_labels(),
            network_mode=None if spec.network else "none", nano_cpus=int(spec.cpus * 1e9), mem_limit=mem,
            memswap_limit=mem, pids_limit=int(spec.pids), read_only=True, tmpfs=tmpfs, shm_size="16m",
            security_opt=["no-new-privileges"], cap_drop=["ALL"], cap_add=list(SERVER_CAPS),
            user="0:0", working_dir=spec.workdir, init=False,
        )

    def _start(self, start_timeout: float) -> None:
        import docker.errors

        try:
            self.container = self._client.containers.create(self.spec.image, **self._create_kwargs())
        except docker.errors.ImageNotFound as exc:
            raise SandboxError(f"image {self.spec.image!r} not found (build it with docker/build.sh)", BACKEND) from exc
        except Exception as exc:  # noqa: BLE001 - daemon errors of every kind are infrastructure failures
            raise SandboxError(f"cannot create a container from {self.spec.image!r}: {exc}", BACKEND) from exc
        with _live_lock:
            _live[id(self)] = self
        try:
            raw = self._client.api.attach_socket(self.container.id, params={"stdin": 1, "stdout": 1, "stderr": 1,
                                                                            "stream": 1})
            self._raw, self._sock = raw, getattr(raw, "_sock", raw)
            self.container.start()
        except Exception as exc:  # noqa: BLE001
            raise SandboxError(f"cannot start the container: {exc}", BACKEND) from exc
        ready = self._read_reply(time.monotonic() + start_timeout)
        if "ready" not in ready:
            raise SandboxError(f"unexpected first message from the command server: {ready!r}", BACKEND)
        if ready.get("dumpable") != 0:
            # A dumpable server's stdout (/proc/1/fd/1) is writable by the commands: they could forge the reply
            # of a later command (a grading run). Refuse rather than run with that hole (SECURITY.md).
            raise SandboxError("the command server could not make itself non-dumpable (PR_SET_DUMPABLE through "
                               f"ctypes: got {ready.get('dumpable')!r}); refusing to run", BACKEND)
        # Commands must run as the unprivileged agent uid, unable to read the pristine store (the fix): refuse a
        # container where either does not hold rather than run with the gold readable (SECURITY.md).
        if ready.get("identity") != 0:
            raise SandboxError(f"the command server cannot run commands as the sandbox user: {ready.get('identity')}"
                               "; refusing to run", BACKEND)
        if ready.get("pristine") not in (0, "absent"):
            raise SandboxError(f"image {self.spec.image!r}: {ready.get('pristine')} with docker/build.sh "
                               "(--force); refusing to run", BACKEND)
        # The work tree's tmpfs starts empty (docker 20.10 has no tmpcopyup): check the repository out of the
        # image's read-only pristine .git, whose objects the tree then borrows (alternates) instead of copying.
        res = self._request(start_script(self.spec.workdir), timeout=start_timeout, cap=10_000, cwd="/",
                            role="reset")
        if res.exit_code == 5:
            raise SandboxError(f"image {self.spec.image!r} has no {PRISTINE_GIT} (the repository's .git in the "
                               "read-only layer): build or adopt it with docker/build.sh", BACKEND)
        if res.exit_code != 0:
            raise SandboxError(f"cannot check the repository out in {self.spec.workdir}: "
                               f"{res.output.strip()[-500:]}", BACKEND)
        self.start_commit = res.output.split()[0]

    # -- the wire --------------------------------------------------------------------------------------
    def _read_reply(self, deadline: float) -> dict[str, Any]:
        """Reads one JSON line from the server's stdout (docker's multiplexed stream: 8-byte frame headers)."""
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self._dead = "the command server did not answer in time"
                raise SandboxError(self._dead, BACKEND)
            header = self._recv_exact(8, deadline)
            kind, size = header[0], struct.unpack(">I", header[4:8])[0]
            payload = self._recv_exact(size, deadline)
            if kind == 2:
                self._stderr = (self._stderr + payload)[-4000:]
            else:
                self._buf += payload
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def _recv_exact(self, n: int, deadline: float) -> bytes:
        out = b""
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                self._dead = "the command server did not answer in time"
                raise SandboxError(self._dead, BACKEND)
            self._sock.settimeout(left)
            try:
                chunk = self._sock.recv(n - len(out))
            except TimeoutError:
                continue
            except OSError as exc:
                self._dead = f"the connection to the container broke ({exc})"
                raise SandboxError(self._dead, BACKEND) from exc
            if not chunk:
                self._dead = f"the container exited{self._exit_detail()}"
                raise SandboxError(self._dead, BACKEND)
            out += chunk
        return out

    def _exit_detail(self) -> str:
        try:
            self.container.reload()
            state = self.container.attrs.get("State", {})
            err = self._stderr.decode("utf-8", "replace").strip()[-300:]
            return (f" (status {state.get('Status')}, exit code {state.get('ExitCode')}, "
                    f"OOM-killed {state.get('OOMKilled')}){': ' + err if err else ''}")
        except Exception:  # noqa: BLE001 - the daemon itself may be gone
            return " (and the daemon does not answer)"

    def _request(self, command: str, timeout: float, cap: int, cwd: str, role: str = "agent",
                 **extra: Any) -> ExecResult:
        if self._closed:
            raise SandboxError("the sandbox is closed", BACKEND)
        if self._dead is not None:
            raise SandboxError(self._dead, BACKEND)
        t0 = time.perf_counter()
        msg = json.dumps({"cmd": command, "cwd": cwd, "timeout": timeout, "cap": cap, "as": role,
                          **extra}).encode() + b"\n"
        with self._lock:
            try:
                self._sock.sendall(msg)
            except OSError as exc:
                self._dead = f"the container is gone ({exc}){self._exit_detail()}"
                raise SandboxError(self._dead, BACKEND) from exc
            # The server kills the command at ``timeout``; the grace covers killing and reaping a fork bomb.
            reply = self._read_reply(time.monotonic() + timeout + 30.0)
        return self._result(reply, cap, time.perf_counter() - t0)

    @staticmethod
    def _result(reply: dict[str, Any], cap: int, seconds: float) -> ExecResult:
        head = reply["head"].encode("latin-1")
        tail = reply["tail"].encode("latin-1")
        gap = reply["total"] - len(head) - len(tail)
        if gap <= 0:
            text, cut = head_tail((head + tail).decode("utf-8", "replace"), cap, _CUT)
        else:  # the server kept the first and last ``cap`` bytes only
            h = head.decode("utf-8", "replace")[: cap // 2]
            t = tail.decode("utf-8", "replace")[len(tail) - (cap - cap // 2):] if cap > 1 else ""
            text, cut = h + _CUT.format(n=reply["total"] - len(h) - len(t)) + t, True
        return ExecResult(exit_code=reply["exit"], output=text, timed_out=bool(reply["timed_out"]), truncated=cut,
                          seconds=seconds)

    # -- the interface ---------------------------------------------------------------------------------
    def exec(self, command: str, timeout: float | None = None, max_output_chars: int | None = None,
             workdir: str | None = None) -> ExecResult:
        """Runs ``bash -c command`` in the container; every process it started is killed when it returns."""
        timeout = self.spec.exec_timeout_s if timeout is None else float(timeout)
        cap = self.spec.max_output_chars if max_output_chars is None else int(max_output_chars)
        return self._request(command, timeout, max(0, cap), self._inside(workdir or "."), role=self._role)

    def _inside(self, path: str) -> str:
        """``path`` made absolute inside the container; ``ValueError`` if it leaves the work tree."""
        root = PurePosixPath(self.spec.workdir)
        full = PurePosixPath(os.path.normpath(str(root / path)))
        if full != root and root not in full.parents:
            raise ValueError(f"path {path!r} leaves the work tree {self.spec.workdir}")
        return str(full)

    def read_file(self, path: str, max_bytes: int = 1_000_000) -> bytes:
        """The first ``max_bytes`` bytes of a file in the work tree (symlinks out of it are refused)."""
        full = self._inside(path)
        q = shlex.quote(full)
        root = shlex.quote(self.spec.workdir.rstrip("/") + "/")
        # realpath resolves symlinks inside the container: a link to /etc/passwd is an escape, not a file.
        res = self._request(
            f"r=$(realpath -e -- {q}) || exit 3; case \"$r/\" in {root}*) ;; "
            f"*) exit 4;; esac; [ -f \"$r\" ] || exit 3; head -c {int(max_bytes)} -- \"$r\" | base64 -w0",
            timeout=30.0, cap=4 * max_bytes + 16, cwd="/", role=self._role)
        if res.exit_code == 3:
            raise FileNotFoundError(path)
        if res.exit_code == 4:
            raise ValueError(f"path {path!r} resolves outside the work tree {self.spec.workdir}")
        if res.exit_code != 0:
            raise SandboxError(f"cannot read {path!r}: {res.output[-300:]}", BACKEND)
        import base64

        return base64.b64decode(res.output)

    def write_file(self, path: str, data: bytes) -> None:
        """Creates or replaces a file in the work tree (symlinks out of it are refused)."""
        import base64

        full = self._inside(path)
        if full == self.spec.workdir.rstrip("/"):
            raise ValueError("cannot write the work tree itself")
        q = shlex.quote(full)
        root = shlex.quote(self.spec.workdir.rstrip("/") + "/")
        parent = shlex.quote(str(PurePosixPath(full).parent))
        b64 = base64.b64encode(data).decode()
        res = self._request(
            f"mkdir -p -- {parent} && p=$(realpath -e -- {parent}) || exit 3; case \"$p/\" in {root}*) ;; *) exit 4;; "
            f"esac; [ -L {q} ] && {{ r=$(realpath -m -- {q}); case \"$r\" in {root}*) ;; *) exit 4;; esac; }}; "
            f"echo {b64} | base64 -d > {q}", timeout=60.0, cap=10_000, cwd="/", role=self._role)
        if res.exit_code == 4:
            raise ValueError(f"path {path!r} resolves outside the work tree {self.spec.workdir}")
        if res.exit_code != 0:
            raise SandboxError(f"cannot write {path!r}: {res.output[-300:]}", BACKEND)

    def reset(self, commit: str | None = None) -> None:
        """Back to ``commit`` (default: the start commit) with nothing else in the tree, ``/tmp`` or ``/dev/shm``.

        Every earlier process is already dead (the server kills them when each command returns). ``.git``'s
        config, hooks and info are restored from the pristine copy on every reset (a planted hook, filter or
        fsmonitor must not run in the next episode); the whole ``.git`` is restored when the commit does not
        resolve or git fails (a deleted or damaged ``.git``); index entries flagged assume-unchanged or
        skip-worktree (which ``git reset --hard`` would leave alone) make it rebuild the index.
        """
        target = commit or self.start_commit
        # The server empties /tmp and /dev/shm and restores .git's config, hooks and info before the script runs.
        git_dir = str(PurePosixPath(self.spec.workdir) / ".git")
        res = self._request(reset_script(self.spec.workdir, target), timeout=120.0, cap=4000, cwd="/", role="reset",
                            wipe=["/tmp", "/dev/shm"], wipe_new=["/dev"],
                            restore={"src": PRISTINE_GIT, "dst": git_dir, "names": ["config", "hooks", "info"]})
        if res.exit_code != 0:
            raise SandboxError(f"cannot reset to {target}: {res.output.strip()[-500:]}", BACKEND)

    def close(self) -> None:
        """Removes the container (force) and its anonymous volumes; idempotent."""
        if self._closed:
            return
        self._closed = True
        with _live_lock:
            _live.pop(id(self), None)
        for stream in (self._sock, self._raw):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        if self.container is not None:
            try:
                self.container.remove(force=True, v=True)
            except Exception:  # noqa: BLE001 - already gone, or the daemon is; reap_containers catches leftovers
                pass
        if self._own_client:
            self._client.close()

    @property
    def alive(self) -> bool:
        """Whether the command server still answers (one request; False once it failed)."""
        if self._closed or self._dead is not None:
            return False
        try:
            return self._request("true", timeout=10.0, cap=100, cwd="/").exit_code == 0
        except SandboxError:
            return False


_GIT = "git -c safe.directory='*' -c core.hooksPath=/dev/null -c core.fsmonitor=false"
# A fresh .git: the pristine one's metadata (HEAD, refs, config, hooks, info) copied, its objects borrowed through
# alternates from the read-only layer (cheap however large the history, and never writable by a command).
_FRESH_GIT = f"""
fresh_git() {{
    rm -rf "$W/.git" && mkdir -p "$W/.git/objects/info" || return 1
    (cd {PRISTINE_GIT} && tar -c --exclude=./objects --exclude=./index .) | tar -x -C "$W/.git" || return 1
    echo {PRISTINE_GIT}/objects > "$W/.git/objects/info/alternates"
}}
"""


def start_script(workdir: str) -> str:
    """The shell script that checks the repository out into the empty work tree at start; prints the commit."""
    return f"""set -u
W={shlex.quote(workdir)}
[ -d {PRISTINE_GIT} ] || exit 5
{_FRESH_GIT}
fresh_git && cd "$W" && {_GIT} reset -q --hard && {_GIT} rev-parse HEAD
"""


def reset_script(workdir: str, commit: str) -> str:
    """The shell script ``DockerSandbox.reset`` runs inside the container (see its docstring).

    Each process costs milliseconds, so the common path runs three (git ls-files, git reset, git clean); the
    file work (``/tmp``, ``.git``'s config, hooks and info) is done by the command server before it.
    """
    c = shlex.quote(commit)
    return f"""set -u
W={shlex.quote(workdir)}
{_FRESH_GIT}
shopt -s nullglob
[ -d "$W" ] || mkdir -p "$W" || exit 1
cd "$W" || exit 1
if [ ! -L .git ] && [ -f .git/HEAD ] && [ -d .git/objects ] && [ -f .git/config ]; then
    locks=(.git/*.lock)
    [ ${{#locks[@]}} -eq 0 ] || rm -f -- "${{locks[@]}}"
    # Entries flagged assume-unchanged / skip-worktree are skipped by reset --hard: rebuild the index then.
    flags=$'\\n'"$({_GIT} ls-files -v)"
    [[ $flags == *$'\\n'[a-zS]' '* ]] && rm -f .git/index
else
    fresh_git || exit 1
fi
if ! {_GIT} reset -q --hard {c} 2>/dev/null; then fresh_git && {_GIT} reset -q --hard {c} || exit 1; fi
{_GIT} clean -q -ffdx || exit 1
"""


@atexit.register
def _close_all() -> None:
    """Removes the containers this process still owns when the interpreter exits."""
    with _live_lock:
        boxes = list(_live.values())
    for box in boxes:
        box.close()
