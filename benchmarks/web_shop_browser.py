"""WebShop browser front end report: expert and random success, step and reset latency, in real Chromium.

Run:
    python -m turngym.benchmarks.web_shop_browser [--episodes 50] [--out runs/web_shop_browser.json]

- Success on the episodes seeded 0..N-1 of the test split (held-out targets; the seed picks the same goal as
  ``turngym/WebShop-v0``'s ``reset(seed=...)``): the scripted shopper acted out in the browser (the registry
  expert), and a random agent (a seeded uniform choice among the page's interactive element ids: ``click`` on
  links and buttons, and ``fill`` of the search box with the instruction followed by ``press Enter``).
- Latency: p50/p95 of ``env.step`` and ``env.reset`` over the expert's episodes (Chromium round trips, the HTTP
  server and the accessibility-tree read included). The text front end's numbers are ``web_text``'s.
- WebShop's original browser mode (Flask + selenium) was not run: its search engine needs pyserini on a Java 11
  runtime, which cannot be installed here; no comparison is claimed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from turngym.agents.stats import percentile_ms

ID = "turngym/WebShopBrowser-v0"
_ELEMENT = re.compile(r"^\s*\[(\w+)\] (link|button|textbox) ")


def random_action(obs: str, instruction: str, rng: np.random.Generator, typed: set[str]) -> str:
    """A uniformly random interactive element of the page: click it, or fill then submit a text box."""
    elements = [m.groups() for m in map(_ELEMENT.match, obs.splitlines()) if m]
    if not elements:
        return "noop()"
    bid, role = elements[int(rng.integers(len(elements)))]
    if role == "textbox":
        if bid in typed:
            typed.discard(bid)
            return f"press({bid!r}, 'Enter')"
        typed.add(bid)
        return f"fill({bid!r}, {instruction!r})"
    return f"click({bid!r})"


def run_agent(agent: str, episodes: int) -> dict[str, Any]:
    """Plays ``episodes`` seeded test-split goals; success, mean score, turns, infra errors and timings."""
    import gymnasium as gym

    import turngym.envs  # noqa: F401
    from turngym.envs.web.shop.browser_env import browser_shop_expert

    env = gym.make(ID, split="test")
    act = browser_shop_expert()
    rng = np.random.default_rng(0)
    steps: list[float] = []
    resets: list[float] = []
    scores, successes, turns, infra = [], [], [], 0
    from tqdm.auto import tqdm

    for seed in tqdm(range(episodes), desc=f"browser shop {agent}", unit="ep"):
        t = time.perf_counter()
        obs, info = env.reset(seed=seed)
        resets.append(time.perf_counter() - t)
        instruction, typed, n, done = info["task"]["instruction"], set(), 0, False
        while not done:
            action = act(env, obs, info) if agent == "expert" else random_action(obs, instruction, rng, typed)
            t = time.perf_counter()
            obs, reward, terminated, truncated, info = env.step(action)
            steps.append(time.perf_counter() - t)
            n += 1
            done = terminated or truncated
        if "infra_error" in info:
            infra += 1
            continue
        scores.append(float(info.get("score", 0.0)))
        successes.append(bool(info.get("success", False)))
        turns.append(n)
    env.close()
    return {"agent": agent, "episodes": episodes, "seeds": list(range(episodes)), "infra_errors": infra,
            "success_rate": float(np.mean(successes)) if successes else float("nan"),
            "mean_score": float(np.mean(scores)) if scores else float("nan"),
            "mean_turns": float(np.mean(turns)) if turns else float("nan"),
            "step_ms_p50": percentile_ms(steps, 50), "step_ms_p95": percentile_ms(steps, 95),
            "reset_ms_p50": percentile_ms(resets, 50), "reset_ms_p95": percentile_ms(resets, 95)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Runs the report, prints a table and writes JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--agents", nargs="+", default=["expert", "random"], choices=["expert", "random"])
    ap.add_argument("--out", type=Path, default=Path("runs/web_shop_browser.json"))
    args = ap.parse_args(argv)
    rows = [run_agent(a, args.episodes) for a in args.agents]
    result = {"command": "python -m turngym.benchmarks.web_shop_browser " + " ".join(argv or sys.argv[1:]),
              "env_id": ID, "rows": rows,
              "peer": "WebShop's browser mode was not run (pyserini needs a Java 11 runtime); no ratio claimed."}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"{'agent':8s} {'success':>8s} {'score':>6s} {'turns':>6s} {'infra':>5s} {'step p50/p95 ms':>16s} "
          f"{'reset p50/p95 ms':>17s}")
    for r in rows:
        print(f"{r['agent']:8s} {r['success_rate']:8.3f} {r['mean_score']:6.3f} {r['mean_turns']:6.1f} "
              f"{r['infra_errors']:5d} {r['step_ms_p50']:7.1f}/{r['step_ms_p95']:<8.1f} "
              f"{r['reset_ms_p50']:7.1f}/{r['reset_ms_p95']:.1f}")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
