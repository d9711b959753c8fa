"""Env pools: the three executors give the same trajectories; errors, dead workers and junk are handled."""

from __future__ import annotations

import gc
import os
import pickle
import signal
import sys
import time
from typing import Any

import numpy as np
import pytest

import turngym.envs  # noqa: F401  (registers the ids)
from turngym.envs.core.errors import ConfigError, UnknownEnvError
from turngym.envs.core.registry import make
from turngym.envs.pool import (
    EnvPool,
    InProcessPool,
    RayPool,
    SubprocessPool,
    WorkerError,
    make_pool,
)

LEDUC = "turngym/LeducHoldem-v0"
LEDUC_KW = {"opponents": ["random"], "obs_mode": "text"}
TOOLQA = "turngym/ToolQA-v0"
TOOLQA_KW = {"format": "plain"}
QA_ACTIONS = ['search(query="capital")', 'search(query="x")', "", 'open(doc_id="doc1")',
              "<answer>foo</answer>"]
RAY_SLOW = pytest.param("ray", marks=pytest.mark.slow)  # Ray tests beyond the fast ones run with --runslow
HOSTILE = ["", "x" * 1_000_000, b"\x00\xff" * 5000, "\x00\ud800\uffff\x1b[2J" * 100, None,
           bytes(range(256)).decode("latin-1")]


def _needs(request: pytest.FixtureRequest, executor: str) -> None:
    if executor == "ray":
        request.getfixturevalue("ray_cluster")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_dead(pids: list[int], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


def _choose(env_id: str, info: dict, rng: np.random.Generator) -> str:
    choices = info["admissible_actions"] if env_id == LEDUC else QA_ACTIONS
    return choices[int(rng.integers(len(choices)))]


def _play(pool: EnvPool, env_id: str, episodes_per_env: int) -> list[tuple]:
    """Plays until every env finished ``episodes_per_env`` episodes; steps live envs in a shuffled order."""
    n = pool.num_envs
    rng = np.random.default_rng(7)
    log: list[tuple] = []
    infos: dict[int, dict] = {}
    next_seed = 100

    def reset(indices: list[int]) -> None:
        nonlocal next_seed
        seeds = list(range(next_seed, next_seed + len(indices)))
        next_seed += len(indices)
        for i, s, (obs, info) in zip(indices, seeds, pool.reset(indices, seeds), strict=True):
            log.append(("reset", i, s, obs, info))
            infos[i] = info

    reset(list(range(n)))
    left = dict.fromkeys(range(n), episodes_per_env)
    live = list(range(n))
    while live:
        order = [live[k] for k in rng.permutation(len(live))]
        actions = [_choose(env_id, infos[i], rng) for i in order]
        again = []
        for i, a, (obs, r, term, trunc, info) in zip(order, actions, pool.step(order, actions), strict=True):
            log.append(("step", i, a, obs, r, term, trunc, info["state_key"], info))
            infos[i] = info
            if term or trunc:
                left[i] -= 1
                if left[i]:
                    again.append(i)
        live = [i for i in live if left[i]]
        if again:
            reset(again)
    return log


# ------------------------------------------------------------------------------------------ equivalence
@pytest.fixture(scope="module")
def reference_logs() -> dict[str, list[tuple]]:
    with InProcessPool(LEDUC, 4, LEDUC_KW) as pool:
        leduc = _play(pool, LEDUC, 4)
    with InProcessPool(TOOLQA, 4, TOOLQA_KW) as pool:
        qa = _play(pool, TOOLQA, 2)
    return {LEDUC: leduc, TOOLQA: qa}


def test_reference_trajectories_are_full_and_varied(reference_logs: dict[str, list[tuple]]) -> None:
    for env_id, episodes in ((LEDUC, 4), (TOOLQA, 2)):
        steps = [e for e in reference_logs[env_id] if e[0] == "step"]
        ends = [e for e in steps if e[5] or e[6]]
        assert len(ends) == 4 * episodes
        assert len({e[7] for e in steps}) > 5  # many distinct states
    leduc_rewards = {e[4] for e in reference_logs[LEDUC] if e[0] == "step"}
    assert any(r > 0 for r in leduc_rewards) and any(r < 0 for r in leduc_rewards)
    qa_obs = " ".join(e[3] for e in reference_logs[TOOLQA] if e[0] == "step")
    assert "no results" in qa_obs or "doc" in qa_obs
    assert "is not correct" in qa_obs  # some episodes end with an answer


def test_inprocess_pool_matches_plain_envs() -> None:
    envs = [make(LEDUC, **LEDUC_KW) for _ in range(3)]
    with InProcessPool(LEDUC, 3, LEDUC_KW) as pool:
        assert pool.reset([2, 0, 1], [5, 6, 7]) == [envs[2].reset(seed=5), envs[0].reset(seed=6),
                                                   envs[1].reset(seed=7)]
        assert pool.step([1, 2], ["raise", "call"]) == [envs[1].step("raise"), envs[2].step("call")]


@pytest.mark.parametrize(("executor", "env_id"), [
    ("subprocess", LEDUC), ("subprocess", TOOLQA), ("ray", LEDUC),
    pytest.param("ray", TOOLQA, marks=pytest.mark.slow),
])
def test_executors_give_identical_trajectories(request: pytest.FixtureRequest, executor: str, env_id: str,
                                               reference_logs: dict[str, list[tuple]]) -> None:
    _needs(request, executor)
    kwargs = LEDUC_KW if env_id == LEDUC else TOOLQA_KW
    with make_pool(env_id, 4, executor=executor, workers=2, env_kwargs=kwargs) as pool:
        assert isinstance(pool, EnvPool)
        log = _play(pool, env_id, 4 if env_id == LEDUC else 2)
    assert log == reference_logs[env_id]


@pytest.mark.parametrize("executor", ["inprocess", "subprocess", RAY_SLOW])
def test_subset_in_shuffled_order(request: pytest.FixtureRequest, executor: str) -> None:
    _needs(request, executor)
    n = 7
    refs = [make(LEDUC, **LEDUC_KW) for _ in range(n)]
    with make_pool(LEDUC, n, executor=executor, workers=3, env_kwargs=LEDUC_KW) as pool:
        assert pool.num_envs == n
        seeds = [10 * i + 1 for i in range(n)]
        order = [4, 6, 0, 5, 1, 3, 2]
        got = pool.reset(order, [seeds[i] for i in order])
        assert got == [refs[i].reset(seed=seeds[i]) for i in order]
        infos = {i: info for i, (_, info) in zip(order, got, strict=True)}
        subset = [6, 2, 4, 0]  # workers 0, 2, 1, 0
        actions = [infos[i]["admissible_actions"][i % 2 - 1] for i in subset]  # different per env
        assert pool.step(subset, actions) == [refs[i].step(a) for i, a in zip(subset, actions, strict=True)]
        for i in range(n):  # stepped or not, every env is where its reference is
            assert pool.call(i, "get_state") == refs[i].get_state()
        assert pool.call(3, "obs_mode") == "text"  # a plain attribute is read
        assert pool.step([], []) == [] and pool.reset([], []) == []


@pytest.mark.parametrize("executor", ["inprocess", "subprocess", RAY_SLOW])
def test_bad_call_arguments(request: pytest.FixtureRequest, executor: str) -> None:
    _needs(request, executor)
    with make_pool(LEDUC, 3, executor=executor, env_kwargs=LEDUC_KW) as pool:
        pool.reset([0, 1, 2], [0, 1, 2])
        with pytest.raises(IndexError, match="out of range"):
            pool.step([3], ["call"])
        with pytest.raises(ValueError, match="distinct"):
            pool.step([1, 1], ["call", "call"])
        with pytest.raises(ValueError, match="actions"):
            pool.step([0, 1], ["call"])
        with pytest.raises(ValueError, match="seeds"):
            pool.reset([0, 1], [0])
        with pytest.raises(AttributeError, match="no_such_method"):
            pool.call(0, "no_such_method")
        # an env's own error comes back with its type and message; the pool stays usable
        with pytest.raises(TypeError):
            pool.call(0, "step")
        assert len(pool.step([2, 0], ["call", "call"])) == 2


# ------------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("executor", ["subprocess", "ray"])
def test_env_creation_errors_come_back_promptly(request: pytest.FixtureRequest, executor: str) -> None:
    _needs(request, executor)
    # "Promptly": the worker's error is raised here rather than the pool hanging (no wall-clock bound:
    # Ray's start-up alone can take a minute on a loaded 2-core machine).
    with pytest.raises(UnknownEnvError, match="turngym/LeducHoldm-v0") as err:
        make_pool("turngym/LeducHoldm-v0", 3, executor=executor)
    assert isinstance(err.value, KeyError)
    assert err.value.suggestion == LEDUC and err.value.got == "turngym/LeducHoldm-v0"
    assert "in env pool" in str(err.value.__cause__)  # the worker's traceback
    with pytest.raises(ConfigError, match="Did you mean 'opponents'") as err:
        make_pool(LEDUC, 3, executor=executor, env_kwargs={"opponentz": ["random"]})
    assert err.value.got == "opponentz"
    with pytest.raises(ConfigError, match="obs_mode"):
        make_pool(LEDUC, 2, executor=executor, env_kwargs={"obs_mode": "pictures"})


@pytest.mark.parametrize("executor", ["subprocess", RAY_SLOW])
def test_env_step_error_keeps_pool_usable(request: pytest.FixtureRequest, executor: str) -> None:
    _needs(request, executor)
    with make_pool(LEDUC, 4, executor=executor, env_kwargs=LEDUC_KW) as pool:
        pool.reset([0, 1, 2, 3], [0, 1, 2, 3])
        for _ in range(20):  # calling (or checking) is always legal; the hand ends after two rounds
            (_, _, term, trunc, _), = pool.step([1], ["call"])
            if term or trunc:
                break
        assert term or trunc
        with pytest.raises(RuntimeError, match="after the episode ended") as err:
            pool.step([0, 1, 2], ["call", "call", "call"])
        assert not isinstance(err.value, WorkerError) and not pool.closed
        assert "in env pool" in str(err.value.__cause__)
        assert len(pool.step([3, 2], ["call", "call"])) == 2


def test_unpicklable_action_leaves_pool_in_step() -> None:
    with SubprocessPool(LEDUC, 2, workers=2, env_kwargs=LEDUC_KW) as pool:
        pool.reset([0, 1], [0, 1])
        ref = make(LEDUC, **LEDUC_KW)
        ref.reset(seed=0)
        with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
            pool.step([0, 1], ["call", lambda: "call"])
        assert pool.step([0], ["call"]) == [ref.step("call")]  # worker 0 got nothing from the failed call


def test_killed_worker_raises_promptly() -> None:
    pool = SubprocessPool(LEDUC, 4, workers=2, env_kwargs=LEDUC_KW)
    pool.reset([0, 1, 2, 3], [0, 1, 2, 3])
    os.kill(pool.pids[1], signal.SIGKILL)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=r"worker 1 .*SIGKILL"):
        pool.step([0, 1, 2, 3], ["call"] * 4)
    assert time.monotonic() - t0 < 5
    assert pool.closed
    with pytest.raises(RuntimeError, match="closed"):
        pool.step([0], ["call"])
    assert _wait_dead(pool.pids)  # the surviving worker was stopped too
    pool.close()  # idempotent


def test_silent_worker_times_out() -> None:
    pool = SubprocessPool(LEDUC, 2, workers=2, env_kwargs=LEDUC_KW, timeout=1.0)
    pool.reset([0, 1], [0, 1])
    os.kill(pool.pids[0], signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        with pytest.raises(WorkerError, match="did not answer within 1.0 s"):
            pool.step([0, 1], ["call", "call"])
        assert time.monotonic() - t0 < 10
        assert _wait_dead(pool.pids)
    finally:
        for pid in pool.pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_close_and_del_stop_the_workers() -> None:
    with SubprocessPool(LEDUC, 3, workers=2, env_kwargs=LEDUC_KW) as pool:
        pids = pool.pids
        assert len(pids) == 2 and all(_alive(p) for p in pids)
    assert _wait_dead(pids)
    pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        pool.reset([0], [0])
    pool = SubprocessPool(LEDUC, 2, workers=2, env_kwargs=LEDUC_KW)
    pids = pool.pids
    del pool
    gc.collect()
    assert _wait_dead(pids)


@pytest.mark.parametrize("executor", ["inprocess", "subprocess", RAY_SLOW])
@pytest.mark.parametrize("env_id", [LEDUC, TOOLQA])
def test_hostile_actions_pass_through(request: pytest.FixtureRequest, executor: str, env_id: str) -> None:
    _needs(request, executor)
    kwargs = LEDUC_KW if env_id == LEDUC else TOOLQA_KW
    n = len(HOSTILE)
    refs = [make(env_id, **kwargs) for _ in range(n)]
    want_reset = [r.reset(seed=i) for i, r in enumerate(refs)]
    want = [r.step(a) for r, a in zip(refs, HOSTILE, strict=True)]
    with make_pool(env_id, n, executor=executor, workers=2, env_kwargs=kwargs) as pool:
        assert pool.reset(list(range(n)), list(range(n))) == want_reset
        got = pool.step(list(range(n)), HOSTILE)
        assert got == want
        assert all(info["action_valid"] is False for *_, info in got)
        follow = "call" if env_id == LEDUC else "<answer>x</answer>"
        assert pool.step([0], [follow]) == [refs[0].step(follow)]


# ------------------------------------------------------------------------------------------ make_pool
def test_make_pool_checks_its_arguments() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'subprocess'"):
        make_pool(LEDUC, 2, executor="subproces")
    with pytest.raises(ConfigError, match="num_envs"):
        make_pool(LEDUC, 0)
    with pytest.raises(ConfigError, match="num_envs"):
        make_pool(LEDUC, True)
    with pytest.raises(ConfigError, match="workers"):
        make_pool(LEDUC, 2, executor="subprocess", workers=0)
    with pytest.raises(ConfigError, match="env_kwargs"):
        make_pool(LEDUC, 2, env_kwargs=[("opponents", ["random"])])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="address"):
        make_pool(LEDUC, 2, executor="subprocess", address="auto")
    with pytest.raises(ConfigError, match="start_method"):
        SubprocessPool(LEDUC, 2, start_method="fork")
    with pytest.raises(ConfigError, match="timeout"):
        SubprocessPool(LEDUC, 2, timeout=0)
    with pytest.raises(UnknownEnvError):  # in-process: raised directly
        make_pool("turngym/Nope-v0", 1)


def test_workers_are_capped_at_num_envs() -> None:
    with make_pool(LEDUC, 2, executor="subprocess", workers=5, env_kwargs=LEDUC_KW) as pool:
        assert isinstance(pool, SubprocessPool)
        assert pool.workers == 2 and pool.shards == [[0], [1]] and len(set(pool.pids)) == 2
        assert os.getpid() not in pool.pids


def test_ray_missing_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(ImportError, match=r"pip install turngym\[dist\]"):
        make_pool(LEDUC, 2, executor="ray")
    with pytest.raises(ImportError, match=r"pip install turngym\[dist\]"):
        RayPool(LEDUC, 2)


@pytest.mark.slow
def test_killed_ray_actor_raises_promptly(ray_cluster: Any) -> None:
    pool = RayPool(LEDUC, 4, workers=2, env_kwargs=LEDUC_KW)
    pool.reset([0, 1, 2, 3], [0, 1, 2, 3])
    os.kill(pool.pids[0], signal.SIGKILL)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="actor died"):
        pool.step([0, 1, 2, 3], ["call"] * 4)
    assert time.monotonic() - t0 < 15
    assert pool.closed
    with pytest.raises(RuntimeError, match="closed"):
        pool.step([1], ["call"])
    pool.close()
