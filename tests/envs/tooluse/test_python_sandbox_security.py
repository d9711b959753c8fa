"""The python tool against the attacks of issue 12 (item 1), on every backend this machine can run.

Under bubblewrap every attack must be contained: host files are neither created nor read, a shell started
from the code stays inside, other processes are invisible, writes are capped by size-limited tmpfs
mounts, the memory and tasks of all the call's processes together are capped, and there is no network.
Without a working bubblewrap (``PATH`` without ``bwrap``: CI runs this file once like that) the default
backend refuses to be built with the install hint, and the unsafe backend warns on every construction.
The bwrap-only tests skip, with the reason, where bubblewrap does not work.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import gymnasium as gym
import pytest

import turngym.envs as te
from turngym.envs.core.errors import ConfigError
from turngym.envs.tooluse.base import Task
from turngym.envs.tooluse.tools import PythonTool, UnsafeSandboxWarning, make_tools, python_sandbox, sandbox_backend
from turngym.envs.tooluse.tools.sandbox import aggregate

MATH_TASK = Task("t/py", "math", "q?", "1", "a number", ("calculator", "python"))


BWRAP_WHY = python_sandbox.isolation_unavailable()
BWRAP_OK = BWRAP_WHY is None
needs_bwrap = pytest.mark.skipif(not BWRAP_OK, reason=f"bubblewrap does not work here: {BWRAP_WHY}")
CGROUP_LAYOUT, CGROUP_WHY = aggregate.cgroup_layout()

# The reporter's first move against the old fallback: find the audit hook through the garbage collector and
# turn it into a no-op. Every attack below starts with it, so no backend may rely on hooks.
HOOK_OFF = """
import gc, types
for obj in gc.get_objects():
    if isinstance(obj, types.FunctionType) and obj.__name__ == '_hook':
        obj.__code__ = (lambda event, args, *a, **k: None).__code__.replace(co_name='_hook')
"""
DISK_MB = 16
MEMORY_MB = 256


def _token() -> str:
    return f"turngym-attack-{os.getpid()}-{random.randrange(10**12)}"


@pytest.fixture(scope="module")
def box() -> PythonTool:
    if not BWRAP_OK:
        pytest.skip(f"bubblewrap does not work here: {BWRAP_WHY}")
    return PythonTool(timeout_s=15, cpu_s=10, memory_mb=MEMORY_MB, disk_mb=DISK_MB, max_processes=16,
                      max_output_chars=6000)


def _run(tool: PythonTool, code: str):
    return tool.call({"code": HOOK_OFF + code})


# ------------------------------------------------------------------------------- without bubblewrap


@pytest.fixture
def no_bwrap(monkeypatch, tmp_path):
    """PATH without bwrap, and no probe result remembered from before."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    python_sandbox.forget_probes()
    yield
    python_sandbox.forget_probes()


def test_auto_refuses_without_bwrap_and_says_how_to_install(no_bwrap):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnsafeSandboxWarning)  # and never falls back to the unsafe backend
        for build in (PythonTool, lambda: PythonTool(backend="bwrap"), lambda: sandbox_backend("auto"),
                      lambda: make_tools(MATH_TASK), lambda: te.make("turngym/ToolMath-v0"),
                      lambda: gym.make("turngym/ToolMath-v0")):
            with pytest.raises(ConfigError, match="apt-get install bubblewrap") as info:
                build()
            assert "not found on PATH" in str(info.value) and "unsafe-rlimit" in str(info.value)
        # Envs whose tasks never run python are unaffected.
        env = te.make("turngym/ToolQA-v0")
        assert env.reset(seed=0)[0]


def test_unsafe_backend_warns_on_every_construction(no_bwrap):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # Python's default: once per code location, unless bypassed
        tools = [PythonTool(backend=name) for name in ("unsafe-rlimit", "unsafe-rlimit", "rlimit")]
        envs = [te.make("turngym/ToolMath-v0", python_backend="unsafe-rlimit") for _ in range(2)]
    unsafe = [w for w in caught if issubclass(w.category, UnsafeSandboxWarning)]
    assert len(unsafe) == 5
    assert all("WITHOUT isolation" in str(w.message) and "apt-get install bubblewrap" in str(w.message)
               for w in unsafe)
    assert {w.filename for w in unsafe} == {__file__}  # attributed to the caller, not to turngym
    assert [t.backend for t in tools] == ["unsafe-rlimit"] * 3
    assert all(env.unwrapped.python_backend == "unsafe-rlimit" for env in envs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsafeSandboxWarning)
        obs, _ = envs[0].reset(seed=0)
        assert tools[0].call({"code": "print(6 * 7)"}).output == "42\n"


# --------------------------------------------------------------------------------- under bubblewrap


@needs_bwrap
def test_auto_is_bwrap_where_it_works():
    assert sandbox_backend("auto") == "bwrap" == PythonTool().backend
    assert te.make("turngym/ToolMath-v0").unwrapped.python_backend == "auto"


@needs_bwrap
def test_files_cannot_be_created_on_the_host(box, tmp_path):
    token = _token()
    dirs = ["/tmp", tempfile.gettempdir(), "/dev/shm", "/root", str(tmp_path), "/var/tmp", "/"]
    code = (
        "import os\n"
        f"for d in {dirs!r}:\n"
        "    for how in ('dir_fd', 'path'):\n"
        "        try:\n"
        "            if how == 'dir_fd':\n"
        f"                fd = os.open({token!r}, os.O_CREAT | os.O_WRONLY, dir_fd=os.open(d, os.O_RDONLY))\n"
        "            else:\n"
        f"                fd = os.open(os.path.join(d, {token!r} + '.2'), os.O_CREAT | os.O_WRONLY)\n"
        "            os.write(fd, b'pwned'); os.close(fd)\n"
        "        except OSError as e:\n"
        "            pass\n"
        "print('done')\n"
    )
    r = _run(box, code)
    assert r.ok and "done" in r.output
    for d in dirs:
        assert not (Path(d) / token).exists() and not (Path(d) / f"{token}.2").exists(), d


@needs_bwrap
def test_a_shell_started_by_the_code_stays_inside(box):
    token = _token()
    code = (
        "import _posixsubprocess, subprocess\n"
        "script = ('id -u; cat /etc/passwd || echo NO-PASSWD; ls /work /home 2>&1 || true; '\n"
        f"          'touch /tmp/{token}; echo SHELL-RAN')\n"
        "print(subprocess.run(['/bin/sh', '-c', script], capture_output=True, text=True).stdout)\n"
    )
    r = _run(box, code)
    assert "SHELL-RAN" in r.output and "NO-PASSWD" in r.output and "root:" not in r.output
    uid = int(r.output.split()[0])
    assert uid != 0
    assert not Path(f"/tmp/{token}").exists()


@needs_bwrap
def test_host_files_and_other_processes_are_invisible(box):
    token = _token()
    marker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", token])
    try:
        source = os.path.realpath(python_sandbox.__file__)
        code = (
            "import os\n"
            f"for p in ['/etc/passwd', '/etc/shadow', {source!r}, {os.path.dirname(source)!r}]:\n"
            "    print(p, 'VISIBLE' if os.path.exists(p) else 'absent')\n"
            "seen = []\n"
            "for pid in os.listdir('/proc'):\n"
            "    if pid.isdigit():\n"
            "        try:\n"
            "            seen.append(open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\\0', b' ').decode())\n"
            "        except OSError:\n"
            "            pass\n"
            "print('PROCESSES', len(seen))\n"
            "print('\\n'.join(seen))\n"
        )
        r = _run(box, code)
    finally:
        marker.kill()
        marker.wait()
    assert r.ok and "VISIBLE" not in r.output and r.output.count("absent") == 4
    assert token not in r.output and "pytest" not in r.output
    count = int(r.output.split("PROCESSES ")[1].split()[0])
    assert count <= 4  # bwrap's init, the interpreter (and setpriv's exec of it): nothing of the host


@needs_bwrap
def test_writable_places_are_size_capped_tmpfs(box):
    token = _token()
    # The reporter wrote 770 MB into the work dir in 2 s; /dev/shm kept 50 MB after the call.
    code = (
        "import os\n"
        "block = b'x' * 2**20\n"
        "for d in ['.', '/tmp', '/dev/shm']:\n"
        "    written = 0\n"
        "    try:\n"
        "        for i in range(800):\n"
        f"            with open(os.path.join(d, '{token}-%d' % i), 'wb') as f:\n"
        "                f.write(block)\n"
        "            written += 1\n"
        "    except OSError as e:\n"
        "        print(d, 'stopped:', e.strerror)\n"
        "    print(d, 'MB', written)\n"
    )
    r = _run(box, code)
    written = {line.split()[0]: int(line.split()[2]) for line in r.output.splitlines() if " MB " in line}
    assert set(written) == {".", "/tmp", "/dev/shm"}, r.output
    for d, mb in written.items():
        assert 1 <= mb <= DISK_MB, (d, mb)  # writable (multiprocessing needs /dev/shm), never beyond its cap
    assert r.output.count("No space left on device") == 3
    for root in ("/dev/shm", tempfile.gettempdir(), "/tmp", "/var/tmp"):
        for dirpath, _, files in os.walk(root):
            assert not [name for name in files if token in name], dirpath


def _mechanisms() -> list:
    return [
        pytest.param("cgroup", marks=pytest.mark.skipif(CGROUP_LAYOUT is None, reason=f"no cgroup here: {CGROUP_WHY}")),
        pytest.param("watchdog"),
    ]


@needs_bwrap
@pytest.mark.parametrize("mechanism", _mechanisms())
def test_memory_of_all_forked_children_together_is_capped(mechanism):
    tool = PythonTool(timeout_s=15, cpu_s=10, memory_mb=MEMORY_MB, aggregate_limits=mechanism)
    # 16 children of 100 MB each stay under the 256 MB per-process address-space limit; together they held
    # 2.3 GB before (issue 12). Each reports once its 100 MB are resident; the parent then counts how many of
    # those are still alive.
    code = (
        "import os, time\n"
        "r, w = os.pipe()\n"
        "for i in range(16):\n"
        "    if os.fork() == 0:\n"
        "        held = b'x' * (100 << 20)\n"
        "        os.write(w, b'%d,' % os.getpid())\n"
        "        time.sleep(30)\n"
        "        os._exit(0)\n"
        "time.sleep(4)\n"
        "os.set_blocking(r, False)\n"
        "try:\n"
        "    ready = [int(p) for p in os.read(r, 4096).decode().split(',') if p]\n"
        "except BlockingIOError:\n"
        "    ready = []\n"
        "holding = [p for p in ready if os.waitpid(p, os.WNOHANG) == (0, 0)]\n"
        "print('HOLDING', len(holding))\n"
    )
    start = time.monotonic()
    r = tool.call({"code": code})
    assert time.monotonic() - start < 30
    assert not r.ok and f"memory limit of {MEMORY_MB} MB reached by the call's processes together" in r.output
    if "HOLDING" in r.output:  # a cgroup kills children one by one; the watchdog kills the whole call
        assert int(r.output.split("HOLDING ")[1].split()[0]) <= MEMORY_MB // 100
    assert tool.call({"code": "print(6 * 7)"}).output == "42\n"


@needs_bwrap
def test_fork_bomb_is_capped(box):
    code = (
        "import os, time\n"
        "n = 0\n"
        "try:\n"
        "    while n < 10000:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(30)\n"
        "            os._exit(0)\n"
        "        n += 1\n"
        "except OSError as e:\n"
        "    print('refused:', e.strerror)\n"
        "print('FORKED', n)\n"
    )
    r = _run(box, code)
    assert "refused: Resource temporarily unavailable" in r.output
    assert int(r.output.split("FORKED ")[1].split()[0]) < box.max_processes


@needs_bwrap
@pytest.mark.skipif(CGROUP_LAYOUT is None, reason=f"no cgroup can be created here: {CGROUP_WHY}")
def test_a_call_runs_in_its_own_limited_cgroup_which_is_removed_after():
    tool = PythonTool(timeout_s=15, memory_mb=200, max_processes=20)
    assert tool.aggregate_limits == f"cgroup{CGROUP_LAYOUT.version}"
    parents = sorted(set(CGROUP_LAYOUT.parents.values()))
    mine = f"{aggregate.CGROUP_PREFIX}{os.getpid()}-"

    def groups() -> list[str]:
        return [os.path.join(p, e) for p in parents for e in os.listdir(p) if e.startswith(mine)]

    seen: dict[str, str] = {}

    def look() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(seen) < 2:
            for g in groups():
                for name in ("memory.max", "memory.limit_in_bytes", "pids.max"):
                    try:
                        seen[name] = Path(g, name).read_text().strip()
                    except OSError:
                        pass
            time.sleep(0.01)

    watcher = threading.Thread(target=look)
    watcher.start()
    r = tool.call({"code": "import time; time.sleep(1.5); print('ok')"})
    watcher.join()
    assert r.ok
    assert seen.get("pids.max") == str(20 + aggregate.BWRAP_OWN_TASKS)
    assert seen.get("memory.max", seen.get("memory.limit_in_bytes")) == str(200 * 2**20)
    assert groups() == []
