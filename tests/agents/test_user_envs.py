"""``turngym train`` on a user's own envs (issue 13, item 15e): ``--env.modules`` and the pools' ``modules``.

The user's package is ``tests/agents/user_envs/testns_echo.py`` (it registers ``testns/Echo-v0`` when
imported). On main ``EnvConfig`` had no ``modules`` and ``make_pool`` no ``modules=``: every test here fails
there (unknown field, unexpected keyword argument), and a subprocess worker could not build a user's id at all.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from turngym.agents.llm.train.cli import parse_train_args
from turngym.agents.llm.train.config import EnvConfig
from turngym.envs.core.errors import ConfigError, UnknownEnvError
from turngym.envs.core.registry import unregister_env
from turngym.envs.pool import make_pool

USER_ENVS = Path(__file__).resolve().parent / "user_envs"
ECHO = "testns/Echo-v0"


@pytest.fixture
def user_envs(monkeypatch: pytest.MonkeyPatch):
    """The user's package on sys.path and PYTHONPATH; afterwards its ids and modules are gone again."""
    monkeypatch.syspath_prepend(str(USER_ENVS))
    monkeypatch.setenv("PYTHONPATH", str(USER_ENVS))
    yield USER_ENVS
    for env_id in (ECHO, "testns/Echo-v1", "testns/GymOnly-v0"):
        unregister_env(env_id)
    import gymnasium

    gymnasium.registry.pop("testns/GymOnly-v0", None)
    for name in [m for m in sys.modules if m.startswith("testns_")]:
        del sys.modules[name]


def _play(pool: Any) -> list[tuple[str, float, bool]]:
    (obs, info), = pool.reset([0], seeds=[3])
    word = obs.split(": ")[1]
    (obs2, reward, terminated, _, _), = pool.step([0], [word])
    return [(obs, reward, terminated), (obs2, 0.0, False)]


def test_env_config_imports_the_modules_before_resolving_the_id(user_envs):
    assert "testns_echo" not in sys.modules
    with pytest.raises(UnknownEnvError):
        EnvConfig(env_id=ECHO).registry_entry()
    assert EnvConfig(env_id=ECHO, modules="testns_echo").registry_entry().id == ECHO
    # The JSON form and the module:function form (register_v1 registers the v1 id on call).
    cfg = EnvConfig(env_id="testns/Echo-v1", modules='["testns_echo:register_v1"]')
    assert cfg.module_names() == ("testns_echo:register_v1",)
    assert cfg.registry_entry().id == "testns/Echo-v1"


def test_cli_flag_reaches_the_config(user_envs):
    cfg = parse_train_args(["--env.env-id", ECHO, "--env.modules", "testns_echo, other.pkg"])
    assert cfg.env.module_names() == ("testns_echo", "other.pkg")


def test_a_module_that_does_not_import_is_named(user_envs, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"env\.modules.*'testns_nowhere'.*ModuleNotFoundError"):
        EnvConfig(env_id=ECHO, modules="testns_nowhere").registry_entry()
    (tmp_path / "testns_broken.py").write_text("raise RuntimeError('bad registration code')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match="testns_broken.*RuntimeError: bad registration code") as err:
        EnvConfig(env_id=ECHO, modules="testns_broken").registry_entry()
    assert isinstance(err.value.__cause__, RuntimeError)
    for bad in ("not a module", "pkg.:x", '["ok", 3]'):
        with pytest.raises(ConfigError, match="env.modules"):
            EnvConfig(modules=bad).module_names()
    with pytest.raises(ConfigError, match="callable"):
        EnvConfig(env_id=ECHO, modules="testns_echo:WORDS").registry_entry()


def test_gymnasium_only_registration_gets_a_clear_error(user_envs, tmp_path, monkeypatch):
    (tmp_path / "testns_gym_only.py").write_text(
        "import gymnasium\ngymnasium.register('testns/GymOnly-v0', entry_point='testns_echo:EchoEnv')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match="register_env"):
        EnvConfig(env_id="testns/GymOnly-v0", modules="testns_gym_only").registry_entry()


@pytest.mark.parametrize("executor", ["inprocess", "subprocess"])
def test_pools_import_the_modules_where_the_envs_live(user_envs, executor):
    with make_pool(ECHO, 2, executor=executor, workers=2, modules=["testns_echo"]) as pool:
        played = _play(pool)
    assert played[0][0].startswith("Say: ") and played[0][1:] == (1.0, False)


def test_subprocess_workers_need_the_modules_even_when_the_parent_has_them(user_envs):
    import testns_echo  # noqa: F401  (registered here, in the parent only)

    with pytest.raises(UnknownEnvError, match="testns/Echo-v0"):
        make_pool(ECHO, 1, executor="subprocess", workers=1)
    with pytest.raises(ConfigError, match="testns_nowhere"):
        make_pool(ECHO, 1, executor="subprocess", workers=1, modules=["testns_nowhere"])
    with pytest.raises(ConfigError, match="modules"):
        make_pool(ECHO, 2, modules="testns_echo")  # a bare string would be imported letter by letter


@pytest.mark.slow
def test_ray_actors_import_the_modules(user_envs):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install turngym[dist])")
    if ray.is_initialized():
        pytest.skip("Ray is already running without the user's package on its PYTHONPATH")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with make_pool(ECHO, 2, executor="ray", workers=2, modules=["testns_echo"]) as pool:
            played = _play(pool)
        assert played[0][1:] == (1.0, False)
    finally:
        ray.shutdown()
