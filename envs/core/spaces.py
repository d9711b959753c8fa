"""Spaces for text environments.

Gymnasium's own ``Text`` space only accepts a fixed character set (letters and digits), so it rejects
spaces, punctuation and code, which every model output contains. ``Text`` here accepts any ``str`` up to
``max_length`` characters, and Gymnasium's flattening and shared-memory hooks encode it as Unicode code
points (``turngym.envs.core.vector``), so ``AsyncVectorEnv`` and ``FlattenObservation`` carry any
observation, not only the characters of a declared set.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium.spaces.utils import flatten, flatten_space, unflatten
from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory

from turngym.envs.core import vector

_PRINTABLE = string.printable


class Text(gymnasium.spaces.Text):
    """Any string of at most ``max_length`` characters.

    The ``charset`` inherited from Gymnasium's ``Text`` is printable ASCII; it is only what ``sample``
    draws random strings from. Membership, flattening and vector envs accept every character.

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


# Gymnasium dispatches these on the space's class; registering them for this subclass replaces the
# character-set encoding of ``gymnasium.spaces.Text`` (which raises KeyError on any character outside
# the declared set, e.g. "♥") with code points, and makes AsyncVectorEnv's shared-memory reader live
# (see ``turngym.envs.core.vector``). Registration happens on import of this module, i.e. wherever a
# ``Text`` exists, including AsyncVectorEnv workers started with "spawn" or "forkserver".
flatten.register(Text)(vector.flatten_text)
unflatten.register(Text)(vector.unflatten_text)
flatten_space.register(Text)(vector.flatten_text_space)
create_shared_memory.register(Text)(vector.create_text_shared_memory)
read_from_shared_memory.register(Text)(vector.read_text_from_shared_memory)
write_to_shared_memory.register(Text)(vector.write_text_to_shared_memory)
