"""Browser lifecycle in real Chromium: sharing, cleanup, crash and hang recovery, no leftovers (issue 14).

Every test drives Debian's Chromium through Playwright (skipped only where chromium or playwright is missing).
Fails on main: ``turngym.envs.web.browser`` and ``turngym.envs.web.miniwob`` were placeholder packages.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

pytest.importorskip("playwright")
if shutil.which("chromium") is None:
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

import turngym.envs.web.miniwob  # noqa: E402,F401  (registers the ids)
from turngym.envs.core.errors import MissingExtraError  # noqa: E402
from turngym.envs.web.browser import process  # noqa: E402
from turngym.envs.web.browser.process import BrowserUnavailableError, group_members, marked_browsers  # noqa: E402
from turngym.envs.web.miniwob.env import task_class  # noqa: E402

ClickTest = task_class("click-test")


def _profiles() -> set[str]:
    found = glob.glob("/tmp/playwright_chromiumdev_profile-*")
    return set(found) | set(glob.glob(os.path.join(process.scratch_root(), "*", "*")))


def _mine() -> list[int]:
    """Chromium processes this test process launched (their marker names our pid)."""
    return [pid for pid, tag, _ in marked_browsers() if tag.split(":")[0] == str(os.getpid())]


def _solve(env) -> dict:
    obs, info = env.reset(seed=3)
    bid = next(line.split("]")[0].strip("\t[") for line in obs.splitlines() if "button 'Click Me!'" in line)
    *_, info = env.step(f"click('{bid}')")
    return info


def test_one_browser_per_process_shared_and_closed_with_the_last_env():
    profiles_before = _profiles()
    a, b = ClickTest(), ClickTest()
    a.reset(seed=0)
    b.reset(seed=0)
    assert a.session.shared is b.session.shared and len(_mine()) == 1
    pid = _mine()[0]
    group = group_members(pid)
    assert pid in group and len(group) >= 2  # the browser and at least one renderer, in one process group
    a.close()
    assert process.wait_gone([pid], 0.5) == [pid]  # b still uses it
    assert _solve(b)["success"] is True
    b.close()
    assert process.wait_gone(group, 10) == []
    assert process.current() is None and _profiles() <= profiles_before


@pytest.mark.slow
def test_many_episodes_leave_one_browser_one_context_and_no_profiles():
    profiles_before = _profiles()
    env = ClickTest()
    for _ in range(15):
        assert _solve(env)["success"] is True
    pid = _mine()[0]
    assert len(_mine()) == 1 and len(env.session.shared.browser.contexts) == 1
    renderers = len(group_members(pid))
    for _ in range(10):
        _solve(env)
    assert len(group_members(pid)) <= renderers  # no renderer per episode piles up
    env.close()
    assert _mine() == [] and _profiles() <= profiles_before


@pytest.mark.exhaustive  # ~11 min of Chromium; CI runs the 25-episode test above
def test_a_thousand_episodes_leave_nothing_behind():
    profiles_before = _profiles()
    env = ClickTest()
    for _ in range(15):
        assert _solve(env)["success"] is True
    pid = _mine()[0]
    settled = len(group_members(pid))  # the browser, its GPU/network/storage helpers and the renderers in use
    for _ in range(985):
        assert _solve(env)["success"] is True
    assert _mine() == [pid]
    # Chromium starts and ends spare renderers on its own schedule, so the count moves by one or two from moment
    # to moment (16 vs a bound of 15 failed once under load); a per-episode leak would add ~1000. Let it settle.
    deadline = time.monotonic() + 10
    while len(group := group_members(pid)) > settled + 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(group) <= settled + 2, (len(group), settled)
    env.close()
    assert process.wait_gone(group, 10) == [] and _profiles() <= profiles_before


_CHILD = textwrap.dedent("""
    import json, os, sys, time
    import turngym.envs.web.miniwob
    from turngym.envs.web.browser import process
    from turngym.envs.web.miniwob.env import task_class
    envs = [task_class("click-test")(), task_class("enter-text")()]
    for env in envs:
        env.reset(seed=0)
    pid = process.current().pid
    profile = [p for b, _, p in process.marked_browsers() if b == pid][0]
    print(json.dumps({"browser": pid, "group": process.group_members(pid), "profile": profile}), flush=True)
    time.sleep(600)
""")


def _child(new_session: bool) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, text=True,
                            start_new_session=new_session)
    line = proc.stdout.readline()
    assert line, "the child did not start its browser"
    return proc, json.loads(line)


def test_sigkill_of_the_driving_process_leaves_no_chromium_and_no_profile():
    proc, seen = _child(new_session=False)
    assert os.path.isdir(seen["profile"])
    proc.kill()  # SIGKILL: no atexit, no finally
    proc.wait(10)
    # Playwright's node driver sees its stdin close and kills the browser's process group.
    assert process.wait_gone(seen["group"], 15) == []
    deadline = time.monotonic() + 10
    while os.path.exists(seen["profile"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    if os.path.exists(seen["profile"]):  # the driver may die before deleting it: the next launch reaps it
        process.reap_orphans()
    assert not os.path.exists(seen["profile"])


@pytest.mark.slow
def test_orphans_of_a_killed_driver_are_reaped_by_the_next_start():
    proc, seen = _child(new_session=True)
    # Kill the child's whole process group: Python *and* Playwright's node driver, so nobody cleans up.
    # Chromium leads its own process group and survives as an orphan.
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    time.sleep(0.5)
    survivors = [p for p in seen["group"] if p in group_members(seen["browser"])]
    killed = process.reap_orphans()  # what every launch runs first
    if survivors:
        assert seen["browser"] in killed
    assert process.wait_gone(seen["group"], 10) == []
    assert not os.path.exists(seen["profile"])
    assert not any(tag.startswith(f"{proc.pid}:") for _, tag, _ in marked_browsers())


def test_browser_crash_ends_the_episode_as_infra_error_and_the_next_reset_recovers():
    env = ClickTest()
    obs, _ = env.reset(seed=1)
    old = env.session.shared.pid
    group = group_members(old)
    os.killpg(old, signal.SIGKILL)  # the browser dies under the env
    assert process.wait_gone(group, 10) == []
    obs, reward, terminated, truncated, info = env.step("noop()")
    assert info["infra_error"] and "success" not in info and info["action_valid"] is False
    assert (reward, terminated, truncated) == (0.0, False, True)
    assert env.step("noop()")[3] is True  # the episode is over
    info = _solve(env)  # reset starts a fresh browser
    assert info["success"] is True and env.session.shared.pid != old
    env.close()


@pytest.mark.slow
def test_browser_hang_is_killed_by_the_watchdog_and_recovered():
    env = ClickTest(operation_timeout_s=3.0)
    env.reset(seed=1)
    pid = env.session.shared.pid
    group = group_members(pid)
    for p in group:
        os.kill(p, signal.SIGSTOP)  # a frozen browser: Playwright's calls would wait forever
    try:
        start = time.monotonic()
        *_, truncated, info = env.step("click('14')")
        assert time.monotonic() - start < 60  # bounded (3 s watchdog, generous margin for a loaded machine)
        assert truncated and "did not answer" in info["infra_error"]
        assert process.wait_gone(group, 10) == []
    finally:
        for p in group:
            try:
                os.kill(p, signal.SIGCONT)
            except ProcessLookupError:
                pass
    assert _solve(env)["success"] is True and env.session.shared.pid != pid
    env.close()


def test_screenshot_render_mode():
    env = ClickTest(render_mode="rgb_array")
    env.reset(seed=0)
    assert process.reap_orphans() == [] and env.session.alive()  # the reaper spares browsers whose owner lives
    frame = env.render()
    assert isinstance(frame, np.ndarray) and frame.shape == (400, 500, 3) and frame.dtype == np.uint8
    assert frame.std() > 0  # something is drawn
    env.close()
    assert ClickTest().render() is None  # render_mode None: no screenshot


def test_missing_chromium_is_a_clear_error_with_the_install_commands(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(BrowserUnavailableError) as err:
        ClickTest()
    assert isinstance(err.value, MissingExtraError)
    assert "apt-get install chromium" in str(err.value) and 'pip install "turngym[web]"' in str(err.value)
