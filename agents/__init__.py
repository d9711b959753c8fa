"""Policies, rollouts, estimators, losses, trainers."""

from turngym.agents.cfr import CFRResult, CFRSolver, exploitability, game_value, plot_exploitability, solve
from turngym.agents.gametree import GameTree, build_tree
from turngym.agents.tabular import TabularPolicy

__all__ = [
    "CFRResult", "CFRSolver", "GameTree", "TabularPolicy", "build_tree", "exploitability", "game_value",
    "plot_exploitability", "solve",
]
