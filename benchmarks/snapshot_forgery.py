"""Snapshot forgery survey: how many forged snapshots break the contract, per id x form x mode.

The conformance checkers stop at an env's first failure (``turngym.envs.core.forgery.first_forgery_failure``);
this survey plays every forgery and counts the outcomes, so a regression shows its size. For each registered
id, each form (single-agent, AEC, Parallel) and each mode, snapshots are taken along the checker's seeded
rollout and mutated (``forgeries``: value replacement, key deletion, splicing, truncation, byte flips); each
forgery must be rejected with ``SnapshotError`` leaving the env unchanged, or be accepted and leave a working
env (``forgery_outcome``).

Usage::

    python -m turngym.benchmarks.snapshot_forgery                 # every id, budget 90, seed 0
    python -m turngym.benchmarks.snapshot_forgery --budget 20 --only Kuhn --out runs/forgery.json
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

import turngym.envs as te
from turngym.envs.core import checker
from turngym.envs.core.forgery import DEFAULT_BUDGET, DEFAULT_PROBE_STEPS, forgeries, forgery_outcome, snapshots_along


def _combos(only: list[str]) -> list[tuple[str, str, bool | str]]:
    """(env id, mode, form as the checker's drivers name it) for every registered id."""
    out = []
    for info in te.list_envs():
        if only and not any(o in info.id for o in only):
            continue
        forms: list[bool | str] = [False] + ([True] if info.aec else []) + (["parallel"] if info.parallel else [])
        out += [(info.id, mode, form) for mode in info.modes for form in forms]
    return out


def survey(env_id: str, mode: str, form: bool | str, budget: int, seed: int) -> dict[str, Any]:
    """Plays every forgery of one id x mode x form; returns the counts of each failure kind."""
    _, actions = checker._rollout(checker._driver_for(env_id, {"obs_mode": mode}, form), seed, seed + 1)
    driver = checker._driver_for(env_id, {"obs_mode": mode}, form)
    snaps = snapshots_along(driver, seed, actions)
    rng = np.random.default_rng(seed)
    failures: collections.Counter[str] = collections.Counter()
    tried = accepted = 0
    for i, snap in enumerate(snaps):
        for forged in forgeries(snap, [s for s in snaps if s != snap], rng, budget):
            tried += 1
            failure, ok = forgery_outcome(driver, forged, snaps[(i + 1) % len(snaps)], rng, DEFAULT_PROBE_STEPS)
            accepted += ok
            if failure is not None:
                failures[failure.split(": ", 1)[1].split(":")[0][:80]] += 1
    return {"env_id": env_id, "mode": mode, "form": {False: "single", True: "aec"}.get(form, form),  # type: ignore[arg-type]
            "forged": tried, "accepted": accepted, "broke": sum(failures.values()), "failures": dict(failures)}


def main(argv: list[str] | None = None) -> int:
    """Runs the survey, prints one line per combination and the total, writes JSON; exit 1 on any failure."""
    parser = argparse.ArgumentParser(prog="snapshot_forgery", description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=DEFAULT_BUDGET, help="node mutations per snapshot")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", action="append", default=[], help="substring of env ids to keep")
    parser.add_argument("--out", default="runs/snapshot_forgery.json", help="JSON output path")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = []
    for env_id, mode, form in tqdm(_combos(args.only), desc="forgery", unit="env"):
        rows.append(survey(env_id, mode, form, args.budget, args.seed))
        r = rows[-1]
        tqdm.write(f"{env_id} {mode} {r['form']}: {r['forged']} forged, {r['accepted']} accepted, "
                   f"{r['broke']} broke the contract {r['failures'] or ''}")
    total, broke = sum(r["forged"] for r in rows), sum(r["broke"] for r in rows)
    print(f"TOTAL: {total} forged snapshots over {len(rows)} id x mode x form, {broke} broke the contract "
          f"(budget {args.budget}, seed {args.seed}, {time.perf_counter() - started:.0f} s)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"budget": args.budget, "seed": args.seed, "command": " ".join(sys.argv),
                               "total": total, "broke": broke, "rows": rows}, indent=1))
    return 1 if broke else 0


if __name__ == "__main__":
    sys.exit(main())
