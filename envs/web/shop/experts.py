"""The scripted shopper of ``turngym/WebShop-v0`` (its ``EnvInfo.expert``) and its planning helpers.

The shopper does what a careful person does, in WebShop's actions: search with the instruction's key terms
(the instruction without its price clause), open the best match, choose the instruction's options, buy. "Best
match" is judged with the goal it reads from the env (a teacher for supervised warm starts may read the
env's state, ``EnvInfo.expert``): among the 50 hits, the first in rank order whose purchase with the goal's
options scores highest; it pages with "Next >" to reach it. It replans from the current page at every call, so
it takes over any episode (after a slip, an invalid action or a ``set_state``): from a sub-page it goes back,
from an item page that is not worth buying it goes back to the results, from a results page of another query
it searches again.

The helpers (``search_terms``, ``purchase_plan``) do not depend on the front end, so a browser shopper can
reuse them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from turngym.envs.core.errors import ConfigError
from turngym.envs.web.shop.reward import FUZZY_THRESHOLD, fuzzy_score, normalize_color, score_purchase
from turngym.envs.web.shop.site import PRODUCT_WINDOW, Page, Site
from turngym.envs.web.shop.types import Goal, Product

Act = Callable[[Any, Any, dict[str, Any]], str]
_PRICE_CLAUSE = re.compile(r",?\s*and price lower than [\d.]+ dollars\s*$")


def search_terms(instruction: str) -> str:
    """The instruction's key terms: the text without its price clause (BM25 drops the function words)."""
    return " ".join(_PRICE_CLAUSE.sub("", instruction.lower()).replace(",", " ").split())


def option_choices(product: Product, goal: Goal) -> dict[str, str]:
    """For each goal option value, the product's option value that matches it best (exact first, then fuzzy).

    Returns:
        Option name -> value to choose; goal values the product does not offer are left out.
    """
    chosen: dict[str, str] = {}
    for wanted in goal.options:
        best: tuple[int, str, str] | None = None
        for name, values in product.options.items():
            if name in chosen:
                continue
            for value in values:
                s = 101 if value == wanted else fuzzy_score(normalize_color(value), normalize_color(wanted))
                if s > FUZZY_THRESHOLD and (best is None or s > best[0]):
                    best = (s, name, value)
        if best is not None:
            chosen[best[1]] = best[2]
    return chosen


def purchase_plan(site: Site, goal: Goal, hits: Sequence[int]) -> tuple[int, float] | None:
    """(rank, expected score) of the hit to buy: the first of the highest expected score, or None without hits."""
    best: tuple[int, float] | None = None
    for rank, i in enumerate(hits):
        product = site.catalog.products[i]
        score = score_purchase(product, goal, option_choices(product, goal)).score
        if best is None or score > best[1]:
            best = (rank, score)
            if score >= 1.0:
                break
    return best


class Shopper:
    """The scripted shopper's policy over a site: ``next_action(page, goal)`` (module docstring)."""

    def __init__(self, site: Site):
        self.site = site
        self._plans: dict[tuple[str, str], tuple[int, float] | None] = {}

    def plan(self, goal: Goal, query: str) -> tuple[int, float] | None:
        """``purchase_plan`` for a goal and query, memoized."""
        key = (goal.instruction, query)
        if key not in self._plans:
            if len(self._plans) > 10_000:
                self._plans.clear()
            self._plans[key] = purchase_plan(self.site, goal, self.site.hits(query))
        return self._plans[key]

    def next_action(self, page: Page, goal: Goal) -> str:
        """The shopper's next action on ``page`` (WebShop's action text)."""
        terms = search_terms(goal.instruction)
        if page.kind == "search":
            return f"search[{terms}]"
        if page.kind in ("sub", "done"):
            return "click[< prev]" if page.kind == "sub" else "click[buy now]"
        if page.query != " ".join(terms.split()):
            return "click[back to search]"
        plan = self.plan(goal, page.query)
        if page.kind == "results":
            if plan is None:
                return "click[back to search]"
            rank = plan[0]
            want = rank // PRODUCT_WINDOW + 1
            if want > page.page:
                return "click[next >]"
            if want < page.page:
                return "click[< prev]"
            return f"click[{self.site.catalog.products[self.site.hits(page.query)[rank]].asin.lower()}]"
        product = self.site.catalog.product(page.asin)
        assert product is not None
        choices = option_choices(product, goal)
        if plan is not None and score_purchase(product, goal, choices).score < plan[1]:
            return "click[< prev]"
        current = dict(page.options)
        for name, value in choices.items():
            if current.get(name) != value:
                return f"click[{value}]"
        return "click[buy now]"


def shop_expert(env_id: str = "turngym/WebShop-v0", seed: int | None = None,
                env_kwargs: dict[str, Any] | None = None) -> Act:
    """The registry expert factory of ``turngym/WebShop-v0`` (``EnvInfo.expert``).

    Args:
        env_id: The id (the registry's calling convention).
        seed: Unused: the shopper is deterministic.
        env_kwargs: Unused: the shopper reads the catalog and the goal from the env it is given.

    Returns:
        ``act(env, observation, info) -> str``: the next action for the env's current page.
    """
    del seed, env_kwargs
    shoppers: dict[int, Shopper] = {}

    def act(env: Any, observation: Any = None, info: dict[str, Any] | None = None) -> str:
        base = getattr(env, "unwrapped", env)
        if type(base).__name__ != "WebShopEnv" or getattr(base, "goal", None) is None:
            raise ConfigError(f"{env_id} expert env", "a reset WebShopEnv (gym.make of its id)", type(base).__name__)
        shopper = shoppers.get(id(base.site.catalog))
        if shopper is None or shopper.site.catalog is not base.site.catalog:
            shopper = shoppers[id(base.site.catalog)] = Shopper(base.site)
        return shopper.next_action(base.page, base.goal)

    return act


__all__ = ["Shopper", "option_choices", "purchase_plan", "search_terms", "shop_expert"]
