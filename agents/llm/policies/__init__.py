"""Text policies: the ``TextPolicy`` protocol, ``LMPolicy``, the tiny test model, ``OpenAIChatPolicy``.

Importing this package needs ``torch``; ``transformers`` (and ``peft`` for LoRA) are imported when used, and
``httpx`` when an ``OpenAIChatPolicy`` sends its first request.
"""

from turngym.agents.llm.policies.base import Generation, Message, PolicyInfraError, TextPolicy
from turngym.agents.llm.policies.lm import (
    AllowedTokens,
    LMPolicy,
    NonFiniteLogitsError,
    TokenTrie,
    build_token_trie,
    decoding_constraint,
    find_stop,
    forward_logprobs,
    plan_batches,
    position_ids_from_mask,
    restricted_logprobs,
    sanitize_text,
    token_logprobs,
)
from turngym.agents.llm.policies.openai_chat import OpenAIChatPolicy
from turngym.agents.llm.policies.tiny import build_policy, load_tiny_tokenizer, make_tiny_model, tiny_config

__all__ = [
    "AllowedTokens", "Generation", "LMPolicy", "Message", "NonFiniteLogitsError", "OpenAIChatPolicy",
    "PolicyInfraError", "TextPolicy", "TokenTrie",
    "build_policy", "build_token_trie", "decoding_constraint", "find_stop", "forward_logprobs",
    "load_tiny_tokenizer", "make_tiny_model", "plan_batches", "position_ids_from_mask", "restricted_logprobs",
    "sanitize_text", "tiny_config", "token_logprobs",
]
