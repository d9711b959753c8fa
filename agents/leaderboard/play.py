"""Playing one leaderboard game: agents in seats, the env stepped to the end, the game's log line.

* ``play_game``: a multi-agent (PettingZoo AEC) game of ``hands`` deals, each seat's agent asked in turn with
  only its own observation and info.
* ``play_task``: one episode of a single-agent env.
* ``MatchPlayer``: builds each env and agent once (per process) and turns a ``Match`` into its log line; the
  executors (``workers.py``) run one per worker.

The forfeit rule (``suite.EnvSpec.max_invalid_streak``, default 3 for multi-agent envs, off for single-agent
tasks): a seat whose agent makes that many invalid actions in a row (the env says so in its
``info["action_valid"]``; DESIGN §3) forfeits. The game stops there and its result says who and why
(``forfeit``); the rating reduction makes that seat lose to every other seat and the others draw
(``games.py``, rule 5), so an agent that cannot act no longer plays on to the turn cap for a draw. A forfeited
single-agent task is a failure (``success`` False), never an infrastructure error.

Infrastructure failures (DESIGN §3): an agent raising ``PolicyInfraError`` (an endpoint failed) or an env
reporting ``info["infra_error"]`` (sandbox, browser) ends the game with the reason in ``infra_error``; such a
game is left out of every rating and rate, never a loss.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from turngym.agents.leaderboard.agents import build_agent
from turngym.agents.leaderboard.scheduling import Match
from turngym.agents.leaderboard.suite import DEFAULT_MAX_INVALID_STREAK, EnvSpec, Suite
from turngym.envs.core.agent_api import accepts_rng
from turngym.envs.core.errors import ConfigError


def _infra_error_types() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "the outside world failed" (DESIGN §3), among the modules already imported.

    ``PolicyInfraError`` lives in ``turngym.agents.llm.policies.base``, whose package imports torch; an agent can
    only raise it once that module is loaded, so it is looked up, never imported here.
    """
    module = sys.modules.get("turngym.agents.llm.policies.base")
    return (module.PolicyInfraError,) if module is not None else ()


def _infra_reason(err: BaseException) -> str:
    reasons = getattr(err, "reasons", None)
    if isinstance(reasons, dict) and reasons:
        return str(next(iter(reasons.values())))
    return f"{type(err).__name__}: {err}"


def _act(agent: Any, obs: Any, info: dict[str, Any], rng: np.random.Generator | None) -> Any:
    # Only the acting seat's observation and a copy of its info reach the agent (module docstring of agents.py).
    return agent.act([obs], [dict(info)], rng=rng)[0] if rng is not None else agent.act([obs], [dict(info)])[0]


def _observe(env: Any, agent_id: str, seat: int, mode: str) -> Any:
    """The seat's observation in ``mode``: the env's own, or the session's other rendering of the same state."""
    if mode == getattr(env, "obs_mode", mode):
        return env.observe(agent_id)
    session = getattr(env, "session", None)
    if session is None:
        raise ConfigError("obs_mode", f"agents in the env's one observation mode ({env.obs_mode})", mode)
    return session.observation(seat, mode)


def _forfeit(seat: int, streak: int, info: dict[str, Any]) -> dict[str, Any]:
    """The ``forfeit`` field of a game's result (module docstring, the forfeit rule)."""
    error = info.get("error")
    reason = f"{streak} invalid actions in a row (max_invalid_streak {streak})"
    return {"seat": seat, "reason": reason + (f"; last: {error}" if error else "")}


def _aec_action_invalid(env: Any, actor: str) -> bool:
    """Whether ``actor``'s last ``env.step`` was refused as invalid (DESIGN §3: ``info["action_valid"]``).

    A turngym AEC env leaves an invalid action's seat to act again and refreshes that seat's info; after a
    valid move it refreshes only the next actor's, so ``actor``'s info is read when it is still the one to act
    or when the game is over (every info refreshed), and a move to another seat was a valid action.
    """
    over = env.terminations.get(actor, True) or env.truncations.get(actor, True)
    if not over and env.agent_selection != actor:
        return False
    return env.infos.get(actor, {}).get("action_valid") is False


def play_game(env: Any, agents: Sequence[Any], seed: int, hands: int = 1,
              max_invalid_streak: int = DEFAULT_MAX_INVALID_STREAK) -> dict[str, Any]:
    """One game of a PettingZoo AEC env, ``agents[i]`` in seat ``i``: ``hands`` deals (``EnvSpec.hands``).

    Each agent that takes ``rng`` draws from its own generator seeded by ``(seed, seat)``; the env's RNG is
    left to chance, so a seat-swapped pair replays the same deals.

    Args:
        env: The AEC env (reset here).
        agents: One agent per seat.
        seed: The game's seed; deal ``h`` is reset with ``seed * hands + h``.
        hands: Deals in the game.
        max_invalid_streak: The forfeit rule (module docstring); 0 turns it off.

    Returns:
        ``{"returns", "turns", "infra_error", "forfeit"}``: returns are each seat's rewards summed over the
        deals (up to the forfeit, if any); ``forfeit`` is None or ``{"seat", "reason", "hand"}``.
    """
    names = list(env.possible_agents)
    totals = [0.0] * len(names)
    rngs = [np.random.default_rng([seed, i]) if accepts_rng(a) else None for i, a in enumerate(agents)]
    turns = 0
    for hand in range(hands):
        result = _play_deal(env, agents, rngs, seed * hands + hand, max_invalid_streak)
        turns += result["turns"]
        if result["infra_error"] is not None:
            return {"returns": [], "turns": turns, "infra_error": result["infra_error"], "forfeit": None}
        totals = [t + r for t, r in zip(totals, result["returns"], strict=True)]
        if result["forfeit"] is not None:  # the forfeit rule: the game ends at once
            return {"returns": totals, "turns": turns, "infra_error": None,
                    "forfeit": {**result["forfeit"], "hand": hand}}
    return {"returns": totals, "turns": turns, "infra_error": None, "forfeit": None}


def _play_deal(env: Any, agents: Sequence[Any], rngs: Sequence[np.random.Generator | None], seed: int,
               max_invalid_streak: int) -> dict[str, Any]:
    """One deal (episode) of the AEC env from reset seed ``seed``; invalid streaks start at 0 each deal."""
    env.reset(seed=seed)
    names = list(env.possible_agents)
    totals = [0.0] * len(names)
    streaks = [0] * len(names)
    infra_types = _infra_error_types()
    turns = 0
    while env.agents:
        current = env.agent_selection
        if env.terminations[current] or env.truncations[current]:
            break
        seat = names.index(current)
        agent = agents[seat]
        info = env.infos[current]
        try:
            action = _act(agent, _observe(env, current, seat, agent.obs_mode), info, rngs[seat])
        except infra_types as err:
            return {"returns": [], "turns": turns, "infra_error": _infra_reason(err), "forfeit": None}
        env.step(action)
        turns += 1
        for i, name in enumerate(names):
            totals[i] += float(env.rewards.get(name, 0.0))
        error = env.infos.get(current, {}).get("infra_error")
        if error:
            return {"returns": [], "turns": turns, "infra_error": str(error), "forfeit": None}
        if max_invalid_streak:
            streaks[seat] = streaks[seat] + 1 if _aec_action_invalid(env, current) else 0
            if streaks[seat] >= max_invalid_streak:  # even on the turn cap's step: no draw for it
                forfeit = _forfeit(seat, streaks[seat], env.infos.get(current, {}))
                return {"returns": totals, "turns": turns, "infra_error": None, "forfeit": forfeit}
    return {"returns": totals, "turns": turns, "infra_error": None, "forfeit": None}


def play_task(env: Any, agent: Any, seed: int, max_invalid_streak: int = 0) -> dict[str, Any]:
    """One episode of a single-agent env.

    Args:
        env: The Gymnasium env (reset here with ``seed``).
        agent: The agent.
        seed: The reset seed.
        max_invalid_streak: The forfeit rule (module docstring); 0 (the default) turns it off.

    Returns:
        ``{"returns": [total reward], "success", "turns", "infra_error", "forfeit"}``; a forfeit is a failure.
    """
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng([seed, 0]) if accepts_rng(agent) else None
    infra_types = _infra_error_types()
    total, turns, done, streak = 0.0, 0, False, 0
    while not done:
        if info.get("infra_error"):
            return {"returns": [], "success": None, "turns": turns, "infra_error": str(info["infra_error"]),
                    "forfeit": None}
        try:
            action = _act(agent, obs, info, rng)
        except infra_types as err:
            return {"returns": [], "success": None, "turns": turns, "infra_error": _infra_reason(err),
                    "forfeit": None}
        obs, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        turns += 1
        done = terminated or truncated
        if max_invalid_streak and not info.get("infra_error"):
            streak = streak + 1 if info.get("action_valid") is False else 0
            if streak >= max_invalid_streak:
                return {"returns": [total], "success": False, "turns": turns, "infra_error": None,
                        "forfeit": _forfeit(0, streak, info)}
    if info.get("infra_error"):
        return {"returns": [], "success": None, "turns": turns, "infra_error": str(info["infra_error"]),
                "forfeit": None}
    return {"returns": [total], "success": bool(info.get("success", False)), "turns": turns, "infra_error": None,
            "forfeit": None}


class MatchPlayer:
    """Builds each env and agent once (per process) and plays matches of one suite.

    Agents are built per (agent, env id) and kept, so an agent whose ``act`` takes no ``rng`` and keeps its
    own random state would play differently depending on which games its process played before; the
    built-in kinds all take ``rng`` (each game's generators are seeded by the game), which is what makes a
    game's result the same on every executor.

    Args:
        suite: The suite.
    """

    def __init__(self, suite: Suite):
        self.suite = suite
        self._envs: dict[tuple[str, str], Any] = {}
        self._agents: dict[tuple[str, str], Any] = {}

    def agent(self, name: str, env: EnvSpec) -> Any:
        """The agent ``name`` built for ``env``'s id."""
        key = (name, env.id)
        if key not in self._agents:
            self._agents[key] = build_agent(self.suite.agent(name), env.id)
        return self._agents[key]

    def env(self, spec: EnvSpec, mode: str, multi: bool) -> Any:
        """The env of ``spec`` in observation mode ``mode`` (AEC form when ``multi``)."""
        import turngym.envs

        key = (spec.label, mode)
        if key not in self._envs:
            kwargs = dict(spec.kwargs)
            info = turngym.envs.env_info(spec.id)
            if "vector" in info.modes:
                kwargs.setdefault("obs_mode", mode)
            self._envs[key] = (turngym.envs.make_aec if multi else turngym.envs.make)(spec.id, **kwargs)
        return self._envs[key]

    def play(self, match: Match) -> dict[str, Any]:
        """Plays ``match``; returns its log line (``runner`` module docstring, "The log")."""
        import turngym.envs

        spec = self.suite.env(match.env)
        agents = [self.agent(a, spec) for a in match.seats]
        modes = {a.obs_mode for a in agents}
        mode = "vector" if modes == {"vector"} else "text"
        tick = time.perf_counter()
        multi = turngym.envs.env_info(spec.id).aec is not None
        env = self.env(spec, mode, multi)
        result = (play_game(env, agents, match.seed, spec.hands, spec.max_invalid_streak) if multi
                  else play_task(env, agents[0], match.seed, spec.max_invalid_streak))
        if result["forfeit"] is not None:
            result["forfeit"] = {"agent": match.seats[result["forfeit"]["seat"]], **result["forfeit"]}
        return {
            "key": match.key, "env": match.env, "env_id": spec.id, "seed": match.seed, "seats": list(match.seats),
            **result, "seconds": round(time.perf_counter() - tick, 6), "env_hash": spec.hash,
            "agent_hashes": {a: self.suite.agent(a).hash for a in dict.fromkeys(match.seats)},
        }

    def close(self) -> None:
        """Closes the envs and the agents that have ``close``."""
        for obj in [*self._envs.values(), *self._agents.values()]:
            close = getattr(obj, "close", None)
            if callable(close):
                close()
        self._envs.clear()
        self._agents.clear()


__all__ = ["MatchPlayer", "play_game", "play_task"]
