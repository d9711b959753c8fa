"""Env pools: where the rollout loop's envs live and get stepped (DESIGN §4, "Scale-out").

The trainer generates actions for many live episodes in one batched call, then hands them to an
``EnvPool``. The pool steps the envs in-process (``InProcessPool``), in worker processes
(``SubprocessPool``) or in Ray actors (``RayPool``); the trainer code is the same for all three.

Every env is built in the place it lives with ``turngym.envs.core.registry.make(env_id, **env_kwargs)``
and never crosses a process boundary; only actions, seeds, options and results do. Env ``i`` lives in
worker ``i % workers``. A ``reset``/``step`` call sends each involved worker its share in one message,
so workers step in parallel, and returns results in the order of ``indices``. Given the same seeds, the
three executors give identical observations, rewards, flags and infos.

Envs of a user's own package (``register_env`` under their namespace) live in workers too: pass the modules
that register them as ``modules``; every pool imports them (in-process, and in each worker process or actor
before it builds its envs), so the ids exist wherever envs are made (issue 13, item 15e).

Errors raised by an env in a worker (an unknown id, a bad keyword argument, a failing step) are raised
in the caller with the same type and message, the worker's traceback chained as the cause. A worker
that dies, or does not answer within ``timeout`` seconds, raises ``WorkerError`` (a ``RuntimeError``)
and closes the pool.

``close()`` closes every env, then ends each worker the way an interpreter ends: its ``atexit`` hooks run, so
what envs release at exit (the SWE env's warm sandboxes: bubblewrap trees, docker containers) does not outlive
the pool. A worker still busy after ``EXIT_GRACE_S`` seconds is killed.

Example:
    >>> from turngym.envs.pool import make_pool
    >>> with make_pool("turngym/KuhnPoker-v0", 2, env_kwargs={"opponents": ["random"]}) as pool:
    ...     first = pool.reset([0, 1], seeds=[0, 1])
    ...     results = pool.step([1, 0], [first[1][1]["admissible_actions"][0],
    ...                                  first[0][1]["admissible_actions"][0]])
    >>> len(results)
    2
"""

from __future__ import annotations

import atexit
import importlib
import multiprocessing as mp
import operator
import os
import pickle
import signal
import socket
import time
import traceback
from collections.abc import Sequence
from multiprocessing.connection import wait as wait_ready
from typing import Any, Protocol, TypeVar, runtime_checkable

from turngym.envs.core.errors import ConfigError

StepResult = tuple[Any, float, bool, bool, dict]
"""``(obs, reward, terminated, truncated, info)`` of one env step."""

EXECUTORS = ("inprocess", "subprocess", "ray")
START_METHODS = ("forkserver", "spawn")
EXIT_GRACE_S = 10.0
"""Seconds ``close()`` gives each worker to close its envs and run its exit hooks before it is killed."""

_Envelope = tuple[bool, Any]  # (True, result) or (False, packed error)
_P = TypeVar("_P", bound="_PoolBase")


@runtime_checkable
class EnvPool(Protocol):
    """A fixed set of ``num_envs`` envs, addressed by index ``0 .. num_envs - 1``.

    Attributes:
        num_envs: How many envs.
        env_id: The registered id every env was made from; its registry entry (``EnvInfo``) says what the
            rollout may ask the envs through ``call`` (e.g. the gold-answer accessor).
    """

    num_envs: int
    env_id: str

    def reset(self, indices: Sequence[int], seeds: Sequence[int | None],
              options: Sequence[dict | None] | None = None) -> list[tuple[Any, dict]]:
        """Resets envs ``indices`` (``seeds[k]``, ``options[k]`` go to ``indices[k]``); ``(obs, info)``s."""
        ...

    def step(self, indices: Sequence[int], actions: Sequence[Any]) -> list[StepResult]:
        """Steps env ``indices[k]`` with ``actions[k]``; results in the order of ``indices``."""
        ...

    def call(self, index: int, method: str, *args: Any, **kwargs: Any) -> Any:
        """Calls ``env.method(*args, **kwargs)`` on one env (or reads the attribute if not callable)."""
        ...

    def close(self) -> None:
        """Closes every env and stops the workers (idempotent)."""
        ...


class WorkerError(RuntimeError):
    """A pool worker died or did not answer in time; the pool is closed."""


class _RemoteTraceback(Exception):
    """Carries a worker's formatted traceback as the ``__cause__`` of a re-raised error."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


# ---------------------------------------------------------------------------------------------- errors
def _pack_error(exc: BaseException, where: str) -> tuple[Any, ...]:
    """Turns an exception into picklable parts that ``_unpack_error`` rebuilds with the same type."""
    tb = f"in {where}:\n" + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        blob: bytes | None = pickle.dumps(exc)
        pickle.loads(blob)  # e.g. ConfigError(what, expected, got) does not rebuild from its args
    except Exception:
        blob = None
    state: dict[str, Any] = {}
    for key, value in vars(exc).items():
        try:
            pickle.dumps(value)
        except Exception:
            continue
        state[key] = value
    try:
        pickle.dumps(exc.args)
        args = exc.args
    except Exception:
        args = (str(exc),)
    cls = type(exc)
    return blob, cls.__module__, cls.__qualname__, args, state, str(exc), tb


def _unpack_error(packed: tuple[Any, ...]) -> BaseException:
    """Rebuilds an exception packed by ``_pack_error``; the remote traceback becomes its cause."""
    blob, module, qualname, args, state, message, tb = packed
    exc: BaseException | None = None
    if blob is not None:
        try:
            exc = pickle.loads(blob)
        except Exception:
            exc = None
    if exc is None:
        try:
            cls: Any = importlib.import_module(module)
            for part in qualname.split("."):
                cls = getattr(cls, part)
            if not (isinstance(cls, type) and issubclass(cls, BaseException)):
                raise TypeError(qualname)
            exc = cls.__new__(cls)
            exc.args = args
            exc.__dict__.update(state)
        except Exception:
            exc = RuntimeError(f"{module}.{qualname}: {message}")
    exc.__cause__ = _RemoteTraceback(tb)
    return exc


# ---------------------------------------------------------------------------------------------- modules
def check_modules(modules: Any, what: str = "modules") -> tuple[str, ...]:
    """Checks a list of env modules: ``"package.module"`` or ``"package.module:function"`` strings.

    Args:
        modules: A sequence of such strings (a single string is refused: it would iterate per character).
        what: The argument's name, for error messages.

    Returns:
        The strings as a tuple.

    Raises:
        ConfigError: Not a sequence of well-formed names.
    """
    expected = "a list of importable module names ('mypkg.envs' or 'mypkg.envs:register')"
    if isinstance(modules, str | bytes) or not isinstance(modules, Sequence):
        raise ConfigError(what, expected, modules)
    for name in modules:
        module, sep, attr = name.partition(":") if isinstance(name, str) else ("", "", "")
        parts = module.split(".") + (attr.split(".") if sep else [])
        if not all(p.isidentifier() for p in parts):
            raise ConfigError(what, expected, name)
    return tuple(modules)


def import_modules(modules: Sequence[str], what: str = "modules") -> None:
    """Imports the modules that register a user's envs (and calls ``module:function`` entries with no arguments).

    Importing is idempotent (Python caches modules, and ``register_env`` accepts the same entry again), so
    every pool and every worker may call it before it makes envs.

    Args:
        modules: Names checked by ``check_modules``.
        what: The setting that named them, for error messages (``env.modules``).

    Raises:
        ConfigError: A module does not import (whatever its import raised is chained as the cause), or a
            ``module:function`` entry does not name a callable.
    """
    for name in check_modules(modules, what):
        module_name, sep, attr = name.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
        except Exception as err:  # noqa: BLE001 - any failure of the user's module: name it, chain the cause
            raise ConfigError(what, "importable modules that register envs", name,
                              hint=f"Importing {module_name!r} failed with {type(err).__name__}: {err} (it must "
                                   "be importable here and in every env worker: installed, or on PYTHONPATH)."
                              ) from err
        if not sep:
            continue
        for part in attr.split("."):
            if not hasattr(obj, part):
                raise ConfigError(what, f"an attribute of {module_name}", name)
            obj = getattr(obj, part)
        if not callable(obj):
            raise ConfigError(what, "a callable after ':' (called with no arguments)", name)
        obj()


# ---------------------------------------------------------------------------------------------- shard
def _make_env(env_id: str, env_kwargs: dict[str, Any]) -> Any:
    import turngym.envs  # noqa: F401  (registers every turngym id)
    from turngym.envs.core.registry import make

    return make(env_id, **env_kwargs)


def _call_env(env: Any, method: str, args: tuple, kwargs: dict) -> Any:
    if not isinstance(method, str) or method.startswith("__"):
        raise ValueError(f"method: expected a public attribute name of the env, got {method!r}")
    attr = getattr(env, method)
    if callable(attr):
        return attr(*args, **kwargs)
    if args or kwargs:
        raise TypeError(f"env attribute {method!r} is not callable; it takes no arguments")
    return attr


class _Shard:
    """The envs of one worker, keyed by their pool index. Its methods never raise: they return envelopes.

    Used in-process by ``SubprocessPool`` workers and as the Ray actor class of ``RayPool``.
    """

    def __init__(self, env_id: str, indices: Sequence[int], env_kwargs: dict[str, Any], where: str,
                 modules: Sequence[str] = ()):
        self.where = where
        self.envs: dict[int, Any] = {}
        self.error: tuple[Any, ...] | None = None
        try:
            import_modules(modules)  # the user's ids must exist in this process before make() looks them up
            for i in indices:
                self.envs[i] = _make_env(env_id, env_kwargs)
        except Exception as exc:
            self.error = _pack_error(exc, where)
            self.close()

    def handle(self, cmd: str, payload: Any) -> _Envelope:
        """Runs one command (``ready``, ``reset``, ``step``, ``call``) on this shard's envs."""
        try:
            envs = self.envs
            if cmd == "step":
                indices, actions = payload
                return True, [envs[i].step(a) for i, a in zip(indices, actions, strict=True)]
            if cmd == "reset":
                indices, seeds, options = payload
                triples = zip(indices, seeds, options, strict=True)
                return True, [envs[i].reset(seed=s, options=o) for i, s, o in triples]
            if cmd == "call":
                index, method, args, kwargs = payload
                return True, _call_env(envs[index], method, args, kwargs)
            if cmd == "ready":
                return (False, self.error) if self.error is not None else (True, os.getpid())
            raise ValueError(f"unknown pool command {cmd!r}")
        except Exception as exc:
            return False, _pack_error(exc, self.where)

    def identity(self) -> tuple[str, int, str]:
        """``(host name, pid, the pid's start time)`` of the process holding this shard."""
        pid = os.getpid()
        return socket.gethostname(), pid, _start_ticks(pid)

    def handle_pickled(self, cmd: str, payload: Any) -> bytes:
        """``handle`` with the reply pickled here (Ray: plain pickle semantics, e.g. writable arrays)."""
        return _dumps_envelope(self.handle(cmd, payload), self.where)

    def close(self) -> None:
        """Closes every env (errors ignored: closing is best effort)."""
        for env in self.envs.values():
            try:
                env.close()
            except Exception:
                pass
        self.envs = {}


def _start_ticks(pid: int) -> str:
    """Process ``pid``'s start time (``/proc/<pid>/stat`` field 22; '' when it is gone, a zombie, or unknown).

    With the pid it names one running process for good: a pid can be reused once its owner is gone.
    """
    try:
        with open(f"/proc/{pid}/stat") as fh:
            data = fh.read()
    except OSError:
        return ""
    fields = data[data.rfind(")") + 2:].split()
    return "" if fields[0] == "Z" else fields[19]


def _dumps_envelope(envelope: _Envelope, where: str) -> bytes:
    try:
        return pickle.dumps(envelope, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        err = TypeError(f"the env's result could not be pickled to send it to the caller: {exc}")
        return pickle.dumps((False, _pack_error(err, where)), protocol=pickle.HIGHEST_PROTOCOL)


def _worker_main(conn: Any, env_id: str, indices: list[int], env_kwargs: dict[str, Any], where: str,
                 modules: tuple[str, ...] = ()) -> None:
    """Body of a ``SubprocessPool`` worker: builds its shard, then answers commands until ``close``/EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it closes us
    shard = _Shard(env_id, indices, env_kwargs, where, modules)
    try:
        while True:
            try:
                blob = conn.recv_bytes()
            except (EOFError, OSError):
                break
            try:
                cmd, payload = pickle.loads(blob)
            except Exception as exc:  # e.g. an action of a class this process cannot import
                conn.send_bytes(_dumps_envelope((False, _pack_error(exc, where)), where))
                continue
            if cmd == "close":
                break
            conn.send_bytes(_dumps_envelope(shard.handle(cmd, payload), where))
    except (BrokenPipeError, EOFError):
        pass
    finally:
        shard.close()
        _run_exit_hooks()
        conn.close()


def _run_exit_hooks() -> None:
    """Runs this worker's ``atexit`` handlers now, as the end of an interpreter would (each runs once).

    A forkserver worker ends with ``os._exit`` and skips them, yet envs release process-wide resources there:
    the SWE env's warm sandboxes (bubblewrap host directories, docker containers) live in a per-process pool
    closed at interpreter exit (``envs/swe/env_pool.py``). Without this they outlived ``close()`` (issue 15).
    """
    atexit._run_exitfuncs()  # reports a failing handler on stderr and goes on with the others


# ---------------------------------------------------------------------------------------------- pools
def _check_env_args(env_id: Any, num_envs: Any, workers: Any, env_kwargs: Any) -> None:
    if not isinstance(env_id, str) or not env_id:
        raise ConfigError("env_id", "a registered env id string", env_id)
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise ConfigError("num_envs", "an integer >= 1", num_envs)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError("workers", "an integer >= 1", workers)
    if env_kwargs is not None and not isinstance(env_kwargs, dict):
        raise ConfigError("env_kwargs", "a dict of keyword arguments for the env, or None", env_kwargs)


def _check_timeout(name: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
        raise ConfigError(name, "a number of seconds > 0, or None (no limit)", value)


class _PoolBase:
    """Argument checks, the context-manager protocol and best-effort cleanup shared by every pool."""

    num_envs: int
    _closed: bool = True

    def _indices(self, indices: Sequence[int]) -> list[int]:
        self._check_open()
        n = self.num_envs
        out = []
        for i in indices:
            try:
                k = operator.index(i)
            except TypeError:
                raise TypeError(f"env index: expected an int, got {i!r}") from None
            if not 0 <= k < n:
                raise IndexError(f"env index {k} out of range for a pool of {n} envs")
            out.append(k)
        if len(set(out)) != len(out):
            raise ValueError(f"env indices must be distinct within one call, got {list(indices)}")
        return out

    @staticmethod
    def _same_length(name: str, values: Sequence[Any], indices: Sequence[int]) -> None:
        if len(values) != len(indices):
            raise ValueError(f"{name}: expected one per index ({len(indices)}), got {len(values)}")

    def _reset_args(self, indices: Sequence[int], seeds: Sequence[int | None],
                    options: Sequence[dict | None] | None) -> tuple[list[int], list[Any], list[Any]]:
        idx = self._indices(indices)
        self._same_length("seeds", seeds, idx)
        opts = [None] * len(idx) if options is None else list(options)
        self._same_length("options", opts, idx)
        return idx, list(seeds), opts

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed")

    @property
    def closed(self) -> bool:
        """Whether ``close()`` ran (or a worker failure closed the pool)."""
        return self._closed

    def close(self) -> None:  # pragma: no cover - every pool overrides it
        """Closes the pool."""
        self._closed = True

    def __enter__(self: _P) -> _P:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class InProcessPool(_PoolBase):
    """The envs in a list in this process, stepped one after the other (the default executor).

    Args:
        env_id: A registered env id (``turngym/LeducHoldem-v0``).
        num_envs: How many envs.
        env_kwargs: Keyword arguments of ``make(env_id, ...)``.
        modules: Modules to import first (``import_modules``): the user's modules that register ``env_id``.
    """

    def __init__(self, env_id: str, num_envs: int, env_kwargs: dict[str, Any] | None = None,
                 *, modules: Sequence[str] = ()):
        _check_env_args(env_id, num_envs, 1, env_kwargs)
        modules = check_modules(modules)
        self.num_envs = num_envs
        self.env_id = env_id
        self.workers = 1
        self.envs: list[Any] = []
        try:
            import_modules(modules)
            for _ in range(num_envs):
                self.envs.append(_make_env(env_id, dict(env_kwargs or {})))
        except BaseException:
            self._close_envs()
            raise
        self._closed = False

    def reset(self, indices: Sequence[int], seeds: Sequence[int | None],
              options: Sequence[dict | None] | None = None) -> list[tuple[Any, dict]]:
        """Resets the envs ``indices``; see ``EnvPool.reset``."""
        idx, seeds, opts = self._reset_args(indices, seeds, options)
        envs = self.envs
        return [envs[i].reset(seed=s, options=o) for i, s, o in zip(idx, seeds, opts, strict=True)]

    def step(self, indices: Sequence[int], actions: Sequence[Any]) -> list[StepResult]:
        """Steps the envs ``indices``; see ``EnvPool.step``."""
        idx = self._indices(indices)
        self._same_length("actions", actions, idx)
        envs = self.envs
        return [envs[i].step(a) for i, a in zip(idx, actions, strict=True)]

    def call(self, index: int, method: str, *args: Any, **kwargs: Any) -> Any:
        """Calls ``env.method(*args, **kwargs)`` on env ``index``; see ``EnvPool.call``."""
        (i,) = self._indices([index])
        return _call_env(self.envs[i], method, args, kwargs)

    def _close_envs(self) -> None:
        for env in getattr(self, "envs", []):
            try:
                env.close()
            except Exception:
                pass
        self.envs = []

    def close(self) -> None:
        """Closes every env (idempotent)."""
        self._closed = True
        self._close_envs()


class _ShardedPool(_PoolBase):
    """Routing of env ``i`` to worker ``i % workers`` and the batched reset/step/call of sharded pools.

    Attributes:
        workers: Number of worker processes or actors.
        shards: ``shards[w]`` lists the env indices of worker ``w`` (``w, w + workers, ...``).
        pids: Process id of each worker (of each actor's process for Ray; on its own node).
    """

    workers: int
    shards: list[list[int]]
    pids: list[int]

    def _setup_shards(self, num_envs: int, workers: int) -> None:
        self.num_envs = num_envs
        self.workers = min(workers, num_envs)
        self.shards = [list(range(w, num_envs, self.workers)) for w in range(self.workers)]

    def reset(self, indices: Sequence[int], seeds: Sequence[int | None],
              options: Sequence[dict | None] | None = None) -> list[tuple[Any, dict]]:
        """Resets the envs ``indices``; see ``EnvPool.reset``."""
        idx, seeds, opts = self._reset_args(indices, seeds, options)
        return self._scatter("reset", idx, seeds, opts)

    def step(self, indices: Sequence[int], actions: Sequence[Any]) -> list[StepResult]:
        """Steps the envs ``indices``; see ``EnvPool.step``."""
        idx = self._indices(indices)
        self._same_length("actions", actions, idx)
        return self._scatter("step", idx, list(actions))

    def call(self, index: int, method: str, *args: Any, **kwargs: Any) -> Any:
        """Calls ``env.method(*args, **kwargs)`` on env ``index``; see ``EnvPool.call``."""
        (i,) = self._indices([index])
        w = i % self.workers
        (envelope,) = self._exchange({w: ("call", (i, method, args, kwargs))})
        return self._unwrap([envelope])[0]

    def _scatter(self, cmd: str, idx: list[int], *columns: list[Any]) -> list[Any]:
        if not idx:
            return []
        nw = self.workers
        parts: dict[int, tuple[list[int], list[int], list[list[Any]]]] = {}
        for pos, i in enumerate(idx):
            part = parts.get(i % nw)
            if part is None:
                part = parts[i % nw] = ([], [], [[] for _ in columns])
            part[0].append(pos)
            part[1].append(i)
            for col, values in zip(part[2], columns, strict=True):
                col.append(values[pos])
        workers = list(parts)
        envelopes = self._exchange({w: (cmd, (parts[w][1], *parts[w][2])) for w in workers})
        replies = self._unwrap(envelopes)
        out: list[Any] = [None] * len(idx)
        for w, results in zip(workers, replies, strict=True):
            for pos, result in zip(parts[w][0], results, strict=True):
                out[pos] = result
        return out

    @staticmethod
    def _unwrap(envelopes: list[_Envelope]) -> list[Any]:
        for ok, value in envelopes:  # every reply is in: raising now leaves no worker out of step
            if not ok:
                raise _unpack_error(value)
        return [value for _, value in envelopes]

    def _exchange(self, messages: dict[int, tuple[str, Any]]) -> list[_Envelope]:
        """Sends ``messages[w]`` to worker ``w`` and returns the replies in the same order."""
        raise NotImplementedError


class SubprocessPool(_ShardedPool):
    """The envs in ``workers`` worker processes; env ``i`` lives in worker ``i % workers``.

    Workers are started with the ``forkserver`` (default where available) or ``spawn`` method, never
    ``fork``: the parent may run torch threads, which do not survive a fork. As with any such start
    method, a script that builds a pool needs the ``if __name__ == "__main__":`` guard.

    Args:
        env_id: A registered env id.
        num_envs: How many envs.
        workers: How many processes (capped at ``num_envs``).
        env_kwargs: Keyword arguments of ``make(env_id, ...)`` (pickled to the workers).
        start_method: ``"forkserver"`` or ``"spawn"``; None picks forkserver where the platform has it.
        timeout: Seconds to wait for the replies of one call (None: no limit; a dead worker is still
            detected at once).
        start_timeout: Seconds to wait for the workers to start and build their envs.
        modules: Modules every worker imports before it builds its envs (``import_modules``). Workers start
            with this process's ``sys.path`` (multiprocessing passes it on), so a module importable here is
            importable there.

    Raises:
        ConfigError: Bad arguments, or (raised from a worker) an unknown env id, a bad env kwarg or a module
            that does not import; any other error of the env constructor is raised with its own type.
        WorkerError: A worker died or did not answer in time (the pool is then closed).
    """

    def __init__(self, env_id: str, num_envs: int, workers: int = 2, env_kwargs: dict[str, Any] | None = None,
                 *, start_method: str | None = None, timeout: float | None = None,
                 start_timeout: float | None = 120.0, modules: Sequence[str] = ()):
        _check_env_args(env_id, num_envs, workers, env_kwargs)
        modules = check_modules(modules)
        _check_timeout("timeout", timeout)
        _check_timeout("start_timeout", start_timeout)
        if start_method is None:
            start_method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        if start_method not in START_METHODS:
            raise ConfigError("start_method", "'forkserver' or 'spawn' (fork is unsafe with threads)",
                              start_method, START_METHODS)
        self._setup_shards(num_envs, workers)
        self.env_id = env_id
        self.timeout = timeout
        self.start_method = start_method
        self._procs: list[Any] = []
        self._conns: list[Any] = []
        self._closed = False
        ctx = mp.get_context(start_method)
        try:
            for w, shard in enumerate(self.shards):
                parent, child = ctx.Pipe(duplex=True)
                where = f"env pool worker {w} (envs {shard})"
                args = (child, env_id, shard, dict(env_kwargs or {}), where, modules)
                proc = ctx.Process(target=_worker_main, args=args, name=f"turngym-envpool-{w}", daemon=True)
                proc.start()
                child.close()  # the worker's copy keeps it open; ours must go so its death reads as EOF
                self._procs.append(proc)
                self._conns.append(parent)
            envelopes = self._exchange({w: ("ready", None) for w in range(self.workers)}, start_timeout)
            self.pids = self._unwrap(envelopes)
        except BaseException:
            self.close()
            raise

    def _fail(self, message: str, hung: Sequence[int] = ()) -> WorkerError:
        for w in hung:  # they would not answer a polite close either
            self._procs[w].kill()
        self.close()
        return WorkerError(message + "; the pool is closed")

    def _describe_death(self, w: int) -> str:
        proc = self._procs[w]
        proc.join(timeout=1.0)
        code = proc.exitcode
        if code is not None and code < 0:
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        return f"env pool worker {w} (pid {proc.pid}, envs {self.shards[w]}) {how}"

    def _exchange(self, messages: dict[int, tuple[str, Any]],
                  timeout: float | None = None) -> list[_Envelope]:
        self._check_open()
        # Pickle every message before sending any: an unpicklable action then fails with no reply pending.
        blobs = {w: pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL) for w, msg in messages.items()}
        conns = self._conns
        try:
            for w, blob in blobs.items():
                try:
                    conns[w].send_bytes(blob)
                except OSError:
                    raise self._fail(self._describe_death(w)) from None
            replies = self._gather(list(messages), self.timeout if timeout is None else timeout)
        except WorkerError:
            raise
        except BaseException:  # e.g. KeyboardInterrupt: replies may be in flight, the pipes are out of step
            self.close()
            raise
        return [pickle.loads(replies[w]) for w in messages]

    def _gather(self, workers: list[int], limit: float | None) -> dict[int, bytes]:
        conns, procs = self._conns, self._procs
        deadline = None if limit is None else time.monotonic() + limit
        by_conn = {conns[w]: w for w in workers}
        by_sentinel = {procs[w].sentinel: w for w in workers}
        pending = set(workers)
        replies: dict[int, bytes] = {}
        while pending:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = wait_ready([conns[w] for w in pending] + [procs[w].sentinel for w in pending], left)
            if not ready:
                late = sorted(pending)
                raise self._fail(f"env pool workers {late} did not answer within {limit} s", late)
            for obj in ready:
                dead = isinstance(obj, int)
                w = by_sentinel[obj] if dead else by_conn[obj]
                if w not in pending:
                    continue
                try:
                    if dead and not conns[w].poll():  # exited with nothing left in the pipe
                        raise EOFError
                    replies[w] = conns[w].recv_bytes()
                except (EOFError, OSError):
                    raise self._fail(self._describe_death(w)) from None
                pending.discard(w)
        return replies

    def close(self) -> None:
        """Stops the workers (closing their envs) and releases the pipes; idempotent."""
        if self._closed and not getattr(self, "_procs", None):
            return
        self._closed = True
        procs, conns = getattr(self, "_procs", []), getattr(self, "_conns", [])
        self._procs, self._conns = [], []
        for proc, conn in zip(procs, conns, strict=True):
            if proc.is_alive():
                try:
                    conn.send_bytes(pickle.dumps(("close", None)))
                except Exception:
                    pass
        deadline = time.monotonic() + EXIT_GRACE_S  # they close their envs and run their exit hooks
        for proc in procs:
            proc.join(timeout=max(0.0, deadline - time.monotonic()))
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=1.0)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=1.0)
        for conn in conns:
            conn.close()
        for proc in procs:
            try:
                proc.close()
            except ValueError:  # still running after kill: leave it to the OS
                pass


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ImportError("RayPool needs ray: pip install turngym[dist]") from exc
    return ray


class RayPool(_ShardedPool):
    """The envs in ``workers`` Ray actors; env ``i`` lives in actor ``i % workers``.

    Ray is started locally (``num_cpus`` CPUs, no dashboard) unless it is already initialized, or joins
    the cluster at ``address``. ``close()`` closes the envs and ends the pool's actors (``_shutdown``); it
    leaves Ray running.

    Args:
        env_id: A registered env id (turngym must be importable on the cluster's nodes).
        num_envs: How many envs.
        workers: How many actors (capped at ``num_envs``).
        env_kwargs: Keyword arguments of ``make(env_id, ...)``.
        address: Address of an existing Ray cluster (``"auto"``, ``"ray://host:10001"``); None starts a
            local instance if Ray is not initialized yet.
        num_cpus: CPUs of a local instance started here (default: all of this machine's).
        timeout: Seconds to wait for the replies of one call (None: no limit).
        start_timeout: Seconds to wait for the actors to start and build their envs.
        actor_options: Extra ``.options(...)`` of the actors (``num_cpus``, ``resources``, ...).
        modules: Modules every actor imports before it builds its envs (``import_modules``). They must be
            importable on the cluster's nodes: installed, or on ``PYTHONPATH`` when the cluster started (or
            shipped with ``actor_options={"runtime_env": ...}``).

    Raises:
        ImportError: Ray is not installed.
        ConfigError: Bad arguments, or (raised from an actor) an unknown env id, a bad env kwarg or a module
            that does not import.
        WorkerError: An actor died or did not answer in time (the pool is then closed).
    """

    def __init__(self, env_id: str, num_envs: int, workers: int = 2, env_kwargs: dict[str, Any] | None = None,
                 *, address: str | None = None, num_cpus: int | None = None, timeout: float | None = None,
                 start_timeout: float | None = 300.0, actor_options: dict[str, Any] | None = None,
                 modules: Sequence[str] = ()):
        _check_env_args(env_id, num_envs, workers, env_kwargs)
        modules = check_modules(modules)
        _check_timeout("timeout", timeout)
        _check_timeout("start_timeout", start_timeout)
        ray = _import_ray()
        self._ray = ray
        self._actors: list[Any] = []
        self._setup_shards(num_envs, workers)
        self.env_id = env_id
        self.timeout = timeout
        if not ray.is_initialized():
            if address is not None:
                ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
            else:
                ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False,
                         ignore_reinit_error=True, log_to_driver=False)
        self._closed = False
        try:
            actor_cls = ray.remote(_Shard).options(**(actor_options or {}))
            self._actors = [
                actor_cls.remote(env_id, shard, dict(env_kwargs or {}), f"env pool actor {w} (envs {shard})", modules)
                for w, shard in enumerate(self.shards)
            ]
            envelopes = self._exchange({w: ("ready", None) for w in range(self.workers)}, start_timeout)
            self.pids = self._unwrap(envelopes)
            self._where = ray.get([a.identity.remote() for a in self._actors], timeout=start_timeout)
        except BaseException:
            self.close()
            raise

    def _exchange(self, messages: dict[int, tuple[str, Any]],
                  timeout: float | None = None) -> list[_Envelope]:
        self._check_open()
        ray = self._ray
        refs = [self._actors[w].handle_pickled.remote(cmd, payload) for w, (cmd, payload) in messages.items()]
        limit = self.timeout if timeout is None else timeout
        try:
            blobs = ray.get(refs, timeout=limit)
        except ray.exceptions.GetTimeoutError:
            self._shutdown(grace_s=2.0)  # a hung actor would not exit gracefully: do not wait long for it
            raise WorkerError(f"env pool actors did not answer within {limit} s; pool closed") from None
        except ray.exceptions.RayActorError as exc:
            self._shutdown(grace_s=2.0)
            raise WorkerError(f"an env pool actor died ({type(exc).__name__}: {exc}); pool closed") from None
        return [pickle.loads(b) for b in blobs]

    def close(self) -> None:
        """Ends the pool's actors (their envs closed first); idempotent. Ray itself keeps running."""
        self._shutdown(EXIT_GRACE_S)

    def _shutdown(self, grace_s: float) -> None:
        """Each actor closes its envs and exits (running its ``atexit`` handlers); stragglers are killed.

        ``ray.kill`` alone skips the exit hooks that release an env's process-wide resources (the SWE env's warm
        sandboxes, see ``_run_exit_hooks``), so the actors leave through ``__ray_terminate__`` (Ray's graceful
        ``exit_actor``) first. Ray answers that call before the process has run its hooks, so the actors of this
        host are awaited until their processes are gone; only those left after ``grace_s`` seconds are killed.
        """
        self._closed = True
        actors, self._actors = getattr(self, "_actors", []), []
        ray = getattr(self, "_ray", None)
        if ray is None or not actors:
            return
        shutdown_ray_actors(ray, actors, getattr(self, "_where", []), grace_s)


def shutdown_ray_actors(ray: Any, actors: Sequence[Any], where: Sequence[tuple[str, int, str]],
                        grace_s: float) -> None:
    """Ends Ray actors gracefully: ``close``, Ray's ``exit_actor``, a wait for this host's processes, then a kill.

    ``ray.kill`` alone skips the exit hooks that release process-wide resources (``_run_exit_hooks``), so the
    actors leave through ``__ray_terminate__`` first. Ray answers that call before the process has run its
    hooks, so the actors on this host (``where``: their ``(host, pid, start ticks)``) are awaited until their
    processes are gone; only those left after ``grace_s`` seconds are killed. Shared by ``RayPool`` and the
    leaderboard's Ray workers.
    """
    deadline = time.monotonic() + grace_s
    try:
        for actor in actors:
            actor.close.remote()  # actor tasks run in order: the envs close before the exit below
        exits = [actor.__ray_terminate__.remote() for actor in actors]
        ray.wait(exits, num_returns=len(exits), timeout=grace_s)
    except Exception:
        pass
    here = socket.gethostname()
    local = [(pid, start) for host, pid, start in where if host == here and start]
    while time.monotonic() < deadline and any(_start_ticks(pid) == start for pid, start in local):
        time.sleep(0.01)
    for actor in actors:
        try:
            ray.kill(actor)
        except Exception:
            pass


def make_pool(env_id: str, num_envs: int, *, executor: str = "inprocess", workers: int = 2,
              env_kwargs: dict | None = None, address: str | None = None, modules: Sequence[str] = ()) -> EnvPool:
    """Builds ``num_envs`` envs of ``env_id`` on the chosen executor.

    Args:
        env_id: A registered env id (``turngym/ToolQA-v0``), or one that ``modules`` register.
        num_envs: How many envs (>= 1).
        executor: ``inprocess`` (default), ``subprocess`` or ``ray``.
        workers: Worker processes or Ray actors (>= 1, capped at ``num_envs``); ignored in-process.
        env_kwargs: Keyword arguments of ``make(env_id, ...)``.
        address: Ray cluster to join (``executor="ray"`` only).
        modules: Modules that register the user's envs (``"mypkg.envs"``, or ``"mypkg.envs:register"`` to also
            call ``register()``); imported here and in every worker before envs are made.

    Returns:
        The pool; use it as a context manager or ``close()`` it.

    Raises:
        ConfigError: Bad arguments (with the nearest executor name for a misspelt one), an unknown env
            id, a bad env keyword argument, or a module that does not import (named in the message).
    """
    if executor not in EXECUTORS:
        raise ConfigError("executor", "one of " + ", ".join(EXECUTORS), executor, EXECUTORS)
    _check_env_args(env_id, num_envs, workers, env_kwargs)
    if address is not None and executor != "ray":
        raise ConfigError("address", "None unless executor='ray'", address)
    workers = min(workers, num_envs)
    modules = check_modules(modules)
    if executor == "inprocess":
        return InProcessPool(env_id, num_envs, env_kwargs, modules=modules)
    if executor == "subprocess":
        return SubprocessPool(env_id, num_envs, workers, env_kwargs, modules=modules)
    return RayPool(env_id, num_envs, workers, env_kwargs, address=address, modules=modules)
