"""A tool whose own machinery fails ends the episode unscored, never as a reward of 0 (DESIGN §3, infra_error).

The failures are real ones: the bubblewrap binary (or the interpreter of the unsafe backend) vanishing
under a running env, and the SQL worker script that cannot be started. The agent's call is not at fault,
so the env ends the episode as truncated with ``info["infra_error"]`` and no ``success``; rollouts,
training and evaluation leave such episodes out.
"""

from __future__ import annotations

import warnings

import pytest

import turngym.envs as te
from turngym.agents.llm.policies.base import Generation
from turngym.agents.llm.rollout import Episode, Turn, rollout_metrics
from turngym.envs.tooluse.tools import PythonTool, UnsafeSandboxWarning, python_sandbox
from turngym.envs.tooluse.tools import sql as sql_tool

pytestmark = pytest.mark.filterwarnings("ignore::turngym.envs.tooluse.tools.python_sandbox.UnsafeSandboxWarning")
BWRAP_WHY = python_sandbox.isolation_unavailable()
CALL = '<tool_call>{"name": "python", "arguments": {"code": "print(6 * 7)"}}</tool_call>'


def _break(tool: PythonTool, tmp_path) -> None:
    """The sandbox's executable disappears (package removed while the env runs)."""
    if tool.backend == "bwrap":
        tool._bwrap.bwrap = str(tmp_path / "gone" / "bwrap")
    else:
        tool.python = str(tmp_path / "gone" / "python3")


@pytest.mark.parametrize("backend", [
    pytest.param("auto", marks=pytest.mark.skipif(BWRAP_WHY is not None, reason=f"no bubblewrap: {BWRAP_WHY}")),
    "unsafe-rlimit",
])
def test_a_sandbox_that_cannot_start_is_an_infra_error_not_a_tool_error(backend, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsafeSandboxWarning)
        tool = PythonTool(backend=backend)
    assert tool.call({"code": "print(6 * 7)"}).infra_error is None  # the working tool
    _break(tool, tmp_path)
    result = tool.call({"code": "print(6 * 7)"})
    assert not result.ok and result.infra_error and result.infra_error.startswith("python:")
    # The agent's own failures stay ordinary tool errors.
    assert PythonTool(backend="unsafe-rlimit").call({"code": "raise SystemExit(3)"}).infra_error is None


@pytest.mark.parametrize("backend", [
    pytest.param("auto", marks=pytest.mark.skipif(BWRAP_WHY is not None, reason=f"no bubblewrap: {BWRAP_WHY}")),
    "unsafe-rlimit",
])
def test_the_episode_ends_unscored_and_its_snapshot_restores(backend, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsafeSandboxWarning)
        env = te.make("turngym/ToolMath-v0", python_backend=backend)
        fresh = te.make("turngym/ToolMath-v0", python_backend=backend)
    env.reset(seed=3)
    before = env.get_state()
    _break(env.tools["python"], tmp_path)
    obs, reward, terminated, truncated, info = env.step(CALL)
    assert (reward, terminated, truncated) == (0.0, False, True)
    assert info["infra_error"].startswith("python:") and "success" not in info and "score" not in info
    assert "not scored" in obs
    assert env.tool_calls == 0 and env.history == []  # nothing of the failed turn is recorded as played
    with pytest.raises(RuntimeError):
        env.step(CALL)  # the episode is over
    snap = env.get_state()
    assert snap != before
    fresh.reset(seed=5)
    fresh.set_state(snap)  # a reachable state: accepted, and restored exactly
    assert fresh.get_state() == snap and fresh.infra_error == info["infra_error"]


def test_an_sql_worker_that_cannot_start_is_an_infra_error(monkeypatch, tmp_path):
    env = te.make("turngym/ToolSQL-v0")
    env.reset(seed=0)
    tool = env.tools["sql"]
    tool.close()  # the next query needs a fresh worker
    monkeypatch.setattr(sql_tool, "_WORKER_SCRIPT", tmp_path / "gone.py")
    monkeypatch.setattr(sql_tool, "_idle", type(sql_tool._idle)())
    _, reward, terminated, truncated, info = env.step(
        '<tool_call>{"name": "sql", "arguments": {"query": "SELECT 1"}}</tool_call>')
    assert (reward, terminated, truncated) == (0.0, False, True)
    assert info["infra_error"].startswith("sql:") and "success" not in info


def _episode(i: int, success: bool, reward: float, infra: str | None = None) -> Episode:
    gen = Generation("x", [1], [2], [-0.5])
    info = {"success": success} if infra is None else {"infra_error": infra}
    return Episode(episode_id=i, group_id=0, seed=0, turns=[Turn(0, "k", [], gen, reward=reward)],
                   truncated=infra is not None, terminated=infra is None, success=success, final_info=info)


def test_rollout_metrics_leave_unscored_episodes_out():
    eps = [_episode(0, True, 1.0), _episode(1, False, 0.0), _episode(2, False, 0.0, infra="python: gone"),
           _episode(3, False, 0.0, infra="sql: gone")]
    m = rollout_metrics(eps)
    assert m["infra_error_frac"] == 0.5
    assert m["success_rate"] == 0.5 and m["return_mean"] == 0.5  # over the two scored episodes, not 1/4
    assert eps[2].infra_error == "python: gone" and eps[0].infra_error is None
    assert rollout_metrics(eps[2:]) == {"infra_error_frac": 1.0}
