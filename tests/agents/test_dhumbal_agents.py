"""Dhumbal agents: heuristic call rules, shared discard/draw rules, legality, determinism, search agents."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from turngym.agents.baselines.dhumbal import (
    AGENTS,
    AggressiveAgent,
    BalancedAgent,
    ConservativeAgent,
    DhumbalView,
    ISMCTSAgent,
    MCTSAgent,
    OpportunisticAgent,
    choose_discard,
    choose_draw,
    decode_view,
    determinize,
    make_agent,
)
from turngym.agents.baselines.dhumbal.heuristics import decode_text, decode_vector
from turngym.envs.cards.dhumbal import DhumbalAEC, DhumbalEnv
from turngym.envs.cards.dhumbal_cards import (
    DISCARD_ACTION,
    DRAW_DECK,
    DRAW_PILE,
    JHYAP,
    NUM_CARDS,
    card_id,
    card_values,
)
from turngym.envs.core.errors import ConfigError

A, J, Q, K = 1, 11, 12, 13
CLUB, DIAMOND, HEART, SPADE = range(4)


def c(rank: int, suit: int) -> int:
    return card_id(rank, suit)


def set_position(env: DhumbalAEC, hands: list[list[int]], pile: list[int], player: int = 0) -> None:
    """Puts ``env`` at ``player``'s discard decision with these hands and pile (the rest is the deck)."""
    data = json.loads(env.get_state())
    used = {x for h in hands for x in h} | set(pile)
    data["session"]["game"].update(
        hands=[sorted(h) for h in hands], pile=list(pile), deck=[x for x in range(NUM_CARDS) if x not in used],
        phase=1, player=player, leader=0, turns=0, mark=0, pending=[], log=[], results=[])
    data["agent_selection"] = f"player_{player}"
    env.set_state(json.dumps(data).encode())


def seat_input(env: DhumbalAEC, player: int = 0) -> tuple[object, dict]:
    agent = f"player_{player}"
    return env.observe(agent), env.session.info(player)


@pytest.fixture
def env4() -> DhumbalAEC:
    env = DhumbalAEC(num_players=4, obs_mode="vector")
    env.reset(seed=0)
    return env


# Hands worth 5, 7, 8, 10 and 11, no melds among them.
HANDS = {5: [c(A, CLUB), c(4, DIAMOND)], 7: [c(2, CLUB), c(5, HEART)], 8: [c(3, CLUB), c(5, SPADE)],
         10: [c(4, HEART), c(6, SPADE)], 11: [c(5, DIAMOND), c(6, CLUB)]}
OTHERS = [[c(9, CLUB), c(10, CLUB)], [c(9, DIAMOND), c(10, DIAMOND)], [c(9, HEART), c(10, HEART)]]


def calls(agent: object, env: DhumbalAEC, value: int, seed: int = 0) -> bool:
    set_position(env, [HANDS[value], *OTHERS], [c(K, SPADE)])
    obs, info = seat_input(env)
    return agent.act([obs], [info], rng=np.random.default_rng(seed))[0] == JHYAP


@pytest.mark.parametrize(("cls", "expected"), [
    (AggressiveAgent, {5: True, 7: True, 8: True, 10: True, 11: False}),
    (ConservativeAgent, {5: True, 7: True, 8: False, 10: False, 11: False}),
])
def test_deterministic_call_rules(env4: DhumbalAEC, cls: type, expected: dict[int, bool]) -> None:
    agent = cls(seed=0)
    assert {v: calls(agent, env4, v) for v in HANDS} == expected


def test_balanced_call_frequencies(env4: DhumbalAEC) -> None:
    agent = BalancedAgent(seed=0)
    n = 600
    for value, p in ((5, 1.0), (7, 0.7), (8, 0.7), (10, 0.4), (11, 0.0)):
        set_position(env4, [HANDS[value], *OTHERS], [c(K, SPADE)])
        obs, info = seat_input(env4)
        rng = np.random.default_rng(value)
        rate = sum(agent.act([obs], [info], rng=rng)[0] == JHYAP for _ in range(n)) / n
        tol = 4 * math.sqrt(p * (1 - p) / n) + 1e-9  # 4 binomial standard errors
        assert abs(rate - p) <= tol, (value, rate, p)


def view(value: int, coins: list[float], turns: int = 0, seat: int = 0) -> DhumbalView:
    return DhumbalView(seat=seat, num_players=len(coins), hand=[], hand_value=value, values=card_values(),
                       pile_card=-1, pending=[], drawing=False, turns=turns, coins=coins,
                       hand_sizes=[2] * len(coins), legal=[JHYAP, 3])


def test_opportunistic_rule() -> None:
    agent = OpportunisticAgent(seed=0)
    rng = np.random.default_rng(0)
    ahead, behind = [50.0, -20.0, -20.0, -10.0], [-50.0, 20.0, 20.0, 10.0]
    assert agent.threshold(view(5, ahead)) == 7 and agent.threshold(view(5, behind)) == 10
    assert agent.threshold(view(5, ahead, turns=12)) == 5 and agent.threshold(view(5, behind, turns=12)) == 8
    assert agent.should_call(view(7, ahead), rng) and not agent.should_call(view(8, ahead), rng)
    assert agent.should_call(view(10, behind), rng) and not agent.should_call(view(10, behind, turns=12), rng)
    assert agent.threshold(view(5, [0.0, 0.0, 0.0, 0.0])) == 7  # at the average counts as ahead


def test_opportunistic_reads_coins_from_env(env4: DhumbalAEC) -> None:
    agent = OpportunisticAgent(seed=0)
    data = json.loads(env4.get_state())
    data["session"]["game"]["coins"] = [9_900, 10_100, 10_000, 10_000]  # seat 0 below the average: chases
    env4.set_state(json.dumps(data).encode())
    set_position(env4, [HANDS[10], *OTHERS], [c(K, SPADE)])
    obs, info = seat_input(env4)
    assert decode_view(obs, info).coins == [-100.0, 100.0, 0.0, 0.0]
    assert agent.act([obs], [info])[0] == JHYAP  # below the average: threshold 10
    data = json.loads(env4.get_state())
    data["session"]["game"]["coins"] = [10_100, 9_900, 10_000, 10_000]  # ahead: threshold 7
    env4.set_state(json.dumps(data).encode())
    assert not calls(agent, env4, 10) and calls(agent, env4, 7)


def test_discard_scorer_prefers_high_meld(env4: DhumbalAEC) -> None:
    hand = [c(K, SPADE), c(Q, SPADE), c(J, SPADE), c(2, CLUB), c(3, DIAMOND)]
    set_position(env4, [hand, *OTHERS], [c(7, HEART)])
    obs, info = seat_input(env4)
    run = DISCARD_ACTION[(c(J, SPADE), c(Q, SPADE), c(K, SPADE))]
    assert DISCARD_ACTION[(c(K, SPADE),)] in info["legal_action_ids"]
    for name in ("aggressive", "conservative", "balanced", "opportunistic"):
        assert make_agent(name, seed=0).act([obs], [info])[0] == run
    pair = [c(K, CLUB), c(K, DIAMOND), c(Q, HEART), c(A, SPADE)]
    legal = [DISCARD_ACTION[(x,)] for x in pair] + [DISCARD_ACTION[(c(K, CLUB), c(K, DIAMOND))]]
    assert choose_discard(legal, card_values()) == DISCARD_ACTION[(c(K, CLUB), c(K, DIAMOND))]
    # With J/Q/K all worth 10 the set of two tens-valued kings (20) still beats a single queen (10).
    assert choose_discard(legal, card_values(10)) == DISCARD_ACTION[(c(K, CLUB), c(K, DIAMOND))]
    # Equal value: the tie-break is deterministic (more cards, then the lower action id).
    tie = [DISCARD_ACTION[(c(6, CLUB),)], DISCARD_ACTION[(c(6, DIAMOND),)]]
    assert choose_discard(tie, card_values()) == tie[0]


def draw_view(hand: list[int], pile_card: int) -> DhumbalView:
    return DhumbalView(seat=0, num_players=2, hand=hand, hand_value=sum(card_values()[x] for x in hand),
                       values=card_values(), pile_card=pile_card, pending=[c(K, CLUB)], drawing=True, turns=1,
                       coins=[0.0, 0.0], hand_sizes=[len(hand), 5], legal=[DRAW_PILE, DRAW_DECK])


def test_draw_rule() -> None:
    hand = [c(9, CLUB), c(Q, DIAMOND), c(2, SPADE)]
    assert choose_draw(draw_view(hand, c(9, HEART))) == DRAW_PILE  # completes a set of nines
    assert choose_draw(draw_view(hand, c(J, HEART))) == DRAW_DECK  # high and unrelated
    assert choose_draw(draw_view(hand, c(A, HEART))) == DRAW_PILE  # lower than an average deck card
    run_hand = [c(7, HEART), c(8, HEART), c(K, SPADE)]
    assert choose_draw(draw_view(run_hand, c(9, HEART))) == DRAW_PILE  # completes 7-8-9 of hearts
    assert choose_draw(draw_view(run_hand, c(9, SPADE))) == DRAW_DECK


def test_draw_rule_through_env() -> None:
    env = DhumbalAEC(num_players=2, obs_mode="vector")
    env.reset(seed=0)
    set_position(env, [[c(9, CLUB), c(Q, DIAMOND), c(K, CLUB)], [c(2, CLUB)]], [c(9, HEART)])
    env.step(DISCARD_ACTION[(c(K, CLUB),)])
    obs, info = seat_input(env)
    assert info["legal_action_ids"] == [DRAW_PILE, DRAW_DECK]
    assert decode_view(obs, info).pile_card == c(9, HEART)
    assert AggressiveAgent(seed=0).act([obs], [info])[0] == DRAW_PILE


def play_round(agents: list[object], seed: int, obs_mode: str = "vector", num_players: int = 4,
               bind: bool = True) -> tuple[list[int], dict]:
    """Plays one round; asserts every action is legal; returns the actions taken and the round result."""
    env = DhumbalAEC(num_players=num_players, obs_mode=obs_mode)
    for agent in agents:
        if bind and hasattr(agent, "bind"):
            agent.bind(env)
    env.reset(seed=seed)
    taken = []
    while not (all(env.terminations.values()) or all(env.truncations.values())):
        name = env.agent_selection
        i = int(name.split("_")[1])
        obs, info = env.observe(name), env.infos[name]
        action = agents[i].act([obs], [info])[0]
        assert action in info["legal_action_ids"], (type(agents[i]).__name__, action)
        env.step(action)
        assert env.infos[name].get("action_valid", True)
        taken.append(int(action))
    return taken, env.session.state.results[-1]


def heuristic_table(seed: int) -> list[object]:
    return [make_agent(n, seed=seed + i) for i, n in enumerate(["aggressive", "conservative", "balanced",
                                                                "opportunistic"])]


def search_table(seed: int) -> list[object]:
    return [make_agent("random", seed=seed), make_agent("mcts", iterations=16, determinizations=4,
                                                        rollout="greedy", seed=seed + 1),
            make_agent("ismcts", iterations=16, rollout="greedy", seed=seed + 2),
            make_agent("balanced", seed=seed + 3)]


def test_all_agents_legal_and_deterministic() -> None:
    for seed in range(6):
        first, _ = play_round(heuristic_table(seed), seed)
        again, _ = play_round(heuristic_table(seed), seed)
        assert first == again
    for seed in range(2):
        first, _ = play_round(search_table(seed), seed)
        again, _ = play_round(search_table(seed), seed)
        assert first == again


def test_heuristics_play_text_mode_like_vector_mode() -> None:
    for seed in range(3):
        vec, _ = play_round(heuristic_table(seed), seed, "vector")
        txt, _ = play_round(heuristic_table(seed), seed, "text")
        assert vec == txt


def test_text_and_vector_decoding_agree() -> None:
    env = DhumbalAEC(num_players=3, obs_mode="vector")
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(30):
        if all(env.terminations.values()):
            break
        p = env.session.current_player
        info = env.session.info(p)
        v = decode_vector(env.observe(f"player_{p}"), info["legal_action_ids"])
        t = decode_text(env.session.observation(p, "text"), info["legal_action_ids"])
        for f in ("seat", "num_players", "hand", "hand_value", "pile_card", "pending", "drawing", "turns",
                  "hand_sizes"):
            assert getattr(v, f) == getattr(t, f), f
        ids = info["legal_action_ids"]
        env.step(ids[int(rng.integers(len(ids)))])


def test_single_agent_env_opponents() -> None:
    env = DhumbalEnv(opponents=[make_agent("aggressive", seed=1), make_agent("ismcts", iterations=8, seed=2)],
                     num_players=3, obs_mode="vector")
    env.opponents[1].bind(env)
    obs, info = env.reset(seed=0)
    done = False
    learner = make_agent("opportunistic", seed=0)
    while not done:
        obs, _, term, trunc, info = env.step(learner.act([obs], [info])[0])
        assert info["action_valid"]
        done = term or trunc
    assert sum(env.session.state.results[-1]["deltas"]) == 0


def test_make_agent_registry() -> None:
    assert set(AGENTS) == {"random", "aggressive", "conservative", "balanced", "opportunistic", "mcts", "ismcts",
                           "ppo", "dqn"}
    with pytest.raises(ConfigError, match="ismcts"):
        make_agent("ismct")
    with pytest.raises(RuntimeError, match="bind"):
        ISMCTSAgent(iterations=4).act([None], [{}])
    with pytest.raises(ConfigError):
        MCTSAgent(rollout="smart")


def redeal_hidden(env: DhumbalAEC, observer: int, seed: int) -> bytes:
    """A snapshot equal to the env's except that the cards hidden from ``observer`` are re-dealt."""
    data = json.loads(env.get_state())
    g = data["session"]["game"]
    state = env.session.state
    from turngym.agents.baselines.dhumbal.search import known_held

    known = known_held(state, len(g["hands"]))
    pool = sorted(g["deck"] + [x for q, h in enumerate(g["hands"]) if q != observer for x in h
                               if x not in known[q]])
    rng = np.random.default_rng(seed)
    pool = [pool[i] for i in rng.permutation(len(pool))]
    for q, h in enumerate(g["hands"]):
        if q != observer:
            need = len(h) - len(known[q])
            g["hands"][q], pool = sorted(known[q] + pool[:need]), pool[need:]
    g["deck"] = sorted(pool)
    return json.dumps(data).encode()


@pytest.mark.parametrize("cls", [ISMCTSAgent, MCTSAgent])
def test_search_never_peeks(cls: type) -> None:
    env = DhumbalAEC(num_players=3, obs_mode="vector")
    agent = cls(env, iterations=40, rollout="greedy", seed=0)
    rng = np.random.default_rng(1)
    checked = 0
    for seed in range(4):
        env.reset(seed=seed)
        for _ in range(int(rng.integers(0, 9))):  # a few random moves first, so the public log has content
            ids = env.infos[env.agent_selection]["legal_action_ids"]
            env.step(ids[int(rng.integers(len(ids)))])
            if all(env.terminations.values()):
                break
        if all(env.terminations.values()):
            continue
        p = env.session.current_player
        original = env.get_state()
        altered = redeal_hidden(env, p, seed + 100)
        assert json.loads(altered)["session"]["game"]["hands"] != json.loads(original)["session"]["game"]["hands"]
        picks = []
        for blob in (original, altered, original):
            env.set_state(blob)
            obs, info = seat_input(env, p)
            picks.append(agent.act([obs], [info], rng=np.random.default_rng(seed))[0])
        assert picks[0] == picks[1] == picks[2]
        a, b = json.loads(original), json.loads(altered)
        env.set_state(original)
        d1, pr1 = determinize(env.game, env.session.state, p, np.random.default_rng(5))
        env.set_state(altered)
        d2, pr2 = determinize(env.game, env.session.state, p, np.random.default_rng(5))
        assert d1.hands == d2.hands and d1.deck == d2.deck and np.array_equal(pr1, pr2)
        assert a["session"]["game"]["hands"][p] == b["session"]["game"]["hands"][p]
        checked += 1
    assert checked >= 2


def test_determinize_is_consistent_with_public_information() -> None:
    env = DhumbalAEC(num_players=2, obs_mode="vector")
    env.reset(seed=0)
    hands = [[c(2, CLUB), c(K, DIAMOND), c(Q, DIAMOND)], [c(5, CLUB), c(5, HEART), c(J, SPADE)]]
    set_position(env, hands, [c(7, HEART), c(9, SPADE)], player=1)
    env.step(DISCARD_ACTION[(c(J, SPADE),)])
    env.step(DRAW_PILE)  # seat 1 takes 9♠: publicly known to be in its hand
    s = env.session.state
    for seed in range(20):
        d, _ = determinize(env.game, s, 0, np.random.default_rng(seed))
        assert d.hands[0] == s.hands[0] and d.pile == s.pile
        assert [len(h) for h in d.hands] == [len(h) for h in s.hands]
        assert c(9, SPADE) in d.hands[1]
        assert sorted(d.deck + d.pile + [x for h in d.hands for x in h]) == list(range(NUM_CARDS))


def win_rate(seat_agent: object, others: list[object], rounds: int, num_players: int) -> tuple[float, float]:
    """Win rate of ``seat_agent`` (rotating seats) and its 95% normal-approximation half-width."""
    wins = 0
    for r in range(rounds):
        seat = r % num_players
        table = list(others)
        table.insert(seat, seat_agent)
        _, result = play_round(table, 10_000 + r, num_players=num_players)
        wins += result["winner"] == seat
    p = wins / rounds
    return p, 1.96 * math.sqrt(p * (1 - p) / rounds)


def test_aggressive_beats_random_four_players() -> None:
    p, half = win_rate(AggressiveAgent(seed=0), [make_agent("random", seed=i) for i in range(3)], 300, 4)
    assert p - half > 0.25, (p, half)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mcts", "ismcts"])
def test_search_beats_random_two_players(name: str) -> None:
    agent = make_agent(name, iterations=60, rollout="greedy", seed=0)
    p, half = win_rate(agent, [make_agent("random", seed=1)], 40, 2)
    assert p - half > 0.5, (p, half)


def test_random_agent_with_the_studys_call_coin_flip():
    from turngym.agents.baselines.dhumbal import RandomAgent

    env = DhumbalAEC(num_players=2, obs_mode="vector")
    # Play low-discarding moves (Conservative's rules) until a decision where jhyap is legal among others.
    player = ConservativeAgent(seed=0)
    env.reset(seed=4)
    for _ in range(400):
        obs, _, term, trunc, info = env.last()
        if term or trunc:
            env.reset(seed=int(player.rng.integers(1 << 30)))
            continue
        if JHYAP in info["legal_action_ids"] and len(info["legal_action_ids"]) > 1:
            break
        action = player.act([obs], [info])[0]
        env.step(action if action != JHYAP else info["legal_action_ids"][1])
    else:
        pytest.fail("no decision with a legal jhyap call found")
    n = 2000
    coin = RandomAgent(seed=1, jhyap_prob=0.5)
    calls = sum(coin.act([obs], [info])[0] == JHYAP for _ in range(n))
    assert abs(calls / n - 0.5) < 0.05  # the study's baseline: a coin flip for the call
    uniform = RandomAgent(seed=1)
    calls_u = sum(uniform.act([obs], [info])[0] == JHYAP for _ in range(n))
    assert abs(calls_u / n - 1 / len(info["legal_action_ids"])) < 0.05  # one legal id among many
    never = RandomAgent(seed=1, jhyap_prob=0.0)
    assert all(never.act([obs], [info])[0] in info["legal_action_ids"] for _ in range(50))
    assert all(never.act([obs], [info])[0] != JHYAP for _ in range(50))
    with pytest.raises(ValueError, match="jhyap_prob"):
        RandomAgent(jhyap_prob=1.5)
