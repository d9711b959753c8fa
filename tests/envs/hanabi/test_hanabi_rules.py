"""Known-answer tests of the Hanabi rules (HLE's, as OpenSpiel plays them), with hand-built deals."""

from __future__ import annotations

import pytest

from turngym.envs import ConfigError
from turngym.envs.hanabi.game import DISCARD, PLAY, REVEAL_COLOR, REVEAL_RANK, HanabiConfig, HanabiGame, Knowledge

# Card types of the default game (2 colors x 5 ranks): color * 5 + rank, ranks 0-based.
R1, R2, R3, R4, R5, Y1, Y2, Y3, Y4, Y5 = range(10)


def dealt(hands, config=None, deck=()):
    """A game whose seats hold ``hands`` (dealt seat by seat, as HLE deals) and whose next deals are ``deck``."""
    game = HanabiGame(config or HanabiConfig())
    s = game.new_state()
    for hand in hands:
        for card in hand:
            assert game.chance_pending(s)
            game.apply_chance(s, card)
    return game, s, list(deck)


def move(game, s, action, deck):
    """Plays ``action`` (must be legal) and deals the replacement card from ``deck`` if one is due."""
    assert action in game.legal_actions(s), (game.action_names[action], game.legal_actions(s))
    game.apply_action(s, action)
    if game.chance_pending(s):
        game.apply_chance(s, deck.pop(0))


def word(game, text):
    return game.action_names.index(text)


# ------------------------------------------------------------------ deck and deal
@pytest.mark.parametrize(("ranks", "copies"), [(5, [3, 2, 2, 2, 1]), (4, [3, 2, 2, 1]), (2, [3, 1]), (1, [3])])
def test_card_counts_per_rank(ranks, copies):
    config = HanabiConfig(colors=3, ranks=ranks, hand_size=1)
    assert [config.instances(r) for r in range(ranks)] == copies
    assert config.deck_size == 3 * sum(copies)
    assert HanabiGame(config).new_state().deck == copies * 3


def test_the_deal_fills_seat_0_first_and_player_0_moves_first():
    game = HanabiGame()
    s = game.new_state()
    assert game.current_player(s) == -1 and s.deck_size == 20
    outcomes = dict(game.chance_outcomes(s))
    assert outcomes[R1] == pytest.approx(3 / 20) and outcomes[R5] == pytest.approx(1 / 20)
    for card in (R1, R1, R1):
        game.apply_chance(s, card)
    assert s.hands == [[R1, R1, R1], []] and R1 not in dict(game.chance_outcomes(s))  # all three copies dealt
    for card in (Y5, Y4, Y3):
        game.apply_chance(s, card)
    assert not game.chance_pending(s) and game.current_player(s) == 0 and s.deck_size == 14
    assert s.knowledge[0][0] == Knowledge(-1, -1, 0b11, 0b11111)


def test_move_ids_follow_hle():
    game = HanabiGame(HanabiConfig(players=3, colors=2, ranks=3, hand_size=2))
    assert game.action_names == (
        "discard 0", "discard 1", "play 0", "play 1",
        "reveal color red to +1", "reveal color yellow to +1", "reveal color red to +2", "reveal color yellow to +2",
        "reveal rank 1 to +1", "reveal rank 2 to +1", "reveal rank 3 to +1",
        "reveal rank 1 to +2", "reveal rank 2 to +2", "reveal rank 3 to +2")
    assert game.decode_action(7) == (REVEAL_COLOR, 2, 1) and game.decode_action(11) == (REVEAL_RANK, 2, 0)
    assert game.decode_action(0) == (DISCARD, 0, -1) and game.decode_action(3) == (PLAY, 1, -1)


# ------------------------------------------------------------------ moves
def test_plays_score_or_cost_a_life():
    game, s, deck = dealt([[R1, R3, Y2], [Y1, R2, Y5]], deck=[R4, R5])
    move(game, s, word(game, "play 0"), deck)  # R1 fits
    assert s.fireworks == [1, 0] and game.score(s) == 1 and s.hands[0] == [R3, Y2, R4]  # the new card goes last
    assert s.moves[-1].scored and s.moves[-1].card == R1
    move(game, s, word(game, "play 2"), deck)  # Y5 does not fit: a life is lost, the card is discarded
    assert s.life_tokens == 2 and s.discards == [Y5] and s.fireworks == [1, 0] and not s.moves[-1].scored
    assert game.current_player(s) == 0 and s.info_tokens == 8


def test_discard_needs_a_missing_token_and_gains_one():
    game, s, deck = dealt([[R1, R3, Y2], [Y1, R2, Y5]], deck=[R4, R5])
    assert not any(a < 3 for a in game.legal_actions(s))  # 8 of 8 tokens: no discard
    assert "all 8 info tokens" in game.illegal_reason(s, word(game, "discard 0"))
    move(game, s, word(game, "reveal rank 1 to +1"), deck)
    assert s.info_tokens == 7
    move(game, s, word(game, "discard 1"), deck)  # player 1 discards R2
    assert s.info_tokens == 8 and s.discards == [R2] and s.hands[1] == [Y1, Y5, R4]


def test_hints_spend_a_token_touch_a_card_and_teach_negative_information():
    game, s, deck = dealt([[R1, R3, Y2], [Y1, R2, Y1]])
    assert word(game, "reveal color red to +1") in game.legal_actions(s)
    assert word(game, "reveal rank 3 to +1") not in game.legal_actions(s)  # player 1 holds no 3
    assert "holds no card of rank 3" in game.illegal_reason(s, word(game, "reveal rank 3 to +1"))
    move(game, s, word(game, "reveal color yellow to +1"), deck)
    assert s.moves[-1].reveal == 0b101 and s.info_tokens == 7
    assert s.knowledge[1] == [Knowledge(1, -1, 0b10, 0b11111), Knowledge(-1, -1, 0b01, 0b11111),
                              Knowledge(1, -1, 0b10, 0b11111)]
    move(game, s, word(game, "reveal rank 1 to +1"), deck)  # player 1 tells player 0 about R1
    assert s.knowledge[0] == [Knowledge(-1, 0, 0b11, 0b00001), Knowledge(-1, -1, 0b11, 0b11110),
                              Knowledge(-1, -1, 0b11, 0b11110)]


def test_hints_need_a_token():
    game, s, deck = dealt([[R1, R3, Y2], [Y1, R2, Y1]], HanabiConfig(max_information_tokens=1))
    move(game, s, word(game, "reveal rank 1 to +1"), deck)
    assert s.info_tokens == 0 and all(a < 6 for a in game.legal_actions(s))
    assert "no info tokens left" in game.illegal_reason(s, word(game, "reveal color red to +1"))


def test_completing_a_firework_returns_a_token_below_the_maximum_only():
    config = HanabiConfig(colors=1, ranks=2, hand_size=1, max_information_tokens=2)  # deck R1 R1 R1 R2
    game, s, deck = dealt([[0], [1]], config, deck=[0, 0])  # seat 0 holds R1 (type 0), seat 1 R2 (type 1)
    move(game, s, game.action_names.index("play 0"), deck)  # R1 scores
    move(game, s, game.action_names.index("reveal rank 1 to +1"), deck)  # tokens 2 -> 1
    move(game, s, game.action_names.index("play 0"), deck)  # player 0 plays its new R1: dead, a life lost
    assert s.life_tokens == 2 and s.info_tokens == 1
    move(game, s, game.action_names.index("play 0"), deck)  # player 1's R2 completes the firework: +1 token
    assert game.is_terminal(s) and game.score(s) == 2 and s.info_tokens == 2 and s.moves[-1].token


def test_a_completed_firework_at_full_tokens_gives_nothing():
    config = HanabiConfig(colors=1, ranks=1, hand_size=1)
    game, s, deck = dealt([[0], [0]], config, deck=[0])
    move(game, s, game.action_names.index("play 0"), deck)
    assert game.is_terminal(s) and game.score(s) == 1 and s.info_tokens == 8 and not s.moves[-1].token


# ------------------------------------------------------------------ the end
def test_losing_the_last_life_scores_zero():
    game, s, deck = dealt([[R1, Y3, Y4], [R2, R3, R4]], HanabiConfig(max_life_tokens=2), deck=[R5, Y5, Y1])
    move(game, s, word(game, "play 0"), deck)  # R1: score 1
    move(game, s, word(game, "play 2"), deck)  # R4 misplayed: 1 life left
    assert game.score(s) == 1 and game.returns(s) == [1.0, 1.0] and not game.is_terminal(s)
    move(game, s, word(game, "play 0"), deck)  # Y3 misplayed: no life left
    assert game.is_terminal(s) and game.score(s) == 0 and game.returns(s) == [0.0, 0.0] and s.fireworks == [1, 0]
    assert s.moves[-1].score_before == 1 and game.current_player(s) == -1 and game.legal_actions(s) == []


def test_after_the_last_card_each_player_moves_once_more():
    config = HanabiConfig(colors=1, ranks=3, hand_size=2)  # deck R1 R1 R1 R2 R2 R3: two cards left after the deal
    game, s, deck = dealt([[0, 1], [0, 2]], config, deck=[1, 0])
    assert s.deck_size == 2 and s.turns_to_play == 2
    move(game, s, game.action_names.index("play 0"), deck)  # player 0: R1 scores, draws R2
    move(game, s, game.action_names.index("reveal rank 2 to +1"), deck)  # player 1 hints; no draw
    move(game, s, game.action_names.index("play 0"), deck)  # player 0: R2 scores, draws the last card (R1)
    assert s.deck_size == 0 and s.turns_to_play == 2 and not game.is_terminal(s)
    move(game, s, game.action_names.index("reveal rank 1 to +1"), deck)  # player 1: one more turn
    assert s.turns_to_play == 1 and not game.is_terminal(s) and game.current_player(s) == 0
    move(game, s, game.action_names.index("discard 0"), deck)  # player 0, who drew the last card, moves once more
    assert game.is_terminal(s) and game.score(s) == 2 and len(s.hands[0]) == 1  # no replacement card


def test_a_deck_emptied_by_the_first_deal_gives_one_round():
    config = HanabiConfig(colors=1, ranks=2, hand_size=2)  # 4 cards, 4 dealt
    game, s, deck = dealt([[0, 0], [0, 1]], config)
    assert s.deck_size == 0 and game.current_player(s) == 0
    move(game, s, game.action_names.index("play 0"), deck)
    move(game, s, game.action_names.index("play 1"), deck)
    assert game.is_terminal(s) and game.score(s) == 2  # R1 then R2: complete as well as out of turns


# ------------------------------------------------------------------ histories and configuration
def test_replay_rebuilds_the_state_and_rejects_impossible_histories():
    game, s, deck = dealt([[R1, R3, Y2], [Y1, R2, Y5]], deck=[R4, R5])
    move(game, s, word(game, "play 0"), deck)
    move(game, s, word(game, "reveal color red to +1"), deck)
    again = game.replay(s.history)
    assert game.to_json(again) == game.to_json(s) and again.hands == s.hands and again.knowledge == s.knowledge
    assert game.info_encoding(again, 0) == game.info_encoding(s, 0)
    for bad in ([R5, R5], [R1] * 3 + [R1], [R1, R3, Y2, Y1, R2, Y5, 0], [R1, R3, Y2, Y1, R2, Y5, 99]):
        with pytest.raises(ValueError):
            game.replay(bad)


@pytest.mark.parametrize(("kwargs", "what"), [
    ({"players": 1}, "players"), ({"players": 6}, "players"), ({"colors": 0}, "colors"), ({"colors": 6}, "colors"),
    ({"ranks": 6}, "ranks"), ({"hand_size": 0}, "hand_size"), ({"hand_size": 9}, "hand_size"),
    ({"players": 5, "colors": 1, "hand_size": 3}, "hand_size"), ({"max_life_tokens": 0}, "max_life_tokens"),
    ({"max_information_tokens": -1}, "max_information_tokens"), ({"players": True}, "players"),
    ({"ranks": 2.0}, "ranks"),
])
def test_bad_parameters_are_config_errors(kwargs, what):
    with pytest.raises(ConfigError, match=what):
        HanabiConfig(**kwargs)
