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

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

_TAG = re.compile(r"<(action|answer)>(.*?)</\1>", re.IGNORECASE | re.DOTALL)
_BRACKET = re.compile(r"^\[([^\[\]]{1,64})\]$")
_STRIP = " \t\r\n\"'`*.!"

#: Longest action string an env even looks at; longer input is rejected without scanning it all.
MAX_ACTION_CHARS = 65_536


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


def extract_word(text: object, max_chars: int = MAX_ACTION_CHARS) -> Parsed:
    """Extracts the candidate action word from raw model output (rules in the module docstring)."""
    if not isinstance(text, str):
        return Parsed(None, f"expected the action as text (str), got {type(text).__name__}")
    if len(text) > max_chars:
        return Parsed(None, f"action is {len(text):,} characters long; the limit is {max_chars:,}")
    body = text
    tags = _TAG.findall(body) if "<" in body else []
    if tags:
        body = tags[-1][1]
    body = body.strip(_STRIP)
    m = _BRACKET.match(body)
    if m:
        body = m.group(1).strip(_STRIP)
    if not body:
        return Parsed(None, "empty action" if not text.strip() else f"no action found in {describe(text)}")
    if len(body) > 64 or "\n" in body:
        return Parsed(None, f"expected a single action word, got {describe(text)}")
    return Parsed(body.lower())


def resolve_word(word: str, vocabulary: Mapping[str, int]) -> int | None:
    """Maps a normalized word to an action id through ``vocabulary`` (canonical names and aliases)."""
    return vocabulary.get(" ".join(word.split()))


def parse_action(action: object, vocabulary: Mapping[str, int], num_actions: int) -> tuple[int | None, str | None]:
    """Turns an action (word or id) into an action id; legality is the caller's check.

    Strings go through ``extract_word``/``resolve_word`` (in both modes); Python and numpy ints are
    accepted as ids (``bool`` is not); anything else is an error.

    Returns:
        (action id, None), or (None, a short error message).
    """
    if type(action) is int:
        aid = action
    elif isinstance(action, str):
        parsed = extract_word(action)
        if parsed.word is None:
            return None, parsed.error
        aid = resolve_word(parsed.word, vocabulary)
        if aid is None:
            return None, f"unknown action {describe(parsed.word)}"
        return aid, None
    elif isinstance(action, (int, np.integer)) and not isinstance(action, bool):
        aid = int(action)
    else:
        return None, f"expected an action word (str) or an action id (int), got {type(action).__name__}"
    if not 0 <= aid < num_actions:
        return None, f"action id {aid} is out of range 0..{num_actions - 1}"
    return aid, None
