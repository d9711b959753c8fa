"""Leduc hold'em: the rules of Southey et al. (2005) exactly as OpenSpiel's ``leduc_poker`` plays them.

Six cards (J, Q, K in two suits); each player antes 1 and gets one private card; round 1 of betting;
one public card; round 2. Raise size 2 in round 1 and 4 in round 2, at most two raises per round,
player 0 acts first in both rounds. Fold is legal only when facing a bet. Showdown: a player whose
card pairs the public card wins; otherwise the higher rank wins; equal ranks split the pot.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from turngym.envs.cards.docs import AEC_ARGS, SINGLE_ARGS
from turngym.envs.core.aec import GameAECEnv
from turngym.envs.core.game import TurnGame
from turngym.envs.core.session import read_bool, read_dict, read_int, read_int_list, read_list
from turngym.envs.core.single import GameSingleAgentEnv

ENV_ID = "turngym/LeducHoldem-v0"
FOLD, CALL, RAISE = 0, 1, 2
RANKS = "JQK"
SUITS = "♠♥"
RAISE_SIZE = (2, 4)
MAX_RAISES = 2
HISTORY_SLOTS = 4  # the longest round is call, raise, raise, call


@functools.cache
def _deal_outcomes(*used: int) -> list[tuple[int, float]]:
    """Uniform deal over the cards not in ``used`` (-1 = not dealt); cached, callers must not mutate it."""
    rest = [c for c in range(6) if c not in used]
    return [(c, 1.0 / len(rest)) for c in rest]


def card_name(card: int) -> str:
    """``J♠`` for card 0, ``J♥`` for 1, … ``K♥`` for 5 (rank = card // 2, suit = card % 2)."""
    return RANKS[card // 2] + SUITS[card % 2]


@dataclass(slots=True)
class LeducState:
    """Mutable state of one Leduc hand."""

    private: list[int] = field(default_factory=lambda: [-1, -1])
    public: int = -1
    round: int = 0
    history: list[list[int]] = field(default_factory=lambda: [[], []])
    contrib: list[int] = field(default_factory=lambda: [1, 1])
    raises: int = 0
    player: int = 0
    folded: int = -1
    over: bool = False
    #: The betting as letters (f/c/r), rounds separated by "/": ``history`` in the form the information
    #: state key uses, kept in step with it by ``apply_action`` so keys cost no join per step.
    bets: str = ""


class LeducGame(TurnGame[LeducState]):
    """Rules of two-player Leduc hold'em (see the module docstring)."""

    title = "Leduc hold'em"
    instruction = "Play one hand of Leduc hold'em and win as many chips as you can."
    num_players = 2
    action_names = ("fold", "call", "raise")
    aliases = {"check": CALL, "bet": RAISE}
    obs_size = 2 + 6 + 6 + 2 + 2 * HISTORY_SLOTS * 3 + 2
    views_follow_info_state = True  # render/encode show only the own card, public card and bets

    def new_state(self) -> LeducState:
        return LeducState()

    def chance_pending(self, s: LeducState) -> bool:
        """True while a deal is due: a private card, or the public card once round 2 has begun."""
        return not s.over and (s.private[1] < 0 or (s.round == 1 and s.public < 0))

    def chance_outcomes(self, s: LeducState) -> list[tuple[int, float]]:
        if not self.chance_pending(s):
            return []
        return _deal_outcomes(s.private[0], s.private[1], s.public)

    def apply_chance(self, s: LeducState, outcome: int) -> None:
        if s.private[0] < 0:
            s.private[0] = outcome
        elif s.private[1] < 0:
            s.private[1] = outcome
        else:
            s.public = outcome

    def current_player(self, s: LeducState) -> int:
        # chance_pending, inlined: this runs several times per step (same test as chance_outcomes).
        if s.over or s.private[1] < 0 or (s.round == 1 and s.public < 0):
            return -1
        return s.player

    def to_call(self, s: LeducState) -> int:
        """Chips the player to act must add to match the other."""
        return s.contrib[1 - s.player] - s.contrib[s.player]

    def legal_actions(self, s: LeducState) -> list[int]:
        acts = [FOLD] if self.to_call(s) > 0 else []
        acts.append(CALL)
        if s.raises < MAX_RAISES:
            acts.append(RAISE)
        return acts

    def illegal_reason(self, s: LeducState, action: int) -> str:
        if action == FOLD:
            return "fold is not allowed: there is no bet to fold to (use call to check)"
        if action == RAISE:
            return f"raise is not allowed: this round already has {MAX_RAISES} raises"
        return super().illegal_reason(s, action)

    def apply_action(self, s: LeducState, action: int) -> None:
        p = s.player
        s.history[s.round].append(action)
        s.bets += "fcr"[action]
        if action == FOLD:
            s.folded = p
            s.over = True
            return
        if action == RAISE:
            s.contrib[p] = s.contrib[1 - p] + RAISE_SIZE[s.round]
            s.raises += 1
            s.player = 1 - p
            return
        # Call (a check when nothing is owed). Any call but the round's first action closes the round.
        s.contrib[p] = s.contrib[1 - p]
        if len(s.history[s.round]) >= 2:
            if s.round == 1:
                s.over = True
            else:
                s.round, s.raises, s.player = 1, 0, 0
                s.bets += "/"
        else:
            s.player = 1 - p

    def is_terminal(self, s: LeducState) -> bool:
        return s.over

    def winner(self, s: LeducState) -> int:
        """Winning seat, or -1 for a split pot."""
        if s.folded >= 0:
            return 1 - s.folded
        pub = s.public // 2
        r0, r1 = s.private[0] // 2, s.private[1] // 2
        if r0 == pub:
            return 0
        if r1 == pub:
            return 1
        return -1 if r0 == r1 else (0 if r0 > r1 else 1)

    def returns(self, s: LeducState) -> list[float]:
        if not s.over:
            return [0.0, 0.0]
        w = self.winner(s)
        if w < 0:
            return [0.0, 0.0]
        won = float(s.contrib[1 - w])
        return [won, -won] if w == 0 else [-won, won]

    def info_encoding(self, s: LeducState, player: int) -> str:
        return f"p{player}|c{s.private[player]}|b{s.public}|h{s.bets}"

    def encode(self, s: LeducState, player: int, out: np.ndarray) -> None:
        out[player] = 1.0
        if s.private[player] >= 0:
            out[2 + s.private[player]] = 1.0
        if s.public >= 0:
            out[8 + s.public] = 1.0
        out[14 + s.round] = 1.0
        base = 16
        for r, h in enumerate(s.history):
            for i, a in enumerate(h[:HISTORY_SLOTS]):
                out[base + (r * HISTORY_SLOTS + i) * 3 + a] = 1.0
        out[base + 2 * HISTORY_SLOTS * 3] = s.contrib[player] / 13.0
        out[base + 2 * HISTORY_SLOTS * 3 + 1] = s.contrib[1 - player] / 13.0

    def terminal_view_key(self, s: LeducState, player: int) -> str | None:
        return f"{self.info_encoding(s, player)}|o{s.private[1 - player]}"

    def render(self, s: LeducState, player: int) -> str:
        me = lambda p: "you" if p == player else "opponent"  # noqa: E731
        lines = [
            f"Leduc hold'em. You are player {player} (player 0 acts first in each round).",
            f"Your card: {card_name(s.private[player]) if s.private[player] >= 0 else '(not dealt)'}",
            f"Public card: {card_name(s.public) if s.public >= 0 else '(not dealt yet)'}",
            f"Pot: {sum(s.contrib)} chips (you put in {s.contrib[player]}, opponent {s.contrib[1 - player]}).",
        ]
        for r, h in enumerate(s.history):
            if r > s.round:
                break
            actor = 0
            moves = []
            for a in h:
                moves.append(f"{me(actor)} {self.action_names[a]}")
                actor = 1 - actor
            lines.append(f"Round {r + 1} (raise size {RAISE_SIZE[r]}): " + (", ".join(moves) or "no bets yet"))
        if s.over:
            w = self.winner(s)
            if s.folded >= 0:
                lines.append(f"Hand over: {me(s.folded)} folded.")
            else:
                cards = f"your {card_name(s.private[player])} vs opponent's {card_name(s.private[1 - player])}"
                lines.append(f"Showdown: {cards}.")
            ret = self.returns(s)[player]
            lines.append("Result: split pot." if w < 0 else f"Result: {me(w)} won; your payoff {ret:+g}.")
        elif s.player == player:
            owed = self.to_call(s)
            lines.append(f"Round {s.round + 1}: your turn; {'you owe ' + str(owed) if owed else 'nothing to call'}, "
                         f"{MAX_RAISES - s.raises} raise(s) left this round.")
        return "\n".join(lines)

    def to_json(self, s: LeducState) -> Any:
        return {
            "private": s.private, "public": s.public, "round": s.round, "history": s.history,
            "contrib": s.contrib, "raises": s.raises, "player": s.player, "folded": s.folded, "over": s.over,
        }

    def from_json(self, data: Any) -> LeducState:
        f = read_dict(data, "Leduc state", ("private", "public", "round", "history", "contrib", "raises", "player",
                                            "folded", "over"))
        history = read_list(f["history"], "Leduc history", length=2)
        s = LeducState(
            private=read_int_list(f["private"], -1, 5, "Leduc private cards", length=2),
            public=read_int(f["public"], -1, 5, "Leduc public card"), round=read_int(f["round"], 0, 1, "Leduc round"),
            history=[read_int_list(h, FOLD, RAISE, "Leduc history", max_length=HISTORY_SLOTS) for h in history],
            contrib=read_int_list(f["contrib"], 1, 13, "Leduc contributions", length=2),
            raises=read_int(f["raises"], 0, MAX_RAISES, "Leduc raises"),
            player=read_int(f["player"], 0, 1, "Leduc player"),
            folded=read_int(f["folded"], -1, 1, "Leduc folded"), over=read_bool(f["over"], "Leduc over"),
        )
        s.bets = "".join("fcr"[a] for a in s.history[0]) + ("/" if s.round == 1 else "")
        s.bets += "".join("fcr"[a] for a in s.history[1])
        return s

    def validate_state(self, s: LeducState) -> None:
        """Replays the deal and the betting; the stored stakes, turn and flags must be what they produce.

        (A forged ``contrib`` would otherwise pay any amount: ``[1, -50]`` pays +-50, outside [-13, 13].)
        """
        replay = self.new_state()
        dealt = [*s.private, s.public]
        for i in (0, 1):
            if dealt[i] < 0:
                break
            self._replay_deal(replay, dealt[i], s)
        for r in (0, 1):
            if r == 1 and replay.round == 1 and s.public >= 0:
                self._replay_deal(replay, s.public, s)
            for a in s.history[r]:
                if self.current_player(replay) < 0 or replay.round != r or a not in self.legal_actions(replay):
                    raise ValueError(f"Leduc history {s.history} is not a legal betting sequence")
                self.apply_action(replay, a)
        expected = (replay.private, replay.public, replay.round, replay.contrib, replay.raises, replay.player,
                    replay.folded, replay.over)
        if (s.private, s.public, s.round, s.contrib, s.raises, s.player, s.folded, s.over) != expected:
            raise ValueError("Leduc state does not match its deal and betting history")

    def _replay_deal(self, replay: LeducState, card: int, s: LeducState) -> None:
        if card not in [c for c, _ in self.chance_outcomes(replay)]:
            raise ValueError(f"Leduc deal {s.private} / {s.public} deals a card twice or out of turn")
        self.apply_chance(replay, card)

    def copy_state(self, s: LeducState) -> LeducState:
        return LeducState(list(s.private), s.public, s.round, [list(s.history[0]), list(s.history[1])],
                          list(s.contrib), s.raises, s.player, s.folded, s.over, s.bets)


_DOC = """

    Description:
        Two-player Leduc hold'em with the standard rules of OpenSpiel's ``leduc_poker`` (six cards,
        ante 1, two betting rounds, raise sizes 2 then 4, at most two raises per round), so results
        compare with published numbers. Chance (the deal) is sampled inside the env.
    Observation:
        Text: own card, public card, pot and contributions, the betting history of each round, whose
        turn it is and the legal actions in words. Vector (``obs_mode="vector"``): ``Dict(observation=
        Box(42,), action_mask=MultiBinary(3))`` with seat, private card, public card, round, the betting
        history one-hot (4 slots x 3 actions per round) and both contributions / 13.
    Action:
        Text: ``fold``, ``call`` or ``raise`` (aliases ``check`` = call, ``bet`` = raise), bare, inside
        ``<action>…</action>``, or in ``[brackets]``. Vector: ``Discrete(3)`` (0 fold, 1 call, 2 raise).
    Reward:
        Chips won or lost at the end of the hand (zero-sum, in [-13, 13]); ``invalid_action_penalty``
        (default 0) per invalid action.
    Episode end:
        Terminated on a fold or at the showdown; truncated when ``max_turns`` turns (invalid ones
        included) have been taken.
    Arguments:
        obs_mode (str): ``"text"`` (default) or ``"vector"``.
        max_turns (int): turn cap, default 50.
        invalid_action_penalty (float): default 0.0.
{extra}    Version history:
        v0: initial release.
"""


class LeducHoldemEnv(GameSingleAgentEnv):
    """Leduc hold'em, single-agent view: the learner plays ``seat`` against ``opponents``."""

    def __init__(self, opponents: Any = None, seat: int | str = 0, obs_mode: str = "text",
                 max_turns: int = 50, invalid_action_penalty: float = 0.0, render_mode: str | None = None):
        super().__init__(LeducGame(), ENV_ID, opponents, seat, obs_mode, max_turns, invalid_action_penalty,
                         render_mode)


class LeducHoldemAEC(GameAECEnv):
    """Leduc hold'em, PettingZoo AEC form (agents ``player_0``, ``player_1``)."""

    def __init__(self, obs_mode: str = "text", max_turns: int = 50, invalid_action_penalty: float = 0.0,
                 chance: str = "sample", render_mode: str | None = None):
        super().__init__(LeducGame(), ENV_ID, obs_mode, max_turns, invalid_action_penalty, chance, render_mode)


LeducHoldemEnv.__doc__ += _DOC.format(extra=SINGLE_ARGS)
LeducHoldemAEC.__doc__ += _DOC.format(extra=AEC_ARGS)
