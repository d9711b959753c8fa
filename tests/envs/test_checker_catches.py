"""The checkers must fail on envs that break the contract (a checker that passes everything is useless)."""

from __future__ import annotations

import random

import pytest

import turngym.envs as te
from turngym.envs.cards.kuhn import ENV_ID, KuhnGame, KuhnPokerAEC, KuhnPokerEnv, KuhnState
from turngym.envs.core.checker import ConformanceError
from turngym.envs.core.parallel import GameParallelEnv, SimultaneousSingleAgentEnv
from turngym.envs.core.registry import EnvInfo, register_env, unregister_env
from turngym.envs.core.session import parsed_snapshot
from turngym.envs.dilemmas.rps import RockPaperScissorsEnv, RockPaperScissorsGame, RockPaperScissorsParallel


class SaltedKeyGame(KuhnGame):
    """Uses Python's per-process salted hash() inside the information-state encoding."""

    def info_encoding(self, s, player):
        return str(hash(super().info_encoding(s, player)))


class GlobalRngGame(KuhnGame):
    """Deals from the global random module instead of the env's seeded RNG."""

    def apply_chance(self, s, outcome):
        options = [o for o, _ in self.chance_outcomes(s)]
        super().apply_chance(s, random.choice(options))


class SnapshotLosesHistory(KuhnGame):
    """Forgets the betting history when restoring a snapshot."""

    def from_json(self, data):
        s = super().from_json(data)
        s.history = []
        return s


def _register(game_cls, name):
    env_id = f"turngym/Broken{name}-v0"

    class Single(KuhnPokerEnv):
        """Broken test env."""

        def __init__(self, obs_mode="text", max_turns=20):
            super(KuhnPokerEnv, self).__init__(game_cls(), env_id, None, 0, obs_mode, max_turns, 0.0, None)

    class AEC(KuhnPokerAEC):
        """Broken test env."""

        def __init__(self, obs_mode="text", max_turns=20):
            super(KuhnPokerAEC, self).__init__(game_cls(), env_id, obs_mode, max_turns, 0.0, "sample", None)

    register_env(EnvInfo(env_id, "cards", Single, aec=AEC, modes=("text", "vector")))
    return env_id


@pytest.fixture
def broken():
    ids = []

    def make(game_cls, name):
        ids.append(_register(game_cls, name))
        return ids[-1]

    yield make
    for env_id in ids:
        unregister_env(env_id)


def test_salted_hash_state_key_is_caught(broken):
    env_id = broken(SaltedKeyGame, "Salted")
    # Within one process the keys look fine; only the fresh-process comparison can see the salt.
    te.check_env(te.make(env_id), cross_process=False)
    with pytest.raises(ConformanceError, match="across processes"):
        te.check_env(te.make(env_id))


def test_global_rng_is_caught(broken):
    env_id = broken(GlobalRngGame, "GlobalRng")
    with pytest.raises((ConformanceError, AssertionError)):
        te.check_multiagent_env(te.make_aec(env_id, obs_mode="vector"), cross_process=False)


def test_snapshot_bug_is_caught(broken):
    env_id = broken(SnapshotLosesHistory, "Snapshot")
    with pytest.raises(ConformanceError, match="snapshot"):
        te.check_multiagent_env(te.make_aec(env_id), cross_process=False)


def test_clean_env_passes_the_same_checks():
    te.check_multiagent_env(te.make_aec(ENV_ID), cross_process=False)


def test_bad_input_that_changes_state_is_caught(monkeypatch):
    from turngym.envs.core import session as session_mod

    original = session_mod.GameSession.act

    def act(self, action, rng):
        if isinstance(action, str) and action == "":
            self.game.apply_action(self.state, 0)  # an "invalid" action that still moves the game
        return original(self, action, rng)

    monkeypatch.setattr(session_mod.GameSession, "act", act)
    with pytest.raises(ConformanceError, match="bad input"):
        te.check_env(te.make(ENV_ID), cross_process=False)


# ------------------------------------------------------------------ forged snapshots
NON_ATOMIC_ID = "turngym/BrokenNonAtomic-v0"


class NonAtomicKuhnAEC(KuhnPokerAEC):
    """Commits the game part of a snapshot before checking the rest (the RNG, the agents): a rejected
    snapshot then leaves the env half-restored, as Kuhn's, Leduc's and Dhumbal's set_state did."""

    def __init__(self, obs_mode="text", max_turns=20):
        super(KuhnPokerAEC, self).__init__(KuhnGame(), NON_ATOMIC_ID, obs_mode, max_turns, 0.0, "sample", None)

    def set_state(self, blob):
        self.session.restore(parsed_snapshot(self.env_id, blob, lambda data: self.session.parse(data["session"])))
        super().set_state(blob)  # the full check, which may still raise SnapshotError


class UncheckedKuhnGame(KuhnGame):
    """Restores any ints as cards and bets: no type, range or reachability check."""

    def from_json(self, data):
        s = KuhnState(cards=[int(c) for c in data["cards"]], history=[int(a) for a in data["history"]])
        s.bets = "".join("pb"[a % 2] for a in s.history)
        return s

    def validate_state(self, s):
        pass


def test_non_atomic_set_state_is_caught():
    register_env(EnvInfo(NON_ATOMIC_ID, "cards", KuhnPokerEnv, aec=NonAtomicKuhnAEC, modes=("text", "vector")))
    try:
        with pytest.raises(ConformanceError, match=r"snapshot forgery.*not atomic"):
            te.check_multiagent_env(te.make_aec(NON_ATOMIC_ID), cross_process=False)
    finally:
        unregister_env(NON_ATOMIC_ID)


def test_accepting_an_impossible_snapshot_is_caught(broken):
    env_id = broken(UncheckedKuhnGame, "Unchecked")
    # A card outside J/Q/K, or bets after the hand ended, pass set_state and break a later view or step.
    with pytest.raises(ConformanceError, match=r"snapshot forgery.*accepted it, then"):
        te.check_multiagent_env(te.make_aec(env_id), cross_process=False)


# ------------------------------------------------------------------ Parallel (simultaneous-move) envs
class SaltedKeyRPS(RockPaperScissorsGame):
    """Uses Python's per-process salted hash() inside the information-state encoding."""

    def info_encoding(self, s, player):
        return str(hash(super().info_encoding(s, player)))


class SnapshotLosesScores(RockPaperScissorsGame):
    """Restores the history but not the running scores."""

    def from_json(self, data):
        s = super().from_json(data)
        s.scores = [0.0] * self.num_players
        return s


class DefaultMoveParallel(RockPaperScissorsParallel):
    """Quietly plays rock for an invalid action before reporting it invalid: bad input moves the game."""

    def step(self, actions):
        session = self.session
        ids = [session.to_action_id(i, actions.get(a))[0] for i, a in enumerate(self.possible_agents)]
        if None in ids and not session.terminal:
            session.game.apply_joint(session.state, [0 if a is None else a for a in ids], self.np_random)
            session._changed()
        return super().step(actions)


def _register_parallel(game_cls, name, parallel_base=RockPaperScissorsParallel):
    env_id = f"turngym/Broken{name}-v0"

    class Single(RockPaperScissorsEnv):
        """Broken test env."""

        def __init__(self, obs_mode="text", rounds=4):
            SimultaneousSingleAgentEnv.__init__(self, game_cls(rounds), env_id, None, 0, obs_mode, 2 * rounds)

    class Parallel(parallel_base):
        """Broken test env."""

        def __init__(self, obs_mode="text", rounds=4):
            GameParallelEnv.__init__(self, game_cls(rounds), env_id, obs_mode, 2 * rounds)

    register_env(EnvInfo(env_id, "dilemmas", Single, parallel=Parallel, modes=("text", "vector")))
    return env_id


@pytest.fixture
def broken_parallel():
    ids = []

    def make(game_cls, name, parallel_base=RockPaperScissorsParallel):
        ids.append(_register_parallel(game_cls, name, parallel_base))
        return ids[-1]

    yield make
    for env_id in ids:
        unregister_env(env_id)


def test_parallel_salted_hash_state_key_is_caught(broken_parallel):
    env_id = broken_parallel(SaltedKeyRPS, "SaltedRPS")
    te.check_multiagent_env(te.make_parallel(env_id), cross_process=False)
    with pytest.raises(ConformanceError, match="across processes"):
        te.check_multiagent_env(te.make_parallel(env_id))


def test_parallel_snapshot_bug_is_caught(broken_parallel):
    env_id = broken_parallel(SnapshotLosesScores, "SnapshotRPS")
    with pytest.raises(ConformanceError, match="snapshot"):
        te.check_multiagent_env(te.make_parallel(env_id), cross_process=False)


def test_parallel_bad_input_that_changes_state_is_caught(broken_parallel):
    env_id = broken_parallel(RockPaperScissorsGame, "DefaultMoveRPS", DefaultMoveParallel)
    with pytest.raises(ConformanceError, match="bad input"):
        te.check_multiagent_env(te.make_parallel(env_id, obs_mode="vector"), cross_process=False)


def test_clean_parallel_env_passes_the_same_checks(broken_parallel):
    env_id = broken_parallel(RockPaperScissorsGame, "CleanRPS")
    te.check_multiagent_env(te.make_parallel(env_id), cross_process=False)
    te.check_env(te.make(env_id), cross_process=False)
