"""Held-out levels: no train seed and no test seed give the same layout (issue 13, item 15a).

Fails on main, where the puzzles do not exist (and the FrozenLake trial reused ~50% of training maps).
"""

from __future__ import annotations

import itertools

import pytest
from gymnasium.envs.toy_text.frozen_lake import is_valid

from turngym.envs.puzzles.base import TEST_MODULUS, layout_digest, split_of
from turngym.envs.puzzles.frozenlake import FrozenLakeEnv
from turngym.envs.puzzles.sokoban import SokobanEnv


@pytest.mark.parametrize("cls", [SokobanEnv, FrozenLakeEnv])
def test_train_and_test_layouts_are_disjoint_and_each_in_its_split(cls):
    layouts = {}
    for split in ("train", "test"):
        env = cls(split=split)
        layouts[split] = {env.reset(seed=s)[1]["task"]["layout"] for s in range(500)}
        assert all(split_of(d) == split for d in layouts[split])
    assert not layouts["train"] & layouts["test"]
    assert len(layouts["test"]) > 50 and len(layouts["train"]) > 50


def test_the_split_is_a_function_of_the_layout():
    rows = ["SFFF", "FHFH", "FFFH", "HFFG"]
    digest = layout_digest("frozenlake", rows)
    assert split_of(digest) == ("test" if int(digest, 16) % TEST_MODULUS == 0 else "train")
    assert layout_digest("sokoban", rows) != digest  # families never share digests


def test_every_4x4_map_falls_in_exactly_one_split_and_both_are_large():
    # All 2**14 hole patterns of a 4x4 map (start and goal fixed): Gymnasium's generator can return
    # exactly the ones with a path; count how many each split may produce.
    counts = {"train": 0, "test": 0}
    for cells in itertools.product("FH", repeat=14):
        flat = "S" + "".join(cells) + "G"
        rows = [flat[i:i + 4] for i in range(0, 16, 4)]
        if is_valid([list(r) for r in rows], 4):
            counts[split_of(layout_digest("frozenlake", rows))] += 1
    assert counts["test"] > 500 and counts["train"] > 4 * counts["test"] * 0.8
