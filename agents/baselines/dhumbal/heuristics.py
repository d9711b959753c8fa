"""Rule-based Dhumbal (Jhyap) agents: the four heuristics of arXiv 2510.11736 and their shared rules.

The study is "AI Agents for the Dhumbal Card Game".

Every heuristic plays the same discard and draw rules (``choose_discard``, ``choose_draw``) and differs only
in when it calls jhyap:

* ``AggressiveAgent``: whenever the call is allowed (hand value at most the table's threshold).
* ``ConservativeAgent``: only at hand value <= 7.
* ``BalancedAgent``: with probability 1.0 / 0.7 / 0.4 at hand value <= 5 / 6-8 / 9-10.
* ``OpportunisticAgent``: threshold 7 when its coins are at or above the table average (protect the lead),
  10 when below (chase); 2 lower once every seat has had ``late_turns`` turns, since the others' hands
  have had time to shrink (see ``OpportunisticAgent``).

Agents read only what a seat sees: the vector observation (layout of ``DhumbalGame.encode``) or the text
observation (``DhumbalGame.render``), plus ``info["legal_action_ids"]``; ``decode_view`` turns either into
a ``DhumbalView``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from turngym.envs.cards.dhumbal_cards import (
    DRAW_DECK,
    DRAW_PILE,
    FIRST_DISCARD,
    JHYAP,
    NUM_CARDS,
    discard_cards,
    parse_card,
    rank_of,
    suit_of,
)
from turngym.envs.core.agent_api import RandomLegalAgent, legal_ids

# Vector layout of DhumbalGame.encode (envs/cards/dhumbal.py): hand, pile card, own pending discard (52 each),
# phase (2), six scalars, seat one-hot (5), then 4 opponent blocks of 4 + 2 * 52, last own coin change / 100.
_OFF_PILE, _OFF_PENDING, _OFF_PHASE = NUM_CARDS, 2 * NUM_CARDS, 3 * NUM_CARDS
_OFF_SCALARS, _OFF_SEAT, _MAX_PLAYERS = 3 * NUM_CARDS + 2, 3 * NUM_CARDS + 8, 5
_OFF_OPP, _OPP = 3 * NUM_CARDS + 8 + _MAX_PLAYERS, 4 + 2 * NUM_CARDS
DEFAULT_TURN_CAP = 100


@dataclass
class DhumbalView:
    """What the acting seat knows, decoded from its observation.

    Attributes:
        seat: The acting seat.
        num_players: Seats at the table.
        hand: Own cards (sorted ids); in the draw phase, after this turn's discard.
        hand_value: Value of ``hand`` under the table's card values.
        values: Value of each card id (court values inferred from ``hand_value`` when the hand holds J/Q/K).
        pile_card: The card ``draw pile`` takes now (draw phase) or may take after discarding; -1 if none.
        pending: This turn's discard (draw phase), else empty.
        drawing: True in the draw phase.
        turns: Completed turns in this round.
        coins: Coin change of every seat (index = seat), relative to the start.
        hand_sizes: Cards held by every seat.
        legal: Legal action ids.
    """

    seat: int
    num_players: int
    hand: list[int]
    hand_value: int
    values: tuple[int, ...]
    pile_card: int
    pending: list[int]
    drawing: bool
    turns: int
    coins: list[float]
    hand_sizes: list[int]
    legal: list[int] = field(default_factory=list)


def infer_values(hand: Sequence[int], hand_value: int) -> tuple[int, ...]:
    """Card values consistent with ``hand_value``: J/Q/K = 11/12/13, or one court value if the total says so."""
    court = [c for c in hand if rank_of(c) > 10]
    plain = sum(rank_of(c) for c in hand if rank_of(c) <= 10)
    court_value: int | None = None
    if court and plain + sum(rank_of(c) for c in court) != hand_value:
        court_value = max(1, round((hand_value - plain) / len(court)))  # rule: court_value sets J, Q, K alike
    return tuple(court_value if court_value is not None and rank_of(c) > 10 else rank_of(c)
                 for c in range(NUM_CARDS))


def decode_vector(obs: Any, legal: Sequence[int], turn_cap: int = DEFAULT_TURN_CAP) -> DhumbalView:
    """Decodes a vector observation (``{"observation", "action_mask"}`` or the bare array).

    Args:
        obs: The observation.
        legal: Legal action ids.
        turn_cap: The table's ``turn_cap`` (the vector holds turns / turn_cap).
    """
    x = np.asarray(obs["observation"] if isinstance(obs, dict) else obs, dtype=np.float64)
    hand = np.flatnonzero(x[:NUM_CARDS] > 0.5).tolist()
    piles = np.flatnonzero(x[_OFF_PILE:_OFF_PENDING] > 0.5)
    pending = np.flatnonzero(x[_OFF_PENDING:_OFF_PHASE] > 0.5).tolist()
    hand_value = int(round(x[_OFF_SCALARS] * 50.0))
    seat = int(np.argmax(x[_OFF_SEAT:_OFF_SEAT + _MAX_PLAYERS]))
    present = [k for k in range(_MAX_PLAYERS - 1) if x[_OFF_OPP + k * _OPP] > 0.5]
    n = 1 + len(present)
    coins = [0.0] * n
    sizes = [0] * n
    coins[seat], sizes[seat] = float(x[-1]) * 100.0, len(hand)
    for k in present:  # opponent blocks in turn order after the seat
        base, q = _OFF_OPP + k * _OPP, (seat + k + 1) % n
        sizes[q] = int(round(x[base + 1] * 5))
        coins[q] = float(x[base + 2]) * 100.0
    return DhumbalView(seat, n, hand, hand_value, infer_values(hand, hand_value),
                       int(piles[0]) if len(piles) else -1, pending, bool(x[_OFF_PHASE + 1] > 0.5),
                       int(round(x[_OFF_SCALARS + 4] * turn_cap)), coins, sizes, list(legal))


_CARD = r"(?:10|[2-9AJQK])[♣♦♥♠]"


def _cards(text: str) -> list[int]:
    return sorted(c for c in (parse_card(t.lower()) for t in re.findall(_CARD, text)) if c is not None)


def decode_text(text: str, legal: Sequence[int]) -> DhumbalView:
    """Decodes a text observation (the wording of ``DhumbalGame.render``)."""
    seat = int(re.search(r"You are player (\d+)", text).group(1))  # type: ignore[union-attr]
    m = re.search(r"Your hand: (.*?) \(value .*?= (\d+)\)", text)
    hand = _cards(m.group(1)) if m else []
    hand_value = int(m.group(2)) if m else 0
    drawing = DRAW_DECK in legal
    pending: list[int] = []
    pile_card = -1
    if drawing:
        d = re.search(r"You discarded (.*?)\. Now draw: 'draw pile' takes (" + _CARD + ")", text)
        if d:
            pending, pile_card = _cards(d.group(1)), _cards(d.group(2))[0]
        else:
            d = re.search(r"You discarded (.*?)\. Now draw", text)
            pending = _cards(d.group(1)) if d else []
    else:
        p = re.search(r"Pile top: (" + _CARD + r")\.", text)
        pile_card = _cards(p.group(1))[0] if p else -1
    t = re.search(r"(\d+) of (\d+) turns played", text)
    turns = int(t.group(1)) if t else 0
    players = re.search(r"Players: (.*?)\.\n", text)
    coins: list[float] = []
    sizes: list[int] = []
    for _who, c, k in re.findall(r"(you|player \d+) (-?\d+) coins, (\d+) cards", players.group(1) if players else ""):
        coins.append(float(c))
        sizes.append(int(k))
    return DhumbalView(seat, len(coins), hand, hand_value, infer_values(hand, hand_value), pile_card, pending,
                       drawing, turns, coins, sizes, list(legal))


def decode_view(obs: Any, info: dict[str, Any], turn_cap: int = DEFAULT_TURN_CAP) -> DhumbalView:
    """The acting seat's ``DhumbalView`` from a vector or text observation and its info dict."""
    legal = legal_ids(info, obs)
    if isinstance(obs, str):
        return decode_text(obs, legal)
    return decode_vector(obs, legal, turn_cap)


# ------------------------------------------------------------------ shared discard and draw rules
def discard_score(action: int, values: Sequence[int]) -> tuple[int, int, int]:
    """Sort key of a discard: value removed from the hand, then cards removed, then the lower action id.

    The study's shared discard heuristic: shed as much hand value as possible, so melds (runs, sets) of high
    cards come first; the tie-breaks make the choice deterministic.
    """
    cards = discard_cards(action)
    return sum(values[c] for c in cards), len(cards), -action


def choose_discard(legal: Sequence[int], values: Sequence[int]) -> int:
    """The legal discard that removes the most hand value (ties: more cards, then the lower action id)."""
    discards = [a for a in legal if a >= FIRST_DISCARD]
    return max(discards, key=lambda a: discard_score(a, values))


def completes_meld(card: int, hand: Sequence[int]) -> bool:
    """True when ``card`` makes a set (same rank) or a run of three (same suit, consecutive) with ``hand``."""
    r, s = rank_of(card), suit_of(card)
    if any(rank_of(c) == r for c in hand):
        return True
    ranks = {rank_of(c) for c in hand if suit_of(c) == s}
    return ({r - 2, r - 1} <= ranks) or ({r - 1, r + 1} <= ranks) or ({r + 1, r + 2} <= ranks)


def expected_deck_value(view: DhumbalView) -> float:
    """Mean value of the cards the seat has not seen (own hand, pending discard and pile card excluded)."""
    seen = set(view.hand) | set(view.pending) | ({view.pile_card} if view.pile_card >= 0 else set())
    unseen = [view.values[c] for c in range(NUM_CARDS) if c not in seen]
    return float(np.mean(unseen)) if unseen else 7.0


def choose_draw(view: DhumbalView) -> int:
    """Draw rule: the pile card when it helps, else the deck.

    Takes the pile card when it completes a set or run with held cards, or when it is worth less than the
    expected deck card (so it lowers the hand value relative to drawing blind).
    """
    card = view.pile_card
    if DRAW_PILE in view.legal and card >= 0:
        if completes_meld(card, view.hand) or view.values[card] < expected_deck_value(view):
            return DRAW_PILE
    return DRAW_DECK


# ------------------------------------------------------------------ agents
class HeuristicAgent:
    """Shared discard/draw rules; subclasses decide the jhyap call (``should_call``).

    Implements ``act(observations, infos, *, rng=None)``. Prefers vector observations (``obs_mode``, so the
    single-agent env hands opponents vectors) and also reads text observations.

    Args:
        seed: Seed of the agent's own RNG, used when ``act`` gets no ``rng``.
        turn_cap: The table's ``turn_cap``, to decode the turn count from vector observations.
    """

    name = "heuristic"
    obs_mode = "vector"

    def __init__(self, seed: int | None = None, turn_cap: int = DEFAULT_TURN_CAP):
        self.rng = np.random.default_rng(seed)
        self.turn_cap = turn_cap

    def should_call(self, view: DhumbalView, rng: np.random.Generator) -> bool:
        """Whether to call jhyap (asked only when the call is legal)."""
        raise NotImplementedError

    def decide(self, view: DhumbalView, rng: np.random.Generator) -> int:
        """One action id for a decoded view."""
        if view.drawing:
            return choose_draw(view)
        if JHYAP in view.legal and self.should_call(view, rng):
            return JHYAP
        return choose_discard(view.legal, view.values)

    def act(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]], *,
            rng: np.random.Generator | None = None) -> list[Any]:
        """One action id per environment (``None`` where nothing is legal)."""
        gen = rng if rng is not None else self.rng
        out: list[Any] = []
        for obs, info in zip(observations, infos, strict=True):
            view = decode_view(obs, info, self.turn_cap)
            out.append(self.decide(view, gen) if view.legal else None)
        return out


class AggressiveAgent(HeuristicAgent):
    """Calls jhyap whenever allowed."""

    name = "aggressive"

    def should_call(self, view: DhumbalView, rng: np.random.Generator) -> bool:
        """Always (the call is legal)."""
        return True


class ConservativeAgent(HeuristicAgent):
    """Calls jhyap only at hand value <= ``threshold`` (7 in the study)."""

    name = "conservative"

    def __init__(self, seed: int | None = None, turn_cap: int = DEFAULT_TURN_CAP, threshold: int = 7):
        super().__init__(seed, turn_cap)
        self.threshold = threshold

    def should_call(self, view: DhumbalView, rng: np.random.Generator) -> bool:
        """At hand value <= ``threshold``."""
        return view.hand_value <= self.threshold


#: Balanced call probabilities by hand value (arXiv 2510.11736): (highest value, probability), first match.
BALANCED_TABLE = ((5, 1.0), (8, 0.7), (10, 0.4))


class BalancedAgent(HeuristicAgent):
    """Calls jhyap with probability 1.0 / 0.7 / 0.4 at hand value <= 5 / 6-8 / 9-10 (never above 10)."""

    name = "balanced"

    def should_call(self, view: DhumbalView, rng: np.random.Generator) -> bool:
        """With the ``BALANCED_TABLE`` probability of the hand value."""
        p = next((prob for top, prob in BALANCED_TABLE if view.hand_value <= top), 0.0)
        return p >= 1.0 or (p > 0.0 and rng.random() < p)


class OpportunisticAgent(HeuristicAgent):
    """Risk follows the coin standing and the clock.

    Rule: threshold = ``lead_threshold`` (7) when the seat's coins are at or above the table average, else
    ``chase_threshold`` (10); minus ``late_drop`` (2) once ``turns >= late_turns * num_players`` (every seat
    has had ``late_turns`` turns, so the others' hands are likely low and a call is riskier). Calls when the
    hand value is at most the threshold.
    """

    name = "opportunistic"

    def __init__(self, seed: int | None = None, turn_cap: int = DEFAULT_TURN_CAP, lead_threshold: int = 7,
                 chase_threshold: int = 10, late_turns: int = 3, late_drop: int = 2):
        super().__init__(seed, turn_cap)
        self.lead_threshold, self.chase_threshold = lead_threshold, chase_threshold
        self.late_turns, self.late_drop = late_turns, late_drop

    def threshold(self, view: DhumbalView) -> int:
        """The call threshold in ``view`` (see the class docstring)."""
        mean = sum(view.coins) / max(1, len(view.coins))
        base = self.lead_threshold if view.coins[view.seat] >= mean else self.chase_threshold
        late = view.turns >= self.late_turns * view.num_players
        return base - (self.late_drop if late else 0)

    def should_call(self, view: DhumbalView, rng: np.random.Generator) -> bool:
        """At hand value <= ``threshold(view)``."""
        return view.hand_value <= self.threshold(view)


class RandomAgent(RandomLegalAgent):
    """Random legal actions, fed vector observations.

    By default uniform over every legal action id (turngym's ``RandomLegalAgent``), so a legal jhyap call
    is one option among the discards. The study's random baseline (arXiv 2510.11736, its championship
    code) instead flips a coin for the call whenever it is allowed and otherwise picks uniformly among the
    other moves: ``jhyap_prob=0.5`` plays that way.

    Args:
        seed: Seed of the agent's own RNG, used when ``act`` gets no ``rng``.
        jhyap_prob: Probability of calling when the call is legal (None: uniform over all legal ids).
        **_: Ignored (table options other agents use).
    """

    obs_mode = "vector"

    def __init__(self, seed: int | None = None, jhyap_prob: float | None = None, **_: Any):
        super().__init__(seed)
        if jhyap_prob is not None and not 0.0 <= float(jhyap_prob) <= 1.0:
            raise ValueError(f"jhyap_prob must be in [0, 1], got {jhyap_prob!r}")
        self.jhyap_prob = None if jhyap_prob is None else float(jhyap_prob)

    def act(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]], *,
            rng: np.random.Generator | None = None) -> list[Any]:
        """One random legal action id per environment (``None`` where nothing is legal)."""
        if self.jhyap_prob is None:
            return super().act(observations, infos, rng=rng)
        gen = rng if rng is not None else self.rng
        out: list[Any] = []
        for obs, info in zip(observations, infos, strict=True):
            ids = [int(a) for a in legal_ids(info, obs)]
            others = [a for a in ids if a != JHYAP]
            if JHYAP in ids and (not others or gen.random() < self.jhyap_prob):
                out.append(JHYAP)
            else:
                out.append(others[int(gen.integers(len(others)))] if others else None)
        return out
