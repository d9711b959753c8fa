"""Answer scoring: exact match, token F1 and numeric match against a gold answer.

Normalization follows the SQuAD evaluation script (Rajpurkar et al., 2016, "SQuAD: 100,000+ Questions
for Machine Comprehension of Text"): lowercase, remove punctuation, remove the articles a/an/the,
collapse whitespace. One addition, numeric canonicalization, runs first on every whitespace token
that is a number (after stripping edge punctuation, currency signs and ``%``):

* thousands separators go: ``1,000`` -> ``1000``;
* trailing zeros and signs go: ``3.50`` -> ``3.5``, ``2.0`` -> ``2``, ``+5`` -> ``5``, ``-0`` -> ``0``;
  the minus sign and the decimal point survive (SQuAD alone would turn ``3.5`` into ``35``);
* simple fractions are reduced: ``2/4`` -> ``1/2``, ``4/2`` -> ``2`` (no conversion to decimals);
* ``50%`` and ``$50`` become ``50`` (the unit is dropped);
* scientific notation is left as text (``numeric_match`` understands it).

All functions are pure and never raise on any prediction (model output); lengths are bounded so a
hostile number such as ``1e999999999`` cannot hang them.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction

METRICS = ("auto", "em", "f1", "numeric")

_ARTICLES = frozenset({"a", "an", "the"})
_ASCII_PUNCT = frozenset(string.punctuation)
_EDGE = "".join(sorted(set(string.punctuation + "$€£¥₹") - set("+-."))) + "\u2018\u2019\u201c\u201d"
_DECIMAL = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+")
_FRACTION = re.compile(r"([+-]?\d{1,18})/(\d{1,18})")
_SCI = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)[eE][+-]?\d{1,4}")
_MAX_NUMBER_CHARS = 100
_MAX_EXPONENT = 1000


def _is_punct(ch: str) -> bool:
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def _canonical_decimal(d: Decimal) -> str:
    if d == d.to_integral_value():
        return str(int(d))
    return format(d.normalize(), "f")


def _canonical_number(token: str) -> str | None:
    """Canonical text of a numeric token, or None when the token is not a plain number."""
    core = token.strip(_EDGE)
    if core.endswith(".") and not core.endswith(".."):
        core = core[:-1]  # sentence-final period: "42." -> "42"
    if not core or len(core) > _MAX_NUMBER_CHARS:
        return None
    if _DECIMAL.fullmatch(core):
        try:
            return _canonical_decimal(Decimal(core.replace(",", "")))
        except InvalidOperation:
            return None
    m = _FRACTION.fullmatch(core)
    if m and int(m.group(2)) != 0:
        f = Fraction(int(m.group(1)), int(m.group(2)))
        return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"
    return None


def normalize_answer(s: object) -> str:
    """SQuAD normalization plus numeric canonicalization (rules in the module docstring).

    Args:
        s: The text (non-strings normalize to ``""``).

    Returns:
        The normalized text: lowercase tokens separated by single spaces.
    """
    if not isinstance(s, str):
        return ""
    out = []
    for token in s.lower().split():
        number = _canonical_number(token)
        if number is not None:
            out.append(number)
            continue
        # SQuAD removes punctuation without inserting spaces ("new-york" -> "newyork").
        word = "".join(ch for ch in token if not _is_punct(ch))
        if word and word not in _ARTICLES:
            out.append(word)
    return " ".join(out)


def _golds(gold: str | Sequence[str]) -> list[str]:
    return [gold] if isinstance(gold, str) else [g for g in gold if isinstance(g, str)]


def exact_match(pred: object, gold: str | Sequence[str]) -> float:
    """1.0 when the normalized prediction equals the (any) normalized gold answer, else 0.0."""
    p = normalize_answer(pred)
    return float(any(p == normalize_answer(g) for g in _golds(gold)))


def _f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)  # SQuAD: both empty -> 1, one empty -> 0
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def token_f1(pred: object, gold: str | Sequence[str]) -> float:
    """SQuAD bag-of-tokens F1 between the normalized prediction and the (best) gold answer."""
    p = normalize_answer(pred).split()
    return max((_f1(p, normalize_answer(g).split()) for g in _golds(gold)), default=0.0)


def parse_number(s: object) -> Fraction | None:
    """The exact value of a text that is one number, or None.

    Accepted: integers and decimals with optional sign and thousands commas (``-1,234.50``),
    scientific notation (``1.5e3``, exponent at most 1000 in size), simple fractions (``3/4``), each
    optionally wrapped in whitespace, currency signs, a trailing ``%`` (dropped, not divided by 100) or
    a final period. Anything else (words, several numbers, over 100 characters) gives None.
    """
    if not isinstance(s, str):
        return None
    core = s.strip().strip(_EDGE).strip()
    if core.endswith(".") and not core.endswith(".."):
        core = core[:-1]
    if not core or len(core) > _MAX_NUMBER_CHARS:
        return None
    try:
        if _DECIMAL.fullmatch(core):
            return Fraction(core.replace(",", ""))
        if _SCI.fullmatch(core):
            mantissa, _, exponent = core.lower().partition("e")
            if abs(int(exponent)) > _MAX_EXPONENT:
                return None
            return Fraction(mantissa) * Fraction(10) ** int(exponent)
        m = _FRACTION.fullmatch(core)
        if m and int(m.group(2)) != 0:
            return Fraction(int(m.group(1)), int(m.group(2)))
    except (ValueError, ZeroDivisionError):
        return None
    return None


def numeric_match(pred: object, gold: str | Sequence[str], rel_tol: float = 1e-6, abs_tol: float = 1e-9) -> float:
    """1.0 when both parse as numbers (:func:`parse_number`) within tolerance, else 0.0.

    Equal when ``|p - g| <= max(rel_tol * max(|p|, |g|), abs_tol)`` (exact rational arithmetic).
    """
    p = parse_number(pred)
    if p is None:
        return 0.0
    for g in _golds(gold):
        gv = parse_number(g)
        if gv is None:
            continue
        tol = max(Fraction(rel_tol) * max(abs(p), abs(gv)), Fraction(abs_tol))
        if abs(p - gv) <= tol:
            return 1.0
    return 0.0


def score_answer(pred: object, gold: str | Sequence[str], metric: str = "auto", rel_tol: float = 1e-6) -> float:
    """Scores a predicted answer against the gold answer(s), in [0, 1].

    Args:
        pred: The predicted answer (None or a non-string scores 0).
        gold: The gold answer, or several acceptable ones.
        metric: ``"em"`` (:func:`exact_match`), ``"f1"`` (:func:`token_f1`), ``"numeric"``
            (:func:`numeric_match`; falls back to exact match when no gold is a number) or ``"auto"``
            (numeric when a gold answer parses as a number, exact match otherwise).
        rel_tol: Relative tolerance of numeric matching.

    Returns:
        The score.

    Raises:
        ValueError: Unknown metric (configuration, never input).
    """
    if metric not in METRICS:
        raise ValueError(f"metric: expected one of {', '.join(METRICS)}, got {metric!r}")
    if not isinstance(pred, str):
        return 0.0
    if metric == "f1":
        return token_f1(pred, gold)
    if metric == "em":
        return exact_match(pred, gold)
    if any(parse_number(g) is not None for g in _golds(gold)):
        return numeric_match(pred, gold, rel_tol=rel_tol)
    return exact_match(pred, gold)


def format_reward(parsed_ok: bool, weight: float = 0.1) -> float:
    """Shaping bonus for a well-formed turn: ``weight`` when it parsed, else 0."""
    return float(weight) if parsed_ok else 0.0

