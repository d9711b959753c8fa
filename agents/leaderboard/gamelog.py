"""The game log (``games.jsonl``): one JSON object per line and per game, resumable.

Each game's line is appended and flushed as soon as the game is over: its key, the returns per seat,
``success`` (single-agent), ``infra_error`` (or null), ``forfeit`` (or null: the seat, agent and reason of a
forfeit, ``play.py``), turns, seconds, and the hashes of the env's and the seated agents' specs. A rerun on the
same folder skips every game already logged whose hashes still match the suite, so an interrupted run
continues where it stopped; a last line cut off by the interruption is dropped (and cut from the file) and the
game played again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from turngym.agents.leaderboard.suite import Suite
from turngym.envs.core.errors import ConfigError

LOG_NAME = "games.jsonl"


def read_log(path: Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """The games logged in ``path`` (none if it does not exist).

    A last line that is cut off (no newline, or not JSON) is dropped: the run was interrupted while writing it.
    With ``repair`` it is also cut from the file, so that appended lines start on a line of their own.

    Raises:
        ConfigError: A line other than the last is not a JSON object (the file is not a game log).
    """
    if not path.exists():
        return []
    data = path.read_bytes()
    lines = data.split(b"\n")
    complete = lines[:-1]  # after the last newline: empty, or a cut-off line
    records, good_end = [], 0
    for i, line in enumerate(complete):
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or "key" not in record:
                raise ValueError("not a game record")
        except ValueError as err:
            if i == len(complete) - 1 and not lines[-1]:
                break  # the last line is broken (written in part before a crash): replay that game
            raise ConfigError("game log", "one JSON game record per line", f"{path}:{i + 1}: {err}") from None
        records.append(record)
        good_end += len(line) + 1
    if repair and good_end != len(data):
        with path.open("r+b") as f:
            f.truncate(good_end)
    return records


def valid_records(suite: Suite, records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The logged games that still belong to the suite, by key (the last one logged wins).

    A game counts when its env label and agents are in the suite and their spec hashes are unchanged.
    """
    env_hash = {e.label: e.hash for e in suite.envs}
    agent_hash = {a.name: a.hash for a in suite.agents}
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        hashes = r.get("agent_hashes", {})
        if env_hash.get(r.get("env")) != r.get("env_hash"):
            continue
        if not all(agent_hash.get(a) == hashes.get(a) for a in r.get("seats", ())):
            continue
        out[r["key"]] = r
    return out


__all__ = ["LOG_NAME", "read_log", "valid_records"]
