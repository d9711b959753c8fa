"""Step-group sizes of the ToolQA anchor keys (``state_key="history"`` vs ``"markov"``) under a noisy expert.

Plays ``tasks`` ToolQA tasks x G = 8 episodes with the scripted expert, a fraction ``eps`` of whose turns is
replaced by a random search (70%) or an invalid message, in two envs that differ only in ``state_key``, and
prints how many turns fall in step groups of more than one turn (what GiGPO can use).

Usage: ``python scripts/anchor_keys.py <eps> <tasks> <difficulty>`` (README: ``0.2 20 2`` and ``0.5 20 2``).
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np

import turngym.envs  # noqa: F401  (registers the ids)
from turngym.envs.core.registry import make
from turngym.envs.tooluse.trajectories import ExpertAgent


def main(eps: float, tasks: int, difficulty: int, group_size: int = 8, seed: int = 0) -> None:
    """Prints the step-group statistics of both key kinds."""
    rng = np.random.default_rng(seed)
    envs = {k: make("turngym/ToolQA-v0", format="plain", difficulty=difficulty, state_key=k)
            for k in ("history", "markov")}
    rows: dict[str, list[tuple[int, str]]] = {k: [] for k in envs}
    for t in range(tasks):
        for _ in range(group_size):
            infos = {k: e.reset(seed=1000 + t)[1] for k, e in envs.items()}
            done = False
            while not done:
                for k in envs:
                    rows[k].append((t, infos[k]["state_key"]))
                if rng.random() < eps:
                    words = envs["history"].unwrapped.task.question.rstrip("?").split()
                    action = f'search(query="{rng.choice(words)}")' if rng.random() < 0.7 else "oops"
                else:
                    action = ExpertAgent(envs["history"].unwrapped).next_text()
                outs = {k: e.step(action) for k, e in envs.items()}
                infos = {k: o[4] for k, o in outs.items()}
                done = bool(outs["history"][2] or outs["history"][3])
    for k, r in rows.items():
        counts = Counter(r)
        sizes = np.array([counts[x] for x in r])
        print(f"eps={eps} difficulty={difficulty} seed={seed} {k:8s} turns={len(r)} step_groups={len(counts)} "
              f"mean_size={sizes.mean():.2f} nonsingleton_frac={(sizes > 1).mean():.3f}")


if __name__ == "__main__":
    main(float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
