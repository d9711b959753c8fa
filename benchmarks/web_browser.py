r"""Real-Chromium MiniWoB++: our backend side by side with BrowserGym's, and the scripted solvers' success.

Run:
    python -m turngym.benchmarks.web_browser [--seeds 20] [--tasks click-button enter-text ...] \\
        [--out runs/web_browser.json]
    python -m turngym.benchmarks.web_browser --solvers [--seeds 50]     # solver success table, ours only

Side by side (default mode), in one process, on the same tasks, seeds, HTML and Chromium:

- ours: ``gym.make("turngym/MiniWoB-<task>-v0")``;
- BrowserGym: ``gym.make("browsergym/miniwob.<task>")`` (``browsergym-miniwob``), pointed at the same local HTML
  through its ``MINIWOB_URL`` variable and at Debian's Chromium through its ``pw_chromium_kwargs`` hook
  (``executable_path``; its chat window's browser, which takes no such argument, through a launch default set in
  this process only), run twice: as shipped (the task's ``slow_mo=100`` ms per Playwright call and a 0.5 s
  ``pre_observation_delay``) and tuned (both 0), so that the comparison does not rest on delays BrowserGym adds on
  purpose.

Both run the same scripted policy (``turngym.envs.web.miniwob.solvers``) on a text rendering of their own
observation (ours: the observation itself; BrowserGym: ``Instruction: <goal>`` + its ``flatten_axtree_to_str``).
Reported: p50/p95 of reset and step wall time, solver success, and ours-vs-BrowserGym ratios (> 1: ours faster).
If BrowserGym cannot run, the JSON says why instead of its numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym

from turngym.agents.stats import percentile_ms

#: Tasks of the side-by-side run: a click, a link, a form, a select, a checkbox list.
DEFAULT_TASKS = ("click-button", "click-link", "enter-text", "login-user", "choose-list", "click-checkboxes")


def _run(make: Callable[[], Any], task: str, seeds: Sequence[int], text_of: Callable[[Any, dict], str],
         max_steps: int = 10) -> dict[str, Any]:
    """Solver episodes on one env: reset and step wall times (seconds) and successes."""
    from turngym.envs.web.miniwob.solvers import solve

    env = make()
    resets, steps, wins = [], [], 0
    try:
        env.reset(seed=10_000)  # warm-up: browser launch and first page load are not a reset's cost
        for seed in seeds:
            t = time.perf_counter()
            obs, info = env.reset(seed=seed)
            resets.append(time.perf_counter() - t)
            turn, reward, done = 0, 0.0, False
            while not done and turn < max_steps:
                action = solve(task, text_of(obs, info), turn)
                t = time.perf_counter()
                obs, reward, terminated, truncated, info = env.step(action)
                steps.append(time.perf_counter() - t)
                turn += 1
                done = terminated or truncated
            wins += bool(reward > 0)
    finally:
        env.close()
    return {"resets": resets, "steps": steps, "wins": wins, "episodes": len(seeds)}


def _summary(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    resets = [x for r in runs.values() for x in r["resets"]]
    steps = [x for r in runs.values() for x in r["steps"]]
    return {
        "reset_ms": {"p50": percentile_ms(resets, 50, 2), "p95": percentile_ms(resets, 95, 2)},
        "step_ms": {"p50": percentile_ms(steps, 50, 2), "p95": percentile_ms(steps, 95, 2)},
        "success": {t: f"{r['wins']}/{r['episodes']}" for t, r in runs.items()},
        "success_rate": round(sum(r["wins"] for r in runs.values()) / max(1, sum(r["episodes"] for r in
                                                                                 runs.values())), 4),
    }


def ours(tasks: Sequence[str], seeds: Sequence[int]) -> dict[str, Any]:
    """Our MiniWoB++ ids under the solver policy."""
    import turngym.envs.web.miniwob  # noqa: F401  (registers the ids)

    runs = {t: _run(lambda t=t: gym.make(f"turngym/MiniWoB-{t}-v0"), t, seeds, lambda obs, info: obs)
            for t in tasks}
    return {"config": "turngym (context reused per env, no screenshot)", **_summary(runs)}


def browsergym(tasks: Sequence[str], seeds: Sequence[int], tuned: bool) -> dict[str, Any]:
    """BrowserGym's MiniWoB on the same HTML and Chromium: as shipped, or ``tuned`` (no deliberate delays)."""
    from browsergym.utils.obs import flatten_axtree_to_str

    from turngym.envs.web.browser.process import chromium_path
    from turngym.envs.web.miniwob.server import base_url

    os.environ["MINIWOB_URL"] = base_url() + "miniwob/"
    import browsergym.miniwob  # noqa: F401  (registers browsergym/miniwob.*)
    from playwright.sync_api import BrowserType

    # BrowserGym launches two browsers per reset: the task's (it takes pw_chromium_kwargs) and its chat window's
    # (it does not). Playwright's own Chromium download is unavailable here, so both are pointed at Debian's
    # Chromium by defaulting ``executable_path`` in Playwright's launch, for this benchmark process only.
    if not getattr(BrowserType.launch, "_turngym_patched", False):
        launch = BrowserType.launch

        def launch_debian_chromium(self: Any, *args: Any, **kw: Any) -> Any:
            kw.setdefault("executable_path", chromium_path())
            return launch(self, *args, **kw)

        launch_debian_chromium._turngym_patched = True  # type: ignore[attr-defined]
        BrowserType.launch = launch_debian_chromium  # type: ignore[method-assign]

    def text_of(obs: dict[str, Any], info: dict[str, Any]) -> str:
        return f"Instruction: {obs['goal']}\n" + flatten_axtree_to_str(obs["axtree_object"])

    kwargs: dict[str, Any] = {"pw_chromium_kwargs": {"executable_path": chromium_path()}}
    if tuned:
        kwargs.update(slow_mo=0, pre_observation_delay=0.0)
    runs = {t: _run(lambda t=t: gym.make(f"browsergym/miniwob.{t}", **kwargs), t, seeds, text_of) for t in tasks}
    label = ("tuned: slow_mo=0, pre_observation_delay=0" if tuned
             else "as shipped: slow_mo=100 ms per call, pre_observation_delay=0.5 s")
    return {"config": f"browsergym-miniwob ({label}; new browser per reset, screenshot + DOM + AX tree per step)",
            **_summary(runs)}


def solver_table(seeds: Sequence[int], tasks: Sequence[str] | None = None) -> dict[str, Any]:
    """Success of the scripted solvers (all, or those of ``tasks``) over ``seeds`` (ours only)."""
    import turngym.envs.web.miniwob  # noqa: F401
    from turngym.envs.web.miniwob.solvers import SOLVERS

    table = {}
    for task in sorted(tasks or SOLVERS):
        run = _run(lambda task=task: gym.make(f"turngym/MiniWoB-{task}-v0"), task, seeds, lambda obs, info: obs)
        table[task] = {"success": f"{run['wins']}/{run['episodes']}", "rate": run["wins"] / run["episodes"],
                       "step_p50_ms": percentile_ms(run["steps"], 50, 2),
                       "reset_p50_ms": percentile_ms(run["resets"], 50, 2)}
        print(f"{task:24s} {table[task]['success']:>7s}", flush=True)
    return table


def _ratio(theirs: float | None, our: float | None) -> float | None:
    return round(theirs / our, 2) if theirs and our else None


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the comparison (or the solver table), prints a table and writes JSON."""
    p = argparse.ArgumentParser(prog="web_browser", description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=20, help="episodes per task (seeds 0..N-1)")
    p.add_argument("--tasks", nargs="+", default=None,
                   help=f"MiniWoB++ tasks with a solver (default: {' '.join(DEFAULT_TASKS)}; with --solvers: all)")
    p.add_argument("--solvers", action="store_true", help="only the solver success table (ours, all solvers)")
    p.add_argument("--out", default="runs/web_browser.json", help="JSON output file")
    args = p.parse_args(argv)
    seeds = list(range(args.seeds))
    result: dict[str, Any] = {"command": " ".join([Path(sys.executable).name, "-m", "turngym.benchmarks.web_browser",
                                                   *(argv if argv is not None else sys.argv[1:])]),
                              "seeds": seeds, "chromium": shutil.which("chromium")}
    if args.solvers:
        result["solvers"] = solver_table(seeds, args.tasks)
    else:
        args.tasks = args.tasks or list(DEFAULT_TASKS)
        result["tasks"] = args.tasks
        result["ours"] = ours(args.tasks, seeds)
        result["browsergym"] = {}
        for tuned in (False, True):
            key = "tuned" if tuned else "as shipped"
            try:
                result["browsergym"][key] = browsergym(args.tasks, seeds, tuned)
            except Exception as e:  # noqa: BLE001 - report why the peer could not run instead of failing
                result["browsergym"][key] = {"error": f"BrowserGym could not run: {type(e).__name__}: {e}"}
        rows = [("turngym", result["ours"])] + [(f"browsergym {k}", v) for k, v in result["browsergym"].items()]
        print(f"{'':24s} {'reset p50':>10s} {'reset p95':>10s} {'step p50':>9s} {'step p95':>9s} {'success':>8s}")
        for name, r in rows:
            if "error" in r:
                print(f"{name:24s} {r['error']}")
                continue
            print(f"{name:24s} {r['reset_ms']['p50']:>10} {r['reset_ms']['p95']:>10} {r['step_ms']['p50']:>9} "
                  f"{r['step_ms']['p95']:>9} {r['success_rate']:>8}")
        mine = result["ours"]
        result["ratios"] = {k: {"reset_p50": _ratio(v["reset_ms"]["p50"], mine["reset_ms"]["p50"]),
                                "step_p50": _ratio(v["step_ms"]["p50"], mine["step_ms"]["p50"])}
                            for k, v in result["browsergym"].items() if "error" not in v}
        print("ratios (BrowserGym time / ours; > 1: ours faster):", json.dumps(result["ratios"]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
