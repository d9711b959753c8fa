"""The leaderboard's static HTML page: self-contained, names escaped, and working in real Chromium.

The browser test opens the page over ``file://`` in Debian's Chromium through Playwright (``executable_path``;
Playwright's own browser download is not used), sorts a table by clicking a header, switches to a per-env
view, and checks that nothing was logged to the console and nothing was requested from outside the page.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from turngym.agents.leaderboard.games import simulate_bt_games
from turngym.agents.leaderboard.html import leaderboard_html
from turngym.agents.leaderboard.runner import Summary, summarize
from turngym.agents.leaderboard.suite import parse_suite

EVIL = '<script>alert("x")</script>&"\''
NAMES = ["strong", "middle", EVIL, "weak"]
ENVS = ["turngym/KuhnPoker-v0", "turngym/LeducHoldem-v0"]


def make_summary() -> Summary:
    """Two envs of synthetic Bradley–Terry games (one with reversed strengths), an agent with a hostile name,
    two infra failures, and a single-agent task table."""
    rng = np.random.default_rng(0)
    records = []
    for env, strengths in zip(ENVS, ([2.0, 1.0, 0.0, -1.0], [-1.0, 0.0, 1.0, 2.0]), strict=True):
        for g in simulate_bt_games(strengths, 300, rng, env_id=env, names=NAMES):
            records.append({"env": g.env_id, "seed": g.seed, "seats": list(g.seats), "returns": list(g.returns),
                            "infra_error": None})
    records += [{"env": ENVS[0], "seed": 999, "seats": ["strong", EVIL], "returns": [], "infra_error": "down"}] * 2
    records += [{"env": "turngym/FrozenLake-v0", "seed": s, "seats": [EVIL], "returns": [float(s % 2)],
                 "success": bool(s % 2), "infra_error": None} for s in range(6)]
    suite = parse_suite({"name": f"suite {EVIL}", "n_boot": 100, "agents": [{"name": n, "kind": "random"}
                                                                             for n in NAMES],
                         "envs": [{"id": e} for e in ENVS]})
    return summarize(suite, records)


@pytest.fixture(scope="module")
def page_html() -> str:
    return leaderboard_html(make_summary())


def test_names_are_escaped_everywhere(page_html: str) -> None:
    assert "<script>alert" not in page_html
    assert page_html.count("<script>") == 1  # the page's own script only
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&quot;&#x27;" in page_html


def test_page_is_self_contained(page_html: str) -> None:
    # No external resource of any kind: no src/href attributes, no url(), no @import; and a CSP that refuses them.
    assert not re.search(r"\b(src|href)\s*=", page_html)
    assert "url(" not in page_html and "@import" not in page_html
    assert "default-src 'none'" in page_html
    assert page_html.count('<section class="view"') == 1 + len(ENVS) + 1  # overall, per env, tasks


def _chromium() -> str:
    pytest.importorskip("playwright.sync_api")
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian chromium is not installed")
    return path


def test_page_sorts_and_switches_views_in_chromium(tmp_path: Path, page_html: str) -> None:
    from playwright.sync_api import sync_playwright

    path = tmp_path / "leaderboard.html"
    path.write_text(page_html, encoding="utf-8")
    messages: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), headless=True, args=["--disable-gpu"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
            page.on("dialog", lambda d: (messages.append(f"dialog: {d.message}"), d.dismiss()))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())

            overall = page.locator("#view-0")
            assert overall.is_visible() and not page.locator("#view-1").is_visible()

            def agents(section: str) -> list[str]:
                return page.locator(f"{section} tbody tr td:nth-child(2)").all_inner_texts()

            # Overall: the two envs cancel out; ranks sorted best first as rendered.
            first = agents("#view-0")
            assert sorted(first) == sorted(NAMES)  # the hostile name shows as text
            header = page.locator("#view-0 th", has_text="rating")
            header.click()  # ascending
            ascending = agents("#view-0")
            ratings = [float(x) for x in page.locator("#view-0 tbody tr td:nth-child(3)").all_inner_texts()]
            assert ratings == sorted(ratings)
            assert header.get_attribute("aria-sort") == "ascending"
            header.click()  # descending
            assert agents("#view-0") == ascending[::-1]
            page.locator("#view-0 th", has_text="agent").click()
            assert agents("#view-0") == sorted(NAMES, key=str.lower)

            # Per-env view: Kuhn ranks strong first, Leduc (reversed strengths) ranks weak first.
            page.locator("nav button", has_text=ENVS[0]).click()
            assert page.locator("#view-1").is_visible() and not overall.is_visible()
            assert page.locator("nav button", has_text=ENVS[0]).get_attribute("aria-selected") == "true"
            assert agents("#view-1") == NAMES
            page.locator("nav button", has_text=ENVS[1]).click()
            assert agents("#view-2") == NAMES[::-1]
            page.locator("#view-2 th", has_text="rank").click()
            page.locator("#view-2 th", has_text="rank").click()  # descending rank: worst first
            assert agents("#view-2") == NAMES

            # The task view, and a view picked by the URL's hash.
            page.locator("nav button", has_text="Single-agent tasks").click()
            assert page.locator("#view-3").is_visible()
            assert page.locator("#view-3 tbody tr").count() == 1
            page.goto(path.as_uri() + "#view-2")
            assert page.locator("#view-2").is_visible() and not page.locator("#view-0").is_visible()
        finally:
            browser.close()
    assert messages == []
    assert all(u.startswith("file://") for u in requests), requests
