"""SWE sandbox latency: start, exec of ``true`` and reset, turngym's docker backend vs SWE-ReX's docker deployment.

Run (needs a docker daemon and the base image, ``docker/build.sh base``)::

    python -m turngym.benchmarks.swe_sandbox [--repeats 50] [--starts 5] [--out runs/swe_sandbox.json]

- The repository image: a fixture package built by ``docker/build.sh repo`` on the base image (``--image`` takes
  any image built or adopted by it). SWE-ReX runs on the same image plus ``swe-rex`` installed from a wheelhouse
  the host's pip builds (``swerex-remote`` must be in the image: its deployment would otherwise ``pip install``
  it at start, and it can pull nothing from Docker Hub here), with ``pull="never"``.
- turngym: ``start`` = ``DockerSandbox(spec)`` until the work tree is checked out; ``exec`` = ``sandbox.exec("true")``
  over the attached command server; ``reset`` = ``sandbox.reset()`` after a command that edits a tracked file and
  creates an untracked one. Also ``docker exec`` of ``true`` through the SDK on the same container (the path the
  command server replaces).
- SWE-ReX: ``start`` = ``DockerDeployment.start()`` + ``create_session`` (container up, its HTTP server
  answering, a bash session open); ``exec`` = ``run_in_session(BashAction("true"))`` (SWE-agent's path);
  ``reset`` = SWE-agent's repository reset command run in that session (``git status && git restore . &&
  git reset --hard && git clean -fdq``) after the same edit: SWE-ReX itself has no reset.
- Ratios are SWE-ReX's p50 over turngym's (above 1: turngym is faster).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from turngym.agents.stats import percentile_ms
from turngym.envs.swe.sandbox.base import SandboxSpec

ROOT = Path(__file__).resolve().parents[1]
EDIT = "echo edit >> README; echo new > untracked.txt"
SWE_AGENT_RESET = "cd /testbed && git status >/dev/null && git restore . && git reset --hard -q HEAD && git clean -fdq"
SWEREX_DOCKERFILE = """ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY wheels /tmp/wheels
RUN python3 -m venv /opt/swerex && /opt/swerex/bin/pip install -q --no-index /tmp/wheels/*.whl \\
    && ln -s /opt/swerex/bin/swerex-remote /usr/local/bin/swerex-remote && rm -rf /tmp/wheels
"""


def stats(seconds: list[float]) -> dict[str, Any]:
    """Count, p50 and p95 in milliseconds."""
    return {"n": len(seconds), "p50_ms": percentile_ms(seconds, 50, 2), "p95_ms": percentile_ms(seconds, 95, 2)}


def fixture_image(base: str, name: str) -> str:
    """A tiny repository image built by docker/build.sh (skipped when it exists)."""
    if subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode == 0:
        return name
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "bench"
        (repo / "pkg").mkdir(parents=True)
        for i in range(50):
            (repo / "pkg" / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n")
        (repo / "README").write_text("bench\n")
        env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
               "GIT_COMMITTER_EMAIL": "b@b"}
        for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "start"]):
            subprocess.run(cmd, cwd=repo, check=True, env=env)
        subprocess.run([str(ROOT / "docker" / "build.sh"), "repo", str(repo), "--base", base, "--name", name],
                       check=True, capture_output=True)
    return name


def swerex_image(image: str) -> str:
    """``image`` plus swe-rex from a wheelhouse the host's pip builds (the build itself runs without network)."""
    name = f"{image}-swerex"
    if subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode == 0:
        return name
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Path(tmp)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "swe-rex", "-w", str(ctx / "wheels")], check=True)
        (ctx / "Dockerfile").write_text(SWEREX_DOCKERFILE)
        subprocess.run(["docker", "build", "-q", "--network", "none", "--build-arg", f"BASE_IMAGE={image}", "-t", name,
                        str(ctx)], check=True, capture_output=True)
    return name


def bench_turngym(image: str, repeats: int, starts: int) -> dict[str, Any]:
    """Start, exec, reset (and plain ``docker exec``) latency of ``DockerSandbox`` on ``image``."""
    from turngym.envs.swe.sandbox.docker_backend import DockerSandbox

    spec = SandboxSpec(image=image)
    start = []
    for _ in range(starts):
        t0 = time.perf_counter()
        box = DockerSandbox(spec)
        start.append(time.perf_counter() - t0)
        box.close()
    box = DockerSandbox(spec)
    try:
        for _ in range(5):  # warm-up
            box.exec("true")
        exec_s, docker_exec_s, reset_s = [], [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = box.exec("true")
            exec_s.append(time.perf_counter() - t0)
            assert res.exit_code == 0
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = box.container.exec_run(["true"])
            docker_exec_s.append(time.perf_counter() - t0)
            assert out.exit_code == 0
        for _ in range(repeats):
            box.exec(EDIT)
            t0 = time.perf_counter()
            box.reset()
            reset_s.append(time.perf_counter() - t0)
        assert box.exec("git status --porcelain").output == ""
    finally:
        box.close()
    return {"start": stats(start), "exec": stats(exec_s), "reset": stats(reset_s), "docker_exec": stats(docker_exec_s)}


async def _swerex(image: str, repeats: int, starts: int) -> dict[str, Any]:
    from swerex.deployment.docker import DockerDeployment
    from swerex.runtime.abstract import BashAction, CreateBashSessionRequest

    async def up() -> DockerDeployment:
        dep = DockerDeployment(image=image, pull="never", startup_timeout=120,
                               docker_args=["--label", "turngym.swe.bench=swerex"])
        await dep.start()
        await dep.runtime.create_session(CreateBashSessionRequest())
        return dep

    start = []
    for _ in range(starts):
        t0 = time.perf_counter()
        dep = await up()
        start.append(time.perf_counter() - t0)
        await dep.stop()
    dep = await up()
    try:
        rt = dep.runtime
        for _ in range(5):
            await rt.run_in_session(BashAction(command="true", check="silent"))
        exec_s, reset_s = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            await rt.run_in_session(BashAction(command="true", check="silent"))
            exec_s.append(time.perf_counter() - t0)
        for _ in range(repeats):
            await rt.run_in_session(BashAction(command=f"cd /testbed && {EDIT}", check="silent"))
            t0 = time.perf_counter()
            await rt.run_in_session(BashAction(command=SWE_AGENT_RESET, check="raise"))
            reset_s.append(time.perf_counter() - t0)
    finally:
        await dep.stop()
    return {"start": stats(start), "exec": stats(exec_s), "reset": stats(reset_s)}


def bench_swerex(image: str, repeats: int, starts: int) -> dict[str, Any]:
    """The same for SWE-ReX's docker deployment, or ``{"skipped": why}``."""
    try:
        import swerex  # noqa: F401
    except ImportError:
        return {"skipped": "swe-rex is not installed (pip install 'turngym[peers]')"}
    try:
        return asyncio.run(_swerex(swerex_image(image), repeats, starts))
    except Exception as exc:  # noqa: BLE001 - report why the peer could not run instead of failing the table
        return {"skipped": f"{type(exc).__name__}: {exc}"}


def main(argv: list[str] | None = None) -> int:
    """Runs both backends, prints the table and writes the JSON report."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=50, help="exec and reset calls per backend")
    ap.add_argument("--starts", type=int, default=5, help="cold starts per backend")
    ap.add_argument("--base", default="turngym-swe-base")
    ap.add_argument("--image", default=None, help="repository image (default: a fixture built on --base)")
    ap.add_argument("--no-swerex", action="store_true")
    ap.add_argument("--out", type=Path, default=Path("runs/swe_sandbox.json"))
    args = ap.parse_args(argv)
    image = args.image or fixture_image(args.base, "turngym-swe-bench-fixture")
    ours = bench_turngym(image, args.repeats, args.starts)
    peer = {"skipped": "--no-swerex"} if args.no_swerex else bench_swerex(image, args.repeats, args.starts)
    report: dict[str, Any] = {"image": image, "repeats": args.repeats, "starts": args.starts, "turngym": ours,
                              "swerex": peer, "ratio_swerex_over_turngym_p50": {}}
    print(f"{'op':<12}{'turngym p50':>12}{'p95':>9}{'swe-rex p50':>13}{'p95':>9}{'ratio':>8}   (ms)")
    for op in ("start", "exec", "reset", "docker_exec"):
        ours_op = ours.get(op, {})
        peer_op = peer.get(op, {}) if "skipped" not in peer else {}
        ratio = None
        if ours_op.get("p50_ms") and peer_op.get("p50_ms"):
            ratio = round(peer_op["p50_ms"] / ours_op["p50_ms"], 2)
            report["ratio_swerex_over_turngym_p50"][op] = ratio

        def cell(v: Any, w: int) -> str:
            return f"{v:>{w}}" if v is not None else f"{'-':>{w}}"

        print(f"{op:<12}{cell(ours_op.get('p50_ms'), 12)}{cell(ours_op.get('p95_ms'), 9)}"
              f"{cell(peer_op.get('p50_ms'), 13)}{cell(peer_op.get('p95_ms'), 9)}{cell(ratio, 8)}")
    if "skipped" in peer:
        print(f"swe-rex skipped: {peer['skipped']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
