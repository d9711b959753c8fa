"""Docstring pieces and argument defaults shared by the dilemma env classes."""

from __future__ import annotations

SINGLE_ARGS = """        opponents: agent objects (or ``"random"``) for the other seats; default random-legal.
        seat (int | str): the learner's seat, or ``"random"`` (drawn from the env RNG at reset).
"""
PARALLEL_ARGS = """        render_mode (str | None): ``"ansi"`` returns every agent's text view, ``"human"`` prints it.
"""


def default_max_turns(max_turns: int | None, rounds: int) -> int:
    """``max_turns``, or twice the horizon when it is None (room for some invalid actions)."""
    return 2 * rounds if max_turns is None else max_turns
