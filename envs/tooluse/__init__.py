"""Tool use: tools, call formats, generated task families with verifiable answers, and the env."""

from turngym.envs.core.registry import TEST_SPLIT, EnvInfo, register_env
from turngym.envs.tooluse.env import ToolMathEnv, ToolQAEnv, ToolSQLEnv, ToolUseEnv
from turngym.envs.tooluse.trajectories import ExpertAgent, expert_trajectories

#: The final-answer form of every call format (``formats.render_answer``); IGPO scores only the text inside it.
ANSWER_TEMPLATE = "<answer>{}</answer>"

register_env(EnvInfo("turngym/ToolQA-v0", "tooluse", ToolQAEnv, modes=("text",),
                     summary="Multi-hop questions over a document corpus (search, open)", gold_answer="gold_answer",
                     answer_template=ANSWER_TEMPLATE, expert="turngym.envs.tooluse.experts:scripted_expert",
                     eval_kwargs=TEST_SPLIT))
register_env(EnvInfo("turngym/ToolMath-v0", "tooluse", ToolMathEnv, modes=("text",),
                     summary="Word problems with exact answers (calculator, python)", gold_answer="gold_answer",
                     answer_template=ANSWER_TEMPLATE, expert="turngym.envs.tooluse.experts:scripted_expert",
                     eval_kwargs=TEST_SPLIT))
register_env(EnvInfo("turngym/ToolSQL-v0", "tooluse", ToolSQLEnv, modes=("text",),
                     summary="Questions over a relational database (read-only SQL)", gold_answer="gold_answer",
                     answer_template=ANSWER_TEMPLATE, expert="turngym.envs.tooluse.experts:scripted_expert",
                     eval_kwargs=TEST_SPLIT))

__all__ = ["ExpertAgent", "ToolMathEnv", "ToolQAEnv", "ToolSQLEnv", "ToolUseEnv", "expert_trajectories"]
