"""Every registered id passes the conformance checkers, in every mode and form it offers."""

from __future__ import annotations

import gymnasium as gym
import pytest

import turngym.envs as te

#: Browser ids (real Chromium, 15-50 s of check_env each; 130 of them) are checked in their own families' tests:
#: tests/envs/web/test_miniwob_envs.py (one id by default, every id under the slow mark) and
#: tests/envs/web/test_shop_browser.py.
BROWSER = {e.id for e in te.list_envs() if "playwright" in e.requires}
CASES = [(e.id, mode) for e in te.list_envs() for mode in e.modes if e.id not in BROWSER]


def test_registry_is_not_empty():
    ids = {e.id for e in te.list_envs()}
    assert {"turngym/KuhnPoker-v0", "turngym/LeducHoldem-v0", "turngym/RockPaperScissors-v0"} <= ids
    for info in te.list_envs():
        assert info.id.startswith("turngym/") and info.id.rsplit("-v", 1)[1].isdigit()
        assert info.id in gym.registry


@pytest.mark.parametrize(("env_id", "mode"), CASES)
def test_single_agent_conformance(env_id, mode):
    te.check_env(gym.make(env_id, obs_mode=mode))


@pytest.mark.parametrize(("env_id", "mode"), [(i, m) for i, m in CASES if te.env_info(i).aec is not None])
def test_multiagent_conformance(env_id, mode):
    te.check_multiagent_env(te.make_aec(env_id, obs_mode=mode))


@pytest.mark.parametrize(("env_id", "mode"), [(i, m) for i, m in CASES if te.env_info(i).parallel is not None])
def test_parallel_conformance(env_id, mode):
    te.check_multiagent_env(te.make_parallel(env_id, obs_mode=mode))


def test_both_pettingzoo_forms_are_covered():
    # Guards the parametrizations above against silently collecting nothing.
    kinds = {k for e in te.list_envs() for k in e.kinds}
    assert {"gymnasium", "aec", "parallel"} <= kinds
    assert all(e.parallel is not None for e in te.list_envs("dilemmas"))


@pytest.mark.parametrize("env_id", [e.id for e in te.list_envs()])
def test_class_docstring_sections(env_id):
    info = te.env_info(env_id)
    for form in ("single", "aec", "parallel"):
        if getattr(info, form) is None:
            continue
        try:
            ctor = info.load(form)  # a "module:Class" entry point is the class it names, not the string
        except te.MissingExtraError as e:
            pytest.skip(str(e))
        doc = ctor.__doc__ or ""
        for section in ("Description:", "Observation:", "Action:", "Reward:", "Episode end:", "Arguments:",
                        "Version history:"):
            assert section in doc, f"{ctor.__name__} docstring lacks {section}"
