"""The hostile battery through ``turngym/SWE-v0``'s own tools, on both backends, then the gold fix still works.

Every command is what a model could send through ``bash`` or ``str_replace_editor``: fork and memory bombs, a disk
fill, network, host files, symlink escapes, killing the sandbox's init, endless output, daemons left behind, and
reading the image's pristine store (the clean source: the task's fix). Each is contained and reported as a tool
output, the episode goes on in the same sandbox, nothing is left on the host, and the expert's fix is then graded
1.0 in that very episode. A backend that cannot run here is skipped with its reason (the docker one also needs
the repository image: ``.ci/docker-setup`` builds it).
"""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import gymnasium as gym
import pytest

import turngym.envs  # noqa: F401  (registers the ids)
from turngym.envs.swe import env as swe_env
from turngym.envs.swe.experts import gold_patch_expert
from turngym.envs.swe.tasks.synth import repos as synth_repos
from turngym.envs.tooluse import formats
from turngym.envs.tooluse.base import ToolCall

ENV_ID = "turngym/SWE-v0"
REPO = "cachetools"


def _why_not(backend: str) -> str | None:
    why = swe_env._backend_problem(backend)
    if why is None and backend == "docker":
        from turngym.envs.swe.images import docker_image_exists

        image = synth_repos.get_spec(REPO).image
        if not docker_image_exists(image):
            why = f"image {image} not built (.ci/docker-setup builds it)"
    return why


def _call(name: str, **arguments) -> str:
    return formats.render_calls([ToolCall(name, arguments)], "hermes")


@pytest.fixture(params=["local", "docker"])
def env(request):
    why = _why_not(request.param)
    if why is not None:
        pytest.skip(f"{request.param} backend unavailable: {why}")
    e = gym.make(ENV_ID, repos=[REPO], backend=request.param, command_timeout_s=15, memory_mb=512,
                 max_output_chars=2000, max_turns=40)
    yield e
    e.close()


def _bash(env, command: str) -> str:
    obs, reward, term, trunc, info = env.step(_call("bash", command=command))
    assert not (term or trunc) and reward == 0.0 and "infra_error" not in info, (obs, info)
    return obs


def _listener() -> tuple[socket.socket, list[bytes], threading.Event]:
    """A TCP listener on every host address; whatever connects is recorded."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))
    server.listen(8)
    server.settimeout(0.2)
    got: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            got.append(conn.recv(100) or b"<connected>")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return server, got, stop


@pytest.mark.slow
def test_hostile_commands_are_contained_and_the_episode_goes_on(env, tmp_path: Path):
    obs, info = env.reset(seed=0)
    assert "infra_error" not in info
    secret = tmp_path / "host-secret.txt"
    secret.write_text("HOST-SECRET-91c2")
    host_tmp_before = set(os.listdir("/tmp"))
    server, got, stop = _listener()
    port = server.getsockname()[1]
    try:
        # Fork bomb: stopped at the pids limit or the time limit; the next command works.
        out = _bash(env, ":(){ :|:& };: ; sleep 2; echo bombed")
        assert "alive" in _bash(env, "echo alive")
        # Memory bomb: killed inside the sandbox's memory limit (512 MiB), never the host's.
        out = _bash(env, "python3 -c 'x = bytearray(3 * 1024**3); print(\"ALLOC\" + \"ATED\")'; echo rc=$?")
        assert "ALLOCATED" not in out and "rc=0" not in out
        # Disk fill: stops at the cap; the host's disk is not written.
        out = _bash(env, "head -c 3000000000 /dev/zero > big.bin; echo rc=$?; ls -l big.bin | awk '{print $5}'")
        assert "rc=0" not in out
        _bash(env, "rm -f big.bin")
        # Network: nothing reaches a listener on the host, by any address.
        addrs = ["127.0.0.1", "172.17.0.1", socket.gethostbyname(socket.gethostname())]
        probe = "; ".join(f"timeout 3 bash -c 'echo PING > /dev/tcp/{a}/{port}' 2>/dev/null && echo REACHED"
                          for a in addrs)
        assert "REACHED" not in _bash(env, probe)
        # Host files: not there.
        out = _bash(env, f"cat {secret} 2>&1; grep -rs HOST-SECRET-91c2 /tmp /root /home 2>/dev/null; echo done")
        assert "HOST-SECRET-91c2" not in out.replace(str(secret), "")
        # The pristine store (the clean source, i.e. the fix) is out of reach on both backends.
        out = _bash(env, 'echo "COMMITS=$(git log --all --oneline | wc -l)"; ls /opt/turngym 2>&1; '
                    "cat /opt/turngym/pristine.git/HEAD 2>&1; git --git-dir=/opt/turngym/pristine.git log 2>&1")
        assert "COMMITS=1\n" in out and "refs/heads" not in out and "Author:" not in out
        # Symlink escapes through the editor: refused, not followed.
        _bash(env, "ln -sf /etc/passwd passwd.link; ln -sfn / root.link")
        for path in ("passwd.link", "root.link/etc/passwd", "/etc/passwd", "../../etc/passwd"):
            obs, reward, term, trunc, info = env.step(_call("str_replace_editor", command="view", path=path))
            assert not (term or trunc) and "root:x:0:0" not in obs, (path, obs)
        obs, *_ = env.step(_call("str_replace_editor", command="create", path="root.link/tmp/planted", file_text="x"))
        assert not Path("/tmp/planted").exists()
        # Killing the sandbox's init, endless output, a daemon left behind: contained, the sandbox stays.
        _bash(env, "kill -9 1; kill -9 -1; kill -TERM 1; true")
        out = _bash(env, "yes endless-output-line")
        assert len(out) < 6000 and "timed out" in out  # head + tail of at most max_output_chars
        _bash(env, "nohup sleep 1000 >/dev/null 2>&1 & setsid sleep 1001 & disown; echo started")
        assert "sleep" not in _bash(env, "for p in /proc/[0-9]*; do cat $p/comm 2>/dev/null; done")
        # A binary, NUL-laden, huge message is an invalid action, not a crash.
        obs, reward, term, trunc, info = env.step("\x00\xff" * 50_000)
        assert not (term or trunc)
    finally:
        stop.set()
        server.close()
    assert got == []
    assert not any(f.startswith("planted") for f in set(os.listdir("/tmp")) - host_tmp_before)
    # The same sandbox, after all of it, grades the gold fix as resolved.
    _bash(env, "rm -f passwd.link root.link")
    act = gold_patch_expert(ENV_ID)
    for _ in range(10):
        obs, reward, term, trunc, info = env.step(act(env, obs, info))
        if term or trunc:
            break
    assert term and reward == 1.0 and info["success"] is True, json.dumps(info.get("grade"))[:500]
