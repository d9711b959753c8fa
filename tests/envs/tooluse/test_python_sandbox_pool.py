"""Issue 12, item 13: an env-pool worker killed (SIGKILL) during a python call leaves nothing behind.

Before, the call's code and captured output sat in ``/tmp/turngym-py-*`` folders that only the worker
removed, so a killed worker leaked them. Now code and output never touch the host's file system, the
sandbox's processes die with the worker, and its empty cgroups are removed by the next call made here.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
import warnings

import pytest

from turngym.envs.pool import SubprocessPool, WorkerError
from turngym.envs.tooluse import formats
from turngym.envs.tooluse.base import ToolCall
from turngym.envs.tooluse.tools import PythonTool, UnsafeSandboxWarning, python_sandbox
from turngym.envs.tooluse.tools.sandbox import aggregate
from turngym.envs.tooluse.tools.sandbox.procs import descendants

BWRAP_WHY = python_sandbox.isolation_unavailable()
BWRAP_OK = BWRAP_WHY is None


def _leftovers() -> set[str]:
    """Host entries a python call could leave in the temp dirs."""
    found = set()
    for root in {"/tmp", tempfile.gettempdir()}:
        found |= {os.path.join(root, e) for e in os.listdir(root) if e.startswith("turngym-py-")}
    return found


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]  # field 22 of stat: start time (the pid's identity)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _groups_of(pid: int) -> list[str]:
    layout, _ = aggregate.cgroup_layout()
    if layout is None:
        return []
    prefix = f"{aggregate.CGROUP_PREFIX}{pid}-"
    return [os.path.join(p, e) for p in set(layout.parents.values()) for e in os.listdir(p) if e.startswith(prefix)]


@pytest.mark.parametrize("backend", [
    pytest.param("auto", marks=pytest.mark.skipif(not BWRAP_OK, reason=f"bubblewrap does not work here: {BWRAP_WHY}")),
    pytest.param("unsafe-rlimit"),
])
def test_worker_killed_during_a_python_call_leaves_nothing_behind(backend):
    before = _leftovers()
    pool = SubprocessPool("turngym/ToolMath-v0", 1, workers=1,
                          env_kwargs={"python_timeout_s": 60.0, "python_backend": backend})
    outcome: list[BaseException | None] = []
    try:
        pool.reset([0], [0])
        worker = pool.pids[0]
        code = "import time\nprint('x' * 1000)\ntime.sleep(60)\n"
        action = formats.render_calls([ToolCall("python", {"code": code})], "hermes")

        def step() -> None:
            try:
                pool.step([0], [action])
                outcome.append(None)
            except BaseException as exc:  # noqa: BLE001 - the test inspects it
                outcome.append(exc)

        caller = threading.Thread(target=step)
        caller.start()
        deadline = time.monotonic() + 30
        sandbox: dict[int, str | None] = {}
        while time.monotonic() < deadline:
            sandbox = {p: _start_time(p) for p in descendants(worker)}
            if any("utf8 -" in _cmdline(p) or "import os, sys" in _cmdline(p) for p in sandbox):
                break
            time.sleep(0.02)
        assert sandbox, "the python call never started"
        time.sleep(0.5)  # the code is running (sleeping) now
        during = _leftovers() - before
        os.kill(worker, signal.SIGKILL)
        caller.join(30)
        assert len(outcome) == 1 and isinstance(outcome[0], WorkerError)
    finally:
        pool.close()

    # The sandbox's processes died with the worker.
    deadline = time.monotonic() + 10
    alive = sandbox
    while alive and time.monotonic() < deadline:
        alive = {p: t for p, t in sandbox.items() if t is not None and _start_time(p) == t}
        time.sleep(0.05)
    assert alive == {}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsafeSandboxWarning)
        here = PythonTool(backend=backend)  # an unsafe tool's construction also removes dead callers' work dirs
        assert here.call({"code": "print(6 * 7)"}).output == "42\n"  # a call's cgroup removes dead ones' groups
    if backend == "auto":
        assert during == set()  # nothing of the call was ever on the host's disk
    else:  # the unsafe backend's work dir is on the host until the next unsafe tool is built
        assert all(os.path.basename(p).startswith(f"turngym-py-work-{worker}-") for p in during)
    assert _leftovers() - before == set()
    assert _groups_of(worker) == []
