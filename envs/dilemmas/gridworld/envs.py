"""Front ends of the gridworld games: the core Parallel and single-agent envs, plus the episode-end metrics.

The only additions to ``GameParallelEnv`` / ``SimultaneousSingleAgentEnv`` are (1) the game draws its
start state (random map, spawn points, orientations) from the env's own RNG, and (2) the final step's
info carries ``info["social"]``: the Perolat et al. (2017) social outcomes of the episode
(``metrics.social_outcomes`` over the per-step rewards and tagged-out flags).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from turngym.envs.core.parallel import GameParallelEnv, SimultaneousSingleAgentEnv
from turngym.envs.dilemmas.gridworld.core import GridGame


class GridParallelEnv(GameParallelEnv):
    """PettingZoo Parallel env over a ``GridGame`` (agents ``player_0`` … ``player_{n-1}``).

    Args:
        game: The rules.
        env_id: Registered id.
        obs_mode: ``"text"`` or ``"vector"``.
        max_turns: Turn cap (void steps included).
        invalid_action_penalty: Reward for each invalid action.
        render_mode: ``None``, ``"ansi"`` or ``"human"``.
    """

    game: GridGame

    def __init__(self, game: GridGame, env_id: str, obs_mode: str, max_turns: int, invalid_action_penalty: float,
                 render_mode: str | None):
        super().__init__(game, env_id, obs_mode, max_turns, invalid_action_penalty, render_mode)
        game.bind_rng(self._episode_rng)

    def _episode_rng(self) -> np.random.Generator:
        return self.np_random

    def step(self, actions: dict[str, Any]) -> tuple[dict[str, Any], dict[str, float], dict[str, bool],
                                                     dict[str, bool], dict[str, dict[str, Any]]]:
        """``GameParallelEnv.step``; the last step's infos also carry ``social`` (episode metrics)."""
        obs, rewards, terms, truncs, infos = super().step(actions)
        if not self.agents:
            social = self.game.social(self.session.state)
            for info in infos.values():
                info["social"] = dict(social)
        return obs, rewards, terms, truncs, infos


class GridSingleAgentEnv(SimultaneousSingleAgentEnv):
    """Single-agent view of a ``GridGame``: the learner plays ``seat``; ``opponents`` play the rest.

    Args:
        game: The rules.
        env_id: Registered id.
        opponents: ``None`` (random-legal), one agent or name for every other seat, or a list of them.
        seat: The learner's seat, or ``"random"``.
        obs_mode: ``"text"`` or ``"vector"``.
        max_turns: Turn cap (void steps included).
        invalid_action_penalty: Reward for each invalid learner action.
        render_mode: ``None``, ``"ansi"`` or ``"human"``.
    """

    game: GridGame

    def __init__(self, game: GridGame, env_id: str, opponents: Any, seat: int | str, obs_mode: str, max_turns: int,
                 invalid_action_penalty: float, render_mode: str | None):
        super().__init__(game, env_id, opponents, seat, obs_mode, max_turns, invalid_action_penalty, render_mode)
        game.bind_rng(self._episode_rng)

    def _episode_rng(self) -> np.random.Generator:
        return self.np_random

    def step(self, action: Any):
        """``SimultaneousSingleAgentEnv.step``; the last step's info also carries ``social``."""
        obs, reward, terminated, truncated, info = super().step(action)
        if terminated or truncated:
            info["social"] = self.game.social(self.session.state)
        return obs, reward, terminated, truncated, info
