"""Baseline agents: solvers, tabular policies, SB3 wrappers, Dhumbal and dilemma agents, scripted experts.

The game-tree solvers (CFR/CFR+) and the scripted experts the registry names for supervised warm starts live
beside the Stable-Baselines3 wrappers and the Dhumbal and social-dilemma agents.
"""

from turngym.agents.baselines.cfr import CFRResult, CFRSolver, exploitability, game_value, plot_exploitability, solve
from turngym.agents.baselines.gametree import GameTree, build_tree
from turngym.agents.baselines.tabular import TabularPolicy

__all__ = [
    "CFRResult", "CFRSolver", "GameTree", "TabularPolicy", "build_tree", "exploitability", "game_value",
    "plot_exploitability", "solve",
]
