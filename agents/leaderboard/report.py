"""A run's tables and reports: ``leaderboard.json``, ``.md``, ``.png`` and ``.html``.

``summarize`` turns logged games into Bradley–Terry ratings with bootstrap intervals (the ranking of record,
``table.py``), overall and per env, openskill ratings (order-dependent, for matchmaking), the single-agent task
table (success rate with a Wilson interval, mean return with a t interval) and the counts of infrastructure
errors (never losses) and forfeits (``play.py``: a seat that makes ``max_invalid_streak`` invalid actions in a
row loses to every other seat). ``write_reports`` writes them; names in the Markdown go through
``table.markdown_text``, in the HTML through ``html.escape``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from turngym.agents.leaderboard.games import GameRecord
from turngym.agents.leaderboard.ratings import openskill_ratings
from turngym.agents.leaderboard.suite import Suite
from turngym.agents.leaderboard.table import Leaderboard, leaderboard_markdown, leaderboard_table, markdown_text
from turngym.agents.stats import mean_ci, rate_ci


@dataclass(frozen=True)
class TaskRow:
    """One agent on one single-agent env: success rate (Wilson interval) and mean return (t interval).

    Forfeited episodes (``play.py``) are scored failures, counted in ``episodes`` and again in ``forfeits``.
    """

    env: str
    agent: str
    episodes: int
    success_rate: float | None
    success_low: float | None
    success_high: float | None
    mean_return: float | None
    return_low: float | None
    return_high: float | None
    infra_errors: int
    forfeits: int = 0


def task_table(records: Sequence[dict[str, Any]], level: float = 0.95) -> list[TaskRow]:
    """Per (env, agent) rows of the single-agent games; infra failures counted apart, in no rate or mean."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in records:
        if len(r["seats"]) == 1:
            groups.setdefault((r["env"], r["seats"][0]), []).append(r)
    rows = []
    for (env, agent), rs in groups.items():
        scored = [r for r in rs if r["infra_error"] is None]
        infra = len(rs) - len(scored)
        forfeits = sum(r.get("forfeit") is not None for r in scored)
        if not scored:
            rows.append(TaskRow(env, agent, 0, None, None, None, None, None, None, infra))
            continue
        wins = sum(bool(r["success"]) for r in scored)
        rate, lo, hi = rate_ci(wins, len(scored), level)
        mean, mlo, mhi = mean_ci([r["returns"][0] for r in scored], level)
        rows.append(TaskRow(env, agent, len(scored), rate, lo, hi, mean, mlo, mhi, infra, forfeits))
    return sorted(rows, key=lambda r: (r.env, -(r.success_rate or 0.0), -(r.mean_return or 0.0), r.agent))


def game_records(records: Iterable[dict[str, Any]]) -> list[GameRecord]:
    """The multi-seat games as ``GameRecord``s (single-agent tasks have no opponent to be rated against).

    A line logged before the forfeit rule existed has no ``forfeit`` field: it reads as no forfeit.
    """
    out = []
    for r in records:
        if len(r["seats"]) < 2:
            continue
        forfeit = r.get("forfeit")
        out.append(GameRecord(r["env"], r["seed"], tuple(r["seats"]), tuple(r["returns"]), r["infra_error"],
                              None if forfeit is None else int(forfeit["seat"])))
    return out


def forfeit_counts(records: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Games each agent forfeited (the forfeit rule, ``play.py``), agents sorted by name; none: ``{}``."""
    counts = Counter(r["forfeit"]["agent"] for r in records if r.get("forfeit") is not None)
    return dict(sorted(counts.items()))


@dataclass
class Summary:
    """Every table of a run: Bradley–Terry (``board``), openskill, single-agent tasks, and counts.

    Attributes:
        forfeits: Games forfeited per agent (multi-agent games and single-agent tasks together).
        streaks: ``max_invalid_streak`` per env label (0: no forfeit rule there), for the legend.
    """

    suite: str
    board: Leaderboard
    openskill: dict[str, dict[str, dict[str, float]]]
    tasks: list[TaskRow]
    games: int
    infra_errors: int
    scheduled: int
    forfeits: dict[str, int] = field(default_factory=dict)
    streaks: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"suite": self.suite, "games": self.games, "scheduled": self.scheduled,
                "infra_errors": self.infra_errors, "forfeits": self.forfeits,
                "max_invalid_streak": self.streaks, "bradley_terry": self.board.to_dict(),
                "openskill": self.openskill, "tasks": [asdict(t) for t in self.tasks]}


def summarize(suite: Suite, records: Sequence[dict[str, Any]], scheduled: int | None = None) -> Summary:
    """The tables of ``records`` (logged games of ``suite``, in schedule order).

    Bradley–Terry is order-free; openskill is updated in the order given (schedule order, so the result does
    not depend on which worker finished first).
    """
    games = game_records(records)
    rng = np.random.default_rng(suite.rating_seed)
    board = leaderboard_table(games, rng=rng, n_boot=suite.n_boot, level=suite.level)

    def skill(rs: Sequence[GameRecord]) -> dict[str, dict[str, float]]:
        ranked = sorted(openskill_ratings(rs).items(), key=lambda kv: -kv[1].ordinal)
        return {a: {"mu": s.mu, "sigma": s.sigma, "ordinal": s.ordinal} for a, s in ranked}

    openskill = {"overall": skill(games)}
    for env in sorted({g.env_id for g in games}):
        openskill[env] = skill([g for g in games if g.env_id == env])
    infra = sum(r["infra_error"] is not None for r in records)
    return Summary(suite.name, board, openskill, task_table(records, suite.level), len(records), infra,
                   len(records) if scheduled is None else scheduled, forfeit_counts(records),
                   {e.label: e.max_invalid_streak for e in suite.envs})


def _num(x: float | None, fmt: str = "{:.3f}") -> str:
    return "–" if x is None else fmt.format(x)


def forfeit_legend(summary: Summary) -> str:
    """The forfeit rule as the reports state it, with each env's setting and the games forfeited."""
    on = {env: n for env, n in summary.streaks.items() if n}
    if not on:
        return "Forfeit rule: off (max_invalid_streak 0): an agent that only writes invalid actions plays on."
    settings = "; ".join(f"{env}: {n}" for env, n in on.items())
    total = sum(summary.forfeits.values())
    who = ", ".join(f"{agent} {n}" for agent, n in summary.forfeits.items())
    return ("Forfeit rule: a seat that makes max_invalid_streak invalid actions in a row forfeits: the game ends, "
            "it loses to every other seat and the others draw among themselves; a forfeited single-agent task "
            f"fails (max_invalid_streak per env: {settings}). Games forfeited: {total}"
            + (f" ({who})." if who else "."))


def summary_markdown(summary: Summary) -> str:
    """The Bradley–Terry tables (``leaderboard_markdown``), openskill, and the single-agent task table.

    Every name (suite, env, agent) is written through ``table.markdown_text``: a ``|`` or a line break in a
    name cannot add a column or a row.
    """
    md = markdown_text
    parts = [f"# Leaderboard: {md(summary.suite)}", "",
             f"{summary.games} of {summary.scheduled} scheduled games logged; {summary.infra_errors} infrastructure "
             f"errors (counted apart, never losses); {sum(summary.forfeits.values())} forfeits.", ""]
    if summary.board.overall:
        parts += [leaderboard_markdown(summary.board).rstrip("\n"), ""]
        parts += ["## openskill (Weng–Lin, order-dependent: for matchmaking, not the ranking of record)", "",
                  "| agent | mu | sigma | ordinal |", "|---|---:|---:|---:|"]
        parts += [f"| {md(a)} | {s['mu']:.2f} | {s['sigma']:.2f} | {s['ordinal']:.2f} |"
                  for a, s in summary.openskill["overall"].items()]
        parts.append("")
    if summary.tasks:
        pct = f"{100 * summary.board.level:g}%"
        parts += ["## Single-agent tasks", "",
                  f"| env | agent | episodes | success | {pct} CI (Wilson) | mean return | {pct} CI (t) "
                  "| infra errors | forfeits |",
                  "|---|---|---:|---:|---|---:|---|---:|---:|"]
        for t in summary.tasks:
            sci = "–" if t.success_low is None else f"[{t.success_low:.3f}, {t.success_high:.3f}]"
            rci = "–" if t.return_low is None else f"[{t.return_low:+.3f}, {t.return_high:+.3f}]"
            parts.append(f"| {md(t.env)} | {md(t.agent)} | {t.episodes} | {_num(t.success_rate)} | {sci} | "
                         f"{_num(t.mean_return, '{:+.3f}')} | {rci} | {t.infra_errors} | {t.forfeits} |")
        parts.append("")
    parts += [md(forfeit_legend(summary)), ""]
    return "\n".join(parts) + "\n"


def write_reports(summary: Summary, out: str | Path, *, png: bool = True, html: bool = True) -> dict[str, Path]:
    """Writes ``leaderboard.{json,md,png,html}`` into ``out``; returns their paths by format."""
    from turngym.agents.leaderboard.html import leaderboard_html

    out = Path(out)
    files = {"json": out / "leaderboard.json", "md": out / "leaderboard.md"}
    files["json"].write_text(json.dumps(summary.to_dict(), indent=1, allow_nan=False), encoding="utf-8")
    files["md"].write_text(summary_markdown(summary), encoding="utf-8")
    if png:
        from turngym.agents.leaderboard.plot import plot_leaderboard

        files["png"] = plot_leaderboard(summary, out / "leaderboard.png")
    if html:
        files["html"] = out / "leaderboard.html"
        files["html"].write_text(leaderboard_html(summary), encoding="utf-8")
    return files


__all__ = ["Summary", "TaskRow", "forfeit_counts", "forfeit_legend", "game_records", "summarize", "summary_markdown",
           "task_table", "write_reports"]
