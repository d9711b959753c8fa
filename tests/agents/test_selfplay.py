"""Self-play rollouts (``turngym.agents.llm.selfplay``) on tic-tac-toe with the tiny policy.

Checked against the env itself: every recorded game is replayed move by move in a fresh AEC env, and each
seat's recorded prompts, rewards and the game's returns must be what the env shows and pays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

import turngym.envs as tenvs
from turngym.agents.llm.estimators import estimator_metrics
from turngym.agents.llm.estimators.mars import mars
from turngym.agents.llm.estimators.reference import mars_ref
from turngym.agents.llm.policies import openai_chat
from turngym.agents.llm.policies.base import Generation, Message, PolicyInfraError
from turngym.agents.llm.policies.openai_chat import RequestFailure
from turngym.agents.llm.policies.tiny import build_policy
from turngym.agents.llm.rollout import RolloutSettings
from turngym.agents.llm.selfplay import (
    LEARNER,
    Opponent,
    OpponentPool,
    SelfPlayGame,
    SelfPlayRollout,
    assign_seats,
    collect_selfplay,
    frozen_copy,
    game_records,
    learner_rating,
    pfsp_weights,
    seat_turn_batch,
    selfplay_metrics,
)
from turngym.agents.llm.train.cli import parse_train_args
from turngym.agents.llm.train.config import EnvConfig, OpponentPoolConfig, TrainConfig, validate_config
from turngym.agents.llm.train.rollout_batch import build_rollout_batch
from turngym.envs.core.errors import ConfigError

pytestmark = pytest.mark.usefixtures("one_thread")

ENV = "turngym/TicTacToe-v0"
CONSTRAINED = RolloutSettings(history_turns=0, max_turns=9, max_context_tokens=None, constrain=True,
                              include_first=False)
FREE = RolloutSettings(history_turns=0, max_turns=6, max_context_tokens=None, constrain=False,
                       include_first=False)


@pytest.fixture(scope="module")
def policy():
    return build_policy("tiny", seed=0, max_new_tokens=6)


@pytest.fixture(scope="module")
def selfplay(policy) -> SelfPlayRollout:
    """3 seeds x 4 games, the learner in both seats, decoding constrained to legal cells."""
    policy.set_rng_state(build_policy("tiny", seed=11).rng_state())
    return collect_selfplay(ENV, policy, [0, 2, 4], 4, CONSTRAINED)


def replay(rollout: SelfPlayRollout, game_id: int, env_kwargs: dict[str, Any] | None = None) -> None:
    """Replays one all-learner game in a fresh env and checks the record against it (prompts, rewards, returns).

    Seats act in the env's order (``agent_selection``); each seat's next recorded action is the one played.
    """
    game = rollout.games[game_id]
    eps = {ep.agent_id: ep for ep in rollout.episodes if ep.game_id == game_id}
    assert sorted(eps) == [0, 1] and all(ep.agent == f"player_{s}" for s, ep in eps.items())
    env = tenvs.make_aec(ENV, obs_mode="text", **(env_kwargs or {}))
    env.reset(seed=game.seed)
    nxt = {0: 0, 1: 0}
    rewards = {0: [0.0] * len(eps[0].turns), 1: [0.0] * len(eps[1].turns)}
    returns = [0.0, 0.0]
    while not (any(env.terminations.values()) or any(env.truncations.values())):
        s = env.possible_agents.index(env.agent_selection)
        if nxt[s] == len(eps[s].turns):
            break  # a budget ended the record here
        turn = eps[s].turns[nxt[s]]
        assert turn.prompt[-1]["content"] == env.observe(env.agent_selection)
        assert turn.state_key == env.infos[env.agent_selection]["state_key"]
        env.step(turn.generation.text)
        # GameAECEnv: an invalid action leaves the game as it was and the same seat acts again.
        valid = env.agent_selection != env.possible_agents[s] or any(env.terminations.values())
        assert turn.action_valid == valid, (s, nxt[s], turn.generation.text[:40])
        nxt[s] += 1
        for t, a in enumerate(env.possible_agents):
            returns[t] += env.rewards[a]
            if nxt[t]:
                rewards[t][nxt[t] - 1] += env.rewards[a]
    assert nxt == {0: len(eps[0].turns), 1: len(eps[1].turns)}, "every recorded turn was played, in order"
    assert sum(nxt.values()) == game.turns
    assert game.returns == pytest.approx(returns)
    for s in (0, 1):
        assert [t.reward for t in eps[s].turns] == pytest.approx(rewards[s])
        assert eps[s].total_reward == pytest.approx(game.returns[s])


def test_every_seat_is_a_trajectory_with_its_agent_id(selfplay) -> None:
    assert len(selfplay.games) == 12 and len(selfplay.episodes) == 24
    assert [ep.episode_id for ep in selfplay.episodes] == list(range(24))
    for g in range(12):
        replay(selfplay, g)
    batch = seat_turn_batch(selfplay.episodes)
    assert len(batch) == sum(g.turns for g in selfplay.games)
    expected = [ep.agent_id for ep in selfplay.episodes for _ in ep.turns]
    assert batch.agent_id.tolist() == expected and set(expected) == {0, 1}
    # The G games of a seed are one group; both seats' trajectories of a game are in it.
    assert batch.group_id.tolist() == [ep.game_id // 4 for ep in selfplay.episodes for _ in ep.turns]
    # X moves first: with every move legal, seat 0 has ceil(T/2) turns and seat 1 floor(T/2).
    for ep in selfplay.episodes:
        t = selfplay.games[ep.game_id].turns
        assert len(ep.turns) == (t + 1) // 2 if ep.agent_id == 0 else t // 2


def test_returns_are_zero_sum_and_games_end_as_the_env_says(selfplay) -> None:
    for game in selfplay.games:
        assert game.terminated and not game.truncated and game.infra_error is None
        assert sum(game.returns) == pytest.approx(0.0)
        assert sorted(game.returns) in ([-1.0, 1.0], [0.0, 0.0])
    wins = [ep.success for ep in selfplay.episodes]
    assert wins == [ep.total_reward > 0 for ep in selfplay.episodes]
    m = selfplay_metrics(selfplay)
    assert m["seat0_return_mean"] == pytest.approx(-m["seat1_return_mean"])
    assert m["pool_seat_frac"] == 0.0 and m["pool_games"] == 0.0


def test_mars_centers_each_role_within_its_group(selfplay) -> None:
    batch = seat_turn_batch(selfplay.episodes)
    adv = mars(batch)
    np.testing.assert_allclose(adv, mars_ref(batch), atol=1e-12)
    first = np.flatnonzero(batch.turn == 0)  # one row per (game, seat): A = R_{e,a} - mean of role a
    means = {}
    for i in first:
        means.setdefault((int(batch.group_id[i]), int(batch.agent_id[i])), []).append(adv[i])
    assert len(means) == 6
    for key, values in means.items():
        assert len(values) == 4 and np.mean(values) == pytest.approx(0.0, abs=1e-12), key
    # The baseline is per role: a pooled (GRPO-style) mean over both seats would be 0 in a zero-sum game,
    # so where a seat's mean return is not 0 the advantages differ from the raw returns.
    returns = np.array([selfplay.episodes[int(batch.episode_id[i])].total_reward for i in first])
    assert not np.allclose(adv[first], returns)


def test_same_seeds_same_games_and_a_new_sampling_stream_changes_them(policy) -> None:
    def run(sample_seed: int, rng_seed: int) -> list[Any]:
        policy.set_rng_state(build_policy("tiny", seed=sample_seed).rng_state())
        opp = [Opponent("past", frozen_copy(policy, seed=5))]
        ro = collect_selfplay(ENV, policy, [6, 8], 3, CONSTRAINED, opponents=opp, opponent_fraction=0.5,
                              rng=np.random.default_rng(rng_seed))
        return [(g.seats, g.returns, [t.generation.text for ep in ro.episodes if ep.game_id == g.game_id
                                      for t in ep.turns]) for g in ro.games]

    first = run(1, 0)
    assert run(1, 0) == first
    assert run(2, 0) != first


def test_seat_assignment_honours_the_fraction_and_weights() -> None:
    rng = np.random.default_rng(0)
    opps = [Opponent("a", policy=None, weight=1.0), Opponent("b", policy=None, weight=3.0)]
    for fraction in (0.0, 0.2, 0.5):
        draws = [assign_seats(2, opps, fraction, rng) for _ in range(4000)]
        pool = np.array([[s != LEARNER for s in d] for d in draws])
        assert pool.any(axis=1).sum() <= 4000 and (~pool).any(axis=1).all(), "the learner keeps a seat"
        frac, se = pool.mean(), np.sqrt(fraction * (1 - fraction) / 8000) + 1e-9
        assert abs(frac - fraction) < 4 * se + 1e-12
        if fraction:
            # Each pool seat is drawn uniformly and each opponent with probability weight / total.
            assert abs(pool[:, 0].mean() - pool[:, 1].mean()) < 0.05
            b = np.mean([s == "b" for d in draws for s in d if s != LEARNER])
            assert abs(b - 0.75) < 4 * np.sqrt(0.75 * 0.25 / pool.sum())
    three = np.array([[s != LEARNER for s in assign_seats(3, opps, 0.5, rng)] for _ in range(3000)])
    assert set(three.sum(axis=1)) == {1, 2} and abs(three.mean() - 0.5) < 0.02


def test_pool_seats_are_filled_recorded_and_left_out_of_the_batch(policy) -> None:
    policy.set_rng_state(build_policy("tiny", seed=3).rng_state())
    opps = [Opponent("past0", frozen_copy(policy, seed=1)), Opponent("past1", frozen_copy(policy, seed=2))]
    ro = collect_selfplay(ENV, policy, list(range(0, 24, 2)), 2, CONSTRAINED, opponents=opps,
                          opponent_fraction=0.5, rng=np.random.default_rng(4))
    for game in ro.games:  # two seats, fraction 1/2: exactly one pool seat, shared by the group's games
        assert game.seats.count(LEARNER) == 1 and game.against_pool
        assert game.seats == ro.games[game.group_id * 2].seats
        mine = [ep.agent_id for ep in ro.episodes if ep.game_id == game.game_id]
        assert mine == [game.seats.index(LEARNER)]
        assert sum(game.returns) == pytest.approx(0.0)
    assert {s for g in ro.games for s in g.seats} == {LEARNER, "past0", "past1"}
    records = game_records(ro)
    assert [r.seats for r in records] == [g.seats for g in ro.games]
    m = selfplay_metrics(ro)
    assert m["pool_seat_frac"] == 0.5 and m["pool_games"] == 24
    ratings = learner_rating(records)
    assert set(ratings) == {LEARNER, "past0", "past1"} and sum(ratings.values()) == pytest.approx(0.0, abs=1e-9)
    w = pfsp_weights({LEARNER: 0.0, "past0": 1.0, "past1": -1.0}, ["past0", "past1", "new"])
    assert w[0] == pytest.approx(1 / (1 + np.exp(-1))) and w[1] < 0.5 < w[0] and w[2] == 0.5


def test_pool_arguments_are_checked(policy) -> None:
    opp = [Opponent("past", policy)]
    with pytest.raises(ConfigError, match="opponent_fraction"):
        collect_selfplay(ENV, policy, [0], 1, CONSTRAINED, opponents=opp, opponent_fraction=0.75,
                         rng=np.random.default_rng(0))
    with pytest.raises(ConfigError, match="opponents"):
        collect_selfplay(ENV, policy, [0], 1, CONSTRAINED, opponent_fraction=0.5, rng=np.random.default_rng(0))
    with pytest.raises(ConfigError, match="opponents"):
        collect_selfplay(ENV, policy, [0], 1, CONSTRAINED, opponents=[Opponent(LEARNER, policy)],
                         opponent_fraction=0.5, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="rng"):
        collect_selfplay(ENV, policy, [0], 1, CONSTRAINED, opponents=opp, opponent_fraction=0.5)
    with pytest.raises(ConfigError):
        collect_selfplay("turngym/Sokoban-v0", policy, [0], 1, CONSTRAINED)


def test_free_text_from_the_lm_counts_as_the_env_says(policy) -> None:
    """Unconstrained, the untrained model writes garbage: invalid turns, each paying the env's penalty."""
    policy.set_rng_state(build_policy("tiny", seed=7).rng_state())
    kwargs = {"invalid_action_penalty": -0.25}
    ro = collect_selfplay(ENV, policy, [0, 2], 2, FREE, env_kwargs=kwargs)
    turns = [t for ep in ro.episodes for t in ep.turns]
    assert turns and not any(t.action_valid for t in turns)
    for ep in ro.episodes:
        assert [t.reward for t in ep.turns] == pytest.approx([-0.25] * len(ep.turns))
    for g in range(len(ro.games)):
        assert ro.games[g].truncated and not ro.games[g].terminated
        replay(ro, g, kwargs)


class HostilePolicy:
    """Writes hostile strings as moves (the acting side only): any string is a legal thing for a model to say."""

    MOVES = ("", "\x00" * 5000, "a1; rm -rf / && b2", "<action>a1</action>" * 200, "b2", "ÿþ\ud800", "c3")

    def __init__(self) -> None:
        self.calls = 0

    def generate(self, prompts: Sequence[Sequence[Message]], admissible: Any = None) -> list[Generation]:
        text = self.MOVES[self.calls % len(self.MOVES)]
        self.calls += 1
        return [Generation(text=text, prompt_ids=[1], completion_ids=[2], logprobs=[0.0]) for _ in prompts]


def test_hostile_moves_are_judged_by_the_env_and_the_game_goes_on() -> None:
    ro = collect_selfplay(ENV, HostilePolicy(), [1], 2, FREE)
    for g in range(2):
        replay(ro, g)
    verdicts = {(t.generation.text[:12], t.action_valid) for ep in ro.episodes for t in ep.turns}
    assert ("b2", True) in verdicts and ("", False) in verdicts and ("\x00" * 12, False) in verdicts


class FlakyEndpoint:
    """A policy whose endpoint fails for the first row of its third call (``PolicyInfraError``)."""

    def __init__(self) -> None:
        self.calls = 0

    def generate(self, prompts: Sequence[Sequence[Message]], admissible: Any = None) -> list[Generation]:
        self.calls += 1
        gens = [Generation(text=(a or ["a1"])[0], prompt_ids=[1], completion_ids=[2], logprobs=[0.0])
                for a in (admissible or [None] * len(prompts))]
        if self.calls == 3:
            raise PolicyInfraError({0: RequestFailure("HTTP 503 at /v1/chat", 503, 3, True)}, [None, *gens[1:]])
        return gens


def test_policy_infra_error_is_a_policy_level_error_still_importable_from_the_endpoint_module() -> None:
    import turngym.agents.llm.policies as policies

    assert openai_chat.PolicyInfraError is PolicyInfraError is policies.PolicyInfraError
    assert PolicyInfraError.__module__ == "turngym.agents.llm.policies.base"
    err = PolicyInfraError({1: RequestFailure("worker lost", None, 1, True)}, ["a", None])
    assert err.reasons == {1: "worker lost"} and "row 1: worker lost" in str(err)


def test_an_endpoint_failure_leaves_that_game_unscored() -> None:
    ro = collect_selfplay(ENV, FlakyEndpoint(), [0], 3, CONSTRAINED)
    bad = [g for g in ro.games if g.infra_error is not None]
    assert [g.game_id for g in bad] == [0] and "HTTP 503" in bad[0].infra_error
    assert all(ep.infra_error is not None for ep in ro.episodes if ep.game_id == 0)
    assert all(ep.infra_error is None and ep.terminated for ep in ro.episodes if ep.game_id != 0)
    assert [r.scored for r in game_records(ro)] == [False, True, True]
    assert selfplay_metrics(ro)["infra_error_frac"] == pytest.approx(1 / 3)


def test_opponent_pool_keeps_recent_members_and_rates_every_iterate(policy) -> None:
    pool = OpponentPool(max_size=2, sampling="rating", seed=0)
    for it in (0, 5, 10):
        pool.add(policy, f"iter{it}")
    assert [o.name for o in pool.members] == ["iter5", "iter10"]
    assert pool.members[0].policy.model is not policy.model
    assert [o.weight for o in pool.opponents()] == [1.0, 1.0], "no games yet: uniform"

    def games(learner_wins: int, opponent: str) -> SelfPlayRollout:
        out = [SelfPlayGame(i, i, 2 * i, (LEARNER, opponent), [1.0, -1.0] if i < learner_wins else [-1.0, 1.0],
                            5, True) for i in range(10)]
        return SelfPlayRollout(ENV, [], out)

    pool.record(games(3, "iter5"), "iter10")  # iteration 10's weights lose 7 of 10 to iteration 5's
    pool.record(games(9, "iter10"), "iter15")
    ratings = pool.ratings()
    assert ratings["iter10"] < ratings["iter5"] and ratings["iter15"] > ratings["iter10"]
    assert all(r.seats[0] in ("iter10", "iter15") for r in pool.records)
    weights = {o.name: o.weight for o in pool.opponents()}  # PFSP against the latest rated iterate (iter15)
    assert weights["iter5"] > weights["iter10"]
    with pytest.raises(ConfigError, match="sampling"):
        OpponentPool(sampling="elo")


def test_the_trainer_batch_carries_the_seats(selfplay, policy) -> None:
    batch = build_rollout_batch(selfplay.episodes, pad_id=int(policy.tokenizer.pad_token_id))
    assert batch.turns.agent_id.tolist() == [ep.agent_id for ep in selfplay.episodes for _ in ep.turns]
    assert estimator_metrics("mars", batch.turns) == {"roles": 2.0, "single_role": 0.0}


def test_selfplay_config_is_checked_before_anything_runs() -> None:
    validate_config(TrainConfig(selfplay=True, env=EnvConfig(env_id=ENV), opponents=OpponentPoolConfig(fraction=0.5)))
    with pytest.raises(ConfigError, match="AEC"):
        validate_config(TrainConfig(selfplay=True, env=EnvConfig(env_id="turngym/Sokoban-v0")))
    with pytest.raises(ConfigError, match="opponents.fraction"):
        validate_config(TrainConfig(selfplay=True, env=EnvConfig(env_id=ENV),
                                    opponents=OpponentPoolConfig(fraction=1.0)))
    with pytest.raises(ConfigError, match="opponents.snapshot_every"):
        validate_config(TrainConfig(opponents=OpponentPoolConfig(snapshot_every=0)))
    cfg = parse_train_args(["--selfplay", "--opponents.fraction", "0.25", "--opponents.sampling", "rating"])
    assert cfg.selfplay and cfg.opponents.fraction == 0.25 and cfg.opponents.sampling == "rating"


# ------------------------------------------------------------------------------------ the trainer end to end
def test_train_selfplay_runs_mars_on_tictactoe_and_logs_the_pool(tmp_path):
    import json
    from dataclasses import replace as _replace

    from turngym.agents.llm.train.config import (
        AlgoConfig,
        EnvConfig,
        ModelConfig,
        OpponentPoolConfig,
        OptimConfig,
        RolloutConfig,
        TrainConfig,
    )
    from turngym.agents.llm.train.loop import SELFPLAY_GAMES, train

    cfg = TrainConfig(
        model=ModelConfig(max_new_tokens=4), env=EnvConfig(env_id="turngym/TicTacToe-v0"),
        rollout=RolloutConfig(tasks_per_iter=2, group_size=2, max_turns=5), algo=AlgoConfig(estimator="mars"),
        optim=OptimConfig(minibatch_size=16), iterations=2, eval_every=100, eval_episodes=4, checkpoint_every=1,
        out_dir=str(tmp_path / "run"), tensorboard=False, progress=False, selfplay=True,
        opponents=OpponentPoolConfig(fraction=0.5, snapshot_every=1))
    result = train(cfg)
    games = [json.loads(line) for line in (tmp_path / "run" / SELFPLAY_GAMES).read_text().splitlines()]
    assert len(games) == 2 * 2 * 2  # iterations x tasks x G
    assert all(len(g["seats"]) == 2 and sum(g["returns"]) == 0 or g["infra_error"] for g in games)
    assert any("iter0" in g["seats"] and "iter1" in g["seats"] for g in games if g["iteration"] == 2)
    rows = [r for r in result.history if "pool/size" in r]
    assert [r["pool/size"] for r in rows] == [1.0, 2.0]
    assert any(np.isfinite(r.get("train/loss", np.nan)) for r in result.history)
    # --resume works with --selfplay (tests/agents/test_selfplay_resume.py); a finished run has nothing left.
    again = train(_replace(cfg, resume=True))
    assert again.eval_after == result.eval_after
    assert len((tmp_path / "run" / SELFPLAY_GAMES).read_text().splitlines()) == len(games)
