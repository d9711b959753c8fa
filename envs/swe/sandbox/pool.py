"""A warm pool of sandboxes: started once, reset between episodes, replaced when they die.

``SandboxPool(factory, size)`` works with any ``Sandbox`` factory (the docker and the local backend alike):
it starts ``size`` sandboxes up front, and ``acquire()`` hands out one that is already reset, so an episode
starts in the time of a lock, not of a container start.

Choices (documented here because callers depend on them):

* **Reset on release, in the background.** ``release(sb)`` queues the sandbox for one worker thread that
  resets it to its start state (killing whatever the episode left running) and puts it back. A dirty sandbox
  therefore never waits idle with an agent's processes alive, and ``acquire()`` does no reset of its own
  unless it is asked for a specific ``commit`` (one ``reset(commit)`` in the caller's thread). When every
  sandbox is busy or being reset, ``acquire`` waits.
* **Dead sandboxes are replaced by the caller.** A sandbox whose reset fails, or that ``acquire`` finds dead,
  is closed and counted as missing; ``acquire`` then builds a replacement with the factory in its own
  thread. If that fails, ``acquire`` raises ``SandboxError`` (an infrastructure failure: the episode is not
  scored, DESIGN section 3) and the pool stays usable, one short.
* ``close()`` (and leaving the ``with`` block) closes every sandbox, busy ones included; it is idempotent.

Everything is guarded by one condition variable, so any number of threads may acquire and release.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from turngym.envs.core.errors import ConfigError
from turngym.envs.swe.sandbox.base import Sandbox, SandboxError


class SandboxPool:
    """Pre-started sandboxes handed out reset (see the module docstring).

    Args:
        factory: Builds one sandbox (e.g. ``lambda: LocalSandbox(spec)``); may raise ``SandboxError``.
        size: How many sandboxes to keep.
        reap: Called once before the first sandbox starts, to remove what a killed driver left behind
            (e.g. ``reap_local``); its result is ignored.

    Raises:
        ConfigError: ``size`` is not a positive integer.
        SandboxError: A sandbox could not be started (those started are closed again).
    """

    def __init__(self, factory: Callable[[], Sandbox], size: int, *, reap: Callable[[], object] | None = None):
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ConfigError("size", "a positive integer", size)
        self._factory = factory
        self.size = size
        self._cond = threading.Condition()
        self._idle: deque[Sandbox] = deque()
        self._busy: set[int] = set()
        self._all: dict[int, Sandbox] = {}
        self._dirty: deque[Sandbox] = deque()
        self._resetting = 0
        self._missing = 0
        self._closed = False
        self.replaced = 0
        """How many sandboxes were replaced because they died or failed to reset."""
        if reap is not None:
            reap()
        try:
            for _ in range(size):
                sb = self._build()
                self._all[id(sb)] = sb
                self._idle.append(sb)
        except BaseException:
            self.close()
            raise
        self._worker = threading.Thread(target=self._reset_loop, name="turngym-swe-pool-reset", daemon=True)
        self._worker.start()

    def _build(self) -> Sandbox:
        try:
            return self._factory()
        except SandboxError:
            raise
        except Exception as exc:  # the factory's own error type; the caller sees an infra failure
            raise SandboxError(f"could not start a sandbox: {type(exc).__name__}: {exc}") from exc

    # -- handing out --------------------------------------------------------------------------------------

    def acquire(self, commit: str | None = None, timeout: float | None = None) -> Sandbox:
        """A reset sandbox, reserved for the caller until ``release``.

        Args:
            commit: Reset to this commit instead of the start state (one reset in this thread).
            timeout: Seconds to wait for a free sandbox (None: wait as long as it takes).

        Raises:
            SandboxError: The pool is closed, no sandbox came free in time, or a dead one could not be replaced.
        """
        with self._cond:
            while True:
                if self._closed:
                    raise SandboxError("the sandbox pool is closed")
                if self._idle:
                    sb = self._idle.popleft()
                    if sb.alive:
                        self._busy.add(id(sb))
                        break
                    self._drop(sb)
                    continue
                if self._missing:
                    self._missing -= 1
                    sb = None
                    break
                if not self._cond.wait(timeout):
                    raise SandboxError(f"no sandbox came free within {timeout}s ({self.size} in the pool)")
        if sb is None:
            sb = self._replace()
        if commit is not None:
            try:
                sb.reset(commit)
            except BaseException:
                self.release(sb)
                raise
        return sb

    def _replace(self) -> Sandbox:
        try:
            sb = self._build()
        except BaseException:
            with self._cond:
                self._missing += 1
                self._cond.notify()
            raise
        with self._cond:
            self.replaced += 1
            if self._closed:
                sb.close()
                raise SandboxError("the sandbox pool is closed")
            self._all[id(sb)] = sb
            self._busy.add(id(sb))
        return sb

    def _drop(self, sb: Sandbox) -> None:
        """Forgets and closes a dead sandbox (caller holds the lock); ``acquire`` builds its replacement."""
        self._all.pop(id(sb), None)
        self._busy.discard(id(sb))
        self._missing += 1
        try:
            sb.close()
        except Exception:  # noqa: BLE001 - it is dead already; closing is best effort
            pass
        self._cond.notify_all()

    def release(self, sb: Sandbox) -> None:
        """Gives a sandbox back; it is reset in the background before anyone gets it again.

        Raises:
            ValueError: ``sb`` is not a sandbox this pool handed out (or it was released twice).
        """
        with self._cond:
            if self._closed:
                return  # close() closed it already
            if id(sb) not in self._busy or self._all.get(id(sb)) is not sb:
                raise ValueError("release() of a sandbox this pool did not hand out (or released twice)")
            self._busy.discard(id(sb))
            self._dirty.append(sb)
            self._cond.notify_all()

    def _reset_loop(self) -> None:
        while True:
            with self._cond:
                while not self._dirty and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                sb = self._dirty.popleft()
                self._resetting += 1
            ok = False
            try:
                if sb.alive:
                    sb.reset()
                    ok = sb.alive
            except Exception:  # noqa: BLE001 - any failure of the reset means: replace this sandbox
                ok = False
            with self._cond:
                self._resetting -= 1
                if self._closed:
                    continue
                if ok:
                    self._idle.append(sb)
                    self._cond.notify_all()
                else:
                    self._drop(sb)  # acquire builds (and counts) the replacement

    # -- the end --------------------------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Counts: ``idle``, ``busy``, ``resetting`` (queued or in progress), ``missing``, ``replaced``."""
        with self._cond:
            return {"idle": len(self._idle), "busy": len(self._busy), "resetting": len(self._dirty) + self._resetting,
                    "missing": self._missing, "replaced": self.replaced}

    def close(self) -> None:
        """Closes every sandbox (busy ones too) and stops the reset worker (idempotent)."""
        with self._cond:
            if self._closed and not self._all:
                return
            self._closed = True
            sandboxes = list(self._all.values())
            self._all.clear()
            self._idle.clear()
            self._dirty.clear()
            self._busy.clear()
            self._cond.notify_all()
        worker = getattr(self, "_worker", None)
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=60)
        for sb in sandboxes:
            try:
                sb.close()
            except Exception:  # noqa: BLE001 - close the others regardless
                pass

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self.size
