"""``BrowserEnv``: a real-Chromium page as a turngym ``TextEnv`` (generic over the site and its task).

A site plugs in with a start URL, the origins it may load from, and a judge (the reward/done callback), either as
constructor arguments or by overriding ``setup_episode`` and ``judge`` in a subclass (the MiniWoB++ envs do).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from turngym.envs.core.errors import ConfigError, SnapshotError
from turngym.envs.core.parsing import MAX_ACTION_CHARS
from turngym.envs.core.spaces import Text
from turngym.envs.core.state_key import canonical, make_state_key
from turngym.envs.core.text_env import TextEnv
from turngym.envs.web.browser.actions import ACCEPTED, ActionError, BrowserAction, parse_action
from turngym.envs.web.browser.axtree import INTERACTIVE, Tree
from turngym.envs.web.browser.process import BrowserCrashedError, chromium_path
from turngym.envs.web.browser.session import ActionFailed, BrowserSession, SessionConfig

#: Seeds are drawn in [0, SEED_BOUND) when ``reset`` gets none (and must lie there in snapshots).
SEED_BOUND = 2**31
#: Longest observation (characters); longer trees are cut (the space's ``max_length``).
MAX_OBS_CHARS = 100_000
_SNAPSHOT_VERSION = 1


@dataclass(frozen=True)
class EpisodeStart:
    """What ``setup_episode`` reports: the instruction shown to the agent and the ``info["task"]`` entries.

    Attributes:
        instruction: The goal, in words (shown above the tree in every observation).
        task: Extra ``info["task"]`` entries (the env adds ``id``, ``env_id``, ``seed`` and ``instruction``).
    """

    instruction: str
    task: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """What ``judge`` reports after every step.

    Attributes:
        reward: The step's reward.
        terminated: The task ended (solved or failed).
        truncated: The site's own budget ran out (a task timer); the env's turn cap is added by the env.
        success: On a final step, whether the task was solved (None: not final).
        info: Extra info entries (raw scores, reasons).
    """

    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    success: bool | None = None
    info: dict[str, Any] = field(default_factory=dict)


Page = Any  # playwright.sync_api.Page (not imported here: see the module docstring of the package)
Setup = Callable[[Page, int], EpisodeStart]
Judge = Callable[[Page], Verdict]


class BrowserEnv(TextEnv):
    """A web page in real Chromium, acted on with BrowserGym-style calls.

    Description:
        Every episode opens a fresh browser context on the process's shared Chromium, loads the site's start URL
        (``setup_episode``), and lets the agent act on the page until the judge says the task ended or the turn
        cap is reached. The browser only reaches ``allowed_origins``.

    Observation:
        ``Instruction: ...`` followed by the page's accessibility tree, one node a line, each element an id in
        brackets (``[12] button 'Submit'``). After an invalid action the first line says why and lists the accepted
        actions.

    Action:
        One call: ``click('12')``, ``dblclick``, ``hover``, ``focus``, ``clear``, ``fill('7', 'red shoes')``,
        ``select_option('3', 'blue')``, ``press('7', 'Enter')``, ``scroll(0, 200)``, ``go_back()``, ``go_forward()``,
        ``noop()`` (optionally inside ``<action>...</action>``). Parsed with ``ast``, never evaluated.

    Reward:
        The judge's reward; ``invalid_action_penalty`` is added on invalid actions.

    Episode end:
        ``terminated`` when the judge says so; ``truncated`` when the site's budget or ``max_turns`` runs out, or
        when the browser failed (then ``info["infra_error"]`` says how and the episode is not scored).

    Arguments:
        start_url: The page each episode starts on (when ``setup_episode`` is not overridden).
        allowed_origins: ``scheme://host:port`` origins the page may load from (the start URL's origin is added).
        judge: ``judge(page) -> Verdict`` (when ``judge`` is not overridden).
        setup: ``setup(page, seed) -> EpisodeStart`` run after the start page loaded (optional).
        max_turns: Turn cap.
        render_mode: None, or ``"rgb_array"`` (``render()`` returns a screenshot).
        viewport: Browser viewport (width, height).
        action_timeout_ms: Playwright timeout of each element action.
        operation_timeout_s: Watchdog bound of one reset or step; past it the browser is killed and restarted.
        invalid_action_penalty: Added to the reward of an invalid action.
        obs_mode: Only ``"text"``.

    Version history:
        v0: first version.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"]}
    env_id = "turngym/Browser-v0"
    #: Action names a site does not offer (a single-page task has no history to go back in).
    UNAVAILABLE: frozenset[str] = frozenset()

    def __init__(self, start_url: str | None = None, allowed_origins: Sequence[str] = (), *,
                 judge: Judge | None = None, setup: Setup | None = None, max_turns: int = 30,
                 render_mode: str | None = None, viewport: tuple[int, int] = (800, 600),
                 action_timeout_ms: int = 1_000, operation_timeout_s: float = 30.0,
                 invalid_action_penalty: float = 0.0, obs_mode: str = "text"):
        if obs_mode != "text":
            raise ConfigError("obs_mode", "'text' (browser envs have no vector mode)", obs_mode, ["text"])
        if render_mode not in (None, "rgb_array"):
            raise ConfigError("render_mode", "None or 'rgb_array'", render_mode, ["rgb_array"])
        if not (isinstance(max_turns, int) and max_turns > 0):
            raise ConfigError("max_turns", "a positive int", max_turns)
        chromium_path()  # refuses early, with the install commands, when chromium or playwright is missing
        origins = list(allowed_origins) + ([start_url] if start_url else [])
        self.config = SessionConfig(origins, tuple(viewport), int(action_timeout_ms), operation_timeout_s=float(
            operation_timeout_s))
        self.start_url = start_url
        self._judge_fn, self._setup_fn = judge, setup
        self.max_turns = max_turns
        self.render_mode = render_mode
        self.obs_mode = obs_mode
        self.invalid_action_penalty = float(invalid_action_penalty)
        self.observation_space = Text(MAX_OBS_CHARS)
        self.action_space = Text(MAX_ACTION_CHARS)
        self.session = BrowserSession(self.config)
        self.seed_value: int | None = None
        self.start: EpisodeStart | None = None
        self.turn = 0
        self.done = False
        self.actions: list[str] = []
        self.tree = Tree("")

    # ------------------------------------------------------------------ hooks for sites
    def setup_episode(self, page: Page, seed: int) -> EpisodeStart:
        """Starts the episode on a fresh page: loads ``start_url`` and runs ``setup`` (override for a site)."""
        if self.start_url is None:
            raise ConfigError("start_url", "the URL of the site's start page (or a setup_episode override)", None)
        self.session.goto(self.start_url)
        if self._setup_fn is not None:
            return self._setup_fn(page, seed)
        return EpisodeStart("")

    def judge(self, page: Page) -> Verdict:
        """The reward and end of episode after each step (override for a site, or pass ``judge``)."""
        if self._judge_fn is None:
            return Verdict()
        return self._judge_fn(page)

    def task_id(self, seed: int) -> str:
        """``info["task"]["id"]`` of the episode with this seed."""
        return f"{self.env_id}/seed={seed}"

    # ------------------------------------------------------------------ Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Starts an episode on a fresh page (the env's context, cleared); the seed is the site's task seed."""
        super().reset(seed=seed)
        episode_seed = seed if seed is not None else int(self.np_random.integers(SEED_BOUND))
        try:
            self._start(episode_seed)
        except Exception as e:  # noqa: BLE001 - the browser died or hung: recover once with a fresh one
            if not (isinstance(e, BrowserCrashedError) or self.session.crashed(e)):
                raise
            self._start(episode_seed)
        info = self._info(True)
        info["task"] = {**self.start.task, "id": self.task_id(episode_seed), "env_id": self.env_id,
                        "seed": episode_seed, "instruction": self.start.instruction}
        return self._observation(), info

    def _start(self, seed: int) -> None:
        self.session.ensure_browser()
        with self.session.operation():
            self.session.open()
            self.seed_value, self.turn, self.done, self.actions = seed, 0, False, []
            self.start = self.setup_episode(self.session.page, seed)
            self.tree = self.session.observe()

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Parses and runs one action, then judges the page (a dead browser ends the episode with infra_error)."""
        if self.start is None:
            raise RuntimeError(f"{self.env_id}: step() before reset()")
        if self.done:
            info = self._info(False)
            return self._observation("Invalid action: the episode is over; call reset()."), 0.0, False, True, info
        self.turn += 1
        try:
            parsed = parse_action(action)
        except ActionError as e:
            return self._after(None, str(e))
        if parsed.name in self.UNAVAILABLE:
            return self._after(None, f"{parsed.name} is not available on this site")
        return self._after(parsed, None)

    def _after(self, parsed: BrowserAction | None, error: str | None) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Runs a parsed action (or reports a parse error), judges, and builds the step's result."""
        try:
            with self.session.operation():
                if parsed is not None:
                    try:
                        self.session.act(parsed)
                        self.actions.append(parsed.text())
                    except ActionFailed as e:
                        error = str(e)
                verdict = self.judge(self.session.page)
                if parsed is not None:
                    self.tree = self.session.observe()
        except Exception as e:  # noqa: BLE001 - a dead browser ends the episode as an infrastructure failure
            if not (isinstance(e, BrowserCrashedError) or self.session.crashed(e)):
                raise
            return self._infra_failure(e)
        valid = error is None
        reward = float(verdict.reward) + (0.0 if valid else self.invalid_action_penalty)
        terminated = bool(verdict.terminated)
        truncated = not terminated and (bool(verdict.truncated) or self.turn >= self.max_turns)
        self.done = terminated or truncated
        info = self._info(valid)
        info.update(verdict.info)
        if self.done:
            info["success"] = bool(verdict.success) if terminated else False
        note = None if valid else f"Invalid action: {error}. {ACCEPTED}."
        return self._observation(note), reward, terminated, truncated, info

    def _infra_failure(self, error: BaseException) -> tuple[str, float, bool, bool, dict[str, Any]]:
        self.done = True
        self.session.close()  # the next reset acquires a fresh browser
        message = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"[:300]
        info = self._info(False)
        info["infra_error"] = message
        return self._observation(f"Invalid action: the browser failed ({message}); the episode ended."), 0.0, \
            False, True, info

    # ------------------------------------------------------------------ views
    def _observation(self, note: str | None = None) -> str:
        parts = [note] if note else []
        instruction = self.start.instruction if self.start is not None else ""
        parts.append(f"Instruction: {instruction}")
        parts.append(self.tree.text)
        text = "\n".join(parts)
        return text if len(text) <= MAX_OBS_CHARS else text[:MAX_OBS_CHARS - 1] + "…"

    def state_encoding(self) -> Any:
        """What ``info["state_key"]`` hashes (JSON-like): the instruction and the tree text.

        Override it for a site whose pages have a better identity (the shop's query + page).
        """
        return [self.start.instruction if self.start is not None else "", self.tree.text]

    def _info(self, valid: bool) -> dict[str, Any]:
        return {"state_key": make_state_key(self.env_id, canonical(self.state_encoding())),
                "admissible_actions": None, "action_valid": valid, "turn": self.turn}

    def example_actions(self) -> list[str]:
        """Well-formed actions on the current page: a click on each interactive element, a fill of each text box."""
        out = []
        for el in self.tree.elements.values():
            if el.role in ("textbox", "searchbox", "combobox", "spinbutton"):
                out.append(f"fill({el.bid!r}, 'abc')")
            if el.role in INTERACTIVE:
                out.append(f"click({el.bid!r})")
        return out + ["noop()"]

    def render(self) -> Any:
        """A screenshot (``render_mode="rgb_array"``), or None."""
        if self.render_mode != "rgb_array" or self.session.page is None:
            return None
        with self.session.operation():
            return self.session.screenshot()

    def close(self) -> None:
        """Closes the env's context; the process's browser closes with its last env."""
        self.session.close()
        super().close()

    def __del__(self) -> None:
        session = self.__dict__.get("session")
        if session is not None:
            session.abandon()

    # ------------------------------------------------------------------ snapshots
    def get_state(self) -> bytes:
        """The episode as (seed, the valid actions so far, turn, done): restored by reloading and replaying.

        A live page cannot be serialized, so a snapshot records how to rebuild it. ``set_state`` restores it
        exactly for sites whose page depends only on the seed and the actions; pages with timers or server
        state may differ after a restore (the ids are registered ``replayable=False``).
        """
        return json.dumps({"v": _SNAPSHOT_VERSION, "env": self.env_id, "seed": self.seed_value, "turn": self.turn,
                           "done": self.done, "actions": list(self.actions)}, separators=(",", ":")).encode()

    def set_state(self, blob: bytes) -> None:
        """Restores a ``get_state`` snapshot (validated before anything changes; ``SnapshotError`` otherwise)."""
        data = self._parse_snapshot(blob)
        seed, actions = data["seed"], data["actions"]
        live = self.start is not None and self.session.alive() and self.seed_value == seed
        if live and actions == self.actions:  # the same page: only the counters move (e.g. after invalid actions)
            self.turn, self.done = data["turn"], data["done"]
            return
        if not (live and actions[:len(self.actions)] == self.actions):
            self._start(seed)  # another episode, or a branch: rebuild from the start page
        with self.session.operation():
            for text in actions[len(self.actions):]:
                try:
                    self.session.act(parse_action(text))
                except (ActionError, ActionFailed):
                    pass  # the page took another turn than when the snapshot was taken (timers): keep going
            self.tree = self.session.observe()
        self.actions, self.turn, self.done = list(actions), data["turn"], data["done"]

    def _parse_snapshot(self, blob: Any) -> dict[str, Any]:
        if not isinstance(blob, bytes | bytearray):
            raise SnapshotError(f"{self.env_id}: a snapshot is bytes, got {type(blob).__name__}")
        try:
            data = json.loads(bytes(blob))
        except (ValueError, RecursionError) as e:
            raise SnapshotError(f"{self.env_id}: not a snapshot ({type(e).__name__})") from None
        if not isinstance(data, dict) or set(data) != {"v", "env", "seed", "turn", "done", "actions"}:
            raise SnapshotError(f"{self.env_id}: not a snapshot of this env")
        seed, turn, actions = data["seed"], data["turn"], data["actions"]
        ok = (data["v"] == _SNAPSHOT_VERSION and data["env"] == self.env_id and type(seed) is int
              and 0 <= seed < SEED_BOUND and type(turn) is int and type(data["done"]) is bool
              and isinstance(actions, list) and 0 <= len(actions) <= turn <= self.max_turns)
        if not ok:
            raise SnapshotError(f"{self.env_id}: snapshot fields out of range")
        for text in actions:
            try:
                if not isinstance(text, str) or parse_action(text).text() != text:
                    raise ActionError("not canonical")
            except ActionError:
                raise SnapshotError(f"{self.env_id}: snapshot holds an action that is not a canonical call") from None
        if any(isinstance(x, float) and not math.isfinite(x) for x in (seed, turn)):
            raise SnapshotError(f"{self.env_id}: snapshot fields out of range")
        return data
