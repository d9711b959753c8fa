"""SWE env report (``turngym/SWE-v0``): reset and step latency, expert and random success, episodes per hour, leaks.

Run (the local backend needs root and bubblewrap; docker needs a daemon and ``turngym-swe/<repo>`` images)::

    python -m turngym.benchmarks.swe_env [--backends local docker] [--tasks-per-repo 4] [--seed 0] [--out runs]

Writes ``<out>/swe_env.json`` and prints Markdown tables.

- Tasks: the shipped set (``envs/swe/tasks/data/*.jsonl``) counted per repository, split and difficulty tag
  (``difficulty``, ``lines_changed``, ``files_touched``); no sandbox.
- Tasks run: ``--tasks-per-repo`` K instances of ``--split`` per repository, drawn without replacement with
  ``numpy.random.default_rng(seed)``; the same K tasks for the expert and the random agent.
- ``reset`` cold: the first reset of a new env while the process has no warm sandbox for the task's image
  (``env_pool.close_all()`` before each, so a sandbox is started); ``--cold`` per repository. Warm: every
  other reset (the episode's sandbox given back, reset in the background and handed out again), issued right
  after the previous episode's last step: no gap for the background reset to hide in, so ``acquire`` holds
  all of it (a caller that spends time between episodes, a policy's forward pass, waits less). Each reset is
  split into phases by wrapping, in this process only, ``env_pool.borrow`` (``pool``: starts a sandbox when
  none is free), ``SandboxPool.acquire`` (``acquire``: waits for the background reset), ``env_repo.prepare_start``
  (the fresh single-commit start state) and ``env_repo.state_tree`` (the state key's tree hash; 0 where reset
  takes it from the start commit); ``other`` is the rest (image lookup, prompt, checks). The library is not
  changed.
- ``step``: ``--steps`` messages per repository of ``bash`` ``true`` and of ``str_replace_editor`` ``view`` of
  the file the task's fix touches, in one episode after the cold reset; each step includes the state-tree
  refresh (also reported alone). ``sandbox_exec_true``: ``sandbox.exec("true")`` under the env, for comparison
  with ``benchmarks/swe_sandbox.py``.
- Success: the registry expert (``gold_patch_expert``, the gold fix through the editor) and ``random_agent``
  (seed recorded per episode) on the K tasks; ``submit``: the step that grades (changes collected, a clean
  sandbox prepared, the tests run); ``grade``: ``SWEEnv._grade`` inside it. Episodes with ``infra_error`` are
  counted apart and left out of the rates.
- Episodes per hour per core: 3600 / mean wall seconds of a whole episode (reset, the agent's turns, grading),
  one env run sequentially (one core driving; sandbox work may overlap on others).
- Leaks: this process's labelled containers, local sandbox directories, child processes, open file descriptors
  and threads before the backend's run and after its envs are closed and its pools emptied.
- Peer: SWE-ReX has no env (SWE-agent drives it); its side-by-side numbers are at the sandbox level, in
  ``benchmarks/swe_sandbox.py`` (``docs/swe/swe_sandbox.json``, quoted in the report when present).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from turngym.agents.stats import percentile_ms

ID = "turngym/SWE-v0"
REPOS = ("toolz", "cachetools", "inflection", "parse", "boltons")
BACKENDS = ("local", "docker")
PHASES = ("pool", "acquire", "prepare_start", "state_tree")
#: Difficulty tags in table order (others follow, sorted).
LEVELS = ("easy", "medium", "hard")
ROOT = Path(__file__).resolve().parents[1]
SANDBOX_REPORT = ROOT / "docs" / "swe" / "swe_sandbox.json"
#: Turns the expert may take (one or two edit messages, then submit).
EXPERT_TURNS = 10


def stats(seconds: Sequence[float]) -> dict[str, Any]:
    """Count, p50 and p95 in milliseconds (None when empty)."""
    return {"n": len(seconds), "p50_ms": percentile_ms(seconds, 50, 2), "p95_ms": percentile_ms(seconds, 95, 2)}


# ------------------------------------------------------------------------------------------------ task counts
def _levels(counts: Counter[str]) -> list[str]:
    """``LEVELS`` first (every one, so tables line up), then any other tag, sorted."""
    return [*LEVELS, *sorted(set(counts) - set(LEVELS))]


def task_table(data_dir: Path | None = None) -> dict[str, Any]:
    """The shipped tasks per repository: split, difficulty and size tags (counting the JSONL rows only)."""
    from turngym.envs.swe.env import DATA_DIR, split_of

    data_dir = data_dir or DATA_DIR
    per_repo: dict[str, Any] = {}
    for path in sorted(data_dir.glob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        lines = [int(r["lines_changed"]) for r in rows if r.get("lines_changed") is not None]
        files = [int(r["files_touched"]) for r in rows if r.get("files_touched") is not None]
        split = Counter(split_of(r["instance_id"]) for r in rows)
        diff = Counter(str(r.get("difficulty", "unknown")) for r in rows)
        per_repo[path.stem] = {
            "tasks": len(rows), "train": split["train"], "test": split["test"],
            "difficulty": {k: diff[k] for k in _levels(diff)},
            "lines_changed_mean": round(float(np.mean(lines)), 2) if lines else None,
            "lines_changed_max": max(lines) if lines else None,
            "files_touched_max": max(files) if files else None,
        }
    total_diff: Counter[str] = Counter()
    for row in per_repo.values():
        total_diff.update(row["difficulty"])
    total = {"tasks": sum(r["tasks"] for r in per_repo.values()), "train": sum(r["train"] for r in per_repo.values()),
             "test": sum(r["test"] for r in per_repo.values()),
             "difficulty": {k: total_diff[k] for k in _levels(total_diff)}}
    return {"per_repo": per_repo, "total": total}


# ------------------------------------------------------------------------------------------------ timing
class Phases:
    """Records how long the env's reset phases take, by wrapping library functions in this process only.

    ``with phases.wrapped():`` swaps ``env_pool.borrow``, ``SandboxPool.acquire``, ``env_repo.prepare_start``
    and ``env_repo.state_tree`` for timed copies (restored on exit); ``take()`` returns and clears the seconds
    spent in each since the last ``take``.
    """

    def __init__(self) -> None:
        self._spent: dict[str, float] = defaultdict(float)

    def take(self) -> dict[str, float]:
        """Seconds per phase since the last call (phases not entered are 0)."""
        out = {p: self._spent.get(p, 0.0) for p in PHASES}
        self._spent.clear()
        return out

    def _timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self._spent[name] += time.perf_counter() - t

        return wrapper

    @contextlib.contextmanager
    def wrapped(self) -> Iterator[Phases]:
        """Timed copies of the phase functions while the block runs."""
        from turngym.envs.swe import env_pool, env_repo
        from turngym.envs.swe.sandbox.pool import SandboxPool

        saved = [(env_pool, "borrow", env_pool.borrow), (SandboxPool, "acquire", SandboxPool.acquire),
                 (env_repo, "prepare_start", env_repo.prepare_start), (env_repo, "state_tree", env_repo.state_tree)]
        for (owner, attr, fn), name in zip(saved, PHASES, strict=True):
            setattr(owner, attr, self._timed(name, fn))
        try:
            yield self
        finally:
            for owner, attr, fn in saved:
                setattr(owner, attr, fn)


def phase_stats(samples: list[dict[str, float]]) -> dict[str, Any]:
    """p50/p95 of the total and of each phase, ``other`` = total minus the phases."""
    out: dict[str, Any] = {"total": stats([s["total"] for s in samples])}
    for name in (*PHASES, "other"):
        if name == "other":
            values = [s["total"] - sum(s[p] for p in PHASES) for s in samples]
        else:
            values = [s[name] for s in samples]
        out[name] = stats(values)
    return out


# ------------------------------------------------------------------------------------------------ leaks
def _descendants(pid: int) -> list[int]:
    """Live descendant process ids of ``pid`` (from /proc; zombies included)."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children[ppid].append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def resources(backend: str) -> dict[str, int]:
    """What this process holds that a leak would grow: sandboxes, child processes, descriptors, threads."""
    from turngym.envs.swe.sandbox.base import LABEL

    pid = os.getpid()
    counts = {"child_processes": len(_descendants(pid)), "open_fds": len(os.listdir("/proc/self/fd")),
              "threads": threading.active_count()}
    if backend == "local":
        from turngym.envs.swe.sandbox.local import DIR_PREFIX

        prefix = f"{DIR_PREFIX}{pid}-"
        counts["sandbox_dirs"] = sum(1 for e in os.scandir(tempfile.gettempdir()) if e.name.startswith(prefix))
    else:
        from turngym.envs.swe.sandbox.docker_backend import docker_client

        client = docker_client()
        try:
            counts["containers"] = len(client.containers.list(all=True, filters={"label": f"{LABEL}.owner={pid}"}))
        finally:
            client.close()
    return counts


def settled_resources(backend: str, before: dict[str, int], wait_s: float = 10.0) -> dict[str, int]:
    """``resources`` once closed sandboxes' processes have exited (polled up to ``wait_s``)."""
    deadline = time.monotonic() + wait_s
    while True:
        now = resources(backend)
        if all(now[k] <= before.get(k, 0) for k in now) or time.monotonic() > deadline:
            return now
        time.sleep(0.2)


# ------------------------------------------------------------------------------------------------ episodes
def pick_tasks(repo: str, split: str, k: int, rng: np.random.Generator) -> list[int]:
    """``k`` task indices (within the env's ``split`` list of ``repo``; 0: all), drawn without replacement, sorted."""
    from turngym.envs.swe.env import load_shipped, split_of

    n = sum(1 for t in load_shipped([repo]) if split_of(t.instance_id) == split)
    return sorted(int(i) for i in rng.choice(n, size=min(k, n) if k > 0 else n, replace=False))


def touched_file(patch: str) -> str:
    """The first file a unified diff changes (``+++ b/<path>``)."""
    return next(line[6:] for line in patch.split("\n") if line.startswith("+++ b/"))


def timed_reset(env: Any, phases: Phases, index: int, seed: int) -> tuple[dict[str, float], dict[str, Any]]:
    """``env.reset`` of task ``index``: its phases (seconds, with ``total``) and its info."""
    phases.take()
    t = time.perf_counter()
    _, info = env.reset(seed=seed, options={"task_index": index})
    sample = {"total": time.perf_counter() - t, **phases.take()}
    return sample, info


def play(env: Any, act: Callable[..., str], obs: str, info: dict[str, Any], max_turns: int,
         grade_s: list[float]) -> dict[str, Any]:
    """Plays one started episode to its end; the turns, reward, success and the last (grading) step's time."""
    step_s = 0.0
    for _ in range(max_turns):
        message = act(env, obs, info)
        grade_s.clear()
        t = time.perf_counter()
        obs, reward, terminated, truncated, info = env.step(message)
        step_s = time.perf_counter() - t
        if terminated or truncated:
            grade = info.get("grade")
            return {"turns": info["turn"], "reward": float(reward), "success": bool(info.get("success", False)),
                    "terminated": bool(terminated), "infra_error": info.get("infra_error"),
                    "grade": None if grade is None else {key: grade.get(key) for key in
                                                         ("resolution", "f2p_rate", "p2p_rate")},
                    "submit_s": step_s if terminated and "grade" in info else None,
                    "grade_s": grade_s[0] if grade_s else None}
    raise RuntimeError(f"the episode did not end within {max_turns} turns")


def agent_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Success rate (infra errors left out), turns, grading and episode times, episodes per hour per core."""
    scored = [r for r in rows if r["infra_error"] is None]
    episode_s = [r["episode_s"] for r in rows]
    mean_s = float(np.mean(episode_s)) if episode_s else None
    return {
        "episodes": len(rows), "scored": len(scored), "infra_errors": len(rows) - len(scored),
        "success_rate": float(np.mean([r["success"] for r in scored])) if scored else None,
        "mean_reward": float(np.mean([r["reward"] for r in scored])) if scored else None,
        "mean_turns": float(np.mean([r["turns"] for r in rows])) if rows else None,
        "graded": sum(1 for r in rows if r["submit_s"] is not None),
        "submit": stats([r["submit_s"] for r in rows if r["submit_s"] is not None]),
        "grade": stats([r["grade_s"] for r in rows if r["grade_s"] is not None]),
        "episode_s_mean": mean_s,
        "episodes_per_hour_per_core": 3600.0 / mean_s if mean_s else None,
    }


def docker_problem(repos: Sequence[str]) -> tuple[str | None, dict[str, str]]:
    """Why docker cannot run at all (or None), and per repository why it is left out (image missing)."""
    from turngym.envs.swe.env import _backend_problem
    from turngym.envs.swe.images import build_command, docker_image_exists
    from turngym.envs.swe.tasks.synth import repos as synth_repos

    why = _backend_problem("docker")
    if why is not None:
        return why, {}
    missing = {}
    for repo in repos:
        image = synth_repos.get_spec(repo).image
        if not docker_image_exists(image):
            missing[repo] = f"image {image} not built ({build_command(repo)})"
    return None, missing


@dataclass
class Samples:
    """What one backend's run collects (seconds), filled by ``cold_resets``, ``latency_steps`` and ``episodes``."""

    make: list[float] = field(default_factory=list)
    cold: list[dict[str, float]] = field(default_factory=list)
    warm: list[dict[str, float]] = field(default_factory=list)
    bash: list[float] = field(default_factory=list)
    view: list[float] = field(default_factory=list)
    step_tree: list[float] = field(default_factory=list)
    exec: list[float] = field(default_factory=list)
    episodes: list[dict[str, Any]] = field(default_factory=list)
    reset_errors: list[str] = field(default_factory=list)
    resets: int = 0
    grade: list[float] = field(default_factory=list)  # the current step's ``SWEEnv._grade`` time, if it graded

    def count_reset(self, info: dict[str, Any]) -> bool:
        """Counts a reset; False (and its error kept) when the sandbox failed at reset."""
        self.resets += 1
        if "infra_error" in info:
            self.reset_errors.append(str(info["infra_error"]))
            return False
        return True


def cold_resets(backend: str, repo: str, split: str, indices: list[int], cold: int, seed: int, phases: Phases,
                s: Samples) -> Any:
    """``cold`` resets of new envs with no warm sandbox in the process; returns the last env (its episode open)."""
    import gymnasium as gym

    import turngym.envs  # noqa: F401  (registers the ids)
    from turngym.envs.swe import env_pool

    env = None
    for c in range(cold):
        if env is not None:
            env.close()
        env_pool.close_all()  # no warm sandbox left: this reset starts one
        t = time.perf_counter()
        env = gym.make(ID, repos=[repo], split=split, backend=backend)
        s.make.append(time.perf_counter() - t)
        sample, info = timed_reset(env, phases, indices[c % len(indices)], seed)
        if s.count_reset(info):
            s.cold.append(sample)
    return env


def latency_steps(env: Any, steps: int, seed: int, phases: Phases, s: Samples) -> None:
    """``steps`` rounds of a ``bash true`` step, an editor ``view`` step and a bare ``sandbox.exec("true")``."""
    from turngym.envs.tooluse import formats
    from turngym.envs.tooluse.base import ToolCall

    inner = env.unwrapped
    bash = formats.render_calls([ToolCall("bash", {"command": "true"})], inner.format)
    view = formats.render_calls([ToolCall("str_replace_editor", {
        "command": "view", "path": touched_file(inner.instance.patch)})], inner.format)
    for _ in range(steps):
        for message, out in ((bash, s.bash), (view, s.view)):
            if inner.done or inner.sandbox is None:  # turn cap or a failed sandbox: the task again (not timed)
                _, info = env.reset(seed=seed, options={"task_index": inner.index})
                if not s.count_reset(info):
                    return
            phases.take()
            t = time.perf_counter()
            env.step(message)
            out.append(time.perf_counter() - t)
            s.step_tree.append(phases.take()["state_tree"])
        if inner.sandbox is not None:
            t = time.perf_counter()
            inner.sandbox.exec("true")
            s.exec.append(time.perf_counter() - t)


def run_episodes(env: Any, backend: str, repo: str, r_i: int, indices: list[int], seed: int, phases: Phases,
                 s: Samples) -> None:
    """The expert, then the random agent, on each of ``indices``; one row per episode in ``s.episodes``."""
    from turngym.envs.swe.experts import gold_patch_expert, random_agent

    inner = env.unwrapped
    for agent in ("expert", "random"):
        for j, index in enumerate(indices):
            ep_seed = seed * 1_000_000 + r_i * 1000 + j  # recorded per episode; distinct across repos and tasks
            act = gold_patch_expert(ID, seed=ep_seed) if agent == "expert" else random_agent(seed=ep_seed)
            t0 = time.perf_counter()
            sample, info = timed_reset(env, phases, index, ep_seed)
            if s.count_reset(info):
                s.warm.append(sample)
            row = play(env, act, inner.last_obs, info, EXPERT_TURNS if agent == "expert" else inner.max_turns,
                       s.grade)
            row.update({"backend": backend, "repo": repo, "agent": agent, "seed": ep_seed,
                        "instance_id": info["task"]["id"], "reset_s": sample["total"],
                        "episode_s": time.perf_counter() - t0})
            s.episodes.append(row)


def bench_backend(backend: str, repos: Sequence[str], split: str, k: int, cold: int, steps: int,
                  seed: int) -> dict[str, Any]:
    """Every measurement of one backend over ``repos`` (see the module docstring)."""
    from turngym.envs.swe import env_pool
    from turngym.envs.swe.env import SWEEnv

    t_backend = time.perf_counter()
    images: dict[str, Any] = {}
    if backend == "local":
        from turngym.envs.swe.images import cache_root, local_image
        from turngym.envs.swe.tasks.synth import repos as synth_repos

        for repo in repos:  # prepared before any timing: a first-use preparation is not a reset
            spec = synth_repos.get_spec(repo)
            existed = (cache_root() / f"{spec.name}-{spec.version}" / "repo" / ".git").is_dir()
            t = time.perf_counter()
            local_image(repo)
            images[repo] = {"existed": existed, "prepare_s": round(time.perf_counter() - t, 3)}
    env_pool.close_all()
    before = resources(backend)
    rng = np.random.default_rng(seed)
    phases = Phases()
    s = Samples()
    chosen: dict[str, list[str]] = {}
    original_grade = SWEEnv._grade

    def timed_grade(self: SWEEnv, changes: dict[str, bytes | None]) -> Any:
        t = time.perf_counter()
        try:
            return original_grade(self, changes)
        finally:
            s.grade.append(time.perf_counter() - t)

    SWEEnv._grade = timed_grade  # type: ignore[method-assign]
    try:
        with phases.wrapped():
            for r_i, repo in enumerate(repos):
                indices = pick_tasks(repo, split, k, rng)
                env = cold_resets(backend, repo, split, indices, cold, seed, phases, s)
                chosen[repo] = [env.unwrapped.instances[i].instance_id for i in indices]
                latency_steps(env, steps, seed, phases, s)
                run_episodes(env, backend, repo, r_i, indices, seed, phases, s)
                env.close()
    finally:
        SWEEnv._grade = original_grade  # type: ignore[method-assign]
        env_pool.close_all()
    after = settled_resources(backend, before)
    return {
        "repos": list(repos), "tasks": chosen, "images": images,
        "make": stats(s.make),
        "reset": {"cold": phase_stats(s.cold), "warm": phase_stats(s.warm), "infra_errors": len(s.reset_errors),
                  "first_infra_error": s.reset_errors[0] if s.reset_errors else None},
        "step": {"bash_true": stats(s.bash), "view": stats(s.view), "state_tree_in_step": stats(s.step_tree),
                 "sandbox_exec_true": stats(s.exec)},
        "expert": agent_summary([e for e in s.episodes if e["agent"] == "expert"]),
        "random": agent_summary([e for e in s.episodes if e["agent"] == "random"]),
        "episodes": s.episodes,
        "leaks": {"episodes": s.resets, "before": before, "after": after,
                  "delta": {key: after[key] - before.get(key, 0) for key in after}},
        "wall_s": round(time.perf_counter() - t_backend, 2),
    }


# ------------------------------------------------------------------------------------------------ report
def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def _lat(s: dict[str, Any]) -> str:
    return f"{_cell(s.get('p50_ms'))} / {_cell(s.get('p95_ms'))}"


def markdown(report: dict[str, Any]) -> str:
    """The report's tables in Markdown (what README quotes)."""
    out = []
    tasks = report["tasks"]
    levels = list(tasks["total"]["difficulty"])
    out += ["Shipped tasks per repository (split: sha256 of the instance id, ~20% test):", "",
            "| repo | tasks | train | test | " + " | ".join(levels) + " | lines changed mean / max | files max |",
            "|---|---:|---:|---:|" + "---:|" * len(levels) + "---:|---:|"]
    for repo, row in tasks["per_repo"].items():
        out.append(f"| {repo} | {row['tasks']} | {row['train']} | {row['test']} | "
                   + " | ".join(str(row["difficulty"].get(lv, 0)) for lv in levels)
                   + f" | {_cell(row['lines_changed_mean'])} / {row['lines_changed_max']} | "
                   f"{row['files_touched_max']} |")
    total = tasks["total"]
    out.append(f"| **all** | {total['tasks']} | {total['train']} | {total['test']} | "
               + " | ".join(str(total["difficulty"][lv]) for lv in levels) + " | | |")
    ran = {b: r for b, r in report["backends"].items() if "skipped" not in r}
    out += ["", "`env.reset()` latency, p50 / p95 ms (cold: a new sandbox started; warm: the pool's sandbox reused):",
            "", "| backend | reset | n | total | pool (start) | acquire (bg reset wait) | prepare_start | state_tree "
            "| other |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for b, r in ran.items():
        for kind in ("cold", "warm"):
            p = r["reset"][kind]
            out.append(f"| {b} | {kind} | {p['total']['n']} | {_lat(p['total'])} | {_lat(p['pool'])} | "
                       f"{_lat(p['acquire'])} | {_lat(p['prepare_start'])} | {_lat(p['state_tree'])} | "
                       f"{_lat(p['other'])} |")
    for b, r in ran.items():
        if r["reset"]["infra_errors"]:
            out.append(f"\n{b}: {r['reset']['infra_errors']} resets failed (infra_error, left out of the "
                       f"latencies and rates); the first: {r['reset']['first_infra_error'][:300]}")
    out += ["", "`env.step()` latency, p50 / p95 ms (each step includes the state-tree refresh):", "",
            "| backend | bash `true` | editor `view` | state_tree in a step | `sandbox.exec(\"true\")` |",
            "|---|---:|---:|---:|---:|"]
    for b, r in ran.items():
        s = r["step"]
        out.append(f"| {b} | {_lat(s['bash_true'])} | {_lat(s['view'])} | {_lat(s['state_tree_in_step'])} | "
                   f"{_lat(s['sandbox_exec_true'])} |")
    k = report["tasks_per_repo"]
    out += ["", f"Success on {k or 'every'} `{report['split']}` task{'s' if k > 1 else ''} per repository (seed "
            f"{report['seed']}); submit = the grading step, p50 / p95 ms; episodes per hour per core = 3600 / mean "
            "episode seconds (one env, sequential):", "",
            "| backend | agent | episodes | success | infra errors | mean turns | submit (grading) | episode s mean "
            "| episodes / h / core |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for b, r in ran.items():
        for agent in ("expert", "random"):
            a = r[agent]
            out.append(f"| {b} | {agent} | {a['episodes']} | {_cell(a['success_rate'])} | {a['infra_errors']} | "
                       f"{_cell(a['mean_turns'])} | {_lat(a['submit'])} | {_cell(a['episode_s_mean'])} | "
                       f"{_cell(a['episodes_per_hour_per_core'])} |")
    for b, r in ran.items():
        for e in r["episodes"]:
            if e["agent"] == "expert" and not e["success"]:
                out.append(f"\n{b}: the expert failed {e['instance_id']} (grade {e['grade']}, infra_error "
                           f"{e['infra_error']})")
    out += ["", "Leaks (this process, after its envs closed and pools emptied; delta vs before the run):", "",
            "| backend | episodes | sandboxes | child processes | open fds | threads |",
            "|---|---:|---:|---:|---:|---:|"]
    for b, r in ran.items():
        d = r["leaks"]["delta"]
        boxes = d.get("sandbox_dirs", d.get("containers"))
        out.append(f"| {b} | {r['leaks']['episodes']} | {boxes} | {d['child_processes']} | {d['open_fds']} | "
                   f"{d['threads']} |")
    for b, r in report["backends"].items():
        if "skipped" in r:
            out.append(f"\n{b}: skipped: {r['skipped']}")
        for repo, why in r.get("repos_skipped", {}).items():
            out.append(f"\n{b}/{repo}: skipped: {why}")
    m = report["machine"]
    out += ["", f"Machine: {m['cores']} cores, load average {m['loadavg_start']} at start, {m['loadavg_end']} at "
            f"end (shared with other work). Command: `{report['command']}`."]
    if report.get("peer", {}).get("sandbox_level"):
        peer = report["peer"]["sandbox_level"]
        out += ["", f"SWE-ReX (sandbox level, {peer['source']}): start p50 {peer['swerex_start_p50_ms']} ms vs "
                f"turngym docker {peer['turngym_start_p50_ms']} ms; exec `true` {peer['swerex_exec_p50_ms']} vs "
                f"{peer['turngym_exec_p50_ms']} ms; repository reset {peer['swerex_reset_p50_ms']} vs "
                f"{peer['turngym_reset_p50_ms']} ms."]
    return "\n".join(out) + "\n"


def peer_note() -> dict[str, Any]:
    """Where the SWE-ReX comparison lives, with its p50s when ``docs/swe/swe_sandbox.json`` is present."""
    note: dict[str, Any] = {"note": "SWE-ReX is a sandbox runtime without an env (SWE-agent drives it); the "
                                    "side-by-side is at the sandbox level: benchmarks/swe_sandbox.py."}
    try:
        data = json.loads(SANDBOX_REPORT.read_text())
        ours, peer = data["turngym"], data["swerex"]
        note["sandbox_level"] = {"source": "docs/swe/swe_sandbox.json", **{
            f"{who}_{op}_p50_ms": side[op]["p50_ms"] for who, side in (("turngym", ours), ("swerex", peer))
            for op in ("start", "exec", "reset")}}
    except (OSError, KeyError, ValueError, TypeError):
        pass
    return note


def git_state() -> dict[str, Any]:
    """The checkout measured: HEAD and the uncommitted changes under ``envs/swe`` (None outside a git checkout)."""
    def git(*args: str) -> str | None:
        try:
            res = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=30)
        except OSError:
            return None
        return res.stdout if res.returncode == 0 else None

    head = git("rev-parse", "HEAD")
    changed = git("status", "--porcelain", "--", "envs/swe")  # "XY path" lines: not stripped, X may be a space
    return {"commit": None if head is None else head.strip(),
            "uncommitted_envs_swe": None if changed is None else [line[3:] for line in changed.splitlines()]}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Runs the report for each backend, writes ``<out>/swe_env.json`` and prints the Markdown tables."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    p.add_argument("--repos", nargs="+", default=list(REPOS), choices=REPOS)
    p.add_argument("--split", default="test", choices=("train", "test"))
    p.add_argument("--tasks-per-repo", type=int, default=4,
                   help="K tasks per repository for each agent (0: every task of the split)")
    p.add_argument("--cold", type=int, default=2, help="cold resets per repository")
    p.add_argument("--steps", type=int, default=10, help="bash and view steps per repository")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs", help="folder for swe_env.json")
    args = p.parse_args(argv)
    for name, least in (("tasks_per_repo", 0), ("cold", 1), ("steps", 0)):
        if getattr(args, name) < least:
            p.error(f"--{name.replace('_', '-')} must be at least {least}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cores = len(os.sched_getaffinity(0))
    report: dict[str, Any] = {
        "command": "python -m turngym.benchmarks.swe_env " + " ".join(sys.argv[1:] if argv is None else argv),
        "seed": args.seed, "split": args.split, "tasks_per_repo": args.tasks_per_repo, "cold_per_repo": args.cold,
        "steps_per_repo": args.steps,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cores": cores,
                    "cpu_count": os.cpu_count(), "loadavg_start": [round(x, 2) for x in os.getloadavg()]},
        "git": git_state(),
        "tasks": task_table(),
        "backends": {},
    }
    from turngym.envs.swe.env import _backend_problem

    for backend in args.backends:
        repos = list(args.repos)
        skipped: dict[str, str] = {}
        why = _backend_problem("local") if backend == "local" else None
        if backend == "docker":
            why, skipped = docker_problem(repos)
            repos = [r for r in repos if r not in skipped]
            if why is None and not repos:
                why = "no repository image is built: " + "; ".join(skipped.values())
        if why is not None:
            report["backends"][backend] = {"skipped": why}
            continue
        result = bench_backend(backend, repos, args.split, args.tasks_per_repo, args.cold, args.steps, args.seed)
        if skipped:
            result["repos_skipped"] = skipped
        report["backends"][backend] = result
    report["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    report["peer"] = peer_note()
    path = out / "swe_env.json"
    path.write_text(json.dumps(report, indent=2))
    print(markdown(report))
    print(f"wrote {path}")
    return report


if __name__ == "__main__":
    main()
