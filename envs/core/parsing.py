"""Turning raw model output into a discrete action.

The accepted forms are deliberately few and predictable, so that a researcher knows exactly what a
model must produce:

1. the bare action word (``raise``), case, surrounding whitespace, quotes and a final period ignored;
2. the word inside the *last* ``<action>…</action>`` or ``<answer>…</answer>`` tag, so a model may
   think out loud first;
3. the word inside square brackets (``[raise]``), the TextArena convention.

Free text that merely *mentions* an action ("I will not raise") is not accepted: guessing would hide
format errors from the reward signal.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

_TAG = re.compile(r"<(action|answer)>(.*?)</\1>", re.IGNORECASE | re.DOTALL)
_STRIP = " \t\r\n\"'`*.!"
#: Longest word inside ``[...]`` (TextArena's convention) and longest accepted action word.
_MAX_WORD = 64

#: Longest action string an env even looks at; longer input is rejected without scanning it all.
MAX_ACTION_CHARS = 65_536

#: Strings up to this length have their normalization memoized (see ``_normalized``).
_MEMO_CHARS = 128

#: Numpy dtype kinds accepted as action ids: signed and unsigned integers. Bool (``b``), float, complex
#: and object arrays are not ids, as in ``gymnasium.spaces.Discrete.contains``.
_INT_KINDS = ("i", "u")


@dataclass(frozen=True)
class Parsed:
    """Result of parsing one action string.

    Attributes:
        word: The normalized action word, or None when parsing failed.
        error: A short, specific message when parsing failed.
    """

    word: str | None
    error: str | None = None


def describe(text: object, limit: int = 40) -> str:
    """Short, printable preview of an action for error messages."""
    if not isinstance(text, str):
        return f"<{type(text).__name__}>"
    s = text.encode("unicode_escape", "backslashreplace").decode("ascii", "replace")
    return repr(s[:limit] + ("…" if len(s) > limit else ""))


def _word_of(text: str, max_chars: int) -> tuple[str | None, str | None]:
    """``extract_word`` without the ``Parsed`` wrapper: (word, None) or (None, error).

    The bracket form (a ``[`` and a ``]`` around 1 to 64 characters that hold no other bracket) is
    matched with string operations, not a regular expression: this runs on every text-mode step.
    """
    if len(text) > max_chars:
        return None, f"action is {len(text):,} characters long; the limit is {max_chars:,}"
    body = text
    if "<" in body:
        tags = _TAG.findall(body)
        if tags:
            body = tags[-1][1]
    body = body.strip(_STRIP)
    if body[:1] == "[" and body[-1:] == "]":
        inner = body[1:-1]
        if 0 < len(inner) <= _MAX_WORD and "[" not in inner and "]" not in inner:
            body = inner.strip(_STRIP)
    if not body:
        return None, "empty action" if not text.strip() else f"no action found in {describe(text)}"
    if len(body) > _MAX_WORD or "\n" in body:
        return None, f"expected a single action word, got {describe(text)}"
    return body.lower(), None


def extract_word(text: object, max_chars: int = MAX_ACTION_CHARS) -> Parsed:
    """Extracts the candidate action word from raw model output (rules in the module docstring)."""
    if not isinstance(text, str):
        return Parsed(None, f"expected the action as text (str), got {type(text).__name__}")
    return Parsed(*_word_of(text, max_chars))


def vocabulary_key(word: str) -> str:
    """The key a normalized word is looked up by: runs of whitespace inside it count as one space."""
    return " ".join(word.split())


def resolve_word(word: str, vocabulary: Mapping[str, int]) -> int | None:
    """Maps a normalized word to an action id through ``vocabulary`` (canonical names and aliases)."""
    return vocabulary.get(vocabulary_key(word))


def _normalize(text: str) -> tuple[str | None, str | None, str | None]:
    """(word, vocabulary key, None), or (None, None, error): ``extract_word`` plus ``vocabulary_key``."""
    word, error = _word_of(text, MAX_ACTION_CHARS)
    if word is None:
        return None, None, error
    return word, vocabulary_key(word), None


@functools.lru_cache(maxsize=4096)
def _normalized(text: str) -> tuple[str | None, str | None, str | None]:
    """``_normalize`` memoized for short strings.

    Agents repeat a handful of short strings (``[check]``, ``<action>bet</action>``) all episode long, and
    normalizing one costs more than the rest of its lookup. The cache holds results of a pure function of
    the string alone (never of an env or vocabulary), so it cannot change what an action means; it is
    bounded in entries and, through ``_MEMO_CHARS``, in the size of each key.
    """
    return _normalize(text)


def _kind(action: object) -> str:
    """What arrived, for the error message (arrays with their shape and dtype)."""
    if isinstance(action, np.ndarray):
        return f"ndarray of shape {action.shape} and dtype {action.dtype}"
    return type(action).__name__


def parse_action(action: object, vocabulary: Mapping[str, int], num_actions: int) -> tuple[int | None, str | None]:
    """Turns an action (word or id) into an action id; legality is the caller's check.

    Strings go through ``extract_word``/``resolve_word`` (in both modes). Ids are accepted in the forms
    ``gymnasium.spaces.Discrete.contains`` accepts, so ``model.predict`` output (a 0-d array) and
    ``action_space.sample()`` output can be passed as they are: Python ints, numpy integer scalars, 0-d
    integer arrays (``np.array(1)``); also integer arrays of one element (``np.array([1])``, a batch of
    one). Not ids: floats, arrays of another dtype or of several elements, and ``bool``/``np.bool_``,
    which ``Discrete.contains`` lets through as an ``int`` subclass but which is not an action id here
    (a mask entry or a flag passed by mistake should be reported, not played as action 1).

    Returns:
        (action id, None), or (None, a short error message).
    """
    if type(action) is int:
        aid = action
    elif isinstance(action, str):
        memo = type(action) is str and len(action) <= _MEMO_CHARS
        word, key, error = _normalized(action) if memo else _normalize(action)
        if key is None:
            return None, error
        aid = vocabulary.get(key)
        if aid is None:
            return None, f"unknown action {describe(word)}"
        return aid, None
    elif isinstance(action, np.integer) or (isinstance(action, int) and not isinstance(action, bool)):
        aid = int(action)
    elif isinstance(action, np.ndarray) and action.size == 1 and action.dtype.kind in _INT_KINDS:
        aid = int(action.item())
    else:
        return None, (f"expected an action word (str) or an action id (an int, or an integer array of one "
                      f"element), got {_kind(action)}")
    if not 0 <= aid < num_actions:
        return None, f"action id {aid} is out of range 0..{num_actions - 1}"
    return aid, None
