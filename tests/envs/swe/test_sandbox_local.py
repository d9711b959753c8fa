"""The local (bubblewrap) SWE sandbox: real bubblewrap, real git, a tiny repository with a pytest test.

Every test here fails on the code before issue 15 (there was no ``envs/swe/sandbox/local.py``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from turngym.envs.core.errors import ConfigError
from turngym.envs.swe.sandbox import SandboxError, SandboxSpec
from turngym.envs.swe.sandbox.local import DIR_PREFIX, LocalSandbox, forget_local_probe, reap_local
from turngym.envs.swe.sandbox.local_image import commit_files, make_local_image
from turngym.envs.tooluse.tools.sandbox.procs import live_pids, owner, pid_alive

FILES = {
    "pkg/__init__.py": "",
    "pkg/calc.py": "def add(a, b):\n    return a + b\n",
    "tests/test_calc.py": "from pkg.calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
    ".gitignore": "__pycache__/\n*.pyc\n",
}
SPEC = dict(memory_mb=512, pids=64, disk_mb=32, exec_timeout_s=20.0)


def _unavailable() -> str | None:
    try:
        LocalSandbox(SandboxSpec(image="/nonexistent"))
    except ConfigError as exc:
        return None if "local sandbox image" in str(exc) else str(exc)
    return None


pytestmark = pytest.mark.skipif(_unavailable() is not None, reason=f"local sandbox unavailable: {_unavailable()}")


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    return make_local_image(tmp_path_factory.mktemp("image"), FILES)


@pytest.fixture(scope="module")
def shared(image):
    with LocalSandbox(SandboxSpec(image=str(image), **SPEC)) as sb:
        yield sb


@pytest.fixture
def sb(shared):
    shared.reset()
    return shared


def _uid_processes(uid: int) -> list[int]:
    return live_pids(lambda p, st: owner(p) == uid)


def _clean(sb: LocalSandbox) -> bool:
    return sb.exec("git status --porcelain --ignored --untracked-files=all").output == ""


# ------------------------------------------------------------------------------------------------- exec


def test_exec_output_and_exit_codes(sb):
    res = sb.exec("echo out; echo err >&2; echo out2; exit 3")
    assert res.exit_code == 3 and not res.ok and res.output == "out\nerr\nout2\n" and not res.timed_out
    assert sb.exec("pwd; id -u").output == f"/testbed\n{sb.uid}\n"
    assert sb.exec("pwd", workdir="pkg").output == "/testbed/pkg\n"
    assert sb.exec("kill -9 $$").exit_code == 128 + 9


def test_runs_the_repository_tests(sb):
    res = sb.exec("python -m pytest -q -p no:cacheprovider tests", timeout=60)
    assert res.ok and "1 passed" in res.output, res.output


def test_timeout_kills_the_whole_process_tree(sb):
    start = time.monotonic()
    res = sb.exec("sleep 300 & (sleep 301 &); setsid sleep 302 & nohup sleep 303 >/dev/null 2>&1 & "
                  "echo started; sleep 304", timeout=1)
    assert res.timed_out and res.exit_code is None and "started" in res.output
    assert time.monotonic() - start < 30
    assert _uid_processes(sb.uid) == []


def test_background_process_of_a_finished_command_is_killed(sb):
    res = sb.exec("setsid sh -c 'while true; do sleep 1; done' >/dev/null 2>&1 < /dev/null & echo $!")
    assert res.ok and _uid_processes(sb.uid) == []
    assert sb.exec("ps -e -o stat=,comm= | grep -v '^Z' | grep -c sleep").output.strip() == "0"


def test_output_is_capped_head_and_tail(sb):
    res = sb.exec("seq 1 100000", max_output_chars=1000)
    assert res.truncated and res.ok and len(res.output) < 1100
    assert res.output.startswith("1\n2\n3\n") and res.output.endswith("99999\n100000\n") and "cut" in res.output
    endless = sb.exec("yes", timeout=1, max_output_chars=200)
    assert endless.timed_out and endless.truncated and len(endless.output) < 300


# ------------------------------------------------------------------------------------------------ reset


def test_reset_restores_edits_new_deleted_and_ignored_files_and_git_state(sb):
    sb.exec("echo 'def add(a, b):\n    return a - b' > pkg/calc.py; rm tests/test_calc.py; mkdir -p new/deep; "
            "echo x > new/deep/f.txt; echo y > pkg/calc.pyc; git checkout -q -b agent; git add -A; "
            "git commit -qm agent; echo z > stash.txt; git add stash.txt; git stash -q; git tag mine")
    assert not _clean(sb) or sb.exec("git log --oneline | wc -l").output.strip() == "2"
    sb.reset()
    assert _clean(sb)
    assert sb.read_file("pkg/calc.py") == FILES["pkg/calc.py"].encode()
    assert sb.read_file("tests/test_calc.py") == FILES["tests/test_calc.py"].encode()
    state = sb.exec("git log --oneline | wc -l; git stash list; git tag; git branch --format='%(refname:short)'; "
                    "ls new pkg/calc.pyc 2>&1 | wc -l")
    assert state.output == "1\nmain\n2\n", state.output


def test_reset_survives_a_destroyed_or_rigged_git_dir(sb):
    sb.exec("rm -rf .git; echo broken > pkg/calc.py")
    sb.reset()
    assert _clean(sb) and sb.read_file("pkg/calc.py") == FILES["pkg/calc.py"].encode()
    # A hook and a config that would run commands during checkout, and index bits that hide an edit.
    sb.exec("printf '#!/bin/sh\\ntouch /testbed/HOOK_RAN\\n' > .git/hooks/post-checkout; "
            "chmod +x .git/hooks/post-checkout; git config core.hooksPath .git/hooks; "
            "git config core.fsmonitor 'touch /testbed/FSMONITOR_RAN; echo'; "
            "echo hacked > pkg/calc.py; git update-index --assume-unchanged pkg/calc.py; "
            "mkdir locked; touch locked/f; chmod 000 locked")
    sb.reset()
    assert _clean(sb) and sb.read_file("pkg/calc.py") == FILES["pkg/calc.py"].encode()
    assert sb.exec("ls HOOK_RAN FSMONITOR_RAN locked 2>/dev/null | wc -l").output == "0\n"


def test_reset_to_another_commit_and_back(tmp_path):
    image = make_local_image(tmp_path / "img", FILES)
    first = subprocess.run(["git", "-C", str(image / "repo"), "rev-parse", "HEAD"], capture_output=True,
                           text=True).stdout.strip()
    second = commit_files(image, {"pkg/calc.py": "def add(a, b):\n    return b + a\n"})
    with LocalSandbox(SandboxSpec(image=str(image), **SPEC)) as sb:
        assert sb.start_commit == second and b"b + a" in sb.read_file("pkg/calc.py")
        sb.reset(first)
        assert b"a + b" in sb.read_file("pkg/calc.py") and _clean(sb)
        sb.reset()
        assert b"b + a" in sb.read_file("pkg/calc.py")
        with pytest.raises(ValueError):
            sb.reset("--upload-pack=evil")
        with pytest.raises(SandboxError):
            sb.reset("0" * 40)  # not in the image
        sb.reset()
        assert _clean(sb)


# ------------------------------------------------------------------------------------------- file access


def test_read_write_files_and_refuse_escapes(sb, tmp_path):
    sb.write_file("pkg/new/mod.py", b"X = 1\n")
    assert sb.exec("cat pkg/new/mod.py; echo more >> pkg/new/mod.py").ok  # the agent's uid may edit it
    assert sb.read_file("/testbed/pkg/new/mod.py") == b"X = 1\nmore\n"
    assert sb.read_file("pkg/calc.py", max_bytes=3) == b"def"
    with pytest.raises(FileNotFoundError):
        sb.read_file("nope.py")
    secret = tmp_path / "secret"
    secret.write_text("host secret")
    sb.exec(f"ln -s /etc/passwd leak; ln -s ../../../../.. up; ln -s {secret} hostfile; ln -s /proc/1/root root1; "
            "mkfifo fifo; ln -s pkg/calc.py alias")
    for bad in ("../etc/passwd", "/etc/passwd", str(secret), "leak", "up/etc/passwd", "hostfile", "root1/etc/hostname",
                "pkg/../../etc/passwd", "fifo", ""):
        with pytest.raises(ValueError):
            sb.read_file(bad)
    for bad in ("leak", "hostfile", "up/x", "/tmp/x", "../x", "fifo"):
        with pytest.raises(ValueError):
            sb.write_file(bad, b"pwned")
    assert secret.read_text() == "host secret" and b"pwned" not in Path("/etc/passwd").read_bytes()
    assert sb.read_file("alias") == FILES["pkg/calc.py"].encode()  # a link that stays inside is followed


# --------------------------------------------------------------------------------------- hostile commands


def test_fork_bomb_is_contained(sb):
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], len(_uid_processes(sb.uid)))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        res = sb.exec(":(){ :|:& };: ; sleep 2; echo survived", timeout=10)
    finally:
        stop.set()
        thread.join()
    assert "survived" in res.output and "Resource temporarily unavailable" in res.output, res.output
    assert 8 < peak[0] <= SPEC["pids"] + 2  # it did fork, up to the limit and no further
    assert _uid_processes(sb.uid) == []
    assert sb.exec("echo alive").output == "alive\n"


@pytest.mark.slow
def test_memory_bombs_are_contained(sb):
    one = sb.exec("python -c 'b = bytearray(3 * 2**30)'", timeout=30)
    assert not one.ok and "MemoryError" in one.output
    many = sb.exec("for i in 1 2 3 4 5 6; do python -c 'import time; b = bytearray(150 * 2**20); "
                   "b[::4096] = b\"x\" * len(b[::4096]); time.sleep(3)' & done; wait", timeout=40)
    assert "memory limit" in many.output or "MemoryError" in many.output, many.output
    assert sb.exec("echo alive").output == "alive\n"


def test_disk_fill_stops_at_the_cap_and_leaves_the_host_disk_alone(sb):
    # Every writable place is a tmpfs inside the sandbox, so nothing written there reaches the host disk. (Host free
    # space is not compared: CI installs a wheel's venv at the same time, and that moved it by more than 100 MB.)
    kinds = sb.exec("stat -f -c %T /testbed /tmp /dev/shm").output.split()
    assert kinds == ["tmpfs"] * 3, kinds
    # Files of 12 MB each (under RLIMIT_FSIZE): only the tmpfs size cap (32 MB) stops the third.
    res = sb.exec("for d in /testbed /tmp /dev/shm; do for i in 1 2 3; do dd if=/dev/zero of=$d/big$i bs=1M "
                  "count=12 status=none; done; done", timeout=60)
    assert res.output.count("No space left on device") == 3, res.output
    sb.reset()
    assert _clean(sb) and sb.exec("ls /tmp /dev/shm | wc -l").output == "3\n"  # the two headers and a blank


def test_network_reaches_nothing_on_the_host(sb):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    got: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                got.append(listener.accept())
            except (TimeoutError, OSError):
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        res = sb.exec(f"echo hi > /dev/tcp/127.0.0.1/{port}; python -c \"import socket; "
                      f"socket.create_connection(('127.0.0.1', {port}), timeout=3)\"; "
                      "python -c \"import socket; socket.create_connection(('1.1.1.1', 53), timeout=3)\"", timeout=30)
        assert "Connection refused" in res.output or "unreachable" in res.output, res.output
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert got == []


def test_host_files_are_invisible_and_the_host_is_read_only(sb, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    res = sb.exec(f"cat {secret}; cat /etc/shadow; cat /etc/passwd; ls /root/.ssh /work /home; "
                  f"cat {Path(__file__).resolve()}")
    assert "host secret" not in res.output and "root:" not in res.output
    for target in ("/usr/evil", "/etc/evil", "/opt/turngym/objects/evil", "/opt/turngym/git/evil", "/evil",
                   "/dev/evil", f"{sys.prefix}/evil"):
        assert not sb.exec(f"echo x > {target}").ok, target
    assert not any(Path(p).exists() for p in ("/usr/evil", "/etc/evil", f"{sys.prefix}/evil"))
    assert sb.exec("kill -9 1; kill -9 2; echo $?").output.endswith("1\n")  # the init is not the agent's
    assert sb.alive


# ------------------------------------------------------------------------------------ lifecycle and leaks


def test_close_leaves_nothing(image):
    sb = LocalSandbox(SandboxSpec(image=str(image), **SPEC))
    host_dir, init = sb.host_dir, sb._holder.init_pid
    sb.exec("sleep 100 &")
    sb.close()
    sb.close()
    assert not os.path.exists(host_dir) and not pid_alive(init) and _uid_processes(sb.uid) == []
    assert not sb.alive
    with pytest.raises(SandboxError):
        sb.exec("true")


def test_a_dead_sandbox_says_so(image):
    with LocalSandbox(SandboxSpec(image=str(image), **SPEC)) as sb:
        os.kill(sb._holder.init_pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while sb.alive and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not sb.alive
        with pytest.raises(SandboxError):
            sb.exec("true")
        with pytest.raises(SandboxError):
            sb.reset()


_DRIVER = textwrap.dedent("""
    import sys, time
    from turngym.envs.swe.sandbox import SandboxSpec
    from turngym.envs.swe.sandbox.local import LocalSandbox
    sb = LocalSandbox(SandboxSpec(image=sys.argv[1], disk_mb=16))
    print(sb.host_dir, sb._holder.init_pid, flush=True)
    time.sleep(600)
""")


def test_sigkilled_driver_leaves_a_marked_dir_that_reap_local_removes(image, shared):
    driver = subprocess.Popen([sys.executable, "-c", _DRIVER, str(image)], stdout=subprocess.PIPE, text=True)
    try:
        host_dir, init = driver.stdout.readline().split()
    finally:
        driver.kill()
        driver.wait()
    assert os.path.basename(host_dir).startswith(f"{DIR_PREFIX}{driver.pid}-") and os.path.isdir(host_dir)
    deadline = time.monotonic() + 10
    while pid_alive(int(init)) and time.monotonic() < deadline:  # the holder ends with its driver
        time.sleep(0.02)
    assert not pid_alive(int(init))
    removed = reap_local()
    assert host_dir in removed and not os.path.exists(host_dir)
    assert os.path.isdir(shared.host_dir) and shared.host_dir not in removed  # a live driver's dirs are kept
    assert shared.exec("echo ok").ok


def test_refuses_without_bubblewrap_and_says_how_to_install(image, tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    forget_local_probe()
    try:
        with pytest.raises(ConfigError, match="apt-get install bubblewrap") as info:
            LocalSandbox(SandboxSpec(image=str(image)))
        assert "bwrap: not found on PATH" in str(info.value)
    finally:
        forget_local_probe()


def test_bad_image_and_workdir_are_config_errors(tmp_path, image):
    with pytest.raises(ConfigError, match="repo/"):
        LocalSandbox(SandboxSpec(image=str(tmp_path)))
    with pytest.raises(ConfigError, match="workdir"):
        LocalSandbox(SandboxSpec(image=str(image), workdir="/usr"))


def test_close_during_a_command_ends_it_with_sandbox_error(image):
    sb = LocalSandbox(SandboxSpec(image=str(image), **SPEC))
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(sb.exec("sleep 60", timeout=120))
        except SandboxError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.5)
    start = time.monotonic()
    sb.close()
    thread.join(timeout=30)
    assert not thread.is_alive() and time.monotonic() - start < 30
    assert len(outcome) == 1 and isinstance(outcome[0], SandboxError)
    assert _uid_processes(sb.uid) == [] and not os.path.exists(sb.host_dir)
