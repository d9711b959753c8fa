"""Gymnasium/SB3 conventions (issue 12, items 8 and 9).

Item 8: vector mode takes action ids in every integer form ``Discrete.contains`` takes (``model.predict``
returns a 0-d array), in every front end. Item 9: ``AsyncVectorEnv`` with shared memory carries every
text env's observations (Unicode included) unchanged, and the ``Text`` space flattens any string.
"""

from __future__ import annotations

import copy
import pickle
import random
import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.spaces.utils import flatten, flatten_space, unflatten
from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory

import turngym.envs
from turngym.envs import Text, list_envs
from turngym.envs.core.parsing import MAX_ACTION_CHARS, extract_word, parse_action

ALL_IDS = [e.id for e in list_envs() if e.replayable]  # live-browser ids: text only, tested in tests/envs/web
VECTOR_IDS = [e.id for e in list_envs() if "vector" in e.modes]

#: Strings that gymnasium's character-set encoding cannot carry: card suits, the tool envs' "≈" and "…",
#: an astral character, NULs (which a length-less encoding would drop), and lone surrogates (a ``str``
#: may hold them; UTF-8 cannot encode them).
HARD_STRINGS = ["", "plain ASCII", "K♥ Q♦ J♣ 10♠", "≈ 3.14…", "emoji 😀 end", "\x00nul\x00", "\ud800 lone \udfff",
                "tab\tnew\nline", "é" * 40]


# ------------------------------------------------------------------------------------- item 9: Text
def test_shared_memory_round_trips_any_string_and_reads_the_latest_write() -> None:
    space = Text(40)
    n = len(HARD_STRINGS)
    shm = create_shared_memory(space, n=n)
    view = read_from_shared_memory(space, shm, n=n)  # AsyncVectorEnv reads once and keeps this object
    assert tuple(view) == ("",) * n
    for i, s in reversed(list(enumerate(HARD_STRINGS))):
        write_to_shared_memory(space, i, s, shm)
    assert tuple(view) == tuple(HARD_STRINGS)
    # A shorter write over a longer one: the rest of the old row must not leak into the new string.
    write_to_shared_memory(space, 8, "é", shm)
    write_to_shared_memory(space, 1, "x" * 40, shm)  # exactly max_length: no room for the end mark
    assert view[8] == "é" and view[1] == "x" * 40 and view[2] == HARD_STRINGS[2]
    # What AsyncVectorEnv returns (copy=True deep-copies it): plain tuples, like SyncVectorEnv.
    snap = copy.deepcopy(view)
    assert type(snap) is tuple and snap == tuple(view)
    assert pickle.loads(pickle.dumps(view)) == snap
    write_to_shared_memory(space, 0, "changed", shm)
    assert snap[0] == "" and view[0] == "changed"


def test_shared_memory_rejects_what_the_space_does_not_contain() -> None:
    space = Text(5)
    shm = create_shared_memory(space, n=1)
    with pytest.raises(ValueError, match="does not fit max_length=5"):
        write_to_shared_memory(space, 0, "toolong", shm)
    with pytest.raises(TypeError, match="must be a str"):
        write_to_shared_memory(space, 0, b"bytes", shm)


@pytest.mark.parametrize("text", HARD_STRINGS)
def test_flatten_round_trips_any_string(text: str) -> None:
    space = Text(40)
    flat = flatten(space, text)
    assert flatten_space(space).contains(flat)
    assert unflatten(space, flat) == text


def _pick_action(info: dict, t: int) -> str:
    """A deterministic action from what the env offers (tool envs: a malformed call, then an answer)."""
    words = info.get("admissible_actions") or []
    if words:
        return words[t % len(words)]
    return ("no tool call here", "<answer>7</answer>")[t % 2]


@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize("env_id", ALL_IDS)
def test_vector_env_gives_the_observations_of_the_envs_run_directly(env_id: str, mode: str) -> None:
    direct = [gym.make(env_id) for _ in range(2)]
    if not isinstance(direct[0].observation_space, Text):
        pytest.skip(f"{env_id} does not default to text observations")
    venv = gym.make_vec(env_id, num_envs=2, vectorization_mode=mode)  # async: shared memory on (default)
    try:
        obs, _ = venv.reset(seed=7)
        pairs = [env.reset(seed=7 + i) for i, env in enumerate(direct)]
        assert obs == tuple(o for o, _ in pairs)
        assert venv.observation_space.contains(obs)
        infos = [info for _, info in pairs]
        done = [False, False]
        for t in range(6):
            actions = tuple(_pick_action(infos[i], t) for i in range(2))
            obs, rewards, terms, truncs, _ = venv.step(actions)
            for i, env in enumerate(direct):
                if done[i]:  # the vector env's default autoreset: this step resets, its action is ignored
                    o, infos[i] = env.reset()
                    r, te, tr = 0.0, False, False
                else:
                    o, r, te, tr, infos[i] = env.step(actions[i])
                assert env.observation_space.contains(o)
                assert obs[i] == o, f"sub-env {i}, step {t}"
                assert (rewards[i], terms[i], truncs[i]) == (r, te, tr)
                done[i] = te or tr
    finally:
        venv.close()
        for env in direct:
            env.close()


def test_async_vector_env_in_fresh_worker_processes() -> None:
    """Workers that import turngym themselves ("forkserver", the default from Python 3.14) register the codec."""
    venv = gym.make_vec("turngym/LeducHoldem-v0", num_envs=2, vectorization_mode="async",
                        vector_kwargs={"context": "forkserver"})
    env = gym.make("turngym/LeducHoldem-v0")
    try:
        obs, _ = venv.reset(seed=3)
        assert obs[1] == env.reset(seed=4)[0]
        assert any(suit in obs[0] + obs[1] for suit in "♠♥♦♣")
    finally:
        venv.close()


def test_async_vector_env_without_copy_returns_a_live_view() -> None:
    venv = gym.make_vec("turngym/KuhnPoker-v0", num_envs=2, vectorization_mode="async",
                        vector_kwargs={"copy": False})
    try:
        first, _ = venv.reset(seed=0)
        before = tuple(first)
        second, *_ = venv.step(("[bet]", "[bet]"))
        assert second is first and tuple(second) != before  # like a Box: one buffer, updated in place
    finally:
        venv.close()


def test_text_space_still_samples_members() -> None:
    space = Text(30, examples=("call", "raise"), seed=1)
    samples = [space.sample() for _ in range(200)]
    assert all(space.contains(s) for s in samples)
    assert {"call", "raise"} <= set(samples) and any(s not in ("call", "raise") for s in samples)


# ------------------------------------------------------------------------------- item 8: action ids
ACCEPTED = {
    "python int": lambda a: a,
    "np.int64": np.int64,
    "np.uint8": np.uint8,
    "0-d int64 array (model.predict)": lambda a: np.array(a),
    "0-d int32 array": lambda a: np.array(a, dtype=np.int32),
    "size-1 array": lambda a: np.array([a]),
    "size-1 uint16 2-d array": lambda a: np.array([[a]], dtype=np.uint16),
}
REJECTED = {
    "bool": (True, "got bool"),
    "np.bool_": (np.bool_(True), "got bool"),
    "float": (1.0, "got float"),
    "np.float32": (np.float32(1), "got float32"),
    "float array": (np.array(1.0), "ndarray of shape () and dtype float64"),
    "bool array": (np.array([True]), "ndarray of shape (1,) and dtype bool"),
    "two ids": (np.array([1, 0]), "ndarray of shape (2,) and dtype int64"),
    "empty array": (np.array([], dtype=np.int64), "ndarray of shape (0,) and dtype int64"),
    "None": (None, "got NoneType"),
}


class Front:
    """One front end of an id in vector mode, stepped with one action for the seat(s) to act."""

    def __init__(self, env_id: str, kind: str):
        self.kind = kind
        if kind == "gymnasium":
            self.env = gym.make(env_id, obs_mode="vector")
            self.obs, _ = self.env.reset(seed=1)
        elif kind == "aec":
            self.env = turngym.envs.make_aec(env_id, obs_mode="vector")
            self.env.reset(seed=1)
        else:
            self.env = turngym.envs.make_parallel(env_id, obs_mode="vector")
            self.obs, _ = self.env.reset(seed=1)

    def legal(self) -> int:
        """The lowest legal action id of the (first) acting seat."""
        if self.kind == "aec":
            mask = self.env.observe(self.env.agent_selection)["action_mask"]
        elif self.kind == "parallel":
            mask = self.obs[self.env.agents[0]]["action_mask"]
        else:
            mask = self.obs["action_mask"]
        return int(np.flatnonzero(mask)[0])

    def step(self, action: object) -> tuple[list[dict], object]:
        """Plays ``action`` in every acting seat; returns the acting seats' infos and the next observation."""
        if self.kind == "gymnasium":
            obs, *_, info = self.env.step(action)
            return [info], obs
        if self.kind == "aec":
            agent = self.env.agent_selection
            self.env.step(action)
            return [self.env.infos[agent]], self.env.observe(agent)
        agents = list(self.env.agents)
        obs, *_, infos = self.env.step(dict.fromkeys(agents, action))
        return [infos[a] for a in agents], obs[agents[0]]


FRONTS = [(i, kind) for i in VECTOR_IDS for kind in turngym.envs.env_info(i).kinds]


@pytest.mark.parametrize(("env_id", "kind"), FRONTS)
def test_every_integer_form_of_an_id_is_the_same_action(env_id: str, kind: str) -> None:
    reference = Front(env_id, kind)
    aid = reference.legal()
    ref_infos, ref_obs = reference.step(aid)
    assert all(info["action_valid"] for info in ref_infos)
    for name, form in ACCEPTED.items():
        front = Front(env_id, kind)
        infos, obs = front.step(form(aid))
        assert all(info["action_valid"] for info in infos), (name, infos[0].get("error"))
        np.testing.assert_array_equal(obs["observation"], ref_obs["observation"], err_msg=name)


@pytest.mark.parametrize(("env_id", "kind"), FRONTS)
def test_non_integer_actions_stay_invalid_with_a_clear_message(env_id: str, kind: str) -> None:
    for name, (action, message) in REJECTED.items():
        front = Front(env_id, kind)
        infos, _ = front.step(action)
        for info in infos:
            assert info["action_valid"] is False, name
            assert message in info["error"], (name, info["error"])


def test_sb3_ppo_predict_output_is_a_valid_action() -> None:
    """An unmasked SB3 model evaluated by hand: validity depends only on the mask, never on the array type."""
    ppo = pytest.importorskip("stable_baselines3").PPO
    env = gym.make("turngym/LeducHoldem-v0", obs_mode="vector")
    model = ppo("MultiInputPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=64)
    obs, _ = env.reset(seed=0)
    valid = []
    for _ in range(60):
        action, _ = model.predict(obs, deterministic=False)
        assert isinstance(action, np.ndarray) and action.shape == ()
        legal = bool(obs["action_mask"][int(action)])
        obs, _, term, trunc, info = env.step(action)
        assert info["action_valid"] is legal, info.get("error")
        valid.append(legal)
        if term or trunc:
            obs, _ = env.reset()
    assert sum(valid) > len(valid) / 2  # Leduc: most moves are legal ones for an untrained policy too
    # Batched predict on a vector env: one id per sub-env.
    venv = gym.make_vec("turngym/LeducHoldem-v0", num_envs=3, vectorization_mode="sync", obs_mode="vector")
    obs, _ = venv.reset(seed=0)
    actions, _ = model.predict(obs, deterministic=True)
    _, _, _, _, infos = venv.step(actions)
    assert list(infos["action_valid"]) == [bool(obs["action_mask"][i, a]) for i, a in enumerate(actions)]
    venv.close()


# ------------------------------------------------------------------ the parser's fast path (throughput)
_REF_TAG = re.compile(r"<(action|answer)>(.*?)</\1>", re.IGNORECASE | re.DOTALL)
_REF_BRACKET = re.compile(r"^\[([^\[\]]{1,64})\]$")
_REF_STRIP = " \t\r\n\"'`*.!"


def _reference_word(text: str) -> str | None:
    """The regular-expression parser the string-operation one replaced (module rules of parsing.py)."""
    if len(text) > MAX_ACTION_CHARS:
        return None
    body = text
    tags = _REF_TAG.findall(body) if "<" in body else []
    if tags:
        body = tags[-1][1]
    body = body.strip(_REF_STRIP)
    m = _REF_BRACKET.match(body)
    if m:
        body = m.group(1).strip(_REF_STRIP)
    if not body or len(body) > 64 or "\n" in body:
        return None
    return body.lower()


def test_string_parser_matches_the_regular_expression_reference() -> None:
    rng = random.Random(12)
    pieces = ["[", "]", "[[", "]]", "<action>", "</action>", "<answer>", "</ANSWER>", " ", "\n", ".", '"', "*",
              "call", "Raise", "x" * 30, "♥", "\ud800"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 8))) for _ in range(4000)]
    texts += ["[" + "a" * 64 + "]", "[" + "a" * 65 + "]", "[a]\n", "[]", "[ ]", "[call]]"]
    for text in texts:
        assert extract_word(text).word == _reference_word(text), repr(text)


def test_memoized_parsing_depends_on_the_vocabulary_of_each_call() -> None:
    # The same short string, parsed twice (the second time from the memo), against two vocabularies.
    assert parse_action("[Fold]", {"fold": 0, "call": 1}, 2) == (0, None)
    assert parse_action("[Fold]", {"call": 0, "fold": 1}, 2) == (1, None)
    assert parse_action("[Fold]", {"call": 0}, 1) == (None, "unknown action 'fold'")
