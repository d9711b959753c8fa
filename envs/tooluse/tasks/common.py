"""Helpers shared by the task generators: seeds and splits, ids, exact number formatting."""

from __future__ import annotations

import hashlib
import re
from fractions import Fraction

import numpy as np

#: Generated family -> the name used in task ids (``ToolQA/test/d2/seed=17``).
FAMILY_TITLES = {"qa": "ToolQA", "math": "ToolMath", "sql": "ToolSQL"}
#: Mixed into the seed so that the same seed gives unrelated tasks in different families.
_FAMILY_CODES = {"qa": 101, "math": 202, "sql": 303}
#: One in ``TEST_MODULUS`` seeds is a test seed (see ``split_of``).
TEST_MODULUS = 10


def split_of(seed: int) -> str:
    """The split a generated task's seed belongs to.

    Rule: a seed is a **test** seed iff ``int(blake2b(str(seed), digest_size=8)) % 10 == 0`` (about one
    seed in ten, spread over the whole range), else a **train** seed. The rule depends only on the seed,
    so the split of a task is the same for every family and difficulty, in every process and version.

    Args:
        seed: A non-negative task seed.

    Returns:
        ``"test"`` or ``"train"``.
    """
    digest = hashlib.blake2b(str(int(seed)).encode("ascii"), digest_size=8).digest()
    return "test" if int.from_bytes(digest, "big") % TEST_MODULUS == 0 else "train"


def sample_seed(rng: np.random.Generator, split: str) -> int:
    """Draws a task seed of ``split`` from ``rng`` (rejection sampling over ``[0, 2**31)``).

    Args:
        rng: The caller's generator (an env's ``np_random``).
        split: ``"train"`` or ``"test"``.

    Returns:
        A seed ``s`` with ``split_of(s) == split``.
    """
    if split not in ("train", "test"):
        from turngym.envs.core.errors import ConfigError

        raise ConfigError("split", "'train' or 'test'", split, choices=("train", "test"))
    while True:
        seed = int(rng.integers(0, 2**31))
        if split_of(seed) == split:
            return seed


def task_rng(family: str, seed: int, difficulty: int) -> np.random.Generator:
    """The generator of one task: a function of (family, seed, difficulty) only."""
    return np.random.default_rng(np.random.SeedSequence([_FAMILY_CODES[family], int(seed), int(difficulty)]))


def task_id(family: str, seed: int, difficulty: int) -> str:
    """``"<Title>/<split>/d<difficulty>/seed=<seed>"``, e.g. ``"ToolQA/test/d2/seed=17"``."""
    return f"{FAMILY_TITLES[family]}/{split_of(seed)}/d{difficulty}/seed={seed}"


def round_half_up(value: Fraction, places: int = 2) -> str:
    """``value`` rounded half away from zero to ``places`` decimals, written with exactly that many.

    Exact (no binary floating point): ``round_half_up(Fraction(1, 8)) == "0.13"``.
    """
    scale = 10**places
    sign = "-" if value < 0 else ""
    q = int(abs(value) * scale + Fraction(1, 2))  # floor(|x| * 10^p + 1/2)
    if q == 0:
        sign = ""
    whole, frac = divmod(q, scale)
    return f"{sign}{whole}.{frac:0{places}d}" if places else f"{sign}{whole}"


def mentions(text: str, answer: str) -> bool:
    """Whether ``answer`` occurs in ``text`` as a whole token sequence (case-insensitive).

    Used to reject generated questions that give their own answer away.
    """
    if not answer:
        return False
    return re.search(r"(?<![\w.])" + re.escape(answer.lower()) + r"(?![\w])", text.lower()) is not None


_CALC_NUMBER = re.compile(r"^\s*(-?\d+)(?:\s*/\s*(\d+))?\s*(?:$|≈|=|\n)")


def parse_exact(output: str) -> Fraction | None:
    """Parses the calculator's exact result (``"42"`` or ``"7/3 ≈ 2.3333"``); None when it is not one."""
    m = _CALC_NUMBER.match(output or "")
    if m is None:
        return None
    return Fraction(int(m.group(1)), int(m.group(2)) if m.group(2) else 1)
