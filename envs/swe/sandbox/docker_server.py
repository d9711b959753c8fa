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
server writes ``{"ready": pid}``.
"""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time


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


def _run(req):
    cap = int(req.get("cap", 100000))
    try:
        _prepare(req)
    except OSError as exc:
        msg = f"sandbox: cannot prepare: {exc}".encode()
        return {"exit": 125, "timed_out": False, "total": len(msg), "head": msg.decode("latin-1"), "tail": ""}
    head = bytearray()
    tail = bytearray()
    total = 0
    timed_out = False
    start = time.monotonic()
    deadline = start + float(req.get("timeout", 60.0))
    try:
        proc = subprocess.Popen(["bash", "-c", req["cmd"]], cwd=req.get("cwd") or None, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as exc:
        msg = f"sandbox: cannot start the command: {exc}".encode()
        return {"exit": 126, "timed_out": False, "total": len(msg), "head": msg.decode("latin-1"), "tail": ""}
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
    out = sys.stdout
    out.write(json.dumps({"ready": os.getpid(), "dumpable": dumpable}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        reply = _run(json.loads(line))
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
