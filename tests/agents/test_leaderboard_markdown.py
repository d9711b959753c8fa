"""The Markdown report with hostile names (issue 16): a ``|``, a line break, a backslash, HTML or a terminal escape
in an agent's, env's or suite's name adds no cell, row, block or tag. Checked by rendering the report with a real
CommonMark + GFM-tables parser (markdown-it-py, which rich brings) and reading the tables back."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import numpy as np
import pytest

from turngym.agents.leaderboard import markdown_text, parse_suite, summarize, summary_markdown, table_markdown
from turngym.agents.leaderboard.games import simulate_bt_games

#: Names that break a naive table: a cell separator, line breaks of every kind, an escaped pipe, raw HTML, an
#: ANSI escape (the CLI prints the report to a terminal), and a trailing backslash before the cell's pipe.
HOSTILE = ["pipe|name", "new\nline|\r\nrow", "back\\|slash", "<script>alert(1)</script>", "ansi\x1b[31mred",
           "tail\\", "next\u2028line\x85"]
SHOWN = ["pipe|name", "new line| row", "back\\|slash", "<script>alert(1)</script>", "ansi\\x1b[31mred",
         "tail\\", "next line"]
ENV = "evil|env\n## injected"


class _Tables(HTMLParser):
    """Tables (rows of cell texts) and headings of rendered HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.headings: list[str] = []
        self.tags: list[str] = []
        self._cell: list[str] | None = None
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag in ("h1", "h2"):
            self._heading = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag in ("h1", "h2") and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data: str) -> None:
        for part in (self._cell, self._heading):
            if part is not None:
                part.append(data)


def render(markdown: str) -> _Tables:
    markdown_it = pytest.importorskip("markdown_it")
    parser = _Tables()
    parser.feed(markdown_it.MarkdownIt("commonmark").enable("table").render(markdown))
    return parser


def hostile_records() -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    strengths = np.linspace(1.0, -1.0, len(HOSTILE))
    records = [{"env": ENV, "seed": g.seed, "seats": list(g.seats), "returns": list(g.returns), "infra_error": None}
               for g in simulate_bt_games(strengths, 400, rng, env_id=ENV, names=HOSTILE)]
    records += [{"env": "turngym/FrozenLake-v0", "seed": s, "seats": [name], "returns": [0.0], "success": False,
                 "infra_error": None} for s, name in enumerate(HOSTILE)]
    return records


def test_markdown_text_escapes_and_flattens() -> None:
    assert markdown_text("a|b") == "a\\|b"
    assert markdown_text("a\\|b") == "a\\\\\\|b"
    assert markdown_text("one\ntwo\r\nthree\rfour\u2028five") == "one two three four five"
    assert markdown_text("<b>") == "\\<b>" and markdown_text("\x1b[0m\x00") == "\\x1b[0m\\x00"
    assert markdown_text("cfr+ (3 it)") == "cfr+ (3 it)"  # ordinary names are untouched
    assert markdown_text(7) == "7"


def test_hostile_names_keep_every_table_intact() -> None:
    suite = parse_suite({"name": "suite|\nname", "n_boot": 20, "agents": [{"name": n, "kind": "random"}
                                                                           for n in HOSTILE],
                         "envs": [{"id": "turngym/KuhnPoker-v0", "label": ENV}]})
    md = summary_markdown(summarize(suite, hostile_records()))
    page = render(md)
    # Overall, the env's table, openskill, single-agent tasks: every row has its header's cells, one row per agent.
    assert len(page.tables) == 4
    for table in page.tables:
        assert len(table) == 1 + len(HOSTILE)
        assert {len(row) for row in table} == {len(table[0])}
    rating_agents = [row[1] for row in page.tables[0][1:]]
    assert sorted(rating_agents) == sorted(SHOWN)
    assert sorted(row[0] for row in page.tables[2][1:]) == sorted(SHOWN)  # openskill
    assert sorted(row[1] for row in page.tables[3][1:]) == sorted(SHOWN)  # tasks
    # No heading was injected and the env's own heading reads as its name; no tag came from a name.
    assert page.headings[0] == "Leaderboard: suite| name"
    assert "evil|env ## injected" in page.headings and "injected" not in page.headings
    assert "script" not in page.tags
    assert "\x1b" not in md


def test_table_markdown_alone_escapes_agent_names() -> None:
    suite = parse_suite({"name": "t", "n_boot": 20, "agents": [{"name": n, "kind": "random"} for n in HOSTILE],
                         "envs": [{"id": "turngym/KuhnPoker-v0", "label": ENV}]})
    board = summarize(suite, hostile_records()).board
    (table,) = render(table_markdown(board.overall)).tables
    assert [len(row) for row in table] == [9] * (1 + len(HOSTILE))
    assert sorted(row[1] for row in table[1:]) == sorted(SHOWN)
