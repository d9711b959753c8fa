"""Builds the shipped tiny tokenizer (``turngym/agents/llm/policies/assets/tiny_tokenizer*.json``).

A byte-level BPE (every string, binary junk included, encodes without error) trained with ``tokenizers``
on text the suite itself produces: scripted-expert tool-use episodes (``expert_trajectories``) of
``turngym/ToolQA-v0``, ``ToolMath-v0`` and ``ToolSQL-v0`` at difficulties 1-3 in the ``hermes`` and
``plain`` formats (train split), and text observations of ``turngym/KuhnPoker-v0`` and
``turngym/LeducHoldem-v0`` under uniformly random legal play. Each episode is rendered as the ChatML
conversation a policy would see, so role headers get their own merges.

The output is deterministic: the corpus depends only on ``--seed`` and the episode counts, and BPE
training breaks ties by token id. Run from the repository root::

    python scripts/make_tiny_tokenizer.py
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

import turngym.envs  # noqa: F401  (registers the turngym/... ids with Gymnasium)
from turngym.envs.tooluse.trajectories import expert_trajectories

PAD, EOS, IM_START, IM_END = "<|pad|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = (PAD, EOS, IM_START, IM_END)
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
TOOL_ENVS = ("turngym/ToolQA-v0", "turngym/ToolMath-v0", "turngym/ToolSQL-v0")
CARD_ENVS = ("turngym/KuhnPoker-v0", "turngym/LeducHoldem-v0")
FORMATS = ("hermes", "plain")
DIFFICULTIES = (1, 2, 3)
ASSET_DIR = Path(__file__).resolve().parent.parent / "agents" / "llm" / "policies" / "assets"


def chatml(turns: list[tuple[str, str]]) -> str:
    """Renders ``(role, content)`` turns exactly as ``CHAT_TEMPLATE`` would."""
    return "".join(f"{IM_START}{role}\n{content}{IM_END}\n" for role, content in turns)


def tool_episodes(episodes_per_config: int, seed: int) -> list[str]:
    """One ChatML conversation per scripted-expert tool-use episode (every env x difficulty x format)."""
    out = []
    for k, (env_id, difficulty, fmt) in enumerate(
        (e, d, f) for e in TOOL_ENVS for d in DIFFICULTIES for f in FORMATS
    ):
        trajectories = expert_trajectories(env_id, episodes_per_config, seed + k, difficulty=difficulty,
                                           format=fmt, split="train")
        for trajectory in trajectories:
            turns: list[tuple[str, str]] = []
            for turn in trajectory["turns"]:
                turns += [("user", turn["observation"]), ("assistant", turn["action"])]
            out.append(chatml(turns))
    return out


def card_episodes(episodes_per_game: int, seed: int) -> list[str]:
    """One ChatML conversation per card-game hand under uniformly random legal play (random seat)."""
    out = []
    for k, env_id in enumerate(CARD_ENVS):
        env: Any = gymnasium.make(env_id, obs_mode="text", seat="random")
        rng = np.random.default_rng([seed, k])  # the script's own RNG (no global state)
        reset_seeds = np.random.SeedSequence([seed, k]).generate_state(episodes_per_game, dtype=np.uint32)
        for reset_seed in reset_seeds:
            obs, info = env.reset(seed=int(reset_seed))
            turns: list[tuple[str, str]] = []
            done = False
            while not done:
                legal = info["admissible_actions"]
                action = legal[int(rng.integers(len(legal)))]
                turns += [("user", obs), ("assistant", action)]
                obs, _, terminated, truncated, info = env.step(action)
                done = terminated or truncated
            turns.append(("user", obs))
            out.append(chatml(turns))
        env.close()
    return out


def build_corpus(episodes_per_config: int = 12, card_hands: int = 200, seed: int = 0) -> list[str]:
    """The training corpus: tool-use conversations, then card-game conversations.

    Args:
        episodes_per_config: Expert episodes per (env, difficulty, format); 18 configs.
        card_hands: Random-play hands per card game.
        seed: Root seed of every episode.

    Returns:
        One string per episode, in a fixed order.
    """
    return tool_episodes(episodes_per_config, seed) + card_episodes(card_hands, seed)


def train_tokenizer(corpus: list[str], vocab_size: int = 2048) -> Tokenizer:
    """Trains a byte-level BPE with the four special tokens at ids 0-3.

    No normalizer and no prefix space: decoding an encoding gives back the exact input string.
    """
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer, length=len(corpus))
    return tokenizer


def tokenizer_config() -> dict[str, Any]:
    """The sidecar that rebuilds a ``PreTrainedTokenizerFast`` (special tokens, chat template)."""
    return {
        "pad_token": PAD,
        "eos_token": EOS,
        "extra_special_tokens": [IM_START, IM_END],
        "chat_template": CHAT_TEMPLATE,
        "model_max_length": 4096,
        "padding_side": "left",
        "clean_up_tokenization_spaces": False,
    }


def main() -> None:
    """Builds the corpus, trains, and writes the two asset files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes-per-config", type=int, default=12)
    parser.add_argument("--card-hands", type=int, default=200)
    parser.add_argument("--vocab-size", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=ASSET_DIR)
    args = parser.parse_args()

    corpus = build_corpus(args.episodes_per_config, args.card_hands, args.seed)
    tokenizer = train_tokenizer(corpus, args.vocab_size)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    tok_path = args.out_dir / "tiny_tokenizer.json"
    tok_path.write_text(tokenizer.to_str(pretty=False), encoding="utf-8")
    cfg_path = args.out_dir / "tiny_tokenizer_config.json"
    cfg_path.write_text(json.dumps(tokenizer_config(), indent=2) + "\n", encoding="utf-8")
    chars = sum(len(text) for text in corpus)
    digest = hashlib.sha256(tok_path.read_bytes()).hexdigest()[:16]
    print(f"corpus: {len(corpus)} episodes, {chars} chars; vocab {tokenizer.get_vocab_size()}; "
          f"{tok_path} ({tok_path.stat().st_size} bytes, sha256 {digest}); {cfg_path}")


if __name__ == "__main__":
    main()
