"""Typed errors for bad configuration.

Bad *input* (an action string) never raises: it yields ``action_valid=False``. Bad *configuration*
(unknown env id, wrong keyword argument, malformed snapshot) raises one of these at construction, with a
message that says what was expected, what arrived, and the nearest valid choice.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class TurnGymError(Exception):
    """Base class of every error turngym raises on purpose."""


class ConfigError(TurnGymError, ValueError):
    """A constructor argument or option is invalid.

    Args:
        what: The name of the argument or setting.
        expected: A description of what is accepted.
        got: The value that arrived.
        choices: Valid choices, used to suggest the nearest one.
    """

    def __init__(self, what: str, expected: str, got: object, choices: Iterable[str] | None = None):
        self.what = what
        self.expected = expected
        self.got = got
        self.suggestion = nearest(str(got), choices) if choices is not None else None
        msg = f"{what}: expected {expected}, got {got!r}"
        if self.suggestion is not None:
            msg += f". Did you mean {self.suggestion!r}?"
        super().__init__(msg)


class UnknownEnvError(ConfigError, KeyError):
    """An environment id is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return self.args[0]


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
