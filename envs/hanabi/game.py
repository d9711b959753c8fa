"""Hanabi: the rules of the Hanabi Learning Environment (HLE) exactly as OpenSpiel's ``hanabi`` plays them.

A cooperative card game for 2-5 players (Bard et al. 2020, "The Hanabi challenge"). The deck has ``colors``
colors of ``ranks`` ranks; each color holds three cards of the lowest rank, one of the highest and two of every
other rank (HLE ``NumberCardInstances``: 3/2/2/2/1 for five ranks). Every player holds ``hand_size`` cards that
everyone but the holder can see. On a turn a player either

* plays a card: it scores when it is the next rank of its color's firework (``fireworks[color] == rank``),
  otherwise the team loses a life token and the card is discarded; completing a firework (its highest rank)
  gives back an information token if the team has fewer than the maximum;
* discards a card, which gains an information token (illegal while the team holds the maximum);
* spends an information token to reveal to another player (named by seat offset: ``+1`` is the next player)
  every card of one color or of one rank in that player's hand; the hint must touch at least one card.

A played or discarded card is replaced from the deck (the new card goes to the end of the hand, slot 0 is the
oldest card). The game ends when the last life token is lost (the score is then 0), when every firework is
complete, or one full round after the deck runs out (HLE ``turns_to_play``: once the deck is empty every player,
the one who drew the last card included, has exactly one more turn). The score is the sum of the fireworks.

Identifiers follow HLE/OpenSpiel, so histories compare one to one: card type ``color * ranks + rank`` (also
the id of the chance outcome that deals it); move ids ``0..h-1`` discard slot ``i``, ``h..2h-1`` play slot
``i``, then color hints ``(offset - 1) * colors + color``, then rank hints ``(offset - 1) * ranks + rank``.
Player 0 starts (OpenSpiel's default ``random_start_player=false``). Card knowledge is HLE's: per card the
hinted color and rank (if any) and the colors and ranks still plausible given every hint that touched or
skipped it (negative information included; cards seen elsewhere are not used).
"""

# The rules override TurnGame's documented abstract methods; their contract lives there.

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from turngym.envs.core.game import TurnGame
from turngym.envs.core.session import read_dict, read_int_list
from turngym.envs.hanabi import views
from turngym.envs.hanabi.cards import (
    COLOR_LETTERS,
    COLOR_NAMES,
    DISCARD,
    PLAY,
    REVEAL_COLOR,
    REVEAL_RANK,
    HanabiConfig,
    HanabiState,
    Knowledge,
    MoveRecord,
    action_aliases,
    action_table,
    action_words,
)

__all__ = ["COLOR_LETTERS", "COLOR_NAMES", "DISCARD", "PLAY", "REVEAL_COLOR", "REVEAL_RANK", "HanabiConfig",
           "HanabiGame", "HanabiState", "Knowledge", "MoveRecord"]


class HanabiGame(TurnGame[HanabiState]):
    """Rules of Hanabi (see the module docstring); observations are in ``turngym.envs.hanabi.views``.

    Args:
        config: The game parameters.
    """

    title = "Hanabi"
    instruction = ("Play Hanabi with your partners: together, play the cards of each color in rank order to "
                   "build the fireworks, using hints to tell each other about the cards you cannot see.")
    # Views show only what a seat knows (others' cards, hints, the public board and recent moves) and are
    # built from ``info_encoding`` alone: see ``turngym.envs.hanabi.views``.
    views_follow_info_state = True

    def __init__(self, config: HanabiConfig | None = None):
        self.config = config = config if config is not None else HanabiConfig()
        self.num_players = config.players
        self.action_names = action_words(config)
        self._alias_pairs = action_aliases(config)
        self._actions = action_table(config)
        self.layout = views.VectorLayout.of(config)
        self.obs_size = self.layout.size
        # Longest history: the full deck dealt plus every move a game can have.
        self._max_history = config.deck_size + config.max_moves

    @property
    def aliases(self) -> dict[str, int]:  # type: ignore[override]
        """Extra accepted spellings (a property, so the instance stays hashable for the shared view cache)."""
        return dict(self._alias_pairs)

    def decode_action(self, action: int) -> tuple[int, int, int]:
        """(kind, slot or target offset, color or rank) of a move id."""
        return self._actions[action]

    # ------------------------------------------------------------------ state
    def new_state(self) -> HanabiState:
        c = self.config
        return HanabiState(
            deck=[c.instances(t % c.ranks) for t in range(c.card_types)], deck_size=c.deck_size,
            hands=[[] for _ in range(c.players)], knowledge=[[] for _ in range(c.players)],
            fireworks=[0] * c.colors, info_tokens=c.max_information_tokens, life_tokens=c.max_life_tokens,
            turns_to_play=c.players)

    def score(self, s: HanabiState) -> int:
        """HLE ``Score``: the sum of the fireworks, 0 once every life token is lost."""
        return 0 if s.life_tokens <= 0 else sum(s.fireworks)

    def is_terminal(self, s: HanabiState) -> bool:
        # HLE ``EndOfGameStatus``: out of lives, every firework complete, or the final round played.
        return s.life_tokens < 1 or sum(s.fireworks) >= self.config.max_score or s.turns_to_play <= 0

    def returns(self, s: HanabiState) -> list[float]:
        # OpenSpiel ``Returns``: the team's score for every seat (identical utility), also mid-game.
        return [float(self.score(s))] * self.num_players

    def player_to_deal(self, s: HanabiState) -> int:
        """HLE ``PlayerToDeal``: the first seat holding fewer than ``hand_size`` cards, or -1."""
        h = self.config.hand_size
        for p, hand in enumerate(s.hands):
            if len(hand) < h:
                return p
        return -1

    # ----------------------------------------------------------------- chance
    def chance_pending(self, s: HanabiState) -> bool:
        # HLE ``AdvanceToNextPlayer``: deal while the deck has cards and a hand is short (never after the end).
        return s.deck_size > 0 and self.player_to_deal(s) >= 0 and not self.is_terminal(s)

    def chance_outcomes(self, s: HanabiState) -> list[tuple[int, float]]:
        if not self.chance_pending(s):
            return []
        # HLE ``ChanceOutcomeProb``: a card type with probability (copies left) / (cards left).
        return [(t, k / s.deck_size) for t, k in enumerate(s.deck) if k > 0]

    def apply_chance(self, s: HanabiState, outcome: int) -> None:
        p = self.player_to_deal(s)
        c = self.config
        s.hands[p].append(outcome)
        s.knowledge[p].append(Knowledge(-1, -1, (1 << c.colors) - 1, (1 << c.ranks) - 1))
        s.deck[outcome] -= 1
        s.deck_size -= 1
        s.history.append(outcome)

    # ------------------------------------------------------------------ moves
    def current_player(self, s: HanabiState) -> int:
        if self.is_terminal(s) or self.chance_pending(s):
            return -1
        return s.player

    def legal_actions(self, s: HanabiState) -> list[int]:
        if self.current_player(s) < 0:
            return []
        c = self.config
        h, n, p = c.hand_size, c.players, s.player
        held = len(s.hands[p])
        # HLE ``MoveIsLegal``: discarding needs a token missing; a hint needs a token and must touch a card.
        acts = list(range(held)) if s.info_tokens < c.max_information_tokens else []
        acts += range(h, h + held)
        if s.info_tokens > 0:
            base = 2 * h
            for o in range(1, n):
                present = {card // c.ranks for card in s.hands[(p + o) % n]}
                acts += (base + (o - 1) * c.colors + color for color in sorted(present))
            base += (n - 1) * c.colors
            for o in range(1, n):
                present = {card % c.ranks for card in s.hands[(p + o) % n]}
                acts += (base + (o - 1) * c.ranks + rank for rank in sorted(present))
        return acts

    def illegal_reason(self, s: HanabiState, action: int) -> str:
        if self.is_terminal(s):
            return "the game is over"
        c = self.config
        kind, arg, value = self._actions[action]
        word = self.action_names[action]
        if kind in (PLAY, DISCARD):
            held = len(s.hands[s.player])
            if arg >= held:
                return f"{word} is not allowed: your hand holds {held} card(s), slots 0..{held - 1}"
            return (f"{word} is not allowed: the team already holds all {c.max_information_tokens} info tokens "
                    "(play a card or give a hint)")
        if s.info_tokens <= 0:
            return f"{word} is not allowed: no info tokens left (play or discard a card instead)"
        target = (s.player + arg) % c.players
        what = f"{COLOR_NAMES[value]} card" if kind == REVEAL_COLOR else f"card of rank {value + 1}"
        return f"{word} is not allowed: player {target} holds no {what} (a hint must touch at least one card)"

    def apply_action(self, s: HanabiState, action: int) -> None:
        c = self.config
        if s.deck_size == 0:
            s.turns_to_play -= 1  # HLE: every move made with an empty deck uses up the final round
        p = s.player
        kind, arg, value = self._actions[action]
        before = self.score(s)
        card, scored, token, reveal = -1, False, False, 0
        if kind in (PLAY, DISCARD):
            card = s.hands[p].pop(arg)
            del s.knowledge[p][arg]
            color, rank = divmod(card, c.ranks)
            if kind == DISCARD:
                s.info_tokens += 1  # legal only below the maximum
                s.discards.append(card)
            elif s.fireworks[color] == rank:
                scored = True
                s.fireworks[color] += 1
                if rank == c.ranks - 1 and s.info_tokens < c.max_information_tokens:
                    token = True  # HLE ``AddToFireworks``: a completed firework gives back a token
                    s.info_tokens += 1
            else:
                s.life_tokens -= 1
                s.discards.append(card)
        else:
            s.info_tokens -= 1
            target = (p + arg) % c.players
            knowledge = s.knowledge[target]
            for i, held in enumerate(s.hands[target]):
                k = knowledge[i]
                # HLE ``RevealColor``/``RevealRank``: a touched card learns the value, the others learn
                # they do not have it.
                if kind == REVEAL_COLOR:
                    if held // c.ranks == value:
                        reveal |= 1 << i
                        knowledge[i] = k._replace(color=value, colors=1 << value)
                    else:
                        knowledge[i] = k._replace(colors=k.colors & ~(1 << value))
                elif held % c.ranks == value:
                    reveal |= 1 << i
                    knowledge[i] = k._replace(rank=value, ranks=1 << value)
                else:
                    knowledge[i] = k._replace(ranks=k.ranks & ~(1 << value))
        s.moves.append(MoveRecord(p, action, card, scored, token, reveal, before))
        s.history.append(action)
        s.player = (p + 1) % c.players

    # ----------------------------------------------------------- observations
    def info_encoding(self, s: HanabiState, player: int) -> str:
        return views.info_encoding(self, s, player)

    def terminal_view_key(self, s: HanabiState, player: int) -> str | None:
        return views.info_encoding(self, s, player)  # the final view hides the own hand too

    def render(self, s: HanabiState, player: int) -> str:
        return views.render(self, s, player)

    def encode(self, s: HanabiState, player: int, out: np.ndarray) -> None:
        views.encode(self, s, player, out)

    # -------------------------------------------------------------- snapshots
    def to_json(self, s: HanabiState) -> Any:
        return {"history": list(s.history)}

    def from_json(self, data: Any) -> HanabiState:
        fields = read_dict(data, "Hanabi state", ("history",))
        top = max(self.config.card_types, self.config.num_actions) - 1
        history = read_int_list(fields["history"], 0, top, "Hanabi history", max_length=self._max_history)
        # Hands, deck, tokens and knowledge follow from the deals and moves; replaying checks each one.
        return self.replay(history)

    def replay(self, history: Sequence[int]) -> HanabiState:
        """The state a history (deals and moves, OpenSpiel's order) leads to, checking every event.

        Raises:
            ValueError: A deal of a card the deck no longer holds, an illegal move, or an event after the end.
        """
        s = self.new_state()
        for k, event in enumerate(history):
            if self.chance_pending(s):
                if not 0 <= event < len(s.deck) or s.deck[event] <= 0:
                    raise ValueError(f"Hanabi history: event {k} deals card {event}, which the deck does not hold")
                self.apply_chance(s, event)
            elif self.is_terminal(s) or event not in self.legal_actions(s):
                raise ValueError(f"Hanabi history: move {k} ({event}) is not legal there")
            else:
                self.apply_action(s, event)
        return s

    def copy_state(self, s: HanabiState) -> HanabiState:
        return HanabiState(list(s.history), list(s.deck), s.deck_size, [list(h) for h in s.hands],
                           [list(k) for k in s.knowledge], list(s.fireworks), s.info_tokens, s.life_tokens,
                           list(s.discards), s.player, s.turns_to_play, list(s.moves))
