"""Cleanup, the public-good gridworld of Hughes et al. (2018).

Hughes et al. 2018, "Inequity aversion improves cooperation in intertemporal social dilemmas". Apples
grow in the orchard only while the river is clean enough, and waste keeps building up in the river;
cleaning pays nobody directly, so everyone would rather someone else did it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from turngym.envs.core.errors import ConfigError
from turngym.envs.dilemmas.docs import PARALLEL_ARGS, SINGLE_ARGS, default_max_turns
from turngym.envs.dilemmas.frontends import DilemmaParallelEnv, DilemmaSingleAgentEnv
from turngym.envs.dilemmas.gridworld.core import ACTION_NAMES, GridGame, check_int, check_prob, check_real
from turngym.envs.dilemmas.gridworld.maps import CLEANUP_MAP, random_cleanup_rows
from turngym.envs.dilemmas.gridworld.state import GridState

ENV_ID = "turngym/Cleanup-v0"
CLEANUP_CHANNELS = ("wall", "apple", "river", "waste", "agent", "self", "beam")


def apple_spawn_probability(pollution: float, max_prob: float, depletion: float, restoration: float) -> float:
    """Orchard spawn probability per empty cell and step, as a function of the river's pollution.

    Hughes et al. (2018), Cleanup: ``max_prob`` while the waste fraction is at or below the restoration
    threshold, zero at or above the depletion threshold, linear in between.
    """
    return max_prob * float(np.clip((depletion - pollution) / (depletion - restoration), 0.0, 1.0))


class CleanupGame(GridGame):
    """Rules of Cleanup (see ``gridworld.core`` for movement, beams and tagging).

    Each step, after the players act: ``pollution`` = waste cells / river cells (after this step's
    cleaning); every empty orchard cell without a player grows an apple with probability
    ``apple_spawn_probability(pollution, ...)``; then every clean river cell gets waste with probability
    ``waste_spawn_prob`` (waste keeps accumulating, whatever the pollution).

    Args:
        num_players: Players (default 5).
        map: ``"classic"``, ``"random"`` (``maps.random_cleanup_rows``) or an ASCII map with river cells.
        horizon: Steps per episode (default 1000, as in Hughes et al. 2018).
        apple_spawn_prob: Spawn probability of an orchard cell with a clean river (default 0.05).
        waste_spawn_prob: Per clean river cell and step (default 0.005).
        depletion_threshold: Pollution at and above which no apple spawns (default 0.4).
        restoration_threshold: Pollution at and below which apples spawn at ``apple_spawn_prob`` (default 0).
        clean_length: Cleaning beam reach (default 5).
        clean_width: Cleaning beam lanes (odd, default 3).
        clean_cost: Reward cost of a cleaning shot (default 0).
        view_ahead: Window rows ahead (default 9).
        view_behind: Window rows behind (default 1).
        view_sides: Window columns on each side (default 5).
        tag_length: Tagging beam reach (default 5).
        tag_width: Tagging beam lanes (default 3).
        tag_duration: Steps out of play after a hit (default 25).
        tag_cost: Reward cost of a tagging shot (default 0).
    """

    title = "Cleanup"
    instruction = ("Collect apples (+1 each); apples grow only while the shared river is clean, and cleaning it "
                   "pays nothing directly; maximize your total reward.")

    def __init__(self, num_players: int = 5, map: str = "classic", horizon: int = 1000, apple_spawn_prob: float = 0.05,
                 waste_spawn_prob: float = 0.005, depletion_threshold: float = 0.4, restoration_threshold: float = 0.0,
                 clean_length: int = 5, clean_width: int = 3, clean_cost: float = 0.0, view_ahead: int = 9,
                 view_behind: int = 1, view_sides: int = 5, tag_length: int = 5, tag_width: int = 3,
                 tag_duration: int = 25, tag_cost: float = 0.0):
        super().__init__(num_players=num_players, map=map, horizon=horizon, view_ahead=view_ahead,
                         view_behind=view_behind, view_sides=view_sides, tag_length=tag_length, tag_width=tag_width,
                         tag_duration=tag_duration, tag_cost=tag_cost, classic_map=CLEANUP_MAP,
                         random_rows=random_cleanup_rows, river_allowed=True, channels=CLEANUP_CHANNELS,
                         action_names=ACTION_NAMES)
        self.apple_spawn_prob = check_prob("apple_spawn_prob", apple_spawn_prob)
        self.waste_spawn_prob = check_prob("waste_spawn_prob", waste_spawn_prob)
        self.depletion_threshold = check_prob("depletion_threshold", depletion_threshold)
        self.restoration_threshold = check_prob("restoration_threshold", restoration_threshold)
        if self.restoration_threshold >= self.depletion_threshold:
            raise ConfigError("restoration_threshold", f"a pollution below depletion_threshold "
                                                       f"({self.depletion_threshold})", restoration_threshold)
        self.clean_length = check_int("clean_length", clean_length, 1, 256)
        self.clean_width = check_int("clean_width", clean_width, 1, 63)
        if self.clean_width % 2 == 0:
            raise ConfigError("clean_width", "an odd int", clean_width)
        self.clean_cost = check_real("clean_cost", clean_cost)

    def pollution(self, s: GridState) -> float:
        """Fraction of river cells holding waste (0 on a map without river)."""
        river = int(s.layout.river.sum())
        return float(s.waste.sum()) / river if river else 0.0

    def _grow(self, s: GridState, rng: np.random.Generator, under: np.ndarray) -> None:
        """Hughes et al. (2018): apples spawn at a pollution-dependent rate, then waste accumulates."""
        p_apple = apple_spawn_probability(self.pollution(s), self.apple_spawn_prob, self.depletion_threshold,
                                          self.restoration_threshold)
        layout = s.layout
        # Both draws cover every cell every step, so the RNG stream does not depend on the state.
        apple_draw = rng.random(s.apples.shape)
        waste_draw = rng.random(s.waste.shape)
        s.apples |= layout.apple_cells & ~s.apples & ~under & (apple_draw < p_apple)
        s.waste |= layout.river & (waste_draw < self.waste_spawn_prob)

    def rules_text(self) -> str:
        """The rules in a few sentences."""
        return (f"Rules: step onto an apple to eat it (+1). Apples grow in the orchard only while the river (~) is "
                f"clean: waste (w) builds up in it, the growth rate falls as waste rises and stops when "
                f"{self.depletion_threshold:.0%} of the river is waste. 'clean' fires a beam {self.clean_length} "
                f"cells ahead and {self.clean_width} wide that removes the first waste in each lane. 'tag' fires a "
                f"beam {self.tag_length} cells ahead and {self.tag_width} wide; a player it hits is out of play for "
                f"{self.tag_duration} steps. Moves are relative to your facing: up = forward.")


_DOC = """

    Description:
        Cleanup, the public-good dilemma of Hughes et al. (2018): ``num_players`` players eat apples
        (+1) that grow in an orchard, but only while a river elsewhere on the map is clean. Waste
        appears on each clean river cell with probability ``waste_spawn_prob`` per step. With
        ``pollution`` = the fraction of river cells holding waste, an empty orchard cell grows an apple
        with probability ``apple_spawn_prob`` while pollution <= ``restoration_threshold``, 0 once
        pollution >= ``depletion_threshold``, and linearly in between. A cleaning beam removes waste;
        cleaning earns nothing, so each player prefers that others clean. Players can tag each other
        out of play. Maps: the shipped layout (``map="classic"``: river on the left, behind a wall with
        gaps, orchard on the right; about a fifth of the river dirty at the start, no apples), a random
        one per reset (``map="random"``, generator ``maps.random_cleanup_rows``) or your own ASCII map
        (legend in ``gridworld.maps``). One joint step's order is documented in ``gridworld.core``.
    Observation:
        Egocentric and partial: a window of ``view_ahead + 1 + view_behind`` rows by ``2 * view_sides + 1``
        columns (default 11 x 11, the player at row 9, column 5), rotated so the player faces up; the
        map outside is wall; tagged-out players are invisible. Text: the window as characters
        (``^`` you, ``P`` another player, ``A`` apple, ``~`` river, ``w`` waste, ``#`` wall, ``*`` beam
        fired last step, ``.`` floor), a header, the legend and the rules. Vector:
        ``Dict(observation=Box(0, 1, (rows * cols * 7,)), action_mask=MultiBinary(9))``; the observation
        is the ``(rows, cols, 7)`` 0/1 array with channels (wall, apple, river, waste, agent, self,
        beam) flattened in C order; all zeros while tagged out. ``info["state_key"]`` hashes the window.
    Action:
        ``Discrete(9)``, relative to your facing: 0 ``up`` (step forward), 1 ``down``, 2 ``left``, 3 ``right``
        (steps), 4 ``turn_left``, 5 ``turn_right``, 6 ``stay``, 7 ``tag`` (tagging beam: ``tag_length``
        ahead, ``tag_width`` lanes, stops at walls and at the first player in each lane), 8 ``clean``
        (cleaning beam: ``clean_length`` ahead, ``clean_width`` lanes, stops at walls and removes the first
        waste cell in each lane). Every action is always legal; a tagged-out player's action is ignored.
    Reward:
        +1 per apple eaten, minus ``tag_cost`` per tagging shot and ``clean_cost`` per cleaning shot
        (both default 0); ``invalid_action_penalty`` (default 0) per invalid action. A joint step with any
        invalid action is not played (``turngym.envs.core.simultaneous``).
    Episode end:
        Terminated after ``horizon`` played steps (``info["success"]``: your total > 0); truncated at
        ``max_turns`` turns. The final info carries ``info["social"]`` (efficiency, equality,
        sustainability, peace; ``metrics.social_outcomes``).
    Arguments:
        num_players (int): default 5.
        map (str): ``"classic"`` (default), ``"random"`` or an ASCII map.
        horizon (int): steps per episode, default 1000.
        apple_spawn_prob (float): default 0.05. waste_spawn_prob (float): default 0.005.
        depletion_threshold (float): default 0.4. restoration_threshold (float): default 0.0.
        clean_length (int): default 5. clean_width (int, odd): default 3. clean_cost (float): default 0.
        view_ahead, view_behind, view_sides (int): window extent, default 9, 1, 5.
        tag_length (int): default 5. tag_width (int, odd): default 3. tag_duration (int): default 25.
        tag_cost (float): default 0.
        obs_mode (str): ``"text"`` (default) or ``"vector"``.
        max_turns (int | None): turn cap; default ``2 * horizon``.
        invalid_action_penalty (float): default 0.0.
{extra}    Version history:
        v0: initial release.
"""


class CleanupEnv(DilemmaSingleAgentEnv):
    """Cleanup, single-agent view: the learner plays ``seat``; ``opponents`` play the other players."""

    def __init__(self, num_players: int = 5, map: str = "classic", horizon: int = 1000, apple_spawn_prob: float = 0.05,
                 waste_spawn_prob: float = 0.005, depletion_threshold: float = 0.4, restoration_threshold: float = 0.0,
                 clean_length: int = 5, clean_width: int = 3, clean_cost: float = 0.0, view_ahead: int = 9,
                 view_behind: int = 1, view_sides: int = 5, tag_length: int = 5, tag_width: int = 3,
                 tag_duration: int = 25, tag_cost: float = 0.0, opponents: Any = None, seat: int | str = 0,
                 obs_mode: str = "text", max_turns: int | None = None, invalid_action_penalty: float = 0.0,
                 render_mode: str | None = None):
        game = CleanupGame(num_players, map, horizon, apple_spawn_prob, waste_spawn_prob, depletion_threshold,
                           restoration_threshold, clean_length, clean_width, clean_cost, view_ahead, view_behind,
                           view_sides, tag_length, tag_width, tag_duration, tag_cost)
        super().__init__(game, ENV_ID, opponents, seat, obs_mode, default_max_turns(max_turns, game.horizon),
                         invalid_action_penalty, render_mode)


class CleanupParallel(DilemmaParallelEnv):
    """Cleanup, PettingZoo Parallel form (agents ``player_0`` … ``player_{n-1}``)."""

    def __init__(self, num_players: int = 5, map: str = "classic", horizon: int = 1000, apple_spawn_prob: float = 0.05,
                 waste_spawn_prob: float = 0.005, depletion_threshold: float = 0.4, restoration_threshold: float = 0.0,
                 clean_length: int = 5, clean_width: int = 3, clean_cost: float = 0.0, view_ahead: int = 9,
                 view_behind: int = 1, view_sides: int = 5, tag_length: int = 5, tag_width: int = 3,
                 tag_duration: int = 25, tag_cost: float = 0.0, obs_mode: str = "text", max_turns: int | None = None,
                 invalid_action_penalty: float = 0.0, render_mode: str | None = None):
        game = CleanupGame(num_players, map, horizon, apple_spawn_prob, waste_spawn_prob, depletion_threshold,
                           restoration_threshold, clean_length, clean_width, clean_cost, view_ahead, view_behind,
                           view_sides, tag_length, tag_width, tag_duration, tag_cost)
        super().__init__(game, ENV_ID, obs_mode, default_max_turns(max_turns, game.horizon), invalid_action_penalty,
                         render_mode)


CleanupEnv.__doc__ += _DOC.format(extra=SINGLE_ARGS)
CleanupParallel.__doc__ += _DOC.format(extra=PARALLEL_ARGS)
