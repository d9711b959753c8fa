"""turngym: multi-turn environments for agents (games, dilemmas, tool use) and trainers for them.

The code lives in three folders at the top of the repository that install as subpackages of this one
(DESIGN §2): ``envs/`` -> ``turngym.envs``, ``agents/`` -> ``turngym.agents``, ``benchmarks/`` ->
``turngym.benchmarks``. This module only holds the version: setup.cfg reads it (``attr:``), so it is the one
place to change it, and ``turngym --version`` prints it. Importing ``turngym`` imports nothing else.
"""

__version__ = "0.1.0"
