"""Exports: rollouts as a ``datasets`` chat dataset; a training checkpoint as a ``save_pretrained`` folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import turngym.envs  # noqa: F401  (registers the ids)
from turngym.agents.llm.export import episode_messages, episodes_dataset, export_pretrained
from turngym.agents.llm.policies import build_policy
from turngym.agents.llm.rollout import RolloutSettings, collect
from turngym.agents.llm.train.checkpoint import CheckpointError, save_checkpoint
from turngym.agents.llm.train.config import TrainConfig, config_json
from turngym.envs.core.errors import ConfigError
from turngym.envs.pool import make_pool


def test_rollouts_become_a_messages_dataset_with_the_whole_conversation():
    policy = build_policy("tiny", seed=0, max_new_tokens=8)
    settings = RolloutSettings(max_turns=3, history_turns=1, max_context_tokens=None)
    with make_pool("turngym/ToolQA-v0", 4) as pool:
        eps = collect(pool, policy, [0, 1], 2, settings)
    ds = episodes_dataset(eps, "turngym/ToolQA-v0")
    assert len(ds) == 4 and set(ds.column_names) >= {"messages", "reward", "success", "infra_error", "seed"}
    for row, ep in zip(ds, eps, strict=True):
        msgs = row["messages"]
        assert msgs[0]["role"] == "user" and msgs[1]["role"] == "assistant"
        assert [m["content"] for m in msgs if m["role"] == "assistant"] == [t.generation.text for t in ep.turns]
        # history_turns=1 windows the prompts; the export still holds every exchange, in order.
        assert len(msgs) == 1 + 2 * len(ep.turns) - 1
        if len(ep.turns) == 3:
            assert msgs[4]["content"] == ep.turns[2].prompt[-1]["content"]  # the observation turn 2 answered
        assert row["reward"] == pytest.approx(ep.total_reward) and row["seed"] == ep.seed
    assert episode_messages(type(eps[0])(episode_id=0, group_id=0, seed=0)) == []


def test_a_checkpoint_exports_to_a_folder_transformers_loads_without_turngym(tmp_path: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    trained = build_policy("tiny", seed=7)  # stands for RL-trained weights (differ from seed 0's init)
    run = tmp_path / "run"
    save_checkpoint(run, 5, {"model": trained.model.state_dict(), "config": config_json(TrainConfig())})
    out = export_pretrained(str(run), tmp_path / "hf")
    model = AutoModelForCausalLM.from_pretrained(out).eval()
    tok = AutoTokenizer.from_pretrained(out)
    ids = tok("Your card: J. Do you bet or check?", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, trained.model(ids).logits, atol=1e-5)
        assert not torch.allclose(model(ids).logits, build_policy("tiny", seed=0).model(ids).logits, atol=1e-3)
    with pytest.raises(ConfigError, match="empty"):
        export_pretrained(str(run), out)
    forged = tmp_path / "forged.pt"
    forged.write_bytes(b"\x80\x04not a checkpoint")
    with pytest.raises(CheckpointError):
        export_pretrained(str(forged), tmp_path / "hf2")
