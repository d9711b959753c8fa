"""Text observations in Gymnasium's vector envs: a code-point encoding of any ``str`` and a live reader.

Gymnasium stores a ``Text`` observation as indices into the space's character set. ``turngym``'s ``Text``
accepts any string (card suits, ``≈``, ``…``, model output with lone surrogates), so no finite set fits;
and ``gymnasium.vector.AsyncVectorEnv`` with shared memory calls ``read_from_shared_memory`` once, at
construction, and then returns that object after every step. For a ``Box`` that object is a numpy view
of the buffer; for gymnasium's ``Text`` it is a tuple of strings decoded at construction, so every later
step would return the same stale strings.

This module gives ``turngym.envs.core.spaces.Text`` (which registers these functions with Gymnasium's
``singledispatch`` hooks) an encoding that round-trips any ``str``:

- ``flatten``: one int32 per character, the Unicode code point (``ord``, lone surrogates included), then
  ``END`` (one past the largest code point, so it cannot be a character) when the string is shorter
  than ``max_length``;
- shared memory: one such row per sub-env; the worker writes only the characters and the end mark;
- ``SharedTexts``: what ``read_from_shared_memory`` returns, a sequence that decodes the buffer when it
  is read, the way a numpy view does. ``AsyncVectorEnv(copy=True)`` (the default) deep-copies it after
  every step, which yields a plain ``tuple[str, ...]``, the type ``SyncVectorEnv`` returns.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any, overload

import gymnasium
import numpy as np

#: One past the largest Unicode code point (U+10FFFF): marks the end of a string shorter than the row.
END = 0x110000
#: Code points are stored as little-endian 32-bit ints, so the bytes of a row are UTF-32-LE text.
_DTYPE = np.dtype("<i4")
_CODEC = "utf-32-le"
#: Encodes and decodes surrogate code points (U+D800-U+DFFF) as themselves: a ``str`` may hold them
#: (``"\ud800"``, or bytes decoded with ``surrogateescape``), and they must round-trip, not raise.
_ERRORS = "surrogatepass"


def code_points(text: str, max_length: int) -> np.ndarray:
    """The code points of ``text`` as an int32 array.

    Raises:
        TypeError: ``text`` is not a ``str``.
        ValueError: ``text`` is longer than ``max_length`` (the env broke its ``Text`` space's contract).
    """
    if not isinstance(text, str):
        raise TypeError(f"a Text observation must be a str, got {type(text).__name__}")
    if len(text) > max_length:
        raise ValueError(f"a Text observation of {len(text):,} characters does not fit max_length={max_length:,}")
    return np.frombuffer(text.encode(_CODEC, _ERRORS), dtype=_DTYPE)


def from_code_points(row: np.ndarray) -> str:
    """Decodes one row (code points, optionally followed by ``END`` and anything after it)."""
    row = np.asarray(row)
    if row.size:
        # Code points are below END, so the first maximum is the end mark whenever there is one.
        first_max = int(row.argmax())
        if row[first_max] >= END:
            row = row[:first_max]
    return row.astype(_DTYPE, copy=False).tobytes().decode(_CODEC, _ERRORS)


def flatten_text(space: gymnasium.spaces.Text, text: str) -> np.ndarray:
    """``gymnasium.spaces.utils.flatten`` for a ``Text`` of any characters: code points, then ``END``."""
    points = code_points(text, space.max_length)
    out = np.full(space.max_length, END, dtype=np.int32)
    out[: len(points)] = points
    return out


def unflatten_text(space: gymnasium.spaces.Text, x: np.ndarray) -> str:
    """Inverse of ``flatten_text``."""
    return from_code_points(x)


def flatten_text_space(space: gymnasium.spaces.Text) -> gymnasium.spaces.Box:
    """The ``Box`` of ``flatten_text`` rows: ``max_length`` ints in ``[0, END]``."""
    return gymnasium.spaces.Box(low=0, high=END, shape=(space.max_length,), dtype=np.int32)


def create_text_shared_memory(space: gymnasium.spaces.Text, n: int = 1, ctx: ModuleType = mp) -> Any:
    """Shared buffer of ``n`` rows of ``max_length`` int32 code points (``create_shared_memory``)."""
    # An empty row reads as "" (not max_length NUL characters) until the first write.
    buffer = ctx.Array(np.dtype(np.int32).char, n * space.max_length)
    np.frombuffer(buffer.get_obj(), dtype=_DTYPE)[:: max(space.max_length, 1)] = END
    return buffer


def write_text_to_shared_memory(space: gymnasium.spaces.Text, index: int, value: str, shared_memory: Any) -> None:
    """Writes ``value`` into row ``index`` (``write_to_shared_memory``; called in the worker process).

    Only the characters and the end mark are written: the reader stops at the mark, so the rest of the
    row may keep an older, longer observation.
    """
    size = space.max_length
    points = code_points(value, size)
    row = np.frombuffer(shared_memory.get_obj(), dtype=_DTYPE)[index * size : (index + 1) * size]
    row[: len(points)] = points
    if len(points) < size:
        row[len(points)] = END


def read_text_from_shared_memory(space: gymnasium.spaces.Text, shared_memory: Any, n: int = 1) -> SharedTexts:
    """A live ``SharedTexts`` view of the buffer (``read_from_shared_memory``)."""
    return SharedTexts(np.frombuffer(shared_memory.get_obj(), dtype=_DTYPE).reshape(n, space.max_length))


class SharedTexts(Sequence[str]):
    """The strings held in a shared buffer, decoded each time they are read.

    ``AsyncVectorEnv`` keeps this object and returns it after every step, as it does a numpy view for a
    ``Box``: with ``copy=True`` (the default) a deep copy, which is a ``tuple[str, ...]`` of the current
    strings; with ``copy=False`` this view itself, whose items change when the workers write.

    Args:
        rows: ``(n, max_length)`` int32 array over the shared buffer.
    """

    __slots__ = ("_rows",)

    def __init__(self, rows: np.ndarray):
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...

    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        if isinstance(index, slice):
            return tuple(from_code_points(row) for row in self._rows[index])
        return from_code_points(self._rows[index])

    def __iter__(self) -> Iterator[str]:
        return (from_code_points(row) for row in self._rows)

    def snapshot(self) -> tuple[str, ...]:
        """The strings now, as a plain tuple (what ``SyncVectorEnv`` returns)."""
        return tuple(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> tuple[str, ...]:
        return self.snapshot()

    def __copy__(self) -> tuple[str, ...]:
        return self.snapshot()

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickles (e.g. to send observations to another process) as the strings, not the buffer.
        return tuple, (self.snapshot(),)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (SharedTexts, tuple, list)):
            return self.snapshot() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  (contents change, like a list)

    def __repr__(self) -> str:
        return f"SharedTexts({self.snapshot()!r})"
