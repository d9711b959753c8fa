"""Families with heavy optional dependencies register lazily (issue 12, item 7).

A family registered with a ``"module:Class"`` string and ``extra=...`` is not imported by ``import
turngym.envs``; resolving its entry point without the extra raises ``MissingExtraError`` (a ``ConfigError``)
that says ``pip install "turngym[<extra>]"``, through every road: ``turngym.envs.make``, ``gym.make``,
``EnvInfo.load`` and a plain import of the family's module. On main ``EnvInfo`` had no ``extra``, and a
string entry point was rejected.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import gymnasium as gym
import pytest

import turngym.envs as te
from turngym.envs import ConfigError
from turngym.envs.core.errors import MissingExtraError
from turngym.envs.core.registry import EnvInfo, register_env, unregister_env

#: A module no environment has: the stand-in for playwright / docker.
ABSENT = "turngym_test_absent_dependency"


@pytest.fixture
def fake_family(tmp_path, monkeypatch):
    """A family package on disk whose env module needs ``ABSENT``, guarded as the registry docs say."""
    pkg = tmp_path / "tg_fake_web"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""A fake heavy family: importing the package itself is cheap."""\n')
    (pkg / "env.py").write_text(textwrap.dedent(f"""
        from turngym.envs.core.registry import require_extra

        require_extra("web", "{ABSENT}", what=__name__)
        import {ABSENT}  # noqa: E402  (never reached without the extra)

        class FakeWebEnv:
            pass
    """))
    (pkg / "unguarded.py").write_text(f"import {ABSENT}\n\nclass FakeWebEnv:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ids = {"guarded": "turngym/FakeWeb-v0", "unguarded": "turngym/FakeWebUnguarded-v0"}
    register_env(EnvInfo(ids["guarded"], "web", "tg_fake_web.env:FakeWebEnv", extra="web", requires=(ABSENT,),
                         summary="needs a module that is not installed"))
    register_env(EnvInfo(ids["unguarded"], "web", "tg_fake_web.unguarded:FakeWebEnv", extra="web"))
    yield ids
    for env_id in ids.values():
        unregister_env(env_id)
    for name in [m for m in sys.modules if m.startswith("tg_fake_web")]:
        del sys.modules[name]


def test_lazy_family_is_listed_but_not_imported(fake_family):
    assert "tg_fake_web" not in sys.modules
    listed = {e.id: e for e in te.list_envs("web")}
    assert listed[fake_family["guarded"]].extra == "web"
    assert gym.spec(fake_family["guarded"]).entry_point == "tg_fake_web.env:FakeWebEnv"
    assert "tg_fake_web" not in sys.modules


@pytest.mark.parametrize("road", ["turngym.envs.make", "gym.make", "EnvInfo.load", "import"])
def test_missing_extra_names_the_pip_command(fake_family, road):
    env_id = fake_family["guarded"]
    calls = {
        "turngym.envs.make": lambda: te.make(env_id),
        "gym.make": lambda: gym.make(env_id),
        "EnvInfo.load": lambda: te.env_info(env_id).load("single"),
        "import": lambda: __import__("tg_fake_web.env"),
    }
    with pytest.raises(MissingExtraError) as err:
        calls[road]()
    assert isinstance(err.value, ConfigError) and isinstance(err.value, ImportError)
    assert 'pip install "turngym[web]"' in str(err.value) and ABSENT in str(err.value)


def test_missing_dependency_found_only_at_import_still_names_the_extra(fake_family):
    # No `requires` declared and no guard in the module: the ModuleNotFoundError of the import is converted.
    with pytest.raises(MissingExtraError, match=r'pip install "turngym\[web\]"'):
        te.make(fake_family["unguarded"])


def test_bad_string_entry_points_are_config_errors():
    with pytest.raises(ConfigError, match="'package.module:Attribute'"):
        EnvInfo("myorg/Bad-v0", "x", "no colon here")
    with pytest.raises(ConfigError, match="extra"):
        EnvInfo("myorg/Bad-v0", "x", "a.b:C", requires=("playwright",))
    info = EnvInfo("myorg/Bad-v0", "x", "turngym.envs.cards.kuhn:NoSuchEnv")
    with pytest.raises(ConfigError, match="an attribute of turngym.envs.cards.kuhn"):
        info.load()
    with pytest.raises(ConfigError, match="importable"):
        EnvInfo("myorg/Bad-v0", "x", "turngym_no_such_module.sub:Env").load()


def test_import_turngym_envs_imports_no_heavy_dependency():
    heavy = ["torch", "transformers", "ray", "playwright", "docker", "stable_baselines3", "matplotlib"]
    code = f"import sys, turngym.envs; print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == "[]"
