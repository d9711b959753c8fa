"""Hanabi in lockstep with OpenSpiel's ``hanabi`` (the Hanabi Learning Environment's C++ rules).

Both engines play the same game move by move: our env deals from its seeded RNG and OpenSpiel's chance nodes are
driven with the same cards (or, with ``chance="explicit"``, OpenSpiel's chance outcomes are compared and one is
applied to both). At every decision they must agree on the player to move, the legal moves, every seat's
observation tensor (HLE's canonical encoding: hands, board, discards, last move, card knowledge), the public
board of the observation string (tokens, fireworks, deck size, discards in order, every hand's cards and
knowledge), the rewards of every move and the final returns. Policies mix our heuristic partner with uniform
moves so that games end in all three ways (lives lost, fireworks complete, deck run out).
"""

from __future__ import annotations

import numpy as np
import pytest

import turngym.envs as te
from turngym.envs.hanabi.game import COLOR_LETTERS
from turngym.envs.hanabi.partners import HeuristicPartner

pyspiel = pytest.importorskip("pyspiel", reason="OpenSpiel (turngym[peers]) is not installed: no lockstep check")

ENV_ID = "turngym/Hanabi-v0"
DEFAULT = {"players": 2, "colors": 2, "ranks": 5, "hand_size": 3, "max_information_tokens": 8, "max_life_tokens": 3}
#: Every player count, one to five colors and ranks, tight decks (the first deal empties the 1x1 deck) and odd
#: token counts.
CONFIGS = [
    DEFAULT,
    {"players": 3, "colors": 3, "ranks": 4, "hand_size": 3, "max_information_tokens": 5, "max_life_tokens": 2},
    {"players": 4, "colors": 2, "ranks": 2, "hand_size": 2, "max_information_tokens": 3, "max_life_tokens": 4},
    {"players": 5, "colors": 5, "ranks": 5, "hand_size": 4, "max_information_tokens": 8, "max_life_tokens": 3},
    {"players": 2, "colors": 1, "ranks": 1, "hand_size": 1, "max_information_tokens": 1, "max_life_tokens": 1},
]
#: The slow sweep adds full two-player Hanabi (HLE's defaults).
SLOW_CONFIGS = [*CONFIGS, {"players": 2, "colors": 5, "ranks": 5, "hand_size": 5, "max_information_tokens": 8,
                           "max_life_tokens": 3}]
#: Chance of a uniform move instead of the heuristic's, cycled over the games: 0 never loses a life.
EPSILONS = (0.0, 0.05, 0.3, 1.0)


def end_reason(state, ranks: int) -> str:
    """How a finished game ended."""
    if state.life_tokens < 1:
        return "lives"
    return "complete" if all(h == ranks for h in state.fireworks) else "deck"


def parse_observation(text: str) -> dict:
    """The public board and the hands of HLE's ``HanabiObservation::ToString``."""
    lines = text.splitlines()
    out = {"life": int(lines[0].split(": ")[1]), "info": int(lines[1].split(": ")[1]),
           "fireworks": [int(tok[1:]) for tok in lines[2].split(": ")[1].split()]}
    hands, current = [[]], None
    for line in lines[4:]:
        if line.startswith("Deck size"):
            out["deck"] = int(line.split(": ")[1])
        elif line.startswith("Discards"):
            out["discards"] = line.split(":", 1)[1].split()
        elif line == "-----":
            hands.append([])
        elif line == "Cur player":
            current = len(hands) - 1
        else:
            card, knowledge = line.split(" || ")
            hands[-1].append((card, knowledge))
    out["hands"], out["current"] = hands, current
    return out


def our_knowledge(k, config) -> str:
    """HLE's ``CardKnowledge::ToString`` of our ``Knowledge``: hinted values (X if none), then the plausible ones."""
    hinted = (COLOR_LETTERS[k.color] if k.color >= 0 else "X") + (str(k.rank + 1) if k.rank >= 0 else "X")
    colors = "".join(COLOR_LETTERS[c] for c in range(config.colors) if k.colors >> c & 1)
    ranks = "".join(str(r + 1) for r in range(config.ranks) if k.ranks >> r & 1)
    return f"{hinted}|{colors}{ranks}"


def assert_same_board(ours, theirs, player: int) -> None:
    game, s = ours.session.game, ours.session.state
    c = game.config
    seen = parse_observation(theirs.observation_string(player))
    assert (seen["life"], seen["info"], seen["fireworks"], seen["deck"]) == (
        s.life_tokens, s.info_tokens, s.fireworks, s.deck_size)
    assert seen["discards"] == [c.card_name(x) for x in s.discards]
    for o, hand in enumerate(seen["hands"]):
        q = (player + o) % c.players
        cards = ["XX"] * len(s.hands[q]) if o == 0 else [c.card_name(x) for x in s.hands[q]]
        assert hand == [(card, our_knowledge(k, c)) for card, k in zip(cards, s.knowledge[q], strict=True)]
    cur = game.current_player(s)
    assert seen["current"] == (None if cur < 0 else (cur - player) % c.players)


def deal(ours, theirs, fed: int, explicit: bool, rng) -> int:
    """Brings both engines past pending deals; returns how many of our history events OpenSpiel has seen."""
    if explicit:  # OpenSpiel lists the chance outcomes, ours must list the same; one is applied to both
        while theirs.is_chance_node():
            outcomes = theirs.chance_outcomes()
            assert ours.chance_outcomes() == pytest.approx(outcomes)
            pick = outcomes[rng.integers(len(outcomes))][0]
            theirs.apply_action(pick)
            ours.apply_chance(pick)
            fed += 1
    # Sampled deals: our deals (chance outcome = card type, OpenSpiel's ids) are replayed on their chance nodes.
    history = ours.session.state.history
    while fed < len(history):
        assert theirs.is_chance_node() and history[fed] in [o for o, _ in theirs.chance_outcomes()]
        theirs.apply_action(history[fed])
        fed += 1
    assert not theirs.is_chance_node()
    return fed


def play_lockstep(params: dict, games: int, seed: int, explicit: bool = False) -> dict:
    """Plays ``games`` games in both engines; returns coverage counters (end reasons, moves, rewards seen)."""
    game = pyspiel.load_game("hanabi", params)
    n = params["players"]
    rng = np.random.default_rng(seed)
    seen = {"ends": set(), "moves": 0, "rewards": set(), "kinds": set()}
    for episode in range(games):
        text = episode % 3 == 2  # text-mode envs play the move's word; the others its id
        ours = te.make_aec(ENV_ID, obs_mode="text" if text else "vector", chance="explicit" if explicit else "sample",
                           **params)
        ours.reset(seed=seed + episode)
        names = ours.session.game.action_names
        partner = HeuristicPartner(ours.session.game.config)
        eps = EPSILONS[episode % len(EPSILONS)]
        theirs = game.new_initial_state()
        state = ours.session.state
        fed = deal(ours, theirs, 0, explicit, rng)
        while not theirs.is_terminal():
            player = theirs.current_player()
            agent = ours.agent_selection
            assert agent == f"player_{player}"
            info = ours.infos[agent]
            legal = theirs.legal_actions()
            assert info["legal_action_ids"] == legal
            assert info["admissible_actions"] == [names[a] for a in legal]
            for q in range(n):
                ours_vec = ours.session.observation(q, "vector")["observation"]
                assert np.array_equal(ours_vec, np.asarray(theirs.observation_tensor(q), dtype=np.float32)), (
                    f"episode {episode} seat {q}: bits {np.flatnonzero(ours_vec != theirs.observation_tensor(q))}")
            assert_same_board(ours, theirs, player)
            if rng.random() < eps:
                action = legal[rng.integers(len(legal))]
            else:
                action = partner.act([ours.session.observation(player, "vector")], [info])[0]
            seen["kinds"].add(theirs.action_to_string(player, action).split()[0])
            theirs.apply_action(action)
            ours.step(names[action] if text else action)
            assert ours.infos[agent]["action_valid"] and state.history[fed] == action
            fed = deal(ours, theirs, fed + 1, explicit, rng)
            rewards = theirs.rewards()
            assert [ours.rewards[f"player_{q}"] for q in range(n)] == rewards
            seen["rewards"].add(rewards[0])
            seen["moves"] += 1
        assert all(ours.terminations.values()) and not any(ours.truncations.values())
        assert ours.infos["player_0"]["returns"] == theirs.returns()
        seen["ends"].add(end_reason(state, params["ranks"]))
    return seen


def test_default_game_in_lockstep():
    seen = play_lockstep(DEFAULT, games=120, seed=0)
    assert seen["ends"] == {"lives", "complete", "deck"}  # every way a game ends was compared
    assert seen["kinds"] == {"(Play", "(Discard", "(Reveal"}
    assert {0.0, 1.0} <= seen["rewards"] and min(seen["rewards"]) < 0  # the final loss of a lost game too
    assert seen["moves"] > 2000


@pytest.mark.parametrize("params", CONFIGS[1:], ids=lambda p: "p{players}c{colors}r{ranks}h{hand_size}".format(**p))
def test_other_parameters_in_lockstep(params):
    seen = play_lockstep(params, games=10 if params["players"] == 5 else 24, seed=100)
    assert "deck" in seen["ends"] or params["colors"] == 1


def test_explicit_chance_in_lockstep():
    """Chance nodes list the same outcomes with the same probabilities; OpenSpiel's pick is applied to both."""
    play_lockstep(DEFAULT, games=20, seed=7, explicit=True)
    play_lockstep(CONFIGS[1], games=8, seed=8, explicit=True)


def test_move_ids_and_openspiel_move_strings_name_the_same_moves():
    for params in CONFIGS:
        theirs = pyspiel.load_game("hanabi", params).new_initial_state()
        ours = te.make_aec(ENV_ID, **params)
        vocabulary = ours.session.vocabulary
        for a in range(ours.session.game.num_actions):
            # OpenSpiel's "(Reveal player +1 color R)" is one of the accepted spellings, and it means move a.
            assert vocabulary[theirs.action_to_string(0, a).lower()] == a
        card = pyspiel.load_game("hanabi", params).new_initial_state()
        assert [card.action_to_string(-1, t) for t in range(params["colors"] * params["ranks"])] == [
            f"(Deal {ours.session.game.config.card_name(t)})" for t in range(params["colors"] * params["ranks"])]


def test_game_constants_match_openspiel():
    for params in CONFIGS:
        theirs = pyspiel.load_game("hanabi", params)
        ours = te.make_aec(ENV_ID, obs_mode="vector", **params)
        game = ours.session.game
        assert game.num_actions == theirs.num_distinct_actions()
        assert game.obs_size == theirs.observation_tensor_shape()[0]
        assert game.config.max_score == theirs.max_utility() and theirs.min_utility() == 0
        assert game.config.card_types == theirs.max_chance_outcomes()
        state = theirs.new_initial_state()
        assert sorted(game.chance_outcomes(game.new_state())) == pytest.approx(sorted(state.chance_outcomes()))


def test_the_one_deliberate_difference_is_the_deck_bits_during_the_first_deal():
    """Before the first deal is complete the deck holds more cards than its thermometer has bits; HLE writes the
    extra ones into the fireworks section (heights that are not there), ours clips them. Only explicit-chance
    callers can observe a state before the first deal; every decision point agrees bit for bit (above)."""
    theirs = pyspiel.load_game("hanabi", DEFAULT).new_initial_state()
    ours = te.make_aec(ENV_ID, obs_mode="vector", chance="explicit")
    ours.reset(seed=0)
    layout = ours.session.game.layout
    for dealt in range(7):
        hle = np.asarray(theirs.observation_tensor(0), dtype=np.float32)
        mine = ours.observe("player_0")["observation"]
        overflow = max(0, 20 - dealt - 14)  # cards in the deck beyond the 14-bit thermometer
        assert np.flatnonzero(hle != mine).tolist() == list(range(layout.fireworks, layout.fireworks + overflow))
        if dealt < 6:
            theirs.apply_action(0 if dealt < 3 else 5)
            ours.apply_chance(0 if dealt < 3 else 5)


@pytest.mark.slow
@pytest.mark.parametrize("params", SLOW_CONFIGS, ids=lambda p: "p{players}c{colors}r{ranks}h{hand_size}".format(**p))
def test_many_games_in_lockstep(params):
    seen = play_lockstep(params, games=300, seed=1000)
    assert seen["moves"] > 300
    play_lockstep(params, games=40, seed=2000, explicit=True)
