"""The Kuhn heuristic and the four-agent leaderboard validation of issue 16 (CFR+, MaskablePPO, heuristic, random).

Real parts throughout: Kuhn states built with ``KuhnGame`` and rendered by it, the real env in both observation
modes, the real game tree and CFR+ solver, the leaderboard's ``scripted`` kind, and (slow) a real MaskablePPO.
"""

from __future__ import annotations

import json
from itertools import permutations
from pathlib import Path

import numpy as np
import pytest

import turngym.envs
from turngym.agents.baselines.cfr import exploitability, solve
from turngym.agents.baselines.gametree import build_tree
from turngym.agents.baselines.kuhn_heuristic import JACK, KING, QUEEN, KuhnHeuristic, read_view
from turngym.agents.leaderboard.agents import RandomAgent, build_agent
from turngym.agents.leaderboard.runner import run_leaderboard
from turngym.agents.leaderboard.suite import AgentSpec, parse_suite
from turngym.agents.stats import mean_ci
from turngym.benchmarks.leaderboard_validation import HEURISTIC, infoset_views, pair_value, strategy_array
from turngym.envs.cards.kuhn import BET, PASS, KuhnGame

KUHN = "turngym/KuhnPoker-v0"
#: Every betting history at which a seat acts: (history, acting seat, whether it faces a bet).
DECISIONS = (((), 0, False), ((PASS,), 1, False), ((BET,), 1, True), ((PASS, BET), 0, True))


def _observations(cards: tuple[int, int], history: tuple[int, ...], seat: int) -> tuple[dict, str]:
    """The acting seat's vector and text observation, rendered by the game itself."""
    game = KuhnGame()
    state = game.new_state()
    for card in cards:
        game.apply_chance(state, card)
    for action in history:
        game.apply_action(state, action)
    assert game.current_player(state) == seat
    vec = np.zeros(game.obs_size, dtype=np.float32)
    game.encode(state, seat, vec)
    return {"observation": vec, "action_mask": np.ones(2, dtype=np.int8)}, game.render(state, seat)


# ------------------------------------------------------------------------------------------- the rule
@pytest.mark.parametrize(("history", "seat", "facing"), DECISIONS)
def test_the_rule_on_every_card_in_both_modes(history: tuple[int, ...], seat: int, facing: bool) -> None:
    """King bets and calls, Jack checks and folds, Queen checks and calls a bet at ``queen_call``."""
    info = {"legal_action_ids": [PASS, BET], "admissible_actions": ["pass", "bet"]}  # no state key, no hidden state
    expected = {KING: 1.0, QUEEN: 0.3 if facing else 0.0, JACK: 0.0}
    for cards in permutations(range(3), 2):
        own = cards[seat]
        vector, text = _observations(cards, history, seat)
        assert read_view(vector) == read_view(text) == (own, facing)
        for mode, obs in (("vector", vector), ("text", text)):
            agent = KuhnHeuristic(seed=0, queen_call=0.3, obs_mode=mode)
            assert agent.action_probs(info, obs) == pytest.approx({BET: expected[own], PASS: 1 - expected[own]})
            picks = [agent.act([obs], [info], rng=np.random.default_rng(i))[0] for i in range(400)]
            bet = BET if mode == "vector" else "bet"
            rate = sum(p == bet for p in picks) / len(picks)
            if expected[own] in (0.0, 1.0):
                assert rate == expected[own]
                gen = np.random.default_rng(7)
                before = gen.bit_generator.state
                agent.act([obs], [info], rng=gen)
                assert gen.bit_generator.state == before  # a pure choice draws nothing from the generator
            else:
                assert 0.22 < rate < 0.38  # 400 draws at p = 0.3: sd 0.023


def test_the_rule_never_depends_on_the_opponents_card() -> None:
    """Whatever the other seat holds, the seat's observation and so the heuristic's strategy are the same."""
    agent = KuhnHeuristic(seed=0)
    info = {"legal_action_ids": [PASS, BET]}
    for history, seat, _ in DECISIONS:
        for own in range(3):
            probs = []
            for other in set(range(3)) - {own}:
                cards = (own, other) if seat == 0 else (other, own)
                vector, text = _observations(cards, history, seat)
                probs += [agent.action_probs(info, vector), agent.action_probs(info, text)]
            assert all(p == probs[0] for p in probs)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="queen_call"):
        KuhnHeuristic(queen_call=1.5)
    with pytest.raises(ValueError, match="obs_mode"):
        KuhnHeuristic(obs_mode="pixels")
    with pytest.raises(ValueError, match="Kuhn poker observations"):
        read_view("Tic-tac-toe. Your mark: X")
    with pytest.raises(ValueError, match="vector observations"):
        read_view({"observation": np.zeros(27, dtype=np.float32)})


# ------------------------------------------------------------------------------------------- play
@pytest.mark.parametrize("mode", ["vector", "text"])
def test_never_illegal_and_beats_random_by_its_exact_value(mode: str) -> None:
    """2,000 seeded hands in each seat against random: every action valid; chips per hand match the game tree."""
    tree, views = build_tree(KUHN), infoset_views(KUHN)
    heuristic = KuhnHeuristic(seed=0, obs_mode=mode)
    exact = pair_value(tree, strategy_array(heuristic, tree, views), strategy_array(RandomAgent(0), tree, views))
    assert exact == pytest.approx(0.125)  # (1/8 chips per hand; computed by hand from the rule)
    chips: list[float] = []
    for seat in (0, 1):
        env = turngym.envs.make(KUHN, obs_mode=mode, seat=seat)  # default opponent: random legal
        for hand in range(2000):
            obs, info = env.reset(seed=10_000 * seat + hand)
            total, done = 0.0, False
            while not done:
                action = heuristic.act([obs], [info], rng=env.np_random)[0]
                obs, reward, terminated, truncated, info = env.step(action)
                assert info["action_valid"] is True, (seat, hand, action)
                total += float(reward)
                done = terminated or truncated
            assert terminated and not truncated
            chips.append(total)
        env.close()
    assert len(chips) == 4000
    mean, low, high = mean_ci(chips)
    assert low > 0.0  # beats random
    assert low < exact < high  # and by what the game tree says


def test_exploitable_yet_even_with_cfr() -> None:
    """Not an equilibrium (exploitability 1/8), yet CFR+ gains nothing on it: it plays inside the equilibrium's
    indifferences (module docstring of ``kuhn_heuristic``)."""
    tree, views = build_tree(KUHN), infoset_views(KUHN)
    heuristic = strategy_array(KuhnHeuristic(seed=0), tree, views)
    cfr = strategy_array(solve(KUHN, 300, algo="cfr+", progress=False, seed=0).policy, tree, views)
    assert exploitability(tree, heuristic) == pytest.approx(0.125)
    assert exploitability(tree, cfr) < 0.002
    assert abs(pair_value(tree, cfr, heuristic)) < 0.002
    assert pair_value(tree, cfr, strategy_array(RandomAgent(0), tree, views)) > 0.14


def test_the_scripted_kind_seats_it_and_it_outranks_random(tmp_path: Path) -> None:
    spec = AgentSpec("heuristic", "scripted", {"factory": HEURISTIC, "kwargs": {"seed": 0, "queen_call": 0.5}})
    agent = build_agent(spec, KUHN)
    assert isinstance(agent, KuhnHeuristic) and agent.obs_mode == "vector"
    suite = parse_suite({"name": "h", "seeds": {"start": 0, "count": 40}, "n_boot": 200, "agents": [
        spec.to_dict(), {"name": "text heuristic", "kind": "scripted", "factory": HEURISTIC, "obs_mode": "text",
                         "kwargs": {"seed": 0}},
        {"name": "random", "kind": "random"}], "envs": [{"id": KUHN, "hands": 20}]})
    result, summary = run_leaderboard(suite, tmp_path, png=False, html=False)
    assert summary.forfeits == {} and summary.infra_errors == 0
    rows = {r.agent: r for r in summary.board.per_env[KUHN]}
    assert rows["random"].rank == 3
    # The same rule in either observation mode, with the same per-game generators: the same games.
    vec = {r["seed"]: r["returns"] for r in result.records if tuple(r["seats"]) == ("heuristic", "random")}
    txt = {r["seed"]: r["returns"] for r in result.records if tuple(r["seats"]) == ("text heuristic", "random")}
    assert vec == txt


# ------------------------------------------------------------------------------------------- the ladder
@pytest.mark.slow
def test_validation_ladder_ranks_every_agent_above_random(tmp_path: Path) -> None:
    """The benchmark end to end with a small PPO budget (4,096 timesteps, about 5 s): what holds robustly.

    CFR+ and the heuristic rank above random with disjoint 95% intervals, and so does PPO (trained against
    random, it exploits it hardest); CFR+ against the heuristic is even in expectation, so no order between
    them is asserted.
    """
    pytest.importorskip("sb3_contrib")
    from turngym.benchmarks.leaderboard_validation import main

    out = tmp_path / "validation"
    assert main(["--timesteps", "4096", "--seeds", "100", "--n-boot", "300", "--eval-episodes", "500",
                 "--out", str(out)]) == 0
    v = json.loads((out / "validation.json").read_text())
    for name in ("leaderboard.md", "leaderboard.json", "leaderboard.png", "manifest.json", "maskable_ppo.zip",
                 "validation.md"):
        assert (out / name).is_file(), name
    rows = {r["agent"]: r for r in v["ratings"]}
    assert v["games"] == 1200 and v["infra_errors"] == 0
    assert v["order"][-1] == "random"
    for name in ("cfr+", "heuristic", "maskable-ppo"):
        assert rows[name]["ci95"][0] > rows["random"]["ci95"][1], name
    assert v["ppo"]["vs_random"]["ci95"][0] > 0.0  # the budget beats random on its own evaluation too
    assert v["exploitability"]["cfr+"] < 0.002 and v["exploitability"]["heuristic"] == pytest.approx(0.125)
    assert v["seeds"]["games"] == list(range(100)) and v["seeds"]["ppo_train"] == 0
    assert v["command"].startswith("python -m turngym.benchmarks.leaderboard_validation --timesteps 4096")
    assert [a["separated"] for a in v["adjacent"]][-1] is True  # the last step, down to random
