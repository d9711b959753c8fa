"""Kuhn poker: the rules of Kuhn (1950) exactly as OpenSpiel's ``kuhn_poker`` plays them.

Three cards (J < Q < K); each player antes 1 and gets one card; player 0 acts first. Actions are pass
and bet (bet size 1). Sequences: pass-pass and bet-bet / pass-bet-bet go to showdown (higher card wins
the pot); a pass facing a bet folds. The game value for player 0 is -1/18.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from turngym.envs.cards.docs import AEC_ARGS, SINGLE_ARGS
from turngym.envs.core.aec import GameAECEnv
from turngym.envs.core.game import TurnGame
from turngym.envs.core.session import read_dict, read_int_list
from turngym.envs.core.single import GameSingleAgentEnv

ENV_ID = "turngym/KuhnPoker-v0"
PASS, BET = 0, 1
RANKS = "JQK"
_FIRST_CARD = [(c, 1.0 / 3.0) for c in range(3)]
_SECOND_CARD = [[(c, 0.5) for c in range(3) if c != first] for first in range(3)]


@dataclass(slots=True)
class KuhnState:
    """Mutable state of one Kuhn hand."""

    cards: list[int] = field(default_factory=lambda: [-1, -1])
    history: list[int] = field(default_factory=list)
    #: ``history`` as letters (p/b), kept in step by ``apply_action`` for the information-state key.
    bets: str = ""


class KuhnGame(TurnGame[KuhnState]):
    """Rules of two-player Kuhn poker (see the module docstring)."""

    title = "Kuhn poker"
    instruction = "Play one hand of Kuhn poker and win as many chips as you can."
    num_players = 2
    action_names = ("pass", "bet")
    aliases = {"check": PASS, "fold": PASS, "call": BET}
    obs_size = 2 + 3 + 3 * 2
    views_follow_info_state = True  # render/encode show only the own card, public card and bets

    def new_state(self) -> KuhnState:
        return KuhnState()

    def chance_outcomes(self, s: KuhnState) -> list[tuple[int, float]]:
        # Cached constant lists: callers must not mutate them.
        if s.cards[0] < 0:
            return _FIRST_CARD
        if s.cards[1] < 0:
            return _SECOND_CARD[s.cards[0]]
        return []

    def chance_pending(self, s: KuhnState) -> bool:
        return s.cards[1] < 0

    def apply_chance(self, s: KuhnState, outcome: int) -> None:
        s.cards[0 if s.cards[0] < 0 else 1] = outcome

    def is_terminal(self, s: KuhnState) -> bool:
        # pass-pass and bet-bet / bet-pass end after two moves; pass-bet needs a third.
        b = s.bets
        return len(b) == 3 or (len(b) == 2 and b != "pb")

    def current_player(self, s: KuhnState) -> int:
        b = s.bets
        if s.cards[1] < 0 or len(b) == 3 or (len(b) == 2 and b != "pb"):
            return -1
        return len(b) % 2

    def legal_actions(self, s: KuhnState) -> list[int]:
        return [PASS, BET]

    def apply_action(self, s: KuhnState, action: int) -> None:
        s.history.append(action)
        s.bets += "pb"[action]

    def returns(self, s: KuhnState) -> list[float]:
        if not self.is_terminal(s):
            return [0.0, 0.0]
        h = s.history
        if h == [BET, PASS]:
            return [1.0, -1.0]
        if h == [PASS, BET, PASS]:
            return [-1.0, 1.0]
        stake = 2.0 if BET in h else 1.0
        return [stake, -stake] if s.cards[0] > s.cards[1] else [-stake, stake]

    def info_encoding(self, s: KuhnState, player: int) -> str:
        return f"p{player}|c{s.cards[player]}|h{s.bets}"

    def encode(self, s: KuhnState, player: int, out: np.ndarray) -> None:
        out[player] = 1.0
        if s.cards[player] >= 0:
            out[2 + s.cards[player]] = 1.0
        for i, a in enumerate(s.history):
            out[5 + 2 * i + a] = 1.0

    def terminal_view_key(self, s: KuhnState, player: int) -> str | None:
        return f"{self.info_encoding(s, player)}|o{s.cards[1 - player]}"

    def render(self, s: KuhnState, player: int) -> str:
        me = lambda p: "you" if p == player else "opponent"  # noqa: E731
        moves = [f"{me(i % 2)} {self.action_names[a]}" for i, a in enumerate(s.history)]
        lines = [
            f"Kuhn poker (cards J < Q < K, ante 1, bet 1). You are player {player}; player 0 acts first.",
            f"Your card: {RANKS[s.cards[player]] if s.cards[player] >= 0 else '(not dealt)'}",
            "Betting so far: " + (", ".join(moves) or "none"),
        ]
        if self.is_terminal(s):
            ret = self.returns(s)[player]
            if s.history in ([BET, PASS], [PASS, BET, PASS]):
                lines.append(f"Hand over: {me((len(s.history) - 1) % 2)} folded.")
            else:
                lines.append(f"Showdown: your {RANKS[s.cards[player]]} vs opponent's {RANKS[s.cards[1 - player]]}.")
            lines.append(f"Result: you {'won' if ret > 0 else 'lost'}; your payoff {ret:+g}.")
        elif self.current_player(s) == player:
            facing = bool(s.history) and s.history[-1] == BET
            lines.append("Your turn: " + ("you face a bet (pass = fold, bet = call)." if facing
                                          else "no bet to you (pass = check, bet = bet 1)."))
        return "\n".join(lines)

    def to_json(self, s: KuhnState) -> Any:
        return {"cards": list(s.cards), "history": list(s.history)}

    def from_json(self, data: Any) -> KuhnState:
        fields = read_dict(data, "Kuhn state", ("cards", "history"))
        s = KuhnState(cards=read_int_list(fields["cards"], -1, 2, "Kuhn cards", length=2),
                      history=read_int_list(fields["history"], PASS, BET, "Kuhn history", max_length=3))
        s.bets = "".join("pb"[a] for a in s.history)
        return s

    def validate_state(self, s: KuhnState) -> None:
        """Replays the deal and the betting: the hand must be one the rules deal and bet to."""
        replay = self.new_state()
        for card in s.cards:
            if card < 0:
                break
            if card not in [c for c, _ in self.chance_outcomes(replay)]:
                raise ValueError(f"Kuhn deal {s.cards} is impossible (one deck of J, Q, K)")
            self.apply_chance(replay, card)
        if replay.cards != s.cards:
            raise ValueError(f"Kuhn deal {s.cards}: the second card is dealt after the first")
        for a in s.history:
            if self.current_player(replay) < 0:
                raise ValueError(f"Kuhn history {s.bets!r} goes on after the hand ended or before the deal")
            self.apply_action(replay, a)

    def copy_state(self, s: KuhnState) -> KuhnState:
        return KuhnState(list(s.cards), list(s.history), s.bets)


_DOC = """

    Description:
        Two-player Kuhn poker with the standard rules of OpenSpiel's ``kuhn_poker`` (cards J, Q, K;
        ante 1; one betting round with bet size 1). Game value for player 0: -1/18.
    Observation:
        Text: own card, the betting so far, whose turn it is and the legal actions in words. Vector
        (``obs_mode="vector"``): ``Dict(observation=Box(11,), action_mask=MultiBinary(2))`` with seat,
        own card and the betting history one-hot (3 slots x 2 actions).
    Action:
        Text: ``pass`` or ``bet`` (aliases ``check``/``fold`` = pass, ``call`` = bet), bare, inside
        ``<action>…</action>``, or in ``[brackets]``. Vector: ``Discrete(2)`` (0 pass, 1 bet).
    Reward:
        Chips won or lost at the end of the hand (zero-sum, in [-2, 2]); ``invalid_action_penalty``
        (default 0) per invalid action.
    Episode end:
        Terminated after pass-pass, bet-pass, bet-bet, pass-bet-pass or pass-bet-bet; truncated when
        ``max_turns`` turns (invalid ones included) have been taken.
    Arguments:
        obs_mode (str): ``"text"`` (default) or ``"vector"``.
        max_turns (int): turn cap, default 20.
        invalid_action_penalty (float): default 0.0.
{extra}    Version history:
        v0: initial release.
"""


class KuhnPokerEnv(GameSingleAgentEnv):
    """Kuhn poker, single-agent view: the learner plays ``seat`` against ``opponents``."""

    def __init__(self, opponents: Any = None, seat: int | str = 0, obs_mode: str = "text",
                 max_turns: int = 20, invalid_action_penalty: float = 0.0, render_mode: str | None = None):
        super().__init__(KuhnGame(), ENV_ID, opponents, seat, obs_mode, max_turns, invalid_action_penalty,
                         render_mode)


class KuhnPokerAEC(GameAECEnv):
    """Kuhn poker, PettingZoo AEC form (agents ``player_0``, ``player_1``)."""

    def __init__(self, obs_mode: str = "text", max_turns: int = 20, invalid_action_penalty: float = 0.0,
                 chance: str = "sample", render_mode: str | None = None):
        super().__init__(KuhnGame(), ENV_ID, obs_mode, max_turns, invalid_action_penalty, chance, render_mode)


KuhnPokerEnv.__doc__ += _DOC.format(extra=SINGLE_ARGS)
KuhnPokerAEC.__doc__ += _DOC.format(extra=AEC_ARGS)
