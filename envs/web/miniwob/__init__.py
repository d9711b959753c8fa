"""MiniWoB++ in the real-Chromium backend: ``turngym/MiniWoB-<task>-v0`` for every task the ``miniwob`` package ships.

Registered by ``"module:Class"`` name with the ``web`` extra (playwright, miniwob), so ``import turngym.envs`` imports
neither; the ids are not bit-for-bit replayable (a live page with wall-clock timers). Tasks with a scripted solver
(``turngym.envs.web.miniwob.solvers.SOLVERS``) declare it as their expert.
"""

from turngym.envs.core.registry import EnvInfo, register_env
from turngym.envs.web.miniwob.solvers import SOLVERS
from turngym.envs.web.miniwob.tasks import TASKS, class_name, env_id

for _task in TASKS:
    register_env(EnvInfo(
        env_id(_task), "web", f"turngym.envs.web.miniwob.env:{class_name(_task)}",
        summary=f"MiniWoB++ {_task} in real Chromium (accessibility tree, BrowserGym actions)",
        expert="turngym.envs.web.miniwob.solvers:miniwob_expert" if _task in SOLVERS else None,
        replayable=False, extra="web", requires=("playwright", "miniwob")))

__all__ = ["TASKS"]
