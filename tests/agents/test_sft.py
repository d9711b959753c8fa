"""Supervised warm start: expert examples in the rollout's prompt format, a falling loss, a reloadable model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import turngym.envs  # noqa: F401
from turngym.agents.policies.tiny import build_policy
from turngym.agents.train.sft import expert_examples, supervised_finetune
from turngym.envs.core.errors import ConfigError


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
