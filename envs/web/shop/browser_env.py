"""``turngym/WebShopBrowser-v0``: the shop of ``turngym/WebShop-v0`` in real Chromium.

The same catalog, goals, pages and reward as the text front end, but the agent sees the page the way a browser
agent does (the accessibility tree with element ids, BrowserGym's convention) and acts with BrowserGym-style
calls (``fill('5', 'red shoes')``, ``click('7')``). The site is served over HTTP by the process's shared
``ShopServer`` (FastAPI on uvicorn, 127.0.0.1), one session per episode; the browser may reach only that server.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from turngym.envs.core.errors import ConfigError
from turngym.envs.web.browser.env import BrowserEnv, EpisodeStart, Verdict
from turngym.envs.web.browser.process import chromium_path
from turngym.envs.web.shop.catalog import DEFAULT_NUM_PRODUCTS, SPLITS, Catalog, get_catalog
from turngym.envs.web.shop.server import ShopServer, shared_server


def goal_index(seed: int, num_goals: int) -> int:
    """The goal an episode seed plays: the one ``WebShop-v0``'s ``reset(seed=seed)`` plays.

    Gymnasium seeds ``np_random`` as ``default_rng(seed)`` and the text env draws ``integers(n)`` first, so both
    front ends play the same goal for the same seed (tested).
    """
    return int(np.random.default_rng(seed).integers(num_goals))


class WebShopBrowserEnv(BrowserEnv):
    """WebShop's site in real Chromium (the browser front end of ``turngym/WebShop-v0``).

    Description:
        An instruction names a product with attributes, options and a price bound; the agent searches the shop,
        opens results, picks options and buys. The shop is the text front end's (same catalog, same goals for
        the same seed, same pages, same reward), served over HTTP and rendered by Chromium.

    Observation:
        ``Instruction: ...`` and the page's accessibility tree, one node a line, elements with ids in brackets
        (``[12] link 'B0A1B2C3D4'``, ``[5] textbox 'Search'``).

    Action:
        One BrowserGym-style call: ``fill('5', 'gluten free chocolate')``, ``press('5', 'Enter')``,
        ``click('7')``, ``go_back()``, ``scroll(0, 300)``, ``noop()`` (optionally inside ``<action>`` tags).

    Reward:
        WebShop's score of the purchase on "Buy Now" (``info["score"]``, ``info["score_parts"]``); 0 before.

    Episode end:
        ``terminated`` on a purchase (``info["success"]``: score == 1.0); ``truncated`` after ``max_turns``, or
        when the browser failed (``info["infra_error"]``; not scored).

    Arguments:
        split: ``train`` or ``test`` goals (disjoint target products).
        num_products: Generated catalog size.
        catalog_seed: Generated catalog seed.
        data_dir: A folder with WebShop's data files instead of the generated catalog.
        max_turns: Turn cap (WebShop's 15 text actions become ~2x as many browser actions: a search is a fill
            and a press, so the default is 30).
        render_mode: None, or ``rgb_array`` for screenshots.
        action_timeout_ms: Playwright timeout of each element action.
        operation_timeout_s: Watchdog bound of one reset or step.
        invalid_action_penalty: Added to the reward of an invalid action.
        obs_mode: Only ``text``.

    Version history:
        v0: first version.
    """

    env_id = "turngym/WebShopBrowser-v0"

    def __init__(self, split: str = "train", num_products: int = DEFAULT_NUM_PRODUCTS, catalog_seed: int = 0,
                 data_dir: str | None = None, max_turns: int = 30, render_mode: str | None = None,
                 action_timeout_ms: int = 2_000, operation_timeout_s: float = 30.0,
                 invalid_action_penalty: float = 0.0, obs_mode: str = "text"):
        if split not in SPLITS:
            raise ConfigError("split", "one of " + ", ".join(SPLITS), split, list(SPLITS))
        chromium_path()  # refuse before building a catalog and starting the shop's server for a browser we lack
        self.split = split
        self.catalog: Catalog = get_catalog(num_products, catalog_seed, data_dir)
        if self.catalog.num_goals(split) == 0:
            raise ConfigError("split", f"a split with goals in this catalog ({self.catalog.key})", split)
        self.server: ShopServer = shared_server(self.catalog)
        self.sid: str | None = None
        self.goal: Any = None
        self.task_index: int | None = None
        super().__init__(None, [self.server.base_url], max_turns=max_turns, render_mode=render_mode,
                         viewport=(1000, 800), action_timeout_ms=action_timeout_ms,
                         operation_timeout_s=operation_timeout_s, invalid_action_penalty=invalid_action_penalty,
                         obs_mode=obs_mode)

    def task_id(self, seed: int) -> str:
        """The text front end's task id of the goal this seed plays."""
        index = goal_index(seed, self.catalog.num_goals(self.split))
        return f"turngym/WebShop-v0/{self.catalog.key}/{self.split}/task={index}"

    def setup_episode(self, page: Any, seed: int) -> EpisodeStart:
        """Opens a shop session for the seed's goal and loads its search page."""
        self._close_session()
        self.task_index = goal_index(seed, self.catalog.num_goals(self.split))
        self.goal = self.catalog.goal(self.split, self.task_index)
        self.sid = self.server.open_session(self.goal)
        self.session.goto(self.server.start_url(self.sid))
        return EpisodeStart(self.goal.instruction, {"split": self.split, "task_index": self.task_index})

    def judge(self, page: Any) -> Verdict:
        """WebShop's score once the session bought (the server scored it), else nothing yet."""
        if self.sid is None:
            return Verdict()
        score = self.server.result(self.sid)
        if score is None:
            return Verdict()
        return Verdict(float(score.score), terminated=True, success=score.score == 1.0,
                       info={"score": float(score.score), "score_parts": score.as_dict()})

    def _close_session(self) -> None:
        if self.sid is not None:
            self.server.close_session(self.sid)
            self.sid = None

    def close(self) -> None:
        """Closes the shop session and the browser context."""
        self._close_session()
        super().close()


def browser_shop_expert(env_id: str = "turngym/WebShopBrowser-v0", seed: int | None = None,
                        env_kwargs: dict[str, Any] | None = None) -> Any:
    """The registry expert of ``turngym/WebShopBrowser-v0``: the text shopper, acted out in the browser.

    The scripted shopper (``experts.Shopper``) decides on the server's page model; its ``click[x]`` becomes
    ``click('<id>')`` on the element the site rendered for ``x`` and its ``search[q]`` becomes ``fill`` of the
    search box, then a click on its button. It reads the ids from the live page (a teacher may read the env's
    state; it is never an evaluated policy).
    """
    del seed, env_kwargs
    from turngym.envs.web.shop.experts import Shopper
    from turngym.envs.web.shop.site import Site

    shoppers: dict[int, Shopper] = {}

    def bid(env: WebShopBrowserEnv, element_id: str) -> str:
        value = env.session.page.get_attribute(f"#{element_id}", "bid", timeout=2_000)
        if value is None:
            raise ConfigError("shop page", f"an element #{element_id} with a bid", None)
        return value

    def act(env: Any, observation: Any = None, info: dict[str, Any] | None = None) -> str:
        base = getattr(env, "unwrapped", env)
        if not isinstance(base, WebShopBrowserEnv) or base.sid is None:
            raise ConfigError(f"{env_id} expert env", "a reset WebShopBrowserEnv", type(base).__name__)
        shopper = shoppers.get(id(base.catalog))
        if shopper is None:
            shopper = shoppers[id(base.catalog)] = Shopper(Site(base.catalog))
        page = base.server.page_of(base.sid)
        text = shopper.next_action(page, base.goal)
        kind, arg = text.split("[", 1)
        arg = arg[:-1]
        if kind == "search":
            box = bid(base, "search_input")
            if base.session.page.input_value("#search_input", timeout=2_000) != arg:
                return f"fill({box!r}, {arg!r})"
            return f"click({bid(base, 'search-button')!r})"
        clickable = shopper.site.view(page, base.goal).clickable(arg)
        if clickable is None:
            raise ConfigError("shopper action", "a clickable of the current page", text)
        return f"click({bid(base, clickable.element_id)!r})"

    return act
