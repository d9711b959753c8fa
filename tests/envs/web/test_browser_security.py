"""Confinement of the real-Chromium backend (issue 14, Reliability; DESIGN §5).

A small local site (served here) tries every way out: links to other sites and to another local port, ``file://``,
``javascript:`` and ``data:`` navigations, a download, ``window.open`` and ``target=_blank`` pop-ups, a ``fetch`` to
another port, and it stores what it is given in cookies and localStorage. The env must refuse each road with
``action_valid=False``, stay on the allowed origin, never let the other server see a request, survive hostile
strings, and keep nothing from one session in another. Fails on main: the backend was a placeholder package.
"""

from __future__ import annotations

import http.server
import shutil
import threading

import pytest

pytest.importorskip("playwright")
if shutil.which("chromium") is None:
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

from turngym.envs.web.browser import BrowserEnv, EpisodeStart, Verdict  # noqa: E402
from turngym.envs.web.browser.session import origin_of  # noqa: E402


class _Site(http.server.BaseHTTPRequestHandler):
    """Serves ``pages`` (path -> HTML) and counts every request it gets."""

    pages: dict[str, str] = {}
    hits: list[str]

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        path = self.path.split("?")[0]
        if path == "/file.bin":
            body, kind = b"\x00" * 1000, "application/octet-stream"
            extra = [("Content-Disposition", "attachment; filename=file.bin")]
        else:
            body, kind, extra = self.pages.get(path, "<title>none</title>").encode(), "text/html", []
        self.send_response(200)
        self.send_header("Content-Type", kind)
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _serve(pages: dict[str, str]) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = type("Handler", (_Site,), {"pages": pages})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.hits = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


OTHER, OTHER_URL = _serve({"/": "<title>other</title><p>secret</p>"})

INDEX = f"""<title>Home</title>
<a id="ext" href="http://example.com/">external site</a>
<a id="port" href="{OTHER_URL}/">other local port</a>
<a id="localhost" href="{OTHER_URL.replace('127.0.0.1', 'localhost')}/">localhost alias</a>
<a id="file" href="file:///etc/passwd">a local file</a>
<a id="js" href="javascript:location.href='{OTHER_URL}/from-js'">javascript link</a>
<a id="data" href="data:text/html,<h1>data</h1>">data document</a>
<a id="dl" href="/file.bin" download>download</a>
<button id="pop" onclick="window.open('/page2')">pop-up</button>
<a id="blank" href="/page2" target="_blank">new tab</a>
<a id="fetch" href="#" onclick="fetch('{OTHER_URL}/fetched').catch(() => 0); return false;">fetch</a>
<a id="ok" href="/page2">next page</a>
<input id="box" aria-label="box">
<button id="store" onclick="localStorage.setItem('k', document.getElementById('box').value);
  document.cookie = 'c=' + encodeURIComponent(document.getElementById('box').value)">store</button>
<p id="seen">stored: <span id="out"></span></p>
<script>
  document.getElementById('out').textContent = (localStorage.getItem('k') || '') + '|' + document.cookie;
  window.pwned = false;
</script>
"""
SITE, SITE_URL = _serve({"/": INDEX, "/page2": "<title>Page two</title><p>second page</p>"})


def _judge(page) -> Verdict:
    return Verdict(info={"url_ok": origin_of(page.url) == origin_of(SITE_URL)})


def _setup(page, seed) -> EpisodeStart:
    return EpisodeStart("explore", {"site": "test"})


@pytest.fixture(scope="module")
def env():
    e = BrowserEnv(SITE_URL + "/", judge=_judge, setup=_setup, max_turns=1000)
    yield e
    e.close()


def _bid(obs: str, text: str) -> str:
    line = next(ln for ln in obs.splitlines() if text in ln and "[" in ln)
    return line.split("[", 1)[1].split("]", 1)[0]


@pytest.mark.parametrize(("label", "why"), [
    ("external site", "refused"), ("other local port", "refused"), ("localhost alias", "refused"),
    ("a local file", "file:///etc/passwd"), ("javascript link", "refused"), ("data document", "data:text/html"),
    ("download", "download"),
    ("pop-up", "pop-up"), ("new tab", "pop-up"),
])
def test_every_road_out_is_refused(env, label, why):
    hits = len(OTHER.hits)
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(f"click('{_bid(obs, label)}')")
    refused = info["action_valid"] is False and "Invalid action" in obs and why in obs
    stayed = info["url_ok"] and "external site" in obs  # still on the site's home page, whose tree we see
    assert refused, obs[:300]
    assert stayed and not terminated and not truncated
    assert len(OTHER.hits) == hits  # the other server never saw a request
    assert len(env.session.context.pages) == 1  # no pop-up survived


def test_fetch_to_another_origin_never_leaves_the_browser(env):
    hits = len(OTHER.hits)
    obs, _ = env.reset(seed=0)
    env.step(f"click('{_bid(obs, 'fetch')}')")
    env.session.page.wait_for_timeout(300)
    assert len(OTHER.hits) == hits


def test_allowed_navigation_and_go_back_work(env):
    obs, _ = env.reset(seed=0)
    obs, *_, info = env.step(f"click('{_bid(obs, 'next page')}')")
    assert info["action_valid"] and "second page" in obs
    obs, *_, info = env.step("go_back()")
    assert info["action_valid"] and "next page" in obs


HOSTILE_TEXTS = [
    "<script>window.pwned = true</script>",
    "\"><img src=x onerror=\"window.pwned=true\">",
    "'); window.pwned = true; ('",
    "${window.pwned = true}",
    "\u202e\ufeff\U0001f600 mixed ünïcödé",
    "a" * 5000,
]


def test_hostile_fill_is_typed_as_text_never_run(env):
    obs, _ = env.reset(seed=0)
    page = env.session.page
    for text in HOSTILE_TEXTS:
        obs, *_, info = env.step(f"fill({_bid(obs, 'textbox')!r}, {text!r})")
        assert info["action_valid"]
        assert page.evaluate("() => document.getElementById('box').value") == text
        obs, *_ = env.step(f"click('{_bid(obs, 'store')}')")
        assert page.evaluate("() => window.pwned") is False


HOSTILE_ACTIONS = ["fill('1', '" + "x" * (10 << 20) + "')", "\x00\x01\xff" * 1000, "click('\ud800')",
                   "fill('1', 'a\\x00b')", None, b"click('1')", "click('9999')", "select_option('5', 'x')"]


def test_hostile_actions_are_invalid_and_harmless(env):
    obs, info = env.reset(seed=0)
    key = info["state_key"]
    for action in HOSTILE_ACTIONS:
        obs, reward, terminated, truncated, info = env.step(action)
        assert info["action_valid"] is False and obs.startswith("Invalid action") and "accepted actions" in obs
        assert info["state_key"] == key and not terminated and not truncated
    obs, *_, info = env.step(f"click('{_bid(obs, 'next page')}')")  # the env still works
    assert info["action_valid"] and "second page" in obs


def test_nothing_typed_in_one_session_reaches_another(env):
    obs, _ = env.reset(seed=0)
    env.step(f"fill({_bid(obs, 'textbox')!r}, 'my-secret-token')")
    obs, *_ = env.step(f"click('{_bid(obs, 'store')}')")
    env.session.page.reload()
    assert "my-secret-token" in env.session.page.inner_text("#out")  # the page did store it
    obs, _ = env.reset(seed=1)  # the same env's next episode
    assert "my-secret-token" not in obs and "my-secret-token" not in env.session.page.inner_text("#out")
    other = BrowserEnv(SITE_URL + "/", judge=_judge, setup=_setup)  # another env of the same process
    try:
        obs, _ = other.reset(seed=0)
        assert "my-secret-token" not in other.session.page.inner_text("#out")
        assert other.session.shared is env.session.shared  # one browser, separate contexts
    finally:
        other.close()


def test_start_url_outside_the_allow_list_is_refused():
    env = BrowserEnv(SITE_URL + "/", judge=_judge, setup=_setup)
    try:
        env.reset(seed=0)
        from turngym.envs.web.browser.session import ActionFailed

        with pytest.raises(ActionFailed, match="outside the allowed origins"):
            env.session.goto(OTHER_URL + "/")
    finally:
        env.close()
