"""What a Hanabi seat sees: the text view, HLE's canonical vector encoding, and the information-state key.

A seat sees every other hand, the hints known about every card (its own included), the board (fireworks,
tokens, deck size, discards) and the moves since its own last turn; never its own cards. All three views are
built from the same fields, and the text and the key cover exactly what the text shows, so two states that
differ only in the observer's own cards give the same text, vector and ``state_key`` (tested).

The vector observation is HLE's ``CanonicalObservationEncoder`` (OpenSpiel's ``observation_tensor`` with the
default ``observation_type``), bit for bit, in five sections: other hands (one-hot cards, seats in turn
order after the observer) and a missing-card flag per seat; board (deck-size thermometer, one-hot firework
heights, token thermometers); discards (a thermometer per card type); the last move (mover, type, target,
color, rank, touched slots, slot, card, scored, token gained); and the card knowledge of every seat (plausible
cards, hinted color, hinted rank). ``VectorLayout`` holds the offsets, and the built-in partner reads
observations back through it, so writer and reader cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from turngym.envs.hanabi.cards import (
    COLOR_LETTERS,
    COLOR_NAMES,
    DISCARD,
    PLAY,
    REVEAL_COLOR,
    HanabiConfig,
    HanabiState,
    Knowledge,
    MoveRecord,
)

if TYPE_CHECKING:
    from turngym.envs.hanabi.game import HanabiGame


@dataclass(frozen=True)
class VectorLayout:
    """Offsets of the sections of HLE's canonical encoding for one config.

    Attributes:
        config: The game parameters.
        hands: Start of the other players' cards (``(players - 1) * hand_size`` slots of ``card_types`` bits).
        missing: Start of the per-seat "holds fewer than hand_size cards" flags.
        deck: Start of the deck-size thermometer (``deck_size - players * hand_size`` bits).
        fireworks: Start of the fireworks (``ranks`` bits per color, the height's bit ``height - 1``).
        info: Start of the information-token thermometer.
        life: Start of the life-token thermometer.
        discards: Start of the discard thermometers (one bit per copy of each card type).
        last: Start of the last-move section.
        knowledge: Start of the card knowledge (``players * hand_size`` cards of
            ``card_types + colors + ranks`` bits, seats in turn order from the observer).
        size: Length of the whole vector.
    """

    config: HanabiConfig
    hands: int
    missing: int
    deck: int
    fireworks: int
    info: int
    life: int
    discards: int
    last: int
    knowledge: int
    size: int

    @classmethod
    def of(cls, c: HanabiConfig) -> VectorLayout:
        """The layout of ``c`` (HLE ``CanonicalObservationEncoder::Shape``)."""
        n, h, b = c.players, c.hand_size, c.card_types
        missing = (n - 1) * h * b
        deck = missing + n
        fireworks = deck + c.deck_size - n * h
        info = fireworks + b
        life = info + c.max_information_tokens
        discards = life + c.max_life_tokens
        last = discards + c.deck_size
        knowledge = last + n + 4 + n + c.colors + c.ranks + 2 * h + b + 2
        size = knowledge + n * h * (b + c.colors + c.ranks)
        return cls(c, 0, missing, deck, fireworks, info, life, discards, last, knowledge, size)

    # ---------------------------------------------------------- reading back
    def read_fireworks(self, vec: np.ndarray) -> list[int]:
        """Height of each firework."""
        r = self.config.ranks
        out = []
        for color in range(self.config.colors):
            bits = np.flatnonzero(vec[self.fireworks + color * r:self.fireworks + (color + 1) * r] > 0.5)
            out.append(int(bits[0]) + 1 if len(bits) else 0)
        return out

    def read_info_tokens(self, vec: np.ndarray) -> int:
        """Information tokens the team holds."""
        return int((vec[self.info:self.life] > 0.5).sum())

    def read_hand(self, vec: np.ndarray, offset: int) -> list[int]:
        """Card types held by the seat ``offset`` (1..players-1) after the observer, slot 0 first."""
        c = self.config
        b = c.card_types
        start = self.hands + (offset - 1) * c.hand_size * b
        cards = []
        for i in range(c.hand_size):
            bits = np.flatnonzero(vec[start + i * b:start + (i + 1) * b] > 0.5)
            if not len(bits):
                break
            cards.append(int(bits[0]))
        return cards

    def read_knowledge(self, vec: np.ndarray, offset: int) -> list[Knowledge]:
        """Knowledge of the cards of seat ``offset`` (0 = the observer) as ``Knowledge`` (masks of plausible values)."""
        c = self.config
        b, width = c.card_types, c.card_types + c.colors + c.ranks
        out = []
        for i in range(c.hand_size):
            start = self.knowledge + (offset * c.hand_size + i) * width
            plausible = np.flatnonzero(vec[start:start + b] > 0.5)
            if not len(plausible):
                break  # an absent card (HLE leaves its bits empty); a held card always has one plausible type
            colors = ranks = 0
            for t in plausible:
                colors |= 1 << int(t) // c.ranks
                ranks |= 1 << int(t) % c.ranks
            color = np.flatnonzero(vec[start + b:start + b + c.colors] > 0.5)
            rank = np.flatnonzero(vec[start + b + c.colors:start + width] > 0.5)
            out.append(Knowledge(int(color[0]) if len(color) else -1, int(rank[0]) if len(rank) else -1,
                                 colors, ranks))
        return out


def plausible_cards(k: Knowledge, c: HanabiConfig) -> list[int]:
    """Card types a card with knowledge ``k`` may be (HLE: plausible color x plausible rank)."""
    return [color * c.ranks + rank for color in range(c.colors) if k.colors >> color & 1
            for rank in range(c.ranks) if k.ranks >> rank & 1]


def recent_moves(s: HanabiState, player: int) -> list[MoveRecord]:
    """The moves since ``player``'s last turn, that turn included, oldest first (HLE ``LastMoves``)."""
    out = []
    for m in reversed(s.moves):
        out.append(m)
        if m.player == player:
            break
    out.reverse()
    return out


# ------------------------------------------------------------------ vector
def encode(game: HanabiGame, s: HanabiState, me: int, out: np.ndarray) -> None:
    """Writes HLE's canonical encoding of ``s`` seen by ``me`` into the zeroed array ``out``."""
    c, lay = game.config, game.layout
    n, h, b, r = c.players, c.hand_size, c.card_types, c.ranks
    hands = [s.hands[(me + o) % n] for o in range(n)]
    for o in range(1, n):
        start = lay.hands + (o - 1) * h * b
        for i, card in enumerate(hands[o]):
            out[start + i * b + card] = 1.0
    for o in range(n):
        if len(hands[o]) < h:
            out[lay.missing + o] = 1.0
    # The thermometer is sized for the deck after the first deal; during that deal (explicit chance only) HLE
    # would write past it, here it is clipped.
    out[lay.deck:lay.deck + min(s.deck_size, lay.fireworks - lay.deck)] = 1.0
    for color, height in enumerate(s.fireworks):
        if height > 0:
            out[lay.fireworks + color * r + height - 1] = 1.0
    out[lay.info:lay.info + s.info_tokens] = 1.0
    out[lay.life:lay.life + s.life_tokens] = 1.0
    counts = [0] * b
    for card in s.discards:
        counts[card] += 1
    offset = lay.discards
    for card in range(b):
        out[offset:offset + counts[card]] = 1.0
        offset += c.instances(card % r)
    if s.moves:
        _encode_last_move(game, s.moves[-1], me, out)
    offset = lay.knowledge
    width = b + c.colors + r
    for o in range(n):
        for i, k in enumerate(s.knowledge[(me + o) % n]):
            start = offset + i * width
            for card in plausible_cards(k, c):
                out[start + card] = 1.0
            if k.color >= 0:
                out[start + b + k.color] = 1.0
            if k.rank >= 0:
                out[start + b + c.colors + k.rank] = 1.0
        offset += h * width


def _encode_last_move(game: HanabiGame, m: MoveRecord, me: int, out: np.ndarray) -> None:
    """HLE ``EncodeLastAction``: the most recent player move, seats relative to the observer ``me``."""
    c = game.config
    n, h = c.players, c.hand_size
    kind, arg, value = game.decode_action(m.action)
    mover = (m.player - me) % n
    offset = game.layout.last
    out[offset + mover] = 1.0
    offset += n
    out[offset + kind] = 1.0  # play, discard, reveal color, reveal rank
    offset += 4
    if kind >= REVEAL_COLOR:
        out[offset + (mover + arg) % n] = 1.0
    offset += n
    if kind == REVEAL_COLOR:
        out[offset + value] = 1.0
    offset += c.colors
    if kind > REVEAL_COLOR:
        out[offset + value] = 1.0
    offset += c.ranks
    if kind >= REVEAL_COLOR:
        for i in range(h):
            if m.reveal >> i & 1:
                out[offset + i] = 1.0
    offset += h
    if kind in (PLAY, DISCARD):
        out[offset + arg] = 1.0
        out[offset + h + m.card] = 1.0
    offset += h + c.card_types
    if kind == PLAY:
        out[offset] = float(m.scored)
        out[offset + 1] = float(m.token)


# --------------------------------------------------------- information state
def info_encoding(game: HanabiGame, s: HanabiState, me: int) -> str:
    """Canonical string of everything seat ``me`` sees (its text view and its vector are functions of it).

    The seat, the player to move (relative), the board, the final-round counter, the discards in order, the
    other hands, the knowledge of every hand, and the moves since ``me``'s last turn (movers relative). It is an
    observation, not the whole history: GiGPO's anchor states group the turns that look the same.
    """
    n = game.config.players
    cur = game.current_player(s)
    hands = ";".join(",".join(map(str, s.hands[(me + o) % n])) for o in range(1, n))
    knowledge = ";".join(",".join(f"{k.color}.{k.rank}.{k.colors}.{k.ranks}" for k in s.knowledge[(me + o) % n])
                         for o in range(n))
    moves = ";".join(f"{(m.player - me) % n}.{m.action}.{m.card}.{int(m.scored)}{int(m.token)}.{m.reveal}"
                     for m in recent_moves(s, me))
    over = "T" if game.is_terminal(s) else ("-" if cur < 0 else str((cur - me) % n))
    return (f"p{me}|c{over}|f{','.join(map(str, s.fireworks))}|i{s.info_tokens}|l{s.life_tokens}|d{s.deck_size}"
            f"|t{s.turns_to_play}|x{','.join(map(str, s.discards))}|h{hands}|k{knowledge}|m{moves}")


# ------------------------------------------------------------------- text
def _values(mask: int, symbols: str) -> str:
    return "".join(ch for i, ch in enumerate(symbols) if mask >> i & 1)


def describe_knowledge(k: Knowledge, c: HanabiConfig) -> str:
    """A card's knowledge as text: hinted color and rank (``?`` when not hinted), then what is still possible."""
    known = (COLOR_LETTERS[k.color] if k.color >= 0 else "?") + (str(k.rank + 1) if k.rank >= 0 else "?")
    colors = _values(k.colors, COLOR_LETTERS[:c.colors])
    ranks = _values(k.ranks, "".join(str(r + 1) for r in range(c.ranks)))
    return f"{known} (possible colors {colors}, ranks {ranks})"


def describe_move(game: HanabiGame, m: MoveRecord, me: int) -> str:
    """One move as ``me`` reads it (``you`` for ``me``, ``player k`` for the others)."""
    c = game.config
    who = "you" if m.player == me else f"player {m.player}"
    kind, arg, value = game.decode_action(m.action)
    card = c.card_name(m.card) if m.card >= 0 else ""
    if kind == DISCARD:
        return f"{who} discarded slot {arg}: {card} (+1 info token)"
    if kind == PLAY:
        if not m.scored:
            return f"{who} played slot {arg}: {card}, which did not fit; the team lost a life token"
        return f"{who} played slot {arg}: {card}, which fit its firework" + (
            " and completed it (+1 info token)" if m.token else "")
    target = (m.player + arg) % c.players
    whom = "you" if target == me else f"player {target}"
    what = COLOR_NAMES[value] if kind == REVEAL_COLOR else f"rank {value + 1}"
    slots = ", ".join(str(i) for i in range(c.hand_size) if m.reveal >> i & 1)
    return f"{who} told {whom}: {what} in slot(s) {slots}"


def render(game: HanabiGame, s: HanabiState, me: int) -> str:
    """The text view of seat ``me`` (the session appends the legal actions)."""
    c = game.config
    n = c.players
    colors = ", ".join(f"{COLOR_LETTERS[i]} {COLOR_NAMES[i]}" for i in range(c.colors))
    lines = [
        f"Hanabi, a cooperative card game: {n} players, colors {colors}, ranks 1-{c.ranks}, {c.hand_size} cards "
        f"per hand. You are player {me}.",
        f"The team plays each color's cards in rank order onto its firework; the score is the sum of the "
        f"fireworks, {c.max_score} at most. You see every hand but your own. On your turn, play a card (one that "
        f"does not fit costs a life token; losing all {c.max_life_tokens} makes the score 0), discard a card "
        "(+1 info token), or spend an info token to tell another player which of their cards have one color or "
        "one rank. Players are named by offset in actions: +1 is the next player.",
    ]
    heights = ", ".join(f"{COLOR_LETTERS[i]} {h}" + (" (complete)" if h == c.ranks else "")
                        for i, h in enumerate(s.fireworks))
    nxt = [c.card_name(i * c.ranks + h) for i, h in enumerate(s.fireworks) if h < c.ranks]
    lines.append(f"Score: {game.score(s)} of {c.max_score}. Fireworks: {heights}"
                 + (f" (playable next: {', '.join(nxt)})." if nxt else "."))
    lines.append(f"Info tokens: {s.info_tokens} of {c.max_information_tokens}. Life tokens: {s.life_tokens} of "
                 f"{c.max_life_tokens}. Deck: {s.deck_size} card(s).")
    over = game.is_terminal(s)
    if s.deck_size == 0 and not over:
        lines.append(f"The deck is empty: {s.turns_to_play} turn(s) left in the game.")
    lines.append("Discarded: " + (", ".join(c.card_name(x) for x in s.discards) or "none") + ".")
    recent = recent_moves(s, me)
    if recent:
        mine = any(m.player == me for m in recent)
        lines.append("Since your last turn:" if mine else "Moves so far:")
        lines += [f"  {describe_move(game, m, me)}." for m in recent]
    for o in range(1, n):
        q = (me + o) % n
        lines.append(f"Player {q} (+{o}) holds (slot 0 is the oldest; 'they know' is what hints told them):")
        lines += [f"  slot {i}: {c.card_name(card)}; they know {describe_knowledge(k, c)}"
                  for i, (card, k) in enumerate(zip(s.hands[q], s.knowledge[q], strict=True))]
    lines.append("Your hand (hidden from you; what hints told you):")
    lines += [f"  slot {i}: {describe_knowledge(k, c)}" for i, k in enumerate(s.knowledge[me])]
    if not s.knowledge[me]:
        lines.append("  (no cards)")
    if over:
        if s.life_tokens < 1:
            lines.append("Game over: the team lost its last life token, so the score is 0.")
        elif sum(s.fireworks) >= c.max_score:
            lines.append(f"Game over: every firework is complete. Final score {c.max_score} of {c.max_score}.")
        else:
            lines.append(f"Game over: the deck ran out and the final round is played. Final score "
                         f"{game.score(s)} of {c.max_score}.")
    else:
        cur = game.current_player(s)
        if cur == me:
            lines.append("Your turn: play or discard a card of your hand by slot, or give a hint.")
        elif cur < 0:
            lines.append("Waiting for a card to be dealt.")
        else:
            lines.append(f"Waiting for player {cur} to move.")
    return "\n".join(lines)


def describe_state(game: HanabiGame, s: HanabiState) -> dict[str, Any]:
    """The public board as plain data (fireworks, tokens, deck size, discards, score): tests and logs."""
    return {"fireworks": list(s.fireworks), "info_tokens": s.info_tokens, "life_tokens": s.life_tokens,
            "deck_size": s.deck_size, "discards": [game.config.card_name(x) for x in s.discards],
            "score": game.score(s)}
