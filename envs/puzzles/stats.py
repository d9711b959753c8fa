"""Level statistics of the puzzle envs: generation time, optimal lengths, uniform-random success.

Run ``python -m turngym.envs.puzzles.stats [--levels 500] [--json out.json]``. For each id at its default
arguments (and slippery FrozenLake): mean generation time per level (``reset``), the optimal solution length
over the generated levels (mean, max), and the success rate of a uniformly random policy over the same levels
(one episode per level, ``max_steps`` of the defaults). Also the number of 4x4 FrozenLake maps each split can
produce (all hole patterns enumerated).
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from typing import Any

import numpy as np
from gymnasium.envs.toy_text.frozen_lake import is_valid

from turngym.envs.puzzles.base import layout_digest, split_of
from turngym.envs.puzzles.frozenlake import FrozenLakeEnv
from turngym.envs.puzzles.sokoban import SokobanEnv


def level_stats(env: Any, levels: int, seed: int = 0) -> dict[str, Any]:
    """Generation time, optimal lengths and random-policy success over ``levels`` seeds of ``env``."""
    start = time.perf_counter()
    lengths = [env.reset(seed=seed + k)[1]["task"]["optimal_length"] for k in range(levels)]
    gen_ms = (time.perf_counter() - start) / levels * 1e3
    rng = np.random.default_rng(seed)
    wins = 0
    for k in range(levels):
        env.reset(seed=seed + k)
        while True:
            _, _, term, trunc, info = env.step(int(rng.integers(len(env.action_names))))
            if term or trunc:
                wins += bool(info["success"])
                break
    return {"levels": levels, "generation_ms_per_level": round(gen_ms, 3),
            "optimal_length_mean": float(np.mean(lengths)), "optimal_length_max": int(max(lengths)),
            "optimal_length_p90": float(np.percentile(lengths, 90)),
            "optimal_length_histogram": np.bincount(lengths).tolist(), "random_success": wins / levels,
            "max_steps": env.max_steps}


def lake_layouts(size: int = 4) -> dict[str, int]:
    """How many valid ``size x size`` maps (a path from start to goal) each split holds."""
    counts = {"train": 0, "test": 0}
    for cells in itertools.product("FH", repeat=size * size - 2):
        flat = "S" + "".join(cells) + "G"
        rows = [flat[i:i + size] for i in range(0, size * size, size)]
        if is_valid([list(r) for r in rows], size):
            counts[split_of(layout_digest("frozenlake", rows))] += 1
    return counts


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Prints the table (and writes JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, default=500)
    parser.add_argument("--json", default=None, help="write the results to this file")
    args = parser.parse_args(argv)
    envs = {"Sokoban-v0 (6x6, 1 box)": SokobanEnv(obs_mode="vector"),
            "Sokoban-v0 test split": SokobanEnv(obs_mode="vector", split="test"),
            "FrozenLake-v0 (4x4)": FrozenLakeEnv(obs_mode="vector"),
            "FrozenLake-v0 (4x4, slippery, max_steps=100)": FrozenLakeEnv(obs_mode="vector", is_slippery=True,
                                                                          max_steps=100)}
    out: dict[str, Any] = {name: level_stats(env, args.levels) for name, env in envs.items()}
    out["FrozenLake 4x4 maps per split"] = lake_layouts(4)
    print("| env | gen ms/level | optimal mean | optimal max | random success | max_steps |")
    print("|---|---|---|---|---|---|")
    for name, s in out.items():
        if "levels" in s:
            print(f"| {name} | {s['generation_ms_per_level']:.2f} | {s['optimal_length_mean']:.2f} | "
                  f"{s['optimal_length_max']} | {s['random_success']:.3f} | {s['max_steps']} |")
    print("FrozenLake 4x4 maps per split:", out["FrozenLake 4x4 maps per split"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
