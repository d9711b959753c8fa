"""Hanabi's cards, parameters, state and move vocabulary (HLE's identifiers); the rules are in ``game``.

Card type ``color * ranks + rank`` (0-based rank; HLE ``CardIndex``, also the id of the chance outcome that deals
the card). Move ids as HLE ``ConstructMove``: ``0..h-1`` discard slot ``i``, ``h..2h-1`` play slot ``i``, then
the color hints ``(offset - 1) * colors + color``, then the rank hints ``(offset - 1) * ranks + rank``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import NamedTuple

from turngym.envs.core.errors import ConfigError

#: HLE's color letters (``ColorIndexToChar``) and their names in text observations.
COLOR_LETTERS = "RYGWB"
COLOR_NAMES = ("red", "yellow", "green", "white", "blue")
MAX_COLORS = MAX_RANKS = 5
#: HLE stores reveal outcomes in a byte: at most 8 cards in a hand.
MAX_HAND_SIZE = 8
#: Token maxima are unbounded in HLE; a cap keeps vector observations and snapshots bounded.
MAX_TOKENS = 64

#: Move kinds. ``PLAY`` first: the order of the move-type one-hot in HLE's canonical encoding.
PLAY, DISCARD, REVEAL_COLOR, REVEAL_RANK = 0, 1, 2, 3


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(name, f"an int in {low}..{high}", value)
    return value


@dataclass(frozen=True)
class HanabiConfig:
    """The game parameters of OpenSpiel's ``hanabi`` (HLE's names and meaning).

    Attributes:
        players: Seats, 2-5.
        colors: Colors, 1-5 (``RYGWB`` in that order).
        ranks: Ranks per color, 1-5.
        hand_size: Cards per hand, 1-8; ``hand_size * players`` may not exceed the deck.
        max_information_tokens: Information tokens at the start and at most, 0-64 (HLE: 8).
        max_life_tokens: Life tokens at the start, 1-64 (HLE: 3).

    Raises:
        ConfigError: A parameter out of range (HLE's ``REQUIRE`` checks, plus the caps above).
    """

    players: int = 2
    colors: int = 2
    ranks: int = 5
    hand_size: int = 3
    max_information_tokens: int = 8
    max_life_tokens: int = 3

    def __post_init__(self) -> None:
        _check_int("players", self.players, 2, 5)
        _check_int("colors", self.colors, 1, MAX_COLORS)
        _check_int("ranks", self.ranks, 1, MAX_RANKS)
        _check_int("hand_size", self.hand_size, 1, MAX_HAND_SIZE)
        _check_int("max_information_tokens", self.max_information_tokens, 0, MAX_TOKENS)
        _check_int("max_life_tokens", self.max_life_tokens, 1, MAX_TOKENS)
        if self.hand_size * self.players > self.deck_size:
            raise ConfigError("hand_size", f"at most {self.deck_size // self.players} for {self.players} players "
                              f"(the deck holds {self.deck_size} cards)", self.hand_size)

    def instances(self, rank: int) -> int:
        """Copies of each card of ``rank`` (HLE ``NumberCardInstances``: 3 of the lowest, 1 of the highest, else 2)."""
        if rank == 0:
            return 3
        return 1 if rank == self.ranks - 1 else 2

    @property
    def card_types(self) -> int:
        """Distinct cards: ``colors * ranks`` (also the number of chance outcomes)."""
        return self.colors * self.ranks

    @property
    def deck_size(self) -> int:
        """Cards in the full deck (HLE ``MaxDeckSize``)."""
        return self.colors * sum(self.instances(r) for r in range(self.ranks))

    @property
    def max_score(self) -> int:
        """Every firework complete: ``colors * ranks``."""
        return self.colors * self.ranks

    @property
    def num_actions(self) -> int:
        """HLE ``MaxMoves``: discards, plays, color hints, rank hints."""
        return 2 * self.hand_size + (self.players - 1) * (self.colors + self.ranks)

    @property
    def max_moves(self) -> int:
        """An upper bound on the player moves of one game.

        Plays and discards use up cards (at most the deck), hints spend tokens, which start at the maximum and
        come back one per discard or completed firework, and the final round adds one move per player.
        """
        return 2 * self.deck_size + self.max_information_tokens + self.colors + self.players

    def card_name(self, card: int) -> str:
        """``R1`` for card type 0: HLE's color letter and the 1-based rank."""
        return COLOR_LETTERS[card // self.ranks] + str(card % self.ranks + 1)


class Knowledge(NamedTuple):
    """What a card's holder knows about it from hints (HLE ``CardKnowledge``).

    Attributes:
        color: The hinted color, or -1.
        rank: The hinted rank, or -1.
        colors: Bitmask of the colors still plausible.
        ranks: Bitmask of the ranks still plausible.
    """

    color: int
    rank: int
    colors: int
    ranks: int


class MoveRecord(NamedTuple):
    """One player move as HLE's history keeps it.

    Attributes:
        player: The seat that moved.
        action: The move id.
        card: The card played or discarded (-1 for hints).
        scored: A play that fit its firework.
        token: A play that completed a firework and gave back an information token.
        reveal: For hints, the bitmask of the target's slots that hold the color or rank.
        score_before: The team's score (HLE ``Score``) before the move, for rewards.
    """

    player: int
    action: int
    card: int
    scored: bool
    token: bool
    reveal: int
    score_before: int


@dataclass(slots=True)
class HanabiState:
    """Mutable state of one game; ``history`` alone determines it (see ``HanabiGame.from_json``)."""

    #: Every event in order: chance outcomes (the card type dealt) and move ids, as OpenSpiel's history.
    history: list[int] = field(default_factory=list)
    #: Cards left in the deck per card type.
    deck: list[int] = field(default_factory=list)
    deck_size: int = 0
    #: Card types in each hand, slot 0 the oldest.
    hands: list[list[int]] = field(default_factory=list)
    #: The holder's knowledge of each card, in step with ``hands``.
    knowledge: list[list[Knowledge]] = field(default_factory=list)
    fireworks: list[int] = field(default_factory=list)
    info_tokens: int = 0
    life_tokens: int = 0
    discards: list[int] = field(default_factory=list)
    #: The seat to move next (HLE's ``cur_player`` once pending deals are done).
    player: int = 0
    #: Moves left once the deck is empty (HLE ``turns_to_play_``, starts at the number of players).
    turns_to_play: int = 0
    #: The player moves, in order.
    moves: list[MoveRecord] = field(default_factory=list)


@functools.cache
def action_table(config: HanabiConfig) -> tuple[tuple[int, int, int], ...]:
    """(kind, slot or target offset, color or rank) of every move id (HLE ``ConstructMove``)."""
    h, n = config.hand_size, config.players
    table = [(DISCARD, i, -1) for i in range(h)] + [(PLAY, i, -1) for i in range(h)]
    table += [(REVEAL_COLOR, 1 + k // config.colors, k % config.colors) for k in range((n - 1) * config.colors)]
    table += [(REVEAL_RANK, 1 + k // config.ranks, k % config.ranks) for k in range((n - 1) * config.ranks)]
    return tuple(table)


@functools.cache
def action_words(config: HanabiConfig) -> tuple[str, ...]:
    """Each move id's canonical word: ``discard 0``, ``play 0``, ``reveal color red to +1``, ``reveal rank 3 to +1``."""
    words = []
    for kind, arg, value in action_table(config):
        if kind == DISCARD:
            words.append(f"discard {arg}")
        elif kind == PLAY:
            words.append(f"play {arg}")
        elif kind == REVEAL_COLOR:
            words.append(f"reveal color {COLOR_NAMES[value]} to +{arg}")
        else:
            words.append(f"reveal rank {value + 1} to +{arg}")
    return tuple(words)


@functools.cache
def action_aliases(config: HanabiConfig) -> tuple[tuple[str, int], ...]:
    """Other accepted spellings of each move (lenient parsing; every key is lower case, single-spaced).

    ``play card 0``, ``play slot 0``; OpenSpiel's own ``(play 0)`` and ``(reveal player +1 color r)``; hints
    with the verb ``reveal``, ``hint``, ``clue`` or ``tell``, the color as a name or a letter with or without
    ``color``, the rank with or without ``rank``, the target as ``to +1``, ``+1``, ``to player +1`` or
    ``player +1`` before or after the value, and with two players no target at all.
    """
    out: list[tuple[str, int]] = []
    for a, (kind, arg, value) in enumerate(action_table(config)):
        if kind in (DISCARD, PLAY):
            verb = "discard" if kind == DISCARD else "play"
            out += [(f"{verb} card {arg}", a), (f"{verb} slot {arg}", a), (f"({verb} {arg})", a)]
            continue
        if kind == REVEAL_COLOR:
            letter = COLOR_LETTERS[value].lower()
            values = [f"color {COLOR_NAMES[value]}", f"colour {COLOR_NAMES[value]}", COLOR_NAMES[value],
                      f"color {letter}", letter]
            out.append((f"(reveal player +{arg} color {letter})", a))
        else:
            values = [f"rank {value + 1}", str(value + 1)]
            out.append((f"(reveal player +{arg} rank {value + 1})", a))
        targets = [f"to +{arg}", f"+{arg}", f"to player +{arg}", f"player +{arg}"]
        for verb in ("reveal", "hint", "clue", "tell"):
            for v in values:
                for t in targets:
                    out += [(f"{verb} {v} {t}", a), (f"{verb} {t} {v}", a)]
                if config.players == 2:
                    out.append((f"{verb} {v}", a))
    return tuple(out)
