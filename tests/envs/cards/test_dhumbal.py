"""Rules, scoring, text/vector views, snapshots, hostile input and conformance of Dhumbal (Jhyap)."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from scipy.stats import chisquare

import turngym.envs as te
from turngym.envs import ConfigError, RandomLegalAgent, SnapshotError
from turngym.envs.cards.dhumbal import DEAL, DISCARD, DRAW, OBS_SIZE, OVER, DhumbalEnv, DhumbalGame
from turngym.envs.cards.dhumbal_cards import (
    ACTION_NAMES,
    DISCARD_ACTION,
    DISCARDS,
    DRAW_DECK,
    DRAW_PILE,
    JHYAP,
    NUM_ACTIONS,
    VOCABULARY,
    card_values,
    is_run,
    is_set,
    legal_discards,
    parse_card,
    settle,
)
from turngym.envs.core.parsing import parse_action

ENV_ID = "turngym/Dhumbal-v0"


def C(*names: str) -> list[int]:
    """Card ids of names such as ``"7♠"`` or ``"10h"``."""
    cards = [parse_card(n.lower()) for n in names]
    assert None not in cards, names
    return cards  # type: ignore[return-value]


def act(cards: list[int]) -> int:
    """Discard action id of ``cards``."""
    return DISCARD_ACTION[tuple(sorted(cards))]


def dealt(game: DhumbalGame, hands: list[list[str]], pile: str):
    """A state right after a deal of the given hands (in seat order) and starting pile card."""
    s = game.new_state()
    n = game.num_players
    ids = [C(*h) for h in hands]
    for k in range(5 * n):
        seat = (s.leader + k) % n
        game.apply_chance(s, ids[seat][k // n])
    game.apply_chance(s, C(pile)[0])
    assert s.phase == DISCARD and game.current_player(s) == s.leader
    return s


def set_hand(s, seat: int, names: list[str]) -> None:
    """Replaces a seat's hand with cards taken from the deck (the old hand goes back to the deck)."""
    cards = C(*names)
    assert all(c in s.deck for c in cards if c not in s.hands[seat]), names
    s.deck = sorted((set(s.deck) | set(s.hands[seat])) - set(cards))
    s.hands[seat] = sorted(cards)
    assert sorted(s.deck + s.pile + [c for h in s.hands for c in h]) == list(range(52))


def turn(game: DhumbalGame, s, discard: list[str], draw: str, deck_card: str | None = None) -> None:
    """Plays one whole turn for the current player: a discard, then a pile or deck draw."""
    a = act(C(*discard))
    assert a in game.legal_actions(s)
    game.apply_action(s, a)
    if draw == "pile":
        game.apply_action(s, DRAW_PILE)
    else:
        game.apply_action(s, DRAW_DECK)
        game.apply_chance(s, C(deck_card)[0] if deck_card else s.deck[0])


# ------------------------------------------------------------------ cards, melds, actions
def test_action_enumeration_is_fixed_and_round_trips_through_the_parser():
    assert NUM_ACTIONS == len(ACTION_NAMES) == 3 + 52 + 13 * 11 + 4 * 30 == 318
    assert len(set(ACTION_NAMES)) == NUM_ACTIONS
    assert ACTION_NAMES[:4] == ("jhyap", "draw pile", "draw deck", "discard A♣")
    assert all(len(d) == 1 or is_set(d) or is_run(d) for d in DISCARDS)
    for i, name in enumerate(ACTION_NAMES):
        assert parse_action(name, VOCABULARY, NUM_ACTIONS) == (i, None)
    five_two = act(C("5♣", "5♥"))
    run = act(C("3♦", "4♦", "5♦"))
    for text, expected in [
        ("<action>Discard 5h 5C</action>", five_two), ("discard 5♥, 5♣", five_two), ("[5c 5h]", five_two),
        ("set 5c 5h", five_two), ("discard run 5d 3d 4d", run), ("THROW 3D 4D 5D", run), ("Jhyap!", JHYAP),
        ("show", JHYAP), ("  DRAW   PILE ", DRAW_PILE), ("draw from the deck", DRAW_DECK), ("10s", act(C("10♠"))),
        ("discard k♠", act(C("K♠"))), ("discard Ts", act(C("10♠"))),
    ]:
        assert parse_action(text, VOCABULARY, NUM_ACTIONS) == (expected, None), text
    for text in ("discard 5c 6c", "discard run 5c 5h", "set 3d 4d 5d", "discard 7x", "discard 11s", "discard"):
        aid, error = parse_action(text, VOCABULARY, NUM_ACTIONS)
        assert aid is None and "unknown action" in error, text


def test_run_validity_ace_low_no_wrap_one_suit_three_or_more():
    assert is_run(C("A♣", "2♣", "3♣")) and is_run(C("10♥", "J♥", "Q♥", "K♥"))
    assert not is_run(C("Q♣", "K♣", "A♣"))  # no wrap: the ace is low only
    assert not is_run(C("K♣", "A♣", "2♣"))
    assert not is_run(C("3♣", "4♦", "5♣"))  # one suit
    assert not is_run(C("3♣", "4♣"))  # at least three
    assert not is_run(C("3♣", "4♣", "6♣"))  # consecutive
    hand = tuple(sorted(C("A♣", "2♣", "3♣", "Q♣", "K♣")))
    melds = [DISCARDS[a - 3] for a in legal_discards(hand) if len(DISCARDS[a - 3]) > 1]
    assert melds == [tuple(sorted(C("A♣", "2♣", "3♣")))]
    hand = tuple(sorted(C("4♠", "5♠", "6♠", "7♠", "9♠")))
    runs = {DISCARDS[a - 3] for a in legal_discards(hand) if len(DISCARDS[a - 3]) > 1}
    assert runs == {tuple(C("4♠", "5♠", "6♠")), tuple(C("5♠", "6♠", "7♠")), tuple(C("4♠", "5♠", "6♠", "7♠"))}


def test_set_validity_two_or_more_of_a_rank():
    assert is_set(C("5♣", "5♥")) and is_set(C("K♣", "K♦", "K♥", "K♠"))
    assert not is_set(C("5♣")) and not is_set(C("5♣", "6♣"))
    hand = tuple(sorted(C("5♣", "5♥", "5♠", "9♦", "J♣")))
    sets = {DISCARDS[a - 3] for a in legal_discards(hand) if len(DISCARDS[a - 3]) > 1}
    assert sets == {tuple(sorted(C(*p))) for p in (("5♣", "5♥"), ("5♣", "5♠"), ("5♥", "5♠"), ("5♣", "5♥", "5♠"))}
    assert len(legal_discards(hand)) == 5 + 4


def test_court_value_option():
    assert card_values()[C("J♣")[0]] == 11 and card_values()[C("K♠")[0]] == 13
    assert [card_values(10)[c] for c in C("10♦", "J♣", "Q♥", "K♠", "A♠")] == [10, 10, 10, 10, 1]
    hands = [["A♣", "2♣", "J♦", "Q♦", "K♦"], ["3♥", "4♥", "5♥", "6♥", "7♥"]]
    for court, total in ((None, 39), (10, 33)):
        g = DhumbalGame(num_players=2, court_value=court)
        s = dealt(g, hands, "9♠")
        assert g.hand_value(s.hands[0]) == total
    text = g.render(s, 0)
    assert "J, Q, K=10" in text and "(value 1+2+10+10+10 = 33)" in text


# ------------------------------------------------------------------ turn structure
def test_jhyap_only_at_or_below_the_threshold():
    hands = [["A♣", "2♣", "3♦", "4♥", "K♠"], ["A♦", "2♦", "3♥", "4♠", "Q♠"]]
    g = DhumbalGame(num_players=2)
    s = dealt(g, hands, "9♠")  # player 0 holds 23
    assert JHYAP not in g.legal_actions(s)
    assert "worth 23, above the threshold 10" in g.illegal_reason(s, JHYAP)
    set_hand(s, 0, ["A♣", "2♣", "3♦", "4♥"])  # exactly 10
    assert g.legal_actions(s)[0] == JHYAP
    set_hand(s, 0, ["A♣", "2♣", "3♦", "5♥"])  # 11
    assert JHYAP not in g.legal_actions(s) and "worth 11" in g.illegal_reason(s, JHYAP)
    assert JHYAP in DhumbalGame(num_players=2, jhyap_threshold=11).legal_actions(s)
    g.apply_action(s, act(C("5♥")))
    assert JHYAP not in g.legal_actions(s)  # the call comes before the discard, not after
    assert "comes before discarding" in g.illegal_reason(s, JHYAP)


def test_pile_draw_takes_previous_players_discard_in_standard_and_own_discard_in_paper():
    hands = [["A♣", "5♣", "5♥", "9♦", "J♣"], ["2♦", "3♥", "6♠", "8♣", "K♦"], ["4♦", "7♥", "10♠", "Q♣", "Q♦"]]
    g = DhumbalGame(num_players=3)
    s = dealt(g, hands, "9♠")
    g.apply_action(s, act(C("5♣", "5♥")))
    assert s.phase == DRAW and g.pile_card(s) == C("9♠")[0]  # the top of the pile before the own discard
    g.apply_action(s, DRAW_PILE)
    assert C("9♠")[0] in s.hands[0] and s.pile == C("5♣", "5♥")
    g.apply_action(s, act(C("K♦")))
    assert g.pile_card(s) == C("5♥")[0]  # the top card of the previous player's set
    g.apply_action(s, DRAW_PILE)
    assert C("5♥")[0] in s.hands[1] and s.pile == C("5♣", "K♦")

    p = DhumbalGame(num_players=3, ruleset="paper")
    s = dealt(p, hands, "9♠")
    p.apply_action(s, act(C("J♣")))
    assert p.pile_card(s) == C("J♣")[0]
    p.apply_action(s, DRAW_PILE)  # the published code hands the player its own discard back
    assert C("J♣")[0] in s.hands[0] and s.pile == C("9♠")


def test_deck_exhaustion_reshuffles_the_pile_except_its_top():
    hands = [["A♣", "5♣", "5♥", "9♦", "J♣"], ["2♦", "3♥", "6♠", "8♣", "K♦"]]
    g = DhumbalGame(num_players=2)
    s = dealt(g, hands, "9♠")
    s.pile, s.deck = s.deck + s.pile, []  # every face-down card is now under the pile top 9♠
    assert act(C("J♣")) in g.legal_actions(s)
    g.apply_action(s, act(C("J♣")))
    assert g.legal_actions(s) == [DRAW_PILE, DRAW_DECK]
    under = sorted(s.pile[:-1])
    g.apply_action(s, DRAW_DECK)
    assert s.pile == C("J♣") and s.deck == under  # only the top stays; 9♠ went back into the deck too
    assert sorted(o for o, _ in g.chance_outcomes(s)) == under
    g.apply_chance(s, C("9♠")[0])
    assert C("9♠")[0] in s.hands[0] and len(s.deck) == 52 - 10 - 1
    assert sorted(s.deck + s.pile + s.hands[0] + s.hands[1]) == list(range(52))
    assert s.phase == DISCARD and s.player == 1 and g.pile_card(s) == C("J♣")[0]


# ------------------------------------------------------------------ scoring
def test_successful_call_is_paid_each_hand_value():
    hands = [["A♣", "2♣", "3♦", "A♥", "2♥"], ["A♦", "2♦", "3♥", "4♠", "Q♠"], ["5♠", "6♠", "7♠", "8♠", "9♠"]]
    g = DhumbalGame(num_players=3, start_coins=1000)
    s = dealt(g, hands, "K♠")
    assert g.legal_actions(s)[0] == JHYAP
    g.apply_action(s, JHYAP)  # 9 against 22 and 35: strictly lowest
    assert s.phase == OVER and g.is_terminal(s)
    r = s.results[0]
    assert (r["kind"], r["caller"], r["winner"], r["success"]) == ("jhyap", 0, 0, True)
    assert r["values"] == [9, 22, 35] and r["deltas"] == [57, -22, -35]
    assert s.coins == [1057, 978, 965] and g.returns(s) == [57.0, -22.0, -35.0]


@pytest.mark.parametrize(("ruleset", "winner"), [("standard", 3), ("paper", 0)])
def test_failed_call_pays_everyones_hands_to_the_lowest_other(ruleset, winner):
    # Player 2 calls with 7; players 0 and 3 hold 6 each: the call fails. Standard ties go to the first in turn
    # order after the caller (3), the published code's to the lowest seat (0).
    hands = [["A♣", "5♣", "J♦", "Q♦", "K♦"], ["2♦", "3♥", "6♠", "8♣", "K♥"],
             ["A♦", "2♠", "4♥", "9♦", "10♦"], ["A♥", "2♥", "3♠", "Q♣", "K♣"]]
    g = DhumbalGame(num_players=4, ruleset=ruleset)
    s = dealt(g, hands, "9♠")
    turn(g, s, ["K♦"], "deck", "7♣")
    turn(g, s, ["K♥"], "deck", "7♦")
    set_hand(s, 0, ["A♣", "5♣"])
    set_hand(s, 2, ["A♦", "2♠", "4♥"])
    set_hand(s, 3, ["A♥", "2♥", "3♠"])
    assert s.player == 2 and [g.hand_value(h) for h in s.hands] == [6, 26, 7, 6]
    g.apply_action(s, JHYAP)
    r = s.results[0]
    assert (r["kind"], r["caller"], r["winner"], r["success"]) == ("jhyap", 2, winner, False)
    deltas = [0, 0, -45, 0]
    deltas[winner] = 45  # 6 + 26 + 7 + 6: the caller's own hand counts
    assert r["deltas"] == deltas and sum(g.returns(s)) == 0


def test_payments_are_capped_at_100_per_hand():
    # A five-card hand is worth at most 64, so the cap is checked on the settlement arithmetic itself.
    assert settle([5, 150, 20], caller=0, winner=0) == [120, -100, -20]
    assert settle([150, 30, 5], caller=0, winner=2) == [-135, 0, 135]
    assert settle([9, 99, 100, 101], caller=1, winner=0) == [308, -308, 0, 0]  # 9 + 99 + 100 + min(101, 100)


@pytest.mark.parametrize("ruleset", ["standard", "paper"])
def test_turn_cap_showdown(ruleset):
    hands = [["A♣", "5♣", "9♥", "J♦", "K♦"], ["2♦", "3♥", "6♠", "8♣", "K♥"], ["A♦", "2♠", "4♥", "9♦", "10♦"]]
    g = DhumbalGame(num_players=3, ruleset=ruleset, turn_cap=2)
    s = dealt(g, hands, "9♠")
    turn(g, s, ["K♦"], "deck", "A♥")  # player 0: A 5 9 J A = 27
    turn(g, s, ["K♥"], "deck", "Q♣")  # player 1: 2 3 6 8 Q = 31; player 2 holds 26
    r = s.results[0]
    assert s.phase == OVER and r["turns"] == 2 and r["values"] == [27, 31, 26]
    if ruleset == "standard":
        assert (r["kind"], r["reason"], r["caller"], r["winner"]) == ("showdown", "turn cap", -1, 2)
    else:  # the published code: the lowest seat is made to call, and the call counts as successful
        assert (r["kind"], r["reason"], r["caller"], r["winner"], r["success"]) == ("jhyap", "turn cap", 2, 2, True)
    assert r["deltas"] == [-27, -31, 58]  # paid like a successful call by the lowest hand

    # Ties: standard goes to the first in turn order after the last mover (player 1 moved last -> 2, 0, 1).
    g = DhumbalGame(num_players=3, ruleset=ruleset, turn_cap=2)
    s = dealt(g, [["A♣", "5♣", "9♥", "J♦", "K♦"], ["2♦", "3♥", "6♠", "8♣", "K♥"],
                  ["A♦", "2♠", "4♥", "9♦", "J♥"]], "9♠")
    turn(g, s, ["K♦"], "deck", "A♥")  # 27
    turn(g, s, ["K♥"], "deck", "Q♣")  # 31; player 2 holds 27 too
    r = s.results[0]
    if ruleset == "standard":
        assert (r["kind"], r["winner"], r["deltas"]) == ("showdown", 2, [-27, -31, 58])
    else:  # seat 0 is made to call, ties with seat 2: a failed call
        assert (r["kind"], r["caller"], r["winner"], r["success"]) == ("jhyap", 0, 2, False)
        assert r["deltas"] == [-85, 0, 85]


def test_paper_emptied_hand_ends_the_round_as_a_call():
    hands = [["3♣", "4♣", "5♣", "6♣", "7♣"], ["2♦", "3♥", "6♠", "8♣", "K♥"]]
    for ruleset, over in (("paper", True), ("standard", False)):
        g = DhumbalGame(num_players=2, ruleset=ruleset)
        s = dealt(g, hands, "9♠")
        g.apply_action(s, act(C("3♣", "4♣", "5♣", "6♣", "7♣")))
        assert (s.phase == OVER) is over
        if over:
            assert s.results[0]["reason"] == "empty hand" and s.results[0]["deltas"] == [32, -32]


# ------------------------------------------------------------------ rounds and rewards
def play_random(game: DhumbalGame, seed: int, on_round_start=None):
    """Plays a whole episode of random legal moves at the rules level (RandomLegalAgent picks the moves)."""
    rng = np.random.default_rng(seed)
    agent = RandomLegalAgent()
    s = game.new_state()
    while not game.is_terminal(s):
        if game.chance_pending(s):
            outcomes = game.chance_outcomes(s)
            dealing = s.phase == DEAL
            game.apply_chance(s, outcomes[int(rng.integers(len(outcomes)))][0])
            if dealing and s.phase == DISCARD and on_round_start is not None:
                on_round_start(s)
            continue
        (a,) = agent.act([None], [{"legal_action_ids": game.legal_actions(s)}], rng=rng)
        game.apply_action(s, a)
    return s


@pytest.mark.parametrize(("ruleset", "leaders"), [("standard", [0, 1, 2, 0, 1]), ("paper", [0, 0, 0, 0, 0])])
def test_first_player_rotates_each_round_in_standard_only(ruleset, leaders):
    g = DhumbalGame(num_players=3, rounds=5, ruleset=ruleset, turn_cap=6)
    seen = []
    s = play_random(g, 0, lambda st: seen.append((st.round, st.player)))
    assert seen == list(enumerate(leaders))
    assert [r["round"] for r in s.results] == list(range(5))
    assert sum(s.coins) == 3 * 10_000 and sum(g.returns(s)) == 0


def test_episode_reward_is_the_coin_change_over_all_rounds():
    env = gym.make(ENV_ID, num_players=3, rounds=3, turn_cap=10, obs_mode="vector", seat=1)
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            obs, r, term, trunc, info = env.step(int(np.flatnonzero(obs["action_mask"])[-1]))
            total += r
            done = term or trunc
        assert term and not trunc
        state = env.unwrapped.session.state
        assert len(state.results) == 3
        assert total == info["returns"][1] == state.coins[1] - 10_000
        assert sum(info["returns"]) == 0
        assert total == sum(r["deltas"][1] for r in state.results)


def test_seats_win_equally_often_under_random_play():
    # Four rounds per episode, so every seat leads once; a broken rotation or a seat-biased tie-break shows up.
    wins = np.zeros(4)
    g = DhumbalGame(num_players=4, rounds=4)
    for seed in range(500):
        for r in play_random(g, seed).results:
            wins[r["winner"]] += 1
    assert wins.sum() == 2000
    assert chisquare(wins).pvalue > 1e-3, wins


@pytest.mark.slow
@pytest.mark.parametrize("n", [2, 3, 5])
def test_seats_win_equally_often_under_random_play_other_sizes(n):
    wins = np.zeros(n)
    g = DhumbalGame(num_players=n, rounds=n)
    for seed in range(3000 // n):
        for r in play_random(g, seed).results:
            wins[r["winner"]] += 1
    assert chisquare(wins).pvalue > 1e-3, wins


# ------------------------------------------------------------------ views and state keys
def test_text_observation_and_vector_view():
    env = te.make_aec(ENV_ID, num_players=3)
    env.reset(seed=3)
    first = env.agent_selection
    obs = env.observe(first)
    info = env.infos[first]
    for part in ("You are player 0", "Your hand:", "(value ", "Pile top:", "Deck: 36 face-down cards",
                 "you 10000 coins, 5 cards", "Legal actions: discard "):
        assert part in obs, part
    assert info["admissible_actions"] and all(w in obs for w in info["admissible_actions"])
    env.step(info["admissible_actions"][0])
    assert "Now draw: 'draw pile' takes" in env.observe(first)
    env.step("draw deck")
    obs1 = env.observe("player_1")
    assert "player 0 discarded" in obs1 and "drew from the deck" in obs1
    vec = te.make_aec(ENV_ID, num_players=3, obs_mode="vector")
    vec.reset(seed=3)
    o = vec.observe("player_0")
    assert o["observation"].shape == (OBS_SIZE,) and o["action_mask"].shape == (NUM_ACTIONS,)
    assert np.flatnonzero(o["action_mask"]).tolist() == vec.infos["player_0"]["legal_action_ids"]
    assert o["observation"][:52].sum() == 5


def test_state_key_is_the_acting_players_information_state():
    hands = [["A♣", "5♣", "9♥", "J♦", "K♦"], ["2♦", "3♥", "6♠", "8♣", "K♥"], ["A♦", "2♠", "4♥", "9♦", "10♦"]]
    other = [["A♣", "5♣", "9♥", "J♦", "K♦"], ["2♥", "3♠", "6♦", "8♦", "Q♥"], ["A♠", "2♣", "4♦", "9♣", "10♣"]]
    g = DhumbalGame(num_players=3)
    a, b = dealt(g, hands, "9♠"), dealt(g, other, "9♠")
    assert g.info_encoding(a, 0) == g.info_encoding(b, 0)  # hidden cards do not matter
    assert g.render(a, 0) == g.render(b, 0)
    assert g.info_encoding(a, 1) != g.info_encoding(b, 1)
    c = dealt(g, hands, "8♠")
    assert g.info_encoding(a, 0) != g.info_encoding(c, 0)  # the pile card does


# ------------------------------------------------------------------ snapshots and hostile input
def test_snapshots_round_trip_and_reject_tampering():
    env = te.make_aec(ENV_ID, num_players=4, obs_mode="text")
    env.reset(seed=7)
    rng = np.random.default_rng(0)
    for _ in range(25):
        env.step(int(rng.choice(env.infos[env.agent_selection]["legal_action_ids"])))
    snap = env.get_state()

    def tail():
        out = []
        r = np.random.default_rng(1)
        for _ in range(40):
            if not env.agents or env.terminations[env.agent_selection]:
                break
            agent = env.agent_selection
            env.step(int(r.choice(env.infos[agent]["legal_action_ids"])))
            out.append((env.observe(agent), dict(env.rewards), env.infos[env.agent_selection].get("state_key")))
        return out

    first = tail()
    env.set_state(snap)
    assert env.get_state() == snap
    assert tail() == first
    fresh = te.make_aec(ENV_ID, num_players=4)
    fresh.reset(seed=99)
    fresh.set_state(snap)
    env = fresh
    assert tail() == first

    for corrupt in (
        lambda d: d["session"]["game"]["hands"][0].append(d["session"]["game"]["deck"][0]),  # a card twice
        lambda d: d["session"]["game"]["deck"].pop(),  # a card missing
        lambda d: d["session"]["game"]["hands"][0].__setitem__(0, True),  # a bool is not a card
        lambda d: d["session"]["game"]["log"].append(["t", 9, [], "d", -1]),  # no seat 9
        lambda d: d["session"]["game"].pop("pile"),
    ):
        bad = json.loads(snap)
        corrupt(bad)
        with pytest.raises(SnapshotError):
            fresh.set_state(json.dumps(bad).encode())


def test_hostile_actions_never_crash_and_leave_the_state_unchanged():
    env = te.make_aec(ENV_ID, num_players=2, obs_mode="text")
    env.reset(seed=11)
    before = env.session.dump()["game"]
    hand = env.session.state.hands[0]
    missing = next(c for c in range(52) if c not in hand)
    cases = {
        "": "empty action", "x" * (1 << 20): "characters long", bytes(range(256)).decode("latin-1"): "",
        "\x00\ud800": "", '{"action": "discard': "", b"jhyap": "expected an action word", None: "",
        "draw pile": "discard first", "draw deck": "discard first",
        f"<action>{ACTION_NAMES[act([missing])]}</action>": "not in your hand",
        "discard 5c 6c": "unknown action", "discard 7x": "unknown action",
    }
    if env.session.game.hand_value(hand) > 10:
        cases["jhyap"] = "above the threshold 10"
    for bad, message in cases.items():
        env.step(bad)
        info = env.infos["player_0"]
        assert env.agent_selection == "player_0" and info["action_valid"] is False
        assert message in info["error"], (bad if len(str(bad)) < 50 else "long", info["error"])
        assert env.observe("player_0").startswith("Invalid action:")
        assert env.session.dump()["game"] == before
    env.step(info["admissible_actions"][0])
    assert env.infos["player_0"]["action_valid"] is True and env.session.state.phase == DRAW
    env.step("jhyap")
    assert "comes before discarding" in env.infos["player_0"]["error"]


def test_bad_configuration_raises_typed_errors():
    with pytest.raises(ConfigError, match="num_players"):
        te.make_aec(ENV_ID, num_players=6)
    with pytest.raises(ConfigError, match="standrd"):
        te.make_aec(ENV_ID, ruleset="standrd")
    with pytest.raises(ConfigError, match="opponents"):
        gym.make(ENV_ID, num_players=3, opponents=["random"])
    env = gym.make(ENV_ID, num_players=3, opponents=["random", RandomLegalAgent(1)], seat=2)
    obs, info = env.reset(seed=0)
    assert info["seat"] == 2 and "You are player 2" in obs


# ------------------------------------------------------------------ conformance
def _conformance(n: int, mode: str, cross_process: bool = False) -> None:
    # A short turn cap keeps the checkers' per-step bad-input battery (every illegal action at every step) quick.
    te.check_env(gym.make(ENV_ID, num_players=n, obs_mode=mode, turn_cap=20), cross_process=cross_process)
    te.check_multiagent_env(te.make_aec(ENV_ID, num_players=n, obs_mode=mode, turn_cap=20), cross_process=False)


@pytest.mark.parametrize("mode", ["text", "vector"])
@pytest.mark.parametrize("n", [2, 5])
def test_conformance(n, mode):
    _conformance(n, mode, cross_process=(n, mode) == (2, "text"))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["text", "vector"])
@pytest.mark.parametrize("n", [3, 4])
def test_conformance_slow(n, mode):
    _conformance(n, mode)


def test_game_ending_before_the_learners_first_turn_pays_on_the_next_step():
    # Seat 0 (Aggressive) calls jhyap on a dealt hand worth <= 10 before the learner (seat 1) ever acts.
    from turngym.agents.baselines.dhumbal import AggressiveAgent

    env = DhumbalEnv(opponents=[AggressiveAgent(seed=0)], seat=1, num_players=2, obs_mode="vector")
    for seed in range(20_000):
        obs, info = env.reset(seed=seed)
        if info.get("ended_before_first_turn"):
            break
    else:
        pytest.fail("no deal where seat 0 can call at once")
    assert not obs["action_mask"].any()  # nothing to do: the round is over
    snap = env.get_state()
    final = env.unwrapped.session.final_returns[1]
    assert final != 0
    _, reward, terminated, truncated, info = env.step("anything at all")
    assert (reward, terminated, truncated) == (final, True, False) and info["ended_before_first_turn"]
    with pytest.raises(RuntimeError, match="episode ended"):
        env.step(0)
    env.set_state(snap)  # the pending payoff survives a snapshot
    assert env.step(None)[1:3] == (final, True)
