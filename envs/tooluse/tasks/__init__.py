"""Task generators of the tool-use family, their train/test split, scripted experts, and a JSONL loader.

Generated families (unlimited, procedurally generated, deterministic per ``(seed, difficulty)``):

- ``qa``: multi-hop questions (2-4 hops) over a synthetic knowledge base rendered as documents
  (``search``, ``open``); see ``tasks.qa``.
- ``math``: word problems with exact answers (``calculator``, ``python``); see ``tasks.math``.
- ``sql``: questions over a generated relational database (``sql``); see ``tasks.sql``.

**Split rule.** A seed is a test seed iff ``int(blake2b(str(seed), digest_size=8)) % 10 == 0``, otherwise
a train seed (``split_of``). About 10% of seeds are test seeds, spread over the whole range: among 0-99
they are 1, 2, 7, 30, 48, 52, 74, 94 and 99 (``split_test_examples(100)``). ``sample_seed(rng, split)``
draws seeds of one split.

**Experts.** ``expert(task)`` is a generator: it yields a ``ToolCall``, receives its ``ToolResult`` through
``.send()``, and finally yields an ``Answer``. It may use ``task.meta`` to decide what to call (the hop
chain, the intended SQL, the computation plan) but reads the answer from the tool outputs. Loaded
(``jsonl``) tasks have no plan; their expert answers ``""`` at once.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from typing import Any

from turngym.envs.core.errors import ConfigError
from turngym.envs.tooluse.base import Answer, Task, ToolCall, ToolResult
from turngym.envs.tooluse.tasks.common import sample_seed, split_of
from turngym.envs.tooluse.tasks.jsonl import load_jsonl, sqlite_to_script
from turngym.envs.tooluse.tasks.math import expert_math, generate_math
from turngym.envs.tooluse.tasks.qa import expert_qa, generate_qa
from turngym.envs.tooluse.tasks.sql import expert_sql, generate_sql

FAMILIES = ("qa", "math", "sql")
DIFFICULTIES = (1, 2, 3)
#: The tools every task of a generated family uses (what the family's generator puts in ``Task.tools``).
FAMILY_TOOLS: dict[str, tuple[str, ...]] = {"qa": ("search", "open"), "math": ("calculator", "python"),
                                            "sql": ("sql",)}

_GENERATORS: dict[str, Callable[[int, int], Task]] = {"qa": generate_qa, "math": generate_math, "sql": generate_sql}
_EXPERTS: dict[str, Callable[[Task], Generator[ToolCall | Answer, ToolResult, None]]] = {
    "qa": expert_qa, "math": expert_math, "sql": expert_sql}


def generate(family: str, seed: int, difficulty: int = 1) -> Task:
    """Generates one task; the same ``(family, seed, difficulty)`` always gives the same task.

    Args:
        family: ``"qa"``, ``"math"`` or ``"sql"``.
        seed: Non-negative integer; its split is ``split_of(seed)``.
        difficulty: 1, 2 or 3.

    Returns:
        The task (``task_id`` like ``"ToolQA/test/d2/seed=17"``).

    Raises:
        ConfigError: Unknown family, a negative or non-integer seed, or a difficulty outside 1-3.
    """
    if family not in _GENERATORS:
        raise ConfigError("family", f"one of {', '.join(FAMILIES)}", family, choices=FAMILIES)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError("seed", "a non-negative int", seed)
    if isinstance(difficulty, bool) or difficulty not in DIFFICULTIES:
        raise ConfigError("difficulty", "1, 2 or 3", difficulty)
    return _GENERATORS[family](int(seed), int(difficulty))


def split_test_examples(upto: int = 100) -> list[int]:
    """The test seeds below ``upto`` (documents the split rule with concrete values)."""
    return [s for s in range(upto) if split_of(s) == "test"]


def _no_expert(task: Task) -> Generator[ToolCall | Answer, ToolResult, None]:
    yield Answer("")


def expert(task: Task) -> Generator[ToolCall | Answer, ToolResult, None]:
    """The scripted expert of ``task``'s family (see the module docstring for the protocol).

    Example::

        gen = expert(task)
        step = next(gen)
        while isinstance(step, ToolCall):
            step = gen.send(tools[step.name].call(step.arguments))
        print(step.text)
    """
    return _EXPERTS.get(task.family, _no_expert)(task)


def run_expert(task: Task, tools: Mapping[str, Any], max_calls: int = 64) -> tuple[str, int]:
    """Drives ``expert(task)`` with real tools.

    Args:
        task: The task.
        tools: Tool name -> tool (e.g. ``make_tools(task)``); a missing name gets a failed result.
        max_calls: Safety cap on tool calls.

    Returns:
        (the expert's answer text, the number of tool calls it made).
    """
    gen = expert(task)
    step = next(gen)
    calls = 0
    while isinstance(step, ToolCall) and calls < max_calls:
        tool = tools.get(step.name)
        result = tool.call(step.arguments) if tool is not None else ToolResult(False, f"no tool {step.name!r}")
        calls += 1
        step = gen.send(result)
    gen.close()
    return (step.text if isinstance(step, Answer) else ""), calls


__all__ = ["DIFFICULTIES", "FAMILIES", "FAMILY_TOOLS", "expert", "generate", "load_jsonl", "run_expert", "sample_seed",
           "split_of", "split_test_examples", "sqlite_to_script"]
