"""Tool-call formats: known parses, render/parse round trips, every error class, hostile input."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from turngym.envs.core.errors import ConfigError
from turngym.envs.tooluse import formats
from turngym.envs.tooluse.base import ToolCall, ToolResult, openai_schema
from turngym.envs.tooluse.formats import FORMATS, parse_turn, render_answer, render_calls


@dataclass
class SchemaTool:
    """A small Tool-protocol implementation: echoes its arguments (no backend behind it)."""

    name: str
    parameters: dict[str, Any]
    description: str = "test tool"
    seen: list[dict[str, Any]] = field(default_factory=list)

    def call(self, arguments: dict[str, Any]) -> ToolResult:
        self.seen.append(arguments)
        return ToolResult(True, json.dumps(arguments, sort_keys=True))


def _obj(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required}


TOOLS = {
    t.name: t
    for t in [
        SchemaTool("search", _obj({"query": {"type": "string"}, "k": {"type": "integer"}}, ["query"])),
        SchemaTool("calculator", _obj({"expression": {"type": "string"}}, ["expression"])),
        SchemaTool("sql", _obj({"query": {"type": "string"}}, ["query"])),
        SchemaTool("clock", _obj({}, [])),
        SchemaTool("mixed", _obj({
            "s": {"type": "string"}, "i": {"type": "integer"}, "x": {"type": "number"}, "b": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}}, "meta": {"type": "object"},
            "mode": {"type": "string", "enum": ["fast", "slow"]}, "maybe": {"type": ["string", "null"]},
        }, ["s"])),
    ]
}

# The right form every error message must show, per format.
RIGHT_FORM = {"hermes": "<tool_call>{\"name\": ", "openai": '{"tool_calls": [', "plain": '(query="...")'}


def ok(text, fmt, tools=TOOLS, **kw):
    parsed = parse_turn(text, fmt, tools, **kw)
    assert parsed.error is None, parsed.error
    return parsed


def bad(text, fmt, tools=TOOLS, **kw):
    parsed = parse_turn(text, fmt, tools, **kw)
    assert parsed.error is not None and parsed.calls == () and parsed.answer is None
    assert "<answer>...</answer>" in parsed.error
    return parsed.error


# --------------------------------------------------------------------------- known answers
def test_hermes_known_answers():
    p = ok('Let me search.\n<tool_call>\n{"name": "search", "arguments": {"query": "Zorvan", "k": 2}}\n</tool_call>',
           "hermes")
    assert p.calls == (ToolCall("search", {"query": "Zorvan", "k": 2}),) and p.answer is None
    p = ok('<tool_call>{"name": "search", "arguments": {"query": "a"}}</tool_call> and '
           '<TOOL_CALL>{"name": "calculator", "arguments": {"expression": "1+2"}}</TOOL_CALL>', "hermes")
    assert [c.name for c in p.calls] == ["search", "calculator"]
    p = ok('<tool_call>{"name": "sql", "arguments": "{\\"query\\": \\"SELECT 1\\"}"}</tool_call>', "hermes")
    assert p.calls == (ToolCall("sql", {"query": "SELECT 1"}),)  # arguments as a JSON string
    p = ok('<tool_call>{"name": "clock"}</tool_call>', "hermes")
    assert p.calls == (ToolCall("clock", {}),)  # missing arguments = {}


def test_openai_known_answers():
    single = '{"name": "search", "arguments": {"query": "x"}}'
    assert ok(single, "openai").calls == (ToolCall("search", {"query": "x"}),)
    api = json.dumps({"tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "search", "arguments": json.dumps({"query": "x"})}},
        {"id": "c2", "type": "function", "function": {"name": "sql", "arguments": {"query": "SELECT 2"}}},
    ]})
    assert ok(api, "openai").calls == (ToolCall("search", {"query": "x"}), ToolCall("sql", {"query": "SELECT 2"}))
    bare_list = ('[{"type": "function", "function": {"name": "calculator", '
                 '"arguments": "{\\"expression\\": \\"2*3\\"}"}}]')
    assert ok(bare_list, "openai").calls == (ToolCall("calculator", {"expression": "2*3"}),)
    fenced = 'I will look it up.\n```json\n{"name": "search", "arguments": {"query": "y"}}\n```\n'
    assert ok(fenced, "openai").calls == (ToolCall("search", {"query": "y"}),)
    two_fences = '```json\n{"name": "search", "arguments": {"query": "y"}}\n```\n```\n{"name": "clock"}\n```'
    assert [c.name for c in ok(two_fences, "openai").calls] == ["search", "clock"]
    prose_first = 'Thinking... {"name": "sql", "arguments": {"query": "SELECT 3"}}'
    assert ok(prose_first, "openai").calls == (ToolCall("sql", {"query": "SELECT 3"}),)


def test_plain_known_answers():
    p = ok('search(query="a, b (c)", k=3)', "plain")
    assert p.calls == (ToolCall("search", {"query": "a, b (c)", "k": 3}),)
    p = ok("I need two things.\nsearch(query='x) , y=(')\n`calculator(expression=\"(1+2)*3\")`\nDone.", "plain")
    assert p.calls == (ToolCall("search", {"query": "x) , y=("}), ToolCall("calculator", {"expression": "(1+2)*3"}))
    p = ok('mixed(s="q", i=-3, x=2.5, b=False, tags=["a", "b,c"], meta={"k": [1, None]}, maybe=None)', "plain")
    assert p.calls[0].arguments == {"s": "q", "i": -3, "x": 2.5, "b": False, "tags": ["a", "b,c"],
                                    "meta": {"k": [1, None]}, "maybe": None}
    assert ok("clock()", "plain").calls == (ToolCall("clock", {}),)
    assert ok('search(query="line1\\nline2")', "plain").calls[0].arguments["query"] == "line1\nline2"


@pytest.mark.parametrize("fmt", FORMATS)
def test_answer_only_and_last_answer_wins(fmt):
    assert ok("<answer> Paris </answer>", fmt).answer == "Paris"
    assert ok("Thinking: it is 4.\n<answer>3</answer> no wait <ANSWER>4</ANSWER>", fmt).answer == "4"
    assert ok(render_answer("a, b (c)"), fmt).answer == "a, b (c)"
    assert ok("<answer>\nmulti\nline\n</answer>", fmt).calls == ()


@pytest.mark.parametrize("fmt", FORMATS)
def test_tools_may_be_given_as_schemas_or_sequences(fmt):
    call = render_calls([ToolCall("search", {"query": "x"})], fmt)
    as_schemas = {name: t.parameters for name, t in TOOLS.items()}
    as_openai = [openai_schema(t) for t in TOOLS.values()]
    for tools in (TOOLS, as_schemas, as_openai, list(TOOLS.values())):
        assert ok(call, fmt, tools).calls == (ToolCall("search", {"query": "x"}),)


# --------------------------------------------------------------------------- round trips
def _random_string(rng: np.random.Generator, tags: bool = True) -> str:
    alphabet = list("abcXYZ019 ,;:()[]{}'\"\\/\n\t<>=-_.#é漢😀") + ["```", "\u2028"]
    if tags:
        alphabet += ["<answer>", "</tool_call>"]
    return "".join(rng.choice(alphabet) for _ in range(int(rng.integers(0, 12))))


def _random_value(rng: np.random.Generator, kind: str) -> Any:
    if kind == "s":
        return _random_string(rng)
    if kind == "i":
        return int(rng.integers(-10**12, 10**12))
    if kind == "x":
        return float(rng.normal() * 10 ** int(rng.integers(-5, 20)))
    if kind == "b":
        return bool(rng.integers(2))
    if kind == "tags":
        return [_random_string(rng) for _ in range(int(rng.integers(0, 4)))]
    if kind == "meta":
        return {_random_string(rng): [int(rng.integers(100)), None, {"z": _random_string(rng)}]
                for _ in range(int(rng.integers(0, 3)))}
    if kind == "mode":
        return ["fast", "slow"][int(rng.integers(2))]
    return None if rng.integers(2) else _random_string(rng)


def _random_call(rng: np.random.Generator) -> ToolCall:
    which = int(rng.integers(3))
    if which == 0:
        return ToolCall("search", {"query": _random_string(rng), "k": int(rng.integers(1, 50))})
    if which == 1:
        return ToolCall("clock", {})
    keys = ["s"] + [k for k in ("i", "x", "b", "tags", "meta", "mode", "maybe") if rng.integers(2)]
    return ToolCall("mixed", {k: _random_value(rng, k) for k in keys})


@pytest.mark.parametrize("fmt", FORMATS)
def test_render_then_parse_round_trips(fmt):
    rng = np.random.default_rng(1234)
    for _ in range(300):
        calls = [_random_call(rng) for _ in range(int(rng.integers(1, 5)))]
        text = render_calls(calls, fmt)
        parsed = ok(text, fmt)
        assert list(parsed.calls) == calls, text
        assert ok(render_answer(_random_string(rng, tags=False) + "x"), fmt).answer is not None


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_of_awkward_strings(fmt):
    for text in ["\ud800 lone surrogate", "x < 3 and y > 2", "</TOOL_CALL >", "<answer>1</answer>", "```json", "\x00",
                 "\\n is not a newline", "'\"", "a)\nb(c=1)"]:
        call = ToolCall("search", {"query": text})
        assert ok(render_calls([call], fmt), fmt).calls == (call,)
    if fmt != "plain":
        assert "x < 3" in render_calls([ToolCall("sql", {"query": "x < 3"})], fmt)  # '<' escaped only in tags


# --------------------------------------------------------------------------- errors
ERRORS = {
    # name: (hermes text, openai text, plain text, expected substring)
    "empty": ("", "", "", "empty message"),
    "whitespace": (" \n\t ", " \n\t ", " \n\t ", "empty message"),
    "no call": ("SELECT * FROM t", "SELECT * FROM t", "SELECT * FROM t", "no tool call or answer found"),
    "unknown tool": ('<tool_call>{"name": "serch", "arguments": {"query": "x"}}</tool_call>',
                     '{"name": "serch", "arguments": {"query": "x"}}', 'serch(query="x")',
                     "unknown tool 'serch' (did you mean 'search'?); available: calculator, clock, mixed, search, sql"),
    "missing arg": ('<tool_call>{"name": "search", "arguments": {"k": 1}}</tool_call>',
                    '{"name": "search", "arguments": {"k": 1}}', "search(k=1)", "missing required argument 'query'"),
    "unknown arg": ('<tool_call>{"name": "search", "arguments": {"query": "x", "kk": 1}}</tool_call>',
                    '{"name": "search", "arguments": {"query": "x", "kk": 1}}', 'search(query="x", kk=1)',
                    "unknown argument 'kk' (did you mean 'k'?); allowed: query, k"),
    "wrong type": ('<tool_call>{"name": "search", "arguments": {"query": 3}}</tool_call>',
                   '{"name": "search", "arguments": {"query": 3}}', "search(query=3)",
                   "bad arguments for 'search': 'query' must be a string, got integer"),
    "bool is no int": ('<tool_call>{"name": "search", "arguments": {"query": "x", "k": true}}</tool_call>',
                       '{"name": "search", "arguments": {"query": "x", "k": true}}', 'search(query="x", k=True)',
                       "'k' must be an integer, got boolean"),
    "args not object": ('<tool_call>{"name": "search", "arguments": [1]}</tool_call>',
                        '{"name": "search", "arguments": "[1]"}', None, "must be a JSON object, got array"),
    "bad args string": ('<tool_call>{"name": "search", "arguments": "{query: x}"}</tool_call>',
                        '{"name": "search", "arguments": "{query: x}"}', None, "arguments string of 'search'"),
    "no name": ('<tool_call>{"arguments": {}}</tool_call>', '{"arguments": {}, "name": ""}', None, 'no "name"'),
    "malformed JSON": ('<tool_call>{"name": "search", "arguments": {"query": "x"}</tool_call>',
                       '{"name": "search", "arguments": {"query": "x"}', None, "is not valid JSON"),
    "trailing text": ('<tool_call>{"name": "clock"} {"name": "clock"}</tool_call>',
                      '{"name": "clock"} and then more', None, "unexpected text after the JSON"),
    "both": ('<tool_call>{"name": "clock"}</tool_call><answer>1</answer>', '{"name": "clock"}<answer>1</answer>',
             "clock()\n<answer>1</answer>", "give either tool calls or an answer in one message, not both"),
    "empty answer": ("<answer> </answer>", "<answer> </answer>", "<answer> </answer>", "empty <answer></answer>"),
    "unclosed answer": ("<answer>42", "<answer>42", "<answer>42", "<answer> is never closed"),
    "stray close": ("42</answer>", "42</answer>", "42</answer>", "</answer> without a matching <answer>"),
    "nested answer": ("<answer><answer>1</answer></answer>",) * 3 + ("nested <answer> tags",),
    "half call": ('<tool_call>{"name": "sea', None, None, "<tool_call> is never closed"),
    "nested call": ('<tool_call><tool_call>{"name": "clock"}</tool_call></tool_call>', None, None,
                    "nested <tool_call> tags"),
    "call in answer": ('<answer><tool_call>{"name": "clock"}</tool_call></answer>', None, None,
                       "<tool_call> inside <answer>"),
    "empty block": ("<tool_call> </tool_call>", None, None, "the <tool_call> block is empty"),
    "empty tool_calls": (None, '{"tool_calls": []}', None, '"tool_calls" is empty'),
    "tool_calls not list": (None, '{"tool_calls": {"name": "clock"}}', None, '"tool_calls" must be a list'),
    "unclosed fence": (None, '```json\n{"name": "clock"}\n', None, "``` fence is never closed"),
    "NaN": (None, '{"name": "mixed", "arguments": {"s": "a", "x": NaN}}', None, "NaN is not valid JSON"),
    "positional": (None, None, 'search("x")', "use keyword arguments"),
    "names": (None, None, "search(query=x)", 'names are not values; quote strings, e.g. "x"'),
    "json literals": (None, None, 'mixed(s="a", b=true)', "write True, not true"),
    "code": (None, None, 'search(query=__import__("os").system("ls"))', "only literals are allowed"),
    "expression": (None, None, 'calculator(expression=1+2)', "only literals are allowed"),
    "bytes literal": (None, None, "search(query=b'x')", "bytes values are not allowed"),
    "star args": (None, None, "search(**{'query': 'x'})", "** unpacking is not allowed"),
    "syntax": (None, None, 'search(query="x)', "could not parse line 1"),
    "not a call": (None, None, "search(query='x').upper()", "is not a single call"),
}


ERROR_CASES = [(case, fmt, texts[i], texts[-1]) for case, texts in ERRORS.items()
               for i, fmt in enumerate(FORMATS) if texts[i] is not None]


@pytest.mark.parametrize(("case", "fmt", "text", "expected"), ERROR_CASES,
                         ids=[f"{c}-{f}" for c, f, _, _ in ERROR_CASES])
def test_every_error_names_the_problem_and_shows_the_right_form(case, fmt, text, expected):
    error = bad(text, fmt)
    assert expected in error, error
    assert RIGHT_FORM[fmt] in error, error
    assert len(error) < 400


@pytest.mark.parametrize("fmt", FORMATS)
def test_hint_shows_the_offending_tool(fmt):
    error = bad(render_calls([ToolCall("sql", {"query": 1})], fmt), fmt)
    assert render_calls([ToolCall("sql", {"query": "..."})], fmt).replace("\n", "") in error


@pytest.mark.parametrize("fmt", FORMATS)
def test_non_text_and_too_long(fmt):
    for value in (None, b"<answer>1</answer>", 42, ["<answer>1</answer>"]):
        assert "expected the message as text (str)" in bad(value, fmt)
    assert "the limit is 100" in bad("<answer>" + "x" * 200 + "</answer>", fmt, max_chars=100)


@pytest.mark.parametrize("fmt", FORMATS)
def test_max_calls_is_enforced(fmt):
    calls = [ToolCall("calculator", {"expression": f"{i}+1"}) for i in range(5)]
    assert len(ok(render_calls(calls[:4], fmt), fmt).calls) == 4
    assert "too many tool calls: 5 (the limit is 4 per message)" in bad(render_calls(calls, fmt), fmt)
    assert len(ok(render_calls(calls[:2], fmt), fmt, max_calls=2).calls) == 2
    assert "the limit is 1 per message" in bad(render_calls(calls[:2], fmt), fmt, max_calls=1)


def test_openai_counts_calls_across_fences():
    fence = '```json\n{"name": "clock"}\n```\n'
    assert len(ok(fence * 4, "openai").calls) == 4
    assert "too many tool calls: 5" in bad(fence * 5, "openai")


def test_validate_arguments_subset_of_json_schema():
    schema = TOOLS["mixed"].parameters
    v = formats.validate_arguments
    assert v({"s": "a", "x": 3}, schema) is None  # an integer is a number
    assert "'x' must be a number, got non-finite number" in v({"s": "a", "x": float("inf")}, schema)
    assert "'i' must be an integer, got number" in v({"s": "a", "i": 2.0}, schema)
    assert "'mode' must be one of \"fast\", \"slow\"" in v({"s": "a", "mode": "medium"}, schema)
    assert "'tags[1]' must be a string" in v({"s": "a", "tags": ["ok", 1]}, schema)
    assert v({"s": "a", "maybe": None}, schema) is None
    assert "'maybe' must be a string or null" in v({"s": "a", "maybe": 1}, schema)
    assert "arguments must be an object" in v([1], schema)
    nested = _obj({"o": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"],
                         "additionalProperties": False}}, ["o"])
    assert "missing required argument 'o.a'" in v({"o": {}}, nested)
    assert "unknown argument 'o.b'" in v({"o": {"a": 1, "b": 2}}, nested)
    assert "'o.a' must be an integer" in v({"o": {"a": "1"}}, nested)


# --------------------------------------------------------------------------- hostile battery
def _hostile(rng: np.random.Generator) -> dict[str, str]:
    mb = 1 << 20
    return {
        "1 MB": "a" * mb,
        "1 MB of open tags": "<tool_call>" * (mb // 11),
        "1 MB of answers": "<answer>" * (mb // 8),
        "random bytes": rng.integers(0, 256, size=mb, dtype=np.uint8).tobytes().decode("latin-1"),
        "random utf-8": rng.integers(0, 256, size=mb, dtype=np.uint8).tobytes().decode("utf-8", "replace"),
        "NUL": "\x00" * 1000 + "<tool_call>\x00</tool_call>",
        "NUL in plain call": 'search(query="\x00")',
        "deep JSON": "[" * (mb // 2),
        "deep JSON in tag": "<tool_call>" + "{\"a\":" * 50_000 + "</tool_call>",
        "deep plain": "search(query=" + "[" * 100_000 + ")",
        "long plain ident": "a" * mb + "(",
        "10,000 tool calls": '<tool_call>{"name": "clock"}</tool_call>' * 10_000,
        "10,000 open tags": "<tool_call>" * 10_000,
        "10,000 plain calls": "clock()\n" * 10_000,
        "10,000 fences": "```" * 10_000 + "x",
        "10,000 JSON calls": json.dumps([{"name": "clock"}] * 10_000),
        "half call": '<tool_call>{"name": "sea',
        "malformed JSON": '{"name": "search", "arguments": {"query": "x"',
        "huge int": '{"name": "search", "arguments": {"query": "x", "k": ' + "9" * 50_000 + "}}",
        "huge int plain": "search(query='x', k=" + "9" * 50_000 + ")",
        "backtracking bait": "<tool_call" + " " * 100_000 + "x" + "<answer " * 50_000,
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_battery_errors_fast(fmt):
    rng = np.random.default_rng(7)
    for name, text in _hostile(rng).items():
        for max_chars in (formats.MAX_CHARS, 4 << 20):  # the cap, and the scanners behind it
            start = time.perf_counter()
            parsed = parse_turn(text, fmt, TOOLS, max_chars=max_chars)
            elapsed = time.perf_counter() - start
            assert parsed.error is not None and parsed.calls == (), (name, fmt, parsed)
            assert elapsed < 1.0, (name, fmt, max_chars, elapsed)
            assert len(parsed.error) < 600, (name, parsed.error)


# --------------------------------------------------------------------------- rendering
@pytest.mark.parametrize("fmt", FORMATS)
def test_format_instructions_list_schemas_and_show_one_call(fmt):
    text = formats.format_instructions(fmt, TOOLS, max_calls=3)
    for tool in TOOLS.values():
        assert json.dumps(openai_schema(tool)) in text
    example = render_calls([ToolCall("search", {"query": "..."})], fmt)
    assert example in text and "<answer>" in text and "up to 3 calls" in text
    assert ok(example, fmt).calls == (ToolCall("search", {"query": "..."}),)  # the example itself parses


@pytest.mark.parametrize("fmt", FORMATS)
def test_render_results_truncates_head_and_tail(fmt):
    calls = [ToolCall("search", {"query": "x"}), ToolCall("sql", {"query": "bad"})]
    results = [ToolResult(True, "HEAD" + "x" * 5000 + "TAIL"), ToolResult(False, "no such table")]
    text = formats.render_results(calls, results, fmt, max_chars=200)
    assert "HEAD" in text and "TAIL" in text and "truncated" in text and len(text) < 700
    assert "Error: no such table" in text
    marker = {"hermes": "<tool_response>", "openai": '"role": "tool"', "plain": '>>> search(query="x")'}[fmt]
    assert text.count(marker) == (1 if fmt == "plain" else 2)
    if fmt == "openai":
        assert [json.loads(line)["name"] for line in text.splitlines()] == ["search", "sql"]
    with pytest.raises(ValueError, match="2 calls but 1 results"):
        formats.render_results(calls, results[:1], fmt)


def test_unknown_format_is_a_config_error():
    with pytest.raises(ConfigError, match="Did you mean 'hermes'"):
        parse_turn("<answer>1</answer>", "herms", TOOLS)
    with pytest.raises(ConfigError):
        render_calls([], "json")
    with pytest.raises(ConfigError):
        formats.format_instructions("xml", TOOLS)


def test_render_answer():
    assert render_answer("42") == "<answer>42</answer>"


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_tools_available(fmt):
    error = bad(render_calls([ToolCall("search", {"query": "x"})], fmt), fmt, tools={})
    assert "available: none" in error
    assert "<answer>" in formats.format_instructions(fmt, {})
