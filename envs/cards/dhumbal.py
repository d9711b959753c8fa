"""Dhumbal (also called Jhyap): the Nepali draw-and-discard game of low hands, 2–5 players.

Rules (``ruleset="standard"``):

* A 52-card deck, reshuffled each round. Values A=1, 2–10 face value, J=11, Q=12, K=13 (``court_value``
  sets J/Q/K to one value instead, e.g. the traditional 10).
* Deal 5 cards each; the next card starts the discard pile; the rest is the face-down deck.
* A turn: (1) optionally call **jhyap** when the hand is worth at most ``jhyap_threshold``; the call ends
  the round at once, so it is the whole turn; (2) otherwise discard one card, a set (two or more cards of
  one rank) or a run (three or more consecutive ranks of one suit, ace low, no wrap); (3) draw the
  previous player's discard (the top of the pile before your own discard; the top card of a meld is its
  last card in canonical order) or the top of the deck.
* When a player draws from an empty deck, the pile except its top card is first reshuffled into the deck.
* Jhyap: hands are revealed; the caller wins only if strictly lowest, and every other player then pays it
  their own hand value (capped at 100). Otherwise the lowest other player wins (ties: the first in turn
  order after the caller) and the caller pays it the sum of all hand values, its own included (each capped
  at 100).
* After ``turn_cap`` turns in a round, a showdown: the lowest hand wins (ties: the first in turn order after
  the player who moved last) and is paid like a successful call; the round is recorded as ``showdown``.
* Round ``r`` is led by seat ``r mod num_players``; coins (``start_coins`` each) carry over the ``rounds``.

``ruleset="paper"`` reproduces the published code of arXiv 2510.11736 ("AI Agents for the Dhumbal Card
Game"): seat 0 leads every round; ``draw pile`` takes back the top card of the player's own discard; a
turn-cap showdown is a jhyap call by the lowest seat (lowest index on ties), resolved and recorded as a
call (a successful one unless another seat ties); ties among the others go to the lowest seat index; a
player whose discard empties its hand ends the round as a (successful) caller.

The deck is an unordered set whose every draw is a chance event (uniform over the face-down cards), the
same distribution as a shuffled deck, so exact solvers can branch on draws (``chance="explicit"``).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from turngym.envs.cards.dhumbal_cards import (
    ACTION_NAMES,
    DISCARD_ACTION,
    DRAW_DECK,
    DRAW_PILE,
    FIRST_DISCARD,
    HAND_SIZE,
    JHYAP,
    NUM_CARDS,
    PAYMENT_CAP,
    VOCABULARY,
    call_winner,
    card_name,
    card_values,
    cards_text,
    discard_cards,
    legal_discards,
    settle,
)
from turngym.envs.cards.docs import AEC_ARGS, SINGLE_ARGS
from turngym.envs.core.aec import GameAECEnv
from turngym.envs.core.errors import ConfigError
from turngym.envs.core.game import TurnGame
from turngym.envs.core.session import read_list
from turngym.envs.core.single import GameSingleAgentEnv

ENV_ID = "turngym/Dhumbal-v0"
RULESETS = ("standard", "paper")
MIN_PLAYERS, MAX_PLAYERS = 2, 5
DEAL, DISCARD, DRAW, DRAWING, OVER = range(5)
_PHASE_CODE = "ABCDE"
#: Vector layout: hand, pile card to draw from, own discard this turn, phase, scalars, seat, 4 opponents, coins.
_OPP = 4 + 2 * NUM_CARDS
_OFF_PHASE, _OFF_SCALARS, _OFF_SEAT = 3 * NUM_CARDS, 3 * NUM_CARDS + 2, 3 * NUM_CARDS + 8
_OFF_OPP = _OFF_SEAT + MAX_PLAYERS
OBS_SIZE = _OFF_OPP + (MAX_PLAYERS - 1) * _OPP + 1


@dataclass(slots=True)
class DhumbalState:
    """Mutable state of a Dhumbal episode (one or more rounds).

    ``hands``, ``deck`` and ``pile`` always partition the 52 cards. ``log`` holds the recent public events
    as tuples: ``("t", seat, cards, source, drawn)`` for a turn (source ``p`` pile, ``d`` deck, ``-`` none;
    ``drawn`` is the card taken from the pile, else -1), ``("j", seat)`` for a jhyap call and ``("r", i)``
    for the end of a round (``results[i]``).
    """

    hands: list[list[int]]
    coins: list[int]
    deck: list[int] = field(default_factory=lambda: list(range(NUM_CARDS)))  # kept sorted (an unordered set)
    pile: list[int] = field(default_factory=list)  # bottom .. top
    phase: int = DEAL
    player: int = 0
    leader: int = 0
    round: int = 0
    turns: int = 0  # completed turns in this round
    dealt: int = 0  # cards dealt so far in this round's deal
    mark: int = 0  # len(pile) before the acting player's discard (draw phase)
    pending: tuple[int, ...] = ()  # the acting player's discard of this turn (draw phase)
    log: list[tuple[Any, ...]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)


class DhumbalGame(TurnGame[DhumbalState]):
    """Rules of Dhumbal (see the module docstring).

    Args:
        num_players: 2 to 5.
        rounds: Rounds per episode.
        ruleset: ``"standard"`` or ``"paper"``.
        jhyap_threshold: Highest hand value at which jhyap may be called.
        court_value: Value of J, Q and K (None: 11, 12, 13).
        turn_cap: Turns per round before the showdown.
        start_coins: Coins of every player at the start.
    """

    title = "Dhumbal (Jhyap)"
    instruction = ("Play Dhumbal (Jhyap): keep the value of your hand low, call jhyap when you hold the lowest "
                   "hand, and win as many coins as you can.")
    action_names = ACTION_NAMES
    obs_size = OBS_SIZE
    views_follow_info_state = True  # render/encode show only what info_encoding holds (terminal: see below)

    def __init__(self, num_players: int = 4, rounds: int = 1, ruleset: str = "standard", jhyap_threshold: int = 10,
                 court_value: int | None = None, turn_cap: int = 100, start_coins: int = 10_000):
        def positive(name: str, value: object, low: int = 1) -> int:
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(name, f"an int >= {low}", value)
            return value

        if not isinstance(num_players, int) or isinstance(num_players, bool) or not (
                MIN_PLAYERS <= num_players <= MAX_PLAYERS):
            raise ConfigError("num_players", f"an int in {MIN_PLAYERS}..{MAX_PLAYERS}", num_players)
        if ruleset not in RULESETS:
            raise ConfigError("ruleset", "one of " + ", ".join(RULESETS), ruleset, RULESETS)
        self.num_players = num_players
        self.rounds = positive("rounds", rounds)
        self.ruleset = ruleset
        self.jhyap_threshold = positive("jhyap_threshold", jhyap_threshold, 0)
        self.court_value = None if court_value is None else positive("court_value", court_value)
        self.turn_cap = positive("turn_cap", turn_cap)
        self.start_coins = positive("start_coins", start_coins, 0)
        self.values = card_values(court_value)
        self.paper = ruleset == "paper"
        self.log_max = 3 * num_players + 3
        self.signature = (f"{num_players}{ruleset[0]}{jhyap_threshold}c{court_value}t{turn_cap}r{rounds}"
                          f"s{start_coins}")

    @property
    def vocabulary(self) -> Any:
        """Canonical words, aliases, and any discard written as cards (see ``DhumbalVocabulary``)."""
        return VOCABULARY

    # ------------------------------------------------------------------ helpers
    def hand_value(self, hand: list[int]) -> int:
        """Sum of the card values of ``hand``."""
        values = self.values
        return sum(values[c] for c in hand)

    def leader_of(self, round_index: int) -> int:
        """Seat that leads round ``round_index``: rotating (standard) or always seat 0 (paper)."""
        return 0 if self.paper else round_index % self.num_players

    def pile_card(self, s: DhumbalState) -> int:
        """The card ``draw pile`` takes now (draw phase), else the card the next discarder may take; -1 if none.

        Standard: the previous player's discard, i.e. the top of the pile below the own discard. Paper: the
        top of the pile, i.e. the player's own just-discarded card.
        """
        if s.phase == DRAW:
            if self.paper:
                return s.pile[-1] if s.pile else -1
            return s.pile[s.mark - 1] if s.mark >= 1 else -1
        return s.pile[-1] if s.pile else -1

    def previous_top(self, s: DhumbalState) -> int:
        """Top of the pile before the acting player's discard (the last discard of the previous player); -1 if none."""
        if s.phase == DRAW:
            return s.pile[s.mark - 1] if s.mark >= 1 else -1
        return s.pile[-1] if s.pile else -1

    def pending_discard(self, s: DhumbalState) -> list[int]:
        """The acting player's discard of this turn (draw phase), else empty."""
        return list(s.pending) if s.phase == DRAW else []

    # ------------------------------------------------------------------ TurnGame
    def new_state(self) -> DhumbalState:
        n = self.num_players
        return DhumbalState(hands=[[] for _ in range(n)], coins=[self.start_coins] * n, player=self.leader_of(0),
                            leader=self.leader_of(0))

    def chance_pending(self, s: DhumbalState) -> bool:
        return s.phase == DEAL or s.phase == DRAWING

    def chance_outcomes(self, s: DhumbalState) -> list[tuple[int, float]]:
        if not self.chance_pending(s) or not s.deck:
            return []
        p = 1.0 / len(s.deck)  # every face-down card is equally likely to be next
        return [(c, p) for c in s.deck]

    def apply_chance(self, s: DhumbalState, outcome: int) -> None:
        s.deck.remove(outcome)
        if s.phase == DRAWING:
            bisect.insort(s.hands[s.player], outcome)
            self._end_turn(s, (s.pending, "d", -1))
            return
        n = self.num_players
        if s.dealt < HAND_SIZE * n:  # rule: 5 cards each, dealt round-robin from the leader
            bisect.insort(s.hands[(s.leader + s.dealt) % n], outcome)
        else:  # rule: the next card starts the discard pile
            s.pile.append(outcome)
            s.phase, s.player = DISCARD, s.leader
        s.dealt += 1

    def current_player(self, s: DhumbalState) -> int:
        return s.player if s.phase == DISCARD or s.phase == DRAW else -1

    def is_terminal(self, s: DhumbalState) -> bool:
        return s.phase == OVER

    def legal_actions(self, s: DhumbalState) -> list[int]:
        if s.phase == DISCARD:
            hand = s.hands[s.player]
            discards = list(legal_discards(tuple(hand)))
            # rule: jhyap only when the hand is worth at most the threshold
            return [JHYAP, *discards] if self.hand_value(hand) <= self.jhyap_threshold else discards
        if s.phase == DRAW:
            # The deck can always be drawn from: hands hold at most 25 cards, so an empty deck leaves at least
            # 26 cards in the pile to refill it (from_json enforces the 52-card partition).
            return [DRAW_PILE, DRAW_DECK] if self.pile_card(s) >= 0 else [DRAW_DECK]
        return []

    def illegal_reason(self, s: DhumbalState, action: int) -> str:
        name = self.action_names[action]
        if s.phase == DRAW:
            if action == JHYAP:
                return "jhyap is not allowed now: a call comes before discarding; now draw (draw pile or draw deck)"
            if action >= FIRST_DISCARD:
                return f"{name} is not allowed now: you already discarded this turn; draw pile or draw deck"
        if s.phase == DISCARD:
            if action in (DRAW_PILE, DRAW_DECK):
                return f"{name} is not allowed now: discard first (or call jhyap), then draw"
            hand = s.hands[s.player]
            if action == JHYAP:
                return (f"jhyap is not allowed: your hand is worth {self.hand_value(hand)}, above the threshold "
                        f"{self.jhyap_threshold}")
            missing = [c for c in discard_cards(action) if c not in hand]
            if missing:
                return f"{name} is not allowed: {cards_text(missing)} not in your hand"
        return super().illegal_reason(s, action)

    def apply_action(self, s: DhumbalState, action: int) -> None:
        p = s.player
        if action == JHYAP:  # rule: the call ends the round at once (a whole turn)
            self._log(s, ("j", p))
            self._resolve(s, "jhyap", p, "call")
            return
        if action >= FIRST_DISCARD:
            cards = discard_cards(action)
            hand = s.hands[p]
            for c in cards:
                hand.remove(c)
            s.mark = len(s.pile)
            s.pile.extend(cards)  # canonical order: the last card is the top of the pile
            s.pending = cards
            if self.paper and not hand:  # published code: an emptied hand ends the round as a call
                self._end_turn(s, (cards, "-", -1), caller=p)
                return
            s.phase = DRAW
            return
        if action == DRAW_PILE:
            card = s.pile.pop() if self.paper else s.pile.pop(s.mark - 1)
            bisect.insort(s.hands[p], card)
            self._end_turn(s, (s.pending, "p", card))
            return
        # DRAW_DECK: rule: an exhausted deck is refilled from the pile except its top card
        if not s.deck:
            s.deck = sorted(s.pile[:-1])
            del s.pile[:-1]
            s.mark = 0
        s.phase = DRAWING

    def _log(self, s: DhumbalState, event: tuple[Any, ...]) -> None:
        s.log.append(event)
        if len(s.log) > self.log_max:
            del s.log[: len(s.log) - self.log_max]

    def _end_turn(self, s: DhumbalState, record: tuple[Any, ...], caller: int = -1) -> None:
        p = s.player
        self._log(s, ("t", p, tuple(record[0]), record[1], record[2]))
        s.pending = ()
        s.turns += 1
        if caller >= 0:
            self._resolve(s, "jhyap", caller, "empty hand")
        elif s.turns >= self.turn_cap:
            self._resolve(s, "showdown", -1, "turn cap")
        else:
            s.player, s.phase = (p + 1) % self.num_players, DISCARD

    def _resolve(self, s: DhumbalState, kind: str, caller: int, reason: str) -> None:
        """Ends the round: reveals hands, picks the winner, moves coins, starts the next round or ends.

        Args:
            s: The state.
            kind: ``"jhyap"`` or ``"showdown"``.
            caller: The calling seat (-1 for a showdown).
            reason: ``"call"``, ``"turn cap"`` or (paper) ``"empty hand"``.
        """
        n = self.num_players
        values = [self.hand_value(h) for h in s.hands]
        if kind == "showdown" and self.paper:
            # published code: the lowest seat (lowest index on ties) is made to call jhyap
            kind, caller = "jhyap", values.index(min(values))
        if kind == "jhyap":
            order = ([q for q in range(n) if q != caller] if self.paper
                     else [(caller + k) % n for k in range(1, n)])  # ties: turn order after the caller
            winner = call_winner(values, caller, order)
            deltas = settle(values, caller, winner)
            success = winner == caller
        else:  # standard showdown: lowest hand wins (ties: turn order after the last mover), paid like a call
            order = [(s.player + k) % n for k in range(1, n + 1)]
            low = min(values)
            winner = next(q for q in order if values[q] == low)
            deltas = settle(values, winner, winner)
            success = False
        for q in range(n):
            s.coins[q] += deltas[q]
        s.results.append({
            "round": s.round, "kind": kind, "caller": caller, "winner": winner, "success": success,
            "reason": reason, "turns": s.turns, "values": values, "hands": [list(h) for h in s.hands],
            "deltas": deltas,
        })
        self._log(s, ("r", len(s.results) - 1))
        if s.round + 1 >= self.rounds:
            s.phase = OVER
            return
        s.round += 1
        s.leader = s.player = self.leader_of(s.round)
        s.hands = [[] for _ in range(n)]
        s.deck, s.pile = list(range(NUM_CARDS)), []  # rule: a fresh 52-card deck each round
        s.phase, s.turns, s.dealt, s.mark = DEAL, 0, 0, 0

    def returns(self, s: DhumbalState) -> list[float]:
        if s.phase != OVER:
            return [0.0] * self.num_players
        return [float(c - self.start_coins) for c in s.coins]

    # ------------------------------------------------------------------ views
    def since_last_turn(self, s: DhumbalState, player: int) -> list[tuple[Any, ...]]:
        """Public events after ``player``'s last turn (within the last ``log_max`` events)."""
        log = s.log
        for i in range(len(log) - 1, -1, -1):
            e = log[i]
            if e[0] != "r" and e[1] == player:
                return log[i + 1:]
        return log

    def _event_code(self, s: DhumbalState, e: tuple[Any, ...]) -> str:
        if e[0] == "t":
            return f"t{e[1]}:{_ints(e[2])}{e[3]}{e[4]}"
        if e[0] == "j":
            return f"j{e[1]}"
        r = s.results[e[1]]
        hands = "/".join(_ints(h) for h in r["hands"])
        return (f"r{e[1]}:{r['kind'][0]}{r['reason'][0]}{r['caller']}w{r['winner']}t{r['turns']}"
                f"v{_ints(r['values'])}h{hands}d{_ints(r['deltas'])}")

    def info_encoding(self, s: DhumbalState, player: int) -> str:
        # What the player can know and is shown: own hand, the pile card on offer, the discard in progress,
        # deck size, hand sizes, coins, and the public events since its last turn (revealed hands included).
        events = ";".join(self._event_code(s, e) for e in self.since_last_turn(s, player))
        return (f"{self.signature}|p{player}|{_PHASE_CODE[s.phase]}{s.player}|r{s.round}t{s.turns}l{s.leader}"
                f"|h{_ints(s.hands[player])}|c{self.pile_card(s)}.{self.previous_top(s)}|o{_ints(self.pending_discard(s))}|d{len(s.deck)}"
                f"|n{_ints([len(h) for h in s.hands])}|m{_ints(s.coins)}|e{events}")

    def terminal_view_key(self, s: DhumbalState, player: int) -> str | None:
        return "T" + self.info_encoding(s, player)  # the final result (all hands) is among the events

    def encode(self, s: DhumbalState, player: int, out: np.ndarray) -> None:
        n, hand = self.num_players, s.hands[player]
        out[hand] = 1.0
        pile_card = self.pile_card(s)
        if pile_card >= 0:
            out[NUM_CARDS + pile_card] = 1.0
        for c in self.pending_discard(s):
            out[2 * NUM_CARDS + c] = 1.0
        if s.phase in (DISCARD, DRAW):
            out[_OFF_PHASE + (s.phase == DRAW)] = 1.0
        value = self.hand_value(hand)
        out[_OFF_SCALARS: _OFF_SCALARS + 6] = (value / 50.0, len(hand) / HAND_SIZE, value <= self.jhyap_threshold,
                                               len(s.deck) / NUM_CARDS, s.turns / self.turn_cap, s.round / self.rounds)
        out[_OFF_SEAT + player] = 1.0
        latest: dict[int, tuple[Any, ...]] = {}
        for e in self.since_last_turn(s, player):
            if e[0] == "t":
                latest[e[1]] = e
        if s.phase == DRAW:
            latest[s.player] = ("t", s.player, s.pending, "", -1)
        for k in range(1, n):
            q, base = (player + k) % n, _OFF_OPP + (k - 1) * _OPP
            out[base: base + 3] = (1.0, len(s.hands[q]) / HAND_SIZE, (s.coins[q] - self.start_coins) / 100.0)
            e = latest.get(q)
            if e is not None:
                out[base + 3] = e[3] == "d"
                for c in e[2]:
                    out[base + 4 + c] = 1.0
                if e[4] >= 0:
                    out[base + 4 + NUM_CARDS + e[4]] = 1.0
        out[-1] = (s.coins[player] - self.start_coins) / 100.0

    def _event_text(self, s: DhumbalState, e: tuple[Any, ...], player: int) -> str:
        who = _namer(player)
        if e[0] == "j":
            return f"{who(e[1])} called jhyap."
        if e[0] == "t":
            tail = {"p": f" and took {card_name(e[4])} from the pile" if e[4] >= 0 else "",
                    "d": " and drew from the deck", "-": ", emptying the hand"}.get(e[3], "")
            return f"{who(e[1])} discarded {cards_text(e[2])}{tail}."
        r = s.results[e[1]]
        v, caller, winner = r["values"], r["caller"], r["winner"]
        head = f"Round {r['round'] + 1} over after {r['turns']} turns: "
        if r["kind"] == "showdown":
            head += f"turn cap reached, showdown: {who(winner)} had the lowest hand ({v[winner]}) and collected"
        else:
            how = {"turn cap": " (forced: turn cap reached)", "empty hand": " (emptied the hand)"}.get(r["reason"], "")
            head += f"{who(caller)} called jhyap{how} with {v[caller]}"
            head += (" and won: strictly lowest hand" if r["success"]
                     else f" but {who(winner)} had {v[winner]}: the call failed and the caller pays everyone's hands")
        hands = "; ".join(f"{who(q)} {cards_text(h) or '-'} = {v[q]}" for q, h in enumerate(r["hands"]))
        deltas = ", ".join(f"{who(q)} {d:+d}" for q, d in enumerate(r["deltas"]))
        return f"{head}.\n  Hands: {hands}.\n  Coins: {deltas}."

    def render(self, s: DhumbalState, player: int) -> str:
        who = _namer(player)
        n, hand = self.num_players, s.hands[player]
        court = "J=11, Q=12, K=13" if self.court_value is None else f"J, Q, K={self.court_value}"
        lines = [
            f"Dhumbal (Jhyap), {n} players, {self.ruleset} rules. You are player {player}.",
            f"Card values: A=1, 2-10 face value, {court}. Jhyap may be called with a hand worth "
            f"{self.jhyap_threshold} or less.",
            f"Round {s.round + 1} of {self.rounds} (player {s.leader} led); {s.turns} of {self.turn_cap} turns played.",
        ]
        if s.phase != OVER:
            parts = "+".join(str(self.values[c]) for c in hand) or "0"
            lines.append(f"Your hand: {cards_text(hand) or '(none)'} (value {parts} = {self.hand_value(hand)}).")
            top = self.previous_top(s)
            pile = card_name(top) if top >= 0 else "(empty)"
            if s.phase == DRAW:
                pile = f"{cards_text(s.pending)} (this turn's discard) on {pile}"
            lines.append(f"Pile top: {pile}. Deck: {len(s.deck)} face-down cards.")
        lines.append("Players: " + "; ".join(f"{who(q)} {s.coins[q]} coins, {len(s.hands[q])} cards" for q in range(n))
                     + ".")
        events = self.since_last_turn(s, player)
        if events:
            lines.append("Recent events (since your last turn):")
            lines.extend("- " + self._event_text(s, e, player) for e in events)
        lines.append(self._status(s, player))
        return "\n".join(lines)

    def _status(self, s: DhumbalState, player: int) -> str:
        who = _namer(player)
        if s.phase == OVER:
            total = s.coins[player] - self.start_coins
            return f"Game over after {self.rounds} round(s); your coins changed by {total:+d}."
        if s.phase == DEAL:
            return "Dealing."
        if s.phase == DRAWING:
            return f"{who(s.player).capitalize()} is drawing from the deck."
        if s.player != player:
            doing = "discard" if s.phase == DISCARD else f"draw after discarding {cards_text(s.pending)}"
            return f"Waiting for player {s.player} to {doing}."
        if s.phase == DRAW:
            whose = "your own discard" if self.paper else "the previous player's discard"
            return (f"You discarded {cards_text(s.pending)}. Now draw: 'draw pile' takes "
                    f"{card_name(self.pile_card(s))} ({whose}); 'draw deck' takes the top face-down card.")
        call = ("call jhyap (ends the round; you win only with the strictly lowest hand) or "
                if self.hand_value(s.hands[player]) <= self.jhyap_threshold else "")
        return (f"Your turn: {call}discard one card, a set (2+ cards of one rank) or a run (3+ consecutive ranks "
                f"of one suit, ace low), then draw. Write discards as cards, e.g. 'discard 5♣ 5♥' or 'discard 5c 5h'.")

    # ------------------------------------------------------------------ snapshots
    def to_json(self, s: DhumbalState) -> Any:
        return {
            "hands": s.hands, "coins": s.coins, "deck": s.deck, "pile": s.pile, "phase": s.phase, "player": s.player,
            "leader": s.leader, "round": s.round, "turns": s.turns, "dealt": s.dealt, "mark": s.mark,
            "pending": list(s.pending), "log": [list(e) for e in s.log], "results": s.results,
        }

    def from_json(self, data: Any) -> DhumbalState:
        n = self.num_players
        hands = [sorted(_card_list(h, HAND_SIZE)) for h in data["hands"]]
        deck, pile = sorted(_card_list(data["deck"], NUM_CARDS)), _card_list(data["pile"], NUM_CARDS)
        if len(hands) != n or sorted([c for h in hands for c in h] + deck + pile) != list(range(NUM_CARDS)):
            raise ValueError("malformed Dhumbal state: hands, deck and pile must partition the 52 cards")
        s = DhumbalState(
            hands=hands, coins=_int_list(data["coins"], n), deck=deck, pile=pile,
            phase=_int_in(data["phase"], 0, OVER), player=_int_in(data["player"], 0, n - 1),
            leader=_int_in(data["leader"], 0, n - 1), round=_int_in(data["round"], 0, self.rounds - 1),
            turns=_int_in(data["turns"], 0, self.turn_cap), dealt=_int_in(data["dealt"], 0, HAND_SIZE * n + 1),
            mark=_int_in(data["mark"], 0, len(pile)), pending=tuple(_card_list(data["pending"], HAND_SIZE)),
            results=[self._result_from_json(r, i) for i, r in
                     enumerate(read_list(data["results"], "Dhumbal results", max_length=self.rounds))],
        )
        s.log = [self._event_from_json(e, len(s.results))
                 for e in read_list(data["log"], "Dhumbal log", max_length=self.log_max)]
        return s

    def validate_state(self, s: DhumbalState) -> None:
        """The invariants of the rules (module docstring) that a snapshot's fields must satisfy.

        Checked: the round counter against the recorded results and the leader; the deal in progress
        (round-robin from the leader, then the pile card); per phase, the pile, the discard in progress
        (a legal meld on top of the pile), the deck a draw needs, hand sizes and the turn cap; coins
        (zero-sum, and within what ``rounds`` rounds of payments can move); every round result (hand
        values, winner, deltas and success recomputed from its hands); every logged event.

        Not checked, so that tests and analyses can set up positions through ``set_state``: how many
        turns each seat has had (the seat to act and the hand sizes against ``turns``), and whether the
        coins equal the start plus the recorded rounds' deltas.
        """
        n, phase, hands = self.num_players, s.phase, s.hands
        bad = "impossible Dhumbal state: "
        if s.leader != self.leader_of(s.round):
            raise ValueError(bad + f"round {s.round} is led by seat {self.leader_of(s.round)}, not {s.leader}")
        if len(s.results) != (self.rounds if phase == OVER else s.round) or (
                phase == OVER and s.round != self.rounds - 1):
            raise ValueError(bad + f"{len(s.results)} round results in round {s.round} (phase {phase})")
        if phase == DEAL:  # rule: five cards each, round-robin from the leader, then the pile card
            dealt_to = [len(range(k, s.dealt, n)) for k in range(n)]
            if (s.dealt > HAND_SIZE * n or s.pile or s.turns or s.pending or s.player != s.leader
                    or any(len(hands[(s.leader + k) % n]) != dealt_to[k] for k in range(n))):
                raise ValueError(bad + "the deal does not match the hands, pile and turn")
        elif s.dealt != HAND_SIZE * n + 1:
            raise ValueError(bad + f"the deal is over but {s.dealt} cards were dealt")
        if phase in (DISCARD, DRAW, DRAWING):
            if s.turns >= self.turn_cap:  # the turn cap ends the round at once
                raise ValueError(bad + f"turn {s.turns} of a {self.turn_cap}-turn round")
            # Every turn ends with a draw, so only the seat between its discard and its draw can hold fewer
            # than one card (and under the paper rules an emptied hand ends the round).
            if any(not h for q, h in enumerate(hands) if q != s.player or phase == DISCARD or self.paper):
                raise ValueError(bad + "an empty hand outside a draw")
        if phase == DISCARD and (s.pending or not s.pile):
            raise ValueError(bad + "a discard decision with a discard pending or an empty pile")
        if phase in (DRAW, DRAWING):
            pending = s.pending
            if pending not in DISCARD_ACTION or len(hands[s.player]) + len(pending) > HAND_SIZE:
                raise ValueError(bad + f"pending discard {list(pending)} is not a meld from a hand")
            if phase == DRAW and (s.mark != len(s.pile) - len(pending) or tuple(s.pile[s.mark:]) != pending):
                raise ValueError(bad + "the pending discard is not on top of the pile")
            if phase == DRAW and self.pile_card(s) < 0:
                raise ValueError(bad + "draw phase without a discard")
            if phase == DRAWING and not s.deck:  # ``draw deck`` refills an empty deck before the draw
                raise ValueError(bad + "drawing from an empty deck")
        # Coins: zero-sum; one round moves at most PAYMENT_CAP per hand to or from a seat.
        reach = self.rounds * n * PAYMENT_CAP
        if sum(s.coins) != n * self.start_coins or any(abs(c - self.start_coins) > reach for c in s.coins):
            raise ValueError(bad + f"coins {s.coins} are not reachable from {self.start_coins} each in "
                                   f"{self.rounds} round(s)")
        for r in s.results:
            self._check_result(r)
        for e in s.log:
            if e[0] == "t" and (e[2] not in DISCARD_ACTION or (e[3] == "p") != (e[4] >= 0)
                                or (e[3] == "-" and not self.paper)):
                raise ValueError(bad + f"logged turn {list(e)} is not a discard and draw")

    def _check_result(self, r: dict[str, Any]) -> None:
        """Recomputes a round result from its revealed hands (``_resolve``); ``ValueError`` if it differs."""
        n, values, caller, winner, kind, reason = (self.num_players, r["values"], r["caller"], r["winner"],
                                                   r["kind"], r["reason"])
        hands = r["hands"]
        cards = [c for h in hands for c in h]
        if len(set(cards)) != len(cards) or any(h != sorted(h) for h in hands):
            raise ValueError("impossible Dhumbal round result: a card in two hands")
        if values != [self.hand_value(h) for h in hands]:
            raise ValueError("impossible Dhumbal round result: hand values do not match the hands")
        allowed = ({("jhyap", "call"), ("jhyap", "turn cap"), ("jhyap", "empty hand")} if self.paper
                   else {("jhyap", "call"), ("showdown", "turn cap")})
        # A call comes before the cap; the cap forces the showdown; an emptied hand (paper) may end the last turn.
        turns_ok = {"call": r["turns"] < self.turn_cap, "turn cap": r["turns"] == self.turn_cap}.get(reason, True)
        if (kind, reason) not in allowed or not turns_ok:
            raise ValueError(f"impossible Dhumbal round result: {kind} by {reason} after {r['turns']} turns")
        if kind == "jhyap":
            order = ([q for q in range(n) if q != caller] if self.paper
                     else [(caller + k) % n for k in range(1, n)])
            forced = reason == "turn cap" and caller != values.index(min(values))
            emptied = reason == "empty hand" and bool(hands[caller])
            called = reason == "call" and values[caller] > self.jhyap_threshold
            if caller < 0 or forced or emptied or called or winner != call_winner(values, caller, order):
                raise ValueError("impossible Dhumbal round result: caller and winner do not follow the rules")
            deltas = settle(values, caller, winner)
        else:
            if caller != -1 or values[winner] != min(values):
                raise ValueError("impossible Dhumbal round result: the showdown winner is not lowest")
            deltas = settle(values, winner, winner)
        if r["deltas"] != deltas or r["success"] != (kind == "jhyap" and winner == caller):
            raise ValueError("impossible Dhumbal round result: payments do not follow the rules")

    def _event_from_json(self, e: Any, num_results: int) -> tuple[Any, ...]:
        n = self.num_players
        if not isinstance(e, list) or not e:
            raise ValueError(f"malformed Dhumbal event {e!r}")
        if e[0] == "t" and len(e) == 5 and e[3] in ("p", "d", "-"):
            drawn = _int_in(e[4], -1, NUM_CARDS - 1)
            return ("t", _int_in(e[1], 0, n - 1), tuple(_card_list(e[2], HAND_SIZE)), e[3], drawn)
        if e[0] == "j" and len(e) == 2:
            return ("j", _int_in(e[1], 0, n - 1))
        if e[0] == "r" and len(e) == 2:
            return ("r", _int_in(e[1], 0, num_results - 1))
        raise ValueError(f"malformed Dhumbal event {e!r}")

    def _result_from_json(self, r: Any, index: int) -> dict[str, Any]:
        n = self.num_players
        if r["kind"] not in ("jhyap", "showdown") or r["reason"] not in ("call", "turn cap", "empty hand"):
            raise ValueError("malformed Dhumbal round result")
        if not isinstance(r["success"], bool) or _int_in(r["round"], index, index) != index:
            raise ValueError("malformed Dhumbal round result")
        hands = [_card_list(h, HAND_SIZE) for h in r["hands"]]
        if len(hands) != n:
            raise ValueError("malformed Dhumbal round result")
        return {
            "round": index, "kind": r["kind"], "caller": _int_in(r["caller"], -1, n - 1),
            "winner": _int_in(r["winner"], 0, n - 1), "success": r["success"], "reason": r["reason"],
            "turns": _int_in(r["turns"], 0, self.turn_cap), "values": _int_list(r["values"], n), "hands": hands,
            "deltas": _int_list(r["deltas"], n),
        }

    def copy_state(self, s: DhumbalState) -> DhumbalState:
        # Log events and round results are never mutated once recorded, so sharing them is safe.
        return DhumbalState(
            hands=[list(h) for h in s.hands], coins=list(s.coins), deck=list(s.deck), pile=list(s.pile),
            phase=s.phase, player=s.player, leader=s.leader, round=s.round, turns=s.turns, dealt=s.dealt,
            mark=s.mark, pending=s.pending, log=list(s.log), results=list(s.results),
        )


def _ints(xs: Any) -> str:
    return ".".join(map(str, xs))


def _namer(player: int) -> Any:
    return lambda q: "you" if q == player else f"player {q}"


def _int_in(x: Any, low: int, high: int) -> int:
    if type(x) is not int or not low <= x <= high:  # type(): JSON true/false must not pass as 1/0
        raise ValueError(f"expected an int in {low}..{high}, got {x!r:.40}")
    return x


def _int_list(xs: Any, length: int) -> list[int]:
    if type(xs) is not list or len(xs) != length or any(type(x) is not int for x in xs):
        raise ValueError(f"expected {length} ints, got {xs!r:.80}")
    return list(xs)


def _card_list(xs: Any, max_len: int) -> list[int]:
    if type(xs) is not list or len(xs) > max_len:
        raise ValueError(f"expected at most {max_len} cards, got {xs!r:.80}")
    for x in xs:
        if type(x) is not int or not 0 <= x < NUM_CARDS:
            raise ValueError(f"expected card ids 0..{NUM_CARDS - 1}, got {x!r:.40}")
    if len(set(xs)) != len(xs):
        raise ValueError(f"repeated card in {xs!r:.80}")
    return list(xs)


def default_max_turns(game: DhumbalGame, max_turns: int | None) -> int:
    """``max_turns`` or, when None, twice the most decisions a legal game can take (invalid ones count)."""
    if max_turns is None:
        return 2 * game.rounds * (2 * game.turn_cap + 1)
    return max_turns


_DOC = """

    Description:
        Dhumbal (Jhyap), the Nepali draw-and-discard game, for 2–5 players: keep your hand's value low,
        discard singles, sets (2+ of a rank) and runs (3+ consecutive of a suit), draw from the pile or
        the deck, and call jhyap (hand worth at most ``jhyap_threshold``) when you believe you are lowest.
        ``ruleset="paper"`` reproduces the published code of arXiv 2510.11736 (see the module docstring).
    Observation:
        Text: your hand with values and total, the pile card on offer, deck size, every player's coins
        and hand size, what the others did since your last turn (round results with revealed hands),
        whose turn it is and the legal actions in words. Vector (``obs_mode="vector"``): ``Dict(
        observation=Box(602,), action_mask=MultiBinary(318))``: own hand (52), the pile card ``draw pile``
        would take (52), own discard this turn (52), phase (2), hand value / 50, hand size / 5, jhyap
        allowed, deck size / 52, turns / turn_cap, round / rounds, seat one-hot (5), then per opponent in
        turn order (4 slots, zero-padded): present, hand size / 5, coin change / 100, drew from the deck,
        its last discard (52), the card it took from the pile (52); last, own coin change / 100.
    Action:
        Text: ``jhyap``, ``draw pile``, ``draw deck``, or a discard written as cards: ``discard 7♠``,
        ``discard 5♣ 5♥``, ``discard run 3♦ 4♦ 5♦`` (ASCII suits ``c d h s``, ranks ``A 2..10 J Q K``,
        any card order, ``discard``/``run`` optional), bare, inside ``<action>…</action>``, or in
        ``[brackets]``; case-insensitive. Vector: ``Discrete(318)``: 0 jhyap, 1 draw pile, 2 draw deck,
        3–54 singles, 55–197 sets, 198–317 runs (``turngym.envs.cards.dhumbal_cards``).
    Reward:
        The seat's coin change (zero-sum), given when the episode ends (with ``rounds=1``, the step that
        ends the round); a successful call collects each other hand's value (capped at 100), a failed one
        pays the sum of all hands (each capped at 100) to the winner; ``invalid_action_penalty`` (default
        0) per invalid action.
    Episode end:
        Terminated after ``rounds`` rounds (a round ends at a jhyap call or at the ``turn_cap`` showdown);
        truncated when ``max_turns`` decisions (every seat's, invalid ones included) have been taken.
    Arguments:
        num_players (int): 2–5, default 4.
        rounds (int): rounds per episode, default 1; coins carry over, the leader rotates (standard).
        ruleset (str): ``"standard"`` (default) or ``"paper"``.
        jhyap_threshold (int): default 10.
        court_value (int | None): value of J, Q and K; None (default) gives 11, 12, 13; 10 is traditional.
        turn_cap (int): turns per round before the showdown, default 100.
        start_coins (int): default 10000.
        obs_mode (str): ``"text"`` (default) or ``"vector"``.
        max_turns (int | None): decision cap; default twice the longest legal game.
        invalid_action_penalty (float): default 0.0.
{extra}    Version history:
        v0: initial release.
"""


class DhumbalEnv(GameSingleAgentEnv):
    """Dhumbal (Jhyap), single-agent view: the learner plays ``seat`` against ``opponents``."""

    def __init__(self, opponents: Any = None, seat: int | str = 0, num_players: int = 4, rounds: int = 1,
                 ruleset: str = "standard", jhyap_threshold: int = 10, court_value: int | None = None,
                 turn_cap: int = 100, start_coins: int = 10_000, obs_mode: str = "text",
                 max_turns: int | None = None, invalid_action_penalty: float = 0.0, render_mode: str | None = None):
        game = DhumbalGame(num_players, rounds, ruleset, jhyap_threshold, court_value, turn_cap, start_coins)
        super().__init__(game, ENV_ID, opponents, seat, obs_mode, default_max_turns(game, max_turns),
                         invalid_action_penalty, render_mode)


class DhumbalAEC(GameAECEnv):
    """Dhumbal (Jhyap), PettingZoo AEC form (agents ``player_0`` … ``player_{n-1}``)."""

    def __init__(self, num_players: int = 4, rounds: int = 1, ruleset: str = "standard", jhyap_threshold: int = 10,
                 court_value: int | None = None, turn_cap: int = 100, start_coins: int = 10_000,
                 obs_mode: str = "text", max_turns: int | None = None, invalid_action_penalty: float = 0.0,
                 chance: str = "sample", render_mode: str | None = None):
        game = DhumbalGame(num_players, rounds, ruleset, jhyap_threshold, court_value, turn_cap, start_coins)
        super().__init__(game, ENV_ID, obs_mode, default_max_turns(game, max_turns), invalid_action_penalty, chance,
                         render_mode)


DhumbalEnv.__doc__ += _DOC.format(extra=SINGLE_ARGS)
DhumbalAEC.__doc__ += _DOC.format(extra=AEC_ARGS)
