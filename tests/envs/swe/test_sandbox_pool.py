"""The warm sandbox pool over the real local (bubblewrap) backend.

Every test here fails on the code before issue 15 (there was no ``envs/swe/sandbox/pool.py``).
"""

from __future__ import annotations

import glob
import os
import signal
import tempfile
import threading
import time

import pytest

from turngym.envs.core.errors import ConfigError
from turngym.envs.swe.sandbox import SandboxError, SandboxSpec
from turngym.envs.swe.sandbox.local import DIR_PREFIX, LocalSandbox, reap_local
from turngym.envs.swe.sandbox.local_image import commit_files, make_local_image
from turngym.envs.swe.sandbox.pool import SandboxPool
from turngym.envs.tooluse.tools.sandbox.procs import live_pids, owner, pid_alive

FILES = {"pkg/__init__.py": "", "pkg/calc.py": "def add(a, b):\n    return a + b\n"}


def _unavailable() -> str | None:
    try:
        LocalSandbox(SandboxSpec(image="/nonexistent"))
    except ConfigError as exc:
        return None if "local sandbox image" in str(exc) else str(exc)
    return None


pytestmark = pytest.mark.skipif(_unavailable() is not None, reason=f"local sandbox unavailable: {_unavailable()}")


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return make_local_image(tmp_path_factory.mktemp("image"), FILES)


def _factory(image, made: list | None = None):
    def build() -> LocalSandbox:
        sb = LocalSandbox(SandboxSpec(image=str(image), memory_mb=512, pids=64, disk_mb=16))
        if made is not None:
            made.append(sb)
        return sb
    return build


def _my_dirs() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), f"{DIR_PREFIX}{os.getpid()}-*")))


def _wait_idle(pool: SandboxPool, idle: int) -> None:
    deadline = time.monotonic() + 30
    while pool.stats()["idle"] < idle and time.monotonic() < deadline:
        time.sleep(0.005)


def _leftovers(made: list[LocalSandbox], dirs_before: set[str]) -> list[str]:
    found = [f"dir {d}" for d in _my_dirs() - dirs_before]
    for sb in made:
        found += [f"process {p} of uid {sb.uid}" for p in live_pids(lambda p, st, u=sb.uid: owner(p) == u)]
        found += [f"init {sb._holder.init_pid}"] if sb._holder.init_pid and pid_alive(sb._holder.init_pid) else []
    return found


def test_acquire_hands_out_a_reset_sandbox(image):
    with SandboxPool(_factory(image), 1) as pool:
        sb = pool.acquire()
        sb.exec("echo broken > pkg/calc.py; touch junk; sleep 100 &")
        pool.release(sb)
        again = pool.acquire(timeout=30)
        assert again is sb  # the same warm sandbox: no new one was started
        assert again.exec("git status --porcelain --ignored").output == ""
        assert again.read_file("pkg/calc.py") == FILES["pkg/calc.py"].encode()
        with LocalSandbox(SandboxSpec(image=str(image), disk_mb=16)) as stranger, pytest.raises(ValueError):
            pool.release(stranger)
        pool.release(again)
        with pytest.raises(ValueError):
            pool.release(again)  # twice


def test_acquire_at_a_commit(tmp_path):
    img = make_local_image(tmp_path / "img", FILES)
    first = LocalSandbox(SandboxSpec(image=str(img), disk_mb=16))
    first_commit = first.start_commit
    first.close()
    commit_files(img, {"pkg/calc.py": "def add(a, b):\n    return b + a\n"})
    with SandboxPool(_factory(img), 1) as pool:
        sb = pool.acquire(commit=first_commit)
        assert b"a + b" in sb.read_file("pkg/calc.py")
        pool.release(sb)
        assert b"b + a" in pool.acquire(timeout=30).read_file("pkg/calc.py")


def test_a_dead_sandbox_is_replaced(image):
    made: list[LocalSandbox] = []
    with SandboxPool(_factory(image, made), 1) as pool:
        sb = pool.acquire()
        os.kill(sb._holder.init_pid, signal.SIGKILL)
        pool.release(sb)
        fresh = pool.acquire(timeout=30)
        assert fresh is not sb and fresh.alive and fresh.exec("echo ok").output == "ok\n"
        assert pool.stats()["replaced"] == 1 and len(made) == 2
        assert not os.path.exists(sb.host_dir)


def test_a_failing_replacement_raises_sandbox_error_and_the_pool_survives(image):
    good = _factory(image)
    calls = [0]

    def flaky() -> LocalSandbox:
        calls[0] += 1
        if calls[0] > 1:
            raise OSError("no more sandboxes today")
        return good()

    with SandboxPool(flaky, 1) as pool:
        sb = pool.acquire()
        os.kill(sb._holder.init_pid, signal.SIGKILL)
        pool.release(sb)
        with pytest.raises(SandboxError, match="no more sandboxes today"):
            pool.acquire(timeout=30)
        assert pool.stats()["missing"] == 1
        calls[0] = 0
        assert pool.acquire(timeout=30).alive  # the next acquire tries again


def test_threads_never_share_a_sandbox(image):
    made: list[LocalSandbox] = []
    before = _my_dirs()
    in_use: set[int] = set()
    lock = threading.Lock()
    errors: list[str] = []

    def worker(n: int) -> None:
        for i in range(5):
            sb = pool.acquire(timeout=60)
            with lock:
                if id(sb) in in_use:
                    errors.append("shared")
                in_use.add(id(sb))
            out = sb.exec(f"test ! -e mine && echo {n}-{i} > mine && cat mine").output
            if out != f"{n}-{i}\n":
                errors.append(out)
            with lock:
                in_use.discard(id(sb))
            pool.release(sb)

    with SandboxPool(_factory(image, made), 2) as pool:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == [] and len(made) == 2
    assert _leftovers(made, before) == []


def _episodes(image, n: int) -> None:
    made: list[LocalSandbox] = []
    before = _my_dirs()
    with SandboxPool(_factory(image, made), 2, reap=reap_local) as pool:
        for i in range(n):
            sb = pool.acquire(timeout=60)
            assert sb.exec(f"echo {i} > f; sleep 60 & cat f").output == f"{i}\n"
            pool.release(sb)
        _wait_idle(pool, 2)
        assert pool.stats()["replaced"] == 0
    assert _leftovers(made, before) == []


def test_nothing_left_after_episodes(image):
    _episodes(image, 20)


@pytest.mark.slow
def test_nothing_left_after_200_episodes(image):
    _episodes(image, 200)


def test_bad_size_and_closed_pool(image):
    with pytest.raises(ConfigError):
        SandboxPool(_factory(image), 0)
    pool = SandboxPool(_factory(image), 1)
    sb = pool.acquire()
    pool.close()
    pool.close()
    assert not sb.alive and not os.path.exists(sb.host_dir)
    pool.release(sb)  # after close: nothing to do
    with pytest.raises(SandboxError, match="closed"):
        pool.acquire()
