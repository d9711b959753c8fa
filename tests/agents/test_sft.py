"""Supervised warm start: expert examples in the rollout's prompt format, a falling loss, a reloadable model.

Experts come from the registry (issue 13, item 12): ``expert_examples`` knows no env id. On main it listed the
tool-use and CFR ids, so the user env's expert (``test_a_user_env_gets_examples_from_its_registered_expert``)
was refused, the error listed only those ids, and card-game episodes reset with other seeds
(``test_card_game_examples_are_what_the_cfr_policy_plays`` fails there).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import turngym.envs  # noqa: F401
from turngym.agents.llm.policies.tiny import build_policy
from turngym.agents.llm.train.sft import _episode_examples, expert_examples, expert_seeds, supervised_finetune
from turngym.envs.core.errors import ConfigError
from turngym.envs.core.registry import EnvInfo, make, register_env, unregister_env
from turngym.envs.tooluse.trajectories import expert_trajectories

USER_ENVS = Path(__file__).resolve().parent / "user_envs"


@pytest.fixture
def user_envs(monkeypatch: pytest.MonkeyPatch):
    """A user's package (``testns/Echo-v0`` with its own expert) on sys.path; unregistered afterwards."""
    monkeypatch.syspath_prepend(str(USER_ENVS))
    import testns_echo  # noqa: F401  (registers testns/Echo-v0)

    yield
    for env_id in ("testns/Echo-v0", "testns/NoExpert-v0", "testns/BadExpert-v0"):
        unregister_env(env_id)
    sys.modules.pop("testns_echo", None)


def test_tool_use_examples_follow_the_rollout_prompt_format():
    ex = expert_examples("turngym/ToolQA-v0", 2, 0, {"difficulty": 1, "format": "plain"}, history_turns=1)
    first_prompt, first_action = ex[0]
    assert len(first_prompt) == 1 and "Question:" in first_prompt[0]["content"]
    assert first_action.startswith("search(")
    _, last_action = ex[-1]
    assert last_action.startswith("<answer>") and last_action.endswith("</answer>")
    # The third turn sees the first observation, then (history 1) the exchanges since: here the whole history.
    third, _ = ex[2]
    assert [m["role"] for m in third] == ["user", "assistant", "user", "assistant", "user"]
    assert third[1]["content"] == ex[0][1] and third[3]["content"] == ex[1][1]
    assert "omitted" not in third[0]["content"]


def test_card_game_examples_come_from_the_cfr_expert_and_are_legal():
    ex = expert_examples("turngym/KuhnPoker-v0", 20, 0, {"opponents": ["random"]}, include_first=False)
    assert ex and all(a in ("pass", "bet") for _, a in ex)
    assert all(len(p) == 1 and "Legal actions" in p[0]["content"] for p, _ in ex)


def test_unknown_env_has_no_expert():
    with pytest.raises(ConfigError, match="scripted expert"):
        expert_examples("turngym/RockPaperScissors-v0", 1, 0)


@pytest.mark.parametrize("env_id", ["turngym/ToolQA-v0", "turngym/ToolSQL-v0"])
def test_tool_use_examples_equal_the_scripted_trajectories(env_id):
    """The registry expert acting on the live env gives today's examples (same seeds, same replies)."""
    kwargs = {"difficulty": 2, "format": "hermes"}
    old = [ex for ep in expert_trajectories(env_id, 3, 5, **kwargs)
           for ex in _episode_examples([t["observation"] for t in ep["turns"]] + [""],
                                       [t["action"] for t in ep["turns"]], 2, True)]
    assert expert_examples(env_id, 3, 5, kwargs, history_turns=2, include_first=True) == old
    assert len(old) >= 6


@pytest.mark.parametrize("env_id", ["turngym/KuhnPoker-v0",
                                    pytest.param("turngym/LeducHoldem-v0", marks=pytest.mark.slow)])
def test_card_game_examples_are_what_the_cfr_policy_plays(env_id):
    """Every reply is the CFR+ policy's sample at that state, with the policy's RNG seeded by ``seed``."""
    from turngym.agents.baselines.cfr import solve

    seed, kwargs = 3, {"opponents": ["random"], "seat": "random"}
    policy = solve(env_id, 300, progress=False, seed=seed).policy
    rng = np.random.default_rng(seed)
    env = make(env_id, **kwargs)
    expected = []
    for reset_seed in expert_seeds(seed, 12):
        obs, info = env.reset(seed=reset_seed)
        observations, actions, done = [obs], [], False
        while not done:
            action_id = policy.act([obs], [info], rng=rng)[0]
            assert policy.action_probs(info, obs)[action_id] > 0
            word = info["admissible_actions"][list(info["legal_action_ids"]).index(action_id)]
            obs, _, terminated, truncated, info = env.step(word)
            observations.append(obs)
            actions.append(word)
            done = terminated or truncated
        expected.extend(_episode_examples(observations, actions, 1, False))
    assert expert_examples(env_id, 12, seed, kwargs, history_turns=1, include_first=False) == expected


def test_every_registered_expert_string_loads_a_factory():
    from turngym.envs.core.registry import list_envs, load_entry_point

    named = [e for e in list_envs() if e.expert is not None]
    assert {"turngym/ToolQA-v0", "turngym/ToolSQL-v0", "turngym/LeducHoldem-v0"} <= {e.id for e in named}
    for info in named:
        assert callable(load_entry_point(info.expert, what=f"{info.id} expert"))


def test_a_user_env_gets_examples_from_its_registered_expert(user_envs):
    ex = expert_examples("testns/Echo-v0", 4, 0, {"length": 3}, history_turns=3, include_first=True)
    assert len(ex) == 12  # the expert never errs: 3 turns per episode
    for prompt, reply in ex:
        assert prompt[-1]["content"] == f"Say: {reply}"
    # A different seed gives other episodes (the reset seeds derive from it).
    assert expert_examples("testns/Echo-v0", 4, 1, {"length": 3}) != expert_examples("testns/Echo-v0", 4, 0,
                                                                                      {"length": 3})


def test_no_expert_error_lists_the_ids_that_have_one(user_envs):
    from testns_echo import EchoEnv

    register_env(EnvInfo("testns/NoExpert-v0", "testns", EchoEnv))
    with pytest.raises(ConfigError, match="scripted expert") as err:
        expert_examples("testns/NoExpert-v0", 1, 0)
    for env_id in ("testns/Echo-v0", "turngym/ToolQA-v0", "turngym/LeducHoldem-v0"):
        assert env_id in str(err.value)
    register_env(EnvInfo("testns/BadExpert-v0", "testns", EchoEnv, expert="testns_nowhere.experts:expert"))
    with pytest.raises(ConfigError, match="testns_nowhere"):
        expert_examples("testns/BadExpert-v0", 1, 0)


def test_sft_lowers_the_loss_and_the_saved_model_reloads(tmp_path):
    torch.set_num_threads(1)
    policy = build_policy("tiny", seed=0)
    ex = expert_examples("turngym/KuhnPoker-v0", 30, 0, {"opponents": ["random"]}, include_first=False)
    losses = supervised_finetune(policy, ex, steps=40, batch_size=8, lr=3e-3, seed=0, progress=False)
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    policy.model.save_pretrained(tmp_path)
    policy.tokenizer.save_pretrained(tmp_path)
    again = build_policy(str(tmp_path), seed=0)
    ids = torch.tensor([policy.encode_prompt(ex[0][0])])
    assert again.encode_prompt(ex[0][0]) == ids[0].tolist()
    with torch.no_grad():
        a = policy.model(ids).logits
        b = again.model(ids).logits
    assert torch.allclose(a, b, atol=1e-5)


def test_prompt_weight_adds_the_prompt_log_likelihood_to_the_loss():
    torch.set_num_threads(1)
    ex = expert_examples("turngym/Sokoban-v0", 2, 0, {}, include_first=False)[:1]
    policy = build_policy("tiny", seed=0)
    tok = policy.tokenizer
    prompt = policy.encode_prompt(ex[0][0])
    reply = tok(ex[0][1], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    ids = torch.tensor([prompt + reply])
    with torch.no_grad():
        logp = torch.log_softmax(policy.model(ids).logits[0, :-1].float(), -1).gather(-1, ids[0, 1:, None])[:, 0]
    reply_nll = -logp[len(prompt) - 1:].mean()
    prompt_nll = -logp[:len(prompt) - 1].mean()  # tokens 1..len(prompt)-1 are the prompt's predictions
    # The first step's loss is measured before its update: the formula, by hand.
    (first,) = supervised_finetune(policy, ex, steps=1, batch_size=1, lr=1e-9, prompt_weight=0.5, progress=False)
    assert first == pytest.approx(float(reply_nll + 0.5 * prompt_nll), rel=1e-5)
    (only_reply,) = supervised_finetune(policy, ex, steps=1, batch_size=1, lr=1e-9, progress=False)
    assert only_reply == pytest.approx(float(reply_nll), rel=1e-4)
    with pytest.raises(ValueError, match="prompt_weight"):
        supervised_finetune(policy, ex, steps=1, prompt_weight=-1.0, progress=False)
