"""Leaderboard tables: Bradley–Terry ratings with bootstrap intervals, overall and per env, and Markdown.

Every table row holds the agent's rating and interval (``ratings.bradley_terry``, ``ratings.bootstrap_ci``),
its rank, and counts:

* ``games``: scored games with the agent in at least one seat;
* ``wins`` / ``draws`` / ``losses``: its pairwise outcomes against *other* agents (``games.py`` reduction,
  unweighted). For two-seat games these are the games' outcomes; an N-seat game gives each seat N - 1;
* ``infra_errors``: games with the agent seated that failed for infrastructure reasons. They are in no
  other column and in no rating (DESIGN §3: never a loss).

An agent without a scored game against another agent (only infra failures, only self-play, or alone in the
table) is listed *unrated*: rating, interval and rank are None. The overall table fits one strength per
agent to the games of every env together, so an env weighs by its number of games.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from turngym.agents.leaderboard.games import GameRecord, game_comparisons
from turngym.agents.leaderboard.ratings import (
    DEFAULT_ALPHA,
    ELO_PER_NAT,
    bootstrap_draws,
    fit_matrix,
    pair_counts,
)
from turngym.envs.core.errors import ConfigError


@dataclass(frozen=True)
class RatingRow:
    """One agent's line of a leaderboard table (module docstring for the columns)."""

    agent: str
    rating: float | None
    ci_low: float | None
    ci_high: float | None
    rank: int | None
    games: int
    wins: int
    draws: int
    losses: int
    infra_errors: int


@dataclass(frozen=True)
class Leaderboard:
    """The overall table and one table per env, with the settings that made them."""

    overall: list[RatingRow]
    per_env: dict[str, list[RatingRow]]
    level: float
    n_boot: int
    alpha: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


#: Ratings closer than this share a rank: equal records fit to equal ratings up to round-off.
RANK_TOL = 1e-9


def _ranks(ratings: Sequence[float]) -> list[int]:
    """Competition ranks ("1224"), best rating first; ratings within ``RANK_TOL`` tie."""
    return [1 + sum(other > r + RANK_TOL for other in ratings) for r in ratings]


def table_notes(rows: Sequence[RatingRow], where: str = "") -> list[str]:
    """Warnings a reader needs: unrated agents, and ratings the prior (``alpha``) alone keeps finite."""
    prefix = f"{where}: " if where else ""
    notes = []
    for r in rows:
        if r.rating is None:
            notes.append(f"{prefix}{r.agent}: unrated (no scored game against another agent)")
        elif r.losses == r.draws == 0 or r.wins == r.draws == 0:
            what = "won" if r.losses == 0 else "lost"
            notes.append(f"{prefix}{r.agent}: {what} every comparison; its rating is finite only through alpha "
                         "(maximum likelihood would be infinite)")
    return notes


def rating_table(records: Sequence[GameRecord], *, rng: np.random.Generator, n_boot: int = 1000,
                 level: float = 0.95, alpha: float = DEFAULT_ALPHA,
                 agents: Sequence[str] = ()) -> list[RatingRow]:
    """One table: every agent seated in ``records`` (plus ``agents``), best first, unrated ones last.

    Args:
        records: The games of the table.
        rng: The random generator of the bootstrap.
        n_boot: Bootstrap resamples.
        level: Confidence level in (0, 1).
        alpha: Virtual drawn games per pair (``ratings`` module docstring).
        agents: Agents to list even without games.

    Returns:
        Rows sorted by rank, then name.
    """
    if not 0.0 < level < 1.0:
        raise ConfigError("level", "a confidence level strictly between 0 and 1", level)
    names = list(dict.fromkeys([*agents, *(a for r in records for a in r.seats)]))
    games: Counter[str] = Counter()
    infra: Counter[str] = Counter()
    outcome: dict[str, Counter[str]] = {a: Counter() for a in names}
    for g, record in enumerate(records):
        for a in set(record.seats):
            (games if record.scored else infra)[a] += 1
        if not record.scored:
            continue
        for c in game_comparisons(record, g):
            if c.score == 1.0:
                outcome[c.winner]["wins"] += 1
                outcome[c.loser]["losses"] += 1
            else:
                outcome[c.winner]["draws"] += 1
                outcome[c.loser]["draws"] += 1
    rated = [a for a in names if sum(outcome[a].values()) > 0]
    fit: dict[str, tuple[float, float, float, int]] = {}
    if len(rated) >= 2:
        counts = pair_counts(records, sorted(rated))
        point = fit_matrix(counts.matrix(), alpha)
        draws = bootstrap_draws(counts, n_boot, rng, alpha=alpha)
        lo, hi = np.quantile(draws, [(1.0 - level) / 2.0, (1.0 + level) / 2.0], axis=0)
        ranks = _ranks(point.tolist())
        fit = {a: (float(p), float(x), float(y), k)
               for a, p, x, y, k in zip(counts.agents, point, lo, hi, ranks, strict=True)}
    rows = []
    for a in names:
        rating, low, high, rank = fit.get(a, (None, None, None, None))
        rows.append(RatingRow(a, rating, low, high, rank, games[a], outcome[a]["wins"], outcome[a]["draws"],
                              outcome[a]["losses"], infra[a]))
    return sorted(rows, key=lambda r: (r.rank is None, r.rank or 0, r.agent))


def leaderboard_table(records: Sequence[GameRecord], *, rng: np.random.Generator, n_boot: int = 1000,
                      level: float = 0.95, alpha: float = DEFAULT_ALPHA, agents: Sequence[str] = ()) -> Leaderboard:
    """The overall table (all envs pooled) and one per env, in sorted env order.

    Args:
        records: Logged games of every env.
        rng: The random generator; the bootstraps draw from it overall first, then env by env.
        n_boot: Bootstrap resamples per table.
        level: Confidence level in (0, 1).
        alpha: Virtual drawn games per pair.
        agents: Agents to list in the overall table even without games.

    Returns:
        The tables.
    """
    records = list(records)
    overall = rating_table(records, rng=rng, n_boot=n_boot, level=level, alpha=alpha, agents=agents)
    per_env = {env: rating_table([r for r in records if r.env_id == env], rng=rng, n_boot=n_boot, level=level,
                                 alpha=alpha)
               for env in sorted({r.env_id for r in records})}
    notes = table_notes(overall) + [n for env, rows in per_env.items() for n in table_notes(rows, env)]
    return Leaderboard(overall, per_env, level, n_boot, alpha, notes)


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:+.3f}"


#: Characters ``markdown_text`` escapes with a backslash: the escape itself, the cell separator, and the opening
#: of raw HTML (CommonMark lets any ASCII punctuation be escaped, and renders it as the bare character).
_MD_ESCAPED = {"\\": "\\\\", "|": "\\|", "<": "\\<"}


def markdown_text(text: object) -> str:
    r"""``text`` made safe for one Markdown table cell, heading or list item (names are user input).

    Line breaks (every one ``str.splitlines`` knows) become spaces, so a name cannot end its row or start a new
    block; other control characters are written as ``\xNN`` escapes (no terminal sequences reach the console
    the CLI prints to); ``\``, ``|`` and ``<`` get a backslash, so a name cannot add a cell or open an HTML
    tag. A GitHub-flavoured Markdown renderer shows the original name, line breaks as spaces.

    Example:
        >>> markdown_text("a|b\nc")
        'a\\|b c'
    """
    out = []
    for line_no, line in enumerate(str(text).splitlines()):
        if line_no:
            out.append(" ")
        for ch in line:
            if ch in _MD_ESCAPED:
                out.append(_MD_ESCAPED[ch])
            elif unicodedata.category(ch) == "Cc":
                out.append(f"\\x{ord(ch):02x}")  # category Cc is C0, DEL and C1: all below U+0100
            else:
                out.append(ch)
    return "".join(out)


def table_markdown(rows: Sequence[RatingRow], level: float = 0.95) -> str:
    """One table as Markdown (agent names through ``markdown_text``)."""
    pct = f"{100 * level:g}%"
    lines = [f"| rank | agent | rating | {pct} CI | games | W | D | L | infra errors |",
             "|---:|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        ci = "–" if r.ci_low is None else f"[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]"
        lines.append(f"| {r.rank if r.rank is not None else '–'} | {markdown_text(r.agent)} | {_fmt(r.rating)} | "
                     f"{ci} | {r.games} | {r.wins} | {r.draws} | {r.losses} | {r.infra_errors} |")
    return "\n".join(lines)


def leaderboard_markdown(board: Leaderboard) -> str:
    """The overall table, then one section per env, with a legend."""
    legend = ("Ratings: Bradley–Terry log-strengths (mean 0; P(i beats j) = 1 / (1 + exp(r_j - r_i)); "
              f"x {ELO_PER_NAT:.1f} for Elo points), {board.alpha:g} virtual draws per pair; "
              f"{100 * board.level:g}% percentile bootstrap intervals over {board.n_boot} game resamples. "
              "W/D/L: pairwise outcomes against other agents. "
              "Games with an infrastructure error are counted apart and never as losses.")
    parts = ["## Overall", "", table_markdown(board.overall, board.level)]
    for env, rows in board.per_env.items():
        parts += ["", f"## {markdown_text(env)}", "", table_markdown(rows, board.level)]
    parts += ["", legend]
    if board.notes:
        parts += ["", *[f"- {markdown_text(n)}" for n in board.notes]]
    return "\n".join(parts) + "\n"
