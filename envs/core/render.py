"""The one ``render()`` rule of every turngym env: text views for ``ansi`` and ``human`` render modes."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium


def render_text(render_mode: str | None, text: Callable[[], str]) -> str | None:
    """Builds ``text()`` and returns it (``ansi``), prints it (``human``), or warns and returns None (unset).

    Args:
        render_mode: The env's render mode.
        text: Builds the view; not called when no render mode is set.
    """
    if render_mode is None:
        gymnasium.logger.warn("render() called without a render_mode")
        return None
    out = text()
    if render_mode == "human":
        print(out)
        return None
    return out
