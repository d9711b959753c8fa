"""Front ends of the social-dilemma games: the core Parallel and single-agent envs plus social metrics.

They behave exactly like ``GameParallelEnv`` and ``SimultaneousSingleAgentEnv`` (same step contract,
same void-step rule for invalid actions, same snapshots) and add, in every agent's info:

* ``info["social"]`` on the step that ends the episode (terminated or truncated): the game's
  ``social(state)`` dict, i.e. the Perolat et al. (2017) metrics of ``metrics.social_outcomes`` plus
  ``cooperation_rate`` (the game defines which moves are cooperative);
* the game's ``step_metrics(state)`` entries on every step, for games that define it (the spatial
  prisoner's dilemma reports the current ``cooperation_rate``).
"""

from __future__ import annotations

from typing import Any, Protocol

from turngym.envs.core.parallel import GameParallelEnv, SimultaneousSingleAgentEnv
from turngym.envs.core.simultaneous import SimultaneousSession


class SocialGame(Protocol):
    """What the front ends need from a dilemma game besides ``SimultaneousGame``."""

    def social(self, s: Any) -> dict[str, float]:
        """End-of-episode social metrics of state ``s``."""


def _extras(session: SimultaneousSession) -> dict[str, Any]:
    """The entries this module adds to every agent's info at the session's current state."""
    game, s = session.game, session.state
    step_metrics = getattr(game, "step_metrics", None)
    extra: dict[str, Any] = dict(step_metrics(s)) if step_metrics is not None else {}
    if session.terminal or session.truncated:
        extra["social"] = game.social(s)
    return extra


def _merge(info: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Adds ``extra`` to ``info`` (nested dicts copied, so agents never share a mutable dict)."""
    for key, value in extra.items():
        info[key] = dict(value) if isinstance(value, dict) else value
    return info


class DilemmaParallelEnv(GameParallelEnv):
    """``GameParallelEnv`` whose infos carry the social metrics (module docstring)."""

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """As ``GameParallelEnv.reset``, plus the per-step metrics in every info."""
        obs, infos = super().reset(seed=seed, options=options)
        extra = _extras(self.session)
        return obs, {a: _merge(info, extra) for a, info in infos.items()}

    def step(self, actions: dict[str, Any]) -> tuple[dict[str, Any], dict[str, float], dict[str, bool],
                                                     dict[str, bool], dict[str, dict[str, Any]]]:
        """As ``GameParallelEnv.step``; the infos of the final step carry ``social``."""
        obs, rewards, terms, truncs, infos = super().step(actions)
        extra = _extras(self.session)
        return obs, rewards, terms, truncs, {a: _merge(info, extra) for a, info in infos.items()}


class DilemmaSingleAgentEnv(SimultaneousSingleAgentEnv):
    """``SimultaneousSingleAgentEnv`` whose infos carry the social metrics (module docstring)."""

    def _info(self) -> dict[str, Any]:
        return _merge(super()._info(), _extras(self.session))


__all__ = ["DilemmaParallelEnv", "DilemmaSingleAgentEnv", "SocialGame"]
