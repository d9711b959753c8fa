"""An ASGI app served by uvicorn on a thread of this process, on an already bound socket.

The shop's HTTP server (``envs/web/shop/server.py``) and ``turngym serve``'s in-process ``ChatServer``
(``agents/llm/serve.py``) both run this way: bind first (port 0 gives a free port with no race), start uvicorn's
``Server.run`` on a daemon thread, wait until it accepts requests, and on stop ask it to exit, join it and close
the socket.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any


def start_in_thread(server: Any, sock: socket.socket, name: str, timeout_s: float) -> threading.Thread:
    """Runs ``server`` (a ``uvicorn.Server``) on ``sock`` in a daemon thread; returns once it has started.

    Raises:
        RuntimeError: It did not start within ``timeout_s`` (the thread is stopped and the socket closed).
    """
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            sock.close()
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.005)
    return thread


def stop_in_thread(server: Any, thread: threading.Thread, sock: socket.socket | None) -> None:
    """Asks ``server`` to exit, joins its thread (at most 15 s) and closes its socket."""
    server.should_exit = True
    thread.join(15)
    if sock is not None:
        sock.close()


__all__ = ["start_in_thread", "stop_in_thread"]
