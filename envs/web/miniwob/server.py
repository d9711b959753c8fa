"""The local HTTP server of the MiniWoB++ HTML: one per process, on 127.0.0.1 and a free port, shared.

MiniWoB++ pages must come from ``http://`` (the flight tasks load an iframe, which ``file://`` forbids), and the
browser envs only reach allowed origins, so the package's ``html`` directory is served read-only by Python's
``http.server`` (GET/HEAD of files under that directory only; ``SimpleHTTPRequestHandler.translate_path`` drops
``..``) from a daemon thread. It is started on first use and ends with the process.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import threading
from pathlib import Path

from turngym.envs.core.registry import require_extra

_LOCK = threading.Lock()
_SERVER: tuple[int, http.server.ThreadingHTTPServer, str] | None = None  # (owner pid, server, URL)


def html_dir() -> Path:
    """The ``html`` directory of the installed ``miniwob`` package."""
    require_extra("web", "miniwob", what="MiniWoB++ envs")
    spec = importlib.util.find_spec("miniwob")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "html"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files only (no directory listings), without logging every request to stderr."""

    def list_directory(self, path: str | os.PathLike[str]) -> None:  # type: ignore[override]
        self.send_error(404, "Not found")
        return None

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a browser that drops a connection (a closed page) is not an error worth a traceback


def base_url() -> str:
    """``http://127.0.0.1:<port>/`` of the process's server.

    Started on the first call; a forked child starts its own.
    """
    global _SERVER
    with _LOCK:
        if _SERVER is None or _SERVER[0] != os.getpid():
            handler = functools.partial(_QuietHandler, directory=str(html_dir()))
            server = _Server(("127.0.0.1", 0), handler)
            threading.Thread(target=server.serve_forever, name="turngym-miniwob-http", daemon=True).start()
            _SERVER = (os.getpid(), server, f"http://127.0.0.1:{server.server_address[1]}/")
        return _SERVER[2]
