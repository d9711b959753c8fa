"""Leaderboard validation on Kuhn poker: CFR+, MaskablePPO, a heuristic and random, ranked by ``turngym leaderboard``.

Issue 16 asks that, on Kuhn, CFR+, MaskablePPO, a heuristic and random come out in their expected order with
separated confidence intervals. Protocol:

1. Train sb3-contrib's MaskablePPO against the random player (``sb3.train_maskable_ppo``, ``--timesteps``
   learner decisions, seed ``--ppo-seed``, default hyperparameters), save it to ``<out>/maskable_ppo.zip`` and
   measure it against random with ``sb3.evaluate`` (``--eval-episodes`` hands, seat-alternated, t interval).
2. Play a leaderboard suite on ``turngym/KuhnPoker-v0`` with four agents: ``cfr+`` (kind ``cfr``, CFR+ for
   ``--cfr-iterations``), ``maskable-ppo`` (kind ``sb3``, deterministic), ``heuristic`` (kind ``scripted``:
   ``turngym.agents.baselines.kuhn_heuristic:KuhnHeuristic``) and ``random``. Every pair plays both seatings on
   seeds ``--seed-start`` .. ``--seed-start + --seeds - 1``; a game is ``--hands`` deals (game seed ``s`` deals
   from reset seeds ``s * hands`` .. ``s * hands + hands - 1``) scored by chips, since single deals rank random
   above CFR+ (``suite.EnvSpec.hands``). Ratings: Bradley–Terry with ``--n-boot`` game-level bootstrap
   resamples (``rating_seed`` 0), the leaderboard's ranking of record.
3. Check the order: for each pair of agents adjacent in the measured ranking, are their 95% intervals disjoint?
   And does the order expected a priori hold: CFR+ above PPO and the heuristic, both above random, each step
   separated?
4. Explain it exactly: every agent's strategy is read off at each of Kuhn's 12 information states (the
   heuristic's and CFR+'s probabilities; the deterministic PPO's argmax; random's uniform), and the game tree
   gives each agent's exploitability and every pair's expected chips per hand, seats averaged
   (``cfr.game_value``, ``cfr.exploitability``). The measured chips per hand of every pair are reported beside
   them (mean over seat-swapped pairs of games, t interval).

Writes into ``--out``: ``leaderboard.md``, ``leaderboard.json``, ``leaderboard.png`` and ``manifest.json`` (the
run's reports; the game log stays in ``--run-dir``, a temporary folder by default), ``maskable_ppo.zip``,
``validation.json`` (command, every seed, the PPO budget, timings, the order and each adjacent pair's
separation, the exact and measured pair values) and ``validation.md`` (the same as tables).

Run:
    python -m turngym.benchmarks.leaderboard_validation --out docs/leaderboard/validation [--timesteps 16384]
        [--seeds 1000] [--torch-threads 1]
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from turngym.agents.baselines.cfr import exploitability, game_value
from turngym.agents.baselines.gametree import GameTree, build_tree
from turngym.agents.leaderboard.agents import RandomAgent, build_agent
from turngym.agents.leaderboard.runner import package_versions, run_leaderboard
from turngym.agents.leaderboard.suite import Suite, parse_suite
from turngym.agents.stats import mean_ci

KUHN = "turngym/KuhnPoker-v0"
HEURISTIC = "turngym.agents.baselines.kuhn_heuristic:KuhnHeuristic"
CFR, PPO, HEUR, RANDOM = "cfr+", "maskable-ppo", "heuristic", "random"
#: The order expected before playing: the equilibrium first, the two exploitable agents, the random player last.
EXPECTED = ((CFR,), (PPO, HEUR), (RANDOM,))
#: Reports of the leaderboard run copied into ``--out`` (the JSONL game log is not: it is large and rebuildable).
REPORTS = ("leaderboard.md", "leaderboard.json", "leaderboard.png", "manifest.json")
DEFAULTS = {"timesteps": 16384, "ppo_seed": 0, "eval_episodes": 2000, "eval_seed": 0, "seeds": 1000,
            "seed_start": 0, "hands": 20, "cfr_iterations": 300, "queen_call": 0.5, "n_boot": 1000}


def validation_suite(ppo_path: str | Path, *, seeds: int, seed_start: int = 0, hands: int = 20,
                     cfr_iterations: int = 300, queen_call: float = 0.5, n_boot: int = 1000) -> Suite:
    """The four-agent Kuhn suite of the protocol (module docstring, step 2)."""
    return parse_suite({
        "name": "kuhn-validation", "seeds": {"start": seed_start, "count": seeds}, "n_boot": n_boot,
        "rating_seed": 0,
        "agents": [
            {"name": CFR, "kind": "cfr", "iterations": cfr_iterations, "seed": 0},
            {"name": PPO, "kind": "sb3", "path": str(ppo_path), "algo": "MaskablePPO", "deterministic": True},
            {"name": HEUR, "kind": "scripted", "factory": HEURISTIC,
             "kwargs": {"seed": 0, "queen_call": queen_call}},
            {"name": RANDOM, "kind": "random", "seed": 0},
        ],
        "envs": [{"id": KUHN, "hands": hands}],
    })


# ----------------------------------------------------------------------------------------- exact analysis
def infoset_views(env_id: str = KUHN) -> dict[str, tuple[Any, str, dict[str, Any]]]:
    """Every information state of a two-player card game: ``state_key`` -> (vector obs, text obs, info).

    Walks the AEC env with explicit chance through its public API (``chance_outcomes``, ``apply_chance``,
    ``step``, ``get_state``/``set_state``), as ``gametree.build_tree_from_env`` does, and keeps the acting seat's
    observation in both modes: what the leaderboard would hand an agent there.
    """
    import turngym.envs

    env = turngym.envs.make_aec(env_id, obs_mode="vector", chance="explicit")
    env.reset(seed=0)
    views: dict[str, tuple[Any, str, dict[str, Any]]] = {}
    stack = [env.get_state()]
    while stack:
        blob = stack.pop()
        env.set_state(blob)
        if all(env.terminations.values()):
            continue
        outcomes = env.chance_outcomes()
        if outcomes:
            for outcome, _ in outcomes:
                env.set_state(blob)
                env.apply_chance(outcome)
                stack.append(env.get_state())
            continue
        actor = env.agent_selection
        seat = list(env.possible_agents).index(actor)
        info = dict(env.infos[actor])
        views.setdefault(info["state_key"], (env.observe(actor), env.session.observation(seat, "text"), info))
        for action in info["legal_action_ids"]:
            env.set_state(blob)
            env.step(action)
            stack.append(env.get_state())
    env.close()
    return views


def strategy_array(agent: Any, tree: GameTree, views: Mapping[str, tuple[Any, str, dict[str, Any]]]) -> np.ndarray:
    """The agent's behaviour strategy ``[num_infosets, num_actions]``, read at every information state.

    ``action_probs(info, observation)`` where the agent has it (``TabularPolicy``, ``KuhnHeuristic``); uniform
    for ``RandomAgent``; otherwise the agent must be deterministic (a deterministic ``SB3Policy``) and its one
    action is taken with probability 1.
    """
    out = np.zeros((tree.num_infosets, tree.num_actions))
    for i, key in enumerate(tree.infoset_keys):
        vector, text, info = views[key]
        obs = text if getattr(agent, "obs_mode", "text") == "text" else vector
        legal = [int(a) for a in info["legal_action_ids"]]
        if hasattr(agent, "action_probs"):
            for a, p in agent.action_probs(dict(info), obs).items():
                out[i, int(a)] = p
        elif isinstance(agent, RandomAgent):
            out[i, legal] = 1.0 / len(legal)
        else:
            if getattr(agent, "deterministic", False) is not True:
                raise ValueError(f"cannot read a strategy off {agent!r}: no action_probs and not deterministic")
            action = agent.act([obs], [dict(info)])[0]
            if isinstance(action, str):  # a word: its id is its place among the admissible words
                action = legal[list(info["admissible_actions"]).index(action)]
            out[i, int(action)] = 1.0
    return out


def pair_value(tree: GameTree, a: np.ndarray, b: np.ndarray) -> float:
    """Expected chips per hand of strategy ``a`` against ``b``, the two seats averaged."""

    def profile(p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
        mixed = p1.copy()
        rows = tree.infoset_player == 0
        mixed[rows] = p0[rows]
        return mixed

    return 0.5 * (game_value(tree, profile(a, b)) - game_value(tree, profile(b, a)))


def exact_analysis(suite: Suite) -> dict[str, Any]:
    """Exploitability of every agent and the exact chips per hand of every pair (module docstring, step 4)."""
    tree = build_tree(KUHN)
    views = infoset_views(KUHN)
    strategies = {spec.name: strategy_array(build_agent(spec, KUHN), tree, views) for spec in suite.agents}
    names = list(strategies)
    return {
        "exploitability": {n: exploitability(tree, s) for n, s in strategies.items()},
        "chips_per_hand": {f"{a} vs {b}": pair_value(tree, strategies[a], strategies[b])
                           for a, b in combinations(names, 2)},
        "infosets": tree.num_infosets,
    }


# ----------------------------------------------------------------------------------------- measured results
def measured_pairs(records: Sequence[dict[str, Any]], agents: Sequence[str], hands: int) -> dict[str, Any]:
    """Each pair's record over its games: wins/draws/losses of the first-named and chips per hand (t interval).

    Chips per hand are averaged over the seat-swapped pair of games on each seed (same deals, both seats), so
    the interval is over seeds.
    """
    out: dict[str, Any] = {}
    for a, b in combinations(agents, 2):
        per_seed: dict[int, list[float]] = {}
        w = d = lo = 0
        for r in records:
            if set(r["seats"]) != {a, b} or r["infra_error"] is not None:
                continue
            mine = r["returns"][r["seats"].index(a)]
            theirs = r["returns"][r["seats"].index(b)]
            w, d, lo = w + (mine > theirs), d + (mine == theirs), lo + (mine < theirs)
            per_seed.setdefault(r["seed"], []).append(mine / hands)
        mean, low, high = mean_ci([float(np.mean(v)) for v in per_seed.values()])
        out[f"{a} vs {b}"] = {"games": w + d + lo, "wins": w, "draws": d, "losses": lo,
                              "chips_per_hand": mean, "ci95": [low, high]}
    return out


def head_to_head_upsets(ratings: Sequence[Any], pairs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Pairs whose lower-rated agent won more of their games than it lost: the cycles one rating per agent hides.

    Bradley–Terry fits one strength per agent to every pair's games, so an agent that beats a weak player more
    often than the others do can be rated above agents it loses to head to head.
    """
    rating = {r.agent: r.rating for r in ratings}
    upsets = []
    for key, m in pairs.items():
        a, b = key.split(" vs ")
        hi, lo = (a, b) if rating[a] >= rating[b] else (b, a)
        lo_wins, lo_losses = (m["wins"], m["losses"]) if lo == a else (m["losses"], m["wins"])
        if lo_wins > lo_losses:
            upsets.append({"higher_rated": hi, "lower_rated": lo, "lower_rated_wins": lo_wins,
                           "draws": m["draws"], "lower_rated_losses": lo_losses})
    return upsets


def order_check(rows: Sequence[Any]) -> dict[str, Any]:
    """The measured order, each adjacent pair's separation, and whether ``EXPECTED`` holds with separated steps."""
    ranked = sorted(rows, key=lambda r: (r.rank, r.agent))
    adjacent = [{"higher": hi.agent, "lower": lo.agent, "higher_ci": [hi.ci_low, hi.ci_high],
                 "lower_ci": [lo.ci_low, lo.ci_high], "separated": bool(hi.ci_low > lo.ci_high)}
                for hi, lo in zip(ranked, ranked[1:], strict=False)]
    by = {r.agent: r for r in rows}
    steps = []
    for upper, lower in zip(EXPECTED, EXPECTED[1:], strict=False):
        for u in upper:
            for v in lower:
                steps.append({"higher": u, "lower": v, "rating_higher": bool(by[u].rating > by[v].rating),
                              "separated": bool(by[u].ci_low > by[v].ci_high)})
    return {"order": [r.agent for r in ranked], "adjacent": adjacent, "expected": [list(g) for g in EXPECTED],
            "expected_steps": steps,
            "expected_order_holds": all(s["rating_higher"] for s in steps),
            "expected_order_separated": all(s["separated"] for s in steps)}


# ----------------------------------------------------------------------------------------- the run
def train_ppo(path: Path, *, timesteps: int, seed: int, eval_episodes: int, eval_seed: int) -> dict[str, Any]:
    """Step 1: train, save, and measure MaskablePPO against random; returns the budget and its measurement."""
    from turngym.agents.baselines.sb3 import SB3Policy, evaluate, train_maskable_ppo

    tick = time.perf_counter()
    model = train_maskable_ppo(KUHN, total_timesteps=timesteps, seed=seed)
    seconds = time.perf_counter() - tick
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    result = evaluate(KUHN, SB3Policy(model, deterministic=True), "random", episodes=eval_episodes, seed=eval_seed)
    return {"algo": "MaskablePPO", "opponent": "random", "total_timesteps": timesteps, "seed": seed,
            "hyperparameters": "sb3-contrib defaults (n_steps 2048, batch_size 64, n_epochs 10, lr 3e-4)",
            "train_seconds": seconds, "path": str(path),
            "vs_random": {"episodes": eval_episodes, "seed": eval_seed, "chips_per_hand": result["mean"],
                          "ci95": list(result["ci95"])}}


def run_validation(out: Path, *, run_dir: Path | None = None, command: str = "", **options: Any) -> dict[str, Any]:
    """The whole protocol (module docstring); writes every output into ``out`` and returns ``validation.json``."""
    opts = {**DEFAULTS, **options}
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    ppo = train_ppo(out / "maskable_ppo.zip", timesteps=opts["timesteps"], seed=opts["ppo_seed"],
                    eval_episodes=opts["eval_episodes"], eval_seed=opts["eval_seed"])
    suite = validation_suite(out / "maskable_ppo.zip", seeds=opts["seeds"], seed_start=opts["seed_start"],
                             hands=opts["hands"], cfr_iterations=opts["cfr_iterations"],
                             queen_call=opts["queen_call"], n_boot=opts["n_boot"])
    with tempfile.TemporaryDirectory() as tmp:
        folder = run_dir if run_dir is not None else Path(tmp)
        tick = time.perf_counter()
        result, summary = run_leaderboard(suite, folder, png=True, html=False)
        leaderboard_seconds = time.perf_counter() - tick
        for name in REPORTS:
            if (folder / name).resolve() != (out / name).resolve():
                shutil.copyfile(folder / name, out / name)
    tick = time.perf_counter()
    exact = exact_analysis(suite)
    exact_seconds = time.perf_counter() - tick
    names = [a.name for a in suite.agents]
    rows = summary.board.per_env[KUHN]
    env = suite.envs[0]
    validation = {
        "benchmark": "leaderboard_validation", "command": command, "env": KUHN,
        "seeds": {"games": list(env.seeds), "deals": f"game seed s plays reset seeds s*{env.hands} .. "
                  f"s*{env.hands}+{env.hands - 1}", "hands": env.hands, "ppo_train": opts["ppo_seed"],
                  "ppo_eval": opts["eval_seed"], "cfr": 0, "heuristic": 0, "random": 0,
                  "rating_bootstrap": suite.rating_seed,
                  "agent_rng": "each seat of each game draws from default_rng([game seed, seat])"},
        "ppo": ppo, "cfr_iterations": opts["cfr_iterations"], "queen_call": opts["queen_call"],
        "games": result.scheduled, "infra_errors": summary.infra_errors, "n_boot": suite.n_boot,
        "level": suite.level,
        "ratings": [{"rank": r.rank, "agent": r.agent, "rating": r.rating, "ci95": [r.ci_low, r.ci_high],
                     "wins": r.wins, "draws": r.draws, "losses": r.losses, "games": r.games} for r in rows],
        **order_check(rows),
        "pairs_measured": (pairs := measured_pairs(result.records, names, env.hands)),
        "head_to_head_upsets": head_to_head_upsets(rows, pairs),
        "pairs_exact": exact["chips_per_hand"], "exploitability": exact["exploitability"],
        "seconds": {"total": time.perf_counter() - started, "ppo_train": ppo["train_seconds"],
                    "leaderboard": leaderboard_seconds, "exact_analysis": exact_seconds},
        "platform": platform.platform(), "versions": package_versions(),
    }
    (out / "validation.json").write_text(json.dumps(validation, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    (out / "validation.md").write_text(validation_markdown(validation), encoding="utf-8")
    return validation


def _ci(pair: Sequence[float]) -> str:
    return f"[{pair[0]:+.3f}, {pair[1]:+.3f}]"


def validation_markdown(v: Mapping[str, Any]) -> str:
    """``validation.json`` as tables: ratings, adjacent separations, the expected order, pair values."""
    ppo = v["ppo"]
    lines = [
        "# Leaderboard validation: Kuhn poker", "",
        f"Command: `{v['command']}`", "",
        f"{v['games']} games of {v['seeds']['hands']} deals ({len(v['seeds']['games'])} seeds x 6 pairs x 2 "
        f"seatings), {v['infra_errors']} infrastructure errors; Bradley–Terry with {v['n_boot']} bootstrap "
        f"resamples. MaskablePPO: {ppo['total_timesteps']} timesteps against random (seed {ppo['seed']}, "
        f"{ppo['train_seconds']:.1f} s); against random over {ppo['vs_random']['episodes']} hands: "
        f"{ppo['vs_random']['chips_per_hand']:+.3f} chips per hand {_ci(ppo['vs_random']['ci95'])}. "
        f"Total {v['seconds']['total']:.0f} s.", "",
        "| rank | agent | rating | 95% CI | W | D | L | exploitability |", "|---:|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in v["ratings"]:
        lines.append(f"| {r['rank']} | {r['agent']} | {r['rating']:+.3f} | {_ci(r['ci95'])} | {r['wins']} | "
                     f"{r['draws']} | {r['losses']} | {v['exploitability'][r['agent']]:.3f} |")
    lines += ["", "| adjacent pair | 95% CIs separated |", "|---|---|"]
    lines += [f"| {a['higher']} > {a['lower']} | {'yes' if a['separated'] else 'no'} |" for a in v["adjacent"]]
    lines += ["", "Expected a priori: " + " > ".join("{" + ", ".join(g) + "}" if len(g) > 1 else g[0]
                                                     for g in v["expected"])
              + f"; holds by rating: {'yes' if v['expected_order_holds'] else 'no'}; every step separated: "
              f"{'yes' if v['expected_order_separated'] else 'no'}.", "",
              "| pair | W-D-L (first named) | chips/hand measured | 95% CI | chips/hand exact |",
              "|---|---|---:|---|---:|"]
    for pair, m in v["pairs_measured"].items():
        lines.append(f"| {pair} | {m['wins']}-{m['draws']}-{m['losses']} | {m['chips_per_hand']:+.3f} | "
                     f"{_ci(m['ci95'])} | {v['pairs_exact'][pair]:+.3f} |")
    for u in v["head_to_head_upsets"]:
        lines += ["", f"Head to head against the rating: {u['lower_rated']} (rated below) beat {u['higher_rated']} "
                  f"{u['lower_rated_wins']}-{u['draws']}-{u['lower_rated_losses']} (W-D-L)."]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (module docstring)."""
    p = argparse.ArgumentParser(prog="turngym.benchmarks.leaderboard_validation", description=__doc__.split("\n")[0])
    p.add_argument("--timesteps", type=int, default=DEFAULTS["timesteps"], help="MaskablePPO training timesteps.")
    p.add_argument("--ppo-seed", type=int, default=DEFAULTS["ppo_seed"], help="Seed of PPO's training.")
    p.add_argument("--eval-episodes", type=int, default=DEFAULTS["eval_episodes"], help="Hands of PPO vs random.")
    p.add_argument("--eval-seed", type=int, default=DEFAULTS["eval_seed"], help="Root seed of those hands.")
    p.add_argument("--seeds", type=int, default=DEFAULTS["seeds"], help="Game seeds (each pair: 2 games a seed).")
    p.add_argument("--seed-start", type=int, default=DEFAULTS["seed_start"], help="First game seed.")
    p.add_argument("--hands", type=int, default=DEFAULTS["hands"], help="Deals per game.")
    p.add_argument("--cfr-iterations", type=int, default=DEFAULTS["cfr_iterations"], help="CFR+ iterations.")
    p.add_argument("--queen-call", type=float, default=DEFAULTS["queen_call"],
                   help="The heuristic's probability of calling a bet with the Queen.")
    p.add_argument("--n-boot", type=int, default=DEFAULTS["n_boot"], help="Bootstrap resamples of the ratings.")
    p.add_argument("--torch-threads", type=int, default=None,
                   help="torch.set_num_threads for training and inference (default: torch's own).")
    p.add_argument("--run-dir", type=Path, default=None,
                   help="Folder of the leaderboard run (game log; default: a temporary folder).")
    p.add_argument("--out", type=Path, default=Path("docs/leaderboard/validation"), help="Output folder.")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Runs the validation; prints ``validation.md``. Exit 0 whatever the order found (it is a measurement)."""
    args = parse_args(argv)
    raw = list(sys.argv[1:] if argv is None else argv)
    if args.torch_threads is not None:
        import torch

        torch.set_num_threads(args.torch_threads)
    options = {k: getattr(args, k) for k in DEFAULTS}
    validation = run_validation(args.out, run_dir=args.run_dir,
                                command=shlex.join(["python", "-m", "turngym.benchmarks.leaderboard_validation",
                                                    *raw]), **options)
    print(validation_markdown(validation))
    return 0


if __name__ == "__main__":
    sys.exit(main())
