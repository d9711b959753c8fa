"""The leaderboard's PNG: Bradley–Terry ratings with their bootstrap intervals, overall and per env.

One panel per table, agents best first, each a point at its rating with a bar over its interval; unrated
agents are left out of the plot (the tables list them). matplotlib's Agg canvas is used directly (no pyplot,
no global backend switch), as ``turngym.agents.baselines.cfr.plot_exploitability`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from turngym.agents.leaderboard.table import RatingRow

if TYPE_CHECKING:
    from turngym.agents.leaderboard.report import Summary


def _panel(ax: object, rows: Sequence[RatingRow], title: str, level: float) -> None:
    rated = [r for r in rows if r.rating is not None]
    rated.sort(key=lambda r: r.rating)  # best at the top of a horizontal chart
    ys = list(range(len(rated)))
    ratings = [r.rating for r in rated]
    low = [r.rating - r.ci_low for r in rated]
    high = [r.ci_high - r.rating for r in rated]
    ax.errorbar(ratings, ys, xerr=[low, high], fmt="o", color="#1f5fa8", ecolor="#7aa6d8", elinewidth=3, capsize=3)
    ax.set_yticks(ys)
    ax.set_yticklabels([r.agent for r in rated])
    ax.axvline(0.0, color="0.6", lw=0.8, ls="--")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(f"Bradley–Terry log-strength ({100 * level:g}% bootstrap CI)", fontsize=8)
    ax.grid(True, axis="x", alpha=0.3)
    if not rated:
        ax.text(0.5, 0.5, "no rated agents", ha="center", va="center", transform=ax.transAxes)


def plot_leaderboard(summary: Summary, path: str | Path) -> Path:
    """Writes the PNG of ``summary`` (one panel for the overall table, then one per env).

    Args:
        summary: The run's tables (``runner.summarize``).
        path: The PNG's path (parent folders are created).

    Returns:
        The written path.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    board = summary.board
    panels = [("Overall", board.overall)] + list(board.per_env.items())
    height = sum(0.9 + 0.32 * max(1, len(rows)) for _, rows in panels)
    fig = Figure(figsize=(7.0, max(2.5, height)), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, squeeze=False,
                        height_ratios=[max(1, len(rows)) + 1.5 for _, rows in panels])[:, 0]
    for ax, (title, rows) in zip(axes, panels, strict=True):
        _panel(ax, rows, title, board.level)
    fig.suptitle(f"Leaderboard: {summary.suite}", fontsize=11)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


__all__ = ["plot_leaderboard"]
