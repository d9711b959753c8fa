"""Leaderboard ratings (DESIGN §4, "Leaderboards and served models"; issue 16).

- ``games``: ``GameRecord`` (one logged game), the documented reduction of an N-seat game to pairwise
  outcomes (``pairwise``), and a synthetic Bradley–Terry tournament (``simulate_bt_games``).
- ``ratings``: the canonical, order-free Bradley–Terry fit (choix) with bootstrap intervals, and the
  online, order-dependent openskill ratings for matchmaking.
- ``table``: per-env and overall tables (infrastructure failures counted apart) and their Markdown.
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
from turngym.agents.leaderboard.table import (
    Leaderboard,
    RatingRow,
    leaderboard_markdown,
    leaderboard_table,
    rating_table,
    table_markdown,
)

__all__ = [
    "DEFAULT_ALPHA", "ELO_PER_NAT", "Comparison", "GameRecord", "Leaderboard", "RatingRow", "Reduction",
    "SkillRating", "bootstrap_ci", "bradley_terry", "leaderboard_markdown", "leaderboard_table", "openskill_ratings",
    "pairwise", "rating_table", "simulate_bt_games", "table_markdown", "win_matrix",
]
