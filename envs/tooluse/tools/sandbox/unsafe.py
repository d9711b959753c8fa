"""The ``unsafe-rlimit`` backend: resource limits and audit hooks, NO isolation. Only on explicit request.

It runs the code with the same rlimits and per-call uid as the bwrap backend, in a work directory on the
host, with a cleared environment, a new network namespace when the kernel allows it, and Python audit
hooks (PEP 578) that refuse sockets, starting programs, ``ctypes`` and writes outside the work
directory. Audit hooks are not a security boundary, and the reporter of issue 12 (item 1) escaped all of
it from ``turngym/ToolMath-v0``: code can create files on the host (``os.open`` with ``dir_fd`` is not an
``open`` event), start ``/bin/sh`` through ``_posixsubprocess.fork_exec``, remove the hook itself (it is
reachable through ``gc.get_objects()``), read every world-readable file (the project's source,
``/etc/passwd``, other processes' ``/proc/*/cmdline``), keep files in ``/dev/shm`` after the call, and
fill the host disk through its work directory (770 MB in 2 s). As a non-root host user it also runs as
that user (reads and writes that user's files) and a process that calls ``setsid`` and double-forks
escapes the final kill. Use it only for code you would run yourself.

Its work directories are named ``turngym-py-work-<pid>-<random>`` after the process that made them and
removed after each call; those of a process killed during a call are removed by the next unsafe tool
built on the machine (their owner no longer exists).
"""

from __future__ import annotations

import os
import shutil
import tempfile

from turngym.envs.tooluse.tools.sandbox.procs import UID_BASE, UID_SPAN, pid_alive

WORKDIR_PREFIX = "turngym-py-work-"

# Run before the agent's code (read from stdin): audit hooks that refuse network access, starting
# programs, ctypes (which could call libc around the hooks) and writes outside the working directory.
# They keep what they need in default arguments because the module globals are cleared before the code
# runs. Known bypasses: see the module docstring.
PRELUDE = r"""
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


def make_workdir(uid: int | None) -> str:
    """A fresh host work directory for one call, owned by ``uid`` when given."""
    path = tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-")
    if uid is not None:
        os.chown(path, uid, uid)
    return path


def sweep_workdirs() -> list[str]:
    """Removes the work directories of processes that no longer exist (killed during a call).

    Returns:
        The directories removed.
    """
    removed = []
    root = tempfile.gettempdir()
    try:
        entries = [e for e in os.scandir(root) if e.name.startswith(WORKDIR_PREFIX)]
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        # Only real directories this user or a per-call uid owns: never follow a name someone else planted.
        ours = st.st_uid == os.geteuid() or UID_BASE <= st.st_uid < UID_BASE + UID_SPAN
        if not (entry.is_dir(follow_symlinks=False) and ours):
            continue
        pid_text = name[len(WORKDIR_PREFIX):].split("-", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not pid_alive(int(pid_text)):
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
            removed.append(os.path.join(root, name))
    return removed
