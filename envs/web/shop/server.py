"""The shop as a real HTTP server: one process-local server, many sessions, each keyed by its id in the URL.

``ShopServer(catalog)`` serves ``site.Site`` with FastAPI on uvicorn, in a background thread, bound to
127.0.0.1 on a free port (the OS picks it: the socket is bound before uvicorn starts, so there is no race for
the port). ``shared_server(catalog)`` gives the one started server of a catalog for the whole process (the
browser envs of a worker share it); it stops at interpreter exit, or with ``stop_shared_servers()``.

A session is one episode: ``open_session(goal)`` returns its id, ``start_url(sid)`` its search page, and
``result(sid)`` its purchase's ``Score`` once "Buy Now" was pressed (None before). URLs (every page is a GET of
its URL, so the browser's back button works, as WebShop's URLs encode its pages)::

    /s/<sid>                                   search page (the form sends GET /s/<sid>/search?q=...)
    /s/<sid>/search?q=<query>&page=<n>         results page n
    /s/<sid>/item/<asin>?q=&page=&options=<json>          item page (options: {"name": "value"})
    /s/<sid>/item/<asin>/<Sub>?q=&page=&options=<json>    Description, Features or Reviews
    POST /s/<sid>/buy                          buys the session's current item page -> 303 to /s/<sid>/done
    /s/<sid>/done                              the score (every URL of a finished session redirects here)

Malformed URLs (unknown product, options the product does not offer, an over-long or non-printable query,
a page number out of range) get 400 and leave the session where it was; unknown sessions get 404.
"""

from __future__ import annotations

import atexit
import json
import secrets
import socket
import threading
from dataclasses import dataclass
from html import escape as html_escape
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from turngym.envs.core.errors import ConfigError
from turngym.envs.core.served import start_in_thread, stop_in_thread
from turngym.envs.web.shop.catalog import Catalog
from turngym.envs.web.shop.reward import Score
from turngym.envs.web.shop.site import MAX_PAGE, MAX_QUERY_CHARS, SUB_PAGES, Page, Site, normalize_query
from turngym.envs.web.shop.types import Goal

#: Most live sessions per server (an env closes its session at every reset; this bounds a leak).
MAX_SESSIONS = 100_000
#: Longest ``options`` JSON accepted in a URL.
MAX_OPTIONS_CHARS = 4096
_START_TIMEOUT_S = 30.0


@dataclass
class ShopSession:
    """One episode on the server: its goal, the page it is on, and the score once bought."""

    goal: Goal
    page: Page
    score: Score | None = None


class _BadRequest(Exception):
    pass


class ShopServer:
    """An HTTP server of the shop (module docstring). Use as a context manager, or ``start()``/``stop()``.

    Args:
        catalog: The products, goals and search index to serve.
    """

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.site = Site(catalog)
        self._sessions: dict[str, ShopSession] = {}
        self._lock = threading.Lock()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port: int | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> ShopServer:
        """Starts serving on 127.0.0.1 (a free port) in a daemon thread; returns self.

        Raises:
            RuntimeError: The server did not come up within 30 s.
        """
        if self._thread is not None:
            return self
        import uvicorn  # deferred: only the HTTP front ends need it

        self.catalog.index  # noqa: B018  (build the index before the first request, not inside it)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        config = uvicorn.Config(self._app(), log_level="warning", access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        thread = start_in_thread(server, sock, "turngym-shop-server", _START_TIMEOUT_S)
        self._server, self._thread, self._socket = server, thread, sock
        self.port = sock.getsockname()[1]
        return self

    def stop(self) -> None:
        """Stops the server, joins its thread and closes its socket (idempotent)."""
        if self._thread is None:
            return
        stop_in_thread(self._server, self._thread, self._socket)
        self._server = self._thread = self._socket = None
        self.port = None

    def __enter__(self) -> ShopServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        if self.port is None:
            raise RuntimeError("the shop server is not running; call start()")
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ sessions (the Python API)
    def open_session(self, goal: Goal) -> str:
        """Creates a session on the search page of ``goal``; returns its id (unguessable, URL-safe).

        Raises:
            ConfigError: ``MAX_SESSIONS`` sessions are open (close finished ones with ``close_session``).
        """
        sid = secrets.token_hex(12)
        with self._lock:
            if len(self._sessions) >= MAX_SESSIONS:
                raise ConfigError("shop sessions", f"at most {MAX_SESSIONS} open sessions", len(self._sessions))
            self._sessions[sid] = ShopSession(goal, Page())
        return sid

    def start_url(self, sid: str) -> str:
        """The absolute URL of a session's search page (where an episode starts)."""
        return f"{self.base_url}/s/{sid}"

    def result(self, sid: str) -> Score | None:
        """The score of a session's purchase, or None when it has not bought yet.

        Raises:
            KeyError: Unknown session.
        """
        with self._lock:
            return self._sessions[sid].score

    def page_of(self, sid: str) -> Page:
        """The page a session is on."""
        with self._lock:
            return self._sessions[sid].page

    def close_session(self, sid: str) -> None:
        """Forgets a session (unknown ids are ignored)."""
        with self._lock:
            self._sessions.pop(sid, None)

    # ------------------------------------------------------------------ URLs
    def path(self, sid: str, page: Page) -> str:
        """The path of ``page`` in session ``sid`` (module docstring)."""
        base = f"/s/{sid}"
        if page.kind == "search":
            return base
        if page.kind == "done":
            return f"{base}/done"
        if page.kind == "results":
            return f"{base}/search?" + urlencode({"q": page.query, "page": page.page})
        params = urlencode({"q": page.query, "page": page.page,
                            "options": json.dumps(dict(page.options), separators=(",", ":"))})
        tail = f"/{page.sub}" if page.kind == "sub" else ""
        return f"{base}/item/{quote(page.asin, safe='')}{tail}?{params}"

    def _parse(self, kind: str, asin: str, sub: str, params: dict[str, str]) -> Page:
        """The page a URL names; ``_BadRequest`` when it is not a page of the site."""
        if kind == "search":
            return Page()
        query = normalize_query(params.get("q", ""))
        if kind == "results" and not query:
            raise _BadRequest("the search query is empty")
        if len(query) > MAX_QUERY_CHARS or not query.isprintable():
            raise _BadRequest("the search query is too long or not printable text")
        try:
            number = int(params.get("page", "1"))
        except ValueError:
            raise _BadRequest("page must be an integer") from None
        if not 1 <= number <= MAX_PAGE:
            raise _BadRequest(f"page must be in [1, {MAX_PAGE}]")
        if kind == "results":
            return Page("results", query, number)
        raw = params.get("options", "{}")
        try:
            if len(raw) > MAX_OPTIONS_CHARS:
                raise ValueError("too long")
            chosen = json.loads(raw)
        except (ValueError, RecursionError):
            raise _BadRequest("options must be a JSON object of option name -> value") from None
        product = self.catalog.product(asin)
        if product is None or type(chosen) is not dict:
            raise _BadRequest("unknown product or malformed options")
        ordered = tuple((n, chosen[n]) for n in product.options if n in chosen)
        page = Page("sub" if sub else "item", query, number, product.asin, ordered, sub)
        if len(ordered) != len(chosen) or not self.site.valid(page):
            raise _BadRequest("options the product does not offer, or an unknown sub-page")
        return page

    # ------------------------------------------------------------------ the web app
    def _app(self) -> Any:
        app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

        def render(sid: str, session: ShopSession) -> HTMLResponse:
            html = self.site.html(session.page, session.goal, lambda p: self.path(sid, p),
                                  f"/s/{sid}/search", f"/s/{sid}/buy", session.score)
            return HTMLResponse(html, headers={"Cache-Control": "no-store"})

        def visit(sid: str, kind: str, request: Request, asin: str = "", sub: str = "") -> Any:
            with self._lock:
                session = self._sessions.get(sid)
                if session is None:
                    return HTMLResponse("<h1>Unknown session</h1>", status_code=404)
                if session.page.kind == "done":
                    if kind == "done":
                        return render(sid, session)
                    return RedirectResponse(f"/s/{sid}/done", status_code=303)
                if kind == "done":
                    return RedirectResponse(self.path(sid, session.page), status_code=303)
                try:
                    page = self._parse(kind, asin, sub, dict(request.query_params))
                except _BadRequest as e:
                    return HTMLResponse(f"<h1>Bad request</h1><p>{html_escape(str(e))}</p>", status_code=400)
                session.page = page
                return render(sid, session)

        @app.get("/s/{sid}")
        async def start(sid: str, request: Request) -> Any:
            return visit(sid, "search", request)

        @app.get("/s/{sid}/search")
        async def results(sid: str, request: Request) -> Any:
            return visit(sid, "results", request)

        @app.get("/s/{sid}/item/{asin}")
        async def item(sid: str, asin: str, request: Request) -> Any:
            return visit(sid, "item", request, asin)

        @app.get("/s/{sid}/item/{asin}/{sub}")
        async def sub_page(sid: str, asin: str, sub: str, request: Request) -> Any:
            if sub not in SUB_PAGES:
                return HTMLResponse("<h1>Not found</h1>", status_code=404)
            return visit(sid, "sub", request, asin, sub)

        @app.get("/s/{sid}/done")
        async def done(sid: str, request: Request) -> Any:
            return visit(sid, "done", request)

        @app.post("/s/{sid}/buy")
        async def buy(sid: str) -> Any:
            with self._lock:
                session = self._sessions.get(sid)
                if session is None:
                    return HTMLResponse("<h1>Unknown session</h1>", status_code=404)
                if session.page.kind == "item":
                    session.page, session.score = self.site.buy(session.page, session.goal)
                elif session.page.kind != "done":
                    return HTMLResponse("<h1>Nothing to buy: open a product first</h1>", status_code=409)
            return RedirectResponse(f"/s/{sid}/done", status_code=303)

        return app


_shared_lock = threading.Lock()
_shared: dict[str, ShopServer] = {}


def shared_server(catalog: Catalog) -> ShopServer:
    """The process's running server of ``catalog`` (started on first use, stopped at exit)."""
    with _shared_lock:
        server = _shared.get(catalog.key)
        if server is None or not server.running:
            server = ShopServer(catalog).start()
            _shared[catalog.key] = server
        return server


def stop_shared_servers() -> None:
    """Stops every shared server of the process (also run at interpreter exit)."""
    with _shared_lock:
        servers = list(_shared.values())
        _shared.clear()
    for server in servers:
        server.stop()


atexit.register(stop_shared_servers)

__all__ = ["MAX_SESSIONS", "ShopServer", "ShopSession", "shared_server", "stop_shared_servers"]
