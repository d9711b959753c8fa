"""The command server a docker sandbox runs as its container's init (pid 1); stdlib only, Python 3.6+.

Why a server instead of one ``docker exec`` per command: ``docker exec`` costs ~77 ms here (an HTTP
round trip to create the exec, another to start it, runc entering the namespaces), a request over the
container's already attached stdin/stdout costs ~1 ms (``benchmarks/swe_sandbox.py`` measures both).

Why pid 1: inside a pid namespace the kernel drops every signal to init that init has no handler for,
so ``kill -9 1`` or ``kill -9 -1`` from a command cannot end the sandbox (SIGINT's handler is reset to
the default for that reason). And init's ``kill(-1, SIGKILL)`` reaches every other process of the
container at once (the kernel holds the task list while it signals, so a fork bomb cannot outrun it),
which is how every process a command started is killed when the command ends or times out, and init
reaps them all, so no zombie keeps a pid of the container's ``pids`` limit.

Protocol: one JSON object per line on stdin (``{"cmd", "cwd", "timeout", "cap"}``, and for ``reset`` the
optional ``wipe`` and ``restore`` file work done before the command), one JSON object per
line on stdout (``{"exit", "timed_out", "total", "head", "tail"}``, output as latin-1 strings of bytes:
the first and last ``cap`` bytes of stdout+stderr and the total byte count). Before any command runs the
server writes ``{"ready": pid, "dumpable", "identity", "pristine"}`` (the checks below; the host refuses a
sandbox where one failed).

Identities: the server runs as the container's root, holding only ``CAP_SETUID``, ``CAP_SETGID`` and
``CAP_KILL``; no command runs as root. A request's ``as`` picks who runs it (and its file work):

* ``agent`` (the default; every ``exec``, ``read_file``, ``write_file``): uid and gid ``AGENT_UID``, no
  supplementary group, no capability left (a setuid from root to a non-zero uid clears them, and
  ``no-new-privileges`` keeps them cleared). The image's ``/opt/turngym`` (the pristine object store, which holds
  the clean source: every synthesized task's fix) is ``root:RESET_GID`` mode ``0750``, so it cannot even list it.
* ``reset`` (start and ``reset``): the same uid, plus the supplementary group ``RESET_GID``, which may read the
  pristine store. Only the host's own scripts run with it; the agent's processes are all dead by then (the
  sweep after every request).

Same uid for both, so everything a reset checks out stays the agent's to edit; only the group differs.
"""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time

AGENT_UID = 10001
"""The uid (and gid) every command runs as (``docker/Dockerfile.*`` and ``docker_backend`` use the same)."""
RESET_GID = 10002
"""The group that may read ``/opt/turngym`` (the pristine store); held by ``reset`` requests only."""
PRISTINE_DIR = "/opt/turngym"
ROLES = ("agent", "reset")


def _drop(role):
    """Becomes the request's identity (in a child: after fork, before exec). Irreversible by design.

    First the OOM killer's first choice (``oom_score_adj`` 1000, the init keeps its own): a memory bomb or a full
    tmpfs ends a command, never the server. A process may raise its score but not lower it again (no
    ``CAP_SYS_RESOURCE``), and its children inherit it. (A negative score for the init would need the daemon to
    hold ``CAP_SYS_RESOURCE``, which runc refuses on hosts like this one.)
    """
    try:
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write("1000")
    except OSError:
        pass
    os.setgroups([RESET_GID] if role == "reset" else [])
    os.setgid(AGENT_UID)
    os.setuid(AGENT_UID)  # root -> non-zero uid: the kernel clears every capability


def _child_env():
    env = dict(os.environ)
    env["HOME"] = "/tmp"
    env["USER"] = env["LOGNAME"] = "sandbox"
    return env


_ENV = {}


def _in_child(role, fn, *args):
    """Runs ``fn(*args)`` in a forked child with ``role``'s identity; returns its exit status (0: it worked)."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into the server's loop
        code = 1
        try:
            _drop(role)
            fn(*args)
            code = 0
        except BaseException:  # noqa: BLE001 - reported through the exit status
            code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return status


def _sweep():
    """SIGKILLs every other process of the container and reaps until init is alone (bounded)."""
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        try:
            os.kill(-1, signal.SIGKILL)  # every process but init itself
        except OSError:
            pass  # ESRCH: nothing left to signal
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                break
        time.sleep(0.001)


_AT_START = {}
"""Directory listings taken before any command ran (``wipe_new``)."""


def _prepare(req):
    """Reset's file work, done here rather than by rm/cp processes (each costs milliseconds).

    Empties the ``wipe`` directories and copies ``restore["names"]`` from ``restore["src"]`` over
    ``restore["dst"]`` (when ``dst`` is a directory).
    """
    for top in req.get("wipe", ()):
        for name in os.listdir(top) if os.path.isdir(top) else ():
            path = os.path.join(top, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass
    for top in req.get("wipe_new", ()):  # only what was not there at start (device nodes stay)
        for name in set(os.listdir(top)) - _AT_START.setdefault(top, set()):
            path = os.path.join(top, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            elif not os.path.ismount(path):
                try:
                    os.unlink(path)
                except OSError:
                    pass
    restore = req.get("restore")
    if restore and os.path.isdir(restore["dst"]) and not os.path.islink(restore["dst"]):
        for name in restore["names"]:
            src, dst = os.path.join(restore["src"], name), os.path.join(restore["dst"], name)
            if os.path.isdir(dst) and not os.path.islink(dst):
                shutil.rmtree(dst, ignore_errors=True)
            elif os.path.lexists(dst):
                os.unlink(dst)
            if os.path.isdir(src):
                shutil.copytree(src, dst, symlinks=True)
            elif os.path.exists(src):
                shutil.copy2(src, dst)


def _failed(code, text):
    msg = text.encode()
    return {"exit": code, "timed_out": False, "total": len(msg), "head": msg.decode("latin-1"), "tail": ""}


def _run(req):
    cap = int(req.get("cap", 100000))
    role = req.get("as", "agent")
    if role not in ROLES:
        return _failed(124, f"sandbox: unknown identity {role!r}")
    if req.get("wipe") or req.get("wipe_new") or req.get("restore"):
        if _in_child(role, _prepare, req) != 0:
            return _failed(125, "sandbox: cannot prepare the file system for the command")
    head = bytearray()
    tail = bytearray()
    total = 0
    timed_out = False
    start = time.monotonic()
    deadline = start + float(req.get("timeout", 60.0))
    try:
        proc = subprocess.Popen(["bash", "-c", req["cmd"]], cwd=req.get("cwd") or None, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                                env=_ENV, preexec_fn=lambda: _drop(role))
    except (OSError, subprocess.SubprocessError) as exc:
        return _failed(126, f"sandbox: cannot start the command: {exc}")
    fd = proc.stdout.fileno()
    exited_at = None
    eof = False
    code = None
    while True:
        now = time.monotonic()
        if now >= deadline:
            timed_out = True
            break
        if exited_at is None:
            code = proc.poll()  # collected here, before the sweep reaps every child
            if code is not None:
                exited_at = now
        # A background process that keeps the pipe open must not hold the reply: read what is there for a
        # moment after the command itself exited, then stop (the sweep below kills that process).
        if exited_at is not None and (eof or now - exited_at > 0.05):
            break
        if eof:  # the command closed its output but still runs: wait for it (or the deadline)
            time.sleep(min(0.005, deadline - now))
            continue
        ready, _, _ = select.select([fd], [], [], min(0.05, deadline - now))
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            eof = True
            continue
        total += len(chunk)
        if len(head) < cap:
            take = cap - len(head)
            head += chunk[:take]
            chunk = chunk[take:]
        if chunk:
            tail += chunk
            if len(tail) > cap:
                del tail[: len(tail) - cap]
    _sweep()
    proc.stdout.close()
    return {"exit": code, "timed_out": timed_out, "total": total,
            "head": bytes(head).decode("latin-1"), "tail": bytes(tail).decode("latin-1")}


def _check_identity():
    """0 when a child can become the agent (uid ``AGENT_UID``, no capability), else why not."""
    def probe():
        with open("/proc/self/status") as fh:
            status = fh.read()
        caps = [line.split()[1] for line in status.splitlines() if line.startswith(("CapEff:", "CapPrm:"))]
        if os.getuid() != AGENT_UID or os.geteuid() != AGENT_UID or any(int(c, 16) for c in caps):
            raise SystemExit(1)
    if os.getuid() != 0:
        return f"the server is not root in the container (uid {os.getuid()}): it cannot switch identities"
    return 0 if _in_child("agent", probe) == 0 else f"cannot switch to uid {AGENT_UID} without capabilities"


def _check_pristine():
    """0 when the agent cannot read ``/opt/turngym`` and reset can (or it is absent: "absent"), else why not."""
    if not os.path.isdir(PRISTINE_DIR):
        return "absent"

    def agent_reads():
        try:
            os.listdir(PRISTINE_DIR)
        except OSError:
            raise SystemExit(1) from None
    if _in_child("agent", agent_reads) == 0:
        return f"the agent's uid can read {PRISTINE_DIR} (image built before the store was protected: rebuild it)"
    if _in_child("reset", os.listdir, PRISTINE_DIR) != 0:
        return f"the reset group cannot read {PRISTINE_DIR} (its group must be {RESET_GID}, mode 0750)"
    return 0


def main():
    """Serves requests from stdin until it closes (the driver exited or was killed: the container then stops)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # no handler: pid 1 then ignores SIGINT from inside
    dumpable = None
    try:  # not dumpable: a command of the same uid cannot ptrace this process or write to its /proc/1/fd/1
        import ctypes

        libc = ctypes.CDLL(None)
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
        dumpable = libc.prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE = 3; the host refuses a server left dumpable
    except Exception:  # noqa: BLE001 - reported in the ready message; the host decides
        pass
    _AT_START["/dev"] = set(os.listdir("/dev"))
    _ENV.update(_child_env())
    out = sys.stdout
    out.write(json.dumps({"ready": os.getpid(), "dumpable": dumpable, "identity": _check_identity(),
                          "pristine": _check_pristine()}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        reply = _run(json.loads(line))
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
