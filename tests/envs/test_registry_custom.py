"""Users register their own ids under their own namespace (issue 12, item 6).

README's "Custom environments" code block runs verbatim in a fresh interpreter (so the docs cannot rot):
a game defined in ``__main__`` passes both checkers, including the cross-process check. Ids under a user
namespace work through ``gym.make``, ``turngym.envs.make``/``make_aec`` and ``list_envs``, as classes or
``"module:Class"`` strings. An env a fresh process cannot rebuild skips the cross-process check with a
warning instead of failing. On main ``register_env`` refused every namespace but ``turngym/``, and the
cross-process check failed with "Did you mean 'turngym/...'" for any env it could not find by id.
"""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import gymnasium as gym
import pytest

import turngym.envs as te
from turngym.envs import ConfigError
from turngym.envs.cards.kuhn import KuhnGame, KuhnPokerAEC, KuhnPokerEnv
from turngym.envs.core.aec import GameAECEnv
from turngym.envs.core.registry import EnvInfo, register_env, unregister_env
from turngym.envs.core.single import GameSingleAgentEnv

README = Path(__file__).resolve().parents[2] / "README.md"
MY_ID = "myorg/Kuhn-v0"


class MyKuhnEnv(KuhnPokerEnv):
    """A user's env: Kuhn poker under the user's own id."""

    def __init__(self, obs_mode: str = "text", max_turns: int = 20):
        GameSingleAgentEnv.__init__(self, KuhnGame(), MY_ID, None, 0, obs_mode, max_turns, 0.0, None)


class MyKuhnAEC(KuhnPokerAEC):
    """A user's env, AEC form."""

    def __init__(self, obs_mode: str = "text", max_turns: int = 20):
        GameAECEnv.__init__(self, KuhnGame(), MY_ID, obs_mode, max_turns, 0.0, "sample", None)


def readme_block(heading: str = "### Custom environments") -> str:
    """The first ```python block after ``heading`` in README.md, verbatim."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(heading):]
    match = re.search(r"```python\n(.*?)\n```", section, flags=re.S)
    assert match, f"README has no python block under {heading!r}"
    return match.group(1)


@pytest.fixture
def unregister():
    ids: list[str] = []
    yield ids.append
    for env_id in ids:
        unregister_env(env_id)


def test_readme_custom_env_block_runs_verbatim(tmp_path):
    script = tmp_path / "custom_env.py"
    script.write_text(readme_block(), encoding="utf-8")
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "['myorg/Nim-v0']" in out.stdout
    assert '"entry_point": "__main__:NimEnv"' in out.stdout  # the spec serializes (to_json)
    assert "skipped" not in out.stderr  # the cross-process check ran on the __main__ env


@pytest.mark.parametrize("as_string", [False, True], ids=["class", "string"])
def test_user_namespace_works_through_every_make(unregister, as_string):
    single = f"{MyKuhnEnv.__module__}:MyKuhnEnv" if as_string else MyKuhnEnv
    aec = f"{MyKuhnAEC.__module__}:MyKuhnAEC" if as_string else MyKuhnAEC
    register_env(EnvInfo(MY_ID, "mine", single, aec=aec, modes=("text", "vector"), summary="my Kuhn"))
    unregister(MY_ID)
    assert [e.id for e in te.list_envs("mine")] == [MY_ID]
    assert gym.spec(MY_ID).entry_point == f"{MyKuhnEnv.__module__}:MyKuhnEnv"
    assert isinstance(gym.make(MY_ID).unwrapped, MyKuhnEnv)
    assert te.make("Kuhn-v0").env_id == MY_ID  # without its namespace: the one id of that name
    env = te.make(MY_ID, obs_mode="vector")
    assert isinstance(env, MyKuhnEnv) and env.make_kwargs == {"obs_mode": "vector"}
    assert isinstance(te.make_aec(MY_ID), MyKuhnAEC)
    te.check_env(gym.make(MY_ID), cross_process=False)


def test_registration_rules(unregister):
    with pytest.raises(ConfigError, match="Namespace/Name-vN"):
        register_env(EnvInfo("Nim-v0", "mine", MyKuhnEnv))  # no namespace
    with pytest.raises(ConfigError, match="Namespace/Name-vN"):
        register_env(EnvInfo("myorg/Nim", "mine", MyKuhnEnv))  # no version
    register_env(EnvInfo(MY_ID, "mine", MyKuhnEnv))
    unregister(MY_ID)
    register_env(EnvInfo(MY_ID, "mine", MyKuhnEnv, summary="again"))  # same env again: replaced
    assert te.env_info(MY_ID).summary == "again"
    with pytest.raises(ConfigError, match="unregister_env"):
        register_env(EnvInfo(MY_ID, "mine", KuhnPokerEnv))  # another env under a taken id
    with pytest.raises(ConfigError, match="unregister_env"):
        register_env(EnvInfo("turngym/KuhnPoker-v0", "mine", MyKuhnEnv))


_EPHEMERAL = '''
from turngym.envs.cards.kuhn import KuhnGame, KuhnPokerEnv
from turngym.envs.core.single import GameSingleAgentEnv


class EphemeralEnv(KuhnPokerEnv):
    """Kuhn poker from a module that exists only in this process."""

    def __init__(self, obs_mode="text", max_turns=20):
        GameSingleAgentEnv.__init__(self, KuhnGame(), "myorg/Ephemeral-v0", None, 0, obs_mode, max_turns, 0.0, None)
'''


def test_env_a_fresh_process_cannot_rebuild_skips_cross_process_with_a_warning(unregister, monkeypatch):
    module = types.ModuleType("tg_ephemeral_user_envs")
    exec(compile(_EPHEMERAL, "<ephemeral>", "exec"), module.__dict__)  # noqa: S102 - the test's own source
    monkeypatch.setitem(sys.modules, module.__name__, module)
    register_env(EnvInfo("myorg/Ephemeral-v0", "mine", module.EphemeralEnv))
    unregister("myorg/Ephemeral-v0")
    with pytest.warns(UserWarning, match=r"cross-process check skipped for myorg/Ephemeral-v0: a fresh process "
                                         r"cannot rebuild its constructor .*tg_ephemeral_user_envs"):
        te.check_env(te.make("myorg/Ephemeral-v0"))  # main: ConformanceError "... Did you mean ..."
