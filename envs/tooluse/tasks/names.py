"""Fictional names composed from syllables, unique within one task.

Names are built from onset + vowel + coda syllables, so they read like proper nouns but are (almost
surely) not real people, places or brands: a model cannot answer from memory and must use its tools.
Every generated word is unique within one ``NameGen``, so no name is a substring of another name.
"""

from __future__ import annotations

import numpy as np

ONSETS = ("b", "br", "d", "dr", "f", "g", "gr", "k", "kr", "l", "m", "n", "p", "r", "s", "st", "t", "tr",
          "v", "z", "sh", "th", "qu", "h", "j", "c", "cl", "pl")
VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ae", "ei", "ou", "ia")
CODAS = ("", "", "", "n", "r", "l", "s", "th", "m", "x", "nd", "rk", "v", "lt")
CITY_SUFFIXES = ("mont", "holm", "ford", "vale", "port", "burg", "stad", "wick", "haven", "moor")
COUNTRY_SUFFIXES = ("ia", "land", "avia", "ora", "esia")
COMPANY_SUFFIXES = ("Systems", "Labs", "Works", "Industries", "Group", "Dynamics", "Foods", "Motors", "Optics",
                    "Textiles")
PRODUCT_KINDS = ("phone", "kettle", "bicycle", "drone", "camera", "tractor", "lamp", "watch", "speaker",
                 "scooter")


class NameGen:
    """Draws unique fictional words and names from a numpy ``Generator``.

    Args:
        rng: The task's generator (the only source of randomness).
    """

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.used: set[str] = set()

    def _pick(self, options: tuple[str, ...]) -> str:
        return options[int(self.rng.integers(len(options)))]

    def word(self, syllables: int | None = None) -> str:
        """A new capitalized word of 2-3 syllables that no earlier call returned."""
        while True:
            n = syllables if syllables is not None else int(self.rng.integers(2, 4))
            # Open syllables with a closing consonant at the end read like names ("Taveron", "Quelisa").
            w = "".join(self._pick(ONSETS) + self._pick(VOWELS) for _ in range(n)) + self._pick(CODAS)
            w = w.capitalize()
            # Short words collide with real ones more often; no word may contain another (substrings).
            if len(w) < 5 or len(w) > 10 or w.lower() in self.used:
                continue
            if any(w.lower() in u or u in w.lower() for u in self.used):
                continue
            self.used.add(w.lower())
            return w

    def person(self, surname: str | None = None) -> str:
        """A full name ``First Last``; pass ``surname`` to make a relative (a search distractor)."""
        return f"{self.word(2)} {surname or self.word()}"

    def city(self) -> str:
        """A city name such as ``Brelmont``."""
        return self.word(int(self.rng.integers(1, 3))) + self._pick(CITY_SUFFIXES)

    def country(self) -> str:
        """A country name such as ``Ostravia``."""
        return self.word(2) + self._pick(COUNTRY_SUFFIXES)

    def company(self) -> str:
        """A company name such as ``Quorvia Systems``."""
        return f"{self.word()} {self._pick(COMPANY_SUFFIXES)}"

    def product_line(self) -> str:
        """A product line word (products are ``<line> <number>``)."""
        return self.word()

    def pick(self, options: tuple[str, ...]) -> str:
        """One of ``options`` drawn from the generator."""
        return self._pick(options)
