"""Scripted-expert trajectories through the env, for supervised warm starts (``turngym sft``).

Each trajectory is what a policy would have seen and said: the observation of every turn, the action
text the expert wrote in the env's call format, the reward, and the outcome.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from turngym.envs.core.registry import make
from turngym.envs.tooluse import formats
from turngym.envs.tooluse.base import Answer
from turngym.envs.tooluse.env import ToolUseEnv, expert_next_step


class ExpertAgent:
    """Plays a tool-use env with the task family's scripted expert, in the env's call format.

    The expert's next step is recomputed from the env's recorded history each turn (replaying its
    generator costs no tool calls), so the agent holds no state of its own.
    """

    name = "expert"

    def __init__(self, env: ToolUseEnv):
        self.env = env

    def next_text(self) -> str:
        """The expert's next action, rendered in the env's format."""
        env = self.env
        assert env.task is not None, "reset the env first"
        step = expert_next_step(env.task, env.history, env.tools)
        if isinstance(step, Answer):
            return formats.render_answer(step.text)
        return formats.render_calls([step], env.format)


def expert_trajectories(env_id: str, n: int, seed: int, **env_kwargs: Any) -> list[dict[str, Any]]:
    """Runs the scripted expert on ``n`` tasks of ``env_id`` and records every turn.

    Args:
        env_id: A tool-use id (``turngym/ToolQA-v0``, ``ToolMath-v0``, ``ToolSQL-v0``).
        n: Number of episodes.
        seed: Root seed; episode ``i`` resets with a seed drawn from ``SeedSequence(seed)``.
        **env_kwargs: Env arguments (``format``, ``difficulty``, ``split``, ...).

    Returns:
        One dict per episode: ``task`` (the reset ``info["task"]``), ``answer`` (the gold answer, from the
        env's ``gold_answer()`` accessor: these are offline training records, not an acting agent's view),
        ``turns`` (list of ``{"observation", "action", "reward"}``), ``success``, ``return``, ``truncated``.
    """
    env = make(env_id, **env_kwargs)
    agent = ExpertAgent(env)
    seeds = np.random.SeedSequence(seed).generate_state(n, dtype=np.uint32)
    out = []
    for s in seeds:
        obs, info = env.reset(seed=int(s))
        turns, total, done = [], 0.0, False
        task, gold = info["task"], env.gold_answer()
        while not done:
            action = agent.next_text()
            next_obs, reward, terminated, truncated, info = env.step(action)
            turns.append({"observation": obs, "action": action, "reward": float(reward)})
            total += float(reward)
            obs, done = next_obs, terminated or truncated
        out.append({"task": task, "answer": gold, "turns": turns, "success": bool(info.get("success")), "return": total,
                    "truncated": bool(truncated)})
    env.close()
    return out


__all__ = ["ExpertAgent", "expert_trajectories"]
