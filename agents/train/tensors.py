"""Token tensors of a rollout: one right-padded sequence per turn, loss mask over the policy's tokens only.

DESIGN section 4: "per turn token spans into the sequences with ``old_logprobs``, a loss mask over
policy tokens only (prompt and environment tokens never get gradient)". A turn's sequence is its prompt
(the formatted history, which holds every environment token) followed by its completion; only the
completion's positions are in ``loss_mask``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import torch

from turngym.agents.rollout import Episode


@dataclass
class TokenBatch:
    """Right-padded per-turn sequences, rows in the order of ``to_turn_batch``.

    Attributes:
        input_ids: [B, L] prompt + completion tokens, padded with ``pad_id``.
        attention_mask: [B, L] 1 on real tokens.
        loss_mask: [B, L] True on completion tokens (the policy's own output).
        old_logp: [B, L] log-probs recorded at rollout on completion positions, 0 elsewhere.
        last_prompt_index: [B] position of each row's last prompt token (the value head reads it).
        episode_index: [B] index of the row's episode in the rollout.
        turn_index: [B] turn number within the episode.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    loss_mask: torch.Tensor
    old_logp: torch.Tensor
    last_prompt_index: torch.Tensor
    episode_index: torch.Tensor
    turn_index: torch.Tensor

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def select(self, rows: torch.Tensor) -> TokenBatch:
        """The rows ``rows``, with the padding trimmed to the longest selected sequence."""
        length = int(self.attention_mask[rows].sum(dim=1).max().item()) if len(rows) else 0
        out = {}
        for f in fields(self):
            col = getattr(self, f.name)[rows]
            out[f.name] = col[:, :length] if col.dim() == 2 else col
        return TokenBatch(**out)

    def to(self, device: torch.device | str) -> TokenBatch:
        """The batch on ``device``."""
        return TokenBatch(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


def build_token_batch(episodes: Sequence[Episode], pad_id: int) -> TokenBatch:
    """Packs every turn of ``episodes`` (in order) into a ``TokenBatch``.

    Raises:
        ValueError: When a turn's recorded log-probs do not match its completion length.
    """
    rows = [(k, t) for k, ep in enumerate(episodes) for t in ep.turns]
    if not rows:
        raise ValueError("build_token_batch: the rollout has no turns")
    lengths = [len(t.generation.prompt_ids) + len(t.generation.completion_ids) for _, t in rows]
    b, width = len(rows), max(lengths)
    ids = torch.full((b, width), pad_id, dtype=torch.long)
    attn = torch.zeros((b, width), dtype=torch.long)
    mask = torch.zeros((b, width), dtype=torch.bool)
    old = torch.zeros((b, width), dtype=torch.float32)
    last_prompt = torch.zeros(b, dtype=torch.long)
    for r, (_, t) in enumerate(rows):
        g = t.generation
        p, c = len(g.prompt_ids), len(g.completion_ids)
        if len(g.logprobs) != c:
            raise ValueError(f"turn {t.turn}: {len(g.logprobs)} log-probs for {c} completion tokens")
        ids[r, :p + c] = torch.tensor(list(g.prompt_ids) + list(g.completion_ids), dtype=torch.long)
        attn[r, :p + c] = 1
        mask[r, p:p + c] = True
        old[r, p:p + c] = torch.tensor(g.logprobs, dtype=torch.float32)
        last_prompt[r] = p - 1
    return TokenBatch(
        input_ids=ids, attention_mask=attn, loss_mask=mask, old_logp=old, last_prompt_index=last_prompt,
        episode_index=torch.tensor([k for k, _ in rows], dtype=torch.long),
        turn_index=torch.tensor([t.turn for _, t in rows], dtype=torch.long),
    )
