"""Harvest, the commons gridworld (Perolat et al. 2017; the Gathering/Harvest family of Leibo et al. 2017).

Apples regrow only near other apples, so over-harvesting a patch destroys it for good: the tragedy of
the commons in a Markov game.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from turngym.envs.core.errors import ConfigError
from turngym.envs.dilemmas.docs import PARALLEL_ARGS, SINGLE_ARGS, default_max_turns
from turngym.envs.dilemmas.frontends import DilemmaParallelEnv, DilemmaSingleAgentEnv
from turngym.envs.dilemmas.gridworld.core import ACTION_NAMES, TAG, GridGame, check_int, check_prob, neighbour_counts
from turngym.envs.dilemmas.gridworld.maps import HARVEST_MAP, random_harvest_rows
from turngym.envs.dilemmas.gridworld.state import GridState

ENV_ID = "turngym/Harvest-v0"
#: Perolat et al. (2017), §2: regrowth probability by the number of apples nearby: 0 -> 0, 1-2 -> 0.01,
#: 3-4 -> 0.05, more than 4 -> 0.1. Entry k applies to k apples; the last entry to every larger count.
REGROWTH_PROBS = (0.0, 0.01, 0.01, 0.05, 0.05, 0.1)
HARVEST_CHANNELS = ("wall", "apple", "agent", "self", "beam")


class HarvestGame(GridGame):
    """Rules of Harvest (see ``gridworld.core`` for movement, beams and tagging).

    Each step, after the players act, every empty apple cell without a player on it grows an apple with
    probability ``regrowth_probs[min(k, len - 1)]``, where ``k`` is the number of apples within L1
    distance ``regrowth_radius`` of the cell (Perolat et al. 2017). With ``regrowth_probs[0] == 0`` a
    patch eaten bare never regrows.

    Args:
        num_players: Players (default 5).
        map: ``"classic"``, ``"random"`` (``maps.random_harvest_rows``) or an ASCII map.
        horizon: Steps per episode (default 1000, as in Perolat et al. 2017).
        regrowth_probs: Regrowth probability by neighbour count (default ``REGROWTH_PROBS``).
        regrowth_radius: L1 radius of the neighbourhood that is counted (default 2).
        view_ahead: Window rows ahead (default 9).
        view_behind: Window rows behind (default 1).
        view_sides: Window columns on each side (default 5).
        tag_length: Tagging beam reach (default 5).
        tag_width: Tagging beam lanes (default 3).
        tag_duration: Steps out of play after a hit (default 25).
        tag_cost: Reward cost of a tagging shot (default 0).
    """

    title = "Harvest"
    instruction = ("Collect apples (+1 each) in a shared field where apples regrow only near other apples; "
                   "maximize your total reward.")

    def __init__(self, num_players: int = 5, map: str = "classic", horizon: int = 1000,
                 regrowth_probs: Sequence[float] = REGROWTH_PROBS, regrowth_radius: int = 2, view_ahead: int = 9,
                 view_behind: int = 1, view_sides: int = 5, tag_length: int = 5, tag_width: int = 3,
                 tag_duration: int = 25, tag_cost: float = 0.0):
        super().__init__(num_players=num_players, map=map, horizon=horizon, view_ahead=view_ahead,
                         view_behind=view_behind, view_sides=view_sides, tag_length=tag_length, tag_width=tag_width,
                         tag_duration=tag_duration, tag_cost=tag_cost, classic_map=HARVEST_MAP,
                         random_rows=random_harvest_rows, river_allowed=False, channels=HARVEST_CHANNELS,
                         action_names=ACTION_NAMES[:TAG + 1])
        if isinstance(regrowth_probs, (str, bytes)) or not isinstance(regrowth_probs, Sequence) or not regrowth_probs:
            raise ConfigError("regrowth_probs", "a non-empty sequence of probabilities", regrowth_probs)
        self.regrowth_probs = tuple(check_prob("regrowth_probs", p) for p in regrowth_probs)
        self._probs = np.array(self.regrowth_probs)
        self.regrowth_radius = check_int("regrowth_radius", regrowth_radius, 1, 16)

    def _grow(self, s: GridState, rng: np.random.Generator, under: np.ndarray) -> None:
        """Perolat et al. (2017) regrowth: one uniform draw per cell, compared with p(neighbour count)."""
        counts = neighbour_counts(s.apples, self.regrowth_radius)
        p = self._probs[np.minimum(counts, len(self._probs) - 1)]
        draw = rng.random(s.apples.shape)  # drawn for every cell every step: RNG use is state-independent
        s.apples |= s.layout.apple_cells & ~s.apples & ~under & (draw < p)

    def rules_text(self) -> str:
        """The rules in a few sentences."""
        return (f"Rules: step onto an apple to eat it (+1). An empty apple cell regrows with a probability that "
                f"grows with the number of apples within {self.regrowth_radius} cells of it, and never when none "
                f"are left nearby: a patch eaten bare is gone for good. 'tag' fires a beam {self.tag_length} cells "
                f"ahead and {self.tag_width} wide; a player it hits is out of play for {self.tag_duration} steps. "
                f"Moves are relative to your facing: up = forward.")


_DOC = """

    Description:
        Harvest, the commons dilemma of Perolat et al. (2017) (Leibo et al. 2017's Gathering family):
        ``num_players`` players walk a gridworld and eat apples. An empty apple cell regrows with a
        probability set by the number of apples within L1 distance 2 (0 apples -> 0, 1-2 -> 0.01,
        3-4 -> 0.05, more -> 0.1; ``regrowth_probs``), so a patch eaten bare never comes back: restraint
        keeps the apples coming. Players can tag each other out of play with a beam. Maps: the shipped
        layout (``map="classic"``), a random one per reset (``map="random"``, generator
        ``maps.random_harvest_rows``), or your own ASCII map (legend in ``gridworld.maps``). One joint
        step's order (moves in a random order, eating, beams, returns, regrowth) is documented in
        ``gridworld.core``. The numpy core (``HarvestGame``: ``new_state(rng)``, ``apply_joint``,
        ``observe``) can be stepped without any front end.
    Observation:
        Egocentric and partial: a window of ``view_ahead + 1 + view_behind`` rows by ``2 * view_sides + 1``
        columns (default 11 x 11, the player at row 9, column 5), rotated so the player faces up; the
        map outside is wall; tagged-out players are invisible. Text: the window as characters
        (``^`` you, ``P`` another player, ``A`` apple, ``#`` wall, ``*`` beam fired last step, ``.``
        floor), a header (step, score, last reward), the legend and the rules; while you are tagged
        out, how many steps remain. Vector: ``Dict(observation=Box(0, 1, (rows * cols * 5,)),
        action_mask=MultiBinary(8))``; the observation is the ``(rows, cols, 5)`` 0/1 array with
        channels (wall, apple, agent, self, beam) flattened in C order (reshape to ``game.obs_shape``
        for a CNN); all zeros while tagged out. ``info["state_key"]`` hashes the window (or the time out
        left), so equal views share a key.
    Action:
        ``Discrete(8)``, relative to your facing: 0 ``up`` (step forward), 1 ``down`` (step back), 2 ``left``,
        3 ``right`` (step sideways), 4 ``turn_left``, 5 ``turn_right``, 6 ``stay``, 7 ``tag`` (fire the
        tagging beam: ``tag_length`` cells ahead, ``tag_width`` lanes wide, stopped by walls and by the
        first player in each lane). Aliases: ``forward``, ``backward``, ``fire``, ``zap``, ``noop``, ...
        Every action is always legal; a tagged-out player's action is ignored.
    Reward:
        +1 per apple eaten, minus ``tag_cost`` (default 0) per tagging shot; ``invalid_action_penalty``
        (default 0) per invalid action. A joint step with any invalid action is not played (state and
        RNG unchanged, turn consumed; ``turngym.envs.core.simultaneous``).
    Episode end:
        Terminated after ``horizon`` played steps (``info["success"]``: you ate more than you spent);
        truncated at ``max_turns`` turns (void steps included). The final info carries
        ``info["social"]``: efficiency, equality, sustainability and peace (Perolat et al. 2017), from
        ``metrics.social_outcomes`` over the episode's rewards and tagged-out flags.
    Arguments:
        num_players (int): default 5.
        map (str): ``"classic"`` (default), ``"random"`` or an ASCII map.
        horizon (int): steps per episode, default 1000.
        regrowth_probs (Sequence[float]): regrowth probability by neighbour count, default
            (0, 0.01, 0.01, 0.05, 0.05, 0.1); the last entry applies to larger counts.
        regrowth_radius (int): L1 radius counted, default 2.
        view_ahead, view_behind, view_sides (int): window extent, default 9, 1, 5.
        tag_length (int): default 5. tag_width (int, odd): default 3. tag_duration (int): default 25.
        tag_cost (float): default 0.
        obs_mode (str): ``"text"`` (default) or ``"vector"``.
        max_turns (int | None): turn cap; default ``2 * horizon``.
        invalid_action_penalty (float): default 0.0.
{extra}    Version history:
        v0: initial release.
"""


class HarvestEnv(DilemmaSingleAgentEnv):
    """Harvest, single-agent view: the learner plays ``seat``; ``opponents`` play the other players."""

    def __init__(self, num_players: int = 5, map: str = "classic", horizon: int = 1000,
                 regrowth_probs: Sequence[float] = REGROWTH_PROBS, regrowth_radius: int = 2, view_ahead: int = 9,
                 view_behind: int = 1, view_sides: int = 5, tag_length: int = 5, tag_width: int = 3,
                 tag_duration: int = 25, tag_cost: float = 0.0, opponents: Any = None, seat: int | str = 0,
                 obs_mode: str = "text", max_turns: int | None = None, invalid_action_penalty: float = 0.0,
                 render_mode: str | None = None):
        game = HarvestGame(num_players, map, horizon, regrowth_probs, regrowth_radius, view_ahead, view_behind,
                           view_sides, tag_length, tag_width, tag_duration, tag_cost)
        super().__init__(game, ENV_ID, opponents, seat, obs_mode, default_max_turns(max_turns, game.horizon),
                         invalid_action_penalty, render_mode)


class HarvestParallel(DilemmaParallelEnv):
    """Harvest, PettingZoo Parallel form (agents ``player_0`` … ``player_{n-1}``)."""

    def __init__(self, num_players: int = 5, map: str = "classic", horizon: int = 1000,
                 regrowth_probs: Sequence[float] = REGROWTH_PROBS, regrowth_radius: int = 2, view_ahead: int = 9,
                 view_behind: int = 1, view_sides: int = 5, tag_length: int = 5, tag_width: int = 3,
                 tag_duration: int = 25, tag_cost: float = 0.0, obs_mode: str = "text",
                 max_turns: int | None = None, invalid_action_penalty: float = 0.0, render_mode: str | None = None):
        game = HarvestGame(num_players, map, horizon, regrowth_probs, regrowth_radius, view_ahead, view_behind,
                           view_sides, tag_length, tag_width, tag_duration, tag_cost)
        super().__init__(game, ENV_ID, obs_mode, default_max_turns(max_turns, game.horizon), invalid_action_penalty,
                         render_mode)


HarvestEnv.__doc__ += _DOC.format(extra=SINGLE_ARGS)
HarvestParallel.__doc__ += _DOC.format(extra=PARALLEL_ARGS)
