"""Agents, in two subpackages by role (DESIGN §2).

- ``turngym.agents.llm``: the LLM training pipeline (policies, rollouts, batch, estimators, losses, trainers).
- ``turngym.agents.baselines``: baseline agents (CFR/game trees, tabular policies, SB3 wrappers, Dhumbal and
  dilemma agents, scripted experts).
- ``turngym.agents.stats``: the small statistics helpers both use.

The env pools live beside the envs (``turngym.envs.pool``). The solver names below are re-exported for
convenience.
"""

from turngym.agents.baselines import (
    CFRResult,
    CFRSolver,
    GameTree,
    TabularPolicy,
    build_tree,
    exploitability,
    game_value,
    plot_exploitability,
    solve,
)

__all__ = [
    "CFRResult", "CFRSolver", "GameTree", "TabularPolicy", "build_tree", "exploitability", "game_value",
    "plot_exploitability", "solve",
]
