"""``turngym leaderboard``: play a suite, log every game, rate the agents, write the reports (issue 16).

The run, module by module:

1. Schedule (``scheduling.py``): a multi-agent turn-based env with ``N`` seats is played by every combination
   of ``N`` of its agents in each of the ``N`` cyclic rotations of their seats, on every seed (for two seats,
   the seat-swapped pair on the same deal: duplicate play); a single-agent env by every agent on every seed.
   Every game is keyed by ``(env label, seed, seats)``.
2. Play (``play.py``): each seat's agent sees only its own observation and info. An agent raising
   ``PolicyInfraError`` (an endpoint failed) or an env reporting ``info["infra_error"]`` (sandbox, browser)
   ends the game as an infrastructure error: left out of every rating and rate, never a loss (DESIGN §3).
   The forfeit rule (``EnvSpec.max_invalid_streak``; default 3 in multi-agent envs, off in single-agent
   tasks): a seat that makes that many invalid actions in a row forfeits; the game ends, the log says who and
   why, and the seat loses to every other seat while the others draw among themselves (``games.py``, rule 5).
   A forfeited single-agent task fails. Without it an agent that only writes invalid actions would play on to
   the turn cap for a draw.
3. Executors (``workers.py``): ``inprocess``, ``subprocess`` (worker processes) or ``ray`` (Ray actors), the
   env pools' executor names; workers build their own agents from the suite and play whole games. A game's log
   line is the same on every executor (its ``seconds`` aside).
4. The log (``gamelog.py``, ``games.jsonl``): one JSON line per game, appended and flushed as soon as it is
   known, so an interrupted run continues where it stopped; games whose env or agent specs changed are played
   again. ``manifest.json`` (``manifest.py``) records the suite, hashes, env versions, seeds and packages.
5. Reports (``report.py``): ``leaderboard.json``, ``.md``, ``.png`` and ``.html``: Bradley–Terry ratings with
   bootstrap intervals (the ranking of record), overall and per env, openskill ratings (order-dependent, for
   matchmaking), the single-agent task table, and the infrastructure errors and forfeits.

This module runs them in order (``run_suite``, ``run_leaderboard``) and re-exports every stage's public names,
so ``from turngym.agents.leaderboard.runner import summarize`` keeps working.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from turngym.agents.leaderboard.agents import check_agent_spec
from turngym.agents.leaderboard.gamelog import LOG_NAME, read_log, valid_records
from turngym.agents.leaderboard.manifest import MANIFEST_NAME, PACKAGES, build_manifest, package_versions
from turngym.agents.leaderboard.play import MatchPlayer, play_game, play_task
from turngym.agents.leaderboard.report import (
    Summary,
    TaskRow,
    forfeit_counts,
    game_records,
    summarize,
    summary_markdown,
    task_table,
    write_reports,
)
from turngym.agents.leaderboard.scheduling import Match, env_players, schedule, seatings
from turngym.agents.leaderboard.suite import Suite
from turngym.agents.leaderboard.workers import CHUNK, EXECUTORS, play_matches, resolve_executor


@dataclass
class RunResult:
    """What ``run_suite`` did and found.

    Attributes:
        out: The output folder.
        records: The suite's logged games, in schedule order (games not played yet are absent).
        scheduled: Games in the schedule.
        played: Games played by this call.
        skipped: Games found in the log and not played again.
        seconds: Wall time of the games played by this call (workers' start-up included).
        executor: The executor that played them (``workers.py``).
        workers: Its worker count (1 in-process).
        files: Report name -> path.
    """

    out: Path
    records: list[dict[str, Any]]
    scheduled: int
    played: int
    skipped: int
    seconds: float
    executor: str = "inprocess"
    workers: int = 1
    files: dict[str, Path] = field(default_factory=dict)


def run_suite(suite: Suite, out: str | Path, *, executor: str | None = None, workers: int = 1,
              address: str | None = None, max_games: int | None = None,
              progress: Callable[[int, int], None] | None = None) -> RunResult:
    """Plays every game of the suite not already in ``out/games.jsonl``, appending each to it (module docstring).

    Args:
        suite: The suite.
        out: The output folder (created).
        executor: ``inprocess``, ``subprocess`` or ``ray``; None: ``subprocess`` when ``workers > 1``, else
            ``inprocess`` (``workers.play_matches``).
        workers: Worker processes or Ray actors (ignored in-process).
        address: Ray cluster to join (``executor="ray"`` only; None starts a local Ray).
        max_games: Stop after playing this many new games (tests of resuming; None: all).
        progress: Called as ``progress(done, total)`` after each game.

    Returns:
        The run's records and counts; reports are written by ``write_reports``.

    Raises:
        ConfigError: A bad agent spec, executor or worker count (before any game is played).
    """
    for a in suite.agents:
        check_agent_spec(a)
    executor = resolve_executor(executor, workers, address)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    players = {e.label: env_players(e) for e in suite.envs}
    matches = schedule(suite, players)
    (out / MANIFEST_NAME).write_text(json.dumps(build_manifest(suite, players, matches), indent=1), encoding="utf-8")
    log = out / LOG_NAME
    known = valid_records(suite, read_log(log, repair=True))
    todo = [m for m in matches if m.key not in known]
    skipped = len(matches) - len(todo)
    if max_games is not None:
        todo = todo[:max_games]
    tick = time.perf_counter()
    played = 0
    with log.open("a", encoding="utf-8") as f:
        for line in play_matches(suite, todo, executor=executor, workers=workers, address=address):
            f.write(json.dumps(line, allow_nan=False) + "\n")
            f.flush()  # a crash loses at most the game being written (read_log drops a cut-off line)
            known[line["key"]] = line
            played += 1
            if progress is not None:
                progress(skipped + played, len(matches))
        os.fsync(f.fileno())
    records = [known[m.key] for m in matches if m.key in known]
    return RunResult(out, records, len(matches), played, skipped, time.perf_counter() - tick, executor,
                     1 if executor == "inprocess" else workers)


def run_leaderboard(suite: Suite, out: str | Path, *, executor: str | None = None, workers: int = 1,
                    address: str | None = None, max_games: int | None = None,
                    progress: Callable[[int, int], None] | None = None, png: bool = True,
                    html: bool = True) -> tuple[RunResult, Summary]:
    """``run_suite``, then ``summarize`` and ``write_reports`` (what ``turngym leaderboard`` does)."""
    result = run_suite(suite, out, executor=executor, workers=workers, address=address, max_games=max_games,
                       progress=progress)
    summary = summarize(suite, result.records, result.scheduled)
    result.files = write_reports(summary, result.out, png=png, html=html)
    return result, summary


__all__ = ["CHUNK", "EXECUTORS", "LOG_NAME", "MANIFEST_NAME", "PACKAGES", "Match", "MatchPlayer", "RunResult",
           "Summary", "TaskRow", "build_manifest", "env_players", "forfeit_counts", "game_records", "package_versions",
           "play_game", "play_matches", "play_task", "read_log", "resolve_executor", "run_leaderboard", "run_suite",
           "schedule", "seatings", "summarize", "summary_markdown", "task_table", "valid_records", "write_reports"]
