"""``turngym/WebShopBrowser-v0``: the text shop's goals, pages and reward, in real Chromium over real HTTP.

Fails on main: the browser front end did not exist.
"""

from __future__ import annotations

import shutil

import gymnasium as gym
import pytest

pytest.importorskip("playwright")
pytest.importorskip("fastapi")
if shutil.which("chromium") is None:
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

import turngym.envs  # noqa: E402,F401
from turngym.envs.web.shop.browser_env import WebShopBrowserEnv, browser_shop_expert  # noqa: E402
from turngym.envs.web.shop.reward import score_purchase  # noqa: E402


@pytest.fixture(scope="module")
def env():
    e = gym.make("turngym/WebShopBrowser-v0", split="test")
    yield e
    e.close()


def test_same_seed_same_goal_as_the_text_front_end(env):
    text = gym.make("turngym/WebShop-v0", split="test")
    for seed in (0, 3, 11):
        _, t_info = text.reset(seed=seed)
        obs, b_info = env.reset(seed=seed)
        assert b_info["task"]["instruction"] == t_info["task"]["instruction"]
        assert b_info["task"]["task_index"] == t_info["task"]["task_index"]
        assert b_info["task"]["id"] == t_info["task"]["id"]
        assert obs.startswith("Instruction: " + t_info["task"]["instruction"])
        assert "textbox 'Search'" in obs and b_info["action_valid"] is True


def test_the_expert_buys_in_the_browser_and_the_reward_is_the_servers_score(env):
    act = browser_shop_expert()
    base = env.unwrapped
    assert isinstance(base, WebShopBrowserEnv)
    wins = 0
    for seed in range(4):
        obs, info = env.reset(seed=seed)
        for _ in range(30):
            obs, reward, terminated, truncated, info = env.step(act(env, obs, info))
            assert info["action_valid"], obs[:300]
            if terminated or truncated:
                break
        assert terminated and not truncated and "infra_error" not in info
        # The reward is WebShop's formula on what the browser bought (the server's page model holds it).
        page = base.server.page_of(base.sid)
        product = base.catalog.product(page.asin)
        expected = score_purchase(product, base.goal, dict(page.options)).score
        assert reward == pytest.approx(expected) == pytest.approx(info["score"])
        assert info["success"] == (info["score"] == 1.0)
        wins += info["success"]
    assert wins >= 3


def test_hostile_fill_is_text_not_markup_and_sessions_stay_apart(env):
    obs, _ = env.reset(seed=5)
    box = next(line.split("]")[0].strip("\t [") for line in obs.splitlines() if "textbox 'Search'" in line)
    first_sid = env.unwrapped.sid
    payload = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
    obs, _, _, _, info = env.step(f"fill('{box}', {payload!r})")
    assert info["action_valid"]
    obs, _, _, _, info = env.step(f"press('{box}', 'Enter')")
    assert info["action_valid"] and "pwned" not in env.unwrapped.session.page.title()
    for junk in ("x" * 200_000, "\x00\xff" * 50, "click(", "click('99999')", "goto('http://example.com')"):
        obs, _, terminated, truncated, info = env.step(junk)
        assert info["action_valid"] is False and not terminated
    env.reset(seed=6)  # a new episode is a new session; the old one is closed on the server
    assert env.unwrapped.sid != first_sid
    with pytest.raises(KeyError):
        env.unwrapped.server.result(first_sid)


@pytest.mark.slow
def test_browser_shop_passes_the_conformance_checker():
    env = gym.make("turngym/WebShopBrowser-v0", split="test")
    try:
        turngym.envs.check_env(env)
    finally:
        env.close()


def test_without_chromium_it_refuses_before_starting_the_shop_server(monkeypatch):
    import turngym.envs.web.browser.process as process
    import turngym.envs.web.shop.browser_env as browser_env
    from turngym.envs import MissingExtraError

    started = []
    monkeypatch.setattr(process.shutil, "which", lambda name: None)
    monkeypatch.setattr(browser_env, "shared_server", lambda catalog: started.append(catalog))
    with pytest.raises(MissingExtraError, match="apt-get install chromium"):
        WebShopBrowserEnv(split="test")
    assert started == []  # main: the catalog was built and the server started, then the refusal came
