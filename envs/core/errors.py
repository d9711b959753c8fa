"""Typed errors for bad configuration.

Bad *input* (an action string) never raises: it yields ``action_valid=False``. Bad *configuration*
(unknown env id, wrong keyword argument, malformed snapshot) raises one of these at construction, with a
message that says what was expected, what arrived, and the nearest valid choice.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any

#: Where a user finds every registered id; error hints about ids name it.
LIST_HINT = "Run `turngym list` (or turngym.envs.list_envs()) to see every registered id and its forms."


class TurnGymError(Exception):
    """Base class of every error turngym raises on purpose."""


class ConfigError(TurnGymError, ValueError):
    """A constructor argument or option is invalid.

    Args:
        what: The name of the argument or setting.
        expected: A description of what is accepted.
        got: The value that arrived.
        choices: Valid choices, used to suggest the nearest one.
        suggestion: The nearest valid choice when the caller knows it better than a string distance
            (overrides ``choices``).
        hint: One or more sentences for the reader (what to run, what to install), ending with a period.
    """

    def __init__(self, what: str, expected: str, got: object, choices: Iterable[str] | None = None, *,
                 suggestion: str | None = None, hint: str | None = None):
        self.what = what
        self.expected = expected
        self.got = got
        if suggestion is None and choices is not None:
            suggestion = nearest(str(got), choices)
        self.suggestion = suggestion
        self.hint = hint
        msg = f"{what}: expected {expected}, got {got!r}"
        if self.suggestion is not None:
            msg += f". Did you mean {self.suggestion!r}?"
        if hint:
            msg += (" " if self.suggestion is not None else ". ") + hint
        super().__init__(msg)


class UnknownEnvError(ConfigError, KeyError):
    """An environment id is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return self.args[0]


class MissingExtraError(ConfigError, ImportError):
    """An env id (or module) needs an optional dependency that is not installed.

    Raised when the entry point of an id registered with ``EnvInfo(extra=...)`` is resolved (``gym.make``,
    ``turngym.envs.make``/``make_aec``/``make_parallel``, ``EnvInfo.load``) without its extra. It is an
    ``ImportError`` too, so code that treats optional imports with ``except ImportError`` keeps working.

    Args:
        what: What needed the dependency (an env id or a module name).
        extra: The turngym extra that provides it (``web``, ``swe``, ...).
        missing: The top-level module that could not be imported.
    """

    def __init__(self, what: str, extra: str, missing: str):
        self.extra = extra
        self.missing = missing
        super().__init__(what, f"the optional dependencies of turngym[{extra}]", f"no module named {missing!r}",
                         hint=f'Install them with: pip install "turngym[{extra}]".')


class SnapshotError(TurnGymError, ValueError):
    """``set_state`` received bytes that are not a snapshot of this environment."""


def nearest(word: str, choices: Iterable[str] | None) -> str | None:
    """Returns the choice closest to ``word`` (difflib ratio), or None when nothing is close."""
    pool = list(choices or [])
    if not pool:
        return None
    lower = {c.lower(): c for c in pool}
    hits = difflib.get_close_matches(word.lower(), list(lower), n=1, cutoff=0.5)
    return lower[hits[0]] if hits else None


def check_kwargs(ctor: Callable[..., Any], owner: str, kwargs: Iterable[str]) -> None:
    """Raises ``ConfigError`` (with the nearest valid name) for a keyword that ``ctor`` does not accept.

    Python would raise a bare ``TypeError`` at the call; configuration errors are typed (DESIGN §3, Bad
    input) and name the argument meant, so both ``turngym.envs.make`` and ``gym.make`` (through
    ``TextEnv.__new__``) check the names first.

    Args:
        ctor: A class (its ``__init__`` is inspected) or a function.
        owner: What the arguments belong to, for the message (an env id or a class name).
        kwargs: The keyword names passed.

    Raises:
        ConfigError: A name ``ctor`` does not accept (unless it takes ``**kwargs``).
    """
    accepted = _keyword_names(ctor)
    if accepted is None:
        return
    for key in kwargs:
        if key not in accepted:
            raise ConfigError(f"{owner} argument", "one of " + ", ".join(accepted), key, accepted)


@functools.lru_cache(maxsize=512)  # env constructors are called often (pools, vector envs); signatures don't change
def _keyword_names(ctor: Callable[..., Any]) -> tuple[str, ...] | None:
    """Keyword names ``ctor`` accepts, or None when it takes ``**kwargs`` (or has no signature)."""
    target = ctor.__init__ if isinstance(ctor, type) else ctor  # type: ignore[misc]
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature: let Python check
        return None
    if isinstance(ctor, type) and params:
        params = params[1:]  # self
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    ok = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(p.name for p in params if p.kind in ok)
