"""The leaderboard as one static, self-contained HTML page (no CDN, no network, no external file).

The page holds the overall Bradley–Terry table, one table per env and the single-agent task table, one view
at a time (buttons switch views), every table sortable by clicking a column header (or Enter/Space on it),
and each rating's bootstrap interval drawn as a bar on a scale shared by the rows of its table.

Safety: agent and env names are user input (suite files), so every text written into the page goes through
``html.escape`` (quotes too); the tables are rendered here, so the script only reorders existing rows and
never turns data into markup. A Content-Security-Policy meta tag forbids every load from outside the page:
the page cannot fetch anything, so it works offline and leaks nothing.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

from turngym.agents.leaderboard.table import RatingRow

if TYPE_CHECKING:
    from turngym.agents.leaderboard.report import Summary, TaskRow

#: Everything from outside the page is refused; inline style and script are the page's own.
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;
color:#1b1f24;padding:0 1rem}
h1{font-size:1.4rem;margin:0 0 .3rem}.meta{color:#57606a;margin:0 0 1rem}
nav{display:flex;flex-wrap:wrap;gap:.4rem;margin:0 0 1rem}
nav button{font:inherit;padding:.3rem .8rem;border:1px solid #d0d7de;border-radius:6px;background:#f6f8fa;
cursor:pointer}
nav button[aria-selected=true]{background:#0969da;color:#fff;border-color:#0969da}
table{border-collapse:collapse;width:100%}th,td{padding:.35rem .55rem;border-bottom:1px solid #eaeef2;text-align:right}
th{cursor:pointer;user-select:none;background:#f6f8fa;position:sticky;top:0}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.name,th.name{text-align:left}td.ci{min-width:240px}
.track{position:relative;height:10px;background:#eaeef2;border-radius:5px;margin:.2rem 0}
.bar{position:absolute;top:0;height:10px;background:#7aa6d8;border-radius:5px}
.pt{position:absolute;top:-2px;width:4px;height:14px;margin-left:-2px;background:#1f5fa8}
.zero{position:absolute;top:-3px;width:1px;height:16px;background:#8c959f}
.citext{font-size:12px;color:#57606a}.legend{color:#57606a;font-size:13px;margin-top:1rem}
"""

SCRIPT = """
(function () {
  "use strict";
  function key(cell) {
    var raw = cell.getAttribute("data-sort");
    if (raw === null) { raw = cell.textContent; }
    var n = parseFloat(raw);
    return isNaN(n) ? {s: raw.toLowerCase()} : {n: n};
  }
  function sortBy(table, th, col) {
    var asc = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col]), y = key(b.cells[col]);
      // numbers first in either direction: unrated rows ("-") stay at the bottom
      if (x.n !== undefined && y.n === undefined) { return -1; }
      if (x.n === undefined && y.n !== undefined) { return 1; }
      var c = x.n !== undefined ? x.n - y.n : (x.s < y.s ? -1 : (x.s > y.s ? 1 : 0));
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(table, th, col); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, th, col); }
      });
    });
  });
  var buttons = document.querySelectorAll("nav button[data-view]");
  function show(id) {
    Array.prototype.forEach.call(document.querySelectorAll("section.view"), function (s) { s.hidden = s.id !== id; });
    Array.prototype.forEach.call(buttons, function (b) {
      b.setAttribute("aria-selected", b.getAttribute("data-view") === id ? "true" : "false");
    });
  }
  Array.prototype.forEach.call(buttons, function (b) {
    b.addEventListener("click", function () { show(b.getAttribute("data-view")); });
  });
  function fromHash() {
    var wanted = window.location.hash.slice(1);
    var section = wanted && document.getElementById(wanted);
    if (section && section.className === "view") { show(wanted); }
  }
  window.addEventListener("hashchange", fromHash);
  fromHash();
})();
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _num(x: float | None, fmt: str = "{:+.3f}") -> str:
    return "–" if x is None else fmt.format(x)


def _sort(x: float | int | None) -> str:
    return "" if x is None else repr(float(x))


def _bar(low: float | None, point: float | None, high: float | None, scale: tuple[float, float],
         zero: bool = True) -> str:
    """An interval bar on ``scale`` (inline styles in percent), or a dash without an interval."""
    if low is None or high is None or point is None:
        return "–"
    lo, hi = scale
    span = (hi - lo) or 1.0

    def pct(x: float) -> float:
        return max(0.0, min(100.0, 100.0 * (x - lo) / span))

    marks = (f'<span class="bar" style="left:{pct(low):.2f}%;width:{pct(high) - pct(low):.2f}%"></span>'
             f'<span class="pt" style="left:{pct(point):.2f}%"></span>')
    if zero and lo <= 0.0 <= hi:
        marks = f'<span class="zero" style="left:{pct(0.0):.2f}%"></span>' + marks
    return f'<div class="track">{marks}</div>'


def _scale(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return (-1.0, 1.0)
    lo, hi = min(values), max(values)
    pad = 0.05 * ((hi - lo) or 1.0)
    return (lo - pad, hi + pad)


def rating_table_html(rows: Sequence[RatingRow], level: float) -> str:
    """One sortable Bradley–Terry table with interval bars."""
    scale = _scale([x for r in rows for x in (r.ci_low, r.ci_high) if x is not None])
    head = ("<tr><th>rank</th><th class=\"name\">agent</th><th>rating</th>"
            f"<th class=\"name\">{_e(f'{100 * level:g}%')} CI</th><th>games</th><th>W</th><th>D</th><th>L</th>"
            "<th>infra errors</th></tr>")
    body = []
    for r in rows:
        ci = "" if r.ci_low is None else f'<span class="citext">[{_num(r.ci_low)}, {_num(r.ci_high)}]</span>'
        body.append(
            f'<tr><td data-sort="{_sort(r.rank)}">{_e(r.rank if r.rank is not None else "–")}</td>'
            f'<td class="name">{_e(r.agent)}</td><td data-sort="{_sort(r.rating)}">{_num(r.rating)}</td>'
            f'<td class="ci name" data-sort="{_sort(r.ci_low)}">{_bar(r.ci_low, r.rating, r.ci_high, scale)}{ci}</td>'
            f"<td>{r.games}</td><td>{r.wins}</td><td>{r.draws}</td><td>{r.losses}</td><td>{r.infra_errors}</td></tr>")
    return f'<table class="sortable"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'


def task_table_html(rows: Sequence[TaskRow], level: float) -> str:
    """The sortable single-agent table: success rate with its interval bar on [0, 1], mean return."""
    pct = _e(f"{100 * level:g}%")
    head = ("<tr><th class=\"name\">env</th><th class=\"name\">agent</th><th>episodes</th><th>success</th>"
            f"<th class=\"name\">{pct} CI (Wilson)</th><th>mean return</th><th class=\"name\">{pct} CI (t)</th>"
            "<th>infra errors</th><th>forfeits</th></tr>")
    body = []
    for t in rows:
        sci = ("" if t.success_low is None
               else f'<span class="citext">[{t.success_low:.3f}, {t.success_high:.3f}]</span>')
        rci = "–" if t.return_low is None else f"[{t.return_low:+.3f}, {t.return_high:+.3f}]"
        body.append(
            f'<tr><td class="name">{_e(t.env)}</td><td class="name">{_e(t.agent)}</td><td>{t.episodes}</td>'
            f'<td data-sort="{_sort(t.success_rate)}">{_num(t.success_rate, "{:.3f}")}</td>'
            f'<td class="ci name" data-sort="{_sort(t.success_low)}">'
            f"{_bar(t.success_low, t.success_rate, t.success_high, (0.0, 1.0), zero=False)}{sci}</td>"
            f'<td data-sort="{_sort(t.mean_return)}">{_num(t.mean_return)}</td><td class="name">{rci}</td>'
            f"<td>{t.infra_errors}</td><td>{t.forfeits}</td></tr>")
    return f'<table class="sortable"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'


def leaderboard_html(summary: Summary) -> str:
    """The whole page (module docstring) as one string."""
    board = summary.board
    views: list[tuple[str, str]] = []  # (button label, section body)
    if board.overall:
        views.append(("Overall", rating_table_html(board.overall, board.level)))
        views += [(env, rating_table_html(rows, board.level)) for env, rows in board.per_env.items()]
    if summary.tasks:
        views.append(("Single-agent tasks", task_table_html(summary.tasks, board.level)))
    nav, sections = [], []
    for i, (label, body) in enumerate(views):
        vid = f"view-{i}"  # ids never come from names (user input)
        nav.append(f'<button type="button" data-view="{vid}" aria-selected="{"true" if i == 0 else "false"}">'
                   f"{_e(label)}</button>")
        sections.append(f'<section class="view" id="{vid}"{"" if i == 0 else " hidden"}><h2>{_e(label)}</h2>'
                        f"{body}</section>")
    legend = ("Ratings: Bradley–Terry log-strengths (mean 0; P(i beats j) = 1 / (1 + exp(r_j − r_i))), "
              f"{board.alpha:g} virtual draws per pair; {100 * board.level:g}% percentile bootstrap intervals over "
              f"{board.n_boot} game resamples (bars share one scale per table; the grey tick is 0). "
              "W/D/L: pairwise outcomes against other agents. Games with an infrastructure error are counted "
              "apart and never as losses. Click a column header to sort.")
    from turngym.agents.leaderboard.report import forfeit_legend

    legend += " " + forfeit_legend(summary)
    notes = "".join(f"<li>{_e(n)}</li>" for n in board.notes)
    title = f"Leaderboard: {summary.suite}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1><p class=\"meta\">{summary.games} of {summary.scheduled} scheduled games logged; "
        f"{summary.infra_errors} infrastructure errors; {sum(summary.forfeits.values())} forfeits.</p>"
        f'<nav aria-label="views">{"".join(nav)}</nav>{"".join(sections)}'
        f'<p class="legend">{_e(legend)}</p>{f"<ul class=legend>{notes}</ul>" if notes else ""}'
        f"<script>{SCRIPT}</script></body></html>\n"
    )


__all__ = ["CSP", "leaderboard_html", "rating_table_html", "task_table_html"]
