"""The tools of the tool-use family: calculator, python sandbox, search/open over a corpus, read-only SQL.

Each tool follows ``turngym.envs.tooluse.base.Tool``: ``name``, ``description``, a JSON-schema
``parameters`` object (usable as an OpenAI ``tools`` entry via ``base.openai_schema`` and by
transformers' ``apply_chat_template(..., tools=...)``) and ``call(arguments) -> ToolResult``, which never
raises.
"""

from __future__ import annotations

from typing import Any

from turngym.envs.core.errors import ConfigError
from turngym.envs.tooluse.base import Task, Tool
from turngym.envs.tooluse.tools.calculator import CalculatorTool
from turngym.envs.tooluse.tools.python_sandbox import PythonTool, UnsafeSandboxWarning, sandbox_backend
from turngym.envs.tooluse.tools.search import OpenTool, SearchTool
from turngym.envs.tooluse.tools.sql import SQLTool

TOOL_NAMES = ("calculator", "python", "search", "open", "sql")
"""Names ``make_tools`` understands (``Task.tools`` entries)."""

_LIMITS = {
    "max_output_chars": "int: output cap of every tool (characters)",
    "python_timeout_s": "float: wall-clock limit of one python call",
    "python_cpu_s": "int: CPU-time limit of one python call",
    "python_memory_mb": "int: memory of one python call (each process's address space, and all its processes "
                        "together where a cgroup or the watchdog caps the call)",
    "python_backend": "'auto' (bubblewrap; refused where it does not work), 'bwrap', or 'unsafe-rlimit' "
                      "(alias 'rlimit': no isolation, warns on every construction)",
    "search_k": "int: results per search",
    "sql_max_rows": "int: rows shown per query",
    "sql_timeout_s": "float: time limit of one SQL query",
}


def make_tools(task: Task, **limits: Any) -> dict[str, Tool]:
    """Builds the tools ``task.tools`` names, over the task's corpus and database.

    Args:
        task: The task; ``search``/``open`` index ``task.corpus`` (cached per corpus content) and
            ``sql`` loads ``task.database``.
        **limits: Optional caps, see ``_LIMITS`` (``python_timeout_s``, ``sql_max_rows``, ...).

    Returns:
        ``{name: tool}`` in the order of ``task.tools``.

    Raises:
        ValueError: An unknown tool name or limit (a ``ConfigError``, which is a ``ValueError``); also a
            ``ConfigError`` when the task uses ``python`` and its ``python_backend`` (default ``"auto"``)
            cannot isolate code here (bubblewrap missing: ``apt-get install bubblewrap``).
    """
    for key in limits:
        if key not in _LIMITS:
            raise ConfigError("make_tools limit", f"one of {', '.join(_LIMITS)}", key, _LIMITS)
    out_cap = {"max_output_chars": limits["max_output_chars"]} if "max_output_chars" in limits else {}
    tools: dict[str, Tool] = {}
    for name in task.tools:
        if name == "calculator":
            tools[name] = CalculatorTool(**out_cap)
        elif name == "python":
            kwargs: dict[str, Any] = dict(out_cap)
            for key, arg in (("python_timeout_s", "timeout_s"), ("python_cpu_s", "cpu_s"),
                             ("python_memory_mb", "memory_mb"), ("python_backend", "backend")):
                if key in limits:
                    kwargs[arg] = limits[key]
            tools[name] = PythonTool(**kwargs)
        elif name == "search":
            tools[name] = SearchTool(task.corpus, k=limits.get("search_k", 5), **out_cap)
        elif name == "open":
            tools[name] = OpenTool(task.corpus, **out_cap)
        elif name == "sql":
            kwargs = dict(out_cap)
            if "sql_max_rows" in limits:
                kwargs["max_rows"] = limits["sql_max_rows"]
            if "sql_timeout_s" in limits:
                kwargs["timeout_s"] = limits["sql_timeout_s"]
            tools[name] = SQLTool(task.database, **kwargs)
        else:
            raise ConfigError(f"tool name in task {task.task_id!r}", f"one of {', '.join(TOOL_NAMES)}",
                              name, TOOL_NAMES)
    return tools


__all__ = [
    "TOOL_NAMES",
    "CalculatorTool",
    "OpenTool",
    "PythonTool",
    "SQLTool",
    "SearchTool",
    "UnsafeSandboxWarning",
    "make_tools",
    "sandbox_backend",
]
