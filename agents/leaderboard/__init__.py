"""Leaderboard ratings (DESIGN §4, "Leaderboards and served models"; issue 16).

- ``games``: ``GameRecord`` (one logged game), the documented reduction of an N-seat game to pairwise
  outcomes (``pairwise``), and a synthetic Bradley–Terry tournament (``simulate_bt_games``).
- ``ratings``: the canonical, order-free Bradley–Terry fit (choix) with bootstrap intervals, and the
  online, order-dependent openskill ratings for matchmaking.
- ``table``: per-env and overall tables (infrastructure failures counted apart) and their Markdown.
- ``runner`` (``turngym leaderboard``): suites (``suite``) scheduled (``scheduling``), played (``play``) on an
  executor (``workers``: in-process, worker processes, Ray actors), logged (``gamelog``, ``manifest``) and
  reported (``report``, ``html``, ``plot``).
"""

from turngym.agents.leaderboard.games import Comparison, GameRecord, Reduction, pairwise, simulate_bt_games
from turngym.agents.leaderboard.ratings import (
    DEFAULT_ALPHA,
    ELO_PER_NAT,
    SkillRating,
    bootstrap_ci,
    bradley_terry,
    openskill_ratings,
    win_matrix,
)
from turngym.agents.leaderboard.runner import (
    EXECUTORS,
    LOG_NAME,
    MANIFEST_NAME,
    Match,
    MatchPlayer,
    RunResult,
    Summary,
    TaskRow,
    play_matches,
    read_log,
    run_leaderboard,
    run_suite,
    schedule,
    summarize,
    summary_markdown,
    write_reports,
)
from turngym.agents.leaderboard.suite import AgentSpec, EnvSpec, Suite, load_suite, parse_suite
from turngym.agents.leaderboard.table import (
    Leaderboard,
    RatingRow,
    leaderboard_markdown,
    leaderboard_table,
    markdown_text,
    rating_table,
    table_markdown,
)

__all__ = [
    "DEFAULT_ALPHA", "ELO_PER_NAT", "EXECUTORS", "LOG_NAME", "MANIFEST_NAME", "AgentSpec", "Comparison", "EnvSpec",
    "GameRecord", "Leaderboard", "Match", "MatchPlayer", "RatingRow", "Reduction", "RunResult", "SkillRating",
    "Suite", "Summary", "TaskRow", "bootstrap_ci", "bradley_terry", "leaderboard_markdown", "leaderboard_table",
    "load_suite", "markdown_text", "openskill_ratings", "pairwise", "parse_suite", "play_matches", "rating_table",
    "read_log", "run_leaderboard", "run_suite", "schedule", "simulate_bt_games", "summarize", "summary_markdown",
    "table_markdown", "win_matrix", "write_reports",
]
