"""The docker sandbox backend against a real daemon: behaviour, reset, hostile commands, cleanup, reaping.

Skipped, with the reason, where no daemon answers or the base image is missing (``.ci/docker-setup`` builds it).
The test image is a tiny repository built on the base image by ``docker/build.sh repo`` (no pip: ~2 s).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from turngym.envs.swe.sandbox.base import LABEL, SandboxError, SandboxSpec

ROOT = Path(__file__).resolve().parents[3]
BASE = os.environ.get("TURNGYM_SWE_BASE_IMAGE", "turngym-swe-base")
IMAGE = "turngym-swe-test-tinyrepo"


def _why_skip() -> str | None:
    from turngym.envs.swe.sandbox.docker_backend import docker_unavailable

    why = docker_unavailable()
    if why is not None:
        return why
    res = subprocess.run(["docker", "image", "inspect", BASE], capture_output=True)
    if res.returncode != 0:
        return f"the base image {BASE} is missing: run .ci/docker-setup (or docker/build.sh base)"
    return None


_WHY = _why_skip()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=f"docker backend unavailable: {_WHY}")


def make_repo(path: Path) -> Path:
    """A tiny git repository (no build backend, no requirements: the image build needs no pip)."""
    (path / "pkg").mkdir(parents=True)
    (path / "pkg" / "mod.py").write_text("def add(a, b):\n    return a + b\n")
    (path / "README").write_text("tiny\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "start"]):
        subprocess.run(cmd, cwd=path, check=True, env=env)
    return path


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    repo = make_repo(tmp_path_factory.mktemp("tinyrepo") / "tinyrepo")
    subprocess.run([str(ROOT / "docker" / "build.sh"), "repo", str(repo), "--base", BASE, "--name", IMAGE],
                   check=True, capture_output=True)
    return IMAGE


@pytest.fixture
def box(image: str):
    from turngym.envs.swe.sandbox.docker_backend import DockerSandbox

    # history=True: these tests use git on the image's history (the SWE env runs with it off, tested below).
    sb = DockerSandbox(SandboxSpec(image=image, memory_mb=256, pids=128, disk_mb=64, exec_timeout_s=20,
                                   history=True))
    yield sb
    sb.close()


def labelled(**filters: str) -> list[str]:
    """Ids of containers (any state) carrying the sandbox label (and ``label=value`` filters)."""
    args = ["--filter", f"label={LABEL}", *[a for k, v in filters.items() for a in ("--filter", f"label={k}={v}")]]
    out = subprocess.run(["docker", "ps", "-aq", *args], capture_output=True, text=True, check=True).stdout
    return out.split()


def volumes() -> set[str]:
    """Names of every docker volume."""
    return set(subprocess.run(["docker", "volume", "ls", "-q"], capture_output=True, text=True).stdout.split())


def processes(box) -> list[str]:
    """The command names of every process in the container but the one that lists them."""
    res = box.exec("for p in /proc/[0-9]*; do [ \"${p#/proc/}\" = $$ ] || cat $p/comm 2>/dev/null; done")
    return res.output.split()


def test_exec_output_exit_code_and_workdir(box):
    res = box.exec("echo out; echo err >&2; exit 7")
    assert (res.exit_code, res.output, res.timed_out, res.truncated) == (7, "out\nerr\n", False, False)
    assert box.exec("pwd").output == "/testbed\n"
    assert box.exec("pwd", workdir="pkg").output == "/testbed/pkg\n"
    assert box.exec("cat pkg/mod.py").output.startswith("def add")
    assert box.exec("git status --porcelain").output == ""
    with pytest.raises(ValueError):
        box.exec("true", workdir="../etc")


def test_timeout_kills_the_whole_process_tree(box):
    t0 = time.monotonic()
    res = box.exec("(sleep 300 &); setsid sleep 301 & nohup sleep 302 >/dev/null 2>&1 & echo started; sleep 303",
                   timeout=1.0)
    assert res.timed_out and res.exit_code is None and "started" in res.output
    assert time.monotonic() - t0 < 15
    assert "sleep" not in processes(box)
    # A background daemon of a command that returned normally dies with it too (base.Sandbox.exec's contract).
    box.exec("setsid sleep 400 & disown; echo ok")
    assert "sleep" not in processes(box)


def test_output_is_capped_head_and_tail(box):
    res = box.exec("echo FIRST; seq 1 200000; echo LAST", max_output_chars=1000)
    assert res.truncated and res.exit_code == 0
    assert res.output.startswith("FIRST") and res.output.rstrip().endswith("LAST")
    assert len(res.output) < 1100
    flood = box.exec("yes infinite", timeout=2.0, max_output_chars=500)
    assert flood.timed_out and flood.truncated and len(flood.output) < 600


def test_reset_restores_the_start_state(box):
    box.exec("echo changed >> README; rm pkg/mod.py; mkdir -p new/deep; touch new/deep/f .hidden; "
             "echo junk > /tmp/junk; echo stash > /dev/stash; mkdir /dev/shm/d; git add -A; git commit -qm agent; "
             "git update-index --skip-worktree README")
    box.exec("setsid sleep 500 &")
    box.reset()
    assert box.exec("git status --porcelain --ignored").output == ""
    assert box.exec("cat README").output == "tiny\n"
    assert box.exec("ls -A /tmp /dev/shm; ls /dev | grep stash").output == "/dev/shm:\n\n/tmp:\n"
    assert box.exec("git rev-parse HEAD").output.strip() == box.start_commit
    assert "sleep" not in processes(box)
    # A deleted .git and a planted hook / filter / alias do not survive a reset either.
    box.exec("rm -rf .git")
    box.reset()
    assert box.exec("git rev-parse HEAD").output.strip() == box.start_commit
    box.exec("printf '#!/bin/sh\\necho HOOKED > /tmp/pwned\\n' > .git/hooks/post-checkout; chmod +x .git/hooks/*; "
             "git config filter.x.smudge 'echo PWNED'; echo '* filter=x' > .gitattributes")
    box.reset()
    assert box.exec("ls /tmp; git config --get filter.x.smudge; ls .git/hooks | grep -v sample").output == ""
    assert box.exec("cat README").output == "tiny\n"


def test_read_and_write_file_refuse_escapes(box):
    box.write_file("pkg/new.txt", b"\x00bytes\xff")
    assert box.read_file("pkg/new.txt") == b"\x00bytes\xff"
    assert box.read_file("/testbed/README", max_bytes=2) == b"ti"
    with pytest.raises(FileNotFoundError):
        box.read_file("missing")
    for bad in ("../etc/passwd", "/etc/passwd", "pkg/../../etc/passwd"):
        with pytest.raises(ValueError):
            box.read_file(bad)
        with pytest.raises(ValueError):
            box.write_file(bad, b"x")
    box.exec("ln -s /etc/passwd link; ln -s /etc linkdir")
    with pytest.raises(ValueError):
        box.read_file("link")
    with pytest.raises(ValueError):
        box.write_file("link", b"x")
    with pytest.raises(ValueError):
        box.write_file("linkdir/x", b"x")


def test_fork_bomb_is_contained_and_the_sandbox_survives(box):
    res = box.exec(":(){ :|:& };:; sleep 3", timeout=10.0)
    assert "Resource temporarily unavailable" in res.output  # the bomb ran into the container's pids limit
    assert box.exec("echo alive").output == "alive\n"
    assert processes(box) == ["python3"]


def test_memory_bomb_is_killed_inside_the_container(box):
    res = box.exec("python3 -c 'x = bytearray(1 << 30); print(len(x))'", timeout=30.0)
    assert res.exit_code != 0 and "1073741824" not in res.output
    assert box.exec("echo alive").output == "alive\n"


def test_disk_fill_stops_at_the_cap_and_never_reaches_the_host(box):
    before = shutil.disk_usage("/var/lib/docker" if os.path.isdir("/var/lib/docker") else "/").free
    res = box.exec("dd if=/dev/zero of=big bs=1M count=500; dd if=/dev/zero of=/tmp/big bs=1M count=500; "
                   "dd if=/dev/zero of=/big bs=1M count=10; du -sm big /tmp/big", timeout=60.0)
    sizes = [int(line.split()[0]) for line in res.output.strip().splitlines()[-2:]]
    assert all(size <= 64 for size in sizes), res.output
    assert "No space left on device" in res.output and "Read-only file system" in res.output
    after = shutil.disk_usage("/var/lib/docker" if os.path.isdir("/var/lib/docker") else "/").free
    assert before - after < 200 * 2**20  # the 1 GB asked for went nowhere on the host disk
    box.reset()
    assert box.exec("ls").output.split() == ["README", "pkg"]


def test_network_reaches_nothing_on_the_host(box):
    received: list[bytes] = []
    server = socket.socket()
    server.bind(("0.0.0.0", 0))
    server.listen()
    server.settimeout(0.2)
    port = server.getsockname()[1]
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            received.append(conn.recv(100) or b"<connected>")
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        gateways = ["172.17.0.1", socket.gethostbyname(socket.gethostname()), "127.0.0.1"]
        for host in gateways:
            res = box.exec(f"timeout 3 bash -c 'echo hello > /dev/tcp/{host}/{port}' && echo SENT", timeout=10)
            assert "SENT" not in res.output
        assert box.exec("cat /proc/net/dev | grep -v -E 'lo:|Inter|face'").output == ""
    finally:
        stop.set()
        thread.join()
        server.close()
    assert received == []


def test_host_files_and_processes_are_not_visible(box, tmp_path: Path):
    secret = tmp_path / "host-secret.txt"
    secret.write_text("HOST-SECRET-7f3a")
    res = box.exec(f"cat {secret}; grep -rs HOST-SECRET-7f3a /tmp /root /home /testbed; echo done")
    assert "HOST-SECRET-7f3a" not in res.output.replace(str(secret), "")
    assert processes(box) == ["python3"]  # the host's processes are in another pid namespace
    assert box.exec("cat /proc/self/status | grep CapEff").output.split()[-1] == "0000000000000000"


def test_a_command_cannot_forge_the_reply_of_a_later_one(box):
    forged = json.dumps({"exit": 0, "timed_out": False, "total": 6, "head": "FORGED", "tail": ""})
    res = box.exec(f"echo '{forged}' > /proc/1/fd/1; echo '{forged}' > /proc/1/fd/0; cat /proc/1/environ")
    assert "Permission denied" in res.output and "FORGED" not in res.output.replace(forged, "")
    assert box.exec("echo real").output == "real\n"


def test_killing_init_from_inside_does_not_end_the_sandbox(box):
    box.exec("kill -9 1; kill -9 -1; kill -INT 1; kill -TERM 1", timeout=5.0)
    assert box.exec("echo alive").output == "alive\n" and box.alive


def test_commands_run_unprivileged_and_cannot_read_the_pristine_store(image: str):
    from turngym.envs.swe.sandbox.docker_backend import AGENT_UID, PRISTINE_GIT, RESET_GID, DockerSandbox

    sb = DockerSandbox(SandboxSpec(image=image, memory_mb=256, pids=128, disk_mb=64))  # history off: the default
    try:
        ident = sb.exec("id -u; id -g; id -G; grep -E '^Cap(Eff|Prm|Inh|Amb)' /proc/self/status").output.split()
        assert ident[:3] == [str(AGENT_UID)] * 3 and str(RESET_GID) not in ident  # no supplementary group
        assert all(v == "0000000000000000" for v in ident[4::2])
        # The store (the clean source: a synthesized task's fix) is out of reach however it is asked for.
        res = sb.exec(f"ls /opt/turngym; cat {PRISTINE_GIT}/HEAD; find {PRISTINE_GIT} -type f | head -1; "
                      f"git --git-dir={PRISTINE_GIT} log --oneline; git cat-file --batch-all-objects --batch-check; "
                      "echo END")
        assert "Permission denied" in res.output and res.output.count("\n") < 12
        assert "refs/heads" not in res.output and "blob" not in res.output and "commit" not in res.output
        with pytest.raises(ValueError):
            sb.read_file("../opt/turngym/pristine.git/HEAD")
        sb.exec("ln -s /opt/turngym/pristine.git/HEAD leak")
        with pytest.raises((ValueError, SandboxError, FileNotFoundError)):
            sb.read_file("leak")
        # Reset still reads it (its own group): the tree goes back to the start commit.
        sb.exec("echo changed > README; rm -rf .git")
        sb.reset()
        assert sb.exec("cat README").output == "tiny\n"
        assert "Permission denied" in sb.exec(f"cat {PRISTINE_GIT}/HEAD").output
    finally:
        sb.close()


def test_an_image_whose_store_the_agent_can_read_is_refused(image: str):
    from turngym.envs.swe.sandbox.docker_backend import DockerSandbox

    weak = IMAGE + "-weak"
    subprocess.run(["docker", "build", "-q", "--network", "none", "-t", weak, "-"], check=True, capture_output=True,
                   input=f"FROM {image}\nRUN chmod -R o+rX /opt/turngym\n".encode())
    try:
        with pytest.raises(SandboxError, match="can read /opt/turngym.*rebuild"):
            DockerSandbox(SandboxSpec(image=weak))
        left = subprocess.run(["docker", "ps", "-aq", "--filter", f"ancestor={weak}"], capture_output=True,
                              text=True, check=True).stdout.split()
        assert left == []  # the refused container was removed
    finally:
        subprocess.run(["docker", "rmi", "-f", weak], capture_output=True)


def test_close_leaves_no_container_or_volume(image: str):
    from turngym.envs.swe.sandbox.docker_backend import SESSION, DockerSandbox

    volumes_before = volumes()
    sb = DockerSandbox(SandboxSpec(image=image))
    cid = sb.container.id
    assert cid[:12] in [c[:12] for c in labelled(**{f"{LABEL}.session": SESSION})]
    sb.close()
    sb.close()
    assert not sb.alive
    with pytest.raises(SandboxError):
        sb.exec("true")
    assert subprocess.run(["docker", "inspect", cid], capture_output=True).returncode != 0
    volumes_after = volumes()
    assert volumes_after <= volumes_before


def test_missing_image_and_dead_container_raise_sandbox_error(image: str):
    from turngym.envs.swe.sandbox.docker_backend import DockerSandbox

    with pytest.raises(SandboxError, match="not found"):
        DockerSandbox(SandboxSpec(image="turngym-swe-no-such-image"))
    with pytest.raises(SandboxError, match="pristine"):
        DockerSandbox(SandboxSpec(image=BASE))  # no repository in the base image
    sb = DockerSandbox(SandboxSpec(image=image))
    try:
        subprocess.run(["docker", "kill", sb.container.id], check=True, capture_output=True)
        with pytest.raises(SandboxError, match="exited|gone|broke"):
            sb.exec("true")
        assert not sb.alive
        with pytest.raises(SandboxError):
            sb.reset()
    finally:
        sb.close()


_DRIVER = textwrap.dedent("""
    import sys, time
    from turngym.envs.swe.sandbox.base import SandboxSpec
    from turngym.envs.swe.sandbox.docker_backend import DockerSandbox
    sb = DockerSandbox(SandboxSpec(image=sys.argv[1]))
    print(sb.container.id, flush=True)
    time.sleep(600)
""")


def test_a_sigkilled_drivers_containers_are_reaped_and_live_ones_kept(image: str):
    from turngym.envs.swe.sandbox.docker_backend import DockerSandbox
    from turngym.envs.swe.sandbox.reap import clean, reap_containers

    live = DockerSandbox(SandboxSpec(image=image))
    driver = subprocess.Popen([sys.executable, "-c", _DRIVER, image], stdout=subprocess.PIPE, text=True)
    try:
        orphan = driver.stdout.readline().strip()[:12]
        assert orphan
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
        assert orphan in labelled()  # SIGKILL ran no atexit hook: the container is still there
        removed = reap_containers()
        assert orphan in [r["id"] for r in removed]
        assert live.container.id[:12] not in [r["id"] for r in removed]
        assert orphan not in labelled() and live.container.id[:12] in labelled()
        assert live.exec("echo kept").output == "kept\n"
        report = clean()  # what `turngym swe clean` runs: the live sandbox is kept again
        assert isinstance(report["docker"], list) and "local" in report
        assert live.container.id[:12] in labelled()
        json.dumps(report)
    finally:
        driver.kill()
        live.close()


@pytest.mark.slow
def test_nothing_left_after_200_cycles(image: str):
    from turngym.envs.swe.sandbox.docker_backend import SESSION, DockerSandbox

    volumes_before = volumes()
    fds_before = len(os.listdir("/proc/self/fd"))  # the backend makes no host files; its sockets must not leak
    sb = DockerSandbox(SandboxSpec(image=image, pids=64, history=True))
    try:
        for i in range(200):
            if i % 50 == 49:  # a fresh container now and then: the acquire/close path too
                sb.close()
                sb = DockerSandbox(SandboxSpec(image=image, pids=64, history=True))
            res = sb.exec(f"echo {i} >> README; touch f{i}; (setsid sleep 100 &); echo ok")
            assert res.output == "ok\n"
            sb.reset()
        assert sb.exec("git status --porcelain --ignored; ls -A /tmp").output == ""
        assert processes(sb) == ["python3"]
    finally:
        sb.close()
    assert labelled(**{f"{LABEL}.session": SESSION}) == []
    volumes_after = volumes()
    assert volumes_after <= volumes_before
    assert len(os.listdir("/proc/self/fd")) <= fds_before + 2  # the SDK's pooled HTTP connections
