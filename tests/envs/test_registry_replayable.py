"""``EnvInfo.replayable=False``: the checker runs the checks that hold without bit-for-bit replay (item 7).

A toy env whose observations read a live outside world (a counter no snapshot captures, standing in for a
website or a sandbox) passes ``check_env`` when registered as not replayable, and fails it when registered
as replayable: the flag weakens exactly the replay checks. The weaker checks still catch what they are for
(an unflagged bad input, a snapshot that does not round-trip). Kuhn poker against a live opponent and a
simultaneous-move game exercise the game front ends and the AEC and Parallel paths. On main the checker
ignored the flag: every one of these non-replayable envs failed.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

import turngym.envs as te
from turngym.envs import SnapshotError, Text, TextEnv
from turngym.envs.cards.kuhn import KuhnGame, KuhnPokerAEC, KuhnPokerEnv
from turngym.envs.core.aec import GameAECEnv
from turngym.envs.core.checker import ConformanceError
from turngym.envs.core.parallel import GameParallelEnv
from turngym.envs.core.registry import EnvInfo, register_env, unregister_env
from turngym.envs.core.single import GameSingleAgentEnv
from turngym.envs.core.state_key import make_state_key
from turngym.envs.dilemmas.rps import RockPaperScissorsGame, RockPaperScissorsParallel

LIVE_ID = "turngym/TestLiveCounter-v0"
KUHN_ID = "turngym/TestLiveDealKuhn-v0"
RPS_ID = "turngym/TestLiveRPS-v0"

#: The outside world: it moves on whether or not the env is replayed (a page's visitor counter, a clock).
_WORLD = itertools.count()


class LiveCounterEnv(TextEnv):
    """Say ``go`` until the count reaches 3, then ``stop``; each observation shows a live reading.

    Description: a toy env for the checker's ``replayable`` flag.
    """

    ACCEPTED = ("go", "stop")

    def __init__(self, obs_mode: str = "text", max_turns: int = 8, flag_bad_input: bool = True,
                 round_trip: bool = True):
        self.env_id = LIVE_ID
        self.obs_mode = obs_mode
        self.max_turns = max_turns
        self.flag_bad_input = flag_bad_input
        self.round_trip = round_trip
        self.observation_space = Text(500)
        self.action_space = Text(100)
        self.count, self.turn, self.over = 0, 0, False

    def _info(self, valid: bool = True) -> dict:
        key = make_state_key(self.env_id, json.dumps([self.count, self.over]))
        return {"state_key": key, "admissible_actions": list(self.ACCEPTED), "action_valid": valid, "turn": self.turn}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.count, self.turn, self.over = 0, 0, False
        info = {**self._info(), "task": {"id": "count-to-3", "instruction": "say go three times, then stop"}}
        return "Count: 0. Say go or stop.", info

    def step(self, action):
        self.turn += 1
        valid = action in self.ACCEPTED or not self.flag_bad_input
        if action == "go":
            self.count += 1
        self.over = action == "stop"
        reading = next(_WORLD)  # the live part: never the same twice
        if valid:
            obs = f"Count: {self.count}. Visitors online: {reading}."
        else:
            obs = f"Invalid action {str(action)[:20]!r}: accepted actions are {', '.join(self.ACCEPTED)}."
        truncated = self.turn >= self.max_turns and not self.over
        info = self._info(valid)
        if self.over or truncated:
            info["success"] = self.over and self.count == 3
        return obs, 0.0 + (self.over and self.count == 3), self.over, truncated, info

    def get_state(self) -> bytes:
        return json.dumps({"count": self.count, "turn": self.turn, "over": self.over}).encode()

    def set_state(self, blob: bytes) -> None:
        try:
            data = json.loads(bytes(blob))
            count, turn, over = data["count"], data["turn"], data["over"]
        except (ValueError, TypeError, KeyError, RecursionError) as e:
            raise SnapshotError(f"not a LiveCounter snapshot: {e!r}") from None
        ints = type(count) is int and type(turn) is int and 0 <= count <= turn <= self.max_turns
        if not (ints and type(over) is bool):
            raise SnapshotError(f"not a LiveCounter state: {data!r}"[:200])
        self.count, self.turn, self.over = count + (0 if self.round_trip else 1), turn, over

    def render(self) -> str:
        return f"Count: {self.count}."


class RemotePlayer:
    """An opponent across the network: its moves come from a generator no seed or snapshot controls."""

    def __init__(self):
        self.rng = np.random.default_rng()

    def act(self, observations, infos):
        return [int(self.rng.choice(info["legal_action_ids"])) for info in infos]


class LiveKuhnEnv(KuhnPokerEnv):
    """Kuhn poker against a remote player, single-agent view."""

    def __init__(self, obs_mode: str = "text", max_turns: int = 20):
        GameSingleAgentEnv.__init__(self, KuhnGame(), KUHN_ID, [RemotePlayer()], 0, obs_mode, max_turns, 0.0, None)


class LiveKuhnAEC(KuhnPokerAEC):
    """Kuhn poker under another id, AEC form (both seats are played by the caller, so it replays)."""

    def __init__(self, obs_mode: str = "text", max_turns: int = 20):
        GameAECEnv.__init__(self, KuhnGame(), KUHN_ID, obs_mode, max_turns, 0.0, "sample", None)


class LiveRPSParallel(RockPaperScissorsParallel):
    """Rock-paper-scissors under another id (its dynamics replay; only the flag differs)."""

    def __init__(self, obs_mode: str = "text", rounds: int = 3):
        GameParallelEnv.__init__(self, RockPaperScissorsGame(rounds), RPS_ID, obs_mode, 2 * rounds)


@pytest.fixture
def registered():
    """Registers the toy ids with the given ``replayable`` flag; unregisters them afterwards."""
    ids = []

    def register(replayable: bool) -> None:
        register_env(EnvInfo(LIVE_ID, "test", LiveCounterEnv, replayable=replayable))
        register_env(EnvInfo(KUHN_ID, "test", LiveKuhnEnv, aec=LiveKuhnAEC, modes=("text", "vector"),
                             replayable=replayable))
        register_env(EnvInfo(RPS_ID, "test", LiveCounterEnv, parallel=LiveRPSParallel, modes=("text", "vector"),
                             replayable=replayable))
        ids.extend([LIVE_ID, KUHN_ID, RPS_ID])

    yield register
    for env_id in ids:
        unregister_env(env_id)


def test_not_replayable_live_env_passes(registered):
    registered(replayable=False)
    te.check_env(te.make(LIVE_ID))


def test_replayable_live_env_with_the_same_nondeterminism_fails(registered):
    registered(replayable=True)
    with pytest.raises(AssertionError, match="eterminis"):  # Gymnasium's step determinism or ours
        te.check_env(te.make(LIVE_ID), cross_process=False)


@pytest.mark.parametrize("mode", ["text", "vector"])
def test_not_replayable_live_opponent_passes_in_every_form(registered, mode):
    registered(replayable=False)
    te.check_env(te.make(KUHN_ID, obs_mode=mode))
    te.check_multiagent_env(te.make_aec(KUHN_ID, obs_mode=mode))
    te.check_multiagent_env(te.make_parallel(RPS_ID, obs_mode=mode))


def test_weak_checks_still_catch_an_unflagged_bad_input(registered):
    registered(replayable=False)
    with pytest.raises(ConformanceError, match=r"\[bad input\].*action_valid should be False"):
        te.check_env(te.make(LIVE_ID, flag_bad_input=False))


def test_weak_checks_still_catch_a_snapshot_that_does_not_round_trip(registered):
    registered(replayable=False)
    with pytest.raises(ConformanceError, match=r"\[snapshots\].*right after set_state"):
        te.check_env(te.make(LIVE_ID, round_trip=False))
