"""The site's pages, transitions, text observations and HTML (issue 14). Fails on main (placeholder package)."""

from __future__ import annotations

from helpers_shop import FIXTURES, visible_text

from turngym.envs.web.shop.catalog import get_catalog
from turngym.envs.web.shop.site import BUY, SEP, Page, Site

CAT = get_catalog(2000, 0)
SITE = Site(CAT)
GOAL = CAT.goal("train", 0)


def href(page: Page) -> str:
    return "/" + "/".join(map(str, page.key()))


def html(page: Page, goal=GOAL, score=None) -> str:
    return SITE.html(page, goal, href, "/search", "/buy", score)


def pages() -> list[Page]:
    results = SITE.search("gluten free chocolate")
    item = SITE.view(results, GOAL).clickables[-1].target
    out = [Page(), results, Page("results", results.query, 2), item]
    for c in SITE.view(item, GOAL).clickables:
        if isinstance(c.target, Page) and c.target.kind in ("sub", "item"):
            out.append(c.target)
    return out


def test_search_page_is_webshops_text():
    v = SITE.view(Page(), GOAL)
    assert v.text == f"WebShop [SEP] Instruction: [SEP] {GOAL.instruction} [SEP] Search"
    assert v.has_search_bar and v.keys() == []


def test_results_pages_list_ten_products_with_webshops_buttons():
    results = SITE.search("Gluten   FREE chocolate")
    assert results == Page("results", "gluten free chocolate", 1)
    v = SITE.view(results, GOAL)
    assert v.pieces[:5] == ("Instruction:", GOAL.instruction, "Back to Search", "Page 1 (Total results: 50)", "Next >")
    products = [c for c in v.clickables if c.kind == "product"]
    assert len(products) == 10 and v.keys()[:2] == ["back to search", "next >"]
    first = CAT.product(products[0].label)
    assert v.pieces[5:8] == (first.asin, first.title, first.price_tag) and products[0].key == first.asin.lower()
    page2 = SITE.view(Page("results", results.query, 2), GOAL)
    assert page2.keys()[:3] == ["back to search", "< prev", "next >"]
    assert {c.label for c in page2.clickables} & {c.label for c in products} == set()
    # Past the 50 hits the page is empty, and "Next >" is still shown (as in WebShop).
    assert [c.key for c in SITE.view(Page("results", results.query, 6), GOAL).clickables] == [
        "back to search", "< prev", "next >"]


def test_item_page_options_subpages_and_buy():
    results = SITE.search("gluten free chocolate")
    item = SITE.view(results, GOAL).clickables[-1].target
    p = CAT.product(item.asin)
    v = SITE.view(item, GOAL)
    expected = ["back to search", "< prev", "description", "features", "reviews", "buy now"]
    assert v.keys() == expected + [x for values in p.options.values() for x in values]
    assert v.text.endswith(f"{p.title} [SEP] Price: {p.price_tag} [SEP] Rating: {p.rating} [SEP] Description "
                           "[SEP] Features [SEP] Reviews [SEP] Buy Now")
    name, values = next(iter(p.options.items()))
    chosen = v.clickable(values[-1]).target
    assert chosen.options == ((name, values[-1]),) and chosen.kind == "item"
    assert SITE.view(chosen, GOAL).clickable("< prev").target == results
    features = v.clickable("features").target
    assert SITE.view(features, GOAL).pieces[4:] == p.bullets
    assert SITE.view(features, GOAL).clickable("< prev").target == item
    assert v.clickable("buy now").target == BUY
    done, score = SITE.buy(chosen, GOAL)
    assert done.kind == "done" and SITE.view(done, GOAL, score).text == (
        f"Thank you for shopping with us! [SEP] Your score (min 0.0, max 1.0) [SEP] {score.score!r}")


def test_html_visible_text_is_the_text_observation():
    for page in pages():
        assert SEP.join(visible_text(html(page))) == SITE.view(page, GOAL).text, page


def test_html_has_stable_ids_and_escapes_everything():
    item = pages()[3]
    doc = html(item)
    for element_id in ("back-to-search", "prev-page", "sub-description", "buy-now", "option-0-0"):
        assert f'id="{element_id}"' in doc
    assert 'id="search_input"' in html(Page()) and 'name="q"' in html(Page())
    # Catalog text from WebShop's files is untrusted: the fixture's <script> title is shown as text.
    fixture = get_catalog(data_dir=str(FIXTURES))
    site = Site(fixture)
    goal = fixture.goal("test", 0)
    page = Page("item", "earbuds", 1, "B07TEST004")
    doc = site.html(page, goal, href, "/search", "/buy")
    assert "<script>" not in doc and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in doc
    assert "<script>alert('x')</script> Wireless Earbuds & Charging Case" in site.view(page, goal).text
    evil = goal.__class__(**{**{f: getattr(goal, f) for f in goal.__slots__}, "instruction": "<img src=x onerror=1>"})
    assert "<img" not in site.html(Page(), evil, href, "/search", "/buy")


def test_valid_rejects_pages_the_site_does_not_have():
    item = pages()[3]
    p = CAT.product(item.asin)
    assert SITE.valid(item) and SITE.valid(Page())
    assert not SITE.valid(Page("item", "", 1, "B0NOPE0000"))
    assert not SITE.valid(Page("item", "", 1, item.asin, (("size", "enormous"),)))
    assert not SITE.valid(Page("sub", "", 1, item.asin, (), "Attributes"))
    assert not SITE.valid(Page("search", "query"))
    assert not SITE.valid(Page("results", "x", 0))
    names = list(p.options)
    if len(names) == 2:  # options must be in the product's order (one canonical page per state)
        swapped = ((names[1], p.options[names[1]][0]), (names[0], p.options[names[0]][0]))
        assert not SITE.valid(Page("item", "", 1, item.asin, swapped))
