"""The tiny test model: a randomly initialised 4-layer Qwen2 over the shipped byte-level BPE tokenizer.

The tokenizer (``assets/tiny_tokenizer.json`` plus ``assets/tiny_tokenizer_config.json``, made by
``scripts/make_tiny_tokenizer.py``) is trained on text the suite's own envs produce, so tool-use and
card-game observations take few tokens. The model is small enough to sample and train on a CPU in tests.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

import torch

from turngym.agents.llm.policies.lm import LMPolicy

ASSET_PACKAGE = "turngym.agents.llm.policies"
TOKENIZER_FILE = "assets/tiny_tokenizer.json"
TOKENIZER_CONFIG_FILE = "assets/tiny_tokenizer_config.json"

TINY_DEFAULTS: dict[str, Any] = {
    "hidden_size": 128,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 512,
    "max_position_embeddings": 4096,
    "tie_word_embeddings": True,
    "rope_theta": 10000.0,
}


def _read_asset(name: str) -> str:
    # importlib.resources reads package data from wheels and zips too, not only from a source tree.
    return resources.files(ASSET_PACKAGE).joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _tokenizer_sources() -> tuple[str, str]:
    return _read_asset(TOKENIZER_FILE), _read_asset(TOKENIZER_CONFIG_FILE)


def load_tiny_tokenizer() -> Any:
    r"""The shipped tokenizer as a ``transformers.PreTrainedTokenizerFast``.

    Special tokens: ``<|pad|>`` (pad, id 0), ``<|endoftext|>`` (eos, id 1), ``<|im_start|>`` and
    ``<|im_end|>``; ChatML chat template (``<|im_start|>{role}\\n{content}<|im_end|>\\n``, generation
    prompt ``<|im_start|>assistant\\n``); left padding. A new object per call (tokenizers are mutable).
    """
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    tokenizer_json, config_json = _tokenizer_sources()
    config = json.loads(config_json)
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(tokenizer_json), **config)


def tiny_config(vocab_size: int, **overrides: Any) -> Any:
    """A ``transformers.Qwen2Config`` with the tiny defaults (see ``TINY_DEFAULTS``), ``overrides`` applied.

    Args:
        vocab_size: Embedding rows (``len(load_tiny_tokenizer())`` for the shipped tokenizer).
        **overrides: Any ``Qwen2Config`` argument; ``rope_theta`` is turned into ``rope_parameters``.
    """
    from transformers import Qwen2Config

    kwargs = {**TINY_DEFAULTS, **overrides}
    rope_theta = float(kwargs.pop("rope_theta"))
    kwargs.setdefault("rope_parameters", {"rope_type": "default", "rope_theta": rope_theta})
    return Qwen2Config(vocab_size=vocab_size, **kwargs)


def make_tiny_model(seed: int = 0, **overrides: Any) -> Any:
    """A randomly initialised tiny ``Qwen2ForCausalLM`` sized to the shipped tokenizer, in eval mode.

    Args:
        seed: Initialisation seed. The global torch RNG is forked around the init, so the caller's RNG
            state is left as it was (library code owns no global RNG).
        **overrides: ``tiny_config`` overrides.
    """
    from transformers import Qwen2ForCausalLM

    tokenizer = load_tiny_tokenizer()
    overrides.setdefault("pad_token_id", tokenizer.pad_token_id)
    overrides.setdefault("eos_token_id", tokenizer.eos_token_id)
    config = tiny_config(len(tokenizer), **overrides)
    # HF weight init draws from the global RNG; fork it so seeding here leaves the caller's stream alone.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    return model.eval()


def build_policy(model: str = "tiny", *, seed: int = 0, device: str | torch.device | None = None,
                 **policy_kwargs: Any) -> LMPolicy:
    """An ``LMPolicy`` over the tiny model (``model="tiny"``) or a pretrained one.

    Args:
        model: ``"tiny"``, or a local path / Hugging Face name passed to ``AutoModelForCausalLM`` and
            ``AutoTokenizer.from_pretrained`` (nothing is downloaded where there is no network).
        seed: Seeds the tiny model's init and the policy's sampling generator.
        device: See ``LMPolicy``.
        **policy_kwargs: Other ``LMPolicy`` arguments (``temperature``, ``max_new_tokens``, ...).
    """
    if model == "tiny":
        return LMPolicy(make_tiny_model(seed=seed), load_tiny_tokenizer(), seed=seed, device=device,
                        **policy_kwargs)
    return LMPolicy.from_pretrained(model, seed=seed, device=device, **policy_kwargs)


__all__ = ["TINY_DEFAULTS", "build_policy", "load_tiny_tokenizer", "make_tiny_model", "tiny_config"]
