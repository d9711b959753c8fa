"""Conformance checkers: Gymnasium's and PettingZoo's own checks plus the turngym contract (DESIGN §3).

``check_env`` (single-agent) and ``check_multiagent_env`` (PettingZoo AEC or Parallel) run:

1. the library checker (``gymnasium.utils.env_checker.check_env``; PettingZoo ``api_test`` and
   ``seed_test`` for AEC, ``parallel_api_test`` and ``parallel_seed_test`` for Parallel);
2. seeded determinism of whole rollouts (a seeded policy that mixes legal and bad actions);
3. ``state_key`` equality between this process and two fresh Python processes with different
   ``PYTHONHASHSEED`` values;
4. snapshot/restore replay equality, in the same env and in a fresh one;
5. text/vector agreement (same dynamics, rewards and state keys when the same action ids are played);
6. the bad-input battery: empty, whitespace, 1 MB, random bytes decoded as text, malformed JSON, half a
   tool call, non-string objects, and every illegal action. Each must give ``action_valid=False``, a
   message naming the accepted actions, and leave the state unchanged. In a Parallel env the battery is
   played by one agent at a time (plus a missing action) while the others play legal actions, which
   must then get ``action_valid=True`` (the void-step rule of ``turngym.envs.core.simultaneous``);
7. the snapshot forgery fuzzer (``turngym.envs.core.forgery``): snapshots along the rollout, mutated, must
   either be rejected with ``SnapshotError`` alone, leaving the env unchanged, or leave a working env.

Every failure raises ``ConformanceError`` naming the check and the step.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import gymnasium
import numpy as np
from gymnasium.utils.env_checker import data_equivalence

from turngym.envs.core.errors import TurnGymError
from turngym.envs.core.forgery import first_forgery_failure
from turngym.envs.core.registry import env_info, make, make_aec, make_parallel

Record = dict[str, Any]


class ConformanceError(TurnGymError, AssertionError):
    """An env breaks the turngym contract."""


def _fail(check: str, msg: str) -> None:
    raise ConformanceError(f"[{check}] {msg}")


# ------------------------------------------------------------------ the bad-input battery
def bad_inputs(seed: int = 0, text_mode: bool = True) -> list[tuple[str, Any]]:
    """Named hostile actions that no env may accept (the illegal actions of a state come on top)."""
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=4096, dtype=np.uint8).tobytes()
    if not text_mode:
        return [("negative id", -1), ("huge id", 10**9), ("float", 0.5), ("garbage string", "{}"), ("none", None)]
    return [
        ("empty", ""),
        ("whitespace", " \n\t "),
        ("1 MB string", "x" * (1 << 20)),
        ("random bytes (surrogateescape)", raw.decode("utf-8", "surrogateescape")),
        ("random bytes (latin-1)", raw.decode("latin-1")),
        ("NUL bytes", "\x00" * 64),
        ("lone surrogate", "\ud800"),
        ("malformed JSON", '{"action": {"name": [1, 2'),
        ("half a tool call", '<tool_call>{"name": "python", "arguments": {"code": "import os; os.system('),
        ("empty tag", "<action></action>"),
        ("sandbox escape", "__import__('os').system('rm -rf /')"),
        ("none", None),
        ("bytes", b"call"),
    ]


# ------------------------------------------------------------------ drivers
class _Driver:
    """Uniform view of a single-agent, AEC or Parallel env for the contract checks."""

    base: Any
    text: bool

    def reset(self, seed: int) -> Record:
        raise NotImplementedError

    def step(self, action: Any) -> Record:
        raise NotImplementedError

    def done(self) -> bool:
        raise NotImplementedError

    def info(self) -> dict[str, Any]:
        raise NotImplementedError

    def choose(self, rng: np.random.Generator, bad_rate: float) -> Any:
        """The next action of a seeded policy that mixes legal and bad actions."""
        return _choose(rng, self, bad_rate)

    def legal(self) -> tuple[list[str], list[int]]:
        """Legal words and ids; for an open action set (``admissible_actions`` None), the env's examples.

        Envs whose actions are free text (tool calls, answers) expose ``example_actions()``: well-formed
        actions for the current state, which the checks play as "legal" moves.
        """
        info = self.info()
        words = info.get("admissible_actions")
        if words is None and hasattr(self.base, "example_actions"):
            words = self.base.example_actions()
        return list(words or []), list(info.get("legal_action_ids") or [])

    def all_words(self) -> list[str]:
        game = getattr(self.base, "game", None)
        return list(getattr(game, "action_names", ()))

    def num_actions(self) -> int:
        game = getattr(self.base, "game", None)
        return int(getattr(game, "num_actions", 0))


class _SingleDriver(_Driver):
    def __init__(self, env: gymnasium.Env):
        self.env = env
        self.base = env.unwrapped
        self.text = getattr(self.base, "obs_mode", "text") == "text"
        self._last: Record = {}

    def reset(self, seed: int) -> Record:
        obs, info = self.env.reset(seed=seed)
        self._last = {"obs": obs, "reward": 0.0, "terminated": False, "truncated": False, "info": info}
        return self._last

    def step(self, action: Any) -> Record:
        obs, reward, term, trunc, info = self.env.step(action)
        self._last = {"obs": obs, "reward": reward, "terminated": term, "truncated": trunc, "info": info}
        return self._last

    def done(self) -> bool:
        return bool(self._last["terminated"] or self._last["truncated"])

    def info(self) -> dict[str, Any]:
        return self._last["info"]


class _AECDriver(_Driver):
    def __init__(self, env: Any):
        self.env = env
        self.base = env.unwrapped
        self.text = getattr(self.base, "obs_mode", "text") == "text"

    def _record(self) -> Record:
        env = self.env
        if not env.agents:
            return {"agent": None, "done": True}
        obs, reward, term, trunc, info = env.last()
        return {"agent": env.agent_selection, "obs": obs, "reward": reward, "terminated": term,
                "truncated": trunc, "info": info, "rewards": dict(env.rewards)}

    def reset(self, seed: int) -> Record:
        self.env.reset(seed=seed)
        return self._record()

    def step(self, action: Any) -> Record:
        self.env.step(action)
        return self._record()

    def done(self) -> bool:
        env = self.env
        if not env.agents:
            return True
        a = env.agent_selection
        return bool(env.terminations[a] or env.truncations[a])

    def info(self) -> dict[str, Any]:
        return self.env.infos[self.env.agent_selection]


class _ParallelDriver(_Driver):
    """Parallel env: an action is a joint dict agent -> action; records hold every agent's dicts."""

    def __init__(self, env: Any):
        self.env = env
        self.base = env.unwrapped
        self.text = getattr(self.base, "obs_mode", "text") == "text"
        self.infos: dict[str, dict[str, Any]] = {}

    def _record(self, obs: Any, infos: Any, step: tuple[Any, ...] = ()) -> Record:
        self.infos = infos
        rec = {"agents": list(self.env.agents), "obs": obs, "infos": infos}
        if step:
            rec.update(zip(("rewards", "terminations", "truncations"), step, strict=True))
        return rec

    def reset(self, seed: int) -> Record:
        obs, infos = self.env.reset(seed=seed)
        return self._record(obs, infos)

    def step(self, action: Any) -> Record:
        obs, rewards, terms, truncs, infos = self.env.step(action)
        return self._record(obs, infos, (rewards, terms, truncs))

    def done(self) -> bool:
        return not self.env.agents

    def legal_of(self, agent: str) -> tuple[list[str], list[int]]:
        info = self.infos.get(agent, {})
        return list(info.get("admissible_actions") or []), list(info.get("legal_action_ids") or [])

    def choose(self, rng: np.random.Generator, bad_rate: float) -> Any:
        return {a: _choose_from(rng, *self.legal_of(a), self.text, bad_rate) for a in self.env.agents}


# ------------------------------------------------------------------ helpers
def _is_parallel(env: Any) -> bool:
    from pettingzoo import ParallelEnv

    return isinstance(env, ParallelEnv) or isinstance(getattr(env, "unwrapped", None), ParallelEnv)


def _factory(env: Any, multiagent: bool) -> tuple[str, dict[str, Any], Callable[..., Any]]:
    """(env id, make kwargs, constructor) for building fresh copies of ``env``."""
    base = env.unwrapped
    env_id = getattr(base, "env_id", None)
    if env_id is None:
        raise TypeError("check_env needs a turngym env (it has no env_id attribute)")
    kwargs = getattr(base, "make_kwargs", None)
    if kwargs is None and getattr(env, "spec", None) is not None:
        kwargs = dict(env.spec.kwargs)
    if kwargs is None:
        raise TypeError("build the env with gymnasium.make / turngym.envs.make / make_aec / make_parallel so it "
                        "can be copied")
    if not multiagent:
        return env_id, dict(kwargs), make
    return env_id, dict(kwargs), (make_parallel if _is_parallel(env) else make_aec)


def _choose(rng: np.random.Generator, driver: _Driver, bad_rate: float) -> Any:
    """A legal action (word or id) most of the time, a bad one with probability ``bad_rate``."""
    return _choose_from(rng, *driver.legal(), driver.text, bad_rate)


def _choose_from(rng: np.random.Generator, words: list[str], ids: list[int], text: bool, bad_rate: float) -> Any:
    if rng.random() < bad_rate:
        battery = [b for _, b in bad_inputs(0, text) if not (isinstance(b, str) and len(b) > 100_000)]
        return battery[int(rng.integers(len(battery)))]
    if text:
        return words[int(rng.integers(len(words)))] if words else ""
    return ids[int(rng.integers(len(ids)))] if ids else 0


def _rollout(driver: _Driver, seed: int, policy_seed: int, bad_rate: float = 0.2,
             max_steps: int = 500) -> tuple[list[Record], list[Any]]:
    rng = np.random.default_rng(policy_seed)
    records = [driver.reset(seed)]
    actions: list[Any] = []
    while not driver.done() and len(actions) < max_steps:
        action = driver.choose(rng, bad_rate)
        actions.append(action)
        records.append(driver.step(action))
    return records, actions


def _replay(driver: _Driver, actions: list[Any]) -> list[Record]:
    return [driver.step(a) for a in actions]


def _same(check: str, a: list[Record], b: list[Record]) -> None:
    if len(a) != len(b):
        _fail(check, f"trajectories differ in length: {len(a)} vs {len(b)}")
    for t, (ra, rb) in enumerate(zip(a, b, strict=True)):
        for key in ra:
            if not data_equivalence(ra[key], rb.get(key)):
                _fail(check, f"step {t}: {key!r} differs:\n  {ra[key]!r:.300}\n  {rb.get(key)!r:.300}")


def _keys(records: list[Record]) -> list[Any]:
    """The state keys of a trajectory (per agent, as a dict, for Parallel records)."""
    out: list[Any] = []
    for r in records:
        if "infos" in r:
            out.append({a: info.get("state_key") for a, info in r["infos"].items()})
        else:
            out.append(r.get("info", {}).get("state_key"))
    return out


def _views(record: Record) -> list[tuple[str, dict[str, Any] | None, bool]]:
    """(label, info, final) of every agent a record speaks for (one entry unless Parallel)."""
    if "infos" not in record:
        return [("", record.get("info"), bool(record.get("terminated") or record.get("truncated")))]
    terms, truncs = record.get("terminations", {}), record.get("truncations", {})
    return [(f"{a}: ", info, bool(terms.get(a) or truncs.get(a))) for a, info in record["infos"].items()]


def _check_info(records: list[Record]) -> None:
    for label, info, _ in _views(records[0]):
        task = (info or {}).get("task")
        if not (isinstance(task, dict) and "id" in task and "instruction" in task):
            _fail("info contract", f"{label}the reset info has no task dict with id and instruction: {task!r}")
    for t, r in enumerate(records):
        for label, info, final in _views(r):
            if info is None:
                continue
            where = f"step {t}: {label}"
            for key, typ in (("state_key", str), ("action_valid", bool), ("turn", int)):
                if not isinstance(info.get(key), typ):
                    _fail("info contract", f"{where}info[{key!r}] should be {typ.__name__}, got {info.get(key)!r}")
            sk = info["state_key"]
            if len(sk) < 16 or any(c not in "0123456789abcdef" for c in sk):
                _fail("info contract", f"{where}state_key {sk!r} is not a hex digest")
            adm = info.get("admissible_actions")
            if adm is not None and not (isinstance(adm, list) and all(isinstance(w, str) for w in adm)):
                _fail("info contract", f"{where}admissible_actions must be list[str] or None, got {adm!r}")
            if final and "success" not in info and "infra_error" not in info:  # an unscored end has no success
                _fail("info contract", f"{where}the final step has no info['success']")


# ------------------------------------------------------------------ contract checks
def _check_determinism(make_driver: Callable[[], _Driver], seed: int) -> tuple[list[Record], list[Any]]:
    first = _rollout(make_driver(), seed, seed + 1)
    second = _rollout(make_driver(), seed, seed + 1)
    _same("seeded determinism", first[0], second[0])
    _check_info(first[0])
    return first


#: Exit status of the cross-process child when it cannot rebuild the env's constructor (the check is skipped).
_UNLOADABLE = 86

_CHILD = textwrap.dedent(
    f"""
    import json, pickle, sys
    from turngym.envs.core import checker
    try:
        ctor, kwargs, seed, multi = pickle.loads(sys.stdin.buffer.read())
    except Exception as e:  # noqa: BLE001 - anything here means "cannot be rebuilt in a fresh process"
        print(f"{{type(e).__name__}}: {{e}}", file=sys.stderr)
        sys.exit({_UNLOADABLE})
    env = ctor(**kwargs)
    env.make_kwargs = dict(kwargs)
    drivers = {{False: checker._SingleDriver, True: checker._AECDriver, "parallel": checker._ParallelDriver}}
    records, _ = checker._rollout(drivers[multi](env), seed, seed + 1)
    print(json.dumps(checker._keys(records)))
    """
)


def _check_cross_process(env_id: str, kwargs: dict[str, Any], seed: int, multi: bool | str, keys: list[Any]) -> None:
    """``state_key`` equality with two fresh processes under different ``PYTHONHASHSEED`` values.

    The child rebuilds the env from its registered constructor and kwargs, sent with cloudpickle: by
    reference when the constructor can be imported by name, by value when it was defined in ``__main__`` or
    inside a function (scripts, notebooks, tests), so those envs get the check too and the child never
    depends on registrations it cannot see. When even that is impossible (a module the child cannot import,
    kwargs that cannot be pickled) the check is skipped with a warning that says why. Ids registered with
    ``replayable=False`` never get here (``_check_unreplayable``).
    """
    import cloudpickle  # a Gymnasium dependency

    form = "parallel" if multi == "parallel" else ("aec" if multi else "single")
    try:
        payload = cloudpickle.dumps((env_info(env_id).load(form), dict(kwargs), seed, multi))
    except Exception as e:  # noqa: BLE001 - any pickling failure means the check cannot run
        _skip_cross_process(env_id, f"its constructor or arguments cannot be pickled ({type(e).__name__}: {e})")
        return
    for hashseed in ("0", "4242"):
        # The child sees this process's import path, so constructors from user modules import there too.
        env = {**os.environ, "PYTHONHASHSEED": hashseed, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        out = subprocess.run([sys.executable, "-c", _CHILD], input=payload, env=env, capture_output=True,
                             timeout=300)
        stderr = out.stderr.decode("utf-8", "replace")
        if out.returncode == _UNLOADABLE:
            _skip_cross_process(env_id, f"a fresh process cannot rebuild its constructor ({stderr.strip()[-500:]})")
            return
        if out.returncode != 0:
            _fail("state_key across processes", f"child process failed:\n{stderr[-2000:]}")
        other = json.loads(out.stdout.decode().strip().splitlines()[-1])
        if other != keys:
            _fail("state_key across processes", f"PYTHONHASHSEED={hashseed} gave different keys: {other} vs {keys}")


def _skip_cross_process(env_id: str, why: str) -> None:
    warnings.warn(f"state_key cross-process check skipped for {env_id}: {why}. Define the env in a module that a "
                  "fresh Python process can import to run it.", stacklevel=4)


# ------------------------------------------------------------------ envs whose outside world does not replay
def _check_unreplayable(env: Any, env_id: str, kwargs: dict[str, Any], seed: int, multi: bool | str,
                        num_cycles: int = 200) -> None:
    """The checks that still hold for an id registered with ``replayable=False`` (a live browser, a sandbox).

    Runs: the library checks that do not compare two runs (Gymnasium: spaces, reset/step return types and
    its passive checkers, fresh data on every call; PettingZoo: ``api_test`` / ``parallel_api_test``), the
    info contract over a seeded rollout that mixes legal and hostile actions (and, for Parallel envs, every
    observation inside its space), the snapshot round trip (``get_state()`` right after ``set_state(s)``
    equals ``s``, in the same env and a fresh one), the bad-input battery's validity flags (no
    exception; ``action_valid=False`` for the bad actor, ``True`` for the others; an observation that says
    the action was invalid and names the accepted ones), and the snapshot forgery fuzzer on the episode's
    first snapshot (rejected atomically with ``SnapshotError``, or harmless).

    Skips, because each compares two runs of a world that does not repeat itself: seeded determinism
    (Gymnasium's and PettingZoo's seed tests included), state keys across processes, snapshot replay
    equality, text/vector agreement, and "the state did not change" after a bad input.
    """
    from gymnasium.utils import env_checker as gym_checks

    def make_driver() -> _Driver:
        return _driver_for(env_id, kwargs, multi)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if multi == "parallel":
            from pettingzoo.test import parallel_api_test

            parallel_api_test(env, num_cycles=num_cycles)
        elif multi:
            from pettingzoo.test import api_test

            with _text_dtype_check_relaxed():
                api_test(env, num_cycles=num_cycles)
        else:
            base = env.unwrapped
            for space, name in ((base.action_space, "action"), (base.observation_space, "observation")):
                gym_checks.check_space_limit(space, name)
            gym_checks.check_action_space(base.action_space)
            gym_checks.check_observation_space(base.observation_space)
            for check in (gym_checks.check_reset_return_info_deprecation, gym_checks.check_reset_return_type,
                          gym_checks.check_reset_options, gym_checks.env_reset_passive_checker,
                          gym_checks.check_returned_data_not_reused):
                check(base)
            gym_checks.env_step_passive_checker(base, base.action_space.sample())
    driver = make_driver()
    records, _ = _rollout(driver, seed, seed + 1)
    _check_info(records)
    if multi == "parallel":
        _check_parallel_spaces(driver.env, records)
    _check_round_trip(make_driver, seed)
    _check_bad_input_flags(make_driver, seed)
    # Forged snapshots need no replay either; with no actions to replay, only the first snapshot is forged.
    _check_forgery(make_driver, seed, [])


def _check_round_trip(make_driver: Callable[[], _Driver], seed: int, max_steps: int = 200) -> None:
    """``get_state() == s`` right after ``set_state(s)``, at every step of a live rollout and in a fresh env."""
    driver, fresh = make_driver(), make_driver()
    driver.reset(seed)
    fresh.reset(seed + 99)
    rng = np.random.default_rng(seed + 2)
    for t in range(max_steps):
        snap = driver.base.get_state()
        if not isinstance(snap, bytes):
            _fail("snapshots", f"get_state() must return bytes, got {type(snap).__name__}")
        for where, d in (("same env", driver), ("fresh env", fresh)):
            d.base.set_state(snap)
            if d.base.get_state() != snap:
                _fail("snapshots", f"step {t}, {where}: get_state() right after set_state(s) differs from s")
        if driver.done():
            return
        driver.step(driver.choose(rng, 0.2))


def _check_bad_input_flags(make_driver: Callable[[], _Driver], seed: int, max_steps: int = 50) -> None:
    """The bad-input battery at each decision of a live legal rollout, checking only what every run shares."""
    driver = make_driver()
    driver.reset(seed)
    rng = np.random.default_rng(seed + 3)
    for t in range(max_steps):
        if driver.done():
            return
        snap = driver.base.get_state()
        for what, actor, joint, named in _bad_steps(driver, seed + t):
            driver.base.set_state(snap)
            try:
                out = driver.step(joint)
            except Exception as e:  # noqa: BLE001 - any exception is a contract violation
                _fail("bad input", f"{what}: the env raised {type(e).__name__}: {e}")
            _check_invalid_flagged(driver.text, out, what, actor, joint, named)
        driver.base.set_state(snap)
        driver.step(driver.choose(rng, 0.0))


def _bad_steps(driver: _Driver, seed: int) -> list[tuple[str, str | None, Any, list[str]]]:
    """The bad-input battery at the driver's current decision.

    Each entry: (label, bad actor or None, action or joint action, the actions its message must name).
    Single-agent and AEC: the hostile battery plus every illegal word (text) or id, and an out-of-range id.
    Parallel: the same per agent, played while the others play their first legal action, plus a missing
    action.
    """
    def battery(words: list[str], ids: list[int]) -> list[tuple[str, Any]]:
        out = bad_inputs(seed, driver.text)
        if driver.text:
            return out + [(f"illegal action {w!r}", w) for w in driver.all_words() if w not in words]
        return (out + [(f"illegal id {i}", i) for i in range(driver.num_actions()) if i not in ids]
                + [("id out of range", driver.num_actions())])

    if not isinstance(driver, _ParallelDriver):
        named = list(driver.info().get("admissible_actions") or [])
        return [(name, None, bad, named) for name, bad in battery(*driver.legal())]
    agents = list(driver.env.agents)
    legal = {a: driver.legal_of(a) for a in agents}
    good = _first_legal(driver)
    steps = []
    for agent in agents:
        for name, bad in battery(*legal[agent]) + [("missing action", _MISSING)]:
            joint = {a: good[a] for a in agents if not (a == agent and bad is _MISSING)}
            if bad is not _MISSING:
                joint[agent] = bad
            steps.append((f"{agent} plays {name}", agent, joint, legal[agent][0]))
    return steps


def _first_legal(driver: _ParallelDriver) -> dict[str, Any]:
    """Every live agent's first legal action (word or id): the others' moves while one agent misbehaves."""
    return {a: (words[0] if driver.text else ids[0]) for a, (words, ids) in
            ((a, driver.legal_of(a)) for a in driver.env.agents)}


def _check_invalid_flagged(text: bool, out: Record, what: str, actor: str | None, played: Any,
                           named: list[str]) -> None:
    """The bad actor got ``action_valid=False`` and a message.

    In a joint step (``played`` is the joint action dict) every other agent got ``action_valid=True``.
    """
    if actor is None:
        info, obs, truncated = out.get("info", {}), out.get("obs"), bool(out.get("truncated"))
    else:
        for other in played:
            valid = out["infos"].get(other, {}).get("action_valid")
            if other != actor and valid is not True:
                _fail("bad input", f"{what}: {other} played a legal action but got action_valid={valid!r}")
        info, obs = out["infos"].get(actor, {}), out["obs"].get(actor)
        truncated = bool(out.get("truncations", {}).get(actor))
    if info.get("action_valid") is not False:
        _fail("bad input", f"{what}: action_valid should be False, got {info.get('action_valid')!r}")
    if text:
        if not isinstance(obs, str) or "invalid" not in obs.lower():
            _fail("bad input", f"{what}: the observation does not say the action was invalid")
        missing = [w for w in named if w not in obs]
        if missing and not truncated:  # the episode's last observation need not list actions
            _fail("bad input", f"{what}: the observation does not name accepted actions {missing}")


def _check_snapshots(make_driver: Callable[[], _Driver], seed: int, actions: list[Any]) -> None:
    driver = make_driver()
    driver.reset(seed)
    cut = len(actions) // 2
    _replay(driver, actions[:cut])
    snap = driver.base.get_state()
    if not isinstance(snap, bytes):
        _fail("snapshots", f"get_state() must return bytes, got {type(snap).__name__}")
    tail = _replay(driver, actions[cut:])
    driver.base.set_state(snap)
    if driver.base.get_state() != snap:
        _fail("snapshots", "get_state() right after set_state(s) differs from s")
    _same("snapshot replay (same env)", tail, _replay(driver, actions[cut:]))
    fresh = make_driver()
    fresh.reset(seed + 99)
    fresh.base.set_state(snap)
    _same("snapshot replay (fresh env)", tail, _replay(fresh, actions[cut:]))


def _check_forgery(make_driver: Callable[[], _Driver], seed: int, actions: list[Any]) -> None:
    """Forged snapshots are rejected atomically with ``SnapshotError`` or are harmless (``forgery``)."""
    failure = first_forgery_failure(make_driver(), seed, actions)
    if failure is not None:
        _fail("snapshot forgery", failure)


def _check_modes(make_mode: Callable[[str], _Driver], seed: int, episodes: int = 3) -> None:
    for ep in range(episodes):
        text, vec = make_mode("text"), make_mode("vector")
        rt, rv = text.reset(seed + ep), vec.reset(seed + ep)
        rng = np.random.default_rng(seed + ep)
        steps = 0
        while True:
            it, iv = rt.get("info", {}), rv.get("info", {})
            for key in ("state_key", "admissible_actions", "legal_action_ids", "success"):
                if not data_equivalence(it.get(key), iv.get(key)):
                    _fail("text/vector agreement", f"episode {ep} step {steps}: info[{key!r}] differs: "
                                                   f"{it.get(key)!r} vs {iv.get(key)!r}")
            for key in ("reward", "terminated", "truncated", "agent"):
                if not data_equivalence(rt.get(key), rv.get(key)):
                    _fail("text/vector agreement", f"episode {ep} step {steps}: {key} differs")
            if isinstance(rv.get("obs"), dict):
                mask_ids = np.flatnonzero(rv["obs"]["action_mask"]).tolist()
                if mask_ids != list(iv.get("legal_action_ids") or []):
                    _fail("text/vector agreement", f"episode {ep} step {steps}: action_mask {mask_ids} != "
                                                   f"legal_action_ids {iv.get('legal_action_ids')}")
            if text.done() or vec.done():
                if text.done() != vec.done():
                    _fail("text/vector agreement", f"episode {ep}: one mode ended, the other did not")
                break
            words, ids = text.legal()
            if len(words) != len(ids):
                _fail("text/vector agreement", "admissible_actions and legal_action_ids differ in length")
            k = int(rng.integers(len(ids)))
            rt, rv = text.step(words[k]), vec.step(ids[k])
            steps += 1


def _check_bad_inputs(make_driver: Callable[[], _Driver], seed: int, actions: list[Any]) -> None:
    driver = make_driver()
    driver.reset(seed)
    legal_actions = [a for a in actions if not _is_bad(a, driver.text)]
    for t in range(len(legal_actions) + 1):
        if driver.done():
            break
        words, ids = driver.legal()
        key_before = driver.info().get("state_key")
        snap = driver.base.get_state()
        battery = _bad_steps(driver, seed + t)
        good = words[0] if driver.text else ids[0]
        driver.base.set_state(snap)
        reference = driver.step(good)
        for name, _, bad, named in battery:
            driver.base.set_state(snap)
            try:
                rec = driver.step(bad)
            except Exception as e:  # noqa: BLE001 - any exception is a contract violation
                _fail("bad input", f"{name}: the env raised {type(e).__name__}: {e}")
            _check_invalid_flagged(driver.text, rec, name, None, bad, named)
            if rec.get("info", {}).get("state_key") != key_before:
                _fail("bad input", f"{name}: state_key changed after an invalid action")
            if rec.get("truncated"):
                continue
            after = driver.step(good)
            # The invalid action consumed a turn (DESIGN §3), so a turn cap may come one step sooner: then the
            # observation says "out of turns" and only the state itself (key, termination) can be compared.
            capped = bool(after.get("truncated")) and not reference.get("truncated")
            for key in ("terminated",) if capped else ("obs", "terminated", "truncated"):
                if not data_equivalence(after.get(key), reference.get(key)):
                    _fail("bad input", f"{name}: the state changed (the next legal action gave another {key})")
            if after.get("info", {}).get("state_key") != reference.get("info", {}).get("state_key"):
                _fail("bad input", f"{name}: the state changed (next state_key differs)")
        driver.base.set_state(snap)
        if t < len(legal_actions):
            driver.step(legal_actions[t])


def _is_bad(action: Any, text: bool) -> bool:
    bad = [b for _, b in bad_inputs(0, text)]
    return any(action is b or (type(action) is type(b) and action == b) for b in bad)


def _driver_for(env_id: str, kwargs: dict[str, Any], multi: bool | str) -> _Driver:
    """A driver over a fresh env: single-agent (``False``), AEC (``True``) or Parallel (``"parallel"``)."""
    if multi == "parallel":
        return _ParallelDriver(make_parallel(env_id, **kwargs))
    if multi:
        return _AECDriver(make_aec(env_id, **kwargs))
    return _SingleDriver(make(env_id, **kwargs))


# ------------------------------------------------------------------ Parallel-only contract checks
#: Stands for "no action for this agent in the joint dict" in the Parallel bad-input battery.
_MISSING = object()


def _check_parallel_modes(make_mode: Callable[[str], _ParallelDriver], seed: int, episodes: int = 3) -> None:
    """Text and vector Parallel envs given the same action ids agree on dynamics, rewards and keys."""
    for ep in range(episodes):
        text, vec = make_mode("text"), make_mode("vector")
        rt, rv = text.reset(seed + ep), vec.reset(seed + ep)
        rng = np.random.default_rng(seed + ep)
        steps = 0
        while True:
            where = f"episode {ep} step {steps}"
            for key in ("agents", "rewards", "terminations", "truncations"):
                if not data_equivalence(rt.get(key), rv.get(key)):
                    _fail("text/vector agreement", f"{where}: {key} differ: {rt.get(key)!r} vs {rv.get(key)!r}")
            if set(rt["infos"]) != set(rv["infos"]):
                _fail("text/vector agreement", f"{where}: infos are for different agents")
            for agent, it in rt["infos"].items():
                iv = rv["infos"][agent]
                for key in ("state_key", "admissible_actions", "legal_action_ids", "success", "action_valid"):
                    if not data_equivalence(it.get(key), iv.get(key)):
                        _fail("text/vector agreement", f"{where}: {agent} info[{key!r}] differs: "
                                                       f"{it.get(key)!r} vs {iv.get(key)!r}")
                obs = rv["obs"].get(agent)
                if isinstance(obs, dict):
                    mask_ids = np.flatnonzero(obs["action_mask"]).tolist()
                    if mask_ids != list(iv.get("legal_action_ids") or []):
                        _fail("text/vector agreement", f"{where}: {agent} action_mask {mask_ids} != "
                                                       f"legal_action_ids {iv.get('legal_action_ids')}")
            if text.done() or vec.done():
                if text.done() != vec.done():
                    _fail("text/vector agreement", f"episode {ep}: one mode ended, the other did not")
                break
            joint_text, joint_vec = {}, {}
            for agent in text.env.agents:
                words, ids = text.legal_of(agent)
                if len(words) != len(ids) or not ids:
                    _fail("text/vector agreement", f"{where}: {agent} has admissible_actions {words} and "
                                                   f"legal_action_ids {ids}")
                k = int(rng.integers(len(ids)))
                joint_text[agent], joint_vec[agent] = words[k], ids[k]
            rt, rv = text.step(joint_text), vec.step(joint_vec)
            steps += 1


def _check_parallel_bad_inputs(make_driver: Callable[[], _ParallelDriver], seed: int, actions: list[Any]) -> None:
    """The bad-input battery, played by one agent at a time while the others play legal actions."""
    driver = make_driver()
    rec = driver.reset(seed)
    # A joint step with any bad component is void, so the rest is the trajectory's legal path.
    legal_path = [a for a in actions if not any(_is_bad(x, driver.text) for x in a.values())]
    for t in range(len(legal_path) + 1):
        if driver.done():
            break
        agents = list(driver.env.agents)
        keys_before = {a: rec["infos"][a].get("state_key") for a in agents}
        snap = driver.base.get_state()
        battery = _bad_steps(driver, seed + t)
        good = _first_legal(driver)
        driver.base.set_state(snap)
        reference = driver.step(good)
        for what, agent, joint, named in battery:
            driver.base.set_state(snap)
            try:
                out = driver.step(joint)
            except Exception as e:  # noqa: BLE001 - any exception is a contract violation
                _fail("bad input", f"{what}: the env raised {type(e).__name__}: {e}")
            _check_invalid_flagged(driver.text, out, what, agent, joint, named)
            for other in agents:
                if other != agent and out["infos"].get(other, {}).get("state_key") != keys_before[other]:
                    _fail("bad input", f"{what}: {other}'s state_key changed after an invalid action")
            if out.get("truncations", {}).get(agent):
                continue
            after = driver.step(good)
            for key in ("obs", "rewards", "terminations", "truncations", "agents"):
                if not data_equivalence(after.get(key), reference.get(key)):
                    _fail("bad input", f"{what}: the state changed (the next legal step gave other {key})")
            if _keys([after]) != _keys([reference]):
                _fail("bad input", f"{what}: the state changed (the next state keys differ)")
        driver.base.set_state(snap)
        if t < len(legal_path):
            rec = driver.step(legal_path[t])


@contextlib.contextmanager
def _text_dtype_check_relaxed() -> Iterator[None]:
    """Relaxes the one PettingZoo ``api_test`` assertion that cannot apply to text observations.

    ``api_test`` compares ``observation.dtype`` with the space's dtype, which only numpy
    observations have. For ``str`` observations (text mode) that one assertion is replaced by the
    equivalent text check (a ``str`` inside the Text space); every other api_test assertion runs as is.
    """
    module = importlib.import_module("pettingzoo.test.api_test")

    original = module._test_observation_space_compatibility

    def compat(expected: Any, seen: Any, recursed_keys: list[str]) -> None:
        if isinstance(seen, str):
            assert expected.contains(seen), f"text observation outside {expected}"
            return
        original(expected, seen, recursed_keys)

    module._test_observation_space_compatibility = compat
    try:
        yield
    finally:
        module._test_observation_space_compatibility = original


# ------------------------------------------------------------------ public API
def check_env(env: gymnasium.Env, seed: int = 0, cross_process: bool = True) -> None:
    """Checks a single-agent turngym env against Gymnasium's checker and the turngym contract.

    Ids registered with ``replayable=False`` get only the checks that hold without bit-for-bit replay
    (``_check_unreplayable`` lists both sets). An env whose constructor a fresh process cannot rebuild
    skips the cross-process check with a warning.

    Args:
        env: An env built by ``gymnasium.make`` or ``turngym.envs.make``.
        seed: Base seed of the checks.
        cross_process: Also compare state keys with two fresh Python processes.

    Raises:
        ConformanceError: naming the check that failed.
    """
    from gymnasium.utils.env_checker import check_env as gym_check_env

    env_id, kwargs, _ = _factory(env, multiagent=False)
    if not env_info(env_id).replayable:
        _check_unreplayable(env, env_id, kwargs, seed, False)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        gym_check_env(env.unwrapped, skip_render_check=True)

    def make_driver() -> _Driver:
        return _driver_for(env_id, kwargs, False)

    records, actions = _check_determinism(make_driver, seed)
    if cross_process:
        _check_cross_process(env_id, kwargs, seed, False, _keys(records))
    _check_snapshots(make_driver, seed, actions)
    _check_forgery(make_driver, seed, actions)
    if "vector" in env_info(env_id).modes:
        _check_modes(lambda mode: _driver_for(env_id, {**kwargs, "obs_mode": mode}, False), seed)
    _check_bad_inputs(make_driver, seed, actions)


def check_multiagent_env(env: Any, seed: int = 0, cross_process: bool = True, num_cycles: int = 200) -> None:
    """Checks a PettingZoo turngym env: PettingZoo's API and seed tests + the turngym contract.

    AEC envs get ``api_test`` and ``seed_test``; Parallel envs get ``parallel_api_test`` and
    ``parallel_seed_test``. Both then get the contract checks of the module docstring; ids registered with
    ``replayable=False`` get only those that hold without bit-for-bit replay (see ``_check_unreplayable``).

    Args:
        env: An env built by ``turngym.envs.make_aec`` or ``turngym.envs.make_parallel``.
        seed: Base seed of the checks.
        cross_process: Also compare state keys with two fresh Python processes.
        num_cycles: Cycles for PettingZoo's tests.

    Raises:
        ConformanceError: naming the check that failed (PettingZoo's own assertions pass through).
    """
    env_id, kwargs, _ = _factory(env, multiagent=True)
    if not env_info(env_id).replayable:
        _check_unreplayable(env, env_id, kwargs, seed, "parallel" if _is_parallel(env) else True, num_cycles)
        return
    if _is_parallel(env):
        _check_parallel_env(env, seed, cross_process, num_cycles)
        return
    from pettingzoo.test import api_test, seed_test

    with warnings.catch_warnings(), _text_dtype_check_relaxed():
        warnings.simplefilter("ignore", UserWarning)
        api_test(env, num_cycles=num_cycles)
        seed_test(lambda: make_aec(env_id, **kwargs), num_cycles=num_cycles)

    def make_driver() -> _Driver:
        return _driver_for(env_id, kwargs, True)

    records, actions = _check_determinism(make_driver, seed)
    if cross_process:
        _check_cross_process(env_id, kwargs, seed, True, _keys(records))
    _check_snapshots(make_driver, seed, actions)
    _check_forgery(make_driver, seed, actions)
    if "vector" in env_info(env_id).modes:
        _check_modes(lambda mode: _driver_for(env_id, {**kwargs, "obs_mode": mode}, True), seed)
    _check_bad_inputs(make_driver, seed, actions)


def _check_parallel_env(env: Any, seed: int, cross_process: bool, num_cycles: int) -> None:
    """``check_multiagent_env`` for a PettingZoo Parallel env."""
    from pettingzoo.test import parallel_api_test, parallel_seed_test

    env_id, kwargs, _ = _factory(env, multiagent=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        parallel_api_test(env, num_cycles=num_cycles)
        parallel_seed_test(lambda: make_parallel(env_id, **kwargs), num_cycles=num_cycles)

    def make_driver() -> _ParallelDriver:
        return _ParallelDriver(make_parallel(env_id, **kwargs))

    records, actions = _check_determinism(make_driver, seed)
    _check_parallel_spaces(make_driver().env, records)
    if cross_process:
        _check_cross_process(env_id, kwargs, seed, "parallel", _keys(records))
    _check_snapshots(make_driver, seed, actions)
    _check_forgery(make_driver, seed, actions)
    if "vector" in env_info(env_id).modes:
        _check_parallel_modes(lambda mode: _ParallelDriver(make_parallel(env_id, **{**kwargs, "obs_mode": mode})),
                              seed)
    _check_parallel_bad_inputs(make_driver, seed, actions)


def _check_parallel_spaces(env: Any, records: list[Record]) -> None:
    """Every observation lies in its agent's observation space (``parallel_api_test`` does not check it)."""
    for t, r in enumerate(records):
        for agent, obs in r["obs"].items():
            if not env.observation_space(agent).contains(obs):
                _fail("observation space", f"step {t}: {agent}'s observation is outside {env.observation_space(agent)}")
