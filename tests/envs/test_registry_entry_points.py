"""Registry entry points are importable strings (issue 12, items 6 and 12).

Every registered id: ``env.spec.to_json()`` works, ``pickle.dumps(env)`` round-trips into an env that
continues the episode identically, and ``gym.make(spec)`` with the spec pickled into a fresh process builds
the same env. A misspelt keyword through ``gym.make`` is a ``ConfigError`` naming the argument meant, and
errors about ids name ``turngym list``. On main the entry point was a local closure: ``to_json`` raised,
pickling raised, and ``make_aec("ToolQA")`` suggested Dhumbal.
"""

from __future__ import annotations

import inspect
import json
import pickle
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import load_env_creator

import turngym.envs as te
from turngym.envs import ConfigError, UnknownEnvError

IDS = [e.id for e in te.list_envs() if e.id.startswith("turngym/")]
#: Ids whose env drives a live browser: their entry points and keyword checks are tested here like every id's, but
#: a live Chromium page cannot be pickled mid-episode or replayed bit-for-bit in another process
#: (``replayable=False``); their snapshots replay instead (tests/envs/web).
LIVE = {e.id for e in te.list_envs() if not e.replayable}
FORMS = [(e.id, form) for e in te.list_envs() if e.id.startswith("turngym/") and e.id not in LIVE
         for form in ("single", "aec", "parallel") if getattr(e, form) is not None]


def _param(env_id: str, *rest: str) -> object:
    return pytest.param(env_id, *rest, id="-".join((env_id, *rest)))


def _legal(info: dict, base) -> str:
    """The first admissible action (or, for tool use, the first example action) of a state."""
    words = info.get("admissible_actions") or (base.example_actions() if hasattr(base, "example_actions") else [])
    return words[0] if words else ""


def _transcript(env, form: str, info, steps: int) -> tuple[list, object]:
    """Plays up to ``steps`` steps of first-legal actions; (everything observed, the latest info)."""
    out = []
    for _ in range(steps):
        if form == "single":
            if info.get("episode_over"):
                break
            step = env.step(_legal(info, env.unwrapped))
            info = {**step[-1], "episode_over": step[2] or step[3]}
            out.append(step)
        elif not env.agents:
            break
        elif form == "aec":
            agent = env.agent_selection
            over = env.terminations[agent] or env.truncations[agent]
            env.step(None if over else _legal(env.infos[agent], env.unwrapped))
            out.append((dict(env.rewards), env.last() if env.agents else None))
        else:
            step = env.step({a: _legal(info[a], env.unwrapped) for a in env.agents})
            info = step[-1]
            out.append(step)
    return out, info


def _dump(x) -> str:
    return json.dumps(x, default=lambda v: v.tolist() if isinstance(v, np.ndarray) else repr(v), sort_keys=True)


@pytest.mark.parametrize("env_id", IDS)
def test_every_id_has_an_importable_string_entry_point(env_id):
    spec = gym.spec(env_id)
    assert isinstance(spec.entry_point, str), spec.entry_point  # main: a local closure
    assert load_env_creator(spec.entry_point) is te.env_info(env_id).load("single")
    assert json.loads(spec.to_json())["entry_point"] == spec.entry_point
    info = te.env_info(env_id)
    for form in ("aec", "parallel"):
        if getattr(info, form) is not None:
            assert load_env_creator(info.entry_point(form)) is info.load(form)


@pytest.mark.parametrize(("env_id", "form"), [_param(i, f) for i, f in FORMS])
def test_pickled_env_continues_the_episode_identically(env_id, form):
    make = {"single": gym.make, "aec": te.make_aec, "parallel": te.make_parallel}[form]
    env = make(env_id)
    _, info = env.reset(seed=3) if form != "aec" else (env.reset(seed=3), None)
    prefix, info = _transcript(env, form, info, 1)
    assert prefix
    clone = pickle.loads(pickle.dumps(env))  # main: the spec's entry point (a closure) cannot be pickled
    assert _dump(_transcript(clone, form, info, 4)[0]) == _dump(_transcript(env, form, info, 4)[0])


def test_gym_make_of_a_pickled_spec_in_a_fresh_process():
    """Every id's spec, pickled here, builds in a fresh interpreter the env this process builds."""
    specs = [gym.spec(i) for i in IDS if i not in LIVE]
    child = (
        "import pickle, sys, json, gymnasium as gym\n"
        "out = []\n"
        "for spec in pickle.loads(sys.stdin.buffer.read()):\n"
        "    env = gym.make(spec)\n"
        "    obs, info = env.reset(seed=5)\n"
        "    out.append([spec.id, type(env.unwrapped).__qualname__, obs, info['state_key']])\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", child], input=pickle.dumps(specs), capture_output=True,
                          timeout=600, check=True)
    theirs = json.loads(done.stdout.decode().strip().splitlines()[-1])
    for (env_id, cls, obs, key), spec in zip(theirs, specs, strict=True):
        env = gym.make(spec)
        mine_obs, info = env.reset(seed=5)
        assert (env_id, cls, obs, key) == (spec.id, type(env.unwrapped).__qualname__, mine_obs, info["state_key"])


@pytest.mark.parametrize("env_id", IDS)
def test_gym_make_checks_keyword_names(env_id):
    first = next(iter(inspect.signature(te.env_info(env_id).load("single")).parameters))
    typo = first[:-1]
    with pytest.raises(ConfigError, match=f"Did you mean '{first}'"):  # main: TypeError from the class
        gym.make(env_id, **{typo: None})
    with pytest.raises(ConfigError, match=f"{env_id} argument.*Did you mean '{first}'"):
        te.make(env_id, **{typo: None})


def test_make_aec_of_an_id_without_that_form_says_which_forms_it_has():
    with pytest.raises(ConfigError) as err:  # main: "Did you mean 'turngym/Dhumbal-v0'?"
        te.make_aec("ToolQA")
    msg = str(err.value)
    assert "'ToolQA' is turngym/ToolQA-v0, which has no PettingZoo AEC form" in msg
    assert "Gymnasium single-agent" in msg and "`turngym list`" in msg
    assert "Did you mean" not in msg
    with pytest.raises(ConfigError, match="has no PettingZoo Parallel form.*AEC"):
        te.make_parallel("turngym/KuhnPoker-v0")


def test_unknown_ids_name_turngym_list_and_the_id_meant():
    with pytest.raises(UnknownEnvError) as err:
        te.make("ToolQA")  # the name without its version: the suggestion is the versioned id
    assert "Did you mean 'turngym/ToolQA-v0'?" in str(err.value) and "`turngym list`" in str(err.value)
    with pytest.raises(UnknownEnvError, match="`turngym list`"):
        te.env_info("no-such-env-v0")
    assert te.make("KuhnPoker-v0").env_id == "turngym/KuhnPoker-v0"  # the namespace may be left out


#: Live-browser ids checked by default (each reset starts a page: ~4 s); the other 128 with --exhaustive.
LIVE_DEFAULT = {"turngym/MiniWoB-click-button-v0", "turngym/WebShopBrowser-v0"}


@pytest.mark.parametrize("env_id", [i if i not in LIVE or i in LIVE_DEFAULT else
                                    pytest.param(i, marks=pytest.mark.exhaustive) for i in IDS])
def test_declared_training_and_held_out_arguments_make_the_env(env_id):
    # A trainer makes the env with train_kwargs, and evaluates with eval_kwargs on top: both must construct.
    info = te.env_info(env_id)
    for kwargs in (info.train_kwargs, {**info.train_kwargs, **info.eval_kwargs}):
        env = te.make(env_id, **kwargs)
        env.reset(seed=0)
        env.close()
    if "split" in inspect.signature(info.load().__init__).parameters:
        assert info.eval_kwargs == {"split": "test"}  # an env with a test split is evaluated on it


@pytest.mark.parametrize("bad", [{"split": {1, 2}}, {1: "x"}, {"x": float("nan")}, [("split", "test")]])
def test_training_arguments_must_be_a_json_object(bad):
    with pytest.raises(ConfigError, match="train_kwargs"):
        te.EnvInfo("myorg/Bad-v0", "mine", "turngym.envs.cards:KuhnPokerEnv", train_kwargs=bad)
    declared = {"opponents": ["random"]}
    info = te.EnvInfo("myorg/Good-v0", "mine", "turngym.envs.cards:KuhnPokerEnv", train_kwargs=declared)
    declared["opponents"].append("cfr")  # the entry holds its own copy
    assert info.train_kwargs == {"opponents": ["random"]}
