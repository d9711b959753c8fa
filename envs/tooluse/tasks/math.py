"""ToolMath: word problems whose exact answers need a calculator or a short program.

Six kinds of problem, each scaled by difficulty in magnitude and number of steps:

- ``shopping``: sum of price x quantity over a list (d1), then a percentage discount (d2), then sales tax
  (d3); answer in dollars to 2 places.
- ``interest``: compound interest, yearly (d1), monthly (d2), monthly plus yearly deposits (d3).
- ``convert``: unit conversions with exact stated factors, one (d1), two (d2) or three (d3) factors.
- ``bigint``: exact big-integer arithmetic (products, powers, differences) with more terms per level.
- ``combinatorics``: binomial coefficients, products of them, sums over cases ("at least").
- ``count``: counting integers up to N with digit and divisibility conditions (needs ``python``).

Golds are computed exactly with ``fractions.Fraction``; decimal answers are rounded half away from zero
once, at the end. ``meta["steps"]`` holds the computation plan as tool calls whose expressions refer to
earlier results as ``{r0}``, ``{r1}``...; the expert fills in the values it reads from the tool outputs.
"""

from __future__ import annotations

from collections.abc import Generator
from fractions import Fraction
from math import comb
from typing import Any

import numpy as np

from turngym.envs.tooluse.base import Answer, Task, ToolCall, ToolResult
from turngym.envs.tooluse.tasks.common import mentions, parse_exact, round_half_up, split_of, task_id, task_rng

KINDS = ("shopping", "interest", "convert", "bigint", "combinatorics", "count")
INTEGER = "an integer"
DECIMAL = "a decimal rounded to 2 places"
NAMES = ("Maya", "Omar", "Lena", "Ravi", "Sofia", "Tomas", "Aiko", "Nadia", "Jonas", "Priya")
ITEMS = ("notebooks", "pencils", "mugs", "lamps", "towels", "batteries", "candles", "folders", "scarves",
         "plates", "cables", "sponges")
MILE_KM = Fraction("1.609344")
GALLON_L = Fraction("3.785411784")
POUND_KG = Fraction("0.45359237")


def _dollars(cents: int) -> str:
    return f"${cents // 100}.{cents % 100:02d}"


def _pct(basis_points: int) -> str:
    """``725`` -> ``"7.25%"``."""
    return f"{Fraction(basis_points, 100).__float__():g}%"


def _falling(n: int, k: int) -> str:
    """``n*(n-1)*...*(n-k+1)`` as an expression."""
    return "*".join(str(n - i) for i in range(k))


def _binom_expr(n: int, k: int) -> str:
    """C(n, k) as a calculator expression with integer products only (no functions needed)."""
    if k == 0:
        return "1"
    return f"({_falling(n, k)})/({_falling(k, k)})"


def _binom(n: int, k: int) -> int:
    return comb(n, k)


def _shopping(rng: np.random.Generator, d: int) -> dict[str, Any]:
    n = {1: 3, 2: 5, 3: 7}[d]
    who = NAMES[int(rng.integers(len(NAMES)))]
    idx = rng.choice(len(ITEMS), size=n, replace=False)
    prices = [int(rng.integers(50, 2000 * d)) for _ in range(n)]
    qty = [int(rng.integers(2, 6 + 8 * d)) for _ in range(n)]
    lines = ", ".join(f"{q} {ITEMS[int(i)]} at {_dollars(p)} each" for q, p, i in zip(qty, prices, idx, strict=True))
    total = " + ".join(f"{q}*{p}" for q, p in zip(qty, prices, strict=True))
    text = f"{who} buys {lines}."
    value = Fraction(sum(q * p for q, p in zip(qty, prices, strict=True)))  # cents
    steps = [{"tool": "calculator", "expression": f"({total})/100" if d == 1 else total}]
    if d >= 2:
        disc = int(rng.integers(5, 31))
        value = value * (100 - disc) / 100
        text += f" The whole order gets a {disc}% discount."
        steps.append({"tool": "calculator", "expression": f"{{r0}}*(100-{disc})/100" + ("/100" if d == 2 else "")})
    if d >= 3:
        tax = int(rng.integers(300, 1000))
        value = value * (10000 + tax) / 10000
        text += f" Then {_pct(tax)} sales tax is added to the discounted amount."
        steps.append({"tool": "calculator", "expression": f"{{r1}}*(10000+{tax})/10000/100"})
    question = text + f" How much does {who} pay in total, in dollars?"
    return {"question": question, "value": value / 100, "format": DECIMAL, "steps": steps}


def _interest(rng: np.random.Generator, d: int) -> dict[str, Any]:
    who = NAMES[int(rng.integers(len(NAMES)))]
    principal = int(rng.integers(10, 500)) * 100
    bp = int(rng.integers(100, 900)) if d == 1 else int(rng.integers(100, 900)) // 5 * 5 + 5
    rate = _pct(bp)
    if d == 1:
        years = int(rng.integers(2, 6))
        value = principal * (1 + Fraction(bp, 10000)) ** years
        question = (f"{who} deposits ${principal} in an account that pays {rate} interest per year, compounded "
                    f"yearly. What is the balance after {years} years, in dollars?")
        steps = [{"tool": "calculator", "expression": f"{principal}*(1+{bp}/10000)**{years}"}]
    elif d == 2:
        years = int(rng.integers(1, 4))
        value = principal * (1 + Fraction(bp, 120000)) ** (12 * years)
        question = (f"{who} deposits ${principal} in an account that pays {rate} annual interest, compounded "
                    f"monthly (each month adds one twelfth of the annual rate). What is the balance after "
                    f"{years} year{'s' if years > 1 else ''}, in dollars?")
        steps = [{"tool": "calculator", "expression": f"{principal}*(1+{bp}/120000)**{12 * years}"}]
    else:
        years = int(rng.integers(2, 5))
        deposit = int(rng.integers(5, 50)) * 100
        growth = (1 + Fraction(bp, 120000)) ** 12
        value = Fraction(principal)
        for _ in range(years):
            value = value * growth + deposit
        question = (f"{who} deposits ${principal} in an account that pays {rate} annual interest, compounded "
                    f"monthly (each month adds one twelfth of the annual rate). At the end of every year, right "
                    f"after the interest, {who} adds another ${deposit}. What is the balance after {years} years "
                    f"(including the last deposit), in dollars?")
        steps = [{"tool": "calculator", "expression": f"(1+{bp}/120000)**12"}]
        total = f"{principal}*{{r0}}**{years}" + "".join(f" + {deposit}*{{r0}}**{k}" for k in range(years))
        steps.append({"tool": "calculator", "expression": total})
    return {"question": question, "value": value, "format": DECIMAL, "steps": steps}


def _convert(rng: np.random.Generator, d: int) -> dict[str, Any]:
    if d == 1:
        if rng.random() < 0.5:
            miles = int(rng.integers(3, 900))
            value = miles * MILE_KM
            question = f"A road is {miles} miles long. How long is it in kilometres? Use 1 mile = 1.609344 km."
            expr = f"{miles}*1609344/1000000"
        else:
            pounds = int(rng.integers(3, 900))
            value = pounds * POUND_KG
            question = f"A crate weighs {pounds} pounds. What is its mass in kilograms? Use 1 lb = 0.45359237 kg."
            expr = f"{pounds}*45359237/100000000"
        return {"question": question, "value": value, "format": DECIMAL,
                "steps": [{"tool": "calculator", "expression": expr}]}
    if d == 2:
        mph, minutes = int(rng.integers(20, 80)), int(rng.integers(7, 200))
        value = Fraction(mph * minutes, 60) * MILE_KM
        question = (f"A truck drives at a steady {mph} miles per hour for {minutes} minutes. How many kilometres "
                    f"does it cover? Use 1 mile = 1.609344 km.")
        steps = [{"tool": "calculator", "expression": f"{mph}*{minutes}/60"},
                 {"tool": "calculator", "expression": "{r0}*1609344/1000000"}]
        return {"question": question, "value": value, "format": DECIMAL, "steps": steps}
    mpg, km, price = int(rng.integers(18, 60)), int(rng.integers(50, 2000)), int(rng.integers(120, 260))
    litres_per_km = GALLON_L / (mpg * MILE_KM)
    value = litres_per_km * km * Fraction(price, 100)
    question = (f"A car goes {mpg} miles on one US gallon of fuel. Fuel costs {_dollars(price)} per litre. How "
                f"much does the fuel for a {km} km trip cost, in dollars? Use 1 mile = 1.609344 km and "
                f"1 US gallon = 3.785411784 litres.")
    steps = [{"tool": "calculator", "expression": f"{mpg}*1609344/1000000"},
             {"tool": "calculator", "expression": "3785411784/1000000000/{r0}"},
             {"tool": "calculator", "expression": f"{{r1}}*{km}*{price}/100"}]
    return {"question": question, "value": value, "format": DECIMAL, "steps": steps}


def _bigint(rng: np.random.Generator, d: int) -> dict[str, Any]:
    def big(digits: int) -> int:
        return int(rng.integers(1, 10)) * 10 ** (digits - 1) + int(rng.integers(0, 10 ** min(digits - 1, 18)))

    if d == 1:
        files, size = big(int(rng.integers(9, 13))), big(int(rng.integers(7, 11)))
        value = files * size
        question = f"An archive holds {files} records of exactly {size} bytes each. How many bytes is that in total?"
        steps = [{"tool": "calculator", "expression": f"{files}*{size}"}]
    elif d == 2:
        a, k = int(rng.integers(3, 20)), int(rng.integers(20, 45))
        b, m = int(rng.integers(2, 13)), int(rng.integers(20, 45))
        value = a**k - b**m
        question = f"Compute exactly: {a} to the power {k}, minus {b} to the power {m}."
        steps = [{"tool": "calculator", "expression": f"{a}**{k} - {b}**{m}"}]
    else:
        a, k = int(rng.integers(3, 20)), int(rng.integers(25, 60))
        b, m = int(rng.integers(2, 13)), int(rng.integers(25, 60))
        c, e = big(12), big(14)
        value = (a**k + b**m) * c - e * e
        question = (f"Let X = {a}^{k} + {b}^{m} (^ is exponentiation). Compute exactly X multiplied by {c}, "
                    f"minus the square of {e}.")
        steps = [{"tool": "calculator", "expression": f"{a}**{k} + {b}**{m}"},
                 {"tool": "calculator", "expression": f"{{r0}}*{c} - {e}**2"}]
    return {"question": question, "value": Fraction(value), "format": INTEGER, "steps": steps}


def _combinatorics(rng: np.random.Generator, d: int) -> dict[str, Any]:
    if d == 1:
        n, k = int(rng.integers(15, 45)), int(rng.integers(3, 9))
        value = _binom(n, k)
        question = f"In how many ways can a committee of {k} people be chosen from a club of {n} members?"
        steps = [{"tool": "calculator", "expression": _binom_expr(n, k)}]
    elif d == 2:
        m, a = int(rng.integers(10, 30)), int(rng.integers(2, 6))
        w, b = int(rng.integers(10, 30)), int(rng.integers(2, 6))
        value = _binom(m, a) * _binom(w, b)
        question = (f"A project team of {a} engineers and {b} designers is picked from {m} engineers and {w} "
                    f"designers. How many different teams are possible?")
        steps = [{"tool": "calculator", "expression": _binom_expr(m, a)},
                 {"tool": "calculator", "expression": _binom_expr(w, b)},
                 {"tool": "calculator", "expression": "{r0}*{r1}"}]
    else:
        men, women = int(rng.integers(12, 30)), int(rng.integers(12, 30))
        k = int(rng.integers(6, 11))
        t = int(rng.integers(k // 2, k - 1))
        value = sum(_binom(women, i) * _binom(men, k - i) for i in range(t, k + 1))
        question = (f"A committee of {k} is chosen from {men} men and {women} women. In how many ways can it be "
                    f"chosen if it must include at least {t} women?")
        terms = [f"{_binom_expr(women, i)}*{_binom_expr(men, k - i)}" for i in range(t, k + 1)]
        steps = [{"tool": "calculator", "expression": " + ".join(terms)}]
    return {"question": question, "value": Fraction(value), "format": INTEGER, "steps": steps}


def _digit_sums(n: int) -> tuple[np.ndarray, np.ndarray]:
    numbers = np.arange(1, n + 1, dtype=np.int64)
    sums = np.zeros_like(numbers)
    rest = numbers.copy()
    while rest.any():
        sums += rest % 10
        rest //= 10
    return numbers, sums


def _count(rng: np.random.Generator, d: int) -> dict[str, Any]:
    n = int(rng.integers(2, 10)) * {1: 1000, 2: 10000, 3: 100000}[d]
    numbers, sums = _digit_sums(n)
    s = int(rng.integers(5, 9 * len(str(n)) // 2 + 3))
    keep = sums == s
    cond, parts = "sum(map(int, str(i))) == " + str(s), [f"have a digit sum of {s}"]
    if d >= 2:
        a = int(rng.integers(3, 12))
        keep &= numbers % a == 0
        cond += f" and i % {a} == 0"
        parts.append(f"are divisible by {a}")
    if d >= 3:
        b = int(rng.integers(2, 10))
        keep &= numbers % b != 0
        cond += f" and i % {b} != 0"
        parts.append(f"are not divisible by {b}")
    value = int(keep.sum())
    question = f"How many integers from 1 to {n} (inclusive) " + ", ".join(parts[:-1])
    question += (" and " if len(parts) > 1 else "") + parts[-1] + "?"
    code = f"print(sum(1 for i in range(1, {n} + 1) if {cond}))"
    return {"question": question, "value": Fraction(value), "format": INTEGER,
            "steps": [{"tool": "python", "code": code}]}


_MAKERS = {"shopping": _shopping, "interest": _interest, "convert": _convert, "bigint": _bigint,
           "combinatorics": _combinatorics, "count": _count}


def _answer(value: Fraction, fmt: str) -> str:
    if fmt == INTEGER:
        return str(value.numerator // value.denominator)
    return round_half_up(value, 2)


def generate_math(seed: int, difficulty: int = 1) -> Task:
    """One ToolMath task, a function of ``(seed, difficulty)`` only.

    Args:
        seed: Non-negative task seed.
        difficulty: 1-3 (magnitudes and number of steps grow with it).

    Returns:
        A ``Task`` with ``tools=("calculator", "python")`` and ``meta`` = ``{"kind", "steps"}``: the plan
        as tool calls (``{"tool": "calculator", "expression"}`` or ``{"tool": "python", "code"}``) whose
        ``{rI}`` placeholders stand for the exact result of step ``I``; the last step gives the answer.
    """
    rng = task_rng("math", seed, difficulty)
    while True:
        kind = KINDS[int(rng.integers(len(KINDS)))]
        spec = _MAKERS[kind](rng, difficulty)
        answer = _answer(spec["value"], spec["format"])
        if spec["value"] != 0 and not mentions(spec["question"], answer):
            break
    fmt = spec["format"]
    question = spec["question"] + (" Round the final result (only) to 2 decimal places." if fmt == DECIMAL else "")
    return Task(
        task_id=task_id("math", seed, difficulty),
        family="math",
        question=question,
        answer=answer,
        answer_format=fmt,
        tools=("calculator", "python"),
        difficulty=difficulty,
        seed=seed,
        split=split_of(seed),
        meta={"kind": kind, "steps": spec["steps"]},
    )


def _fill(template: str, results: list[Fraction]) -> str:
    for i, r in enumerate(results):
        text = str(r.numerator) if r.denominator == 1 else f"({r.numerator}/{r.denominator})"
        template = template.replace(f"{{r{i}}}", text)
    return template


def expert_math(task: Task) -> Generator[ToolCall | Answer, ToolResult, None]:
    """Scripted expert: runs the plan's calls, feeding each exact result (parsed from the tool output) on.

    The answer is the last tool output, parsed and written in the task's format (rounded half away from
    zero for decimals).
    """
    results: list[Fraction] = []
    for step in task.meta.get("steps", []):
        if step.get("tool") == "python":
            call = ToolCall("python", {"code": _fill(str(step["code"]), results)})
        else:
            call = ToolCall("calculator", {"expression": _fill(str(step["expression"]), results)})
        value = None
        for _ in range(2):  # one retry: a python run can time out on a loaded machine
            result = yield call
            value = parse_exact(result.output.strip()) if result.ok else None
            if value is not None:
                break
        if value is None:
            yield Answer("unknown")
            return
        results.append(value)
    if not results:
        yield Answer("unknown")
        return
    yield Answer(_answer(results[-1], task.answer_format))
