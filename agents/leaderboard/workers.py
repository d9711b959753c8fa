"""Where the leaderboard's games are played: this process, worker processes, or Ray actors (issue 16).

``play_matches(suite, matches, executor=..., workers=...)`` takes the executor names of the env pools
(``turngym.envs.pool.EXECUTORS``, ``turngym train``'s ``rollout.executor``):

* ``inprocess``: one ``MatchPlayer`` here, games one after the other (``workers`` is ignored);
* ``subprocess``: ``workers`` processes (forkserver where the platform has it, else spawn; never fork, as
  ``SubprocessPool``), each with its own ``MatchPlayer``;
* ``ray``: ``workers`` Ray actors, each with its own ``MatchPlayer`` (Ray started locally unless it is already
  initialized, or joined at ``address``, as ``RayPool``).

An env pool steps envs for agents that live in the caller; a leaderboard game needs every seat's agent next to
the env for each turn, so the leaderboard's workers hold whole matches instead: each builds its agents from
their specs (the suite travels as its dict, never an agent or env object) and plays whole games, and only
``Match``es and log lines cross the process boundary. Chunks of consecutive matches go to whichever worker is
free, and each finished chunk's lines are yielded at once (the runner appends them to the log as they come).
The rest is the pools' worker mechanism (``turngym.envs.pool``): errors raised in a worker are raised here with
their own type and the worker's traceback as the cause; a worker that dies raises ``WorkerError``; ``close``
lets each worker close its envs and agents and run its ``atexit`` hooks (an env's sandboxes), killing
stragglers after ``EXIT_GRACE_S`` seconds.

A game's log line does not depend on the executor, the worker count or the order games finish in (the
``seconds`` timing aside): a game resets its env with its own seed and seeds each seat's generator by
``(seed, seat)`` (``play.py``), and agents are built from their specs alone.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import socket
import time
from collections.abc import Iterator, Sequence
from multiprocessing.connection import wait as wait_ready
from typing import Any

from turngym.agents.leaderboard.play import MatchPlayer
from turngym.agents.leaderboard.scheduling import Match
from turngym.agents.leaderboard.suite import Suite
from turngym.envs.core.errors import ConfigError

# The env pools' worker mechanism, shared rather than copied: error transport, exit hooks, process identity.
from turngym.envs.pool import (
    EXECUTORS,
    EXIT_GRACE_S,
    START_METHODS,
    WorkerError,
    _dumps_envelope,
    _pack_error,
    _run_exit_hooks,
    _start_ticks,
    _unpack_error,
    shutdown_ray_actors,
)

#: Most games a worker plays per task (results reach the log in these batches).
CHUNK = 16

_Envelope = tuple[bool, Any]  # (True, result) or (False, packed error), as in turngym.envs.pool


def resolve_executor(executor: str | None, workers: int, address: str | None = None) -> str:
    """The executor to use: ``executor``, or for None ``subprocess`` when ``workers > 1`` else ``inprocess``.

    Raises:
        ConfigError: An unknown executor name (with the nearest one), ``workers < 1``, or an ``address`` for an
            executor other than Ray.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError("workers", "an integer >= 1", workers)
    if executor is None:
        executor = "subprocess" if workers > 1 else "inprocess"
    if executor not in EXECUTORS:
        raise ConfigError("executor", "one of " + ", ".join(EXECUTORS), executor, EXECUTORS)
    if address is not None and executor != "ray":
        raise ConfigError("address", "None unless executor='ray'", address)
    return executor


def chunk_size(matches: int, workers: int) -> int:
    """Games per task: about four tasks per worker, at most ``CHUNK`` (so the log grows steadily)."""
    return max(1, min(CHUNK, matches // (workers * 4) or 1))


def chunks(matches: Sequence[Match], size: int) -> list[list[Match]]:
    """``matches`` cut into consecutive lists of ``size`` (the last one shorter)."""
    return [list(matches[i:i + size]) for i in range(0, len(matches), size)]


# ---------------------------------------------------------------------------------------------- the worker side
class _MatchShard:
    """One worker's ``MatchPlayer``. ``handle`` never raises: it returns pickled envelopes (as ``pool._Shard``).

    Used in the worker process of ``SubprocessMatchPool`` and as the Ray actor class of ``RayMatchPool``.
    """

    def __init__(self, suite_data: dict[str, Any], where: str):
        from turngym.agents.leaderboard.suite import parse_suite

        self.where = where
        self.player: MatchPlayer | None = None
        self.error: tuple[Any, ...] | None = None
        try:
            self.player = MatchPlayer(parse_suite(suite_data))
        except Exception as exc:
            self.error = _pack_error(exc, where)

    def handle(self, cmd: str, payload: Any) -> bytes:
        """Runs ``ready`` or ``play`` (a list of ``Match``es -> their log lines); the pickled envelope."""
        try:
            if cmd == "ready":
                envelope: _Envelope = (False, self.error) if self.error is not None else (True, os.getpid())
            elif cmd == "play":
                if self.player is None:
                    raise RuntimeError(f"{self.where} did not start")
                envelope = (True, [self.player.play(m) for m in payload])
            else:
                raise ValueError(f"unknown match pool command {cmd!r}")
        except Exception as exc:
            envelope = (False, _pack_error(exc, self.where))
        return _dumps_envelope(envelope, self.where)

    def identity(self) -> tuple[str, int, str]:
        """``(host name, pid, the pid's start time)`` of the process holding this shard."""
        pid = os.getpid()
        return socket.gethostname(), pid, _start_ticks(pid)

    def close(self) -> None:
        """Closes the player's envs and agents (best effort)."""
        if self.player is not None:
            try:
                self.player.close()
            except Exception:
                pass
            self.player = None


def _worker_main(conn: Any, suite_data: dict[str, Any], where: str) -> None:
    """Body of a ``SubprocessMatchPool`` worker: answers commands until ``close`` or EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it closes us
    shard = _MatchShard(suite_data, where)
    try:
        while True:
            try:
                blob = conn.recv_bytes()
            except (EOFError, OSError):
                break
            try:
                cmd, payload = pickle.loads(blob)
            except Exception as exc:
                conn.send_bytes(_dumps_envelope((False, _pack_error(exc, where)), where))
                continue
            if cmd == "close":
                break
            conn.send_bytes(shard.handle(cmd, payload))
    except (BrokenPipeError, EOFError):
        pass
    finally:
        shard.close()
        _run_exit_hooks()  # what the envs release at exit (sandboxes) does not outlive the pool (pool.py)
        conn.close()


def _open(blob: bytes) -> Any:
    """The result in a pickled envelope, or its error raised with its own type."""
    ok, value = pickle.loads(blob)
    if not ok:
        raise _unpack_error(value)
    return value


# ---------------------------------------------------------------------------------------------- processes
class SubprocessMatchPool:
    """``workers`` processes, each playing the chunks of matches it is sent.

    Args:
        suite: The suite (sent to each worker as ``suite.to_dict()``).
        workers: Processes.
        start_method: ``"forkserver"`` or ``"spawn"``; None: forkserver where the platform has it.
        start_timeout: Seconds to wait for the workers to start.

    Raises:
        ConfigError: A bad start method, or (raised from a worker) a suite it cannot read.
        WorkerError: A worker died or did not start in time (the pool is closed).
    """

    def __init__(self, suite: Suite, workers: int, *, start_method: str | None = None,
                 start_timeout: float = 120.0):
        if start_method is None:
            start_method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        if start_method not in START_METHODS:
            raise ConfigError("start_method", "'forkserver' or 'spawn' (fork is unsafe with threads)",
                              start_method, START_METHODS)
        self.workers = workers
        self._procs: list[Any] = []
        self._conns: list[Any] = []
        self._busy: set[int] = set()
        ctx = mp.get_context(start_method)
        data = suite.to_dict()
        try:
            for w in range(workers):
                parent, child = ctx.Pipe(duplex=True)
                proc = ctx.Process(target=_worker_main, args=(child, data, f"leaderboard worker {w}"),
                                   name=f"turngym-leaderboard-{w}", daemon=True)
                proc.start()
                child.close()  # the worker's copy keeps it open; ours must go so its death reads as EOF
                self._procs.append(proc)
                self._conns.append(parent)
            for w in range(workers):
                self._send(w, "ready", None)
            deadline = time.monotonic() + start_timeout
            while self._busy:
                self.next_done(max(0.0, deadline - time.monotonic()))
        except BaseException:
            self.close()
            raise

    def submit(self, w: int, matches: list[Match]) -> None:
        """Sends worker ``w`` a chunk of matches to play."""
        self._send(w, "play", matches)

    def _send(self, w: int, cmd: str, payload: Any) -> None:
        try:
            self._conns[w].send_bytes(pickle.dumps((cmd, payload), protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            raise self._fail(self._describe_death(w)) from None
        self._busy.add(w)

    def next_done(self, timeout: float | None = None) -> tuple[int, Any]:
        """Waits for a busy worker's reply: ``(worker, result)``; a worker's error is raised here."""
        busy = sorted(self._busy)
        by_conn = {self._conns[w]: w for w in busy}
        by_sentinel = {self._procs[w].sentinel: w for w in busy}
        ready = wait_ready([*by_conn, *by_sentinel], timeout)
        if not ready:
            raise self._fail(f"leaderboard workers {busy} did not answer within {timeout} s", busy)
        replies = [obj for obj in ready if not isinstance(obj, int)]
        if replies:
            w = by_conn[replies[0]]
        else:  # only a death: anything it sent before dying is still in the pipe
            w = by_sentinel[ready[0]]
        conn = self._conns[w]
        try:
            if not replies and not conn.poll():
                raise EOFError
            blob = conn.recv_bytes()
        except (EOFError, OSError):
            raise self._fail(self._describe_death(w)) from None
        self._busy.discard(w)
        try:
            return w, _open(blob)
        except BaseException:
            self.close()
            raise

    def _describe_death(self, w: int) -> str:
        proc = self._procs[w]
        proc.join(timeout=1.0)
        code = proc.exitcode
        how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        return f"leaderboard worker {w} (pid {proc.pid}) {how}"

    def _fail(self, message: str, hung: Sequence[int] = ()) -> WorkerError:
        for w in hung:  # they would not answer a polite close either
            self._procs[w].kill()
        self.close()
        return WorkerError(message + "; the pool is closed")

    def close(self) -> None:
        """Stops the workers (each closes its envs and agents and runs its exit hooks); idempotent."""
        procs, conns = self._procs, self._conns
        self._procs, self._conns, self._busy = [], [], set()
        for proc, conn in zip(procs, conns, strict=True):
            if proc.is_alive():
                try:
                    conn.send_bytes(pickle.dumps(("close", None)))
                except Exception:
                    pass
        deadline = time.monotonic() + EXIT_GRACE_S
        for proc in procs:
            proc.join(timeout=max(0.0, deadline - time.monotonic()))
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=1.0)
        for conn in conns:
            conn.close()


# ---------------------------------------------------------------------------------------------- Ray
class RayMatchPool:
    """``workers`` Ray actors, each playing the chunks of matches it is sent.

    Args:
        suite: The suite (sent to each actor as ``suite.to_dict()``; turngym must be importable on the nodes).
        workers: Actors.
        address: A Ray cluster to join (``"auto"``, ``"ray://host:10001"``); None starts a local instance (no
            dashboard, ``num_cpus`` CPUs) unless Ray is already initialized. ``close`` leaves Ray running.
        num_cpus: CPUs of a local instance started here (default: all of this machine's).
        start_timeout: Seconds to wait for the actors to start.

    Raises:
        ImportError: Ray is not installed (``pip install turngym[dist]``).
        WorkerError: An actor died or did not start in time (the pool is closed).
    """

    def __init__(self, suite: Suite, workers: int, *, address: str | None = None, num_cpus: int | None = None,
                 start_timeout: float = 300.0):
        try:
            import ray
        except ImportError as exc:
            raise ImportError("the ray executor needs ray: pip install turngym[dist]") from exc
        self._ray = ray
        self.workers = workers
        self._actors: list[Any] = []
        self._where: list[tuple[str, int, str]] = []
        self._pending: dict[Any, int] = {}
        if not ray.is_initialized():
            if address is not None:
                ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
            else:
                ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False,
                         ignore_reinit_error=True, log_to_driver=False)
        try:
            actor_cls = ray.remote(_MatchShard)
            data = suite.to_dict()
            self._actors = [actor_cls.remote(data, f"leaderboard actor {w}") for w in range(workers)]
            for w in range(workers):
                self._send(w, "ready", None)
            deadline = time.monotonic() + start_timeout
            while self._pending:
                self.next_done(max(0.0, deadline - time.monotonic()))
            self._where = ray.get([a.identity.remote() for a in self._actors], timeout=start_timeout)
        except BaseException:
            self.close()
            raise

    def submit(self, w: int, matches: list[Match]) -> None:
        """Sends actor ``w`` a chunk of matches to play."""
        self._send(w, "play", matches)

    def _send(self, w: int, cmd: str, payload: Any) -> None:
        self._pending[self._actors[w].handle.remote(cmd, payload)] = w

    def next_done(self, timeout: float | None = None) -> tuple[int, Any]:
        """Waits for a busy actor's reply: ``(actor, result)``; an actor's error is raised here."""
        ray = self._ray
        done, _ = ray.wait(list(self._pending), num_returns=1, timeout=timeout)
        if not done:
            self._shutdown(grace_s=2.0)  # a hung actor would not exit gracefully: do not wait long for it
            raise WorkerError(f"leaderboard actors did not answer within {timeout} s; the pool is closed")
        w = self._pending.pop(done[0])
        try:
            blob = ray.get(done[0])
        except ray.exceptions.RayActorError as exc:
            self._shutdown(grace_s=2.0)
            raise WorkerError(f"leaderboard actor {w} died ({type(exc).__name__}: {exc}); the pool is closed"
                              ) from None
        try:
            return w, _open(blob)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Ends the actors (their envs and agents closed, exit hooks run); idempotent. Ray keeps running."""
        self._shutdown(EXIT_GRACE_S)

    def _shutdown(self, grace_s: float) -> None:
        """As ``RayPool._shutdown``: ``close``, then Ray's graceful exit, then a kill for what is left."""
        actors, self._actors, self._pending = self._actors, [], {}
        ray = self._ray
        if not actors:
            return
        shutdown_ray_actors(ray, actors, self._where, grace_s)


# ---------------------------------------------------------------------------------------------- driver
def play_matches(suite: Suite, matches: Sequence[Match], *, executor: str | None = None, workers: int = 1,
                 address: str | None = None) -> Iterator[dict[str, Any]]:
    """Plays ``matches`` and yields each log line as soon as it is known (in completion order with workers).

    Args:
        suite: The suite.
        matches: The games.
        executor: ``inprocess``, ``subprocess`` or ``ray`` (module docstring); None: ``subprocess`` when
            ``workers > 1``, else ``inprocess``.
        workers: Worker processes or Ray actors (capped at the number of chunks); ignored in-process.
        address: Ray cluster to join (``executor="ray"`` only).

    Raises:
        ConfigError: Bad arguments, or whatever a worker raised (with its own type).
        WorkerError: A worker died or stopped answering.
    """
    executor = resolve_executor(executor, workers, address)
    if executor == "inprocess" or not matches:
        player = MatchPlayer(suite)
        try:
            for m in matches:
                yield player.play(m)
        finally:
            player.close()
        return
    todo = chunks(matches, chunk_size(len(matches), workers))
    workers = min(workers, len(todo))
    pool: SubprocessMatchPool | RayMatchPool = (
        SubprocessMatchPool(suite, workers) if executor == "subprocess" else RayMatchPool(suite, workers,
                                                                                          address=address))
    try:
        queue = iter(todo)
        busy = 0
        for w in range(workers):
            pool.submit(w, next(queue))
            busy += 1
        while busy:
            w, lines = pool.next_done()
            busy -= 1
            chunk = next(queue, None)
            if chunk is not None:  # the worker gets its next chunk before the caller writes this one's lines
                pool.submit(w, chunk)
                busy += 1
            yield from lines
    finally:
        pool.close()


__all__ = ["CHUNK", "EXECUTORS", "RayMatchPool", "SubprocessMatchPool", "chunk_size", "chunks", "play_matches",
           "resolve_executor"]
