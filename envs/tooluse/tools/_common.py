"""Helpers shared by the tools: argument checking against the tool's own schema, and safe calls.

Every tool's ``call`` must return a ``ToolResult`` on any input (``base.Tool``). ``safe_call`` wraps a
tool body so that bad arguments and unexpected exceptions become ``ok=False`` results whose message
names the arguments the tool expects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from turngym.envs.core.spaces import truncate
from turngym.envs.tooluse.base import ToolResult

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def string_schema(name: str, description: str) -> dict[str, Any]:
    """A JSON schema object with one required string property ``name``."""
    return {
        "type": "object",
        "properties": {name: {"type": "string", "description": description}},
        "required": [name],
        "additionalProperties": False,
    }


def expected_arguments(tool_name: str, parameters: Mapping[str, Any]) -> str:
    """Describes the arguments a tool expects, e.g. ``calculator expects {"expression": string}``."""
    props = parameters.get("properties", {})
    required = set(parameters.get("required", []))
    parts = [f'"{k}": {v.get("type", "any")}{"" if k in required else " (optional)"}' for k, v in props.items()]
    return f"{tool_name} expects arguments {{{', '.join(parts)}}}"


def check_arguments(tool_name: str, parameters: Mapping[str, Any], arguments: Any) -> str | None:
    """Returns None when ``arguments`` match the schema's properties, else what is wrong and expected.

    Only the flat schemas the tools use are supported: an object of scalar properties, some required,
    no others allowed.
    """
    expected = expected_arguments(tool_name, parameters)
    if not isinstance(arguments, Mapping):
        return f"arguments must be a JSON object, got {type(arguments).__name__}; {expected}"
    props: Mapping[str, Any] = parameters.get("properties", {})
    missing = [k for k in parameters.get("required", []) if k not in arguments]
    if missing:
        return f"missing argument(s) {', '.join(map(repr, missing))}; {expected}"
    extra = [str(k) for k in arguments if k not in props]
    if extra:
        shown = ", ".join(repr(k[:40]) for k in extra[:5])
        return f"unexpected argument(s) {shown}; {expected}"
    for key, value in arguments.items():
        want = props[key].get("type")
        types = _JSON_TYPES.get(want) if isinstance(want, str) else None
        if types is None:
            continue
        bad_bool = isinstance(value, bool) and want in ("integer", "number")
        if bad_bool or not isinstance(value, types):
            return f"argument {key!r} must be a {want}, got {_json_type(value)}; {expected}"
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def safe_call(
    tool_name: str,
    parameters: Mapping[str, Any],
    arguments: Any,
    body: Callable[[dict[str, Any]], ToolResult],
    max_output_chars: int,
) -> ToolResult:
    """Checks ``arguments``, runs ``body`` and turns any exception into an ``ok=False`` result.

    The output is truncated (head and tail kept) to ``max_output_chars``.
    """
    problem = check_arguments(tool_name, parameters, arguments)
    if problem is not None:
        return ToolResult(False, problem)
    try:
        result = body(dict(arguments))
    except (RecursionError, MemoryError) as exc:
        return ToolResult(False, f"{tool_name}: input too complex ({type(exc).__name__})")
    except Exception as exc:  # noqa: BLE001 - a tool never raises (base.Tool contract)
        return ToolResult(False, f"{tool_name}: internal error: {type(exc).__name__}: {exc}")
    return ToolResult(result.ok, truncate(result.output, max_output_chars), result.infra_error)
