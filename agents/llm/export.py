"""Exports: rollouts as a Hugging Face ``datasets`` dataset of chats, RL-trained models as ``save_pretrained`` folders.

``episodes_dataset`` turns ``collect``'s episodes into one row per episode with a ``messages`` column (the chat
the policy had: the first prompt, then each action as an assistant message and each next observation as a user
message), ready for SFT trainers that read OpenAI-style conversations (TRL's ``SFTTrainer``), plus the outcome
columns. Episodes whose outside world failed (``infra_error``) are kept but marked, so a user filters them out
rather than training on a 0 that was never earned.

``export_pretrained`` writes the model of ``tiny``, a ``turngym train`` checkpoint (or run folder) or any served
model in ``transformers``' own layout (``config.json``, safetensors weights, the tokenizer), with LoRA adapters
merged into the weights, so ``AutoModelForCausalLM.from_pretrained(folder)`` (or vLLM) loads it without turngym.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from turngym.envs.core.errors import ConfigError


def episode_messages(episode: Any) -> list[dict[str, str]]:
    """The whole conversation of one episode (the first prompt, then action / next observation pairs).

    The policy's prompts may be windowed (``history_turns``); the conversation is rebuilt from the first prompt
    and each turn's last message (the observation it answered), so no exchange is lost. The observation after the
    last turn (the env's verdict) is not part of any prompt and is not included.
    """
    turns = list(episode.turns)
    if not turns:
        return []
    out = [dict(m) for m in turns[0].prompt]
    for k, turn in enumerate(turns):
        out.append({"role": "assistant", "content": turn.generation.text})
        if k + 1 < len(turns):
            out.append({"role": "user", "content": str(turns[k + 1].prompt[-1]["content"])})
    return out


def episode_rows(episodes: Sequence[Any], env_id: str = "") -> list[dict[str, Any]]:
    """One plain dict per episode (the rows of ``episodes_dataset``)."""
    rows = []
    for ep in episodes:
        rows.append({
            "env_id": env_id, "episode_id": int(ep.episode_id), "group_id": int(ep.group_id), "seed": int(ep.seed),
            "messages": episode_messages(ep), "reward": float(ep.total_reward),
            "turn_rewards": [float(t.reward) for t in ep.turns], "success": bool(ep.success),
            "terminated": bool(ep.terminated), "truncated": bool(ep.truncated),
            "infra_error": ep.infra_error or "", "num_turns": len(ep.turns),
        })
    return rows


def episodes_dataset(episodes: Sequence[Any], env_id: str = "") -> Any:
    """A ``datasets.Dataset`` with one row per episode (``messages`` plus outcome columns; see the module).

    Raises:
        MissingExtraError: ``datasets`` is not installed (the ``peers`` extra has it; or ``pip install datasets``).
    """
    try:
        import datasets
    except ImportError as exc:
        from turngym.envs.core.errors import MissingExtraError

        raise MissingExtraError(__name__, "peers", "datasets") from exc
    rows = episode_rows(episodes, env_id)
    return datasets.Dataset.from_list(rows) if rows else datasets.Dataset.from_dict({k: [] for k in (
        "env_id", "episode_id", "group_id", "seed", "messages", "reward", "turn_rewards", "success", "terminated",
        "truncated", "infra_error", "num_turns")})


def export_pretrained(model: str, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Writes a policy's model and tokenizer with ``save_pretrained`` (LoRA merged); returns the folder.

    Args:
        model: ``"tiny"``, a ``turngym train`` checkpoint file or run folder (its newest checkpoint), or a
            transformers folder / Hugging Face id (``serve.load_served_policy`` decides).
        out_dir: The folder to write (must be empty or absent unless ``overwrite``).
        overwrite: Replace files in a non-empty folder.

    Raises:
        ConfigError: ``out_dir`` is a non-empty folder and ``overwrite`` is False.
        CheckpointError: The checkpoint is unreadable or forged.
    """
    from turngym.agents.llm.serve import load_served_policy

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ConfigError("out_dir", "an empty or new folder (or overwrite=True)", str(out))
    policy = load_served_policy(model, device="cpu")
    net = policy.model
    if hasattr(net, "merge_and_unload"):  # peft LoRA: fold the adapters into the base weights
        net = net.merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    net.save_pretrained(out, safe_serialization=True)
    policy.tokenizer.save_pretrained(out)
    (out / "turngym_export.json").write_text(json.dumps({"source": str(model)}, indent=2) + "\n")
    return out


__all__ = ["episode_messages", "episode_rows", "episodes_dataset", "export_pretrained"]
