"""``turngym/WebShop-v0``: WebShop's text front end on the in-process site (no HTTP, so a step is fast)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from turngym.envs.core.errors import ConfigError, SnapshotError
from turngym.envs.core.parsing import MAX_ACTION_CHARS, describe
from turngym.envs.core.render import render_text
from turngym.envs.core.session import (
    RESET_FIRST,
    encode_snapshot,
    parsed_snapshot,
    read_dict,
    read_int,
    read_list,
    read_message,
    rng_from_state,
    rng_state,
)
from turngym.envs.core.spaces import Text, truncate
from turngym.envs.core.state_key import cached_state_key, canonical
from turngym.envs.core.text_env import TextEnv
from turngym.envs.web.shop.catalog import DEFAULT_NUM_PRODUCTS, SPLITS, Catalog, get_catalog
from turngym.envs.web.shop.reward import Score
from turngym.envs.web.shop.site import BUY, MAX_QUERY_CHARS, Page, Site, View, normalize_query
from turngym.envs.web.shop.types import Goal

#: The search action WebShop-trained agents are shown (verl-agent's convention for ``has_search_bar``).
SEARCH_PLACEHOLDER = "search[<your query>]"
ACCEPTED = "search[your query] on the search page or click[button] with a button of the page"
_TAG = re.compile(r"<action>(.*?)</action>", re.IGNORECASE | re.DOTALL)
_ACTION = re.compile(r"(search|click)\s*\[(.*)\]", re.IGNORECASE | re.DOTALL)
_SNAPSHOT_KEYS = ("env_id", "version", "catalog", "split", "task", "page", "turn", "error", "rng")
_RESET_OPTIONS = ("task_index",)


def parse_shop_action(action: object) -> tuple[str, str] | str:
    """``(verb, argument)`` of a WebShop action, or an error message.

    Accepted: ``search[query]`` and ``click[button]``, bare or inside the last ``<action>...</action>`` tag,
    surrounding whitespace ignored, the verb in any case. As in WebShop's ``parse_action`` the argument is
    everything between the first ``[`` after the verb and the last ``]``.
    """
    if not isinstance(action, str):
        return f"expected the action as text (str), got {type(action).__name__}"
    if len(action) > MAX_ACTION_CHARS:
        return f"action is {len(action):,} characters long; the limit is {MAX_ACTION_CHARS:,}"
    body = action
    if "<" in body:
        tags = _TAG.findall(body)
        if tags:
            body = tags[-1]
    m = _ACTION.fullmatch(body.strip())
    if m is None:
        return f"expected search[...] or click[...], got {describe(action)}"
    return m.group(1).lower(), m.group(2)


class WebShopEnv(TextEnv):
    """WebShop (Yao et al. 2022) in its text mode, on a generated or loaded catalog.

    Description:
        A shopping website: the agent reads an instruction ("i need gluten free dark chocolate bars, 12 pack,
        and price lower than 30.00 dollars"), searches (BM25 over the catalog, top 50), opens products, picks
        options and buys. Pages, buttons, transitions and the reward are WebShop's
        (``turngym.envs.web.shop.site`` and ``reward`` document each, and the few deviations). The default
        catalog is 10,000 generated products shared by every env of the process (``catalog.get_catalog``);
        ``data_dir`` loads WebShop's own files instead.
    Observation:
        WebShop's simple text observation: the page's visible texts joined by " [SEP] " (search page:
        ``WebShop [SEP] Instruction: [SEP] <instruction> [SEP] Search``). After an invalid action it is preceded
        by one line "Invalid action: <why>. Accepted actions: <admissible actions>.".
    Action:
        ``search[query]`` (search page only) or ``click[button]`` with a button of the page as
        ``info["admissible_actions"]`` lists it (lowercase: ``click[next >]``, ``click[b0ab12cd34]``,
        ``click[large]``, ``click[buy now]``), bare or inside ``<action>...</action>``. Anything else is invalid:
        the page does not change and the turn is consumed.
    Reward:
        WebShop's score of the purchase on "Buy Now" (in [0, 1]; ``info["score"]`` keeps it raw and
        ``info["score_parts"]`` its terms), plus ``invalid_action_penalty`` for each invalid action; 0 otherwise.
    Episode end:
        Terminated on "Buy Now" (``info["success"]``: score == 1.0). Truncated after ``max_turns`` turns
        without a purchase (success False).

    Arguments:
        split: ``"train"`` or ``"test"``: goals whose target products are disjoint (``catalog.split_of``).
        num_products: Size of the generated catalog (default 10,000).
        catalog_seed: Seed of the generated catalog (with ``data_dir``: of the price draws).
        data_dir: Folder with WebShop's ``items_shuffle*.json`` and ``items_ins_v2*.json`` (optional).
        max_turns: Turn cap (default 15).
        invalid_action_penalty: Added to the reward of an invalid action (default 0).
        obs_mode: ``"text"`` (the only mode).
        render_mode: ``None``, ``"ansi"`` or ``"human"``.
        max_obs_chars: Observations are truncated to this many characters.
    Version history:
        v0: initial version (issue 14).

    ``reset(options={"task_index": k})`` plays the ``k``-th goal of the split; otherwise the goal is drawn from
    the env's RNG. ``info["state_key"]`` is the page the agent is on (the instruction plus: the query and page
    number on a results page; the product and chosen options on an item page; the sub-page besides).
    """

    env_id = "turngym/WebShop-v0"
    metadata: dict[str, Any] = {"render_modes": ["ansi", "human"]}

    def __init__(self, split: str = "train", num_products: int = DEFAULT_NUM_PRODUCTS, catalog_seed: int = 0,
                 data_dir: str | None = None, max_turns: int = 15, invalid_action_penalty: float = 0.0,
                 obs_mode: str = "text", render_mode: str | None = None, max_obs_chars: int = 16_384):
        if split not in SPLITS:
            raise ConfigError("split", "one of " + ", ".join(SPLITS), split, SPLITS)
        if obs_mode != "text":
            raise ConfigError("obs_mode", "'text' (WebShop has no vector mode)", obs_mode, ("text",))
        if type(max_turns) is not int or max_turns < 1:
            raise ConfigError("max_turns", "a positive int", max_turns)
        if not isinstance(invalid_action_penalty, (int, float)) or not np.isfinite(invalid_action_penalty):
            raise ConfigError("invalid_action_penalty", "a finite number", invalid_action_penalty)
        if render_mode not in (None, "ansi", "human"):
            raise ConfigError("render_mode", "None, 'ansi' or 'human'", render_mode, ("ansi", "human"))
        if type(max_obs_chars) is not int or max_obs_chars < 256:
            raise ConfigError("max_obs_chars", "an int >= 256", max_obs_chars)
        self.catalog: Catalog = get_catalog(num_products, catalog_seed, data_dir)
        if self.catalog.num_goals(split) == 0:
            raise ConfigError("split", f"a split with goals in this catalog ({self.catalog.goal_counts})", split)
        self.site = Site(self.catalog)
        self.split = split
        self.max_turns = max_turns
        self.invalid_action_penalty = float(invalid_action_penalty)
        self.obs_mode = obs_mode
        self.render_mode = render_mode
        self.max_obs_chars = max_obs_chars
        self.observation_space = Text(max_obs_chars)
        self.action_space = Text(MAX_ACTION_CHARS, examples=(SEARCH_PLACEHOLDER, "click[back to search]",
                                                             "click[next >]", "click[< prev]", "click[buy now]"))
        self.task: int | None = None
        self.goal: Goal | None = None
        self.page = Page()
        self.turn = 0
        self.error: str | None = None
        self.score: Score | None = None
        self._view: tuple[Page, View] | None = None

    # ------------------------------------------------------------------ episode
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Starts a goal of the split on the search page (``options={"task_index": k}`` picks goal ``k``)."""
        super().reset(seed=seed)
        options = dict(options or {})
        for key in options:
            if key not in _RESET_OPTIONS:
                raise ConfigError("reset option", "one of " + ", ".join(_RESET_OPTIONS), key, _RESET_OPTIONS)
        n = self.catalog.num_goals(self.split)
        if "task_index" in options:
            task = options["task_index"]
            if type(task) is not int or not 0 <= task < n:
                raise ConfigError("task_index", f"an int in [0, {n - 1}]", task)
        else:
            task = int(self.np_random.integers(n))
        self._start(task)
        info = self._info()
        info["task"] = {"id": f"{self.env_id}/{self.catalog.key}/{self.split}/task={task}", "env_id": self.env_id,
                        "seed": seed, "split": self.split, "task_index": task, "instruction": self.goal.instruction}
        return self._obs(), info

    def _start(self, task: int) -> None:
        self.task = task
        self.goal = self.catalog.goal(self.split, task)
        self.page = Page()
        self.turn = 0
        self.error = None
        self.score = None
        self._view = None

    def view(self) -> View:
        """The current page's view (memoized per page: one step reads it several times)."""
        if self._view is None or self._view[0] is not self.page:
            assert self.goal is not None
            self._view = (self.page, self.site.view(self.page, self.goal, self.score))
        return self._view[1]

    def over(self) -> tuple[bool, bool]:
        """(terminated, truncated) of the current state."""
        terminated = self.page.kind == "done"
        return terminated, self.turn >= self.max_turns and not terminated

    def step(self, action: Any):
        """Plays one action (class docstring); an invalid one leaves the page as it was."""
        if self.goal is None:
            raise RuntimeError(f"step() called before reset(); {RESET_FIRST}")
        if any(self.over()):
            raise RuntimeError("step() called after the episode ended; call reset()")
        self.turn += 1
        reward = 0.0
        outcome = self._apply(action)
        if isinstance(outcome, str):
            self.error = outcome
            reward += self.invalid_action_penalty
        else:
            self.error = None
            self.page, score = outcome
            if score is not None:
                self.score = score
                reward += score.score
        return self._obs(), float(reward), *self.over(), self._info()

    def _apply(self, action: Any) -> tuple[Page, Score | None] | str:
        """The next page (and the score on a purchase), or why the action is invalid."""
        parsed = parse_shop_action(action)
        if isinstance(parsed, str):
            return parsed
        verb, arg = parsed
        view = self.view()
        if verb == "search":
            if not view.has_search_bar:
                return "search is only available on the search page (click[back to search] goes there)"
            query = normalize_query(arg)
            if not query:
                return "the search query is empty"
            if len(query) > MAX_QUERY_CHARS:
                return f"the search query is {len(query):,} characters long; the limit is {MAX_QUERY_CHARS}"
            if not query.isprintable():
                return "the search query contains control characters or invalid text"
            return self.site.search(query), None
        key = arg.strip().lower()
        target = view.clickable(key) if key != "search" else None
        if target is None:
            return f"there is no button {describe(key)} on this page"
        if target.target == BUY:
            assert self.goal is not None
            return self.site.buy(self.page, self.goal)
        assert isinstance(target.target, Page)
        return target.target, None

    # ------------------------------------------------------------------ what the agent sees
    def admissible_actions(self) -> list[str]:
        """The actions of the current page (none once the episode is over)."""
        if any(self.over()):
            return []
        view = self.view()
        actions = [SEARCH_PLACEHOLDER] if view.has_search_bar else []
        return actions + [f"click[{k}]" for k in view.keys() if k != "search"]

    def state_key(self) -> str:
        """The page the agent is on, under its instruction (class docstring), hashed (DESIGN §3)."""
        assert self.goal is not None
        return cached_state_key(self.env_id, canonical([self.goal.instruction, self.page.key()]))

    def _info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"state_key": self.state_key(), "admissible_actions": self.admissible_actions(),
                                "action_valid": self.error is None, "turn": self.turn}
        if self.error is not None:
            info["error"] = self.error
        terminated, truncated = self.over()
        if terminated or truncated:
            score = self.score.score if (terminated and self.score is not None) else 0.0
            info["success"] = bool(terminated and score == 1.0)
            info["score"] = score
            if terminated and self.score is not None:
                info["score_parts"] = self.score.as_dict()
        return info

    def text(self) -> str:
        """The text observation without the invalid-action line."""
        return self.view().text

    def _obs(self) -> str:
        body = self.text()
        if self.error is not None:
            accepted = ", ".join(self.admissible_actions()) or ACCEPTED
            body = f"Invalid action: {self.error}. Accepted actions: {accepted}.\n{body}"
        return truncate(body, self.max_obs_chars)

    def render(self) -> str | None:
        """The text view (``ansi`` returns it, ``human`` prints it)."""
        return render_text(self.render_mode, self.text)

    # ------------------------------------------------------------------ snapshots
    def get_state(self) -> bytes:
        """Snapshot: the catalog and goal, the page, the turn, the pending error message and the RNG (JSON)."""
        if self.goal is None:
            raise RuntimeError(f"get_state() called before reset(); {RESET_FIRST}")
        p = self.page
        return encode_snapshot(self.env_id, {
            "catalog": self.catalog.key, "split": self.split, "task": self.task,
            "page": [p.kind, p.query, p.page, p.asin, [list(o) for o in p.options], p.sub],
            "turn": self.turn, "error": self.error, "rng": rng_state(self.np_random)})

    def set_state(self, blob: bytes) -> None:
        """Restores a ``get_state`` snapshot; atomic: ``SnapshotError`` (only) leaves the env unchanged.

        The page must be a page of this site (known product, offered options, a query of the accepted length),
        the goal one of this env's split, and the page reachable in the recorded number of turns.
        """
        def parse(data: dict[str, Any]) -> tuple[Any, ...]:
            fields = read_dict(data, "snapshot", _SNAPSHOT_KEYS)
            if set(fields) != set(_SNAPSHOT_KEYS):
                raise SnapshotError(f"snapshot: unexpected keys {sorted(set(fields) - set(_SNAPSHOT_KEYS))[:5]}")
            if fields["catalog"] != self.catalog.key or fields["split"] != self.split:
                raise SnapshotError("snapshot: taken on another catalog or split")
            task = read_int(fields["task"], 0, self.catalog.num_goals(self.split) - 1, "task")
            turn = read_int(fields["turn"], 0, self.max_turns, "turn")
            kind, query, number, asin, options, sub = read_list(fields["page"], "page", 6)
            pairs = []
            for pair in read_list(options, "page options", max_length=64):
                name, value = read_list(pair, "page option", 2)
                pairs.append((name, value))
            for value in (kind, query, asin, sub, *(x for pair in pairs for x in pair)):
                if type(value) is not str:
                    raise SnapshotError("page: expected strings")
            page = Page(kind, query, read_int(number, 1, None, "page number"), asin, tuple(pairs), sub)
            if not self.site.valid(page) or query != normalize_query(query):
                raise SnapshotError("page: not a page of this site")
            if page.kind != "search" and turn == 0:
                raise SnapshotError("page: only the search page is reachable in 0 turns")
            error = read_message(fields["error"], "error")
            if error is not None and turn == 0:
                raise SnapshotError("error: no action was played yet")
            return task, page, turn, error, rng_from_state(fields["rng"])

        task, page, turn, error, rng = parsed_snapshot(self.env_id, blob, parse)
        self._start(task)
        self.page, self.turn, self.error = page, turn, error
        if page.kind == "done":
            assert self.goal is not None
            self.score = self.site.buy(page, self.goal)[1]
        self._np_random = rng


__all__ = ["SEARCH_PLACEHOLDER", "WebShopEnv", "parse_shop_action"]
