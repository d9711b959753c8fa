"""Rules and contract of the Harvest and Cleanup gridworlds (envs/dilemmas/gridworld)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import turngym.envs as te
from turngym.envs import ConfigError, SnapshotError
from turngym.envs.dilemmas.gridworld import CleanupGame, HarvestGame
from turngym.envs.dilemmas.gridworld.cleanup import apple_spawn_probability
from turngym.envs.dilemmas.gridworld.core import CLEAN, DOWN, LEFT, STAY, TAG, TURN_LEFT, TURN_RIGHT, UP
from turngym.envs.dilemmas.gridworld.maps import parse_map, random_cleanup_rows, random_harvest_rows, split_rows
from turngym.envs.dilemmas.metrics import social_outcomes

HARVEST, CLEANUP = "turngym/Harvest-v0", "turngym/Cleanup-v0"
N, E, S, W = range(4)


def open_map(height: int, width: int, players: int, cells: dict[tuple[int, int], str] | None = None) -> str:
    """A walled rectangle of floor; player k starts at (height - 2, 1 + k); ``cells`` overrides characters."""
    grid = [["#" if r in (0, height - 1) or c in (0, width - 1) else "." for c in range(width)] for r in range(height)]
    for k in range(players):
        grid[height - 2][1 + k] = str(k)
    for (r, c), ch in (cells or {}).items():
        grid[r][c] = ch
    return "\n".join("".join(row) for row in grid)


def place(game, s, player: int, row: int, col: int, orient: int) -> None:
    """Moves a player (state surgery for rule tests) and drops the cached views."""
    s.pos[player] = (row, col)
    s.orient[player] = orient
    s.invalidate()


def step(game, s, actions, seed: int = 0):
    game.apply_joint(s, list(actions), np.random.default_rng(seed))
    return s.last_rewards.tolist()


# ------------------------------------------------------------------------------------------ Harvest regrowth
def test_regrowth_frequency_follows_neighbour_count():
    """Each probe is an empty apple cell with exactly k apples within L1 distance 2 (Perolat et al. 2017)."""
    offsets = [(-1, 0), (0, 1), (1, 0), (0, -1), (-2, 0), (0, 2), (2, 0), (0, -2), (-1, 1), (1, 1), (1, -1), (-1, -1)]
    counts = [0, 1, 2, 3, 4, 5, 12]
    cells = {}
    for j, k in enumerate(counts):
        r0, c0 = 3, 3 + 7 * j
        cells[(r0, c0)] = "a"
        for dr, dc in offsets[:k]:
            cells[(r0 + dr, c0 + dc)] = "A"
    cells[(3 + 2, 3 + 2)] = "A"  # L1 distance 4 from the k=0 probe (L-infinity 2): must not count
    cells[(3 - 2, 3 + 1)] = "A"  # L1 distance 3: must not count either
    game = HarvestGame(num_players=1, map=open_map(7, 7 * len(counts) + 1, 1, cells), horizon=10)
    rng = np.random.default_rng(123)
    template = game.new_state(rng)
    trials = 3000
    grown = np.zeros(len(counts))
    for _ in range(trials):
        s = template.copy()
        game.apply_joint(s, [STAY], rng)
        grown += [s.apples[3, 3 + 7 * j] for j in range(len(counts))]
    freq = grown / trials
    expected = np.array([0.0, 0.01, 0.01, 0.05, 0.05, 0.1, 0.1])
    assert freq[0] == 0.0
    sigma = np.sqrt(expected * (1 - expected) / trials)
    assert np.all(np.abs(freq[1:] - expected[1:]) < 4.5 * sigma[1:]), freq


def test_regrowth_probabilities_are_arguments():
    cells = {(3, 3): "a", (3, 4): "A"}
    game = HarvestGame(num_players=1, map=open_map(7, 8, 1, cells), regrowth_probs=(0.0, 1.0), horizon=5)
    s = game.new_state(np.random.default_rng(0))
    step(game, s, [STAY])
    assert s.apples[3, 3]  # probability 1 with one neighbour
    game = HarvestGame(num_players=1, map=open_map(7, 8, 1, cells), regrowth_probs=(0.0, 0.0), horizon=5)
    s = game.new_state(np.random.default_rng(0))
    for t in range(4):
        step(game, s, [STAY], seed=t)
    assert not s.apples[3, 3]


def test_depleted_patch_never_regrows_but_a_living_one_does():
    patch_a = {(2 + dr, 3 + dc): "a" for dr in range(-1, 2) for dc in range(-1, 2)}  # eaten bare
    patch_b = {(2 + dr, 12 + dc): "a" for dr in range(-1, 2) for dc in range(-1, 2)}
    patch_b[(2, 12)] = "A"  # one apple left
    game = HarvestGame(num_players=1, map=open_map(6, 16, 1, {**patch_a, **patch_b}), horizon=600)
    rng = np.random.default_rng(7)
    s = game.new_state(rng)
    for _ in range(500):
        game.apply_joint(s, [STAY], rng)
    rows, cols = zip(*patch_a, strict=True)
    assert not s.apples[rows, cols].any()
    rows, cols = zip(*patch_b, strict=True)
    assert s.apples[rows, cols].sum() > 1


# ------------------------------------------------------------------------------------------ movement, eating
def test_eating_gives_plus_one_and_removes_the_apple():
    game = HarvestGame(num_players=1, map=open_map(6, 8, 1, {(2, 3): "A", (2, 5): "a"}), horizon=10)
    s = game.new_state(np.random.default_rng(0))
    place(game, s, 0, 2, 2, E)
    assert step(game, s, [UP]) == [1.0]
    assert (s.pos[0].tolist(), bool(s.apples[2, 3])) == ([2, 3], False)
    assert step(game, s, [UP]) == [0.0]  # empty cell: nothing to eat
    assert s.scores.tolist() == [1.0]


def test_moves_are_relative_to_facing_and_walls_block():
    game = HarvestGame(num_players=1, map=open_map(7, 7, 1), horizon=20)
    s = game.new_state(np.random.default_rng(0))
    place(game, s, 0, 3, 3, E)
    step(game, s, [LEFT])  # facing east, left is north
    assert s.pos[0].tolist() == [2, 3]
    step(game, s, [DOWN])  # back: west
    assert s.pos[0].tolist() == [2, 2]
    step(game, s, [TURN_LEFT])
    assert s.orient[0] == N
    step(game, s, [TURN_RIGHT])
    step(game, s, [TURN_RIGHT])
    assert s.orient[0] == S
    place(game, s, 0, 1, 1, N)
    step(game, s, [UP])  # into the wall
    assert s.pos[0].tolist() == [1, 1]


def test_contested_cell_goes_to_exactly_one_player_in_random_order():
    winners = set()
    for seed in range(12):
        game = HarvestGame(num_players=2, map=open_map(7, 7, 2), horizon=5)
        s = game.new_state(np.random.default_rng(0))
        place(game, s, 0, 3, 2, E)
        place(game, s, 1, 3, 4, W)
        step(game, s, [UP, UP], seed=seed)
        at_target = [i for i in range(2) if s.pos[i].tolist() == [3, 3]]
        assert len(at_target) == 1
        winners.add(at_target[0])
    assert winners == {0, 1}


# ------------------------------------------------------------------------------------------ tagging beam
def tag_setup(targets: dict[int, tuple[int, int]], walls=(), **kwargs):
    cells = {rc: "#" for rc in walls}
    game = HarvestGame(num_players=1 + len(targets), map=open_map(11, 12, 1 + len(targets), cells), horizon=60,
                       **kwargs)
    s = game.new_state(np.random.default_rng(0))
    place(game, s, 0, 5, 2, E)  # facing east: lanes are rows 4, 5, 6
    for i, (r, c) in targets.items():
        place(game, s, i, r, c, W)
    return game, s


@pytest.mark.parametrize(("target", "walls", "hit"), [
    ((5, 7), (), True),          # 5 ahead: the end of the default range
    ((5, 8), (), False),         # 6 ahead: out of range
    ((6, 3), (), True),          # side lane (width 3), 1 ahead
    ((7, 3), (), False),         # two lanes to the side
    ((5, 5), [(5, 4)], False),   # a wall in between
    ((4, 6), [(4, 3)], False),   # wall in the side lane
])
def test_tag_beam_range_width_and_walls(target, walls, hit):
    game, s = tag_setup({1: target}, walls)
    step(game, s, [TAG, STAY])
    assert (s.timeout[1] > 0) == hit
    assert bool(s.beams[target]) == hit


def test_tag_beam_stops_at_the_first_player_in_a_lane():
    game, s = tag_setup({1: (5, 4), 2: (5, 6)})
    step(game, s, [TAG, STAY, STAY])
    assert s.timeout.tolist() == [0, 25, 0]
    assert not s.beams[5, 5]


def test_tagged_player_is_out_for_exactly_the_documented_steps():
    game, s = tag_setup({1: (5, 4)})
    assert game.tag_duration == 25  # documented default (Perolat et al. 2017)
    step(game, s, [TAG, STAY])  # step index 0: the hit
    assert "P" not in game.view_text(s, 0)  # the tagged player is invisible at once
    obs = np.zeros(game.obs_size, dtype=np.float32)
    game.encode(s, 1, obs)
    assert not obs.any()  # and sees nothing
    out_steps = 0
    while s.timeout[1] > 0:
        before = s.pos[1].tolist()
        step(game, s, [STAY, UP], seed=s.t)  # its moves are ignored while out
        out_steps += 1
        if s.timeout[1] > 0:
            assert s.pos[1].tolist() == before
    assert out_steps == 25
    assert s.removed_hist[:s.t, 1].tolist() == [False] + [True] * 25
    assert s.removed_hist[:s.t, 0].sum() == 0
    assert tuple(s.pos[1]) in {tuple(rc) for rc in s.layout.spawns.tolist()}  # back on a spawn point
    step(game, s, [STAY, STAY], seed=99)
    assert s.removed_hist[s.t - 1, 1] == False  # noqa: E712 - numpy bool
    assert s.timeout[1] == 0


def test_tag_duration_and_cost_are_arguments():
    game, s = tag_setup({1: (5, 4)}, tag_duration=3, tag_cost=0.5)
    assert step(game, s, [TAG, STAY]) == [-0.5, 0.0]
    for t in range(3):
        step(game, s, [STAY, STAY], seed=t)
    assert s.removed_hist[:s.t, 1].tolist() == [False, True, True, True]
    assert s.timeout[1] == 0


# ------------------------------------------------------------------------------------------ Cleanup
CLEAN_MAP = """
##########
#w~~~~...#
#~w~w~0..#
#~w~#~...#
#~~~~~..1#
##########
"""


def test_cleaning_beam_removes_the_first_waste_in_each_lane_within_range():
    game = CleanupGame(num_players=2, map=CLEAN_MAP, waste_spawn_prob=0.0, horizon=10)
    s = game.new_state(np.random.default_rng(0))
    place(game, s, 0, 2, 6, W)  # lanes: rows 3 (left), 2, 1 (right)
    assert step(game, s, [CLEAN, STAY]) == [0.0, 0.0]
    assert sorted(map(tuple, np.argwhere(s.waste).tolist())) == [(2, 2), (3, 2)]
    assert s.beams[1, 1] and s.beams[2, 4] and not s.beams[2, 3] and s.beams[3, 5] and not s.beams[3, 4]


def test_cleaning_beam_length_and_cost():
    game = CleanupGame(num_players=2, map=CLEAN_MAP, waste_spawn_prob=0.0, clean_length=4, clean_cost=0.25,
                       horizon=10)
    s = game.new_state(np.random.default_rng(0))
    place(game, s, 0, 2, 6, W)
    assert step(game, s, [CLEAN, STAY]) == [-0.25, 0.0]
    assert s.waste[1, 1]  # five cells away: out of reach


def test_apple_spawn_probability_thresholds():
    assert apple_spawn_probability(0.0, 0.05, 0.4, 0.0) == 0.05
    assert apple_spawn_probability(0.2, 0.05, 0.4, 0.0) == pytest.approx(0.025)
    assert apple_spawn_probability(0.4, 0.05, 0.4, 0.0) == 0.0
    assert apple_spawn_probability(0.9, 0.05, 0.4, 0.0) == 0.0
    assert apple_spawn_probability(0.25, 0.05, 0.4, 0.3) == 0.05  # below restoration: maximal


def orchard_game(dirty: int, **kwargs) -> tuple[CleanupGame, object]:
    river = {(1, c): ("w" if c <= dirty else "~") for c in range(1, 11)}
    orchard = {(r, c): "a" for r in range(3, 7) for c in range(1, 11)}
    game = CleanupGame(num_players=1, map=open_map(9, 12, 1, {**river, **orchard}), waste_spawn_prob=0.0,
                       horizon=400, **kwargs)
    return game, game.new_state(np.random.default_rng(0))


@pytest.mark.parametrize(("dirty", "expected"), [(0, 0.2), (2, 0.1), (4, 0.0), (10, 0.0)])
def test_orchard_spawn_rate_follows_pollution(dirty, expected):
    game, template = orchard_game(dirty, apple_spawn_prob=0.2, depletion_threshold=0.4)
    rng = np.random.default_rng(dirty)
    trials, grown = 100, 0
    for _ in range(trials):
        s = template.copy()
        game.apply_joint(s, [STAY], rng)
        grown += int(s.apples.sum())
    freq = grown / (trials * 40)
    if expected == 0.0:
        assert freq == 0.0
    else:
        assert abs(freq - expected) < 4.5 * np.sqrt(expected * (1 - expected) / (trials * 40))


def test_no_apples_above_depletion_even_over_time_and_max_below_restoration():
    game, s = orchard_game(5, apple_spawn_prob=0.5)  # pollution 0.5 >= 0.4
    rng = np.random.default_rng(0)
    for _ in range(300):
        game.apply_joint(s, [STAY], rng)
    assert not s.apples.any()
    game, s = orchard_game(2, apple_spawn_prob=0.5, restoration_threshold=0.25)  # 0.2 <= restoration
    game.apply_joint(s, [STAY], rng)
    assert 10 < s.apples.sum() < 30  # about half of 40 cells at the maximal rate 0.5


def test_waste_accumulates_in_the_river_only():
    game = CleanupGame(num_players=1, map=open_map(6, 10, 1, {(1, c): "~" for c in range(1, 9)}),
                       waste_spawn_prob=0.5, horizon=20)
    s = game.new_state(np.random.default_rng(0))
    step(game, s, [STAY])
    assert s.waste.any() and not (s.waste & ~s.layout.river).any()
    assert game.pollution(s) == s.waste.sum() / 8


# ------------------------------------------------------------------------------------------ views
VIEW_MAP = """
#######
#..A..#
#.....#
#A.01.#
#.....#
#######
"""
EXPECTED_VIEWS = {
    N: [".A.", "...", ".^P", "..."],
    E: ["...", ".P.", ".^.", "..."],
    S: ["###", "...", "P^.", "..."],
    W: [".A.", "...", ".^.", ".P."],
}


@pytest.mark.parametrize("orient", [N, E, S, W])
def test_window_contents_and_rotation(orient):
    game = HarvestGame(num_players=2, map=VIEW_MAP, view_ahead=2, view_behind=1, view_sides=1, horizon=5)
    s = game.new_state(np.random.default_rng(0))
    place(game, s, 0, 3, 3, orient)
    assert game.view_text(s, 0).split("\n") == EXPECTED_VIEWS[orient]
    obs = game.observe(s)[0].reshape(game.obs_shape)
    channel = {name: obs[:, :, k] for k, name in enumerate(game.channels)}
    text = np.array([list(row) for row in EXPECTED_VIEWS[orient]])
    assert np.array_equal(channel["wall"] == 1, text == "#")
    assert np.array_equal(channel["apple"] == 1, text == "A")
    assert np.array_equal(channel["agent"] == 1, text == "P")
    assert np.array_equal(channel["self"] == 1, text == "^")
    assert not channel["beam"].any()


def test_outside_of_the_map_reads_as_wall_and_text_obs_has_legend():
    game = HarvestGame(num_players=2, map=VIEW_MAP, view_ahead=4, view_behind=0, view_sides=1, horizon=5)
    s = game.new_state(np.random.default_rng(0))
    place(game, s, 0, 3, 3, N)
    assert game.view_text(s, 0).split("\n") == ["###", "###", ".A.", "...", ".^P"]
    env = te.make_parallel(HARVEST, num_players=2, map=VIEW_MAP, view_ahead=2, view_behind=1, view_sides=1)
    obs, _ = env.reset(seed=0)
    assert "\n".join(EXPECTED_VIEWS[N]) in obs["player_0"]  # digit starts face north
    assert "Legend:" in obs["player_0"] and "^ you" in obs["player_0"]


def test_vector_space_shapes():
    h = te.make_parallel(HARVEST, obs_mode="vector")
    c = te.make_parallel(CLEANUP, obs_mode="vector")
    assert h.observation_space("player_0")["observation"].shape == (11 * 11 * 5,)
    assert c.observation_space("player_0")["observation"].shape == (11 * 11 * 7,)
    assert h.action_space("player_0").n == 8 and c.action_space("player_0").n == 9
    assert len(h.possible_agents) == 5 and len(c.possible_agents) == 5


# ------------------------------------------------------------------------------------------ metrics at the end
def test_social_metrics_in_final_info():
    env = te.make_parallel(HARVEST, num_players=2, map=open_map(7, 9, 2, {(5, 4): "A", (5, 5): "A"}), horizon=8,
                           tag_duration=3, obs_mode="vector")
    obs, _ = env.reset(seed=3)
    game, s = env.game, env.session.state
    place(game, s, 0, 5, 3, E)  # facing the apples
    place(game, s, 1, 3, 6, W)
    obs = {f"player_{i}": {"observation": game.observe(s)[i]} for i in range(2)}
    plan = [{"player_0": UP, "player_1": LEFT}, {"player_0": UP, "player_1": STAY}] + \
           [{"player_0": TAG if t == 0 else STAY, "player_1": STAY} for t in range(6)]
    rewards, removed = [], []
    infos = {}
    for joint in plan:
        removed.append([not obs[a]["observation"].any() for a in ("player_0", "player_1")])
        obs, rew, _, _, infos = env.step(joint)
        rewards.append([rew["player_0"], rew["player_1"]])
        assert ("social" in infos["player_0"]) == (not env.agents)
    expected = social_outcomes(np.array(rewards), np.array(removed))
    assert infos["player_0"]["social"] == expected == infos["player_1"]["social"]
    assert expected["efficiency"] == pytest.approx(2 / 8)
    assert expected["peace"] < 2  # player 1 was tagged out for some steps
    assert infos["player_0"]["success"] is True and infos["player_1"]["success"] is False


def test_single_agent_view_reports_social_metrics():
    env = te.make(CLEANUP, horizon=5, obs_mode="vector")
    env.reset(seed=0)
    for _ in range(5):
        _, _, term, trunc, info = env.step(STAY)
    assert term and not trunc
    assert set(info["social"]) == {"efficiency", "equality", "sustainability", "peace"}


# ------------------------------------------------------------------------------------------ determinism, snapshots
def rollout(env, seed: int, steps: int, policy_seed: int = 0):
    rng = np.random.default_rng(policy_seed)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for _ in range(steps):
        n = env.action_space("player_0").n
        joint = {a: int(rng.integers(n)) for a in env.agents}
        obs, rew, _, _, infos = env.step(joint)
        out.append((obs, rew, [infos[a]["state_key"] for a in infos]))
    return out


def same(a, b) -> bool:
    from gymnasium.utils.env_checker import data_equivalence

    return data_equivalence(a, b)


@pytest.mark.parametrize("env_id", [HARVEST, CLEANUP])
def test_seeded_determinism_and_seed_sensitivity(env_id):
    make = lambda: te.make_parallel(env_id, obs_mode="vector", map="random", horizon=50)  # noqa: E731
    assert same(rollout(make(), 4, 30), rollout(make(), 4, 30))
    a, b = make(), make()
    a.reset(seed=1)
    b.reset(seed=2)
    assert a.session.state.layout.rows != b.session.state.layout.rows  # random maps come from the seed


@pytest.mark.parametrize("env_id", [HARVEST, CLEANUP])
def test_snapshot_restores_and_replays(env_id):
    env = te.make_parallel(env_id, obs_mode="vector", horizon=80)
    rollout(env, 0, 20)
    snap = env.get_state()
    rng = np.random.default_rng(5)
    joints = [{a: int(rng.integers(env.action_space(a).n)) for a in env.possible_agents} for _ in range(40)]
    first = [env.step(j) for j in joints]
    env.set_state(snap)
    assert env.get_state() == snap
    assert same(first, [env.step(j) for j in joints])
    fresh = te.make_parallel(env_id, obs_mode="vector", horizon=80)
    fresh.reset(seed=9)
    fresh.set_state(snap)
    assert same(first, [fresh.step(j) for j in joints])


def test_malformed_snapshots_are_rejected():
    env = te.make_parallel(HARVEST, obs_mode="vector", horizon=50)
    rollout(env, 0, 3)
    snap = env.get_state()
    data = json.loads(snap)
    bad = []
    for key, value in [("pos", [10**30] * 10), ("pos", [0] * 10), ("map", ["###", "#"]), ("t", 10**6),
                       ("apples", "!!!"), ("rewards", "AAAA"), ("orient", [7] * 5), ("timeout", [-1] * 5)]:
        tampered = json.loads(snap)
        tampered["session"]["game"][key] = value
        bad.append(json.dumps(tampered).encode())
    for blob in bad + [snap[:-5], b"\xff\x00", json.dumps({**data, "env_id": CLEANUP}).encode()]:
        with pytest.raises(SnapshotError):
            env.set_state(blob)
    assert env.get_state() == snap  # still intact


# ------------------------------------------------------------------------------------------ hostile input
@pytest.mark.parametrize("bad", ["", "x" * (1 << 20), "\x00\xff garbage", '{"action": [1, 2', None, b"up", 3.5, -1,
                                 10**9, "teleport"])
def test_hostile_actions_are_rejected_without_changing_state(bad):
    env = te.make_parallel(HARVEST, horizon=50)
    env.reset(seed=0)
    before = env.get_state()
    keys = [env.session.state_key(i) for i in range(5)]
    obs, rew, _, _, infos = env.step({**{a: "stay" for a in env.agents}, "player_2": bad})
    assert infos["player_2"]["action_valid"] is False and infos["player_2"]["error"]
    assert "Invalid action" in obs["player_2"] and "turn_left" in obs["player_2"]
    assert infos["player_0"]["action_valid"] is True and "not played" in obs["player_0"]
    assert [infos[a]["state_key"] for a in env.possible_agents] == keys
    assert json.loads(env.get_state())["session"]["game"] == json.loads(before)["session"]["game"]


def test_text_aliases_are_accepted():
    env = te.make_parallel(HARVEST, horizon=50)
    env.reset(seed=0)
    _, _, _, _, infos = env.step({"player_0": "<action>forward</action>", "player_1": "Turn Left",
                                  "player_2": "[zap]", "player_3": "noop", "player_4": "STAY."})
    assert all(info["action_valid"] for info in infos.values())
    env = te.make_parallel(HARVEST, horizon=50)
    env.reset(seed=0)
    _, _, _, _, infos = env.step({**{a: "stay" for a in env.agents}, "player_1": "clean"})  # Cleanup only
    assert infos["player_1"]["action_valid"] is False


# ------------------------------------------------------------------------------------------ configuration
@pytest.mark.parametrize(("env_id", "kwargs"), [
    (HARVEST, {"map": "clasic"}),
    (HARVEST, {"map": "##\n#"}),
    (HARVEST, {"map": "#####\n#0~1#\n#####", "num_players": 2}),  # river in Harvest
    (HARVEST, {"map": "#####\n#0.1#\n#####", "num_players": 3}),  # too few spawn points
    (HARVEST, {"tag_width": 2}),
    (HARVEST, {"regrowth_probs": (0.1, 1.5)}),
    (HARVEST, {"horizon": 0}),
    (HARVEST, {"num_players": True}),
    (CLEANUP, {"restoration_threshold": 0.5, "depletion_threshold": 0.4}),
    (CLEANUP, {"clean_width": 4}),
    (CLEANUP, {"waste_spawn_prob": -0.1}),
])
def test_bad_configuration_raises_config_error(env_id, kwargs):
    with pytest.raises(ConfigError):
        te.make_parallel(env_id, **kwargs)


def test_unknown_map_name_suggests_the_nearest():
    with pytest.raises(ConfigError, match="classic"):
        te.make(HARVEST, map="clasic")


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("players", [1, 5, 12])
def test_random_maps_are_valid(seed, players):
    for generator, river in ((random_harvest_rows, False), (random_cleanup_rows, True)):
        rows = generator(np.random.default_rng(seed), players)
        layout = parse_map(rows, river_allowed=river)
        assert len(layout.spawns) >= players
        assert layout.walls[0].all() and layout.walls[-1].all()
        assert layout.apple_cells.any() and (layout.river.any() == river)


def test_classic_maps_parse():
    from turngym.envs.dilemmas.gridworld.maps import CLEANUP_MAP, HARVEST_MAP

    harvest = parse_map(split_rows(HARVEST_MAP), river_allowed=False)
    cleanup = parse_map(split_rows(CLEANUP_MAP), river_allowed=True)
    assert len(harvest.spawns) >= 10 and len(cleanup.spawns) >= 10
    assert harvest.init_apples.sum() > 50 and not cleanup.init_apples.any()
    assert 0 < cleanup.init_waste.sum() / cleanup.river.sum() < 0.4  # starts below depletion


# ------------------------------------------------------------------------------------------ SuperSuit
def test_supersuit_vector_conversion():
    ss = pytest.importorskip("supersuit")
    env = te.make_parallel(HARVEST, obs_mode="vector", horizon=20)
    vec = ss.pettingzoo_env_to_vec_env_v1(env)
    vec = ss.concat_vec_envs_v1(vec, 2, num_cpus=0, base_class="stable_baselines3")
    obs = vec.reset()
    assert obs["observation"].shape == (10, 605) and obs["action_mask"].shape == (10, 8)
    dones_seen = 0
    for _ in range(20):
        obs, rewards, dones, infos = vec.step(np.zeros(10, dtype=np.int64))  # everyone steps forward
        dones_seen += int(dones.sum())
    assert rewards.shape == (10,) and dones_seen == 10
    vec.close()


def test_speed_script_measures_every_row():
    from turngym.envs.dilemmas.gridworld.speed import measure

    results = measure("Cleanup", steps=30, num_players=3)
    assert list(results) == ["core", "core+obs", "parallel/vector", "parallel/text"]
    assert all(r["steps"] == 30 and r["steps_per_s"] > 0 for r in results.values())
