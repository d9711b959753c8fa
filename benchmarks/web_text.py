"""WebShop text front end report: expert and random success, step and reset latency, steps/s, memory.

Run:
    python -m turngym.benchmarks.web_text [--episodes 200] [--num-products 10000] [--out runs/web_text.json]

- Success: the scripted shopper (the registry expert), a uniform-random agent over ``info["admissible_actions"]``
  (its only search is the literal ``search[<your query>]``), and "search then random" (the expert's search, then
  uniform-random clicks), each on the first ``--episodes`` goals of the test split (held-out targets).
- Latency: p50/p95 of ``env.step`` (search included) and of ``env.reset`` over the expert's episodes; env
  steps/s over whole expert episodes (expert thinking and resets included).
- Memory: resident set size of a fresh process holding 1 and 16 envs (each reset and played through one
  expert episode), so the shared catalog and index are counted once.
- WebShop's original is not run: it needs pyserini (a Java 11 runtime), spaCy models and Flask/selenium
  pieces that cannot be installed here, so no side-by-side ratio is claimed.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from turngym.agents.stats import percentile_ms

ID = "turngym/WebShop-v0"
_PEER_NOTE = ("WebShop's original (princeton-nlp/WebShop) was not run: its search engine needs pyserini on a Java 11 "
              "runtime and its reward spaCy's en_core_web_sm, neither installable here; no comparison is claimed.")

_MEMORY_CHILD = """
import json, sys, gymnasium as gym
import turngym.envs.web.shop
from turngym.envs.web.shop.experts import shop_expert
def rss_mb():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
base = rss_mb()
envs = [gym.make('turngym/WebShop-v0', split='test', num_products=int(sys.argv[2])) for _ in range(int(sys.argv[1]))]
act = shop_expert()
for k, env in enumerate(envs):
    obs, info = env.reset(options={'task_index': k})
    done = False
    while not done:
        obs, r, term, trunc, info = env.step(act(env, obs, info))
        done = term or trunc
print(json.dumps({'rss_mb': rss_mb(), 'python_baseline_mb': base}))
"""


def run_agent(env: Any, agent: str, episodes: int, seed: int = 0) -> dict[str, Any]:
    """Plays ``episodes`` test goals with the expert or a random agent; success, score and timings."""
    from turngym.envs.web.shop.experts import shop_expert

    act = shop_expert(ID)
    rng = np.random.default_rng(seed)
    steps_t: list[float] = []
    resets_t: list[float] = []
    wins, scores, lengths = [], [], []
    t_all = time.perf_counter()
    n_steps = 0
    for k in range(episodes):
        t = time.perf_counter()
        obs, info = env.reset(options={"task_index": k})
        resets_t.append(time.perf_counter() - t)
        while True:
            if agent == "expert" or (agent == "search-then-random" and info["turn"] == 0):
                action = act(env, obs, info)
            else:
                legal = info["admissible_actions"]
                action = legal[int(rng.integers(len(legal)))]
            t = time.perf_counter()
            obs, _, terminated, truncated, info = env.step(action)
            steps_t.append(time.perf_counter() - t)
            n_steps += 1
            if terminated or truncated:
                break
        wins.append(bool(info["success"]))
        scores.append(float(info["score"]))
        lengths.append(info["turn"])
    elapsed = time.perf_counter() - t_all
    return {
        "episodes": episodes, "success_rate": float(np.mean(wins)), "mean_score": float(np.mean(scores)),
        "mean_turns": float(np.mean(lengths)),
        "step_ms_p50": percentile_ms(steps_t, 50), "step_ms_p95": percentile_ms(steps_t, 95),
        "reset_ms_p50": percentile_ms(resets_t, 50), "reset_ms_p95": percentile_ms(resets_t, 95),
        "env_steps_per_s": n_steps / elapsed,
    }


def memory(num_envs: int, num_products: int) -> dict[str, float]:
    """RSS of a fresh process with ``num_envs`` envs (``_MEMORY_CHILD``)."""
    out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(num_envs), str(num_products)], capture_output=True,
                         text=True, check=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Runs the report and writes it as JSON to ``--out``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=200, help="test-split goals per agent")
    p.add_argument("--num-products", type=int, default=10_000, help="generated catalog size")
    p.add_argument("--out", default="runs/web_text.json", help="JSON file to write")
    args = p.parse_args(argv)

    import gymnasium as gym

    import turngym.envs.web.shop  # noqa: F401  (registers the id)
    from turngym.envs.web.shop.catalog import generate_products, get_catalog

    t = time.perf_counter()
    generate_products(args.num_products, 0)
    generate_s = time.perf_counter() - t
    t = time.perf_counter()
    catalog = get_catalog(args.num_products, 0)
    _ = catalog.index
    catalog_s = time.perf_counter() - t
    env = gym.make(ID, split="test", num_products=args.num_products)
    report: dict[str, Any] = {
        "command": "python -m turngym.benchmarks.web_text " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "catalog": {"num_products": len(catalog), "generate_s": generate_s, "generate_and_index_s": catalog_s,
                    "test_goals": catalog.num_goals("test"), "train_goals": catalog.num_goals("train")},
        "expert": run_agent(env, "expert", args.episodes),
        "random": run_agent(env, "random", args.episodes),
        "search_then_random": run_agent(env, "search-then-random", args.episodes),
        "memory": {"1_env": memory(1, args.num_products), "16_envs": memory(16, args.num_products)},
        "peer": _PEER_NOTE,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    e, r, m = report["expert"], report["random"], report["memory"]
    print(f"catalog {len(catalog)} products: generated in {generate_s:.2f} s, with index {catalog_s:.2f} s")
    print("agent         success  score  step p50/p95 ms  reset p50/p95 ms  steps/s")
    for name, row in (("expert", e), ("random", r), ("search+random", report["search_then_random"])):
        print(f"{name:13} {row['success_rate']:7.3f} {row['mean_score']:6.3f}  {row['step_ms_p50']:.3f}/"
              f"{row['step_ms_p95']:.3f}      {row['reset_ms_p50']:.3f}/{row['reset_ms_p95']:.3f}       "
              f"{row['env_steps_per_s']:.0f}")
    print(f"RSS: 1 env {m['1_env']['rss_mb']:.0f} MB, 16 envs {m['16_envs']['rss_mb']:.0f} MB "
          f"(python + imports alone {m['1_env']['python_baseline_mb']:.0f} MB)")
    print(_PEER_NOTE)
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
