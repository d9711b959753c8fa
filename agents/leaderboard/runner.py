"""``turngym leaderboard``: play a suite, log every game, rate the agents, write the reports (issue 16).

Schedule (``schedule``)
-----------------------
* A multi-agent turn-based env (one with a PettingZoo AEC form) with ``N`` seats is played by every
  combination of ``N`` of its agents in each of the ``N`` cyclic rotations of their seats, on every seed. For
  two seats that is the seat-swapped pair: ``(A, B)`` and ``(B, A)`` on the same seed, so both face the
  same deal (chance draws from the env's RNG, seeded by the seed; agents draw from their own generators,
  never the env's), and the first-mover advantage cancels (duplicate play).
* A single-agent env (tool use, web, SWE, puzzles) is played by every agent on every seed; it is scored by
  success rate and mean return, not rated.

Every game is keyed by ``(env label, seed, seats)``.

The log (``games.jsonl``)
-------------------------
One JSON object per line and per game, appended and flushed as soon as the game is over: its key, the
returns per seat, ``success`` (single-agent), ``infra_error`` (or null), turns, seconds, and the hashes of
the env's and the seated agents' specs. A rerun on the same folder skips every game already logged whose
hashes still match the suite, so an interrupted run continues where it stopped; a last line cut off by the
interruption is dropped (and cut from the file) and the game played again. A game whose agent raised
``PolicyInfraError`` (an endpoint failed) or whose env reported ``info["infra_error"]`` (sandbox, browser)
is logged with the reason and left out of every rating and rate: counted apart, never a loss (DESIGN §3).

Reports
-------
``manifest.json`` (suite and spec hashes, env ids and versions, seeds, package versions), ``leaderboard.json``,
``leaderboard.md``, ``leaderboard.png`` and ``leaderboard.html``: Bradley–Terry ratings with bootstrap
intervals (the ranking of record, ``ratings.py``), overall and per env, openskill ratings (order-dependent,
for matchmaking), and the single-agent task table.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import numpy as np

from turngym.agents.leaderboard.agents import build_agent, check_agent_spec
from turngym.agents.leaderboard.games import GameRecord
from turngym.agents.leaderboard.ratings import openskill_ratings
from turngym.agents.leaderboard.suite import EnvSpec, Suite, canonical_json
from turngym.agents.leaderboard.table import Leaderboard, leaderboard_markdown, leaderboard_table
from turngym.agents.stats import mean_ci, rate_ci
from turngym.envs.core.agent_api import accepts_rng
from turngym.envs.core.errors import ConfigError

LOG_NAME = "games.jsonl"
MANIFEST_NAME = "manifest.json"
#: Distributions whose versions the manifest records (those installed).
PACKAGES = ("turngym", "numpy", "scipy", "gymnasium", "pettingzoo", "choix", "openskill", "torch", "transformers",
            "stable-baselines3", "sb3-contrib", "httpx", "matplotlib")
#: Games a worker process plays per task (results reach the log in these batches).
CHUNK = 16


# ---------------------------------------------------------------------------------------------- schedule
@dataclass(frozen=True)
class Match:
    """One game to play: the env's label, the seed, and the agent in each seat (one seat: a single-agent task)."""

    env: str
    seed: int
    seats: tuple[str, ...]

    @property
    def key(self) -> str:
        """The game's identity in the log: canonical JSON of ``[env, seed, seats]``."""
        return canonical_json([self.env, self.seed, list(self.seats)])


def env_players(spec: EnvSpec) -> int | None:
    """Seats of the env's AEC form, or None for an env without one (a single-agent task).

    Raises:
        ConfigError: For a simultaneous-move env (only a Parallel form): the runner does not play those yet.
    """
    import turngym.envs

    info = turngym.envs.env_info(spec.id)
    if info.aec is None:
        if info.parallel is not None:
            raise ConfigError(f"env {spec.label!r}", "a turn-based game (AEC form) or a single-agent task",
                              spec.id, hint="Simultaneous-move envs (Parallel form) are not played by the "
                                            "leaderboard yet.")
        return None
    kwargs = {k: v for k, v in spec.kwargs.items() if k != "obs_mode"}
    env = turngym.envs.make_aec(spec.id, **kwargs)
    try:
        return len(env.possible_agents)
    finally:
        env.close()


def seatings(agents: Sequence[str], players: int) -> list[tuple[str, ...]]:
    """Every combination of ``players`` distinct agents, each in all its cyclic seat rotations (module docstring).

    Raises:
        ConfigError: With fewer agents than seats.
    """
    if len(agents) < players:
        raise ConfigError("agents", f"at least {players} agents for a {players}-seat game", list(agents))
    out = []
    for combo in itertools.combinations(agents, players):
        out += [combo[r:] + combo[:r] for r in range(players)]
    return out


def schedule(suite: Suite, players: dict[str, int | None] | None = None) -> list[Match]:
    """Every game of the suite, env by env, seed by seed (module docstring).

    Args:
        suite: The suite.
        players: Seats per env label (``env_players``); computed when None.
    """
    players = players if players is not None else {e.label: env_players(e) for e in suite.envs}
    out: list[Match] = []
    for env in suite.envs:
        n = players[env.label]
        seats = [(a,) for a in env.agents] if n is None else seatings(env.agents, n)
        out += [Match(env.label, seed, s) for seed in env.seeds for s in seats]
    return out


# ---------------------------------------------------------------------------------------------- playing
def _infra_error_types() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "the outside world failed" (DESIGN §3), among the modules already imported.

    ``PolicyInfraError`` lives with the endpoint policy, whose package imports torch; an agent can only raise
    it once that module is loaded, so it is looked up, never imported here.
    """
    module = sys.modules.get("turngym.agents.llm.policies.openai_chat")
    return (module.PolicyInfraError,) if module is not None else ()


def _infra_reason(err: BaseException) -> str:
    reasons = getattr(err, "reasons", None)
    if isinstance(reasons, dict) and reasons:
        return str(next(iter(reasons.values())))
    return f"{type(err).__name__}: {err}"


def _act(agent: Any, obs: Any, info: dict[str, Any], rng: np.random.Generator | None) -> Any:
    # Only the acting seat's observation and a copy of its info reach the agent (module docstring of agents.py).
    return agent.act([obs], [dict(info)], rng=rng)[0] if rng is not None else agent.act([obs], [dict(info)])[0]


def _observe(env: Any, agent_id: str, seat: int, mode: str) -> Any:
    """The seat's observation in ``mode``: the env's own, or the session's other rendering of the same state."""
    if mode == getattr(env, "obs_mode", mode):
        return env.observe(agent_id)
    session = getattr(env, "session", None)
    if session is None:
        raise ConfigError("obs_mode", f"agents in the env's one observation mode ({env.obs_mode})", mode)
    return session.observation(seat, mode)


def play_game(env: Any, agents: Sequence[Any], seed: int, hands: int = 1) -> dict[str, Any]:
    """One game of a PettingZoo AEC env, ``agents[i]`` in seat ``i``: ``hands`` deals (``EnvSpec.hands``).

    Each agent that takes ``rng`` draws from its own generator seeded by ``(seed, seat)``; the env's RNG is
    left to chance, so a seat-swapped pair replays the same deals.

    Returns:
        ``{"returns", "turns", "infra_error"}``; returns are each seat's rewards summed over the deals.
    """
    names = list(env.possible_agents)
    totals = [0.0] * len(names)
    rngs = [np.random.default_rng([seed, i]) if accepts_rng(a) else None for i, a in enumerate(agents)]
    turns = 0
    for hand in range(hands):
        result = _play_deal(env, agents, rngs, seed * hands + hand)
        turns += result["turns"]
        if result["infra_error"] is not None:
            return {"returns": [], "turns": turns, "infra_error": result["infra_error"]}
        totals = [t + r for t, r in zip(totals, result["returns"], strict=True)]
    return {"returns": totals, "turns": turns, "infra_error": None}


def _play_deal(env: Any, agents: Sequence[Any], rngs: Sequence[np.random.Generator | None],
               seed: int) -> dict[str, Any]:
    """One deal (episode) of the AEC env from reset seed ``seed``."""
    env.reset(seed=seed)
    names = list(env.possible_agents)
    totals = [0.0] * len(names)
    infra_types = _infra_error_types()
    turns = 0
    while env.agents:
        current = env.agent_selection
        if env.terminations[current] or env.truncations[current]:
            break
        seat = names.index(current)
        agent = agents[seat]
        info = env.infos[current]
        try:
            action = _act(agent, _observe(env, current, seat, agent.obs_mode), info, rngs[seat])
        except infra_types as err:
            return {"returns": [], "turns": turns, "infra_error": _infra_reason(err)}
        env.step(action)
        turns += 1
        for i, name in enumerate(names):
            totals[i] += float(env.rewards.get(name, 0.0))
        error = env.infos.get(current, {}).get("infra_error")
        if error:
            return {"returns": [], "turns": turns, "infra_error": str(error)}
    return {"returns": totals, "turns": turns, "infra_error": None}


def play_task(env: Any, agent: Any, seed: int) -> dict[str, Any]:
    """One episode of a single-agent env.

    Returns:
        ``{"returns": [total reward], "success", "turns", "infra_error"}``.
    """
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng([seed, 0]) if accepts_rng(agent) else None
    infra_types = _infra_error_types()
    total, turns, done = 0.0, 0, False
    while not done:
        if info.get("infra_error"):
            return {"returns": [], "success": None, "turns": turns, "infra_error": str(info["infra_error"])}
        try:
            action = _act(agent, obs, info, rng)
        except infra_types as err:
            return {"returns": [], "success": None, "turns": turns, "infra_error": _infra_reason(err)}
        obs, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        turns += 1
        done = terminated or truncated
    if info.get("infra_error"):
        return {"returns": [], "success": None, "turns": turns, "infra_error": str(info["infra_error"])}
    return {"returns": [total], "success": bool(info.get("success", False)), "turns": turns, "infra_error": None}


class MatchPlayer:
    """Builds each env and agent once (per process) and plays matches of one suite.

    Args:
        suite: The suite.
    """

    def __init__(self, suite: Suite):
        self.suite = suite
        self._envs: dict[tuple[str, str], Any] = {}
        self._agents: dict[tuple[str, str], Any] = {}

    def agent(self, name: str, env: EnvSpec) -> Any:
        """The agent ``name`` built for ``env``'s id."""
        key = (name, env.id)
        if key not in self._agents:
            self._agents[key] = build_agent(self.suite.agent(name), env.id)
        return self._agents[key]

    def env(self, spec: EnvSpec, mode: str, multi: bool) -> Any:
        """The env of ``spec`` in observation mode ``mode`` (AEC form when ``multi``)."""
        import turngym.envs

        key = (spec.label, mode)
        if key not in self._envs:
            kwargs = dict(spec.kwargs)
            info = turngym.envs.env_info(spec.id)
            if "vector" in info.modes:
                kwargs.setdefault("obs_mode", mode)
            self._envs[key] = (turngym.envs.make_aec if multi else turngym.envs.make)(spec.id, **kwargs)
        return self._envs[key]

    def play(self, match: Match) -> dict[str, Any]:
        """Plays ``match``; returns its log line (module docstring, "The log")."""
        spec = self.suite.env(match.env)
        agents = [self.agent(a, spec) for a in match.seats]
        modes = {a.obs_mode for a in agents}
        mode = "vector" if modes == {"vector"} else "text"
        tick = time.perf_counter()
        import turngym.envs

        multi = turngym.envs.env_info(spec.id).aec is not None
        env = self.env(spec, mode, multi)
        result = (play_game(env, agents, match.seed, spec.hands) if multi
                  else play_task(env, agents[0], match.seed))
        return {
            "key": match.key, "env": match.env, "env_id": spec.id, "seed": match.seed, "seats": list(match.seats),
            **result, "seconds": round(time.perf_counter() - tick, 6), "env_hash": spec.hash,
            "agent_hashes": {a: self.suite.agent(a).hash for a in dict.fromkeys(match.seats)},
        }

    def close(self) -> None:
        """Closes the envs and the agents that have ``close``."""
        for obj in [*self._envs.values(), *self._agents.values()]:
            close = getattr(obj, "close", None)
            if callable(close):
                close()
        self._envs.clear()
        self._agents.clear()


# A worker process keeps its ``MatchPlayer`` between tasks so that agents (a CFR solve, a loaded model) are built
# once per process, not per chunk. It is the worker's own state, set by ``_init_worker``; the parent never has one.
_WORKER_PLAYER: MatchPlayer | None = None


def _init_worker(suite_dict: dict[str, Any]) -> None:
    global _WORKER_PLAYER
    from turngym.agents.leaderboard.suite import parse_suite

    _WORKER_PLAYER = MatchPlayer(parse_suite(suite_dict))


def _play_chunk(matches: list[Match]) -> list[dict[str, Any]]:
    assert _WORKER_PLAYER is not None, "worker not initialised"
    return [_WORKER_PLAYER.play(m) for m in matches]


# ---------------------------------------------------------------------------------------------- the log
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


# ---------------------------------------------------------------------------------------------- manifest
def package_versions() -> dict[str, str]:
    """Installed versions of ``PACKAGES`` (those not installed are left out)."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = dist_version(name)
        except PackageNotFoundError:
            continue
    return out


def build_manifest(suite: Suite, players: dict[str, int | None], matches: Sequence[Match]) -> dict[str, Any]:
    """What a reader needs to reproduce the run: the suite and its hashes, env versions, seeds, packages."""
    return {
        "suite": suite.to_dict(),
        "suite_hash": suite.hash,
        "agents": [{"name": a.name, "kind": a.kind, "params": a.params, "hash": a.hash} for a in suite.agents],
        "envs": [{"label": e.label, "id": e.id, "version": e.version, "kwargs": e.kwargs, "seeds": list(e.seeds),
                  "agents": list(e.agents), "players": players[e.label], "hash": e.hash} for e in suite.envs],
        "games_scheduled": len(matches),
        "packages": package_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


# ---------------------------------------------------------------------------------------------- running
@dataclass
class RunResult:
    """What ``run_suite`` did and found.

    Attributes:
        out: The output folder.
        records: The suite's logged games, in schedule order (games not played yet are absent).
        scheduled: Games in the schedule.
        played: Games played by this call.
        skipped: Games found in the log and not played again.
        seconds: Wall time of the games played by this call.
        files: Report name -> path.
    """

    out: Path
    records: list[dict[str, Any]]
    scheduled: int
    played: int
    skipped: int
    seconds: float
    files: dict[str, Path] = field(default_factory=dict)


def _chunks(matches: Sequence[Match], size: int) -> Iterator[list[Match]]:
    for i in range(0, len(matches), size):
        yield list(matches[i:i + size])


def play_matches(suite: Suite, matches: Sequence[Match], *, workers: int = 1) -> Iterator[dict[str, Any]]:
    """Plays ``matches`` and yields each log line as soon as it is known (in completion order with workers).

    Args:
        suite: The suite.
        matches: The games.
        workers: Processes; 1 plays in this process. Workers are spawned (no fork of a process that may hold
            torch or HTTP threads) and each builds its agents once.
    """
    if workers <= 1:
        player = MatchPlayer(suite)
        try:
            for m in matches:
                yield player.play(m)
        finally:
            player.close()
        return
    import multiprocessing as mp

    # Chunks of one env's matches, dealt round-robin so every worker starts on its own chunk.
    size = max(1, min(CHUNK, len(matches) // (workers * 4) or 1))
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                             initargs=(suite.to_dict(),)) as pool:
        pending: set[Future[list[dict[str, Any]]]] = {pool.submit(_play_chunk, c) for c in _chunks(matches, size)}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    yield from f.result()
        finally:
            for f in pending:
                f.cancel()


def run_suite(suite: Suite, out: str | Path, *, workers: int = 1, max_games: int | None = None,
              progress: Callable[[int, int], None] | None = None) -> RunResult:
    """Plays every game of the suite not already in ``out/games.jsonl``, appending each to it (module docstring).

    Args:
        suite: The suite.
        out: The output folder (created).
        workers: Worker processes (1: this process).
        max_games: Stop after playing this many new games (tests of resuming; None: all).
        progress: Called as ``progress(done, total)`` after each game.

    Returns:
        The run's records and counts; reports are written by ``write_reports``.
    """
    for a in suite.agents:
        check_agent_spec(a)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    players = {e.label: env_players(e) for e in suite.envs}
    matches = schedule(suite, players)
    (out / MANIFEST_NAME).write_text(json.dumps(build_manifest(suite, players, matches), indent=1), encoding="utf-8")
    log = out / LOG_NAME
    known = valid_records(suite, read_log(log, repair=True))
    todo = [m for m in matches if m.key not in known]
    if max_games is not None:
        todo = todo[:max_games]
    skipped = len(matches) - len([m for m in matches if m.key not in known])
    tick = time.perf_counter()
    played = 0
    with log.open("a", encoding="utf-8") as f:
        for line in play_matches(suite, todo, workers=workers):
            f.write(json.dumps(line, allow_nan=False) + "\n")
            f.flush()  # a crash loses at most the game being written (read_log drops a cut-off line)
            known[line["key"]] = line
            played += 1
            if progress is not None:
                progress(skipped + played, len(matches))
        os.fsync(f.fileno())
    records = [known[m.key] for m in matches if m.key in known]
    return RunResult(out, records, len(matches), played, skipped, time.perf_counter() - tick)


# ---------------------------------------------------------------------------------------------- summaries
@dataclass(frozen=True)
class TaskRow:
    """One agent on one single-agent env: success rate (Wilson interval) and mean return (t interval)."""

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
        if not scored:
            rows.append(TaskRow(env, agent, 0, None, None, None, None, None, None, infra))
            continue
        wins = sum(bool(r["success"]) for r in scored)
        rate, lo, hi = rate_ci(wins, len(scored), level)
        mean, mlo, mhi = mean_ci([r["returns"][0] for r in scored], level)
        rows.append(TaskRow(env, agent, len(scored), rate, lo, hi, mean, mlo, mhi, infra))
    return sorted(rows, key=lambda r: (r.env, -(r.success_rate or 0.0), -(r.mean_return or 0.0), r.agent))


def game_records(records: Iterable[dict[str, Any]]) -> list[GameRecord]:
    """The multi-seat games as ``GameRecord``s (single-agent tasks have no opponent to be rated against)."""
    return [GameRecord(r["env"], r["seed"], tuple(r["seats"]), tuple(r["returns"]), r["infra_error"])
            for r in records if len(r["seats"]) >= 2]


@dataclass
class Summary:
    """Every table of a run: Bradley–Terry (``board``), openskill, single-agent tasks, and counts."""

    suite: str
    board: Leaderboard
    openskill: dict[str, dict[str, dict[str, float]]]
    tasks: list[TaskRow]
    games: int
    infra_errors: int
    scheduled: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"suite": self.suite, "games": self.games, "scheduled": self.scheduled,
                "infra_errors": self.infra_errors, "bradley_terry": self.board.to_dict(),
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
                   len(records) if scheduled is None else scheduled)


def _num(x: float | None, fmt: str = "{:.3f}") -> str:
    return "–" if x is None else fmt.format(x)


def summary_markdown(summary: Summary) -> str:
    """The Bradley–Terry tables (``leaderboard_markdown``), openskill, and the single-agent task table."""
    parts = [f"# Leaderboard: {summary.suite}", "",
             f"{summary.games} of {summary.scheduled} scheduled games logged; {summary.infra_errors} infrastructure "
             "errors (counted apart, never losses).", ""]
    if summary.board.overall:
        parts += [leaderboard_markdown(summary.board).rstrip("\n"), ""]
        parts += ["## openskill (Weng–Lin, order-dependent: for matchmaking, not the ranking of record)", "",
                  "| agent | mu | sigma | ordinal |", "|---|---:|---:|---:|"]
        parts += [f"| {a} | {s['mu']:.2f} | {s['sigma']:.2f} | {s['ordinal']:.2f} |"
                  for a, s in summary.openskill["overall"].items()]
        parts.append("")
    if summary.tasks:
        pct = f"{100 * summary.board.level:g}%"
        parts += ["## Single-agent tasks", "",
                  f"| env | agent | episodes | success | {pct} CI (Wilson) | mean return | {pct} CI (t) "
                  "| infra errors |",
                  "|---|---|---:|---:|---|---:|---|---:|"]
        for t in summary.tasks:
            sci = "–" if t.success_low is None else f"[{t.success_low:.3f}, {t.success_high:.3f}]"
            rci = "–" if t.return_low is None else f"[{t.return_low:+.3f}, {t.return_high:+.3f}]"
            parts.append(f"| {t.env} | {t.agent} | {t.episodes} | {_num(t.success_rate)} | {sci} | "
                         f"{_num(t.mean_return, '{:+.3f}')} | {rci} | {t.infra_errors} |")
        parts.append("")
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


def run_leaderboard(suite: Suite, out: str | Path, *, workers: int = 1, max_games: int | None = None,
                    progress: Callable[[int, int], None] | None = None, png: bool = True,
                    html: bool = True) -> tuple[RunResult, Summary]:
    """``run_suite``, then ``summarize`` and ``write_reports`` (what ``turngym leaderboard`` does)."""
    result = run_suite(suite, out, workers=workers, max_games=max_games, progress=progress)
    summary = summarize(suite, result.records, result.scheduled)
    result.files = write_reports(summary, result.out, png=png, html=html)
    return result, summary


__all__ = ["LOG_NAME", "MANIFEST_NAME", "Match", "MatchPlayer", "RunResult", "Summary", "TaskRow",
           "build_manifest", "env_players", "game_records", "package_versions", "play_game", "play_matches",
           "play_task", "read_log",
           "run_leaderboard", "run_suite", "schedule", "seatings", "summarize", "summary_markdown", "task_table",
           "valid_records", "write_reports"]
