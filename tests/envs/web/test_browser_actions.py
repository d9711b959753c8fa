"""The browser action parser: BrowserGym-style calls parsed with ``ast``, never evaluated (issue 14).

No browser needed. Fails on main: ``turngym.envs.web.browser`` was a placeholder package.
"""

from __future__ import annotations

import pytest

from turngym.envs.web.browser.actions import MAX_FILL_CHARS, ActionError, BrowserAction, parse_action


@pytest.mark.parametrize(("text", "name", "args"), [
    ("click('12')", "click", ("12",)),
    ("  click(\"12\")  ", "click", ("12",)),
    ("click(12)", "click", ("12",)),
    ("fill('7', 'red shoes')", "fill", ("7", "red shoes")),
    ("fill(bid='7', value='red shoes')", "fill", ("7", "red shoes")),
    ("select_option('3', 'blue')", "select_option", ("3", "blue")),
    ("press('7', 'Enter')", "press", ("7", "Enter")),
    ("press('7', 'Control+a')", "press", ("7", "Control+a")),
    ("scroll(0, 200)", "scroll", (0.0, 200.0)),
    ("scroll(-10.5, 0)", "scroll", (-10.5, 0.0)),
    ("go_back()", "go_back", ()),
    ("noop()", "noop", ()),
    ("click('a12')", "click", ("a12",)),
    ("I will click it. <action>click('4')</action>", "click", ("4",)),
    ("<action>click('1')</action> no, <action>click('2')</action>", "click", ("2",)),
    ("`click('5')`", "click", ("5",)),
])
def test_accepted_calls(text, name, args):
    action = parse_action(text)
    assert (action.name, action.args) == (name, args)
    assert parse_action(action.text()) == action  # the canonical text round-trips (snapshots store it)


def test_bid_property():
    assert parse_action("fill('7', 'x')").bid == "7"
    assert parse_action("scroll(0, 1)").bid is None
    assert BrowserAction("noop").text() == "noop()"


HOSTILE = [
    ("", "empty"),
    ("   ", "empty"),
    ("__import__('os').system('rm -rf /')", "one call such as"),
    ("page.click('1')", "one call such as"),
    ("click('1'); click('2')", "one call such as"),
    ("click('1')\nclick('2')", "one call such as"),
    ("click(x)", "literals"),
    ("click(f'{1}')", "literals"),
    ("click('1' + '2')", "literals"),
    ("click(['1'])", "literals"),
    ("click(-'1')", "literals"),
    ("exec('1')", "unknown action"),
    ("click()", "missing"),
    ("click('1', '2')", "takes 1"),
    ("click(bid='1', bid='2')", "twice"),
    ("click('1', bid='1')", "twice"),
    ("click(target='1')", "no argument"),
    ("click(**{'bid': '1'})", "no argument"),
    ("click('1 or 1=1')", "not an element id"),
    ("click('\"]; alert(1); [\"')", "not an element id"),
    ("click(1.5)", "must be a string"),
    ("fill('7', 5)", "must be a string"),
    ("scroll('a', 0)", "must be a number"),
    ("scroll(1e9, 0)", "within"),
    ("press('7', 'Enter; rm -rf')", "not a key name"),
    ("fill('7', '" + "x" * (MAX_FILL_CHARS + 1) + "')", "limit"),
    ("fill('7', 'a\\x00b')", "NUL"),
    ("x" * (10 << 20), "limit"),
    ("(" * 60_000, "one call such as"),
    ("click('1'" + ")" * 5000, "one call such as"),
    ("\x00" * 64, "one call such as"),
    ("click('\ud800')", "not valid Unicode"),
    (bytes(range(256)).decode("latin-1"), "one call such as"),
    ("<action></action>", "empty"),
]


@pytest.mark.parametrize(("text", "message"), HOSTILE, ids=[f"hostile{k}" for k in range(len(HOSTILE))])
def test_hostile_strings_are_action_errors(text, message):
    with pytest.raises(ActionError, match=message):
        parse_action(text)


@pytest.mark.parametrize("obj", [None, b"click('1')", 12, ["click('1')"], object()])
def test_non_strings_are_action_errors(obj):
    with pytest.raises(ActionError, match="as text"):
        parse_action(obj)


def test_nothing_is_evaluated(tmp_path):
    marker = tmp_path / "pwned"
    for text in (f"__import__('pathlib').Path({str(marker)!r}).touch()",
                 f"click(__import__('pathlib').Path({str(marker)!r}).touch())",
                 f"fill('1', open({str(marker)!r}, 'w').write('x'))"):
        with pytest.raises(ActionError):
            parse_action(text)
    assert not marker.exists()
