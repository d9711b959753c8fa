"""Parsing BrowserGym-style browser actions (``click('12')``) without evaluating them.

An action is model output, hence hostile (DESIGN §3, Bad input). It is parsed with Python's ``ast`` into one
call of a known function whose arguments are literals (strings and numbers only): nothing is ever evaluated,
so ``__import__('os').system(...)`` is a parse error like any other. The accepted forms:

1. the bare call, ``click('12')``;
2. the call inside the *last* ``<action>…</action>`` tag, so a model may think out loud first (the same rule
   as ``turngym.envs.core.parsing``);
3. keyword arguments with the documented names (``fill(bid='7', value='red shoes')``).

The function names and signatures follow BrowserGym's high-level action set (``browsergym.core.action``).
This module imports nothing from playwright, so it is usable (and tested) without a browser.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from turngym.envs.core.parsing import MAX_ACTION_CHARS, describe

_TAG = re.compile(r"<action>(.*?)</action>", re.IGNORECASE | re.DOTALL)

#: Longest text ``fill`` accepts (characters). Longer values are refused instead of typed into a page.
MAX_FILL_CHARS = 10_000
#: Largest scroll offset, in CSS pixels, either way.
MAX_SCROLL = 100_000

#: name -> ordered (argument name, type) pairs. ``str`` arguments must be strings, ``float`` ones numbers.
SIGNATURES: dict[str, tuple[tuple[str, type], ...]] = {
    "click": (("bid", str),),
    "dblclick": (("bid", str),),
    "hover": (("bid", str),),
    "focus": (("bid", str),),
    "clear": (("bid", str),),
    "fill": (("bid", str), ("value", str)),
    "select_option": (("bid", str), ("options", str)),
    "press": (("bid", str), ("key_comb", str)),
    "scroll": (("delta_x", float), ("delta_y", float)),
    "go_back": (),
    "go_forward": (),
    "noop": (),
}

#: One line per action, for error messages and docs.
USAGE: tuple[str, ...] = (
    "click('<id>')", "dblclick('<id>')", "hover('<id>')", "focus('<id>')", "clear('<id>')",
    "fill('<id>', '<text>')", "select_option('<id>', '<option text>')", "press('<id>', '<key, e.g. Enter>')",
    "scroll(<dx>, <dy>)", "go_back()", "go_forward()", "noop()",
)
#: The short reminder appended to every invalid-action message.
ACCEPTED = "accepted actions: " + ", ".join(USAGE)

_BID = re.compile(r"^[A-Za-z]{0,3}[0-9]{1,9}$")
#: Playwright key names: letters, digits and a few separators (``Control+Shift+A``, ``Enter``, ``ArrowDown``).
_KEY = re.compile(r"^[A-Za-z0-9+_ ]{1,40}$|^[!-~]$")


@dataclass(frozen=True)
class BrowserAction:
    """A parsed action: the function name and its arguments, in signature order.

    Attributes:
        name: One of ``SIGNATURES``.
        args: The argument values (``str`` or ``float``), in the order of ``SIGNATURES[name]``.
    """

    name: str
    args: tuple[str | float, ...] = ()

    @property
    def bid(self) -> str | None:
        """The element id the action targets, or None for page-level actions (scroll, go_back, noop)."""
        spec = SIGNATURES[self.name]
        return str(self.args[0]) if spec and spec[0][0] == "bid" else None

    def text(self) -> str:
        """The canonical action string (``parse_action(a.text()) == a``)."""
        parts = [repr(a) if isinstance(a, str) else format(a, "g") for a in self.args]
        return f"{self.name}({', '.join(parts)})"


class ActionError(ValueError):
    """An action string is not one accepted call; ``str(error)`` is the short message for the observation."""


def parse_action(action: object) -> BrowserAction:
    """Parses one BrowserGym-style call (rules in the module docstring).

    Args:
        action: Raw model output.

    Returns:
        The parsed action.

    Raises:
        ActionError: With a short, specific message (never any other exception).
    """
    if not isinstance(action, str):
        raise ActionError(f"expected the action as text (str), got {type(action).__name__}")
    if len(action) > MAX_ACTION_CHARS:
        raise ActionError(f"action is {len(action):,} characters long; the limit is {MAX_ACTION_CHARS:,}")
    body = action
    if "<" in body:
        tags = _TAG.findall(body)
        if tags:
            body = tags[-1]
    body = body.strip().strip("`").strip()
    if not body:
        raise ActionError("empty action")
    try:
        body.encode("utf-8")
    except UnicodeEncodeError:
        raise ActionError(f"the action holds characters that are not valid Unicode text: {describe(action)}") from None
    try:
        tree = ast.parse(body, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise ActionError(f"expected one call such as click('12'), got {describe(body)}") from None
    call = tree.body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise ActionError(f"expected one call such as click('12'), got {describe(body)}")
    name = call.func.id
    spec = SIGNATURES.get(name)
    if spec is None:
        raise ActionError(f"unknown action {name!r}")
    values = [_literal(a, name) for a in call.args]
    if len(values) > len(spec):
        raise ActionError(f"{name} takes {len(spec)} argument(s), got {len(values)}")
    by_name = {arg: None for arg, _ in spec}
    for (arg, _), value in zip(spec, values, strict=False):
        by_name[arg] = value
    for kw in call.keywords:
        if kw.arg is None or kw.arg not in by_name:
            raise ActionError(f"{name} has no argument {kw.arg!r}; it takes ({', '.join(by_name)})")
        if by_name[kw.arg] is not None:
            raise ActionError(f"{name} got argument {kw.arg!r} twice")
        by_name[kw.arg] = _literal(kw.value, name)
    args: list[str | float] = []
    for arg, typ in spec:
        value = by_name[arg]
        if value is None:
            raise ActionError(f"{name} is missing its argument {arg!r}")
        args.append(_typed(name, arg, typ, value))
    return BrowserAction(name, tuple(args))


def _literal(node: ast.expr, name: str) -> str | float:
    """A string or number literal (``-5`` included); anything else is refused, never evaluated."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _literal(node.operand, name)
        if isinstance(inner, str):
            raise ActionError(f"{name}: arguments must be string or number literals")
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Constant) and type(node.value) in (str, int, float):
        return node.value
    raise ActionError(f"{name}: arguments must be string or number literals")


def _typed(name: str, arg: str, typ: type, value: str | float) -> str | float:
    """Checks one argument's type and range."""
    if typ is float:
        if isinstance(value, str):
            raise ActionError(f"{name}: {arg} must be a number, got a string")
        number = float(value)
        if not abs(number) <= MAX_SCROLL:  # also false for NaN
            raise ActionError(f"{name}: {arg} must be a number within ±{MAX_SCROLL:,}")
        return number
    if isinstance(value, int | float):  # click(12) for click('12'): ids are strings, but numbers are obvious
        if arg != "bid" or not float(value).is_integer():
            raise ActionError(f"{name}: {arg} must be a string")
        value = str(int(value))
    if arg == "bid" and not _BID.match(value):
        raise ActionError(f"{name}: {describe(value)} is not an element id (ids look like '12')")
    if arg == "value" and len(value) > MAX_FILL_CHARS:
        raise ActionError(f"{name}: the text is {len(value):,} characters long; the limit is {MAX_FILL_CHARS:,}")
    if arg == "key_comb" and not _KEY.match(value):
        raise ActionError(f"{name}: {describe(value)} is not a key name (e.g. 'Enter', 'Tab', 'Control+a')")
    if arg == "options" and not 0 < len(value) <= 1_000:
        raise ActionError(f"{name}: the option text must have 1 to 1,000 characters")
    if "\x00" in value:
        raise ActionError(f"{name}: {arg} must not contain NUL characters")
    return value
