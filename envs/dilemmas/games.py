"""Repeated 2x2 social dilemmas: the prisoner's dilemma, stag hunt and chicken.

All three are symmetric 2x2 games written in the standard notation of Rapoport & Chammah (1965) and
Macy & Flache (2002, "Learning dynamics in social dilemmas"): action 0 is the cooperative move, action 1
the other, and one row player's payoffs are

    ====================  ==============  ==============
    you / other           cooperate (0)   defect (1)
    ====================  ==============  ==============
    cooperate (0)          R (reward)      S (sucker)
    defect (1)             T (temptation)  P (punishment)
    ====================  ==============  ==============

The ordering of R, S, T, P makes the game: prisoner's dilemma T > R > P > S (and 2R > T + S, so taking
turns does not beat mutual cooperation); stag hunt R > T >= P > S; chicken T > R > S > P. The defaults
are the textbook values (Axelrod 1984 for the prisoner's dilemma); other values are accepted as given,
so sweeps over the ordering boundaries are possible.
"""

from __future__ import annotations

from typing import Any

from turngym.envs.dilemmas.docs import PARALLEL_ARGS, SINGLE_ARGS, default_max_turns
from turngym.envs.dilemmas.frontends import DilemmaParallelEnv, DilemmaSingleAgentEnv
from turngym.envs.dilemmas.matrix import RepeatedMatrixGame, check_payoff

PD_ID = "turngym/PrisonersDilemma-v0"
STAG_HUNT_ID = "turngym/StagHunt-v0"
CHICKEN_ID = "turngym/Chicken-v0"
#: Default number of recent rounds in the vector observation.
DEFAULT_WINDOW = 5


def symmetric_table(reward: float, sucker: float, temptation: float, punishment: float
                    ) -> tuple[tuple[tuple[float, float], ...], ...]:
    """The 2x2 payoff table ``[a0][a1] -> (u0, u1)`` of a symmetric game in R, S, T, P notation."""
    r, s = check_payoff("reward", reward), check_payoff("sucker", sucker)
    t, p = check_payoff("temptation", temptation), check_payoff("punishment", punishment)
    return (((r, r), (s, t)), ((t, s), (p, p)))


def _g(x: float) -> str:
    return f"{x:+g}" if x else "0"


class SymmetricDilemmaGame(RepeatedMatrixGame):
    """A symmetric 2x2 stage game in R, S, T, P notation (module docstring); action 0 is cooperative.

    Args:
        title: Name of the game.
        words: The two action words (cooperative first).
        aliases: Extra accepted words.
        reward: R, both play action 0.
        sucker: S, you play 0 and the other plays 1.
        temptation: T, you play 1 and the other plays 0.
        punishment: P, both play action 1.
        rounds: Number of rounds, or the cap under a random horizon.
        continuation: None, or the probability that the game goes on after a round.
        window: Recent rounds in the vector observation.
    """

    def __init__(self, title: str, words: tuple[str, str], aliases: dict[str, int], reward: float,
                 sucker: float, temptation: float, punishment: float, rounds: int,
                 continuation: float | None, window: int):
        table = symmetric_table(reward, sucker, temptation, punishment)
        (r, _), (s, t) = table[0][0], table[0][1]
        p = table[1][1][0]
        c, d = words
        rules = (f"Each round both players choose {c} or {d} at the same time. Both {c}: {_g(r)} each. "
                 f"Both {d}: {_g(p)} each. If one plays {d} and the other {c}: the one who played {d} gets "
                 f"{_g(t)}, the one who played {c} gets {_g(s)}.")
        super().__init__(title, words, table, rounds, aliases, rules, continuation=continuation, window=window,
                         cooperative=(0,))


class PrisonersDilemmaGame(SymmetricDilemmaGame):
    """Repeated prisoner's dilemma (T > R > P > S); defaults R=3, S=0, T=5, P=1 (Axelrod 1984)."""

    def __init__(self, reward: float = 3.0, sucker: float = 0.0, temptation: float = 5.0, punishment: float = 1.0,
                 rounds: int = 10, continuation: float | None = None, window: int = DEFAULT_WINDOW):
        super().__init__("Prisoner's dilemma", ("cooperate", "defect"), {"c": 0, "d": 1},
                         reward, sucker, temptation, punishment, rounds, continuation, window)


class StagHuntGame(SymmetricDilemmaGame):
    """Repeated stag hunt (R > T >= P > S); defaults R=4, S=0, T=3, P=2 (hare is risk dominant: T+P > R+S)."""

    def __init__(self, reward: float = 4.0, sucker: float = 0.0, temptation: float = 3.0, punishment: float = 2.0,
                 rounds: int = 10, continuation: float | None = None, window: int = DEFAULT_WINDOW):
        super().__init__("Stag hunt", ("stag", "hare"), {"s": 0, "h": 1},
                         reward, sucker, temptation, punishment, rounds, continuation, window)


class ChickenGame(SymmetricDilemmaGame):
    """Repeated chicken / hawk-dove (T > R > S > P); defaults R=0, S=-1, T=1, P=-10 (a crash costs 10)."""

    def __init__(self, reward: float = 0.0, sucker: float = -1.0, temptation: float = 1.0,
                 punishment: float = -10.0, rounds: int = 10, continuation: float | None = None,
                 window: int = DEFAULT_WINDOW):
        super().__init__("Chicken", ("swerve", "straight"), {"dove": 0, "hawk": 1},
                         reward, sucker, temptation, punishment, rounds, continuation, window)


_DOC = """

    Description:
        {description} Two players choose at the same time every round; the stage payoffs are R, S, T, P
        (``turngym.envs.dilemmas.games``). The horizon is ``rounds`` rounds, or random: with
        ``continuation=δ`` the game goes on after each round with probability δ (drawn from the env RNG),
        ``rounds`` being a hard cap, so the expected length is (1 - δ^rounds) / (1 - δ).
    Observation:
        Text: the rules, the recent rounds (your move, the opponent's, your payoff; the last 30 at most),
        the score, and the round to play with the legal moves. Vector (``obs_mode="vector"``):
        ``Dict(observation=Box(-1, 1, (7 * window + 1,)), action_mask=MultiBinary(2))``: the last
        ``window`` rounds, most recent first, each slot ``[played flag, your move one-hot (2), the
        opponent's move one-hot (2), your payoff, the opponent's payoff]`` with payoffs divided by the
        largest absolute payoff of the table; slots of rounds not played are zero; the last entry is
        rounds played / ``rounds``. ``info["state_key"]`` hashes the horizon and the whole history as you
        saw it; the game is symmetric, so both seats with the same history share a key.
    Action:
        Text: {words} (aliases {aliases}), bare, inside ``<action>…</action>``, or in ``[brackets]``.
        Vector: ``Discrete(2)`` (0 {c}, 1 {d}).
    Reward:
        Every round: your stage payoff (defaults {defaults}); the return is the sum over the rounds.
        ``invalid_action_penalty`` (default 0) per invalid action. A round with any invalid action is not
        played: nothing changes, the turn is consumed, and the invalid player's next observation says
        what was wrong and what is accepted.
    Episode end:
        Terminated after ``rounds`` rounds or when a continuation draw fails (``info["success"]``: your
        total > 0); truncated when ``max_turns`` turns (void rounds included) have been taken. The final
        info carries ``info["social"]``: ``efficiency``, ``equality``, ``sustainability``, ``peace``
        (Perolat et al. 2017, ``turngym.envs.dilemmas.metrics``), ``cooperation_rate`` (fraction of
        {c} moves) and ``rounds``.
    Arguments:
        reward, sucker, temptation, punishment (float): R, S, T, P; defaults {defaults}.
        rounds (int): number of rounds, or the cap under a random horizon; default 10.
        continuation (float | None): probability δ in [0, 1] that the game goes on after a round; None
            (default) for the fixed horizon.
        window (int): rounds in the vector observation, default 5.
        obs_mode (str): ``"text"`` (default) or ``"vector"``.
        max_turns (int | None): turn cap; default ``2 * rounds``.
        invalid_action_penalty (float): default 0.0.
{extra}    Version history:
        v0: initial release.
"""

_PD = dict(description="Repeated prisoner's dilemma: mutual cooperation beats mutual defection, but defection "
                       "pays more whatever the other does (T > R > P > S).",
           words="``cooperate`` or ``defect``", aliases="``c``, ``d``", c="cooperate", d="defect",
           defaults="R=3, S=0, T=5, P=1")
_SH = dict(description="Repeated stag hunt: hunting stag together pays most, but hunting stag alone pays least, "
                       "and hare is the safe choice (R > T >= P > S).",
           words="``stag`` or ``hare``", aliases="``s``, ``h``", c="stag", d="hare", defaults="R=4, S=0, T=3, P=2")
_CH = dict(description="Repeated chicken (hawk-dove): going straight beats swerving against a swerver, but two "
                       "who go straight crash (T > R > S > P).",
           words="``swerve`` or ``straight``", aliases="``dove``, ``hawk``", c="swerve", d="straight",
           defaults="R=0, S=-1, T=1, P=-10")


class PrisonersDilemmaEnv(DilemmaSingleAgentEnv):
    """Repeated prisoner's dilemma, single-agent view: the learner plays ``seat`` against ``opponents``."""

    def __init__(self, reward: float = 3.0, sucker: float = 0.0, temptation: float = 5.0, punishment: float = 1.0,
                 rounds: int = 10, continuation: float | None = None, window: int = DEFAULT_WINDOW,
                 opponents: Any = None, seat: int | str = 0, obs_mode: str = "text", max_turns: int | None = None,
                 invalid_action_penalty: float = 0.0, render_mode: str | None = None):
        game = PrisonersDilemmaGame(reward, sucker, temptation, punishment, rounds, continuation, window)
        super().__init__(game, PD_ID, opponents, seat, obs_mode, default_max_turns(max_turns, game.rounds),
                         invalid_action_penalty, render_mode)


class PrisonersDilemmaParallel(DilemmaParallelEnv):
    """Repeated prisoner's dilemma, PettingZoo Parallel form (agents ``player_0``, ``player_1``)."""

    def __init__(self, reward: float = 3.0, sucker: float = 0.0, temptation: float = 5.0, punishment: float = 1.0,
                 rounds: int = 10, continuation: float | None = None, window: int = DEFAULT_WINDOW,
                 obs_mode: str = "text", max_turns: int | None = None, invalid_action_penalty: float = 0.0,
                 render_mode: str | None = None):
        game = PrisonersDilemmaGame(reward, sucker, temptation, punishment, rounds, continuation, window)
        super().__init__(game, PD_ID, obs_mode, default_max_turns(max_turns, game.rounds), invalid_action_penalty,
                         render_mode)


class StagHuntEnv(DilemmaSingleAgentEnv):
    """Repeated stag hunt, single-agent view: the learner plays ``seat`` against ``opponents``."""

    def __init__(self, reward: float = 4.0, sucker: float = 0.0, temptation: float = 3.0, punishment: float = 2.0,
                 rounds: int = 10, continuation: float | None = None, window: int = DEFAULT_WINDOW,
                 opponents: Any = None, seat: int | str = 0, obs_mode: str = "text", max_turns: int | None = None,
                 invalid_action_penalty: float = 0.0, render_mode: str | None = None):
        game = StagHuntGame(reward, sucker, temptation, punishment, rounds, continuation, window)
        super().__init__(game, STAG_HUNT_ID, opponents, seat, obs_mode, default_max_turns(max_turns, game.rounds),
                         invalid_action_penalty, render_mode)


class StagHuntParallel(DilemmaParallelEnv):
    """Repeated stag hunt, PettingZoo Parallel form (agents ``player_0``, ``player_1``)."""

    def __init__(self, reward: float = 4.0, sucker: float = 0.0, temptation: float = 3.0, punishment: float = 2.0,
                 rounds: int = 10, continuation: float | None = None, window: int = DEFAULT_WINDOW,
                 obs_mode: str = "text", max_turns: int | None = None, invalid_action_penalty: float = 0.0,
                 render_mode: str | None = None):
        game = StagHuntGame(reward, sucker, temptation, punishment, rounds, continuation, window)
        super().__init__(game, STAG_HUNT_ID, obs_mode, default_max_turns(max_turns, game.rounds),
                         invalid_action_penalty, render_mode)


class ChickenEnv(DilemmaSingleAgentEnv):
    """Repeated chicken, single-agent view: the learner plays ``seat`` against ``opponents``."""

    def __init__(self, reward: float = 0.0, sucker: float = -1.0, temptation: float = 1.0,
                 punishment: float = -10.0, rounds: int = 10, continuation: float | None = None,
                 window: int = DEFAULT_WINDOW, opponents: Any = None, seat: int | str = 0, obs_mode: str = "text",
                 max_turns: int | None = None, invalid_action_penalty: float = 0.0,
                 render_mode: str | None = None):
        game = ChickenGame(reward, sucker, temptation, punishment, rounds, continuation, window)
        super().__init__(game, CHICKEN_ID, opponents, seat, obs_mode, default_max_turns(max_turns, game.rounds),
                         invalid_action_penalty, render_mode)


class ChickenParallel(DilemmaParallelEnv):
    """Repeated chicken, PettingZoo Parallel form (agents ``player_0``, ``player_1``)."""

    def __init__(self, reward: float = 0.0, sucker: float = -1.0, temptation: float = 1.0,
                 punishment: float = -10.0, rounds: int = 10, continuation: float | None = None,
                 window: int = DEFAULT_WINDOW, obs_mode: str = "text", max_turns: int | None = None,
                 invalid_action_penalty: float = 0.0, render_mode: str | None = None):
        game = ChickenGame(reward, sucker, temptation, punishment, rounds, continuation, window)
        super().__init__(game, CHICKEN_ID, obs_mode, default_max_turns(max_turns, game.rounds),
                         invalid_action_penalty, render_mode)


for _cls, _fields, _extra in ((PrisonersDilemmaEnv, _PD, SINGLE_ARGS), (PrisonersDilemmaParallel, _PD, PARALLEL_ARGS),
                              (StagHuntEnv, _SH, SINGLE_ARGS), (StagHuntParallel, _SH, PARALLEL_ARGS),
                              (ChickenEnv, _CH, SINGLE_ARGS), (ChickenParallel, _CH, PARALLEL_ARGS)):
    _cls.__doc__ = (_cls.__doc__ or "") + _DOC.format(extra=_extra, **_fields)
