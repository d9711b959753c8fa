"""The shop website as a state machine, independent of HTTP: pages, clicks, searches, purchase.

The pages are WebShop's (``web_agent_site/templates``) with WebShop's buttons and transitions
(``web_agent_text_env.py`` ``SimServer.receive``):

* search page: the instruction and a search box;
* results page (query, page number): "Back to Search", "< Prev" (from page 2 on), "Next >" (always, as in
  WebShop), then 10 products (asin, title, price) of the top 50 hits;
* item page (asin, chosen options): "Back to Search", "< Prev" (the results page it came from), each option
  group's name and values (clicking a value chooses it), title, price, rating, "Description", "Features",
  "Reviews", "Buy Now";
* item sub-pages (Description, Features, Reviews): "Back to Search", "< Prev" (the item page);
* done page: the score of the purchase ("Buy Now" on an item page; the episode ends).

Every page renders (a) WebShop's "simple" text observation: the page's visible text pieces joined by
`` [SEP] `` (``convert_html_to_text(simple=True)``), and its clickables: the lowercased texts of its buttons and
product links, then the values of its option inputs (WebShop's ``get_available_actions`` order; a clickable
that equals an earlier one replaces it, as in WebShop's dict); and (b) HTML for the HTTP server and the browser
front end: plain semantic HTML with stable ids, every text from the catalog, the goal or the agent
HTML-escaped. The HTML's visible text is exactly the text observation's pieces (tested).

Deviations from WebShop: the done page shows the thank-you line and the score only (WebShop's also carries the
goal and the purchase in a hidden block, which its text observation leaks); a sub-page or a click after the
purchase does not exist (the episode is over); the option inputs are links, not radio buttons driven by
JavaScript, so the site needs no script.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, replace

from turngym.envs.web.shop import taxonomy as tx
from turngym.envs.web.shop.catalog import Catalog
from turngym.envs.web.shop.reward import Score, score_purchase
from turngym.envs.web.shop.search import SEARCH_RETURN_N
from turngym.envs.web.shop.types import Goal, Product

SEP = " [SEP] "
#: Products per results page (WebShop's PRODUCT_WINDOW).
PRODUCT_WINDOW = 10
BACK_TO_SEARCH = "Back to Search"
NEXT_PAGE = "Next >"
PREV_PAGE = "< Prev"
END_BUTTON = "Buy Now"
SUB_PAGES = ("Description", "Features", "Reviews")
KINDS = ("search", "results", "item", "sub", "done")
#: Longest query kept (longer search text is refused by the front ends).
MAX_QUERY_CHARS = 500
#: Highest results page reachable ("Next >" is always shown, as in WebShop; past the hits pages are empty).
MAX_PAGE = 1000


@dataclass(frozen=True)
class Page:
    """Where the agent is: what the URL of a WebShop page encodes.

    Attributes:
        kind: ``search``, ``results``, ``item``, ``sub`` or ``done``.
        query: The search keywords (results page, and the item pages opened from it).
        page: The results page number (1-based).
        asin: The product (item, sub and done pages).
        options: Chosen options as (name, value) pairs in the product's option order.
        sub: The sub-page (``Description``, ``Features``, ``Reviews``).
    """

    kind: str = "search"
    query: str = ""
    page: int = 1
    asin: str = ""
    options: tuple[tuple[str, str], ...] = ()
    sub: str = ""

    def key(self) -> list[object]:
        """What identifies the page for ``state_key`` (query + page for results, item + options for items)."""
        if self.kind == "search":
            return ["search"]
        if self.kind == "results":
            return ["results", self.query, self.page]
        opts = [list(o) for o in self.options]
        if self.kind == "item":
            return ["item", self.asin, opts]
        if self.kind == "sub":
            return ["sub", self.asin, opts, self.sub]
        return ["done", self.asin, opts]


#: What a click does: go to a page, or buy (the item page's "Buy Now").
BUY = "buy"


@dataclass(frozen=True)
class Clickable:
    """One clickable element of a page.

    Attributes:
        key: Its text as WebShop's text env names it (lowercase; ``click[key]``).
        label: Its text as shown.
        target: The page a click leads to, or ``BUY``.
        element_id: The HTML id (stable across renders).
        kind: ``button``, ``product`` (a result's asin link) or ``option``.
    """

    key: str
    label: str
    target: Page | str
    element_id: str
    kind: str = "button"


@dataclass(frozen=True)
class View:
    """A rendered page: the text pieces (joined by ``SEP`` they are the observation) and the clickables."""

    pieces: tuple[str, ...]
    clickables: tuple[Clickable, ...]
    has_search_bar: bool

    @property
    def text(self) -> str:
        """WebShop's simple text observation."""
        return SEP.join(self.pieces)

    def clickable(self, key: str) -> Clickable | None:
        """The clickable named ``key`` (the last one with that key, as WebShop's dict keeps it)."""
        for c in reversed(self.clickables):
            if c.key == key:
                return c
        return None

    def keys(self) -> list[str]:
        """Clickable keys, first occurrence order, duplicates once."""
        return list(dict.fromkeys(c.key for c in self.clickables))


def reviews(product: Product) -> tuple[tuple[str, str, int], ...]:
    """The product's reviews (title, body, score): 0-3 of ``taxonomy.REVIEW_TEXTS``, chosen by its asin."""
    code = sum(map(ord, product.asin))
    n = code % 4
    return tuple(tx.REVIEW_TEXTS[(code + 3 * i) % len(tx.REVIEW_TEXTS)] for i in range(n))


class Site:
    """The site's pages over one catalog (stateless: a session holds the current ``Page``).

    Args:
        catalog: The products and the search index.
    """

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    # ------------------------------------------------------------------ transitions
    def hits(self, query: str) -> tuple[int, ...]:
        """Catalog positions of a query's top 50 products."""
        return self.catalog.index.search(query, SEARCH_RETURN_N)

    def search(self, query: str) -> Page:
        """The results page 1 of ``query`` (lowercased, whitespace collapsed, as WebShop's keywords)."""
        return Page("results", normalize_query(query), 1)

    def valid(self, page: Page) -> bool:
        """Whether ``page`` is a page of this site (used to check URLs and snapshots)."""
        if page.kind not in KINDS or not (1 <= page.page <= MAX_PAGE) or len(page.query) > MAX_QUERY_CHARS:
            return False
        if page.kind in ("search", "results"):
            return not (page.asin or page.options or page.sub) and (page.kind == "results" or not page.query)
        product = self.catalog.product(page.asin)
        if product is None or product.asin != page.asin:
            return False
        names = list(product.options)
        positions = []
        for name, value in page.options:
            if name not in product.options or value not in product.options[name]:
                return False
            positions.append(names.index(name))
        if positions != sorted(set(positions)):
            return False
        return (page.sub in SUB_PAGES) if page.kind == "sub" else not page.sub

    def choose(self, page: Page, name: str, value: str) -> Page:
        """The item page with option ``name`` set to ``value`` (kept in the product's option order)."""
        product = self.catalog.product(page.asin)
        assert product is not None
        chosen = dict(page.options)
        chosen[name] = value
        ordered = tuple((n, chosen[n]) for n in product.options if n in chosen)
        return replace(page, kind="item", options=ordered, sub="")

    def buy(self, page: Page, goal: Goal) -> tuple[Page, Score]:
        """Buys the product of an item page with its chosen options: the done page and the score."""
        product = self.catalog.product(page.asin)
        assert product is not None
        return replace(page, kind="done", sub=""), score_purchase(product, goal, dict(page.options))

    # ------------------------------------------------------------------ views
    def view(self, page: Page, goal: Goal, score: Score | None = None) -> View:
        """The text pieces and clickables of ``page`` for an episode with ``goal``."""
        head = ("Instruction:", goal.instruction)
        back = Clickable("back to search", BACK_TO_SEARCH, Page(), "back-to-search")
        if page.kind == "search":
            return View(("WebShop", *head, "Search"), (), True)
        if page.kind == "done":
            shown = "" if score is None else repr(score.score)
            return View(("Thank you for shopping with us!", "Your score (min 0.0, max 1.0)", shown), (), False)
        if page.kind == "results":
            hits = self.hits(page.query)
            start = (page.page - 1) * PRODUCT_WINDOW
            shown_hits = hits[start:start + PRODUCT_WINDOW]
            clicks = [back]
            pieces = [*head, BACK_TO_SEARCH, f"Page {page.page} (Total results: {len(hits)})"]
            if page.page > 1:
                clicks.append(Clickable("< prev", PREV_PAGE, replace(page, page=page.page - 1), "prev-page"))
                pieces.append(PREV_PAGE)
            clicks.append(Clickable("next >", NEXT_PAGE, replace(page, page=min(page.page + 1, MAX_PAGE)), "next-page"))
            pieces.append(NEXT_PAGE)
            for i in shown_hits:
                p = self.catalog.products[i]
                clicks.append(Clickable(p.asin.lower(), p.asin, Page("item", page.query, page.page, p.asin),
                                        f"product-{p.asin}", "product"))
                pieces += [p.asin, p.title, p.price_tag]
            return View(tuple(pieces), tuple(clicks), False)
        product = self.catalog.product(page.asin)
        assert product is not None
        if page.kind == "sub":
            item = replace(page, kind="item", sub="")
            pieces = [*head, BACK_TO_SEARCH, PREV_PAGE]
            if page.sub == "Description":
                pieces.append(product.description)
            elif page.sub == "Features":
                pieces += list(product.bullets)
            else:
                for title, body, stars in reviews(product):
                    pieces += [f'"{title}"', str(stars), body]
            clicks = (back, Clickable("< prev", PREV_PAGE, item, "prev-page"))
            return View(tuple(p for p in pieces if p.strip()), clicks, False)
        results = Page("results", page.query, page.page)
        buttons = [back, Clickable("< prev", PREV_PAGE, results, "prev-page")]
        pieces = [*head, BACK_TO_SEARCH, PREV_PAGE]
        options: list[Clickable] = []
        for g, (name, values) in enumerate(product.options.items()):
            pieces.append(name)
            for v_i, value in enumerate(values):
                pieces.append(value)
                options.append(Clickable(value, value, self.choose(page, name, value), f"option-{g}-{v_i}", "option"))
        pieces += [product.title, f"Price: {product.price_tag}", f"Rating: {product.rating}", *SUB_PAGES, END_BUTTON]
        for sub in SUB_PAGES:
            buttons.append(Clickable(sub.lower(), sub, replace(page, kind="sub", sub=sub), f"sub-{sub.lower()}"))
        buttons.append(Clickable("buy now", END_BUTTON, BUY, "buy-now"))
        return View(tuple(p for p in pieces if p.strip()), tuple(buttons + options), False)

    # ------------------------------------------------------------------ HTML
    def html(self, page: Page, goal: Goal, href: Callable[[Page], str], search_action: str, buy_action: str,
             score: Score | None = None) -> str:
        """The page as HTML (module docstring); its visible text is ``view(...).pieces``.

        Args:
            page: The page.
            goal: The episode's goal (its instruction is shown).
            href: The URL of a page (links of buttons, products and options).
            search_action: The URL the search form is sent to (GET, field ``q``).
            buy_action: The URL the "Buy Now" form is posted to.
            score: The purchase's score (done page).
        """
        v = self.view(page, goal, score)
        e = html.escape
        body: list[str] = []
        clicks = {c.element_id: c for c in v.clickables}

        def link(c: Clickable, cls: str) -> str:
            if c.target == BUY:
                return (f'<form method="post" action="{e(buy_action)}"><button type="submit" id="{c.element_id}" '
                        f'class="{cls}">{e(c.label)}</button></form>')
            assert isinstance(c.target, Page)
            return f'<a id="{e(c.element_id)}" class="{cls}" href="{e(href(c.target))}">{e(c.label)}</a>'

        if page.kind == "done":
            body += ['<h1 id="thankyou">Thank you for shopping with us!</h1>',
                     f'<h3 id="reward">Your score (min 0.0, max 1.0)<pre id="score">{e(v.pieces[2])}</pre></h3>']
        elif page.kind == "search":
            body += ['<h2 id="logo">WebShop</h2>',
                     f'<h4 id="instruction-text">Instruction:<br><span>{e(goal.instruction)}</span></h4>',
                     f'<form id="search-form" method="get" action="{e(search_action)}" role="search">'
                     '<input id="search_input" type="text" name="q" aria-label="Search" required>'
                     '<button id="search-button" type="submit" class="btn">Search</button></form>']
        else:
            body.append(f'<h4 id="instruction-text">Instruction:<br><span>{e(goal.instruction)}</span></h4>')
            body.append(f'<nav>{link(clicks["back-to-search"], "btn")}</nav>')
            if page.kind == "results":
                body.append(f"<h3>{e(v.pieces[3])}</h3>")
                nav = [link(clicks[i], "btn") for i in ("prev-page", "next-page") if i in clicks]
                body.append("<nav>" + "".join(nav) + "</nav><ul id=\"results\">")
                for c in v.clickables:
                    if c.kind == "product":
                        p = self.catalog.product(c.label)
                        assert p is not None
                        body.append(f'<li>{link(c, "product-link")}<h4 class="product-title">{e(p.title)}</h4>'
                                    f'<h5 class="product-price">{e(p.price_tag)}</h5></li>')
                body.append("</ul>")
            else:
                body.append(f'<nav>{link(clicks["prev-page"], "btn")}</nav>')
                product = self.catalog.product(page.asin)
                assert product is not None
                if page.kind == "item":
                    chosen = dict(page.options)
                    for g, (name, values) in enumerate(product.options.items()):
                        items = []
                        for v_i, value in enumerate(values):
                            c = clicks[f"option-{g}-{v_i}"]
                            mark = ' aria-current="true"' if chosen.get(name) == value else ""
                            items.append(f"<li{mark}>{link(c, 'option-link')}</li>")
                        body.append(f'<section class="option-group"><h4>{e(name)}</h4><ul>{"".join(items)}</ul>'
                                    "</section>")
                    body += [f"<h2>{e(product.title)}</h2>", f"<h4>Price: {e(product.price_tag)}</h4>",
                             f"<h4>Rating: {e(product.rating)}</h4>",
                             "<nav>" + "".join(link(clicks[f"sub-{s.lower()}"], "btn") for s in SUB_PAGES) + "</nav>",
                             link(clicks["buy-now"], "btn purchase")]
                else:
                    texts = v.pieces[4:]
                    body.append(f'<section id="{e(page.sub.lower())}">'
                                + "".join(f"<p>{e(t)}</p>" for t in texts) + "</section>")
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>WebShop</title></head>"
                f"<body>{''.join(body)}</body></html>")


def normalize_query(query: str) -> str:
    """Keywords as WebShop keeps them: lowercased, runs of whitespace as one space."""
    return " ".join(query.lower().split())


__all__ = ["BACK_TO_SEARCH", "BUY", "END_BUTTON", "KINDS", "MAX_PAGE", "MAX_QUERY_CHARS", "NEXT_PAGE", "PREV_PAGE",
           "PRODUCT_WINDOW", "SEP", "SUB_PAGES", "Clickable", "Page", "Site", "View", "normalize_query", "reviews"]
