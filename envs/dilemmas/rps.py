"""Repeated rock-paper-scissors: two players, a fixed number of rounds, +1/0/-1 per round."""

from __future__ import annotations

from typing import Any

from turngym.envs.core.parallel import GameParallelEnv, SimultaneousSingleAgentEnv
from turngym.envs.dilemmas.docs import PARALLEL_ARGS, SINGLE_ARGS, default_max_turns
from turngym.envs.dilemmas.matrix import RepeatedMatrixGame

ENV_ID = "turngym/RockPaperScissors-v0"
ROCK, PAPER, SCISSORS = 0, 1, 2
#: ``RPS_PAYOFFS[a0][a1]`` = (reward of player 0, reward of player 1): a move beats the one before it
#: cyclically (paper beats rock, scissors beat paper, rock beats scissors).
RPS_PAYOFFS = (
    ((0, 0), (-1, 1), (1, -1)),
    ((1, -1), (0, 0), (-1, 1)),
    ((-1, 1), (1, -1), (0, 0)),
)
RPS_RULES = ("Each round both players choose rock, paper or scissors at the same time. Rock beats scissors, "
             "scissors beat paper, paper beats rock. Win +1, draw 0, loss -1.")


class RockPaperScissorsGame(RepeatedMatrixGame):
    """Rock-paper-scissors repeated for ``rounds`` rounds.

    Args:
        rounds: Number of rounds (fixed horizon).
    """

    def __init__(self, rounds: int = 10):
        super().__init__(
            title="Rock-paper-scissors",
            action_names=("rock", "paper", "scissors"),
            payoffs=RPS_PAYOFFS,
            rounds=rounds,
            aliases={"r": ROCK, "p": PAPER, "s": SCISSORS, "scissor": SCISSORS},
            rules=RPS_RULES,
            instruction=f"Play {rounds} rounds of rock-paper-scissors and win more rounds than your opponent.",
        )


_DOC = """

    Description:
        Repeated rock-paper-scissors between two players for a fixed number of ``rounds``. Both choose
        at the same time each round; the stage game is the payoff table ``RPS_PAYOFFS`` (the uniform
        mixed strategy is its only equilibrium, game value 0). Predicting the opponent from the history
        is the skill that pays.
    Observation:
        Text: the rules, every past round (your move, the opponent's, your reward), the score, and the
        round to play with the legal moves. Vector (``obs_mode="vector"``):
        ``Dict(observation=Box(0, 1, (6 * rounds + 1,)), action_mask=MultiBinary(3))``: round ``i`` is
        slot ``i`` of ``rounds`` slots holding your move one-hot then the opponent's one-hot (zeros for
        rounds not played yet); the last entry is rounds played / ``rounds``.
        ``info["state_key"]`` hashes the horizon and the history as you saw it (your moves and the
        opponent's); the game is symmetric, so both seats with the same history share a key.
    Action:
        Text: ``rock``, ``paper`` or ``scissors`` (aliases ``r``, ``p``, ``s``), bare, inside
        ``<action>…</action>``, or in ``[brackets]``. Vector: ``Discrete(3)`` (0 rock, 1 paper,
        2 scissors).
    Reward:
        Every round: +1 for a win, 0 for a draw, -1 for a loss (zero-sum); the return is the sum over
        the rounds. ``invalid_action_penalty`` (default 0) per invalid action. A round with any invalid
        action is not played: nobody's state changes, the turn is consumed, and the invalid player's
        next observation says what was wrong and what is accepted.
    Episode end:
        Terminated after ``rounds`` rounds (``info["success"]``: your total > 0); truncated when
        ``max_turns`` turns (rounds not played because of invalid actions included) have been taken.
    Arguments:
        rounds (int): number of rounds, default 10.
        obs_mode (str): ``"text"`` (default) or ``"vector"``.
        max_turns (int | None): turn cap; default ``2 * rounds``.
        invalid_action_penalty (float): default 0.0.
{extra}    Version history:
        v0: initial release.
"""


class RockPaperScissorsEnv(SimultaneousSingleAgentEnv):
    """Repeated rock-paper-scissors, single-agent view: the learner plays ``seat`` against ``opponents``."""

    def __init__(self, rounds: int = 10, opponents: Any = None, seat: int | str = 0, obs_mode: str = "text",
                 max_turns: int | None = None, invalid_action_penalty: float = 0.0,
                 render_mode: str | None = None):
        game = RockPaperScissorsGame(rounds)
        super().__init__(game, ENV_ID, opponents, seat, obs_mode, default_max_turns(max_turns, game.rounds),
                         invalid_action_penalty, render_mode)


class RockPaperScissorsParallel(GameParallelEnv):
    """Repeated rock-paper-scissors, PettingZoo Parallel form (agents ``player_0``, ``player_1``)."""

    def __init__(self, rounds: int = 10, obs_mode: str = "text", max_turns: int | None = None,
                 invalid_action_penalty: float = 0.0, render_mode: str | None = None):
        game = RockPaperScissorsGame(rounds)
        super().__init__(game, ENV_ID, obs_mode, default_max_turns(max_turns, game.rounds), invalid_action_penalty,
                         render_mode)


RockPaperScissorsEnv.__doc__ += _DOC.format(extra=SINGLE_ARGS)
RockPaperScissorsParallel.__doc__ += _DOC.format(extra=PARALLEL_ARGS)
