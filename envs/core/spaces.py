"""Spaces for text environments.

Gymnasium's own ``Text`` space only accepts a fixed character set (letters and digits), so it rejects
spaces, punctuation and code, which every model output contains. ``Text`` here accepts any ``str`` up to
``max_length`` characters.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np

_PRINTABLE = string.printable


class Text(gymnasium.spaces.Text):
    """Any string of at most ``max_length`` characters.

    Args:
        max_length: The longest accepted string.
        examples: Strings that ``sample`` draws most of the time (for example the action words of a
            game), so that random play exercises the dynamics rather than only the error path.
        example_prob: Probability that ``sample`` returns one of ``examples``.
        seed: Seed of the space's own RNG.
    """

    def __init__(
        self,
        max_length: int,
        *,
        examples: Sequence[str] = (),
        example_prob: float = 0.9,
        seed: int | np.random.Generator | None = None,
    ):
        super().__init__(max_length=max_length, min_length=0, charset=_PRINTABLE, seed=seed)
        self.examples = tuple(examples)
        self.example_prob = float(example_prob)

    def contains(self, x: Any) -> bool:
        """True for every ``str`` no longer than ``max_length``."""
        return isinstance(x, str) and len(x) <= self.max_length

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        """Returns one of ``examples`` with ``example_prob``, else a random printable string."""
        if mask is None and probability is None and self.examples:
            if self.np_random.random() < self.example_prob:
                return self.examples[int(self.np_random.integers(len(self.examples)))]
        length = int(self.np_random.integers(0, min(self.max_length, 64) + 1))
        idx = self.np_random.integers(0, len(_PRINTABLE), size=length)
        return "".join(_PRINTABLE[i] for i in idx)

    def __repr__(self) -> str:
        return f"Text(max_length={self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Text) and other.max_length == self.max_length

    def __hash__(self) -> int:
        return hash(("turngym.Text", self.max_length))


def truncate(text: str, max_length: int, marker: str = "\n[... truncated ...]\n") -> str:
    """Cuts ``text`` to ``max_length`` characters, keeping its head and tail around a marker."""
    if len(text) <= max_length:
        return text
    if max_length <= len(marker):
        return text[:max_length]
    keep = max_length - len(marker)
    head = keep // 2
    return text[:head] + marker + text[len(text) - (keep - head) :]
