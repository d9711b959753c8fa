"""Token tensors of a rollout: one right-padded sequence per turn, loss mask over the policy's tokens only.

DESIGN section 4: "per turn token spans into the sequences with ``old_logprobs``, a loss mask over
policy tokens only (prompt and environment tokens never get gradient)". A turn's sequence is its prompt
(the formatted history, which holds every environment token) followed by its completion; only the
completion's positions are in ``loss_mask``.

Constrained decoding (``turngym.agents.llm.policies.lm``, module docstring): the policy that acted on a
constrained turn is the restricted ``q``, so the batch carries each constrained completion token's allowed
ids (``allowed_ids``) and ``allowed_tokens()`` hands them to ``forward_logprobs``, which recomputes ``log q``
and the entropy of ``q`` at exactly the positions and with exactly the sets ``generate`` sampled under.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import torch

from turngym.agents.llm.policies.base import Generation
from turngym.agents.llm.policies.lm import AllowedTokens
from turngym.agents.llm.rollout import Episode


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
        allowed_ids: ``None`` when no turn was constrained; else [B, C, K] long: ``allowed_ids[b, c]`` are the
            ids admissible at row b's c-th completion token (input position ``last_prompt_index[b] + 1 + c``),
            padded with -1; all -1 on free-text rows and past a completion's end. C is the longest
            constrained completion and K the largest allowed set, so it stays small even for a 150k vocab.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    loss_mask: torch.Tensor
    old_logp: torch.Tensor
    last_prompt_index: torch.Tensor
    episode_index: torch.Tensor
    turn_index: torch.Tensor
    allowed_ids: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def select(self, rows: torch.Tensor) -> TokenBatch:
        """The rows ``rows``, with the padding trimmed to the longest selected sequence."""
        length = int(self.attention_mask[rows].sum(dim=1).max().item()) if len(rows) else 0
        out = {}
        for f in fields(self):
            col = getattr(self, f.name)
            if col is None:
                out[f.name] = None
                continue
            col = col[rows]
            # [B, L] columns are trimmed; allowed_ids [B, C, K] is indexed by completion offset, not by L.
            out[f.name] = col[:, :length] if col.dim() == 2 else col
        return TokenBatch(**out)

    def to(self, device: torch.device | str) -> TokenBatch:
        """The batch on ``device``."""
        return TokenBatch(**{f.name: None if (col := getattr(self, f.name)) is None else col.to(device)
                             for f in fields(self)})

    def allowed_tokens(self) -> AllowedTokens | None:
        """The constrained positions and their allowed ids, for ``forward_logprobs(..., allowed=...)``.

        ``None`` when no row was constrained (``forward_logprobs`` then scores every token under ``p``,
        exactly as for free text).
        """
        if self.allowed_ids is None:
            return None
        row, offset = (self.allowed_ids >= 0).any(-1).nonzero(as_tuple=True)
        if not len(row):
            return None
        position = self.last_prompt_index[row] + 1 + offset
        return AllowedTokens(row=row, position=position, ids=self.allowed_ids[row, offset])


def pad_pairs(pairs: Sequence[tuple[Sequence[int], Sequence[int]]],
              pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-pads ``(prompt_ids, completion_ids)`` pairs into one sequence each.

    Returns:
        ``input_ids`` [B, L], ``attention_mask`` [B, L] (1 on real tokens) and ``loss_mask`` [B, L] (True on
        the completion tokens only).
    """
    width = max(len(p) + len(c) for p, c in pairs)
    ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(pairs), width), dtype=torch.long)
    mask = torch.zeros((len(pairs), width), dtype=torch.bool)
    for r, (p, c) in enumerate(pairs):
        ids[r, :len(p) + len(c)] = torch.tensor(list(p) + list(c), dtype=torch.long)
        attn[r, :len(p) + len(c)] = 1
        mask[r, len(p):len(p) + len(c)] = True
    return ids, attn, mask


def _allowed_table(gens: Sequence[Generation]) -> torch.Tensor | None:
    """``TokenBatch.allowed_ids`` of the generations (``None`` when none was constrained).

    Raises:
        ValueError: When a constrained completion's allowed sets do not cover its tokens one to one.
    """
    constrained = [(r, g) for r, g in enumerate(gens) if g.allowed_ids is not None]
    if not constrained:
        return None
    for r, g in constrained:
        if len(g.allowed_ids) != len(g.completion_ids):
            raise ValueError(f"row {r}: {len(g.allowed_ids)} allowed sets for {len(g.completion_ids)} "
                             "completion tokens")
        for k, (tok, ids) in enumerate(zip(g.completion_ids, g.allowed_ids, strict=True)):
            if tok not in ids:
                raise ValueError(f"row {r}, completion token {k}: token {tok} is not in its allowed set "
                                 f"{list(ids)[:8]}")
    width = max((len(g.completion_ids) for _, g in constrained), default=0)
    k_max = max((len(ids) for _, g in constrained for ids in g.allowed_ids), default=0)
    table = torch.full((len(gens), max(width, 1), max(k_max, 1)), -1, dtype=torch.long)
    for r, g in constrained:
        for c, ids in enumerate(g.allowed_ids):
            table[r, c, :len(ids)] = torch.as_tensor(list(ids), dtype=torch.long)
    return table


def build_token_batch(episodes: Sequence[Episode], pad_id: int) -> TokenBatch:
    """Packs every turn of ``episodes`` (in order) into a ``TokenBatch``.

    Raises:
        ValueError: When a turn's recorded log-probs do not match its completion length, or a constrained
            turn's allowed sets do not match its tokens.
    """
    rows = [(k, t) for k, ep in enumerate(episodes) for t in ep.turns]
    if not rows:
        raise ValueError("build_token_batch: the rollout has no turns")
    gens = [t.generation for _, t in rows]
    ids, attn, mask = pad_pairs([(g.prompt_ids, g.completion_ids) for g in gens], pad_id)
    old = torch.zeros(ids.shape, dtype=torch.float32)
    for r, ((_, t), g) in enumerate(zip(rows, gens, strict=True)):
        p, c = len(g.prompt_ids), len(g.completion_ids)
        if len(g.logprobs) != c:
            raise ValueError(f"turn {t.turn}: {len(g.logprobs)} log-probs for {c} completion tokens")
        old[r, p:p + c] = torch.tensor(g.logprobs, dtype=torch.float32)
    return TokenBatch(
        input_ids=ids, attention_mask=attn, loss_mask=mask, old_logp=old,
        last_prompt_index=torch.tensor([len(g.prompt_ids) - 1 for g in gens], dtype=torch.long),
        episode_index=torch.tensor([k for k, _ in rows], dtype=torch.long),
        turn_index=torch.tensor([t.turn for _, t in rows], dtype=torch.long),
        allowed_ids=_allowed_table(gens),
    )
