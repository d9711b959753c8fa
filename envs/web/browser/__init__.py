"""The real-Chromium browser backend: Debian's Chromium driven by Playwright (sync API).

Public API (what a site builds its browser front end on):

* ``BrowserEnv(start_url, allowed_origins, judge=..., setup=...)``, or a subclass overriding ``setup_episode`` and
  ``judge``: a ``TextEnv`` whose observation is the accessibility tree with element ids and whose actions are
  BrowserGym-style calls (``env``);
* ``EpisodeStart`` and ``Verdict``, what those hooks return (``env``);
* ``parse_action`` / ``BrowserAction`` / ``ActionError``, the safe action parser (``actions``);
* ``chromium_path``, ``reap_orphans`` and the errors ``BrowserUnavailableError`` / ``BrowserCrashedError``
  (``process``).

Nothing here imports playwright at import time: it is imported when the first browser starts.
"""

from turngym.envs.web.browser.actions import ActionError, BrowserAction, parse_action
from turngym.envs.web.browser.env import BrowserEnv, EpisodeStart, Verdict
from turngym.envs.web.browser.process import (
    BrowserCrashedError,
    BrowserUnavailableError,
    chromium_path,
    reap_orphans,
)

__all__ = ["ActionError", "BrowserAction", "BrowserCrashedError", "BrowserEnv", "BrowserUnavailableError",
           "EpisodeStart", "Verdict", "chromium_path", "parse_action", "reap_orphans"]
