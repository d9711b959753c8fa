"""Tool-call formats: turning one model message into tool calls or a final answer, and back.

An env picks one format (its ``format=`` argument); the system prompt (:func:`format_instructions`)
tells the model exactly how to write calls in it:

``hermes`` (Hermes / Qwen chat templates)
    One or more ``<tool_call>{"name": "search", "arguments": {"query": "..."}}</tool_call>`` blocks,
    one JSON object per block. Text outside the blocks (thinking out loud) is ignored. Results come
    back as one ``<tool_response>…</tool_response>`` block per call.
``openai`` (OpenAI-style JSON)
    ``{"tool_calls": [{"type": "function", "function": {"name": …, "arguments": …}}, …]}``, a bare list
    of such entries, or a single ``{"name": …, "arguments": …}``; optionally inside a ```` ```json ````
    fence (several fences are read in order; fences are looked for only when the message does not
    start with ``{`` or ``[``). Without a fence the JSON runs to the end of the message; prose may
    precede it. Results come back as JSON lines ``{"role": "tool", "name": …, "content": …}``.
``plain``
    One call per line, ``name(arg=value, arg2="text")``, keyword arguments only, values Python
    literals (strings, numbers, ``True``/``False``/``None``, lists, dicts) read with :mod:`ast` without
    evaluating anything. A line starting with ``identifier(`` is a call; other lines are ignored.
    Results come back as ``>>> call`` followed by the output.

Rules shared by every format:

* The final answer is ``<answer>…</answer>``; when there are several, the last one wins.
* A message holds tool calls **or** an answer, never both (that is an error: ending the episode
  would silently drop the calls, running them would silently drop the answer).
* ``arguments`` may be a JSON object or a JSON string that contains an object (the OpenAI API sends
  strings); a missing ``arguments`` means ``{}``.
* Arguments are checked against the tool's JSON schema ``parameters``: required keys present, no
  unknown keys, types ``string``/``integer``/``number``/``boolean``/``object``/``array``/``null``,
  ``enum``. Booleans are not integers, integral floats are not integers, numbers must be finite.
* At most ``max_calls`` calls per message, at most ``max_chars`` characters per message.

Every problem (no call, unknown tool, bad arguments, malformed JSON, unbalanced or nested tags, too
many calls, too long, not text) gives a :class:`ParsedTurn` with a short ``error`` that ends with the
right form for this format: one example call and the answer tag. Parsing never raises on any input and
runs in linear time: tags are found by one pass of a fixed-token regex, never by ``.*?`` searches.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from turngym.envs.core.errors import ConfigError, nearest
from turngym.envs.core.parsing import MAX_ACTION_CHARS, describe
from turngym.envs.core.spaces import truncate
from turngym.envs.tooluse.base import ToolCall, ToolResult

FORMATS = ("hermes", "openai", "plain")

#: Longest message a format parser even looks at (the env's action-space length).
MAX_CHARS = MAX_ACTION_CHARS

#: Default number of tool calls allowed in one message.
MAX_CALLS = 4

ANSWER_FORM = "<answer>...</answer>"

_TAGS = re.compile(r"<(/?)(tool_call|answer)\s*>", re.IGNORECASE)
_TAG_START = re.compile(r"<(?=/?(?:tool_call|answer)\s*>)", re.IGNORECASE)
_PLAIN_CALL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\(")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_FENCE = "```"
_JSON_TYPES = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean",
               "object": "an object", "array": "an array", "null": "null"}


@dataclass(frozen=True)
class ParsedTurn:
    """One parsed message.

    Attributes:
        calls: The tool calls, in order (empty for an answer or an error).
        answer: The final answer's text (stripped), or None.
        error: A short message saying what was wrong and showing the right form, or None.
    """

    calls: tuple[ToolCall, ...] = ()
    answer: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the message parsed (calls or an answer)."""
        return self.error is None


class _Bad(Exception):
    """Internal: a parse problem; ``tool`` names the tool whose example the hint should show."""

    def __init__(self, message: str, tool: str | None = None):
        super().__init__(message)
        self.tool = tool


# --------------------------------------------------------------------------- tool specs
def _specs(tools: Mapping[str, Any] | Sequence[Any] | None) -> dict[str, dict[str, Any]]:
    """Name -> parameters schema, from Tools, OpenAI ``tools`` entries or bare schemas."""
    items: list[tuple[str | None, Any]]
    if tools is None:
        return {}
    if isinstance(tools, Mapping):
        items = list(tools.items())
    else:
        items = [(None, t) for t in tools]
    out: dict[str, dict[str, Any]] = {}
    for key, tool in items:
        name, params = key, None
        if isinstance(tool, Mapping):
            fn = tool.get("function") if isinstance(tool.get("function"), Mapping) else tool
            if "parameters" in fn or "name" in fn:
                name = fn.get("name", name)
                params = fn.get("parameters")
            else:  # a bare parameters schema
                params = tool
        else:
            name = getattr(tool, "name", name)
            params = getattr(tool, "parameters", None)
        if name is None:
            raise ConfigError("tools", "Tools, OpenAI tool entries or a name -> schema mapping", tool)
        out[str(name)] = dict(params) if isinstance(params, Mapping) else {"type": "object", "properties": {}}
    return out


def _descriptions(tools: Mapping[str, Any] | Sequence[Any]) -> list[dict[str, Any]]:
    """OpenAI ``tools`` entries for the system prompt."""
    values = list(tools.items()) if isinstance(tools, Mapping) else [(None, t) for t in tools]
    out = []
    for key, tool in values:
        if isinstance(tool, Mapping):
            fn = tool.get("function") if isinstance(tool.get("function"), Mapping) else tool
            if "parameters" in fn or "name" in fn:
                out.append({"type": "function", "function": {"name": fn.get("name", key),
                                                              "description": fn.get("description", ""),
                                                              "parameters": fn.get("parameters", {})}})
            else:
                out.append({"type": "function", "function": {"name": key, "description": "", "parameters": tool}})
        else:
            out.append({"type": "function", "function": {"name": getattr(tool, "name", key),
                                                         "description": getattr(tool, "description", ""),
                                                         "parameters": getattr(tool, "parameters", {})}})
    return out


def _placeholder(schema: Any) -> Any:
    """An example value for a JSON schema (used in example calls)."""
    if not isinstance(schema, Mapping):
        return "..."
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return {"integer": 1, "number": 1.5, "boolean": True, "array": [], "object": {}, "null": None}.get(kind, "...")


def _example_call(name: str | None, specs: Mapping[str, Mapping[str, Any]]) -> ToolCall:
    """An example call of ``name`` (or of the first tool) with its required arguments."""
    if name is None or name not in specs:
        name = next(iter(specs), None)
    if name is None:
        return ToolCall("tool_name", {"argument": "..."})
    params = specs[name]
    props = params.get("properties") if isinstance(params.get("properties"), Mapping) else {}
    required = [r for r in params.get("required", []) if isinstance(r, str)] or list(props)[:1]
    return ToolCall(name, {r: _placeholder(props.get(r)) for r in required})


def _hint(fmt: str, specs: Mapping[str, Mapping[str, Any]], tool: str | None = None) -> str:
    example = render_calls([_example_call(tool, specs)], fmt).replace("\n", "")
    return f"Right form: {example} -- or give the final answer as {ANSWER_FORM}"


# --------------------------------------------------------------------------- validation
def _type_ok(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "null":
        return value is None
    return True  # unknown type names are not enforced


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number" if math.isfinite(value) else "non-finite number"
    return {str: "string", dict: "object", list: "array", type(None): "null"}.get(type(value), type(value).__name__)


def _check_value(value: Any, schema: Any, where: str, depth: int = 0) -> str | None:
    """The first schema violation of ``value`` (a small subset of JSON schema), or None."""
    if not isinstance(schema, Mapping) or depth > 32:
        return None
    kind = schema.get("type")
    kinds = [k for k in (kind if isinstance(kind, list) else [kind]) if isinstance(k, str)]
    if kinds and not any(_type_ok(value, k) for k in kinds):
        want = " or ".join(_JSON_TYPES.get(k, k) for k in kinds)
        return f"{describe(where)} must be {want}, got {_type_name(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{describe(where)} must be a finite number"
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        return f"{describe(where)} must be one of {', '.join(json.dumps(e) for e in enum[:10])}"
    if isinstance(value, dict):
        return _check_object(value, schema, where, depth, strict=schema.get("additionalProperties") is False)
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            problem = _check_value(item, schema["items"], f"{where}[{i}]", depth + 1)
            if problem:
                return problem
    return None


def _check_object(value: dict[str, Any], schema: Mapping[str, Any], where: str, depth: int, strict: bool) -> str | None:
    props = schema.get("properties") if isinstance(schema.get("properties"), Mapping) else {}
    prefix = f"{where}." if where else ""
    missing = [r for r in schema.get("required", []) if isinstance(r, str) and r not in value]
    if missing:
        return "missing required argument" + ("s " if len(missing) > 1 else " ") + ", ".join(
            describe(prefix + m) for m in missing)
    if strict:
        unknown = [k for k in value if k not in props]
        if unknown:
            allowed = ", ".join(props) or "none"
            guess = nearest(unknown[0], props)
            tip = f" (did you mean {guess!r}?)" if guess else ""
            return f"unknown argument {describe(prefix + unknown[0])}{tip}; allowed: {allowed}"
    for key, item in value.items():
        if key in props:
            problem = _check_value(item, props[key], prefix + key, depth + 1)
            if problem:
                return problem
    return None


def validate_arguments(arguments: Any, parameters: Mapping[str, Any]) -> str | None:
    """Checks tool arguments against a tool's ``parameters`` schema.

    Top-level unknown keys are always rejected; nested objects only when their schema says
    ``"additionalProperties": false``.

    Args:
        arguments: The parsed arguments.
        parameters: The tool's JSON schema (``{"type": "object", "properties": …, "required": […]}``).

    Returns:
        None when the arguments are valid, else a short description of the first problem.
    """
    if not isinstance(arguments, dict):
        return f"arguments must be an object, got {_type_name(arguments)}"
    if any(not isinstance(k, str) for k in arguments):
        return "argument names must be strings"
    return _check_object(arguments, parameters, "", 0, strict=True)


# --------------------------------------------------------------------------- tags
Spans = list[tuple[int, int]]


def _scan_tags(text: str, with_calls: bool) -> tuple[Spans, Spans, Spans]:
    """One pass over the tags: (tool_call content spans, answer content spans, whole-block spans).

    Raises:
        _Bad: On unbalanced or nested tags.
    """
    calls: list[tuple[int, int]] = []
    answers: list[tuple[int, int]] = []
    blocks: list[tuple[int, int]] = []
    state: str | None = None
    start = open_at = 0
    for m in _TAGS.finditer(text):
        closing, kind = m.group(1) == "/", m.group(2).lower()
        if kind == "tool_call" and not with_calls:
            continue
        tag = f"<{'/' if closing else ''}{kind}>"
        if state is None:
            if closing:
                raise _Bad(f"{tag} without a matching <{kind}> before it")
            state, start, open_at = kind, m.end(), m.start()
        elif state == "tool_call":
            if kind == "answer":
                continue  # part of the JSON (e.g. a string argument)
            if not closing:
                raise _Bad("nested <tool_call> tags: close each block with </tool_call> before opening the next")
            calls.append((start, m.start()))
            blocks.append((open_at, m.end()))
            state = None
        else:  # inside <answer>
            if kind == "tool_call":
                raise _Bad(f"{tag} inside <answer>: give either tool calls or an answer")
            if not closing:
                raise _Bad("nested <answer> tags")
            answers.append((start, m.start()))
            blocks.append((open_at, m.end()))
            state = None
    if state is not None:
        raise _Bad(f"<{state}> is never closed with </{state}>")
    return calls, answers, blocks


def _outside(text: str, blocks: list[tuple[int, int]]) -> str:
    """The text with the given spans replaced by line breaks."""
    parts, pos = [], 0
    for a, b in blocks:
        parts.append(text[pos:a])
        pos = b
    parts.append(text[pos:])
    return "\n".join(parts)


# --------------------------------------------------------------------------- JSON
def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constants)


def _loads(text: str, what: str) -> Any:
    try:
        value, end = _DECODER.raw_decode(text)
    except RecursionError:
        raise _Bad(f"{what} is nested too deeply") from None
    except (ValueError, MemoryError) as e:
        raise _Bad(f"{what} is not valid JSON ({_short(e)})") from None
    if text[end:].strip():
        raise _Bad(f"unexpected text after the JSON in {what}: {describe(text[end:].strip())}")
    return value


def _short(e: BaseException) -> str:
    msg = str(e).split("\n")[0]
    return msg if len(msg) <= 80 else msg[:77] + "..."


def _arguments(raw: Any, name: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        raw = _loads(raw.strip(), f"the arguments string of {describe(name)}")
    if not isinstance(raw, dict):
        raise _Bad(f"arguments of {describe(name)} must be a JSON object, got {_type_name(raw)}", tool=name)
    return raw


def _call_from_json(obj: Any, where: str) -> tuple[str, dict[str, Any]]:
    """(name, arguments) from ``{"name", "arguments"}`` or ``{"type": "function", "function": {…}}``."""
    if isinstance(obj, dict) and isinstance(obj.get("function"), dict):
        obj = obj["function"]
    if not isinstance(obj, dict):
        raise _Bad(f"{where} must be a JSON object with \"name\" and \"arguments\", got {_type_name(obj)}")
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _Bad(f"{where} has no \"name\" (a string)")
    return name.strip(), _arguments(obj.get("arguments"), name.strip())


# --------------------------------------------------------------------------- per format
def _hermes(text: str, blocks: list[tuple[int, int]], max_calls: int) -> list[tuple[str, dict[str, Any]]]:
    if len(blocks) > max_calls:
        raise _Bad(f"too many tool calls: {len(blocks)} (the limit is {max_calls} per message)")
    out = []
    for i, (a, b) in enumerate(blocks, 1):
        body = text[a:b].strip()
        where = f"<tool_call> block {i}" if len(blocks) > 1 else "the <tool_call> block"
        if not body:
            raise _Bad(f"{where} is empty")
        out.append(_call_from_json(_loads(body, where), where))
    return out


def _openai_attempt(rest: str) -> bool:
    s = rest.strip()
    return bool(s) and (s[0] in "{[" or _FENCE in s or '"name"' in s or '"tool_calls"' in s)


def _openai_payloads(rest: str) -> list[str]:
    if _FENCE in rest and rest.lstrip()[:1] not in ("{", "["):
        payloads, pos = [], 0
        while True:
            a = rest.find(_FENCE, pos)
            if a < 0:
                break
            b = rest.find(_FENCE, a + 3)
            if b < 0:
                raise _Bad("a ``` fence is never closed")
            body = rest[a + 3:b]
            first, nl, tail = body.partition("\n")
            if nl and (not first.strip() or _IDENT.match(first.strip())):  # language tag such as json
                body = tail
            payloads.append(body.strip())
            pos = b + 3
        return payloads
    starts = [i for i in (rest.find("{"), rest.find("[")) if i >= 0]
    if not starts:
        raise _Bad("no JSON tool call found")
    return [rest[min(starts):].strip()]


def _openai(rest: str, max_calls: int) -> list[tuple[str, dict[str, Any]]]:
    entries: list[tuple[Any, str]] = []
    payloads = _openai_payloads(rest)
    for p, payload in enumerate(payloads, 1):
        what = f"the JSON in fence {p}" if len(payloads) > 1 else "the tool-call JSON"
        if not payload:
            raise _Bad(f"{what} is empty")
        value = _loads(payload, what)
        if isinstance(value, dict) and "tool_calls" in value:
            value = value["tool_calls"]
            if not isinstance(value, list):
                raise _Bad(f"\"tool_calls\" must be a list, got {_type_name(value)}")
            if not value:
                raise _Bad("\"tool_calls\" is empty")
        items = value if isinstance(value, list) else [value]
        if not items:
            raise _Bad(f"{what} is an empty list")
        entries.extend((item, f"tool call {len(entries) + k + 1}") for k, item in enumerate(items))
        if len(entries) > max_calls:
            raise _Bad(f"too many tool calls: {len(entries)} (the limit is {max_calls} per message)")
    return [_call_from_json(item, where) for item, where in entries]


def _plain_lines(rest: str) -> list[tuple[int, str]]:
    out = []
    for n, line in enumerate(rest.split("\n"), 1):
        s = line.strip().strip("`").strip()
        if _PLAIN_CALL.match(s):
            out.append((n, s))
    return out


def _literal(node: ast.AST, where: str) -> Any:
    """A JSON-compatible value from a literal AST node (nothing is evaluated)."""
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, float) and not math.isfinite(v):
            raise _Bad(f"{where}: numbers must be finite")
        if v is None or isinstance(v, (str, bool, int, float)):
            return v
        raise _Bad(f"{where}: {type(v).__name__} values are not allowed")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) \
            and isinstance(node.operand, ast.Constant) and type(node.operand.value) in (int, float):
        v = node.operand.value
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e, where) for e in node.elts]
    if isinstance(node, ast.Dict):
        out = {}
        for k, v in zip(node.keys, node.values, strict=True):
            if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                raise _Bad(f"{where}: dict keys must be quoted strings")
            out[k.value] = _literal(v, where)
        return out
    if isinstance(node, ast.Name):
        fix = {"true": "True", "false": "False", "null": "None", "none": "None"}.get(node.id.lower())
        if fix:
            raise _Bad(f"{where}: write {fix}, not {node.id}")
        raise _Bad(f"{where}: names are not values; quote strings, e.g. \"{node.id}\"")
    raise _Bad(f"{where}: only literals are allowed (quoted strings, numbers, True/False/None, lists, dicts)")


def _plain(rest: str, max_calls: int) -> list[tuple[str, dict[str, Any]]]:
    lines = _plain_lines(rest)
    if len(lines) > max_calls:
        raise _Bad(f"too many tool calls: {len(lines)} (the limit is {max_calls} per message)")
    out = []
    for n, line in lines:
        where = f"line {n}"
        try:
            tree = ast.parse(line, mode="eval")
        except RecursionError:
            raise _Bad(f"{where} is nested too deeply") from None
        except (SyntaxError, ValueError, MemoryError) as e:
            detail = e.msg if isinstance(e, SyntaxError) else _short(e)
            raise _Bad(f"could not parse {where} {describe(line)} as a call ({detail}); "
                       "one call per line, strings quoted and escaped") from None
        call = tree.body
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
            raise _Bad(f"{where} is not a single call name(arg=value)")
        name = call.func.id
        if call.args:
            raise _Bad(f"{where}: use keyword arguments, name(arg=value), not positional ones", tool=name)
        args: dict[str, Any] = {}
        for kw in call.keywords:
            if kw.arg is None:
                raise _Bad(f"{where}: ** unpacking is not allowed", tool=name)
            args[kw.arg] = _literal(kw.value, f"{where}, argument {kw.arg!r}")
        out.append((name, args))
    return out


# --------------------------------------------------------------------------- public API
def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ConfigError("fmt", "one of " + ", ".join(FORMATS), fmt, FORMATS)


def parse_turn(text: object, fmt: str, tools: Mapping[str, Any] | Sequence[Any] | None,
               max_calls: int = MAX_CALLS, max_chars: int = MAX_CHARS) -> ParsedTurn:
    """Parses one model message into tool calls or a final answer (rules in the module docstring).

    Args:
        text: The raw model output (anything; non-strings are an error, not an exception).
        fmt: One of :data:`FORMATS`.
        tools: The available tools: ``name -> Tool``, ``name -> parameters schema``, or a sequence of
            Tools / OpenAI ``tools`` entries.
        max_calls: Most tool calls accepted in one message.
        max_chars: Longest message accepted (longer ones are rejected without being scanned).

    Returns:
        A :class:`ParsedTurn`: calls, or an answer, or an error that shows the right form.

    Raises:
        ConfigError: When ``fmt`` is not a known format (configuration, never input).
    """
    _check_format(fmt)
    specs = _specs(tools)
    try:
        return _parse(text, fmt, specs, max_calls, max_chars)
    except _Bad as e:
        return ParsedTurn(error=f"{e}. {_hint(fmt, specs, e.tool)}")
    except Exception as e:  # bad input must never crash the env
        return ParsedTurn(error=f"could not parse the message ({type(e).__name__}). {_hint(fmt, specs)}")


def _parse(text: object, fmt: str, specs: dict[str, dict[str, Any]], max_calls: int, max_chars: int) -> ParsedTurn:
    if not isinstance(text, str):
        raise _Bad(f"expected the message as text (str), got {type(text).__name__}")
    if len(text) > max_chars:
        raise _Bad(f"message is {len(text):,} characters long; the limit is {max_chars:,}")
    if not text.strip():
        raise _Bad("empty message")
    call_spans, answer_spans, blocks = _scan_tags(text, with_calls=fmt == "hermes")
    answer = text[answer_spans[-1][0]:answer_spans[-1][1]].strip() if answer_spans else None
    rest = _outside(text, blocks) if answer_spans else text
    if fmt == "hermes":
        attempt = bool(call_spans)
    elif fmt == "openai":
        attempt = _openai_attempt(rest)
    else:
        attempt = bool(_plain_lines(rest))
    if answer is not None and attempt:
        raise _Bad("give either tool calls or an answer in one message, not both")
    if answer is not None:
        if not answer:
            raise _Bad("empty <answer></answer>")
        return ParsedTurn(answer=answer)
    if not attempt:
        raise _Bad(f"no tool call or answer found in {describe(text)}")
    if fmt == "hermes":
        raw = _hermes(text, call_spans, max_calls)
    elif fmt == "openai":
        raw = _openai(rest, max_calls)
    else:
        raw = _plain(rest, max_calls)
    if len(raw) > max_calls:
        raise _Bad(f"too many tool calls: {len(raw)} (the limit is {max_calls} per message)")
    calls = []
    for name, args in raw:
        if name not in specs:
            guess = nearest(name, specs)
            tip = f" (did you mean {guess!r}?)" if guess else ""
            raise _Bad(f"unknown tool {describe(name)}{tip}; available: {', '.join(sorted(specs)) or 'none'}",
                       tool=guess)
        problem = validate_arguments(args, specs[name])
        if problem:
            raise _Bad(f"bad arguments for {name!r}: {problem}", tool=name)
        calls.append(ToolCall(name, args))
    return ParsedTurn(calls=tuple(calls))


def _json(value: Any) -> str:
    r"""JSON that never contains one of our tags: their ``<`` is written ``\u003c`` (only there)."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: escape them, or a tokenizer (or ast) would choke
        text = json.dumps(value, ensure_ascii=True, allow_nan=False)
    return _TAG_START.sub(r"\\u003c", text)


def _py(value: Any) -> str:
    """A Python literal for a JSON-compatible value (strings via JSON, which Python reads the same)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, (int, float, str)):
        return _json(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_py(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_json(str(k))}: {_py(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot render {type(value).__name__} as a tool argument")


def render_calls(calls: Sequence[ToolCall], fmt: str) -> str:
    """Writes tool calls the way a model should in ``fmt`` (the inverse of :func:`parse_turn`).

    Args:
        calls: The calls (JSON-compatible, finite arguments).
        fmt: One of :data:`FORMATS`.

    Returns:
        ``hermes``: one ``<tool_call>`` block per call; ``openai``: one ``{"tool_calls": […]}`` object
        with arguments as objects; ``plain``: one ``name(arg=value)`` line per call.

    Raises:
        ConfigError: Unknown format.
        TypeError, ValueError: Arguments that are not JSON-compatible or not finite.
    """
    _check_format(fmt)
    if fmt == "hermes":
        return "\n".join(f"<tool_call>\n{_json({'name': c.name, 'arguments': c.arguments})}\n</tool_call>"
                         for c in calls)
    if fmt == "openai":
        return _json({"tool_calls": [{"type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                                     for c in calls]})
    return "\n".join(f"{c.name}({', '.join(f'{k}={_py(v)}' for k, v in c.arguments.items())})" for c in calls)


def render_answer(text: str) -> str:
    """The final-answer form: ``<answer>text</answer>``."""
    return f"<answer>{text}</answer>"


def format_instructions(fmt: str, tools: Mapping[str, Any] | Sequence[Any], max_calls: int = MAX_CALLS) -> str:
    """The system-prompt paragraph for ``fmt``: the tools as JSON schemas, how to call, how to answer.

    Args:
        fmt: One of :data:`FORMATS`.
        tools: The available tools (as for :func:`parse_turn`).
        max_calls: The per-message call limit to state.

    Returns:
        Text listing every tool's OpenAI schema, the exact call syntax with one example call, and the
        answer form.
    """
    _check_format(fmt)
    specs = _specs(tools)
    schemas = "\n".join(json.dumps(d, ensure_ascii=False) for d in _descriptions(tools)) or "(no tools)"
    example = render_calls([_example_call(None, specs)], fmt)
    head = ("# Tools\n\nYou may call tools to help answer. The tools, as JSON schemas:\n"
            f"<tools>\n{schemas}\n</tools>\n\n")
    if fmt == "hermes":
        how = ("To call a tool, write a JSON object with its name and arguments inside <tool_call></tool_call> "
               f"tags, one call per block, for example:\n{example}\n"
               "The results come back in <tool_response></tool_response> blocks, in the order of the calls.")
    elif fmt == "openai":
        how = ("To call tools, write one JSON object {\"tool_calls\": [...]} (a ```json fence is fine; "
               "\"arguments\" may be an object or a JSON string), for example:\n"
               f"{example}\nThe results come back as JSON lines "
               '{"role": "tool", "name": ..., "content": ...}.')
    else:
        how = ("To call a tool, write one call per line as name(argument=value), keyword arguments only, values "
               "as Python literals (quoted strings with \\n for line breaks, numbers, True/False/None, lists, "
               f"dicts), for example:\n{example}\nEach result comes back after a line '>>> call'.")
    tail = (f"\nYou may make up to {max_calls} calls in one message. When you know the final answer, reply with "
            f"{ANSWER_FORM} and no tool calls in the same message.")
    return head + how + tail


def render_results(calls: Sequence[ToolCall], results: Sequence[ToolResult], fmt: str,
                   max_chars: int = 2000) -> str:
    """Shows tool outputs to the agent, each truncated (head and tail) to ``max_chars``.

    Args:
        calls: The calls that ran.
        results: Their results, in the same order.
        fmt: One of :data:`FORMATS`.
        max_chars: Longest output shown per call; failed calls are prefixed ``Error: ``.

    Returns:
        ``hermes``: ``<tool_response>`` blocks; ``openai``: JSON lines ``{"role": "tool", …}``;
        ``plain``: ``>>> call`` then the output, per call.

    Raises:
        ConfigError: Unknown format.
        ValueError: ``calls`` and ``results`` differ in length.
    """
    _check_format(fmt)
    if len(calls) != len(results):
        raise ValueError(f"{len(calls)} calls but {len(results)} results")
    blocks = []
    for call, result in zip(calls, results, strict=True):
        out = truncate(("" if result.ok else "Error: ") + str(result.output), max_chars)
        if fmt == "hermes":
            blocks.append(f"<tool_response>\n{out}\n</tool_response>")
        elif fmt == "openai":
            blocks.append(json.dumps({"role": "tool", "name": call.name, "content": out}, ensure_ascii=False))
        else:
            try:
                shown = render_calls([call], "plain")
            except (TypeError, ValueError):
                shown = f"{call.name}(...)"
            blocks.append(f">>> {truncate(shown, 200)}\n{out}")
    return "\n".join(blocks)
