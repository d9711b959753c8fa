"""The shop's real HTTP server, walked with httpx (issue 14). Fails on main (placeholder package)."""

from __future__ import annotations

import re
import socket
import threading
from html import unescape

import httpx
import pytest
from helpers_shop import visible_text

from turngym.envs.web.shop.catalog import get_catalog
from turngym.envs.web.shop.experts import option_choices, purchase_plan, search_terms
from turngym.envs.web.shop.reward import score_purchase
from turngym.envs.web.shop.server import ShopServer, shared_server
from turngym.envs.web.shop.site import SEP, Site

CAT = get_catalog(2000, 0)
CAT.index  # noqa: B018  (built before thread counts are taken)


@pytest.fixture(scope="module")
def server():
    with ShopServer(CAT) as srv:
        yield srv


def links(doc: str) -> dict[str, str]:
    return {m[0]: unescape(m[1]) for m in re.findall(r'<a id="([^"]+)" class="[^"]*" href="([^"]+)"', doc)}


def walk_to_purchase(client: httpx.Client, srv: ShopServer, sid: str, goal) -> httpx.Response:
    """search -> the planned product -> its options -> Buy Now, by following the pages' own links."""
    page = client.get(f"/s/{sid}")
    assert 'id="search_input"' in page.text
    page = client.get(f"/s/{sid}/search", params={"q": search_terms(goal.instruction)})
    hits = Site(CAT).hits(srv.page_of(sid).query)
    rank, _ = purchase_plan(Site(CAT), goal, hits)
    for _ in range(rank // 10):
        page = client.get(links(page.text)["next-page"])
    product = CAT.products[hits[rank]]
    page = client.get(links(page.text)[f"product-{product.asin}"])
    for name, value in option_choices(product, goal).items():
        group = list(product.options).index(name)
        page = client.get(links(page.text)[f"option-{group}-{product.options[name].index(value)}"])
    assert 'id="buy-now"' in page.text
    return client.post(f"/s/{sid}/buy")


def test_walk_search_item_option_buy_and_the_done_page_shows_reward_py_score(server):
    client = httpx.Client(base_url=server.base_url, follow_redirects=True, timeout=30)
    for k in range(3):
        goal = CAT.goal("test", k)
        sid = server.open_session(goal)
        assert server.result(sid) is None
        done = walk_to_purchase(client, server, sid, goal)
        assert str(done.url).endswith(f"/s/{sid}/done")
        page = server.page_of(sid)
        expected = score_purchase(CAT.product(page.asin), goal, dict(page.options))
        shown = re.search(r'<pre id="score">([^<]*)</pre>', done.text).group(1)
        assert float(shown) == expected.score == server.result(sid).score == 1.0
        # The episode is over: every page of the session now shows the done page.
        assert str(client.get(f"/s/{sid}/search", params={"q": "x"}).url).endswith("/done")
        server.close_session(sid)


def test_pages_over_http_are_the_text_observation_and_back_works(server):
    goal = CAT.goal("train", 5)
    sid = server.open_session(goal)
    client = httpx.Client(base_url=server.base_url, follow_redirects=True, timeout=30)
    results = client.get(f"/s/{sid}/search", params={"q": "Running  Shoes"})
    view = Site(CAT).view(server.page_of(sid), goal)
    assert SEP.join(visible_text(results.text)) == view.text
    item_url = links(results.text)[f"product-{view.clickables[-1].label}"]
    client.get(item_url)
    assert server.page_of(sid).kind == "item"
    client.get(str(results.url))  # the browser's back button re-requests the results URL
    assert server.page_of(sid).kind == "results" and server.page_of(sid).query == "running shoes"
    # Buying needs an item page.
    assert client.post(f"/s/{sid}/buy", follow_redirects=False).status_code == 409


def test_bad_urls_are_refused_and_leave_the_session_where_it_was(server):
    goal = CAT.goal("train", 1)
    sid = server.open_session(goal)
    client = httpx.Client(base_url=server.base_url, timeout=30)
    client.get(f"/s/{sid}/search", params={"q": "chocolate"})
    before = server.page_of(sid)
    asin = CAT.products[0].asin
    for path, params in ((f"/s/{sid}/search", {"q": ""}), (f"/s/{sid}/search", {"q": "x" * 600}),
                         (f"/s/{sid}/search", {"q": "a", "page": "zero"}),
                         (f"/s/{sid}/search", {"q": "a", "page": "0"}),
                         (f"/s/{sid}/item/B0NOPE0000", {}), (f"/s/{sid}/item/{asin}", {"options": '{"size": "huge"}'}),
                         (f"/s/{sid}/item/{asin}", {"options": "[" * 5000}), (f"/s/{sid}/search", {"q": "a\x00b"})):
        assert client.get(path, params=params).status_code == 400, (path, params)
    assert server.page_of(sid) == before
    assert client.get("/s/unknown").status_code == 404
    assert client.get(f"/s/{sid}/item/{asin}/Attributes").status_code == 404
    # A script in the query is data: the results page never echoes it as markup.
    page = client.get(f"/s/{sid}/search", params={"q": "<script>alert(1)</script>"})
    assert page.status_code == 200 and "<script>alert" not in page.text


def test_sessions_are_isolated(server):
    a, b = server.open_session(CAT.goal("train", 2)), server.open_session(CAT.goal("train", 3))
    client = httpx.Client(base_url=server.base_url, timeout=30)
    client.get(f"/s/{a}/search", params={"q": "coffee"})
    assert server.page_of(b).kind == "search"
    assert CAT.goal("train", 3).instruction in client.get(f"/s/{b}").text
    assert CAT.goal("train", 2).instruction not in client.get(f"/s/{b}").text


def test_stop_leaves_no_thread_and_no_listening_port():
    before = set(threading.enumerate())
    srv = ShopServer(CAT).start()
    port = srv.port
    httpx.get(srv.start_url(srv.open_session(CAT.goal("train", 0))), timeout=30)
    srv.stop()
    srv.stop()  # idempotent
    assert set(threading.enumerate()) <= before
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    with pytest.raises(RuntimeError):
        _ = srv.base_url


def test_shared_server_is_one_per_catalog_and_process():
    assert shared_server(CAT) is shared_server(CAT)
    assert shared_server(CAT).running
