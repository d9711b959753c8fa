"""The info contract, modes, snapshots, Markov state keys and bad input of the puzzle envs (issue 13, item 13).

Every test fails on main, where ``turngym/Sokoban-v0`` and ``turngym/FrozenLake-v0`` are not registered.
"""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from helpers_puzzles import lake_at, sokoban_at

import turngym.envs as te
from turngym.envs import SnapshotError
from turngym.envs.puzzles.base import layout_digest, split_of
from turngym.envs.puzzles.experts import sokoban_expert

IDS = ["turngym/Sokoban-v0", "turngym/FrozenLake-v0"]


def play(env, seed, actions):
    out = [env.reset(seed=seed)]
    for a in actions:
        out.append(env.step(a))
        if out[-1][2] or out[-1][3]:
            break
    return out


def _plain(records):
    return json.dumps(records, default=lambda v: v.tolist() if isinstance(v, np.ndarray) else repr(v), sort_keys=True)


@pytest.mark.parametrize("env_id", IDS)
def test_registered_with_family_modes_and_expert(env_id):
    info = te.env_info(env_id)
    assert (info.family, info.modes) == ("puzzles", ("text", "vector"))
    factory = te.core.registry.load_entry_point(info.expert)
    env = gym.make(env_id)
    _, step_info = env.reset(seed=1)
    assert factory(env_id, seed=0, env_kwargs={})(env, None, step_info) in step_info["admissible_actions"]
    assert {e.id for e in te.list_envs("puzzles")} == set(IDS)


@pytest.mark.parametrize("env_id", IDS)
def test_reset_info_has_the_task_and_optimal_length_and_seeds_repeat_levels(env_id):
    env = te.make(env_id)
    obs, info = env.reset(seed=7)
    task = info["task"]
    assert task["optimal_length"] >= 1 and task["split"] == "train" and task["instruction"] in obs
    assert task["id"].startswith(env_id + "/level=") and task["layout"] == env.unwrapped.layout
    assert env.reset(seed=7) == (obs, info)
    assert len({te.make(env_id).reset(seed=s)[1]["task"]["layout"] for s in range(30)}) >= 10


@pytest.mark.parametrize("env_id", IDS)
def test_text_and_vector_modes_agree_and_the_vector_planes_show_the_grid(env_id):
    rng = np.random.default_rng(0)
    actions = [int(a) for a in rng.integers(0, 4, 40)]
    text, vec = te.make(env_id, obs_mode="text"), te.make(env_id, obs_mode="vector")
    for seed in range(5):
        rt, rv = play(text, seed, [text.action_names[a] for a in actions]), play(vec, seed, actions)
        assert len(rt) == len(rv)
        for (ot, *st), (ov, *sv) in zip(rt, rv, strict=True):
            it, iv = st[-1], sv[-1]
            assert st[:-1] == sv[:-1] and it["state_key"] == iv["state_key"]
            assert vec.observation_space.contains(ov) and text.observation_space.contains(ot)
            grid = ot.splitlines()[2:2 + vec.height]
            n = vec.height * vec.width
            player = int(np.flatnonzero(ov["observation"][(vec.planes - 1) * n:])[0])
            assert grid[player // vec.width][player % vec.width] in "PSX√"


@pytest.mark.parametrize(("env_id", "kwargs"), [(IDS[0], {}), (IDS[1], {}), (IDS[1], {"is_slippery": True})])
def test_snapshot_round_trip_and_replay_give_identical_steps(env_id, kwargs):
    env, fresh = te.make(env_id, max_steps=60, **kwargs), te.make(env_id, max_steps=60, **kwargs)
    rng = np.random.default_rng(3)
    env.reset(seed=11)
    for a in rng.integers(0, 4, 5):
        env.step(env.action_names[int(a)])
    snap = env.get_state()
    tail = [env.action_names[int(a)] for a in rng.integers(0, 4, 30)]
    first = [env.step(a) for a in tail if not any(env.over())]
    fresh.reset(seed=99)
    fresh.set_state(snap)
    assert fresh.get_state() == snap
    again = [fresh.step(a) for a in tail[:len(first)]]
    assert _plain(first) == _plain(again)


def test_state_key_is_markov_same_grid_same_key_whatever_the_path_or_turn():
    env = sokoban_at(["#######",
                      "#_____#",
                      "#_P_X_#",
                      "#___O_#",
                      "#######"])
    start = env._info()["state_key"]
    keys = [env.step(a)[-1]["state_key"] for a in ("up", "down")]  # away and back: the same situation
    assert keys[1] == start and keys[0] != start
    detour = sokoban_at(["#######", "#_____#", "#_P_X_#", "#___O_#", "#######"])
    for a in ("left", "right", "down", "up", "right"):
        detour.step(a)
    direct = sokoban_at(["#######", "#_____#", "#_P_X_#", "#___O_#", "#######"])
    direct.step("right")
    assert detour.turn != direct.turn and detour._info()["state_key"] == direct._info()["state_key"]
    lake = lake_at(["SFFF", "FFFF", "FFFF", "FFFG"])
    a = [lake.step(x)[-1]["state_key"] for x in ("right", "down")]
    lake2 = lake_at(["SFFF", "FFFF", "FFFF", "FFFG"])
    b = [lake2.step(x)[-1]["state_key"] for x in ("down", "right")]
    assert a[1] == b[1] and a[0] != b[0]


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("mode", ["text", "vector"])
def test_bad_input_is_invalid_consumes_the_turn_and_changes_nothing(env_id, mode):
    env = te.make(env_id, obs_mode=mode, invalid_action_penalty=-1.0)
    _, info = env.reset(seed=2)
    key = info["state_key"]
    bad = ["", "x" * 10_000_000, "\x00\xff" * 1000, "\ud800", b"up", None, "<action></action>", "upp", 4, -1, 1.0,
           np.array([0, 1])]
    for k, action in enumerate(bad, start=1):
        obs, r, term, trunc, info = env.step(action)
        assert info["action_valid"] is False and info["state_key"] == key and info["turn"] == k
        assert r == pytest.approx(env.step_reward - 1.0) and not term
        if mode == "text":
            assert obs.startswith("Invalid action") and all(w in obs for w in env.action_names)
        if trunc:
            break


def _edit(blob, fn):
    data = json.loads(blob)
    fn(data)
    return json.dumps(data).encode()


def test_forged_sokoban_snapshots_are_rejected_atomically():
    env = te.make("turngym/Sokoban-v0")
    env.reset(seed=4)
    env.step(sokoban_expert()(env, None, {}))  # a move that changes the position
    snap = env.get_state()
    level = json.loads(snap)["level"]
    other = te.make("turngym/Sokoban-v0", split="test")
    other.reset(seed=0)
    forged = [
        _edit(snap, lambda d: d.update(level=json.loads(other.get_state())["level"])),  # a held-out level
        _edit(snap, lambda d: d["level"].update(boxes=[level["player"]])),  # a box under the player
        _edit(snap, lambda d: d["level"]["room"].__setitem__(0, "#" * 5 + "_")),  # open outer wall
        _edit(snap, lambda d: d.update(turn=0)),  # moved without a turn
        _edit(snap, lambda d: d["level"].update(boxes=[[1, 1], [1, 2]])),  # box count
        _edit(snap, lambda d: d.update(turn=10**6)),
        _edit(snap, lambda d: d.update(extra=1)),
    ]
    for blob in forged:
        before = env.get_state()
        with pytest.raises(SnapshotError):
            env.set_state(blob)
        assert env.get_state() == before
    # An unsolvable room (the box in a corner, off target) is no level this env generates.
    corner = sokoban_at(["#####", "#P__#", "#_X_#", "#__O#", "#####"])
    blob = _edit(corner.get_state(), lambda d: d["level"].update(boxes=[[1, 3]], player=[2, 2])
                 or d["position"].update(boxes=[[1, 3]], player=[2, 2]))
    with pytest.raises(SnapshotError, match="not a level"):
        corner.set_state(blob)


def test_forged_frozenlake_snapshots_are_rejected():
    env = lake_at(["SFFF", "FHFH", "FFFH", "HFFG"])
    snap = env.get_state()
    for fn in (lambda d: d["level"].update(map=["SFFF", "FHFH", "FFHH", "HFHG"]),  # no path (or other split)
               lambda d: d["level"].update(map=["FFFF", "FHFH", "FFFH", "HFFG"]),  # no start
               lambda d: d["position"].update(player=[3, 3]),  # on the goal at turn 0
               lambda d: d["position"].update(player=[4, 0])):
        with pytest.raises(SnapshotError):
            env.set_state(_edit(snap, fn))
    held_out = ["SFFF", "FHFH", "FFFH", "HFFG"]
    wrong = "test" if split_of(layout_digest("frozenlake", held_out)) == "train" else "train"
    with pytest.raises(SnapshotError, match="split"):
        lake_at(held_out, split=wrong)


@pytest.mark.parametrize(("env_id", "mode", "kwargs"), [
    ("turngym/FrozenLake-v0", "text", {"is_slippery": True, "max_steps": 100}),
    ("turngym/FrozenLake-v0", "vector", {"is_slippery": True, "max_steps": 100}),
    ("turngym/Sokoban-v0", "text", {"num_boxes": 2, "dim_room": (7, 7), "split": "test", "max_steps": 30}),
    ("turngym/Sokoban-v0", "vector", {"split": "test", "max_steps": 40}),
])
def test_conformance_checker_passes_beyond_the_defaults(env_id, mode, kwargs):
    # The default arguments of both ids in both modes run in tests/envs/test_conformance.py.
    te.check_env(gym.make(env_id, obs_mode=mode, **kwargs), cross_process=False)
