"""The repeated N-player public goods game (linear public goods; Isaac & Walker 1988, Fehr & Gächter 2000).

Every round each of the N players holds an endowment E and gives c_i, one of a few discrete levels
between 0 and E, to a common pool. The pool is multiplied by m and shared equally:

    u_i = E - c_i + m * sum_j c_j / N

With 1 < m < N the marginal per-capita return m/N is below 1, so keeping everything is dominant, while
everyone giving everything maximizes the group's payoff: the N-player social dilemma.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from turngym.envs.core.errors import ConfigError
from turngym.envs.dilemmas.docs import PARALLEL_ARGS, SINGLE_ARGS, default_max_turns
from turngym.envs.dilemmas.frontends import DilemmaParallelEnv, DilemmaSingleAgentEnv
from turngym.envs.dilemmas.matrix import MatrixState, RepeatedStageGame, check_payoff

ENV_ID = "turngym/PublicGoods-v0"
#: Default number of recent rounds in the vector observation.
DEFAULT_WINDOW = 5
MAX_PLAYERS = 64
MAX_LEVELS = 11


def contribution_levels(endowment: float, levels: int) -> tuple[float, ...]:
    """The ``levels`` evenly spaced contributions from 0 to ``endowment`` (both included)."""
    return tuple(endowment * k / (levels - 1) for k in range(levels))


def public_goods_payoffs(contributions: np.ndarray | list[float], endowment: float, multiplier: float) -> list[float]:
    """u_i = E - c_i + m * sum(c) / N for every player (the linear public goods payoff)."""
    c = np.asarray(contributions, dtype=np.float64)
    share = multiplier * float(c.sum()) / c.size
    return [float(endowment - ci + share) for ci in c]


class PublicGoodsGame(RepeatedStageGame):
    """The repeated N-player public goods game with discrete contribution levels.

    Args:
        num_players: N, at least 2.
        endowment: E, each player's endowment per round (> 0).
        multiplier: m, the pool multiplier (a social dilemma when 1 < m < N).
        levels: Number of contribution levels, evenly spaced from 0 to E (2: keep or contribute all).
        rounds: Number of rounds, or the cap under a random horizon.
        continuation: None, or the probability that the game goes on after a round.
        window: Recent rounds in the vector observation.
    """

    def __init__(self, num_players: int = 4, endowment: float = 20.0, multiplier: float = 1.6, levels: int = 2,
                 rounds: int = 10, continuation: float | None = None, window: int = DEFAULT_WINDOW):
        if not isinstance(num_players, int) or isinstance(num_players, bool) or not 2 <= num_players <= MAX_PLAYERS:
            raise ConfigError("num_players", f"an int in 2..{MAX_PLAYERS}", num_players)
        if not isinstance(levels, int) or isinstance(levels, bool) or not 2 <= levels <= MAX_LEVELS:
            raise ConfigError("levels", f"an int in 2..{MAX_LEVELS}", levels)
        endowment = check_payoff("endowment", endowment)
        if endowment <= 0:
            raise ConfigError("endowment", "a positive number", endowment)
        multiplier = check_payoff("multiplier", multiplier)
        if multiplier < 0:
            raise ConfigError("multiplier", "a non-negative number", multiplier)
        self.endowment, self.multiplier, self.levels = endowment, multiplier, levels
        self.amounts = contribution_levels(endowment, levels)
        if levels == 2:
            names: tuple[str, ...] = ("keep", "contribute")
            aliases = {"k": 0, "c": 1, "give": 1, "defect": 0, "cooperate": 1}
        else:
            names = tuple(f"give{a:g}" for a in self.amounts)
            aliases = {"keep": 0, "contribute": levels - 1}
        choices = ", ".join(f"{w} (give {a:g})" for w, a in zip(names, self.amounts, strict=True))
        rules = (f"Each round each of the {num_players} players has {endowment:g} points and chooses at the same "
                 f"time how much to give to a common pool: {choices}. The pool is multiplied by {multiplier:g} "
                 f"and shared equally by all {num_players} players; you keep what you did not give. Your payoff "
                 f"= {endowment:g} - your gift + {multiplier:g} * (sum of all gifts) / {num_players}.")
        super().__init__("Public goods game", names, num_players, rounds, aliases, rules,
                         continuation=continuation, window=window, cooperative=range(1, levels))
        # Largest |payoff|: keep everything while everyone else gives everything.
        self.payoff_scale = endowment * (1.0 + multiplier * (num_players - 1) / num_players)

    def stage_rewards(self, joint: tuple[int, ...]) -> list[float]:
        """The linear public goods payoff of every player (module docstring)."""
        amounts = self.amounts
        share = self.multiplier * math.fsum(amounts[a] for a in joint) / self.num_players
        return [self.endowment - amounts[a] + share for a in joint]

    def _is_symmetric(self) -> bool:
        """Always: a payoff depends only on one's own gift and the total, both invariant under relabelling."""
        return True

    def social(self, s: MatrixState) -> dict[str, float]:
        """The base metrics plus ``contribution_rate``: the mean gift as a fraction of the endowment."""
        out = super().social(s)
        gifts = [self.amounts[a] for joint in s.history for a in joint]
        out["contribution_rate"] = float(np.mean(gifts) / self.endowment) if gifts else 0.0
        return out


_DOC = """

    Description:
        The repeated linear public goods game (Isaac & Walker 1988; Fehr & Gächter 2000) among
        ``num_players`` players. Each round every player gives one of ``levels`` evenly spaced amounts
        between 0 and ``endowment`` to a common pool; the pool times ``multiplier`` is shared equally.
        With 1 < multiplier < num_players, keeping everything is dominant but giving everything is best
        for the group. The horizon is ``rounds`` rounds, or random: with ``continuation=δ`` the game goes
        on after each round with probability δ (env RNG), ``rounds`` being a hard cap.
    Observation:
        Text: the rules, the recent rounds (every player's choice, egocentric: you first, then players
        ``p+1, p+2, …``; your payoff; the last 30 at most), the scores, and the legal moves. Vector
        (``obs_mode="vector"``): ``Dict(observation=Box(-1, 1, (window * (1 + N * levels + N) + 1,)),
        action_mask=MultiBinary(levels))``: the last ``window`` rounds, most recent first, each slot
        ``[played flag, every player's choice one-hot (egocentric), every player's payoff (egocentric)
        divided by the largest possible payoff]``; then rounds played / ``rounds``. The game is
        symmetric, so ``state_key`` (horizon + egocentric history) is shared across seats.
    Action:
        Text, ``levels=2``: ``keep`` or ``contribute`` (aliases ``k``, ``c``, ``give``, ``defect``,
        ``cooperate``); more levels: ``give<amount>`` such as ``give0``, ``give10``, ``give20`` (aliases
        ``keep``, ``contribute`` for the extremes). Vector: ``Discrete(levels)`` (id k gives
        ``endowment * k / (levels - 1)``).
    Reward:
        Every round ``endowment - gift + multiplier * (sum of gifts) / num_players``; the return is the
        sum over rounds. ``invalid_action_penalty`` per invalid action; a round with any invalid action
        is not played (state unchanged, turn consumed).
    Episode end:
        Terminated after ``rounds`` rounds or a failed continuation draw (``info["success"]``: total > 0);
        truncated at ``max_turns`` turns. The final info carries ``info["social"]``: ``efficiency``,
        ``equality``, ``sustainability``, ``peace`` (Perolat et al. 2017), ``cooperation_rate`` (fraction
        of moves that give something), ``contribution_rate`` (mean gift / endowment) and ``rounds``.
    Arguments:
        num_players (int): N in 2..64, default 4.
        endowment (float): points per player per round, default 20.
        multiplier (float): pool multiplier, default 1.6 (marginal per-capita return 0.4).
        levels (int): contribution levels in 2..11, default 2 (keep or contribute everything).
        rounds (int): number of rounds, or the cap under a random horizon; default 10.
        continuation (float | None): probability δ that the game goes on after a round; default None.
        window (int): rounds in the vector observation, default 5.
        obs_mode (str): ``"text"`` (default) or ``"vector"``.
        max_turns (int | None): turn cap; default ``2 * rounds``.
        invalid_action_penalty (float): default 0.0.
{extra}    Version history:
        v0: initial release.
"""


class PublicGoodsEnv(DilemmaSingleAgentEnv):
    """Repeated public goods game, single-agent view: the learner plays ``seat``, ``opponents`` the rest."""

    def __init__(self, num_players: int = 4, endowment: float = 20.0, multiplier: float = 1.6, levels: int = 2,
                 rounds: int = 10, continuation: float | None = None, window: int = DEFAULT_WINDOW,
                 opponents: Any = None, seat: int | str = 0, obs_mode: str = "text", max_turns: int | None = None,
                 invalid_action_penalty: float = 0.0, render_mode: str | None = None):
        game = PublicGoodsGame(num_players, endowment, multiplier, levels, rounds, continuation, window)
        super().__init__(game, ENV_ID, opponents, seat, obs_mode, default_max_turns(max_turns, game.rounds),
                         invalid_action_penalty, render_mode)


class PublicGoodsParallel(DilemmaParallelEnv):
    """Repeated public goods game, PettingZoo Parallel form (agents ``player_0`` … ``player_{N-1}``)."""

    def __init__(self, num_players: int = 4, endowment: float = 20.0, multiplier: float = 1.6, levels: int = 2,
                 rounds: int = 10, continuation: float | None = None, window: int = DEFAULT_WINDOW,
                 obs_mode: str = "text", max_turns: int | None = None, invalid_action_penalty: float = 0.0,
                 render_mode: str | None = None):
        game = PublicGoodsGame(num_players, endowment, multiplier, levels, rounds, continuation, window)
        super().__init__(game, ENV_ID, obs_mode, default_max_turns(max_turns, game.rounds), invalid_action_penalty,
                         render_mode)


PublicGoodsEnv.__doc__ = (PublicGoodsEnv.__doc__ or "") + _DOC.format(extra=SINGLE_ARGS)
PublicGoodsParallel.__doc__ = (PublicGoodsParallel.__doc__ or "") + _DOC.format(extra=PARALLEL_ARGS)

__all__ = ["ENV_ID", "PublicGoodsEnv", "PublicGoodsGame", "PublicGoodsParallel", "contribution_levels",
           "public_goods_payoffs"]
