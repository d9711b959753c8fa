"""Cards, melds, the fixed action enumeration and the scoring arithmetic of Dhumbal (Jhyap).

Cards are ids ``0..51`` ordered rank-major: ``card = (rank - 1) * 4 + suit`` with ranks 1 (ace) to 13
(king) and suits ``♣ ♦ ♥ ♠``. Sorting card ids therefore sorts by rank, then suit, which is the canonical
order of every meld (a run reads upward, a set reads in suit order).

Action ids (one fixed global enumeration, so vector mode has a fixed ``Discrete(318)``):

* 0 ``jhyap``; 1 ``draw pile``; 2 ``draw deck``;
* 3..54 the 52 single discards, in card order (``discard 7♠``);
* 55..197 the 143 sets: per rank, every subset of two or more of its four suits (6 + 4 + 1 = 11 per rank),
  by size, then suit order (``discard 5♣ 5♥``);
* 198..317 the 120 runs: per suit, runs of 3, 4 and 5 consecutive ranks, ace low, no wrap (11 + 10 + 9 = 30
  per suit), by length, then lowest rank (``discard run 3♦ 4♦ 5♦``).

A hand never holds more than 5 cards (5 are dealt; every turn discards at least one and draws one), so
sets of 2–4 and runs of 3–5 are every meld a hand can discard.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Mapping, Sequence

RANK_LABELS = ("A", "2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K")
SUITS = "♣♦♥♠"
#: Suit letters accepted in text actions besides the symbols (including the outlined symbols).
SUIT_ALIASES = {"c": 0, "d": 1, "h": 2, "s": 3, "♧": 0, "♢": 1, "♡": 2, "♤": 3}
RANK_ALIASES = {label.lower(): i + 1 for i, label in enumerate(RANK_LABELS)} | {"1": 1, "t": 10}
NUM_CARDS = 52
HAND_SIZE = 5
#: Each player's payment (or each hand's share of a failed caller's bill) is capped at 100 coins.
PAYMENT_CAP = 100

JHYAP, DRAW_PILE, DRAW_DECK = 0, 1, 2
FIRST_DISCARD = 3


def rank_of(card: int) -> int:
    """Rank 1 (ace) .. 13 (king) of a card id."""
    return card // 4 + 1


def suit_of(card: int) -> int:
    """Suit index 0..3 (``♣ ♦ ♥ ♠``) of a card id."""
    return card % 4


def card_id(rank: int, suit: int) -> int:
    """Card id of ``rank`` (1..13) in ``suit`` (0..3)."""
    return (rank - 1) * 4 + suit


def card_name(card: int) -> str:
    """``A♣`` for card 0 … ``K♠`` for card 51."""
    return RANK_LABELS[card // 4] + SUITS[card % 4]


def cards_text(cards: Sequence[int]) -> str:
    """Space-separated card names."""
    return " ".join(card_name(c) for c in cards)


def card_values(court_value: int | None = None) -> tuple[int, ...]:
    """Value of each card id: A=1, 2–10 face value, J/Q/K = 11/12/13, or all ``court_value`` when given."""
    return tuple(
        court_value if (court_value is not None and rank_of(c) > 10) else rank_of(c) for c in range(NUM_CARDS)
    )


def is_set(cards: Sequence[int]) -> bool:
    """Two or more distinct cards of the same rank."""
    return len(cards) >= 2 and len(set(cards)) == len(cards) and len({rank_of(c) for c in cards}) == 1


def is_run(cards: Sequence[int]) -> bool:
    """Three or more cards of one suit with consecutive ranks (ace low only: A-2-3 yes, Q-K-A no)."""
    if len(cards) < 3 or len({suit_of(c) for c in cards}) != 1:
        return False
    ranks = sorted(rank_of(c) for c in cards)
    return all(b == a + 1 for a, b in zip(ranks, ranks[1:], strict=False))


def _enumerate_discards() -> list[tuple[int, ...]]:
    """Every discard a hand of at most five cards can make, in the action-id order of the module docstring."""
    out: list[tuple[int, ...]] = [(c,) for c in range(NUM_CARDS)]
    for rank in range(1, 14):
        for size in (2, 3, 4):
            for suits in itertools.combinations(range(4), size):
                out.append(tuple(card_id(rank, s) for s in suits))
    for suit in range(4):
        for length in (3, 4, 5):
            for low in range(1, 15 - length):
                out.append(tuple(card_id(r, suit) for r in range(low, low + length)))
    return out


#: Cards of each discard action, indexed by ``action - FIRST_DISCARD`` (sorted card ids).
DISCARDS: tuple[tuple[int, ...], ...] = tuple(_enumerate_discards())
#: Sorted card-id tuple -> action id.
DISCARD_ACTION: dict[tuple[int, ...], int] = {cards: FIRST_DISCARD + i for i, cards in enumerate(DISCARDS)}
NUM_ACTIONS = FIRST_DISCARD + len(DISCARDS)


def _action_word(cards: tuple[int, ...]) -> str:
    return ("discard run " if len(cards) >= 3 and is_run(cards) else "discard ") + cards_text(cards)


ACTION_NAMES: tuple[str, ...] = ("jhyap", "draw pile", "draw deck") + tuple(_action_word(c) for c in DISCARDS)


def discard_cards(action: int) -> tuple[int, ...]:
    """Cards of a discard action id (empty for ``jhyap`` and the draws)."""
    return DISCARDS[action - FIRST_DISCARD] if action >= FIRST_DISCARD else ()


@functools.lru_cache(maxsize=1 << 14)
def legal_discards(hand: tuple[int, ...]) -> tuple[int, ...]:
    """Ascending discard action ids of a sorted hand: every single, every set, every run.

    Cached: hands are tuples of at most five sorted card ids and recur often.
    """
    ids = {DISCARD_ACTION[(c,)] for c in hand}
    by_rank: dict[int, list[int]] = {}
    by_suit: dict[int, list[int]] = {}
    for c in hand:
        by_rank.setdefault(rank_of(c), []).append(c)
        by_suit.setdefault(suit_of(c), []).append(c)
    for group in by_rank.values():  # rule: a set is two or more cards of the same rank
        for size in range(2, len(group) + 1):
            ids.update(DISCARD_ACTION[combo] for combo in itertools.combinations(group, size))
    for group in by_suit.values():  # rule: a run is three or more consecutive ranks of one suit, no wrap
        for i in range(len(group)):
            for j in range(i + 3, len(group) + 1):
                window = tuple(group[i:j])
                if is_run(window):
                    ids.add(DISCARD_ACTION[window])
    return tuple(sorted(ids))


# ------------------------------------------------------------------ text actions
_JHYAP_WORDS = ("jhyap", "call jhyap", "show", "call show")
_PILE_WORDS = ("draw pile", "pile", "draw from pile", "draw from the pile", "take pile", "pick pile")
_DECK_WORDS = ("draw deck", "deck", "draw from deck", "draw from the deck", "take deck", "pick deck")
_DISCARD_VERBS = ("discard", "throw", "play")


def parse_card(token: str) -> int | None:
    """Card id of a token such as ``7♠``, ``10h``, ``ks``, ``A♣`` (case-insensitive); None otherwise."""
    if len(token) < 2:
        return None
    rank = RANK_ALIASES.get(token[:-1])
    suit = SUIT_ALIASES.get(token[-1], SUITS.find(token[-1]))
    if rank is None or suit < 0:
        return None
    return card_id(rank, suit)


def parse_discard(word: str) -> int | None:
    """Action id of a discard written as cards, e.g. ``discard 5♣ 5♥``, ``discard run 3d 4d 5d``, ``7s``.

    The verb (``discard``, ``throw``, ``play``) and the meld word (``run``/``sequence``/``set``) are
    optional, card order is free and commas are ignored; a meld word must match the cards.
    """
    tokens = word.replace(",", " ").split()
    if tokens and tokens[0] in _DISCARD_VERBS:
        tokens = tokens[1:]
    meld = None
    if tokens and tokens[0] in ("run", "sequence", "set"):
        meld, tokens = tokens[0], tokens[1:]
    if not tokens or len(tokens) > HAND_SIZE:
        return None
    parsed = [parse_card(t) for t in tokens]
    cards = [c for c in parsed if c is not None]
    if len(cards) != len(parsed):
        return None
    action = DISCARD_ACTION.get(tuple(sorted(cards)))
    if meld == "set" and not is_set(cards):
        return None
    if meld in ("run", "sequence") and not is_run(cards):
        return None
    return action


class DhumbalVocabulary(Mapping[str, int]):
    """Accepted action words -> action ids.

    The canonical words (lower-cased), aliases, and any discard written as cards in any order, with
    ASCII suits (``parse_discard``). Lookups get words already lower-cased and whitespace-normalized
    by ``turngym.envs.core.parsing``.
    """

    def __init__(self) -> None:
        words = {name.lower(): i for i, name in enumerate(ACTION_NAMES)}
        for group, action in ((_JHYAP_WORDS, JHYAP), (_PILE_WORDS, DRAW_PILE), (_DECK_WORDS, DRAW_DECK)):
            words.update(dict.fromkeys(group, action))
        self._words = words

    def __getitem__(self, word: str) -> int:
        action = self._words.get(word)
        if action is None and isinstance(word, str):
            action = parse_discard(word.lower())
        if action is None:
            raise KeyError(word)
        return action

    def __iter__(self) -> Iterator[str]:
        return iter(self._words)

    def __len__(self) -> int:
        return len(self._words)


VOCABULARY = DhumbalVocabulary()


# ------------------------------------------------------------------ round resolution and scoring
def call_winner(values: Sequence[int], caller: int, order: Sequence[int]) -> int:
    """Winner of a Jhyap call: the caller if strictly lowest, else the first of ``order`` with the lowest value.

    Args:
        values: Hand value of every seat.
        caller: The calling seat.
        order: The other seats in tie-break order (turn order after the caller, or seat order).
    """
    lowest_other = min(values[p] for p in order)
    if values[caller] < lowest_other:
        return caller
    return next(p for p in order if values[p] == lowest_other)


def settle(values: Sequence[int], caller: int, winner: int) -> list[int]:
    """Coin change of every seat at the end of a round.

    A successful call (``winner == caller``) is paid by every other seat its own hand value, capped at
    ``PAYMENT_CAP``. A failed call costs the caller the sum of all hand values (its own included), each
    capped at ``PAYMENT_CAP``, paid to the winner. The changes sum to zero.
    """
    deltas = [0] * len(values)
    if winner == caller:
        for p, v in enumerate(values):
            if p != caller:
                deltas[p] -= min(v, PAYMENT_CAP)
                deltas[caller] += min(v, PAYMENT_CAP)
    else:
        bill = sum(min(v, PAYMENT_CAP) for v in values)
        deltas[caller] -= bill
        deltas[winner] += bill
    return deltas
