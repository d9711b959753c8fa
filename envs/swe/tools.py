"""The tools of SWE episodes as the tool-use call formats see them (name, description, JSON-schema parameters).

``formats.parse_turn`` and ``formats.format_instructions`` read these the way they read the tool-use family's
tools; the env runs them itself (on its sandbox), so they carry no ``call`` method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from turngym.envs.swe.editor import PARAMETERS as EDITOR_PARAMETERS

BASH, EDITOR, SUBMIT = "bash", "str_replace_editor", "submit"


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the call formats describe and check it."""

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)


def tool_specs(command_timeout_s: float, max_output_chars: int) -> dict[str, ToolSpec]:
    """The three tools, with the limits of this env written into their descriptions."""
    return {
        BASH: ToolSpec(BASH, (
            "Runs a bash command in the repository (the current directory is its root) and returns its output. "
            f"Each command has {command_timeout_s:g} s; no network; nothing it starts outlives it; outputs longer "
            f"than {max_output_chars} characters keep their head and tail."),
            {"type": "object", "properties": {"command": {"type": "string", "description": "the bash command"}},
             "required": ["command"]}),
        EDITOR: ToolSpec(EDITOR, (
            "Views, creates and edits files. view: a file with line numbers (view_range [start, end]) or a "
            "directory 2 levels deep; create: a new file with file_text; str_replace: replace old_str (which must "
            "occur exactly once) by new_str; insert: new_str after line insert_line; undo_edit: revert the last "
            "edit of a file."), EDITOR_PARAMETERS),
        SUBMIT: ToolSpec(SUBMIT, (
            "Ends the episode: the repository as you leave it is graded by running the failing tests and the "
            "rest of the suite (test files are restored first, so edit the code, not the tests)."),
            {"type": "object", "properties": {}}),
    }


__all__ = ["BASH", "EDITOR", "SUBMIT", "ToolSpec", "tool_specs"]
