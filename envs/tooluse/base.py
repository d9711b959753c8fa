"""Shared types of the tool-use family: tool calls, tool results, tools, tasks.

Every other module of ``turngym.envs.tooluse`` speaks these types: the tools (``tools/``) take a
``ToolCall``'s arguments and return a ``ToolResult``; the call formats (``formats.py``) turn model text
into ``ToolCall`` objects and back; the task generators (``tasks/``) produce ``Task`` objects whose
scripted experts emit ``ToolCall``/``Answer`` steps; the env (``env.py``) wires them together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class ToolCall:
    """One call of a named tool with JSON-compatible arguments."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Answer:
    """The agent's final answer (``<answer>…</answer>``)."""

    text: str


@dataclass(frozen=True)
class ToolResult:
    """What a tool returned: ``ok`` is False for bad arguments, errors, timeouts and limits hit.

    ``infra_error`` is set only when the tool's own machinery failed, not the agent's call: the sandbox or
    the SQL worker could not start (bubblewrap removed, no cgroup, no process slot). The env then ends the
    episode unscored (``info["infra_error"]``, DESIGN §3): it is not the agent's fault, so it must not be
    scored as a failure.
    """

    ok: bool
    output: str
    infra_error: str | None = None


@runtime_checkable
class Tool(Protocol):
    """A tool the agent can call. ``call`` never raises on any arguments; it reports errors as results.

    Attributes:
        name: The name models use in calls.
        description: One paragraph for the model.
        parameters: JSON schema (``{"type": "object", "properties": …, "required": […]}``).
    """

    name: str
    description: str
    parameters: dict[str, Any]

    def call(self, arguments: dict[str, Any]) -> ToolResult:
        """Runs the tool on already-parsed arguments."""
        ...


def openai_schema(tool: Tool) -> dict[str, Any]:
    """The tool as an OpenAI ``tools`` entry, also accepted by transformers' ``apply_chat_template``."""
    return {"type": "function",
            "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters}}


@dataclass(frozen=True)
class Document:
    """One document of a search corpus."""

    doc_id: str
    title: str
    text: str


@dataclass(frozen=True)
class Task:
    """One verifiable task.

    Attributes:
        task_id: Stable id, e.g. ``"ToolQA/test/d2/seed=17"``.
        family: ``"qa"``, ``"math"``, ``"sql"`` or ``"jsonl"``.
        question: What the agent is asked.
        answer: The gold answer (a string; numbers written canonically).
        answer_format: How the answer must be written, e.g. ``"an integer"``, ``"a person's full name"``.
        tools: Names of the tools this task offers.
        difficulty: Difficulty level (1 = easiest).
        seed: Generator seed (None for loaded tasks).
        split: ``"train"`` or ``"test"`` (generated tasks: fixed by the seed, see ``tasks.split_of``).
        corpus: Documents for ``search``/``open`` (empty when unused).
        database: SQL script (schema + inserts) that builds the task's SQLite database ("" when unused).
        meta: Generator-specific data the scripted expert may use (never shown to the agent).
    """

    task_id: str
    family: str
    question: str
    answer: str
    answer_format: str
    tools: tuple[str, ...]
    difficulty: int = 1
    seed: int | None = None
    split: str = "train"
    corpus: tuple[Document, ...] = ()
    database: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
