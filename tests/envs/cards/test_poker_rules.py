"""Known-answer tests of the Kuhn and Leduc rules, and a lockstep cross-check against OpenSpiel."""

from __future__ import annotations

import numpy as np
import pytest

import turngym.envs as te
from turngym.envs.cards.kuhn import BET, PASS, KuhnGame
from turngym.envs.cards.leduc import CALL, FOLD, RAISE, LeducGame


def kuhn_state(cards, history):
    g = KuhnGame()
    s = g.new_state()
    for c in cards:
        g.apply_chance(s, c)
    for a in history:
        assert g.current_player(s) == len(s.history) % 2
        g.apply_action(s, a)
    return g, s


@pytest.mark.parametrize(
    ("cards", "history", "returns"),
    [
        ((2, 0), (PASS, PASS), [1, -1]),
        ((0, 2), (PASS, PASS), [-1, 1]),
        ((1, 0), (BET, PASS), [1, -1]),  # player 1 folds
        ((2, 1), (PASS, BET, PASS), [-1, 1]),  # player 0 folds even with the best card
        ((2, 1), (PASS, BET, BET), [2, -2]),
        ((0, 1), (BET, BET), [-2, 2]),
    ],
)
def test_kuhn_payoffs(cards, history, returns):
    g, s = kuhn_state(cards, history)
    assert g.is_terminal(s)
    assert g.returns(s) == returns


def leduc_play(private, public, actions):
    g = LeducGame()
    s = g.new_state()
    g.apply_chance(s, private[0])
    g.apply_chance(s, private[1])
    for a in actions:
        if g.chance_outcomes(s):
            g.apply_chance(s, public)
        assert a in g.legal_actions(s), (a, g.legal_actions(s), s)
        g.apply_action(s, a)
    return g, s


def test_leduc_raise_sizes_and_raise_cap():
    g, s = leduc_play((0, 2), 4, [RAISE, RAISE])
    assert s.contrib == [3, 5]  # ante 1; player 0 raises to 3, player 1 re-raises to 5 (size 2 in round 1)
    assert g.legal_actions(s) == [FOLD, CALL]  # two raises already this round
    assert "2 raises" in g.illegal_reason(s, RAISE)
    g, s = leduc_play((0, 2), 4, [RAISE, RAISE, CALL, RAISE, RAISE, CALL])
    assert s.contrib == [13, 13]  # round-2 raises are 4: 5 -> 9 -> 13
    assert g.is_terminal(s)


def test_leduc_fold_only_when_facing_a_bet():
    g, s = leduc_play((0, 2), 4, [])
    assert g.legal_actions(s) == [CALL, RAISE]
    g, s = leduc_play((0, 2), 4, [CALL, CALL])
    assert s.round == 1 and s.public == -1 and g.chance_outcomes(s)  # check-check closes round 1
    assert sorted(o for o, _ in g.chance_outcomes(s)) == [1, 3, 4, 5]


@pytest.mark.parametrize(
    ("private", "public", "actions", "returns"),
    [
        ((0, 5), 1, [CALL, CALL, CALL, CALL], [1, -1]),  # J pairs the public J: beats K
        ((4, 2), 3, [CALL, CALL, CALL, CALL], [-1, 1]),  # Q pairs the public Q
        ((4, 0), 2, [RAISE, CALL, CALL, CALL], [3, -3]),  # no pair: K beats J
        ((4, 5), 0, [RAISE, CALL, RAISE, CALL], [0, 0]),  # K vs K: split
        ((0, 4), 2, [RAISE, FOLD], [1, -1]),
        ((0, 4), 2, [CALL, RAISE, RAISE, FOLD], [3, -3]),  # check, raise to 3, re-raise to 5, fold
    ],
)
def test_leduc_showdowns_and_folds(private, public, actions, returns):
    g, s = leduc_play(private, public, actions)
    assert g.is_terminal(s)
    assert g.returns(s) == [float(r) for r in returns]


@pytest.mark.parametrize("name", ["kuhn_poker", "leduc_poker"])
def test_lockstep_with_openspiel(name):
    """Random hands played in both engines with the same deals agree on every legal-action set and payoff."""
    pyspiel = pytest.importorskip("pyspiel")
    game = pyspiel.load_game(name)
    env_id = "turngym/KuhnPoker-v0" if name == "kuhn_poker" else "turngym/LeducHoldem-v0"
    rng = np.random.default_rng(0)
    for _ in range(300):
        ours = te.make_aec(env_id, obs_mode="vector", chance="explicit")
        ours.reset(seed=0)
        theirs = game.new_initial_state()
        while not theirs.is_terminal():
            if theirs.is_chance_node():
                outcomes = [o for o, _ in theirs.chance_outcomes()]
                assert sorted(o for o, _ in ours.chance_outcomes()) == outcomes
                pick = outcomes[rng.integers(len(outcomes))]
                theirs.apply_action(pick)
                ours.apply_chance(pick)
                continue
            agent = ours.agent_selection
            assert agent == f"player_{theirs.current_player()}"
            assert ours.infos[agent]["legal_action_ids"] == theirs.legal_actions()
            a = theirs.legal_actions()[rng.integers(len(theirs.legal_actions()))]
            theirs.apply_action(a)
            ours.step(a)
        assert all(ours.terminations.values())
        assert ours.infos["player_0"]["returns"] == pytest.approx(theirs.returns())
