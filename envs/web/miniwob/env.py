"""MiniWoB++ tasks in the real-Chromium backend: one env class per task (``turngym/MiniWoB-<task>-v0``).

Each episode loads the task page from the process's local server (``server``), seeds the page's random number
generator and starts the episode the way the ``miniwob`` package and BrowserGym do (``Math.seedrandom(seed)``, then
``core.startEpisodeReal()``, then waiting for ``WOB_TASK_READY``), and reads the task's own verdict from the page's
globals after every step (``WOB_DONE_GLOBAL``, ``WOB_RAW_REWARD_GLOBAL``, ``WOB_REWARD_GLOBAL``,
``WOB_REWARD_REASON``). The instruction is ``core.getUtterance()``; the instruction bar and the reward display are
hidden from the accessibility tree (``aria-hidden``), as are MiniWoB's click canvas and start cover, so the observation
states the goal once and does not tick with the countdown (BrowserGym removes the same elements).
"""

from __future__ import annotations

import sys
from typing import Any

from turngym.envs.core.errors import ConfigError
from turngym.envs.web.browser.env import BrowserEnv, EpisodeStart, Page, Verdict
from turngym.envs.web.miniwob.server import base_url
from turngym.envs.web.miniwob.tasks import TASKS, class_name, env_id, page_path

#: Starts a seeded episode; hides the instruction bar, reward display, click canvas and start cover from the tree.
#: Waits for the page's jQuery ready handlers. jQuery 3 runs ``$(fn)`` handlers asynchronously, so they can still be
#: pending at the ``load`` event: ``jquery-ui-hacks.js`` defines ``$.resetUniqueId`` in one, and click-tab's
#: ``genProblem`` calls it (``TypeError: $.resetUniqueId is not a function``, seen once in the all-ids check_env
#: sweep). A handler queued now runs after every earlier one.
_READY_JS = "() => window.jQuery ? new Promise((resolve) => window.jQuery(() => resolve(true))) : true"
_START_JS = """(a) => {
  for (const id of ['query', 'reward-display', 'click-canvas', 'sync-task-cover']) {
    const el = document.getElementById(id);
    if (el) el.setAttribute('aria-hidden', 'true');
  }
  Math.seedrandom(a.seed);
  if (a.maxTime !== null) core.EPISODE_MAX_TIME = a.maxTime;
  core.startEpisodeReal();
}"""
_UTTERANCE_JS = "() => { const u = core.getUtterance(); return typeof u === 'string' ? u : (u && u.utterance) || ''; }"
#: The page's verdict; ``null`` when the task is no longer running on the page (it was reloaded or left).
_VERDICT_JS = """() => {
  if (typeof core === 'undefined' || typeof WOB_DONE_GLOBAL === 'undefined') return null;
  if (!WOB_DONE_GLOBAL && core.EP_TIMER === null) return null;
  return [WOB_DONE_GLOBAL, WOB_RAW_REWARD_GLOBAL, WOB_REWARD_GLOBAL, WOB_REWARD_REASON];
}"""
#: ``reward=`` choices: which of the page's numbers the env returns.
REWARDS = ("raw", "time_discounted", "binary")


class MiniWoBEnv(BrowserEnv):
    """A MiniWoB++ task in real Chromium (subclassed once per task; ``TASK`` names it).

    Description:
        The MiniWoB++ benchmark's web tasks (click a button, fill a form, pick a date, ...) as shipped by the
        ``miniwob`` package, served from 127.0.0.1 and driven through Playwright in Debian's Chromium. Each
        reset seeds the task's generator with the episode seed, so a seed always gives the same task.

    Observation:
        ``Instruction: <the task's utterance>`` and the page's accessibility tree with element ids
        (``[14] button 'Submit'``), BrowserGym's convention.

    Action:
        One BrowserGym-style call: ``click('14')``, ``fill('7', 'text')``, ``select_option('3', 'blue')``,
        ``press('7', 'Enter')``, ``scroll(0, 200)``, ``go_back()``, ``noop()`` (and ``dblclick``, ``hover``,
        ``focus``, ``clear``, ``go_forward``).

    Reward:
        The task's own reward, read from the page when it ends the episode: ``raw`` (default,
        ``WOB_RAW_REWARD_GLOBAL``: 1 solved, -1 failed, partial credit in some tasks), ``time_discounted``
        (``WOB_REWARD_GLOBAL``: raw scaled down by the wall-clock time taken, MiniWoB's default) or ``binary``
        (1.0 when raw > 0, as BrowserGym scores). 0 on the other steps.

    Episode end:
        ``terminated`` when the task ends the episode (or the page stops running it: reward 0, reason ``left the
        task page``); ``truncated`` when the task's own timer runs out (the page says ``timed out``) or after
        ``max_turns``. ``info["success"]`` is raw reward > 0. ``go_back``/``go_forward`` are refused (single page).

    Arguments:
        reward: ``raw``, ``time_discounted`` or ``binary``.
        episode_max_time_ms: Overrides the task's time limit (None: the task's own, usually 10 s of wall clock).
        max_turns: Turn cap.
        render_mode: None, or ``rgb_array`` for screenshots.
        action_timeout_ms: Playwright timeout of each element action.
        operation_timeout_s: Watchdog bound of a reset or step (the browser is killed and restarted past it).
        invalid_action_penalty: Added to the reward of an invalid action.
        obs_mode: Only ``text``.

    Version history:
        v0: first version.
    """

    TASK = ""
    #: Single-page tasks: going back would leave the task (BrowserGym ends such an episode; here it is refused).
    UNAVAILABLE = frozenset({"go_back", "go_forward"})

    def __init__(self, reward: str = "raw", episode_max_time_ms: int | None = None, max_turns: int = 30,
                 render_mode: str | None = None, action_timeout_ms: int = 1_000, operation_timeout_s: float = 30.0,
                 invalid_action_penalty: float = 0.0, obs_mode: str = "text"):
        if reward not in REWARDS:
            raise ConfigError("reward", "one of " + ", ".join(REWARDS), reward, REWARDS)
        if episode_max_time_ms is not None and not (isinstance(episode_max_time_ms, int) and episode_max_time_ms > 0):
            raise ConfigError("episode_max_time_ms", "None or a positive int (milliseconds)", episode_max_time_ms)
        if self.TASK not in TASKS:
            raise ConfigError("MiniWoB task", "a task of the miniwob package", self.TASK, TASKS)
        self.env_id = env_id(self.TASK)
        self.reward_mode = reward
        self.episode_max_time_ms = episode_max_time_ms
        url = base_url()
        super().__init__(url + page_path(self.TASK), [url], max_turns=max_turns, render_mode=render_mode,
                         viewport=(500, 400) if not self.TASK.startswith("flight.") else (1000, 800),
                         action_timeout_ms=action_timeout_ms, operation_timeout_s=operation_timeout_s,
                         invalid_action_penalty=invalid_action_penalty, obs_mode=obs_mode)

    def task_id(self, seed: int) -> str:
        """``miniwob/<task>/seed=<seed>``."""
        return f"miniwob/{self.TASK}/seed={seed}"

    def setup_episode(self, page: Page, seed: int) -> EpisodeStart:
        """Loads the task page and starts a seeded episode (``Math.seedrandom``, ``core.startEpisodeReal``)."""
        self.session.goto(self.start_url)
        page.evaluate(_READY_JS)
        page.evaluate(_START_JS, {"seed": seed, "maxTime": self.episode_max_time_ms})
        page.wait_for_function("() => WOB_TASK_READY", timeout=self.config.navigation_timeout_ms)
        return EpisodeStart(" ".join(str(page.evaluate(_UTTERANCE_JS)).split()), {"task": self.TASK})

    def judge(self, page: Page) -> Verdict:
        """The task's own verdict from the page's ``WOB_*`` globals (a ``timed out`` end is a truncation)."""
        verdict = page.evaluate(_VERDICT_JS)
        if verdict is None:  # the page no longer runs the episode: it is lost, as BrowserGym scores it (0)
            info = {"raw_reward": 0.0, "time_discounted_reward": 0.0, "reason": "left the task page"}
            return Verdict(0.0, terminated=True, success=False, info=info)
        done, raw, discounted, reason = verdict
        if not done:
            return Verdict()
        raw = float(raw)
        reward = {"raw": raw, "time_discounted": float(discounted), "binary": float(raw > 0)}[self.reward_mode]
        info = {"raw_reward": raw, "time_discounted_reward": float(discounted), "reason": reason}
        timed_out = reason == "timed out"
        return Verdict(reward, terminated=not timed_out, truncated=timed_out, success=raw > 0, info=info)


def _task_class(task: str) -> type[MiniWoBEnv]:
    doc = MiniWoBEnv.__doc__.replace("A MiniWoB++ task in real Chromium (subclassed once per task; ``TASK`` names "
                                     "it).", f"MiniWoB++ ``{task}`` in real Chromium.")
    return type(class_name(task), (MiniWoBEnv,), {"TASK": task, "__doc__": doc, "__module__": __name__,
                                                 "__qualname__": class_name(task)})


_module = sys.modules[__name__]
for _task in TASKS:
    setattr(_module, class_name(_task), _task_class(_task))


def task_class(task: str) -> Any:
    """The env class of a MiniWoB++ task name (``click-button``)."""
    if task not in TASKS:
        raise ConfigError("MiniWoB task", "a task of the miniwob package", task, TASKS)
    return getattr(_module, class_name(task))
