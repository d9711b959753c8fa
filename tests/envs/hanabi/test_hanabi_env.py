"""turngym/Hanabi-v0: the env contract, team rewards, hidden information, bad input, snapshots, partners."""

from __future__ import annotations

import json
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import turngym.envs as te
from turngym.envs import ConfigError, SnapshotError
from turngym.envs.core.checker import bad_inputs
from turngym.envs.hanabi.game import HanabiConfig, HanabiGame
from turngym.envs.hanabi.partners import HeuristicPartner, hanabi_expert
from turngym.envs.hanabi.views import VectorLayout, plausible_cards

ENV_ID = "turngym/Hanabi-v0"


def random_states(game, games, seed, eps=0.5):
    """Reachable states (decision points and ends) of games mixing the heuristic with uniform moves."""
    rng = np.random.default_rng(seed)
    partner = HeuristicPartner(game.config)
    for _ in range(games):
        s = game.new_state()
        while True:
            while game.chance_pending(s):
                outcomes = game.chance_outcomes(s)
                game.apply_chance(s, outcomes[rng.integers(len(outcomes))][0])
            yield s
            if game.is_terminal(s):
                break
            legal = game.legal_actions(s)
            if rng.random() < eps:
                action = legal[rng.integers(len(legal))]
            else:
                vec = np.zeros(game.obs_size, dtype=np.float32)
                game.encode(s, s.player, vec)
                action = partner.choose(vec, legal)
            game.apply_action(s, action)


def play_single(env, seed, pick=None):
    """One episode of ``env``; returns (rewards, scores after each step, last info, reset info)."""
    obs, info = env.reset(seed=seed)
    first = info
    rng = np.random.default_rng(seed)
    rewards, scores, done = [], [], False
    while not done:
        ids = info["legal_action_ids"]
        action = pick(obs, info) if pick else ids[rng.integers(len(ids))] if ids else "play 0"
        obs, r, term, trunc, info = env.step(action)
        rewards.append(r)
        scores.append(info["score"])
        done = term or trunc
    assert term and not trunc
    return rewards, scores, info, first


# ------------------------------------------------------------------ registry and conformance
def test_registration():
    info = te.env_info(ENV_ID)
    assert (info.family, info.modes, info.kinds) == ("hanabi", ("text", "vector"), ("gymnasium", "aec"))
    assert info.train_kwargs == {"obs_mode": "text", "opponents": ["heuristic"], "seat": "random"}
    assert info.expert == "turngym.envs.hanabi.partners:hanabi_expert"
    assert [e.id for e in te.list_envs("hanabi")] == [ENV_ID]
    env = gym.make(ENV_ID, **info.train_kwargs)
    _, first = env.reset(seed=3)
    assert first["task"]["id"] == f"{ENV_ID}/seed=3/seat={first['seat']}"
    assert isinstance(env.unwrapped.opponents[0], HeuristicPartner)


def test_openspiel_is_not_a_runtime_dependency():
    code = ("import sys, gymnasium as gym, turngym.envs; env = gym.make('turngym/Hanabi-v0'); env.reset(seed=0); "
            "env.step('play 0'); assert 'pyspiel' not in sys.modules and 'open_spiel' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("mode", ["text", pytest.param("vector", marks=pytest.mark.slow)])
def test_conformance_with_three_random_partners_in_a_random_seat(mode):
    # The registry-wide sweep (tests/envs/test_conformance.py) checks the defaults: two players, heuristic partner.
    te.check_env(gym.make(ENV_ID, obs_mode=mode, players=4, colors=3, ranks=3, opponents="random", seat="random"))


def test_multiagent_conformance_with_three_players():
    te.check_multiagent_env(te.make_aec(ENV_ID, obs_mode="vector", players=3, hand_size=2, max_life_tokens=1))


def test_partner_names_and_config_errors():
    env = gym.make(ENV_ID, opponents=["random"], players=2).unwrapped
    assert type(env.opponents[0]).__name__ == "RandomLegalAgent"
    with pytest.raises(ConfigError, match="'heuristic'") as err:
        gym.make(ENV_ID, opponents="heuristc")
    assert "Did you mean 'heuristic'" in str(err.value)
    with pytest.raises(ConfigError):
        gym.make(ENV_ID, players=3, opponents=["random"])  # one partner for two other seats
    with pytest.raises(ConfigError, match="success_score"):
        gym.make(ENV_ID, success_score=11)
    with pytest.raises(ConfigError, match="hand_size"):
        te.make_aec(ENV_ID, players=5, colors=1)
    with pytest.raises(ConfigError, match="colour"):
        gym.make(ENV_ID, colour=3)


# ------------------------------------------------------------------ rewards
@pytest.mark.parametrize(("seat", "partner"), [(0, "heuristic"), (1, "heuristic"), (0, "random"), (1, "random")])
def test_single_agent_rewards_are_score_changes_and_sum_to_the_final_score(seat, partner):
    env = gym.make(ENV_ID, seat=seat, opponents=partner, obs_mode="vector")
    learner = HeuristicPartner(env.unwrapped.game.config)
    rng = np.random.default_rng(seat)

    def pick(obs, info):  # mostly the heuristic, so that games end in different ways
        ids = info["legal_action_ids"]
        return ids[rng.integers(len(ids))] if rng.random() < 0.2 else learner.act([obs], [info])[0]

    finals = set()
    for seed in range(25):
        rewards, scores, last, first = play_single(env, seed, pick)
        gains = np.diff([0, *scores])
        assert rewards[1:] == pytest.approx(gains[1:].tolist())
        assert rewards[0] == scores[0]  # the first step also pays points scored before the learner's first turn
        assert sum(rewards) == pytest.approx(last["returns"][seat]) and last["returns"] == [last["score"]] * 2
        finals.add(last["score"])
    assert len(finals) > 1


def test_points_scored_before_the_first_turn_are_paid_on_the_first_step():
    env = gym.make(ENV_ID, seat=1, opponents="random")
    for seed in range(200):
        _, info = env.reset(seed=seed)
        if info["score"] > 0:
            break
    else:
        pytest.fail("no random partner scored on its opening move in 200 deals")
    assert info["score"] == 1
    _, r, _, _, after = env.step("not a move")  # invalid: nothing changes, the turn is consumed
    assert not after["action_valid"] and r == 1.0
    term = False
    while not term:  # from here on, each step pays the change in score since the step before
        _, r, term, _, info = env.step(after["legal_action_ids"][-1])
        assert r == info["score"] - after["score"]
        after = info


def test_a_game_lost_before_the_first_turn():
    env = gym.make(ENV_ID, seat=1, opponents="random", max_life_tokens=1)
    for seed in range(200):
        obs, info = env.reset(seed=seed)
        if info.get("ended_before_first_turn"):
            break
    else:
        pytest.fail("no random partner misplayed its opening move in 200 deals")
    assert info["admissible_actions"] == [] and "lost its last life token" in obs
    _, r, term, trunc, info = env.step("play 0")
    assert (r, term, trunc, info["success"], info["returns"]) == (0.0, True, False, False, [0.0, 0.0])


def test_multiagent_rewards_are_openspiel_rewards_for_every_seat():
    env = te.make_aec(ENV_ID, obs_mode="vector", players=3, hand_size=2)
    rng = np.random.default_rng(0)
    losses = 0
    for seed in range(30):
        env.reset(seed=seed)
        game = env.session.game
        totals = dict.fromkeys(env.agents, 0.0)
        for agent in env.agent_iter():
            obs, cumulative, term, trunc, info = env.last()
            totals[agent] += cumulative
            if term or trunc:
                env.step(None)
                continue
            before = game.score(env.session.state)
            ids = info["legal_action_ids"]
            env.step(ids[rng.integers(len(ids))])
            gain = game.score(env.session.state) - before
            assert set(env.rewards.values()) == {gain}
            losses += gain < 0
        final = game.score(env.session.state)
        assert set(totals.values()) == {final}  # every seat's rewards sum to the team's final score
    assert losses > 0  # the move that loses the last life pays minus the score


def test_success_is_a_score_threshold():
    for threshold in (None, 1):
        env = te.make_aec(ENV_ID, obs_mode="vector", success_score=threshold)
        partner = HeuristicPartner(env.session.game.config)
        outcomes = set()
        for seed in range(30):
            env.reset(seed=seed)
            for _ in env.agent_iter():
                obs, _, term, trunc, info = env.last()
                env.step(None if term or trunc else partner.act([obs], [info])[0])
                if term:
                    score = info["score"]
                    assert info["success"] == (score >= (threshold or 10))
                    outcomes.add(info["success"])
        assert outcomes == ({True} if threshold else {True, False})


# ------------------------------------------------------------------ hidden information
def swapped_own_hand(game, s, seat, rng):
    """``s`` with ``seat``'s own cards replaced by other cards that every hint on them allows (None if none can be)."""
    t = game.copy_state(s)
    changed = False
    for i, (card, k) in enumerate(zip(t.hands[seat], t.knowledge[seat], strict=True)):
        options = [x for x in plausible_cards(k, game.config) if x != card and t.deck[x] > 0]
        if options:
            new = options[rng.integers(len(options))]
            t.deck[card] += 1
            t.deck[new] -= 1
            t.hands[seat][i] = new
            changed = True
    return t if changed else None


@pytest.mark.parametrize("config", [HanabiConfig(), HanabiConfig(players=3, colors=3, ranks=4, hand_size=3),
                                    HanabiConfig(players=5, colors=5, ranks=5, hand_size=4)])
def test_no_view_depends_on_the_own_cards(config):
    """Hostile check: swap a seat's own cards for any cards its hints allow; its text, vector, key and legal
    moves stay the same, while every other seat's view changes (so the check can see a difference)."""
    game = HanabiGame(config)
    rng = np.random.default_rng(1)
    checked = 0
    for s in random_states(game, games=12 if config.players < 5 else 4, seed=2):
        for seat in range(config.players):
            t = swapped_own_hand(game, s, seat, rng)
            if t is None:
                continue
            assert game.info_encoding(t, seat) == game.info_encoding(s, seat)
            assert game.render(t, seat) == game.render(s, seat)
            a, b = np.zeros(game.obs_size, np.float32), np.zeros(game.obs_size, np.float32)
            game.encode(s, seat, a)
            game.encode(t, seat, b)
            assert np.array_equal(a, b)
            if game.current_player(s) == seat:
                assert game.legal_actions(t) == game.legal_actions(s)
            other = (seat + 1) % config.players
            assert game.render(t, other) != game.render(s, other)
            assert game.info_encoding(t, other) != game.info_encoding(s, other)
            checked += 1
    assert checked > 200


def test_the_env_never_shows_a_seat_its_own_cards():
    env = te.make_aec(ENV_ID, obs_mode="text")
    env.reset(seed=5)
    s = env.session.state
    game = env.session.game
    text = env.observe("player_0")
    own = [game.config.card_name(c) for c in s.hands[0]]
    others = [game.config.card_name(c) for c in s.hands[1]]
    hand_lines = text.split("Your hand")[1]
    assert all(name not in hand_lines for name in own)  # nothing has been played or discarded yet
    assert all(name in text.split("Your hand")[0] for name in others)


# ------------------------------------------------------------------ actions
@pytest.mark.parametrize("text", ["reveal color red to +1", "REVEAL COLOR RED TO +1", "hint red to +1", "hint red",
                                  "clue color r +1", "tell +1 red", "<action>reveal r to +1</action>", "[hint red]",
                                  "(Reveal player +1 color R)", "  reveal   color red to +1. ", "hint player +1 red"])
def test_lenient_hint_spellings(text):
    env = te.make_aec(ENV_ID)
    env.reset(seed=0)
    assert "reveal color red to +1" in env.infos["player_0"]["admissible_actions"]
    env.step(text)
    assert env.infos["player_0"]["action_valid"] and env.session.state.history[-1] == 6


@pytest.mark.parametrize(("text", "action"), [("play 2", 5), ("play card 2", 5), ("[play slot 2]", 5), ("(Play 2)", 5),
                                              ("reveal rank 4 to +1", 11), ("hint 4", 11), ("clue rank 4 +1", 11)])
def test_other_spellings(text, action):
    env = te.make_aec(ENV_ID)
    env.reset(seed=0)
    env.step(text)
    assert env.session.state.history[-1] == action


def test_hostile_actions_are_invalid_and_change_nothing():
    hostile = [a for _, a in bad_inputs(0)] + [
        "x" * (10 << 20), "play 3", "play -1", "discard 0", "reveal color green to +1", "reveal rank 2 to +1",
        "reveal color red to +2", "hint red to player 1", "play", "play 0 1", "\x00play 0", "play ０", "<action>play 0",
        b"play 0", bytearray(b"play 0"), 10**30, -1, 13, 2.0, True, np.bool_(True), np.array([1, 2]), {"play": 0},
        ["play 0"], object(), None,
    ]
    for mode in ("text", "vector"):
        env = gym.make(ENV_ID, seat=0, obs_mode=mode, max_turns=len(hostile) + 10, invalid_action_penalty=-0.5)
        _, info = env.reset(seed=0)
        snap, key = env.unwrapped.get_state(), info["state_key"]
        history = list(env.unwrapped.session.state.history)
        for turn, action in enumerate(hostile, start=1):
            obs, r, term, trunc, info = env.step(action)
            assert info["action_valid"] is False and info["error"] and r == -0.5, action
            assert not term and not trunc and info["turn"] == turn and info["state_key"] == key
            assert env.unwrapped.session.state.history == history
        if mode == "text":
            assert obs.startswith("Invalid action:") and "Legal actions:" in obs
        env.unwrapped.set_state(snap)
        _, _, _, _, info = env.step("discard 0")
        assert info["error"] == "discard 0 is not allowed: the team already holds all 8 info tokens (play a card or " \
                                "give a hint)"
        _, _, _, _, info = env.step("reveal color red to +1")
        assert info["action_valid"]


# ------------------------------------------------------------------ snapshots
def test_multiagent_snapshots_carry_the_team_rewards():
    env = te.make_aec(ENV_ID, obs_mode="vector")
    env.reset(seed=0)
    env.step(3)  # seed 0: player 0's slot 0 holds Y1, which scores
    assert env.rewards == {"player_0": 1.0, "player_1": 1.0}
    snap = env.get_state()
    tail = []
    for a in (8, 6, 7):
        env.step(a)
        tail.append((dict(env.rewards), dict(env._cumulative_rewards), env.observe(env.agent_selection)["observation"]))
    fresh = te.make_aec(ENV_ID, obs_mode="vector")
    fresh.reset(seed=9)
    fresh.set_state(snap)
    assert fresh.get_state() == snap and fresh.rewards == {"player_0": 1.0, "player_1": 1.0}
    for a, (rewards, cumulative, obs) in zip((8, 6, 7), tail, strict=True):
        fresh.step(a)
        assert fresh.rewards == rewards and fresh._cumulative_rewards == cumulative
        assert np.array_equal(fresh.observe(fresh.agent_selection)["observation"], obs)
    data = json.loads(snap)
    current = fresh.get_state()
    for team in ({"reward": 0, "cumulative": data["team"]["cumulative"]}, {"reward": 10**6, "cumulative": {}},
                 {"reward": 1}, "nothing", {"reward": 1.0, "cumulative": data["team"]["cumulative"]}):
        forged = dict(data, team=team)
        with pytest.raises(SnapshotError):
            fresh.set_state(json.dumps(forged).encode())
    forged = dict(data, team=data["team"])
    forged["session"] = dict(data["session"], game={"history": data["session"]["game"]["history"] + [99]})
    with pytest.raises(SnapshotError):
        fresh.set_state(json.dumps(forged).encode())
    assert fresh.get_state() == current  # the rejected snapshots left the env as it was


def test_single_agent_snapshot_replays_rewards():
    env = gym.make(ENV_ID, seat=1, opponents="random", obs_mode="vector")
    rewards, *_ = play_single(env, 4)
    env.reset(seed=4)
    first = env.unwrapped.get_state()
    rng = np.random.default_rng(4)
    ids = env.unwrapped.session.info(1)["legal_action_ids"]
    again = []
    env.unwrapped.set_state(first)
    done = False
    while not done:
        _, r, term, trunc, info = env.step(ids[rng.integers(len(ids))])
        ids = info["legal_action_ids"]
        again.append(r)
        done = term or trunc
    assert again == rewards


# ------------------------------------------------------------------ partners and the vector layout
def test_heuristic_partners_never_lose_a_life_and_score_well():
    game = HanabiGame()
    partner = HeuristicPartner(game.config)
    scores = []
    for s in random_states(game, games=60, seed=3, eps=0.0):
        if game.is_terminal(s):
            assert s.life_tokens == game.config.max_life_tokens
            scores.append(game.score(s))
    assert np.mean(scores) >= 6.5 and max(scores) == 10  # measured: 7.3 on average over 300 games
    with pytest.raises(TypeError, match="obs_mode='vector'"):
        partner.act(["a text view"], [{"legal_action_ids": [3]}])


def test_expert_plays_admissible_words_in_text_mode():
    env = gym.make(ENV_ID, seat="random")
    expert = hanabi_expert(ENV_ID, seed=0)
    results = []
    for seed in range(20):
        obs, info = env.reset(seed=seed)
        done = False
        while not done:
            move = expert(env, obs, info)
            assert move in info["admissible_actions"]
            obs, r, term, trunc, info = env.step(f"<action>{move}</action>")
            done = term or trunc
        assert term and info["returns"][0] > 0
        results.append(info["success"])
    assert any(results)


@pytest.mark.parametrize("config", [HanabiConfig(), HanabiConfig(players=4, colors=5, ranks=5, hand_size=4),
                                    HanabiConfig(players=3, colors=1, ranks=2, hand_size=1)])
def test_vector_layout_reads_back_what_encode_writes(config):
    game = HanabiGame(config)
    layout = VectorLayout.of(config)
    assert layout.size == game.obs_size
    for s in random_states(game, games=5, seed=0):
        for seat in range(config.players):
            vec = np.zeros(game.obs_size, np.float32)
            game.encode(s, seat, vec)
            assert set(np.unique(vec)) <= {0.0, 1.0}
            assert layout.read_fireworks(vec) == s.fireworks
            assert layout.read_info_tokens(vec) == s.info_tokens
            for o in range(config.players):
                q = (seat + o) % config.players
                if o:
                    assert layout.read_hand(vec, o) == s.hands[q]
                assert layout.read_knowledge(vec, o) == s.knowledge[q]
    assert VectorLayout.of(HanabiConfig()).size == 222  # OpenSpiel's observation_tensor_shape for the default game
