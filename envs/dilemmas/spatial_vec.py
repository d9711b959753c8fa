"""Stable-Baselines3 ``VecEnv`` over the vectorized spatial prisoner's dilemma (one slot per agent).

Kept apart from ``turngym.envs.dilemmas.spatial`` because Stable-Baselines3 is an optional dependency
(the ``sb3`` extra); importing this module needs it.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from turngym.envs.dilemmas.spatial import SpatialPD


class SpatialPDVecEnv(VecEnv):
    """Stable-Baselines3 ``VecEnv`` over ``SpatialPD``: slot ``i`` is agent ``i``'s view.

    ``num_envs = size * size``. Observation space ``Box(0, 1, (5,), float32)`` (``[self, north, south,
    west, east]`` last moves, 1.0 = cooperated), action space ``Discrete(2)`` (0 cooperate, 1 defect).
    There is no action mask (both moves are always legal), so SB3's DQN, PPO and A2C with ``MlpPolicy``
    take it as is. One policy acting for every slot is a shared-parameter learner.

    All slots end together at the horizon. Then, per SB3 conventions, ``step_wait`` returns
    ``dones`` all True, each ``infos[i]`` holds ``terminal_observation`` (that agent's final observation)
    and ``TimeLimit.truncated = True`` (the horizon is a time limit, so off-policy learners bootstrap),
    plus ``social``; the returned observations are those of the automatically reset lattice. Every
    ``infos[i]`` has ``cooperation_rate`` (fraction of agents cooperating after the step).

    Args:
        size: Lattice side L; default 30 (900 slots).
        dr: Dilemma strength; default 0.2.
        horizon: Steps per episode; default 100.
        init_coop: Probability of an initial cooperative move; default 0.5.
        seed: Seed of the first reset (``seed()`` sets the next one, as in SB3).
    """

    render_mode = None

    def __init__(self, size: int = 30, dr: float = 0.2, horizon: int = 100, init_coop: float = 0.5,
                 seed: int | None = None):
        self.core = SpatialPD(size, dr, horizon, init_coop, seed)
        super().__init__(self.core.num_agents, gymnasium.spaces.Box(0.0, 1.0, (5,), np.float32),
                         gymnasium.spaces.Discrete(2))
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        """Resets the lattice (with the seed from ``seed()``, if any); returns ``(num_envs, 5)`` obs."""
        seed = self._seeds[0]
        obs = self.core.reset(seed)
        self._reset_seeds()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Stores the actions of every slot."""
        self._actions = actions

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Steps the lattice; auto-resets at the horizon (class docstring)."""
        obs, rewards, terminated, truncated, info = self.core.step(self._actions)
        n = self.num_envs
        rate = info["cooperation_rate"]
        infos: list[dict[str, Any]] = [{"cooperation_rate": rate} for _ in range(n)]
        if not info["action_valid"]:
            for d in infos:
                d["error"] = info["error"]
        done = terminated or truncated
        if done:
            social = info["social"]
            for i, d in enumerate(infos):
                d["terminal_observation"] = obs[i]
                d["TimeLimit.truncated"] = truncated and not terminated
                d["social"] = dict(social)
            obs = self.core.reset()
        return obs, rewards.astype(np.float32), np.full(n, done, dtype=bool), infos

    def close(self) -> None:
        """Nothing to release."""

    def _indices(self, indices: Any) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int):
            return [indices]
        return list(indices)

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """The core's attribute, once per requested slot (every slot shares the one lattice)."""
        value = getattr(self.core, attr_name) if attr_name != "render_mode" else self.render_mode
        return [value for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        """Sets an attribute of the shared core."""
        setattr(self.core, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        """Calls a core method once; its result is repeated for every requested slot."""
        result = getattr(self.core, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        """No slot is a wrapped Gymnasium env."""
        return [False for _ in self._indices(indices)]


__all__ = ["SpatialPDVecEnv"]
