"""The forfeit rule (issue 16): invalid actions must not earn a draw.

Real envs throughout. An agent that never acts validly loses every game to random; without the rule (0) the
same agent plays on to the turn cap and draws, which is what the rule exists to stop. Two such agents: the
first seat to act reaches the streak first and forfeits, so they split a seat-swapped pair.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import turngym.envs
from turngym.agents.leaderboard import (
    GameRecord,
    openskill_ratings,
    pairwise,
    parse_suite,
    run_leaderboard,
    run_suite,
)
from turngym.agents.leaderboard.agents import ConstantAgent, RandomAgent
from turngym.agents.leaderboard.play import play_game, play_task
from turngym.agents.leaderboard.suite import DEFAULT_MAX_INVALID_STREAK
from turngym.envs import ConfigError

KUHN = "turngym/KuhnPoker-v0"
TTT = "turngym/TicTacToe-v0"
LAKE = "turngym/FrozenLake-v0"


def constant(name: str, action: str = "xyzzy") -> dict[str, Any]:
    return {"name": name, "kind": "scripted", "factory": "turngym.agents.leaderboard.agents:ConstantAgent",
            "kwargs": {"action": action}}


def suite_data(**extra: Any) -> dict[str, Any]:
    data = {"name": "forfeits", "seeds": {"start": 0, "count": 5}, "n_boot": 50,
            "agents": [{"name": "random", "kind": "random", "seed": 0}, constant("bad"), constant("worse")],
            "envs": [{"id": KUHN, "hands": 3}, {"id": TTT}]}
    data.update(extra)
    return data


class Stutter:
    """Two invalid replies, then a random legal one, forever: never three invalid actions in a row."""

    obs_mode = "text"

    def __init__(self) -> None:
        self.calls = 0
        self.random = RandomAgent(seed=0)

    def act(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]]) -> list[Any]:
        self.calls += 1
        return ["xyzzy"] * len(observations) if self.calls % 3 else self.random.act(observations, infos)


# ------------------------------------------------------------------------------------------------ the rule
def test_an_always_invalid_agent_loses_every_game_to_random(tmp_path: Path) -> None:
    result, summary = run_leaderboard(parse_suite(suite_data()), tmp_path, png=False, html=True)
    against_random = [r for r in result.records if set(r["seats"]) in ({"random", "bad"}, {"random", "worse"})]
    assert len(against_random) == 2 * 2 * 5 * 2  # opponents x seatings x seeds x envs
    for r in against_random:
        loser = "bad" if "bad" in r["seats"] else "worse"
        assert r["infra_error"] is None
        assert r["forfeit"]["agent"] == loser and r["seats"][r["forfeit"]["seat"]] == loser
        assert "3 invalid actions in a row" in r["forfeit"]["reason"] and "xyzzy" in r["forfeit"]["reason"]
    rows = {row.agent: row for row in summary.board.overall}
    assert rows["random"].losses == rows["random"].draws == 0 and rows["random"].wins == 40
    assert rows["random"].rank == 1 and rows["random"].ci_low > max(rows["bad"].ci_high, rows["worse"].ci_high)
    assert summary.forfeits == {"bad": 30, "worse": 30}  # 20 each against random, 10 each between them
    # The rule is stated in every report.
    md = (tmp_path / "leaderboard.md").read_text()
    assert "Forfeit rule: a seat that makes max_invalid_streak invalid actions in a row forfeits" in md
    assert "turngym/KuhnPoker-v0: 3" in md and "Games forfeited: 60 (bad 30, worse 30)" in md
    assert "Forfeit rule" in (tmp_path / "leaderboard.html").read_text()
    assert json.loads((tmp_path / "leaderboard.json").read_text())["forfeits"] == {"bad": 30, "worse": 30}


def test_two_always_invalid_agents_split_a_seat_swapped_pair(tmp_path: Path) -> None:
    """The first seat to act reaches the streak first (documented on ``EnvSpec.max_invalid_streak``)."""
    suite = parse_suite(suite_data(agents=[constant("bad"), constant("worse")]))
    records = run_suite(suite, tmp_path).records
    assert len(records) == 2 * 5 * 2
    for r in records:
        assert r["forfeit"]["seat"] == 0 and r["turns"] == 3  # seat 0 acts first in Kuhn and tic-tac-toe
    games = [GameRecord(r["env"], r["seed"], tuple(r["seats"]), tuple(r["returns"]), None, r["forfeit"]["seat"])
             for r in records]
    wins = {a: sum(c.score for c in pairwise(games).comparisons if c.winner == a) for a in ("bad", "worse")}
    assert wins == {"bad": 10.0, "worse": 10.0}


def test_without_the_rule_invalid_actions_play_on_to_a_draw(tmp_path: Path) -> None:
    """What the rule stops: with max_invalid_streak 0 an agent that cannot act plays to the turn cap and draws."""
    data = suite_data(agents=[{"name": "random", "kind": "random"}, constant("bad")], seeds=[0, 1],
                      envs=[{"id": TTT, "kwargs": {"max_turns": 12}, "max_invalid_streak": 0}])
    result, summary = run_leaderboard(parse_suite(data), tmp_path, png=False, html=False)
    assert all(r["forfeit"] is None and r["returns"] == [0.0, 0.0] for r in result.records)
    assert {row.agent: row.draws for row in summary.board.overall} == {"random": 4, "bad": 4}
    assert "Forfeit rule: off" in (tmp_path / "leaderboard.md").read_text()


def test_a_valid_action_resets_the_streak() -> None:
    env = turngym.envs.make_aec(TTT)
    result = play_game(env, [Stutter(), RandomAgent(seed=1)], seed=0)
    assert result["forfeit"] is None and result["infra_error"] is None
    env.close()
    env = turngym.envs.make_aec(TTT)
    result = play_game(env, [Stutter(), RandomAgent(seed=1)], seed=0, max_invalid_streak=2)
    assert result["forfeit"] == {"seat": 0, "hand": 0, "reason": result["forfeit"]["reason"]}
    assert result["turns"] == 2 and "max_invalid_streak 2" in result["forfeit"]["reason"]


def test_a_forfeit_ends_a_match_of_many_deals_at_once() -> None:
    class LateQuitter(ConstantAgent):
        """Checks ("pass") for two deals' worth of turns, then writes nonsense."""

        def __init__(self) -> None:
            super().__init__("pass")
            self.calls = 0

        def act(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]]) -> list[Any]:
            self.calls += 1
            return ["pass" if self.calls <= 4 else "xyzzy"] * len(observations)

    env = turngym.envs.make_aec(KUHN)
    result = play_game(env, [LateQuitter(), ConstantAgent("pass")], seed=0, hands=10)
    assert result["forfeit"]["seat"] == 0 and result["forfeit"]["hand"] >= 1
    assert len(result["returns"]) == 2 and sum(result["returns"]) == 0.0  # the deals before it were paid


def test_a_forfeited_single_agent_task_fails_and_is_not_infra(tmp_path: Path) -> None:
    env = turngym.envs.make(LAKE)
    result = play_task(env, ConstantAgent("xyzzy"), seed=0, max_invalid_streak=2)
    assert (result["success"], result["infra_error"], result["turns"]) == (False, None, 2)
    assert result["forfeit"]["seat"] == 0
    assert play_task(env, ConstantAgent("xyzzy"), seed=0)["forfeit"] is None  # off by default for tasks

    data = {"name": "lake", "seeds": [0, 1, 2], "max_invalid_streak": 2,
            "agents": [constant("bad"), {"name": "random", "kind": "random"}],
            "envs": [{"id": LAKE, "kwargs": {"max_steps": 8}}]}
    result, summary = run_leaderboard(parse_suite(data), tmp_path, png=False, html=False)
    rows = {t.agent: t for t in summary.tasks}
    assert (rows["bad"].episodes, rows["bad"].success_rate, rows["bad"].forfeits, rows["bad"].infra_errors) == (
        3, 0.0, 3, 0)
    assert rows["random"].forfeits == 0 and summary.infra_errors == 0


# ------------------------------------------------------------------------------------------------ suites, records
def test_suite_defaults_overrides_and_hashes() -> None:
    suite = parse_suite(suite_data(envs=[{"id": KUHN}, {"id": LAKE}]))
    assert [e.max_invalid_streak for e in suite.envs] == [DEFAULT_MAX_INVALID_STREAK, 0] == [3, 0]
    suite = parse_suite(suite_data(max_invalid_streak=5, envs=[{"id": KUHN}, {"id": LAKE, "max_invalid_streak": 1}]))
    assert [e.max_invalid_streak for e in suite.envs] == [5, 1]
    assert parse_suite(suite.to_dict()) == suite
    a = parse_suite(suite_data(envs=[{"id": KUHN}])).envs[0]
    b = parse_suite(suite_data(envs=[{"id": KUHN, "max_invalid_streak": 4}])).envs[0]
    assert a.hash != b.hash  # games logged under another rule are played again
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ConfigError, match="max_invalid_streak"):
            parse_suite(suite_data(envs=[{"id": KUHN, "max_invalid_streak": bad}]))
    with pytest.raises(ConfigError, match="max_invalid_streak"):
        parse_suite(suite_data(max_invalid_streak=-2))


def test_forfeit_decides_the_reduction_and_openskill() -> None:
    # Seat 1 forfeited while ahead: it loses to both others, who draw although their returns differ (rule 5).
    game = GameRecord("e", 0, ("a", "b", "c"), (1.0, 5.0, -2.0), forfeit=1)
    got = {(c.winner, c.loser): c.score for c in pairwise([game]).comparisons}
    assert got == {("a", "b"): 1.0, ("c", "b"): 1.0, ("a", "c"): 0.5}
    skill = openskill_ratings([game])
    assert skill["b"].mu < skill["a"].mu == pytest.approx(skill["c"].mu)
    two = [GameRecord("e", s, ("x", "y"), (3.0, -3.0), forfeit=0) for s in range(5)]
    assert all((c.winner, c.loser, c.score) == ("y", "x", 1.0) for c in pairwise(two).comparisons)
    for bad in (2, -1, True, "0"):
        with pytest.raises(ConfigError, match="forfeit"):
            GameRecord("e", 0, ("x", "y"), (0.0, 0.0), forfeit=bad)
    with pytest.raises(ConfigError, match="forfeit"):
        GameRecord("e", 0, ("x", "y"), (), "endpoint down", forfeit=0)  # an infra error has no outcome
    assert np.isfinite(skill["b"].ordinal)


def test_log_lines_from_before_the_rule_still_read(tmp_path: Path) -> None:
    from turngym.agents.leaderboard.report import game_records, summarize

    old = [{"key": "k", "env": KUHN, "seed": 0, "seats": ["a", "b"], "returns": [1.0, -1.0], "infra_error": None}]
    (record,) = game_records(old)
    assert record.forfeit is None
    suite = parse_suite(suite_data(agents=[{"name": "a", "kind": "random"}, {"name": "b", "kind": "random"}],
                                   envs=[{"id": KUHN}]))
    assert summarize(suite, old).forfeits == {}
