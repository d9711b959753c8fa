"""One browser context and page per episode, confined to an allow-list of origins.

``BrowserSession`` is the page-level half of the backend: it opens a fresh Playwright context (its own cookies,
storage and cache: nothing one episode typed can be read by another) on the process's shared Chromium
(``turngym.envs.web.browser.process``), observes the page as an accessibility tree with ids (``axtree``) and
executes parsed actions (``actions``) on it.

Confinement (DESIGN §5; each is tested in ``tests/envs/web/test_browser_security.py``):

* every request of the context (documents, scripts, ``fetch``, WebSockets) goes to a proxy that refuses
  connections (a local port this process holds bound and never listens on), except requests to the allowed
  ``host:port`` pairs; ``<-loopback>`` cancels Chromium's implicit bypass of localhost, so other local ports are
  refused as well. Navigations to other origins are reported to the action that caused them;
* the page may not leave the allowed origins by any other road either (``file://``, ``javascript:``, error pages):
  after every action the page's URL is checked, and a page outside the list is sent back to the last allowed
  URL, the action counting as invalid;
* pop-ups and new tabs (``window.open``, ``target=_blank`` links and forms) and ``download`` links are refused
  inside the page by a script that runs before the page's own (``_GUARD_JS``) and reported; as a second line, any
  page that opens anyway is closed at once, and downloads are refused by the context (``accept_downloads=False``);
* JavaScript dialogs (``alert``) are dismissed so they cannot block the page; service workers are blocked.
"""

from __future__ import annotations

import contextlib
import io
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from turngym.envs.web.browser import axtree
from turngym.envs.web.browser.actions import BrowserAction
from turngym.envs.web.browser.process import BrowserCrashedError, SharedBrowser, acquire, release, watchdog


def origin_of(url: str) -> str:
    """``scheme://host:port`` of a URL, with the scheme's default port made explicit ('' if it has none)."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return ""
    if not parts.hostname or parts.scheme not in ("http", "https"):
        return ""
    return f"{parts.scheme}://{parts.hostname}:{port}"


class ActionFailed(Exception):  # noqa: N818 - a result, not a bug: the action was invalid
    """The action could not be carried out on this page (no such id, not fillable, refused navigation, ...)."""


@dataclass
class SessionConfig:
    """How a session's context is made.

    Attributes:
        allowed_origins: ``scheme://host:port`` origins the page may load from (everything else is refused).
        viewport: (width, height) in CSS pixels.
        action_timeout_ms: Playwright timeout of each element action (waits for the element to be actionable).
        navigation_timeout_ms: Playwright timeout of page loads.
        operation_timeout_s: Watchdog bound on one whole env operation (reset, step); past it the browser is killed.
    """

    allowed_origins: Sequence[str]
    viewport: tuple[int, int] = (800, 600)
    action_timeout_ms: int = 1_000
    navigation_timeout_ms: int = 15_000
    operation_timeout_s: float = 30.0
    origins: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.origins = frozenset(origin_of(o) for o in self.allowed_origins) - {""}


class BrowserSession:
    """A context + page of the shared browser, rebuilt for every episode.

    Args:
        config: Origins, viewport and timeouts.
    """

    def __init__(self, config: SessionConfig):
        self.config = config
        self.shared: SharedBrowser | None = None
        self.context: Any = None
        self.page: Any = None
        self.cdp: Any = None
        self.elements: dict[str, axtree.Element] = {}
        self.frame_of_prefix: dict[str, Any] = {}
        self.refused: list[str] = []
        self.navigation_refused = False
        self.last_allowed_url: str | None = None

    # ------------------------------------------------------------------ lifecycle
    def operation(self) -> contextlib.AbstractContextManager[None]:
        """The watchdog bound of one env operation (the shared browser must be acquired)."""
        assert self.shared is not None
        return watchdog(self.shared, self.config.operation_timeout_s)

    def ensure_browser(self) -> None:
        """Holds a live shared browser (a dead one is released, and a fresh one launched)."""
        if self.shared is not None and not self.shared.alive():
            self.close()
        if self.shared is None:
            self.shared = acquire()

    def open(self) -> None:
        """Readies the env's context for a new episode.

        The context (its own cookies, storage and cache, apart from every other env's) is made on first use and
        whenever the browser died; between episodes of the same env it is kept, with its cookies and the allowed
        origins' storage cleared, because a new page costs a new renderer process (hundreds of ms) and nothing
        one episode typed must survive into the next.
        """
        self.ensure_browser()
        if self.context is not None and self.alive():
            self.refused = []
            self.context.clear_cookies()
            for origin in sorted(self.config.origins):
                self.cdp.send("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": _STORAGE})
            return
        self.close_context()  # after ensure_browser: it may release abandoned users of the same browser
        width, height = self.config.viewport
        self.refused = []
        # Confinement at Chromium's network stack: every request goes to a proxy that refuses connections, except
        # the allowed host:port pairs. "<-loopback>" removes Chromium's implicit proxy bypass of localhost, so
        # other local ports are refused too. Unlike request interception (page.route), this keeps the HTTP cache.
        bypass = ",".join(["<-loopback>", *sorted(o.split("://", 1)[1] for o in self.config.origins)])
        context = self.shared.browser.new_context(
            viewport={"width": width, "height": height}, accept_downloads=False, service_workers="block",
            proxy={"server": f"http://127.0.0.1:{_refusing_port()}", "bypass": bypass})
        self.context = context
        context.set_default_timeout(self.config.action_timeout_ms)
        context.set_default_navigation_timeout(self.config.navigation_timeout_ms)
        context.add_init_script(_GUARD_JS)
        self.page = context.new_page()
        context.on("page", self._on_page)  # after new_page: from now on, any other page is a pop-up or a new tab
        self.page.on("dialog", lambda dialog: dialog.dismiss())
        self.page.on("download", lambda download: self.refused.append(f"download of {download.url[:200]}"))
        self.page.on("request", self._on_request)
        self.cdp = context.new_cdp_session(self.page)

    def close_context(self) -> None:
        """Closes the episode's context (never raises: the browser may be dead)."""
        _close_abandoned()
        if self.context is not None:
            with contextlib.suppress(Exception):
                self.context.close()
        self.context = self.page = self.cdp = None
        self.elements = {}

    def abandon(self) -> None:
        """Hands the context and the browser reference to the next session that opens (for ``__del__``).

        A garbage-collected env must not call Playwright from a finalizer (it may run in the middle of another
        Playwright call), so its context is closed, and its user count released, by the next ``open``/``close``.
        """
        if self.context is not None or self.shared is not None:
            _ABANDONED.append((self.context, self.shared))
        self.context = self.page = self.cdp = self.shared = None

    def close(self) -> None:
        """Closes the context and releases the shared browser (the last user closes Chromium)."""
        self.close_context()
        if self.shared is not None:
            shared, self.shared = self.shared, None
            release(shared)

    def alive(self) -> bool:
        """Whether the browser and this page still work."""
        try:
            return self.shared is not None and self.shared.alive() and self.page is not None \
                and not self.page.is_closed()
        except Exception:  # noqa: BLE001 - any driver error means "not alive"
            return False

    def crashed(self, error: BaseException) -> bool:
        """Whether ``error`` (raised by a Playwright call) came from a dead browser rather than a bad action."""
        return isinstance(error, BrowserCrashedError) or not self.alive()

    # ------------------------------------------------------------------ confinement
    def allowed(self, url: str) -> bool:
        """Whether the page may load ``url`` (``about:blank`` is allowed: it is where every page starts)."""
        return url == "about:blank" or origin_of(url) in self.config.origins

    def _on_request(self, request: Any) -> None:
        if request.is_navigation_request() and not self.allowed(request.url):
            self.refused.append(f"navigation to {request.url[:200]}")
            self.navigation_refused = True

    def _on_page(self, page: Any) -> None:
        if page is self.page:
            return
        self.refused.append("a pop-up or new tab")
        with contextlib.suppress(Exception):
            page.close()

    # ------------------------------------------------------------------ navigation and observation
    def goto(self, url: str) -> None:
        """Loads an allowed URL (a refused one raises ``ActionFailed``)."""
        if not self.allowed(url):
            raise ActionFailed(f"navigation to {url[:200]} is outside the allowed origins")
        self.page.goto(url, wait_until="load")
        self.last_allowed_url = url

    def observe(self) -> axtree.Tree:
        """Stamps ids on new elements and reads the accessibility tree of every allowed frame."""
        page = self.page
        frames = [f for f in page.frames if f is page.main_frame or self.allowed(f.url)]
        self.frame_of_prefix = {}
        hosts: list[str | None] = [None]
        for k, frame in enumerate(frames):
            prefix = "" if k == 0 else _prefix(k)
            self.frame_of_prefix[prefix] = frame
            frame.evaluate(axtree.STAMP_JS, prefix)
            if k:
                with contextlib.suppress(Exception):
                    hosts.append(frame.frame_element().get_attribute("bid"))
                    continue
                hosts.append(None)
        trees: list[tuple[list[dict[str, Any]], str | None]] = []
        if len(frames) == 1:
            trees.append((self.cdp.send("Accessibility.getFullAXTree").get("nodes", []), None))
        else:
            ids = _frame_ids(self.cdp.send("Page.getFrameTree").get("frameTree", {}))
            by_url = {}
            for fid, url in ids:
                by_url.setdefault(url, []).append(fid)
            for frame, host in zip(frames, hosts, strict=True):
                fids = by_url.get(frame.url) or [None]
                params = {"frameId": fids.pop(0)} if fids[0] is not None else {}
                nodes = self.cdp.send("Accessibility.getFullAXTree", params).get("nodes", [])
                trees.append((nodes, host))
        snapshot = self.cdp.send("DOMSnapshot.captureSnapshot", {"computedStyles": []})
        tree = axtree.render(trees, *axtree.bid_map(snapshot))
        self.elements = tree.elements
        return tree

    def screenshot(self) -> Any:
        """The viewport as an RGB ``numpy`` array of shape (height, width, 3)."""
        import numpy as np
        from PIL import Image

        png = self.page.screenshot(type="png", timeout=self.config.navigation_timeout_ms)
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))

    # ------------------------------------------------------------------ actions
    def act(self, action: BrowserAction) -> None:
        """Carries out one parsed action.

        Raises:
            ActionFailed: The action does not apply (unknown id, not fillable, refused navigation or pop-up, ...).
                The caller turns it into ``action_valid=False`` and the message into the observation.
            playwright.sync_api.Error: From a dead browser (check ``crashed``).
        """
        from playwright.sync_api import Error as PlaywrightError

        self.refused = []
        self.navigation_refused = False  # set by the request listener: a navigation left for a refused origin
        name, args = action.name, action.args
        page = self.page
        timeout = self.config.action_timeout_ms
        try:
            if name == "noop":
                pass
            elif name == "scroll":
                page.mouse.wheel(float(args[0]), float(args[1]))
            elif name in ("go_back", "go_forward"):
                (page.go_back if name == "go_back" else page.go_forward)(timeout=self.config.navigation_timeout_ms)
            else:
                target = self._locate(str(args[0]))
                if name == "click":
                    target.click(timeout=timeout)
                elif name == "dblclick":
                    target.dblclick(timeout=timeout)
                elif name == "hover":
                    target.hover(timeout=timeout)
                elif name == "focus":
                    target.focus(timeout=timeout)
                elif name == "clear":
                    target.clear(timeout=timeout)
                elif name == "fill":
                    target.fill(str(args[1]), timeout=timeout)
                elif name == "press":
                    target.press(str(args[1]), timeout=timeout)
                elif name == "select_option":
                    self._select(target, str(args[1]))
            with contextlib.suppress(PlaywrightError):
                page.wait_for_load_state("load", timeout=self.config.navigation_timeout_ms)
            with contextlib.suppress(PlaywrightError):  # a round trip, which also delivers pending page events
                self.refused.extend(str(r)[:200] for r in page.evaluate(_REFUSED_JS) or [])
        except PlaywrightError as e:
            if self.crashed(e):
                raise
            raise ActionFailed(_short(e)) from None
        self._enforce_origin()

    def _locate(self, bid: str) -> Any:
        if bid not in self.elements:
            raise ActionFailed(f"there is no element [{bid}] on the page")
        prefix = bid.rstrip("0123456789")
        frame = self.frame_of_prefix.get(prefix, self.page.main_frame)
        return frame.locator(f'[bid="{bid}"]').first  # bid matched ^[A-Za-z]{0,3}[0-9]+$: no selector injection

    def _select(self, target: Any, option: str) -> None:
        from playwright.sync_api import Error as PlaywrightError

        try:
            target.select_option(label=option, timeout=self.config.action_timeout_ms)
        except PlaywrightError as e:
            if self.crashed(e):
                raise
            target.select_option(value=option, timeout=self.config.action_timeout_ms)

    def _enforce_origin(self) -> None:
        """Refuses whatever left the allowed origins during the action (and brings the page back)."""
        url = self.page.url
        if not self.allowed(url) and not self.refused:
            self.refused.append(f"navigation to {url[:200]}")
        # A refused navigation may still be pending (a ``javascript:`` link's ``location.href``): Chromium commits
        # its error page whenever the proxy's refusal comes back, possibly after this check. Loading the last
        # allowed URL supersedes it, so the agent always ends the action on an allowed page.
        left = not self.allowed(url) or self.navigation_refused
        if left and self.last_allowed_url is not None:
            self.page.goto(self.last_allowed_url, wait_until="load")
        elif self.allowed(url) and url != "about:blank":
            self.last_allowed_url = url
        if self.refused:
            raise ActionFailed("refused: " + "; ".join(dict.fromkeys(self.refused)))


#: Runs before any script of every document: pop-ups (``window.open``, links and forms with a target other than the
#: page itself), ``download`` links and links to ``file:``/``data:``/``blob:`` documents (which Chromium would block
#: silently) are refused in the page, synchronously, and recorded for the action that tried them. ``javascript:``
#: links run (they are the page's own script; sites use them as buttons): a navigation they start is refused by the
#: proxy and reported by the request listener. Playwright's ``page`` and ``download`` events remain as a second
#: line (they arrive asynchronously).
_GUARD_JS = """(() => {
  const refused = [];
  Object.defineProperty(window, '__tgRefused', {value: refused, writable: false, configurable: false});
  window.open = function () { refused.push('a pop-up or new tab'); return null; };
  const outside = (t) => t && !['', '_self', '_top', '_parent'].includes(t.toLowerCase());
  document.addEventListener('click', (e) => {
    const a = e.target && e.target.closest ? e.target.closest('a[href], area[href]') : null;
    if (!a) return;
    if (a.hasAttribute('download')) { refused.push('download of ' + a.href); e.preventDefault(); }
    else if (['file:', 'data:', 'blob:', 'filesystem:'].includes(a.protocol)) {
      refused.push('navigation to ' + a.href.slice(0, 200)); e.preventDefault();
    }
    else if (outside(a.getAttribute('target'))) { refused.push('a pop-up or new tab'); e.preventDefault(); }
  }, true);
  document.addEventListener('submit', (e) => {
    if (outside(e.target.getAttribute('target'))) { refused.push('a pop-up or new tab'); e.preventDefault(); }
  }, true);
})();"""
_REFUSED_JS = "() => (window.__tgRefused || []).splice(0)"

#: What ``open`` clears between episodes (CDP ``Storage.clearDataForOrigin``; the HTTP cache is kept).
_STORAGE = "cookies,local_storage,indexeddb,file_systems,websql,service_workers,cache_storage"
_REFUSER: list[socket.socket] = []
#: (context, shared browser) of sessions that were garbage-collected unclosed (``BrowserSession.abandon``).
_ABANDONED: list[tuple[Any, SharedBrowser | None]] = []


def _close_abandoned() -> None:
    while _ABANDONED:
        context, shared = _ABANDONED.pop()
        if context is not None:
            with contextlib.suppress(Exception):
                context.close()
        if shared is not None:
            release(shared)


def _refusing_port() -> int:
    """A local TCP port that refuses every connection: bound by this process, never listening."""
    if not _REFUSER or _REFUSER[0].fileno() < 0:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        _REFUSER[:] = [sock]
    return _REFUSER[0].getsockname()[1]


def _prefix(k: int) -> str:
    letters = ""
    while k:
        k, r = divmod(k - 1, 26)
        letters = chr(ord("a") + r) + letters
    return letters


def _frame_ids(tree: dict[str, Any]) -> list[tuple[str, str]]:
    frame = tree.get("frame", {})
    out = [(frame.get("id"), frame.get("url", "") + frame.get("urlFragment", ""))]
    for child in tree.get("childFrames", []):
        out.extend(_frame_ids(child))
    return out


def _short(error: BaseException) -> str:
    """The first line of a Playwright error, without its call log."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:300]
