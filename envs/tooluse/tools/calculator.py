"""An exact calculator: arithmetic over rationals, evaluated by walking Python's ``ast`` (never ``eval``).

Numbers are ``fractions.Fraction``: ``0.1 + 0.2`` is exactly ``3/10``, and integers of any size (up to a
digit cap) are exact. Every operation is checked before it runs, so hostile input (``9**9**9``, a
million-character expression, ``__import__('os')``, attribute access, lambdas) is refused quickly
instead of exhausting time or memory.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

from turngym.envs.tooluse.base import ToolResult
from turngym.envs.tooluse.tools._common import safe_call, string_schema

MAX_EXPRESSION_CHARS = 1000
"""Longest expression accepted (characters)."""
MAX_DIGITS = 4000
"""Largest numerator or denominator of any intermediate value (decimal digits); below Python's 4300-digit
``int``-to-``str`` limit so every result can be printed."""
MAX_EXPONENT = 100_000
"""Largest integer exponent magnitude (before the digit estimate is applied)."""
MAX_FACTORIAL = 1000
"""Largest argument of ``factorial`` (1000! has 2568 digits)."""
DECIMAL_PLACES = 10
"""Places shown in the decimal rendering of a non-integer result."""

_MAX_BITS = int(MAX_DIGITS * math.log2(10)) + 1
_FLOAT_LITERAL = re.compile(r"^(\d[\d_]*)?(?:\.([\d_]*))?(?:[eE]([+-]?[\d_]+))?$")
_UNICODE_OPERATORS = str.maketrans({"×": "*", "÷": "/", "−": "-", "–": "-", "·": "*"})


class CalcError(Exception):
    """An expression the calculator refuses or cannot evaluate (reported to the agent)."""


class _Value:
    """A rational value and whether it is exact (``sqrt`` of a non-square and real powers are not)."""

    __slots__ = ("exact", "q")

    def __init__(self, q: Fraction, exact: bool = True):
        self.q = q
        self.exact = exact


def _check_size(q: Fraction) -> Fraction:
    if q.numerator.bit_length() > _MAX_BITS or q.denominator.bit_length() > _MAX_BITS:
        raise CalcError(f"result too large (more than {MAX_DIGITS} digits)")
    return q


def _digits_estimate(q: Fraction) -> float:
    """log10 of the larger of |numerator| and denominator (the digits of ``q ** n`` are ~``n`` times it)."""
    return max(math.log10(abs(q.numerator)) if q.numerator else 0.0, math.log10(q.denominator))


def _as_int(v: _Value, what: str) -> int:
    if v.q.denominator != 1:
        raise CalcError(f"{what} needs an integer, got {_render_plain(v)}")
    return v.q.numerator


def _power(base: _Value, exp: _Value) -> _Value:
    b, e = base.q, exp.q
    exact = base.exact and exp.exact
    if e.denominator == 1:
        n = e.numerator
        if abs(n) > MAX_EXPONENT or (abs(b) != 1 and b != 0 and abs(n) * _digits_estimate(b) > MAX_DIGITS):
            raise CalcError(f"power too large: the result would exceed {MAX_DIGITS} digits")
        if b == 0 and n < 0:
            raise CalcError("division by zero (0 raised to a negative power)")
        return _Value(_check_size(b**n), exact)
    # A non-integer exponent: an exact rational root when there is one, else a float approximation.
    if b < 0:
        raise CalcError("a negative number raised to a non-integer power is not a real number")
    root = _exact_root(b, e.denominator) if e.denominator <= 64 else None
    if root is not None:
        return _power(_Value(root, exact), _Value(Fraction(e.numerator), exact))
    try:
        approx = float(b) ** float(e)
    except OverflowError as exc:
        raise CalcError("power too large") from exc
    if math.isinf(approx):
        raise CalcError("power too large")
    return _Value(_check_size(Fraction(approx)), False)


def _exact_root(q: Fraction, n: int) -> Fraction | None:
    """The exact ``n``-th root of a non-negative rational, or None when it is irrational."""

    def iroot(x: int) -> int | None:
        if x < 2:
            return x
        r = round(x ** (1.0 / n)) if x.bit_length() < 1000 else _int_nth_root(x, n)
        for cand in (r - 1, r, r + 1):
            if cand >= 0 and cand**n == x:
                return cand
        return None

    num, den = iroot(q.numerator), iroot(q.denominator)
    return None if num is None or den is None else Fraction(num, den)


def _int_nth_root(x: int, n: int) -> int:
    lo, hi = 0, 1 << (x.bit_length() // n + 1)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if mid**n <= x:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _sqrt(v: _Value) -> _Value:
    if v.q < 0:
        raise CalcError("sqrt of a negative number is not a real number")
    root = _exact_root(v.q, 2)
    if root is not None:
        return _Value(root, v.exact)
    with localcontext() as ctx:
        ctx.prec = 40
        d = Decimal(v.q.numerator) / Decimal(v.q.denominator)
        return _Value(Fraction(d.sqrt()), False)


def _round(v: _Value, ndigits: _Value | None = None) -> _Value:
    if ndigits is None:
        return _Value(Fraction(round(v.q)), v.exact)
    n = _as_int(ndigits, "round's second argument")
    if abs(n) > MAX_DIGITS:
        raise CalcError(f"round's second argument must be at most {MAX_DIGITS} in size")
    return _Value(_check_size(Fraction(round(v.q, n))), v.exact)


def _factorial(v: _Value) -> _Value:
    n = _as_int(v, "factorial")
    if n < 0 or n > MAX_FACTORIAL:
        raise CalcError(f"factorial needs an integer from 0 to {MAX_FACTORIAL}")
    return _Value(Fraction(math.factorial(n)))


def _comb(n: _Value, k: _Value) -> _Value:
    a, b = _as_int(n, "comb"), _as_int(k, "comb")
    if a < 0 or b < 0 or a > 10_000:
        raise CalcError("comb(n, k) needs integers 0 <= k, 0 <= n <= 10000")
    return _Value(_check_size(Fraction(math.comb(a, b))))


def _int_fold(name: str, fn: Callable[..., int]) -> Callable[..., _Value]:
    def run(*args: _Value) -> _Value:
        if not args:
            raise CalcError(f"{name} needs at least one argument")
        return _Value(_check_size(Fraction(fn(*(_as_int(a, name) for a in args)))))

    return run


def _min_max(fn: Callable[..., Fraction], name: str) -> Callable[..., _Value]:
    def run(*args: _Value) -> _Value:
        if not args:
            raise CalcError(f"{name} needs at least one argument")
        best = fn(args, key=lambda v: v.q)
        return _Value(best.q, all(a.exact for a in args))

    return run


_FUNCTIONS: dict[str, tuple[Callable[..., _Value], int, int]] = {
    # name: (implementation, min args, max args)
    "sqrt": (_sqrt, 1, 1),
    "abs": (lambda v: _Value(abs(v.q), v.exact), 1, 1),
    "round": (_round, 1, 2),
    "floor": (lambda v: _Value(Fraction(math.floor(v.q)), v.exact), 1, 1),
    "ceil": (lambda v: _Value(Fraction(math.ceil(v.q)), v.exact), 1, 1),
    "min": (_min_max(min, "min"), 1, 100),
    "max": (_min_max(max, "max"), 1, 100),
    "factorial": (_factorial, 1, 1),
    "comb": (_comb, 2, 2),
    "gcd": (_int_fold("gcd", math.gcd), 1, 100),
    "lcm": (_int_fold("lcm", math.lcm), 1, 100),
}
FUNCTION_NAMES = tuple(sorted(_FUNCTIONS))


class _Evaluator:
    """Evaluates the whitelisted subset of Python expression syntax over ``_Value``."""

    def __init__(self, source: str):
        self.source = source

    def eval(self, node: ast.AST) -> _Value:
        if isinstance(node, ast.Expression):
            return self.eval(node.body)
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
            v = self.eval(node.operand)
            return _Value(-v.q if isinstance(node.op, ast.USub) else v.q, v.exact)
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Name):
            raise CalcError(f"unknown name {node.id!r}: only numbers, operators and the functions "
                            f"{', '.join(FUNCTION_NAMES)} are allowed")
        raise CalcError(f"{type(node).__name__} is not allowed: use numbers, + - * / // % **, "
                        f"parentheses and {', '.join(FUNCTION_NAMES)}")

    def _constant(self, node: ast.Constant) -> _Value:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CalcError(f"only numbers are allowed, got {type(value).__name__} {str(value)[:20]!r}")
        if isinstance(value, int):
            return _Value(_check_size(Fraction(value)))
        # Floats are read from their source text, so 0.1 is exactly 1/10 (not the binary double).
        text = (ast.get_source_segment(self.source, node) or repr(value)).replace("_", "")
        m = _FLOAT_LITERAL.match(text)
        if m is None:
            raise CalcError(f"cannot read the number {text[:30]!r}")
        if m.group(3) is not None and abs(int(m.group(3))) > MAX_DIGITS:
            raise CalcError(f"number too large: {text[:30]!r}")
        return _Value(_check_size(Fraction(text)))

    def _binop(self, node: ast.BinOp) -> _Value:
        op = node.op
        if isinstance(op, ast.BitXor):
            raise CalcError("'^' is not a power here: write a ** b for powers")
        left = self.eval(node.left)
        right = self.eval(node.right)
        exact = left.exact and right.exact
        a, b = left.q, right.q
        if isinstance(op, ast.Add):
            return _Value(_check_size(a + b), exact)
        if isinstance(op, ast.Sub):
            return _Value(_check_size(a - b), exact)
        if isinstance(op, ast.Mult):
            return _Value(_check_size(a * b), exact)
        if isinstance(op, ast.Pow):
            return _power(left, right)
        if isinstance(op, (ast.Div, ast.FloorDiv, ast.Mod)):
            if b == 0:
                raise CalcError("division by zero")
            if isinstance(op, ast.Div):
                return _Value(_check_size(a / b), exact)
            if isinstance(op, ast.FloorDiv):
                return _Value(Fraction(a // b), exact)
            return _Value(_check_size(a % b), exact)
        raise CalcError(f"operator {type(op).__name__} is not allowed: use + - * / // % **")

    def _call(self, node: ast.Call) -> _Value:
        if not isinstance(node.func, ast.Name):
            raise CalcError(f"calling {type(node.func).__name__} is not allowed: the only functions are "
                            f"{', '.join(FUNCTION_NAMES)}")
        if node.func.id not in _FUNCTIONS:
            raise CalcError(f"unknown function {node.func.id!r}: allowed are {', '.join(FUNCTION_NAMES)}")
        if node.keywords:
            raise CalcError("keyword arguments are not allowed")
        fn, lo, hi = _FUNCTIONS[node.func.id]
        if not lo <= len(node.args) <= hi:
            raise CalcError(f"{node.func.id} takes {lo if lo == hi else f'{lo} to {hi}'} argument(s), "
                            f"got {len(node.args)}")
        args = [self.eval(a) for a in node.args]
        return fn(*args)


def evaluate(expression: str) -> tuple[Fraction, bool]:
    """Evaluates ``expression`` exactly.

    Args:
        expression: Arithmetic in Python syntax (``**`` for powers).

    Returns:
        The value and whether it is exact.

    Raises:
        CalcError: On anything outside the allowed syntax, division by zero or a size cap.
    """
    text = expression.translate(_UNICODE_OPERATORS).strip()
    if not text:
        raise CalcError("empty expression")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise CalcError(f"expression too long ({len(text)} characters; at most {MAX_EXPRESSION_CHARS})")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError) as exc:
        msg = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise CalcError(f"cannot parse the expression: {msg}") from None
    v = _Evaluator(text).eval(tree)
    return v.q, v.exact


def _render_plain(v: _Value) -> str:
    return str(v.q.numerator) if v.q.denominator == 1 else f"{v.q.numerator}/{v.q.denominator}"


def _decimal(q: Fraction, places: int = DECIMAL_PLACES) -> tuple[str, bool]:
    """``q`` as a decimal string, and whether that string is exact."""
    scaled = round(q * 10**places)
    exact = Fraction(scaled, 10**places) == q
    if scaled == 0 and q != 0:  # too small for fixed places: scientific notation
        with localcontext() as ctx:
            ctx.prec = places
            return f"{Decimal(q.numerator) / Decimal(q.denominator):.{places - 1}E}", False
    sign = "-" if scaled < 0 else ""
    whole, frac = divmod(abs(scaled), 10**places)
    frac_text = str(frac).rjust(places, "0").rstrip("0")
    return (f"{sign}{whole}.{frac_text}" if frac_text else f"{sign}{whole}"), exact


def format_value(q: Fraction, exact: bool = True) -> str:
    """Renders a result: ``42``; ``3/10 = 0.3``; ``7/3 ≈ 2.3333333333``; ``≈ 1.4142135624`` if inexact."""
    if not exact:
        return f"≈ {_decimal(q)[0]}"
    if q.denominator == 1:
        return str(q.numerator)
    dec, dec_exact = _decimal(q)
    return f"{q.numerator}/{q.denominator} {'=' if dec_exact else '≈'} {dec}"


class CalculatorTool:
    """Exact arithmetic on rationals.

    Attributes:
        name: ``"calculator"``.
        description: What the model is told.
        parameters: ``{"expression": string}``.
        max_output_chars: Output cap (results are capped at ``MAX_DIGITS`` digits anyway).
    """

    name = "calculator"
    description = (
        "Evaluates an arithmetic expression exactly (rational arithmetic, big integers). Python syntax: "
        "+ - * / // % ** and parentheses; functions " + ", ".join(FUNCTION_NAMES) + ". "
        "Non-integer results are shown as a reduced fraction and a decimal, e.g. '7/3 ≈ 2.3333333333'."
    )
    parameters: dict[str, Any] = string_schema("expression", "The expression, e.g. '(17 + 4) * 3 / 7'.")

    def __init__(self, max_output_chars: int = 5000):
        self.max_output_chars = int(max_output_chars)

    def call(self, arguments: dict[str, Any]) -> ToolResult:
        """Evaluates ``arguments["expression"]``; errors come back as ``ok=False`` results."""
        return safe_call(self.name, self.parameters, arguments, self._run, self.max_output_chars)

    def _run(self, arguments: dict[str, Any]) -> ToolResult:
        try:
            q, exact = evaluate(arguments["expression"])
        except CalcError as exc:
            return ToolResult(False, f"error: {exc}")
        except ZeroDivisionError:
            return ToolResult(False, "error: division by zero")
        except (OverflowError, ValueError) as exc:
            return ToolResult(False, f"error: {exc}")
        return ToolResult(True, format_value(q, exact))
