"""Answer scoring: normalization, exact match, token F1, numeric match, metric selection."""

from __future__ import annotations

import time
from fractions import Fraction

import pytest

from turngym.envs.tooluse.rewards import (
    METRICS,
    exact_match,
    format_reward,
    normalize_answer,
    numeric_match,
    parse_number,
    score_answer,
    token_f1,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Eiffel Tower!", "eiffel tower"),
        ("  a  cat,\tAN apple; the END.  ", "cat apple end"),
        ("Theater", "theater"),  # articles only as whole words
        ("New-York's", "newyorks"),  # SQuAD drops punctuation without adding spaces
        ("1,000", "1000"),
        ("3.50", "3.5"),
        ("2.0", "2"),
        ("+5", "5"),
        ("-0.0", "0"),
        ("-12.500 kg", "-12.5 kg"),
        ("$1,234.00", "1234"),
        ("50%", "50"),
        ("It is 42.", "it is 42"),
        ("2/4", "1/2"),
        ("4/2", "2"),
        ("1/0", "10"),  # not a number: punctuation is dropped as in SQuAD
        ("1e3", "1e3"),  # scientific notation stays text (numeric_match reads it)
        ("12,34", "1234"),  # not a thousands pattern: plain punctuation removal
        ("«Zürich»", "zürich"),  # Unicode punctuation too
        ("", ""),
        ("the a an", ""),
    ],
)
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


def test_normalize_non_text_is_empty():
    assert normalize_answer(None) == "" and normalize_answer(42) == ""


def test_exact_match():
    assert exact_match("The  Beatles.", "beatles") == 1.0
    assert exact_match("1,000", "1000") == 1.0
    assert exact_match("Beatles", "Rolling Stones") == 0.0
    assert exact_match("Paris", ["Lyon", "paris"]) == 1.0  # any acceptable gold
    assert exact_match(None, "x") == 0.0
    assert exact_match("", "") == 1.0


def test_token_f1_known_values():
    # pred tokens [cat, sat, on, mat], gold [cat, on, mat]: P = 3/4, R = 1, F1 = 1.5 / 1.75 = 6/7
    assert token_f1("The cat sat on the mat", "a cat on a mat") == pytest.approx(6 / 7)
    # pred [new, york, city], gold [new, york]: P = 2/3, R = 1, F1 = 0.8
    assert token_f1("New York City", "New York") == pytest.approx(0.8)
    # repeated tokens count once per occurrence: pred [a1, a1, b], gold [a1, c]: same 1, P 1/3, R 1/2, F1 0.4
    assert token_f1("a1 a1 b", "a1 c") == pytest.approx(0.4)
    assert token_f1("x", "y") == 0.0
    assert token_f1("the", "") == 1.0  # both normalize to nothing (SQuAD rule)
    assert token_f1("word", "the") == 0.0
    assert token_f1("Marie Curie", ["Curie", "Marie Curie"]) == 1.0  # best gold


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", Fraction(42)),
        (" -1,234.50 ", Fraction("-1234.5")),
        ("$3", Fraction(3)),
        ("12%", Fraction(12)),
        ("7.", Fraction(7)),
        (".5", Fraction(1, 2)),
        ("1.5e3", Fraction(1500)),
        ("2E-2", Fraction(1, 50)),
        ("3/4", Fraction(3, 4)),
        ("-6/8", Fraction(-3, 4)),
        ("1/0", None),
        ("forty-two", None),
        ("42 apples", None),
        ("1 2", None),
        ("1e1001", None),  # exponent too large to be a sane answer
        ("9" * 101, None),
        ("", None),
        (None, None),
    ],
)
def test_parse_number(text, value):
    assert parse_number(text) == value


def test_numeric_match_tolerance():
    assert numeric_match("1,000", "1000") == 1.0
    assert numeric_match("0.5", "1/2") == 1.0
    assert numeric_match("1e3", "1000.0") == 1.0
    assert numeric_match("1.0000005", "1") == 1.0  # within rel_tol 1e-6
    assert numeric_match("1.00001", "1") == 0.0
    assert numeric_match("1.00001", "1", rel_tol=1e-4) == 1.0
    assert numeric_match("0", "0.0") == 1.0
    assert numeric_match("1e-12", "0") == 1.0  # abs_tol 1e-9 near zero
    assert numeric_match("1e-6", "0") == 0.0
    assert numeric_match(str(10**40 + 1), str(10**40)) == 1.0  # relative, exact arithmetic
    assert numeric_match("12345678901234567890", "12345678901234567891", rel_tol=0) == 0.0
    assert numeric_match("about 5", "5") == 0.0
    assert numeric_match("5", "five") == 0.0
    assert numeric_match("5", ["five", "5.0"]) == 1.0


def test_hostile_numbers_are_fast():
    start = time.perf_counter()
    for text in ("1e999999999", "9" * 100_000, "1/" + "9" * 50_000, "-" * 100_000 + "1", "1," * 50_000 + "000"):
        assert numeric_match(text, "1") == 0.0
        normalize_answer(text)
        score_answer(text, "1e3", "auto")
    assert time.perf_counter() - start < 1.0


def test_score_answer_metrics():
    assert METRICS == ("auto", "em", "f1", "numeric")
    assert score_answer("1,000.0", "1000") == 1.0  # auto: numeric gold -> numeric match
    assert score_answer("1000.0000001", "1000", "auto") == 1.0
    assert score_answer("The Beatles", "Beatles") == 1.0  # auto: text gold -> exact match
    assert score_answer("Beatles band", "Beatles") == 0.0
    assert score_answer("Beatles band", "Beatles", "f1") == pytest.approx(2 / 3)
    assert score_answer("3.5", "3.50", "em") == 1.0
    assert score_answer("Paris", "paris", "numeric") == 1.0  # no numeric gold: falls back to exact match
    assert score_answer(None, "1") == 0.0
    assert score_answer(12, "12") == 0.0  # predictions are text
    with pytest.raises(ValueError, match="one of auto, em, f1, numeric"):
        score_answer("1", "1", "bleu")


def test_format_reward():
    assert format_reward(True, 0.2) == 0.2
    assert format_reward(False, 0.2) == 0.0
    assert format_reward(True) == 0.1
