from __future__ import annotations

import pytest

from turngym.envs.core.parsing import MAX_ACTION_CHARS, extract_word, resolve_word

VOCAB = {"fold": 0, "call": 1, "raise": 2, "check": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("raise", 2),
        ("  RAISE.\n", 2),
        ('"call"', 1),
        ("[fold]", 0),
        ("Let me think. K is strong.\n<action>raise</action>", 2),
        ("<action>call</action> then <action>raise</action>", 2),  # the last tag wins
        ("<answer> check </answer>", 1),
        ("**call**", 1),
    ],
)
def test_accepted_forms(text, expected):
    parsed = extract_word(text)
    assert parsed.error is None
    assert resolve_word(parsed.word, VOCAB) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("I will not raise, I call", None),  # mentions two actions in free text: not guessed
        ("x" * (MAX_ACTION_CHARS + 1), "limit"),
        ("<action></action>", "no action"),
        ("call\nraise", "single action word"),
    ],
)
def test_rejected_forms(text, message):
    parsed = extract_word(text)
    if parsed.word is not None:
        assert resolve_word(parsed.word, VOCAB) is None
    else:
        assert message is None or message in parsed.error


def test_non_string_input_is_an_error_not_a_crash():
    for obj in (None, b"call", 3.5, ["call"]):
        parsed = extract_word(obj)
        assert parsed.word is None and "str" in parsed.error


def test_huge_input_is_rejected_by_length_before_scanning():
    parsed = extract_word("<action>" * 200_000)
    assert parsed.word is None and "characters long" in parsed.error
