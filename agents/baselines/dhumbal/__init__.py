"""Dhumbal (Jhyap) agents: the rule-based players of arXiv 2510.11736 and search agents (MCTS, ISMCTS).

``make_agent(name, **kwargs)`` builds one by name: ``random``, ``aggressive``, ``conservative``,
``balanced``, ``opportunistic`` (keyword ``seed``, ...), ``mcts``, ``ismcts`` (keywords ``env``,
``iterations``, ``time_budget_s``, ``rollout``, ``seed``, ...; a search agent made without ``env`` is bound
later with ``agent.bind(env)``), ``ppo``, ``dqn`` (the shipped Stable-Baselines3 models; keywords
``ruleset``, ``path``, ``deterministic``, ``seed``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from turngym.agents.baselines.dhumbal.heuristics import (
    AggressiveAgent,
    BalancedAgent,
    ConservativeAgent,
    DhumbalView,
    HeuristicAgent,
    OpportunisticAgent,
    RandomAgent,
    choose_discard,
    choose_draw,
    decode_view,
)
from turngym.agents.baselines.dhumbal.search import ISMCTSAgent, MCTSAgent, determinize
from turngym.envs.core.errors import ConfigError


def _learned(algo: str) -> Callable[..., Any]:
    """A constructor of the shipped ``algo`` model's agent (imports SB3 and torch only when called)."""

    def make(**kwargs: Any) -> Any:
        from turngym.agents.baselines.dhumbal.learned import LearnedAgent

        return LearnedAgent(algo, **kwargs)

    make.__name__ = f"{algo}_agent"
    return make


AGENTS: dict[str, Callable[..., Any]] = {
    "random": RandomAgent,
    "aggressive": AggressiveAgent,
    "conservative": ConservativeAgent,
    "balanced": BalancedAgent,
    "opportunistic": OpportunisticAgent,
    "mcts": MCTSAgent,
    "ismcts": ISMCTSAgent,
    "ppo": _learned("ppo"),
    "dqn": _learned("dqn"),
}


def make_agent(name: str, **kwargs: Any) -> Any:
    """A Dhumbal agent by name (see ``AGENTS``); ``ConfigError`` with the nearest name when unknown."""
    if name not in AGENTS:
        raise ConfigError("agent", "one of " + ", ".join(AGENTS), name, AGENTS)
    return AGENTS[name](**kwargs)


__all__ = [
    "AGENTS", "AggressiveAgent", "BalancedAgent", "ConservativeAgent", "DhumbalView", "HeuristicAgent",
    "ISMCTSAgent", "MCTSAgent", "OpportunisticAgent", "RandomAgent", "choose_discard", "choose_draw",
    "decode_view", "determinize", "make_agent",
]
