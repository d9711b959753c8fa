"""Dhumbal (Jhyap) agent tournaments after arXiv 2510.11736 ("AI Agents for the Dhumbal Card Game").

Protocol, run per ruleset (``standard``, ``paper`` or both):

1. The four heuristics (Aggressive, Conservative, Balanced, Opportunistic), 4 players.
2. MCTS vs ISMCTS, 2 players.
3. DQN vs PPO, 2 players (the shipped Stable-Baselines3 models, ``turngym.agents.baselines.dhumbal.learned``).
4. Championship, one agent per category: Aggressive, ISMCTS, PPO, Random, 4 players, 1,024 rounds.

Every round is one episode (``rounds=1``, so seat 0 leads in both rulesets); the seat assignment rotates
cyclically over rounds, so each agent sits in each seat (and leads) equally often. Per agent: win rate
(Wilson 95% CI), coins per round (t 95% CI), jhyap success rate, cards discarded per round, the
point-biserial correlation of the hand value at a call with its success, and ms per decision; per
tournament: the leading seat's win rate against 1/n (binomial test) and pairwise Welch t-tests on per-round
coin changes (Bonferroni-corrected) with Cohen's d.

Run:
    python benchmarks/dhumbal.py [--quick] [--ruleset standard|paper|both] [--rounds N] [--out runs/dhumbal]
    turngym bench dhumbal --quick
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats
from tqdm import tqdm

from turngym.agents.stats import mean_ci, rate_ci

ENV_ID = "turngym/Dhumbal-v0"
HEURISTICS = ["aggressive", "conservative", "balanced", "opportunistic"]
SEARCH = ["mcts", "ismcts"]
LEARNED = ["dqn", "ppo"]
DEFAULT_CHAMPIONSHIP = ["aggressive", "ismcts", "ppo", "random"]
#: The study's random baseline calls jhyap with probability 1/2 whenever it may (its championship code).
RANDOM_JHYAP_PROB = 0.5
#: The study's own results (arXiv 2510.11736; the result CSVs of its public repository, 1,024 rounds each):
#: win rate %, ± half-width of its 95% CI, "economic performance" (coins per round), jhyap success %, cards
#: discarded per round, risk correlation, ms per decision. None: not reported.
PUBLISHED: dict[str, dict[str, dict[str, float | None]]] = {
    "heuristics": {
        "aggressive": {"win": 35.1, "ci": 2.9, "coins": 6.2, "jhyap": 76.2, "discards": 1.10, "r": -0.18, "ms": None},
        "conservative": {"win": 19.4, "ci": 2.4, "coins": -2.2, "jhyap": 93.7, "discards": 1.11, "r": -0.18,
                         "ms": None},
        "balanced": {"win": 25.1, "ci": 2.7, "coins": 0.1, "jhyap": 80.6, "discards": 1.11, "r": -0.28, "ms": None},
        "opportunistic": {"win": 20.4, "ci": 2.5, "coins": -4.0, "jhyap": 72.1, "discards": 1.13, "r": -0.34,
                          "ms": None},
    },
    "search": {
        "mcts": {"win": 47.1, "ci": 3.1, "coins": -1.0, "jhyap": 97.7, "discards": 1.0, "r": -0.14, "ms": 2468.7},
        "ismcts": {"win": 52.9, "ci": 3.1, "coins": 1.0, "jhyap": 98.2, "discards": 1.0, "r": -0.10, "ms": 2775.4},
    },
    "learning": {
        "ppo": {"win": 81.0, "ci": 2.4, "coins": 50.0, "jhyap": 100.0, "discards": None, "r": None, "ms": 2.28},
        "dqn": {"win": 19.0, "ci": 2.4, "coins": -50.0, "jhyap": 100.0, "discards": None, "r": None, "ms": 2.19},
    },
    "championship": {
        "aggressive": {"win": 88.3, "ci": 2.0, "coins": 70.1, "jhyap": 92.6, "discards": 9.5, "r": -0.11, "ms": 0.0},
        "ismcts": {"win": 9.0, "ci": 1.8, "coins": -12.8, "jhyap": 100.0, "discards": 9.3, "r": None, "ms": 1450.7},
        "ppo": {"win": 1.5, "ci": 0.7, "coins": -29.2, "jhyap": 87.5, "discards": 8.2, "r": -0.23, "ms": 2.4},
        "random": {"win": 1.3, "ci": 0.7, "coins": -28.0, "jhyap": 81.8, "discards": 8.3, "r": -0.12, "ms": 0.0},
    },
}


# ----------------------------------------------------------------------------------------------- playing
def _make_agents(names: Sequence[str], seeds: Sequence[int], agent_kwargs: dict[str, dict[str, Any]],
                 env: Any) -> list[Any]:
    """One agent per name (search agents bound to ``env``), each with its own seed."""
    from turngym.agents.baselines.dhumbal import make_agent

    agents = []
    for name, seed in zip(names, seeds, strict=True):
        base = name.split("#", 1)[0]  # "random#2": a second random agent under its own label
        agent = make_agent(base, seed=int(seed), **agent_kwargs.get(base, {}))
        if hasattr(agent, "bind"):
            agent.bind(env)
        agents.append(agent)
    return agents


def play_rounds(agent_names: Sequence[str], rounds: int, ruleset: str = "standard", seed: int = 0,
                agent_kwargs: dict[str, dict[str, Any]] | None = None, progress: str | None = None) -> list[dict]:
    """Plays ``rounds`` one-round episodes of Dhumbal with ``agent_names`` seated in rotation.

    Round ``i`` seats agent ``a`` at seat ``(a - i) mod n``, so every agent sits in every seat (and leads
    from seat 0, which leads every one-round episode) equally often over ``n`` rounds.

    Args:
        agent_names: Agent names for ``make_agent``; distinct, 2–5 of them (the table size). ``name#label``
            seats another ``name`` agent under its own label (e.g. ``random#2``).
        rounds: Rounds (episodes) to play.
        ruleset: ``"standard"`` or ``"paper"``.
        seed: Root of a ``np.random.SeedSequence`` giving the agents' and every episode's seeds.
        agent_kwargs: Extra keyword arguments per agent name (e.g. ``{"ismcts": {"iterations": 50}}``).
        progress: Description of a tqdm progress bar (None: no bar).

    Returns:
        One record per round, agents keyed by name: ``winner``, ``coins`` (change), ``jhyap``, ``caller``,
        ``success``, ``call_value``, ``discarded``, ``decisions``, ``seconds``, ``leader`` (seat),
        ``leader_agent``, ``seats`` (agent per seat), ``kind``, ``turns``.
    """
    from turngym.envs.cards.dhumbal_cards import FIRST_DISCARD, discard_cards
    from turngym.envs.core.registry import make_aec

    names = list(agent_names)
    n = len(names)
    if len(set(names)) != n:
        raise ValueError(f"agent names must be distinct, got {names}")
    root = np.random.SeedSequence(seed)
    agent_ss, round_ss = root.spawn(2)
    env = make_aec(ENV_ID, num_players=n, ruleset=ruleset, obs_mode="vector")
    agents = _make_agents(names, agent_ss.generate_state(n), agent_kwargs or {}, env)
    round_seeds = round_ss.generate_state(rounds)
    records: list[dict] = []
    for i in tqdm(range(rounds), desc=progress, disable=progress is None, leave=False):
        seats = [names[(s + i) % n] for s in range(n)]  # agent at each seat
        seat_agents = [agents[(s + i) % n] for s in range(n)]
        discarded = dict.fromkeys(names, 0)
        decisions = dict.fromkeys(names, 0)
        seconds = dict.fromkeys(names, 0.0)
        env.reset(seed=int(round_seeds[i]))
        leader = int(env.unwrapped.session.state.leader)
        for agent_id in env.agent_iter():
            obs, _, term, trunc, info = env.last()
            if term or trunc:
                env.step(None)
                continue
            seat = int(agent_id.rsplit("_", 1)[1])
            name = seats[seat]
            t0 = time.perf_counter()
            action = seat_agents[seat].act([obs], [info])[0]
            seconds[name] += time.perf_counter() - t0
            decisions[name] += 1
            if action is not None and int(action) >= FIRST_DISCARD:
                discarded[name] += len(discard_cards(int(action)))
            env.step(action)
        result = env.unwrapped.session.state.results[-1]
        caller = int(result["caller"])
        jhyap = result["kind"] == "jhyap"
        records.append({
            "round": i, "seats": seats, "leader": leader, "leader_agent": seats[leader],
            "winner": seats[int(result["winner"])], "kind": result["kind"], "turns": int(result["turns"]),
            "coins": {seats[q]: int(d) for q, d in enumerate(result["deltas"])},
            "jhyap": bool(jhyap), "caller": seats[caller] if jhyap and caller >= 0 else None,
            "success": bool(result["success"]) if jhyap else None,
            "call_value": int(result["values"][caller]) if jhyap and caller >= 0 else None,
            "discarded": discarded, "decisions": decisions, "seconds": seconds,
        })
    env.close()
    return records


# ----------------------------------------------------------------------------------------------- statistics
def _f(x: float) -> float | None:
    """A float, or None when not finite (JSON-safe)."""
    x = float(x)
    return x if math.isfinite(x) else None


def wilson_ci(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (``turngym.agents.stats.rate_ci``; [0, 1] when n is 0)."""
    _, low, high = rate_ci(successes, n, confidence)
    return (low, high)


def cohens_d(a: Sequence[float], b: Sequence[float]) -> float:
    """Cohen's d of ``a`` minus ``b`` with the pooled standard deviation (nan when it is zero)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    nx, ny = x.size, y.size
    pooled = math.sqrt(((nx - 1) * x.var(ddof=1) + (ny - 1) * y.var(ddof=1)) / (nx + ny - 2))
    return float((x.mean() - y.mean()) / pooled) if pooled > 0 else float("nan")


def pairwise_welch(samples: dict[str, Sequence[float]]) -> list[dict[str, Any]]:
    """Welch t-tests of every pair of samples, Bonferroni-corrected over the pairs, with Cohen's d.

    Args:
        samples: Values (e.g. per-round coin changes) per agent.

    Returns:
        One row per pair: ``a``, ``b``, ``mean_diff``, ``t``, ``p``, ``p_bonferroni``, ``cohens_d``
        (None where undefined, e.g. both samples constant).
    """
    pairs = list(combinations(samples, 2))
    rows = []
    for a, b in pairs:
        x, y = np.asarray(samples[a], dtype=float), np.asarray(samples[b], dtype=float)
        res = stats.ttest_ind(x, y, equal_var=False)
        p = _f(res.pvalue)
        rows.append({"a": a, "b": b, "mean_diff": float(x.mean() - y.mean()), "t": _f(res.statistic), "p": p,
                     "p_bonferroni": None if p is None else min(1.0, p * len(pairs)),
                     "cohens_d": _f(cohens_d(x, y))})
    return rows


def summarize(records: list[dict], names: Sequence[str]) -> dict[str, Any]:
    """Per-agent metrics, the leading seat's advantage and pairwise tests of one tournament."""
    rounds = len(records)
    n = len(names)
    agents: dict[str, Any] = {}
    for name in names:
        wins = sum(r["winner"] == name for r in records)
        coins = [r["coins"][name] for r in records]
        calls = [r for r in records if r["caller"] == name]
        succ = [bool(r["success"]) for r in calls]
        vals = [r["call_value"] for r in calls]
        r_pb = p_pb = None
        if len(calls) >= 3 and 0 < sum(succ) < len(succ) and len(set(vals)) > 1:
            res = stats.pointbiserialr(np.asarray(succ, dtype=float), np.asarray(vals, dtype=float))
            r_pb, p_pb = _f(res.statistic), _f(res.pvalue)
        decisions = sum(r["decisions"][name] for r in records)
        secs = sum(r["seconds"][name] for r in records)
        m, lo, hi = mean_ci(coins)
        agents[name] = {
            "rounds": rounds, "wins": wins, "win_rate": wins / rounds if rounds else float("nan"),
            "win_ci": list(wilson_ci(wins, rounds)), "coins_mean": m, "coins_ci": [lo, hi],
            "leads": sum(r["leader_agent"] == name for r in records),
            "jhyap_calls": len(calls), "jhyap_successes": sum(succ),
            "jhyap_success_rate": sum(succ) / len(calls) if calls else None,
            "discarded_per_round": sum(r["discarded"][name] for r in records) / rounds if rounds else None,
            "pointbiserial_r": r_pb, "pointbiserial_p": p_pb,
            "decisions": decisions, "ms_per_decision": 1000.0 * secs / decisions if decisions else None,
        }
    lead_wins = sum(r["winner"] == r["leader_agent"] for r in records)
    first = {"leader_wins": lead_wins, "rounds": rounds, "win_rate": lead_wins / rounds if rounds else None,
             "win_ci": list(wilson_ci(lead_wins, rounds)), "baseline": 1.0 / n,
             "p": float(stats.binomtest(lead_wins, rounds, 1.0 / n).pvalue) if rounds else None}
    pairwise = pairwise_welch({name: [r["coins"][name] for r in records] for name in names})
    return {"agents": agents, "first_move": first, "pairwise": pairwise,
            "jhyap_rounds": sum(r["jhyap"] for r in records)}


# ----------------------------------------------------------------------------------------------- reporting
def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, fmt: str = ".2f") -> str:
    return "–" if x is None else format(x, fmt)


def _published_cell(pub: dict[str, float | None] | None, key: str, fmt: str, suffix: str = "") -> str:
    if pub is None or pub.get(key) is None:
        return "–"
    return format(pub[key], fmt) + suffix


def markdown(result: dict[str, Any]) -> str:
    """The Markdown report: per tournament and ruleset our table, tests, and the study's numbers beside ours."""
    lines = ["# Dhumbal (Jhyap) agent tournaments", "",
             f"Seed {result['seed']}, search iterations {result['search_iterations']}"
             f"{' (quick run)' if result['quick'] else ''}. Study: arXiv 2510.11736 (published numbers: the result "
             "files of its public repository, 1,024 rounds per tournament).", ""]
    for t in result["tournaments"]:
        s = t["summary"]
        pub = PUBLISHED.get(t["key"], {})
        lines += [f"## {t['title']} — {t['ruleset']} ruleset ({t['rounds']} rounds, {len(t['agents'])} players)", "",
                  "| agent | win rate [95% CI] | coins/round [95% CI] | jhyap calls | jhyap success | "
                  "discards/round | r_pb(value, success) | ms/decision |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, a in s["agents"].items():
            lo, hi = a["win_ci"]
            clo, chi = a["coins_ci"]
            r_pb = "–" if a["pointbiserial_r"] is None else (
                f"{a['pointbiserial_r']:+.2f} (p={_num(a['pointbiserial_p'], '.3f')})")
            lines.append(f"| {name} | {_pct(a['win_rate'])} [{_pct(lo)}, {_pct(hi)}] | "
                         f"{a['coins_mean']:+.1f} [{clo:+.1f}, {chi:+.1f}] | {a['jhyap_calls']} | "
                         f"{_pct(a['jhyap_success_rate'])} | {_num(a['discarded_per_round'])} | {r_pb} | "
                         f"{_num(a['ms_per_decision'])} |")
        if pub:
            lines += ["", "Ours next to the study's published row (arXiv 2510.11736):", "",
                      "| agent | win rate: ours / published | coins/round: ours / published | "
                      "jhyap success: ours / published | discards/round: ours / published |", "|---|---|---|---|---|"]
            for name, a in s["agents"].items():
                p = pub.get(name)
                lines.append(f"| {name} | {_pct(a['win_rate'])} / {_published_cell(p, 'win', '.1f', '%')} "
                             f"(±{_published_cell(p, 'ci', '.1f')}) | {a['coins_mean']:+.1f} / "
                             f"{_published_cell(p, 'coins', '+.1f')} | {_pct(a['jhyap_success_rate'])} / "
                             f"{_published_cell(p, 'jhyap', '.1f', '%')} | {_num(a['discarded_per_round'])} / "
                             f"{_published_cell(p, 'discards', '.2f')} |")
        f = s["first_move"]
        lines += ["", f"First-move advantage: the leading seat won {_pct(f['win_rate'])} "
                      f"[{_pct(f['win_ci'][0])}, {_pct(f['win_ci'][1])}] vs 1/n = {_pct(f['baseline'])} "
                      f"(binomial p = {_num(f['p'], '.3g')}).", "",
                  "| pair | Δ coins/round | Welch t | p | p (Bonferroni) | Cohen's d |", "|---|---|---|---|---|---|"]
        for p in s["pairwise"]:
            lines.append(f"| {p['a']} vs {p['b']} | {p['mean_diff']:+.1f} | {_num(p['t'])} | {_num(p['p'], '.3g')} | "
                         f"{_num(p['p_bonferroni'], '.3g')} | {_num(p['cohens_d'])} |")
        lines.append("")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    """Win rates (Wilson 95% CI) per agent, the study's published rate as a red diamond; one panel each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ts = result["tournaments"]
    fig, axes = plt.subplots(1, len(ts), figsize=(3.6 * len(ts), 3.6), squeeze=False)
    for ax, t in zip(axes[0], ts, strict=True):
        ag = t["summary"]["agents"]
        names = list(ag)
        rates = np.array([ag[k]["win_rate"] for k in names])
        lo = rates - np.array([ag[k]["win_ci"][0] for k in names])
        hi = np.array([ag[k]["win_ci"][1] for k in names]) - rates
        ax.bar(range(len(names)), rates, yerr=[lo, hi], capsize=4, color="tab:blue", alpha=0.8, label="ours")
        pub = PUBLISHED.get(t.get("key", ""), {})
        marks = [(i, pub[k]["win"] / 100.0) for i, k in enumerate(names) if pub.get(k, {}).get("win") is not None]
        if marks:
            ax.scatter(*zip(*marks, strict=True), marker="D", color="tab:red", zorder=3, label="published")
            ax.legend(fontsize=7, loc="upper right")
        ax.axhline(1.0 / len(names), color="gray", ls="--", lw=1)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(f"{t['title']} ({t['ruleset']})", fontsize=9)
    axes[0][0].set_ylabel("win rate (95% Wilson CI)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------- driver
def main(argv: list[str] | None = None) -> int:
    """Runs the protocol, writes ``dhumbal.json``, ``dhumbal.md`` and ``dhumbal.png``; prints the Markdown."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=None,
                    help="rounds per tournament (default 1024, the study's; 256 for MCTS vs ISMCTS, the costly one)")
    ap.add_argument("--ruleset", choices=["standard", "paper", "both"], default="both")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--search-iterations", type=int, default=50)
    ap.add_argument("--championship", nargs="+", default=list(DEFAULT_CHAMPIONSHIP),
                    help="championship lineup (default: aggressive ismcts ppo random, the study's)")
    ap.add_argument("--out", type=Path, default=Path("runs/dhumbal"))
    ap.add_argument("--quick", action="store_true",
                    help="12 rounds (8 for MCTS vs ISMCTS) and 10 search iterations (smoke check)")
    ap.add_argument("--only", nargs="+", choices=["heuristics", "search", "learning", "championship"], default=None,
                    help="run only these tournaments")
    args = ap.parse_args(argv)
    iterations = 10 if args.quick else args.search_iterations
    within = args.rounds or (12 if args.quick else 1024)
    champ = args.rounds or (12 if args.quick else 1024)
    rulesets = ["standard", "paper"] if args.ruleset == "both" else [args.ruleset]
    search_rounds = args.rounds or (8 if args.quick else 256)  # quick: 8, the search agents dominate the time
    plan = [("heuristics", "Heuristics", HEURISTICS, within), ("search", "MCTS vs ISMCTS", SEARCH, search_rounds),
            ("learning", "DQN vs PPO", LEARNED, within),
            ("championship", "Championship", list(args.championship), champ)]
    if args.only:
        plan = [step for step in plan if step[0] in args.only]
    started = time.perf_counter()
    tournaments = []
    seeds = np.random.SeedSequence(args.seed).spawn(len(plan) * len(rulesets))
    k = 0
    for ruleset in rulesets:
        for key, title, names, rounds in plan:
            t0 = time.perf_counter()
            tseed = int(seeds[k].generate_state(1)[0])
            k += 1
            kwargs = {**{name: {"iterations": iterations} for name in SEARCH},
                      **{name: {"ruleset": ruleset} for name in LEARNED}, "random": {"jhyap_prob": RANDOM_JHYAP_PROB}}
            records = play_rounds(names, rounds, ruleset, tseed, kwargs, progress=f"{title} ({ruleset})")
            tournaments.append({"key": key, "title": title, "ruleset": ruleset, "agents": names, "rounds": rounds,
                                "seed": tseed, "seconds": time.perf_counter() - t0,
                                "summary": summarize(records, names), "records": records})
    result = {"env": ENV_ID, "seed": args.seed, "quick": args.quick, "search_iterations": iterations,
              "published": PUBLISHED,
              "seconds": time.perf_counter() - started, "tournaments": tournaments}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dhumbal.json").write_text(json.dumps(result, indent=1, allow_nan=False))
    text = markdown(result)
    (args.out / "dhumbal.md").write_text(text)
    plot(result, args.out / "dhumbal.png")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
