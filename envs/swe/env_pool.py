"""The per-process sandbox pools of SWE envs: one set of warm sandboxes per (backend, image, limits).

Each env borrows a one-sandbox ``SandboxPool`` for an image while its episode runs and gives it back at its next
reset or ``close()``; the pool's background reset then cleans the sandbox, so the next episode (of this env or of
another env of the process) starts on a warm, already reset sandbox. The set grows to the number of envs using
an image at once, and every pool is closed at interpreter exit (its sandboxes removed). A pool whose sandbox
failed is closed instead of given back, so the next borrow starts a new sandbox.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable, Hashable

from turngym.envs.swe.sandbox.base import Sandbox
from turngym.envs.swe.sandbox.pool import SandboxPool

_lock = threading.Lock()
_free: dict[Hashable, list[SandboxPool]] = {}
_all: list[SandboxPool] = []
_reaped: set[str] = set()


def borrow(key: Hashable, factory: Callable[[], Sandbox], backend: str) -> SandboxPool:
    """A warm one-sandbox pool for ``key`` (started now with ``factory`` when none is free).

    Raises:
        SandboxError: A new sandbox could not be started.
    """
    with _lock:
        free = _free.get(key)
        if free:
            return free.pop()
        first = backend not in _reaped
        _reaped.add(backend)
    pool = SandboxPool(factory, 1, reap=_reaper(backend) if first else None)
    with _lock:
        _all.append(pool)
    return pool


def give_back(key: Hashable, pool: SandboxPool) -> None:
    """Returns a borrowed pool (its sandbox already released to it)."""
    with _lock:
        _free.setdefault(key, []).append(pool)


def discard(pool: SandboxPool) -> None:
    """Closes a pool whose sandbox failed (never given back)."""
    with _lock:
        if pool in _all:
            _all.remove(pool)
    pool.close()


def _reaper(backend: str) -> Callable[[], object]:
    """What removes the leftovers of killed drivers for ``backend`` (run once per process, before the first start)."""
    if backend == "local":
        from turngym.envs.swe.sandbox.local import reap_local

        return reap_local

    def reap_docker() -> object:
        from turngym.envs.swe.sandbox.reap import reap_containers

        return reap_containers()

    return reap_docker


@atexit.register
def close_all() -> None:
    """Closes every pool of the process (and so removes every sandbox)."""
    with _lock:
        pools = list(_all)
        _all.clear()
        _free.clear()
    for pool in pools:
        pool.close()


__all__ = ["borrow", "close_all", "discard", "give_back"]
