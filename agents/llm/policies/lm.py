"""``LMPolicy``: a causal language model as a batched, seeded, trainable text policy.

Sampling runs in this module's own decoding loop (not ``model.generate``, which draws from the global torch
RNG): left padding, explicit ``position_ids``, a KV cache (a transformers ``DynamicCache`` object, passed under
the keyword the model's forward declares: ``cache_argument``), temperature, top-p, stop strings, end-of-sequence,
and constrained decoding over admissible action strings. Every random draw comes from the policy's own
``torch.Generator`` (checkpointable with ``rng_state`` / ``set_rng_state``), one uniform per row and step,
turned into a token by inverse-CDF sampling, so a seed fixes the whole rollout on any device.

``forward_logprobs`` recomputes, with gradients, exactly the per-token log-probs that ``generate`` records,
which is what the trainer's importance ratio needs (``turngym.agents.llm.policies.base.Generation``):

* Free text: ``p(a) = softmax(logits / T)[a]``, before top-p (top-p only filters the draw).
* Constrained decoding (``admissible``): at each step the allowed set ``A`` is the token trie's children
  (plus end-of-sequence where an admissible string is complete), and the policy that acts is
  ``q(a) = exp(l_a / T) / sum_{b in A} exp(l_b / T)`` for ``a in A``, 0 elsewhere (``p`` renormalized over
  ``A``: ``log q = log p - log Z`` with ``Z = p(A)``). The token is drawn from exactly ``q`` (top-p is not
  applied to constrained rows: ``A`` is already the filter, and a top-p cut would give a support that
  depends on the logits, which the trainer could not recompute with gradients); ``log q`` is recorded, the
  allowed ids are kept with the generation (``Generation.allowed_ids``), and ``forward_logprobs(...,
  allowed=...)`` recomputes ``log q`` and the entropy of ``q`` with the same sets at the same positions.
  So the PPO ratio, the KL and EPO's entropy all measure the policy that acted (with ``log Z`` ~ -7 per
  token at init, measuring ``p`` instead is far off-policy). At temperature 0 (greedy) the argmax of ``q``
  is taken and ``log q`` is recorded at temperature 1, as for free text.

Non-finite logits (NaN or +inf, i.e. NaN/inf weights) raise ``NonFiniteLogitsError`` at the decoding
step that sees them, instead of sampling garbage.

Prompt length rule: a prompt longer than ``max_prompt_tokens`` or than the model's context minus the room
the completion needs is LEFT-truncated (its last tokens are kept, so the newest observation and the
generation prompt survive); ``Generation.extras["prompt_tokens_dropped"]`` says how many were dropped.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

import torch

from turngym.agents.llm.policies.base import Generation, Message
from turngym.envs.core.errors import ConfigError

#: Tokens decoded past the stop string's byte length when scanning for it (a UTF-8 char spans <= 4 tokens).
STOP_SCAN_SLACK = 4
#: Sub-batch rule: padding may at most double a sub-batch's real tokens, plus this many tokens.
PAD_SLACK_TOKENS = 1024


class NonFiniteLogitsError(FloatingPointError):
    """The model produced NaN or +inf logits while decoding: its weights are almost surely NaN or inf."""


# ---------------------------------------------------------------------------------------------- helpers
def sanitize_text(value: Any) -> str:
    """``value`` as a string that any tokenizer accepts (lone surrogates become ``?``)."""
    text = value if isinstance(value, str) else str(value)
    return text.encode("utf-8", errors="replace").decode("utf-8")


def find_stop(text: str, stops: Sequence[str]) -> int | None:
    """End index of the earliest-ending complete stop string in ``text`` (``None`` if there is none).

    ``text[:find_stop(text, stops)]`` is the completion cut right after its first stop string.
    """
    ends = [i + len(s) for s in stops if s and (i := text.find(s)) >= 0]
    return min(ends) if ends else None


def plan_batches(lengths: Sequence[int], batch_size: int, max_tokens: int) -> list[list[int]]:
    """Groups row indices into left-padded sub-batches, longest rows first.

    A sub-batch holds at most ``batch_size`` rows and, padded, at most ``max_tokens`` tokens (a single
    longer row still gets a sub-batch of its own), and its padded size stays within twice its real tokens
    plus ``PAD_SLACK_TOKENS`` (one 4k-token prompt does not pad 63 short ones to 4k).
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    real = 0
    for i in order:
        if batches:
            batch = batches[-1]
            padded = (len(batch) + 1) * lengths[batch[0]]
            if (len(batch) < batch_size and padded <= max_tokens
                    and padded <= 2 * (real + lengths[i]) + PAD_SLACK_TOKENS):
                batch.append(i)
                real += lengths[i]
                continue
        batches.append([i])
        real = lengths[i]
    return batches


def position_ids_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions counted over real tokens only (left padding gets 0), shape of ``attention_mask``."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def token_logprobs(
    logits: torch.Tensor, tokens: torch.Tensor, temperature: float = 1.0, with_entropy: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-prob of ``tokens`` under ``softmax(logits / temperature)`` (float32), and optionally the entropy.

    The one formula both ``generate`` (recording) and ``forward_logprobs`` (recomputing) use, so the two
    agree to float rounding. ``temperature <= 0`` (greedy) scores at temperature 1.

    Args:
        logits: ``[..., V]``.
        tokens: ``[...]`` token ids.
        temperature: Sampling temperature.
        with_entropy: Also return the entropy of the distribution, shape ``[...]``.
    """
    scaled = logits.float()
    if temperature > 0 and temperature != 1.0:
        scaled = scaled / temperature
    log_z = torch.logsumexp(scaled, dim=-1)
    logp = scaled.gather(-1, tokens.unsqueeze(-1)).squeeze(-1) - log_z
    entropy = None
    if with_entropy:
        probs = torch.softmax(scaled, dim=-1)
        entropy = log_z - (probs * scaled).sum(-1)
    return logp, entropy


def restricted_logprobs(
    logits: torch.Tensor, tokens: torch.Tensor, allowed: torch.Tensor, temperature: float = 1.0,
    with_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-prob of ``tokens`` under ``q = softmax(logits / temperature)`` restricted to ``allowed``.

    Computed in float32 (float64 inputs stay float64, so ``torch.autograd.gradcheck`` can check it).

    ``log q(a) = l_a / T - logsumexp_{b in allowed} l_b / T`` (module docstring); the entropy is that of ``q``
    over the allowed ids, so it is at most ``log |allowed|``. The one formula both ``generate`` (recording)
    and ``forward_logprobs`` (recomputing) use on constrained positions. ``temperature <= 0`` scores at 1.

    Args:
        logits: ``[N, V]``.
        tokens: ``[N]`` token ids; each must be one of its row's allowed ids.
        allowed: ``[N, K]`` allowed token ids per row, padded with -1 (at least one id per row).
        temperature: Sampling temperature.
        with_entropy: Also return the entropy of ``q``, shape ``[N]``.
    """
    scaled = logits if logits.dtype == torch.float64 else logits.float()
    if temperature > 0 and temperature != 1.0:
        scaled = scaled / temperature
    real = allowed >= 0
    # Only the allowed columns are gathered ([N, K], not a dense [N, V] mask): K is a few ids, V ~150k.
    sub = scaled.gather(-1, allowed.clamp(min=0)).masked_fill(~real, -math.inf)
    log_z = torch.logsumexp(sub, dim=-1)
    logq = scaled.gather(-1, tokens.unsqueeze(-1)).squeeze(-1) - log_z
    entropy = None
    if with_entropy:
        logq_all = (sub - log_z.unsqueeze(-1)).masked_fill(~real, 0.0)  # 0 * -inf would be NaN
        entropy = -(logq_all.exp() * logq_all).sum(-1)
    return logq, entropy


@dataclass(frozen=True)
class AllowedTokens:
    """The admissible token ids at the constrained positions of a ``[B, L]`` token batch.

    Attributes:
        row: ``[N]`` long, the batch row of each constrained position.
        position: ``[N]`` long, the index in ``input_ids`` of the constrained token (its logits are read at
            ``position - 1``).
        ids: ``[N, K]`` long, the allowed ids at that position, padded with -1.
    """

    row: torch.Tensor
    position: torch.Tensor
    ids: torch.Tensor

    def __len__(self) -> int:
        return int(self.row.shape[0])

    @classmethod
    def from_completions(
        cls, starts: Sequence[int], allowed: Sequence[Sequence[Sequence[int]] | None],
    ) -> AllowedTokens | None:
        """Gathers per-completion allowed lists (``Generation.allowed_ids``) into one batch-wide record.

        Args:
            starts: Per batch row, the index in ``input_ids`` of its first completion token.
            allowed: Per batch row, ``None`` (free text) or one allowed-id list per completion token.

        Returns:
            The record, or ``None`` when no position is constrained (then nothing changes).

        Raises:
            ValueError: On a length mismatch or an empty allowed set.
        """
        if len(starts) != len(allowed):
            raise ValueError(f"{len(allowed)} allowed-id lists for {len(starts)} rows")
        rows, positions, lists = [], [], []
        for r, (start, per_token) in enumerate(zip(starts, allowed, strict=True)):
            for k, ids in enumerate(per_token or ()):
                if not ids:
                    raise ValueError(f"row {r}, completion token {k}: an empty allowed set")
                rows.append(r)
                positions.append(int(start) + k)
                lists.append(ids)
        if not rows:
            return None
        width = max(len(ids) for ids in lists)
        table = torch.full((len(lists), width), -1, dtype=torch.long)
        for i, ids in enumerate(lists):
            table[i, :len(ids)] = torch.as_tensor(list(ids), dtype=torch.long)
        return cls(torch.tensor(rows, dtype=torch.long), torch.tensor(positions, dtype=torch.long), table)

    def to(self, device: torch.device | str) -> AllowedTokens:
        """The record on ``device``."""
        return AllowedTokens(self.row.to(device), self.position.to(device), self.ids.to(device))


@overload
def forward_logprobs(
    model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, temperature: float = ...,
    with_entropy: bool = ..., position_ids: torch.Tensor | None = ..., return_hidden: Literal[False] = ...,
    allowed: AllowedTokens | None = ..., score_mask: torch.Tensor | None = ...,
) -> tuple[torch.Tensor, torch.Tensor | None]: ...


@overload
def forward_logprobs(
    model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, temperature: float = ...,
    with_entropy: bool = ..., position_ids: torch.Tensor | None = ..., return_hidden: Literal[True],
    allowed: AllowedTokens | None = ..., score_mask: torch.Tensor | None = ...,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]: ...


def forward_logprobs(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    temperature: float = 1.0,
    with_entropy: bool = False,
    position_ids: torch.Tensor | None = None,
    return_hidden: bool = False,
    allowed: AllowedTokens | None = None,
    score_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None] | tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Per-token log-probs of ``input_ids`` under the model (gradients flow when enabled).

    Args:
        model: A causal LM (``transformers`` or ``peft`` wrapped).
        input_ids: ``[B, L]``, padded left or right.
        attention_mask: ``[B, L]``, 1 on real tokens.
        temperature: Scores ``softmax(logits / temperature)`` (``<= 0`` scores at 1), as ``generate`` records.
        with_entropy: Also return the entropy of the predictive distribution that produced each token.
        position_ids: ``[B, L]``; by default counted over real tokens (``position_ids_from_mask``), as
            ``generate`` does.
        return_hidden: Also return the final-layer hidden states ``[B, L, H]`` (e.g. for a value head on
            the last prompt token).
        allowed: The constrained positions of the batch and their allowed ids (the masks ``generate``
            sampled under): there the log-prob and entropy are those of the restricted ``q``
            (``restricted_logprobs``). ``None``: every position is scored under the full ``p``.
        score_mask: ``[B, L]`` bool, True on the tokens whose log-prob (and entropy) is wanted, e.g. a loss
            mask over completion tokens (it must cover every ``allowed`` position). The LM head then runs
            only where needed (the model's ``logits_to_keep`` with a boolean mask), which skips the
            vocabulary projection and log-softmax over the prompt: most of a turn's tokens. Other entries come
            back 0. ``None`` (or a model whose forward has no ``logits_to_keep``): every position is scored.

    Returns:
        ``(logprobs, entropy)`` or ``(logprobs, entropy, hidden)``. ``logprobs[b, t]`` is
        ``log p(input_ids[b, t] | input_ids[b, :t])`` (``log q`` at constrained positions), aligned to
        ``input_ids``; ``entropy[b, t]`` is the entropy of that same distribution (``None`` unless
        ``with_entropy``). Entries whose token or predecessor is padding, and position 0, are 0.
    """
    if position_ids is None:
        position_ids = position_ids_from_mask(attention_mask)
    if score_mask is not None and accepts_logits_to_keep(model):
        return _masked_forward_logprobs(model, input_ids, attention_mask, position_ids, score_mask,
                                        temperature, with_entropy, return_hidden, allowed)
    out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                use_cache=False, output_hidden_states=return_hidden)
    logits = out.logits[:, :-1]
    logp, entropy = token_logprobs(logits, input_ids[:, 1:], temperature, with_entropy)
    if allowed is not None and len(allowed):
        # Overwrite the constrained positions with log q. Shifted by one: logits[:, t] predict t+1.
        row, col = allowed.row.to(logp.device), allowed.position.to(logp.device) - 1
        logp, entropy = _with_log_q(logits, logp, entropy, (row, col), input_ids[row, col + 1], allowed,
                                    temperature, with_entropy)
    valid = (attention_mask[:, 1:] > 0) & (attention_mask[:, :-1] > 0)
    zero = logp.new_zeros(logp.shape[0], 1)
    logp = torch.cat([zero, logp * valid], dim=1)
    if entropy is not None:
        entropy = torch.cat([zero, entropy * valid], dim=1)
    if score_mask is not None:  # a model without logits_to_keep: scored everywhere, then masked alike
        logp = logp * score_mask.bool()
        if entropy is not None:
            entropy = entropy * score_mask.bool()
    if return_hidden:
        return logp, entropy, out.hidden_states[-1]
    return logp, entropy


def _with_log_q(
    logits: torch.Tensor, logp: torch.Tensor, entropy: torch.Tensor | None, where: tuple[torch.Tensor, ...],
    tokens: torch.Tensor, allowed: AllowedTokens, temperature: float, with_entropy: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``logp``/``entropy`` with the constrained positions replaced by log q and the entropy of q.

    ``where`` indexes ``logp``, ``entropy`` and the leading dimensions of ``logits``, in ``allowed``'s order.
    ``index_put`` is out of place, so gradients flow through both the kept log p and the new log q entries.
    """
    q_logp, q_entropy = restricted_logprobs(logits[where], tokens, allowed.ids.to(logits.device), temperature,
                                            with_entropy)
    logp = logp.index_put(where, q_logp)
    if entropy is not None and q_entropy is not None:
        entropy = entropy.index_put(where, q_entropy)
    return logp, entropy


def _masked_forward_logprobs(
    model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
    score_mask: torch.Tensor, temperature: float, with_entropy: bool, return_hidden: bool,
    allowed: AllowedTokens | None,
) -> tuple[torch.Tensor, torch.Tensor | None] | tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """``forward_logprobs`` with the LM head only at the positions that predict a ``score_mask`` token."""
    b, length = input_ids.shape
    valid = (attention_mask[:, 1:] > 0) & (attention_mask[:, :-1] > 0)
    # keep[b, t]: the logits at t predict token t + 1, which is wanted.
    keep = torch.zeros(b, length, dtype=torch.bool, device=input_ids.device)
    keep[:, :-1] = score_mask[:, 1:].bool() & valid
    out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                use_cache=False, output_hidden_states=return_hidden, logits_to_keep=keep)
    logits = out.logits.reshape(-1, out.logits.shape[-1])  # [N, V], row-major order of keep's True entries
    rows, cols = keep.nonzero(as_tuple=True)
    flat_logp, flat_entropy = token_logprobs(logits, input_ids[rows, cols + 1], temperature, with_entropy)
    if allowed is not None and len(allowed):
        index = torch.full((b, length), -1, dtype=torch.long, device=input_ids.device)
        index[rows, cols] = torch.arange(len(rows), device=input_ids.device)
        a_row, a_col = allowed.row.to(input_ids.device), allowed.position.to(input_ids.device) - 1
        j = index[a_row, a_col]
        if bool((j < 0).any()):
            raise ValueError("forward_logprobs: score_mask must cover every constrained (allowed) position")
        flat_logp, flat_entropy = _with_log_q(logits, flat_logp, flat_entropy, (j,), input_ids[a_row, a_col + 1],
                                              allowed, temperature, with_entropy)
    # Scattered back out of place (index_put), so gradients reach the kept logits; position 0 stays 0.
    logp = flat_logp.new_zeros(b, length).index_put((rows, cols + 1), flat_logp)
    entropy = None
    if flat_entropy is not None:
        entropy = flat_entropy.new_zeros(b, length).index_put((rows, cols + 1), flat_entropy)
    if return_hidden:
        return logp, entropy, out.hidden_states[-1]
    return logp, entropy


def accepts_logits_to_keep(model: Any) -> bool:
    """Whether ``model``'s forward takes ``logits_to_keep`` (causal LMs of transformers >= 4.50).

    Under a peft wrapper, the base model's forward decides.
    """
    base = model.get_base_model() if callable(getattr(model, "get_base_model", None)) else model
    try:
        return "logits_to_keep" in inspect.signature(base.forward).parameters
    except (TypeError, ValueError):
        return False


def cache_argument(model: Any) -> str:
    """The keyword under which ``model``'s forward takes a KV ``Cache`` object.

    transformers 5.x renamed ``past_key_values`` to ``cache`` (the old name warns "is deprecated and will be
    removed in version 5.40.0", once per forward call); older releases only know ``past_key_values``, and
    would silently drop an unknown ``cache`` keyword into ``**kwargs`` and decode without the prompt. So the
    name is read from the signature of the real model's ``forward`` (under a peft wrapper, the base model's).
    """
    base = model.get_base_model() if callable(getattr(model, "get_base_model", None)) else model
    params = inspect.signature(base.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


# ---------------------------------------------------------------------------------- constrained decoding
@dataclass
class TokenTrie:
    """Token-id prefix tree of admissible strings; ``value`` is set on nodes that complete one."""

    children: dict[int, TokenTrie] = field(default_factory=dict)
    value: str | None = None

    @property
    def depth(self) -> int:
        """Longest token path below this node."""
        return max((1 + c.depth for c in self.children.values()), default=0)


#: An action whose bracketed argument is a ``<placeholder>``: ``search[<your query>]`` (not ``<answer>4</answer>``).
_TEMPLATE = re.compile(r"\[<[^<>\[\]]+>\]")


def decoding_constraint(admissible: Sequence[str] | None) -> list[str] | None:
    """The strings a constrained reply must be one of, or None (free text).

    An env lists ``admissible_actions`` where its action set is finite (DESIGN section 3). Some pages also
    offer an open action written as a template whose argument is a ``<placeholder>`` (WebShop's
    ``search[<your query>]``): the set is then not finite, and forcing the template's literal text would search
    for "<your query>". So a list with a template entry decodes as free text (the env still parses and judges
    the reply), and an empty list does too.
    """
    if not admissible or any(_TEMPLATE.search(a) for a in admissible):
        return None
    return list(admissible)


def build_token_trie(tokenizer: Any, strings: Sequence[str]) -> TokenTrie:
    """Trie of ``strings`` tokenized as the start of the assistant's reply (no special tokens added)."""
    root = TokenTrie()
    for s in strings:
        node = root
        for tok in tokenizer(sanitize_text(s), add_special_tokens=False)["input_ids"]:
            node = node.children.setdefault(int(tok), TokenTrie())
        if node.value is None:
            node.value = s
    return root


# ---------------------------------------------------------------------------------------------- policy
def _resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` -> CUDA when available, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _resolve_dtype(dtype: torch.dtype | str | None, device: torch.device) -> torch.dtype:
    """``None`` -> bfloat16 on CUDA, float32 elsewhere; names like ``"bfloat16"`` are looked up."""
    if isinstance(dtype, str):
        name, dtype = dtype, getattr(torch, dtype, None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"not a torch dtype name: {name!r}")
    if dtype is None:
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return dtype


@dataclass
class _Row:
    """Decoding state of one prompt."""

    prompt_ids: list[int]
    budget: int
    dropped: int
    trie: TokenTrie | None
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    allowed: list[list[int]] = field(default_factory=list)  # per constrained step, the allowed ids
    finish: str | None = None
    text: str | None = None


class LMPolicy:
    """A causal LM as a ``TextPolicy`` and an ``Agent`` (see the module docstring).

    Args:
        model: A ``transformers`` causal LM (``AutoModelForCausalLM``-like, optionally ``peft``-wrapped).
        tokenizer: Its tokenizer; a chat template is used when it has one.
        temperature: Sampling temperature; 0 is greedy (log-probs then recorded at temperature 1).
        top_p: Nucleus filtering of free-text rows' sampling distribution. Constrained rows sample from
            the restricted ``q`` at ``temperature`` without a top-p cut (module docstring).
        max_new_tokens: Completion cap of unconstrained rows (constrained rows stop when an admissible
            string is complete, whatever its length).
        stop: Stop strings; a completion ends right after the first one (kept in the text).
        constrain: ``act`` restricts replies to ``info["admissible_actions"]`` when set.
        system_prompt: Prepended as a system message unless the conversation already starts with one.
        max_prompt_tokens: Prompt cap; longer prompts are left-truncated (module docstring).
        device: ``None`` picks CUDA when available, else CPU.
        dtype: ``None`` picks bfloat16 on CUDA, float32 on CPU; a ``torch.dtype`` or its name.
        seed: Seed of the policy's sampling generator.
        batch_size: Most rows per forward pass in ``generate`` and ``score``.
        max_batch_tokens: Most padded prompt tokens per forward pass (bounds memory; see ``plan_batches``).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 64,
        stop: Sequence[str] = (),
        constrain: bool = False,
        system_prompt: str | None = None,
        max_prompt_tokens: int | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | str | None = None,
        seed: int = 0,
        batch_size: int = 64,
        max_batch_tokens: int = 65536,
    ):
        # Written as "not (in range)" so that NaN, which fails every comparison, is rejected too.
        if not (math.isfinite(temperature) and temperature >= 0):
            raise ConfigError("temperature", "a finite number >= 0 (0: greedy)", temperature)
        if not 0.0 < top_p <= 1.0:
            raise ConfigError("top_p", "a number in (0, 1]", top_p)
        if not max_new_tokens >= 0:
            raise ConfigError("max_new_tokens", "an int >= 0", max_new_tokens)
        if max_prompt_tokens is not None and not max_prompt_tokens >= 1:
            raise ConfigError("max_prompt_tokens", "an int >= 1 or None", max_prompt_tokens)
        if not batch_size >= 1:
            raise ConfigError("batch_size", "an int >= 1", batch_size)
        self.device = _resolve_device(device)
        self.dtype = dtype = _resolve_dtype(dtype, self.device)
        self.model = model.to(device=self.device, dtype=dtype).eval()
        self.tokenizer = tokenizer
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.max_new_tokens = int(max_new_tokens)
        self.stop = tuple(s for s in stop if s)
        self.constrain = bool(constrain)
        self.system_prompt = system_prompt
        self.max_prompt_tokens = max_prompt_tokens
        self.batch_size = int(batch_size)
        self.max_batch_tokens = int(max_batch_tokens)
        self.seed = int(seed)
        # The policy owns its RNG (no global state); CPU-side so its state is device independent.
        self.generator = torch.Generator(device="cpu")
        self.generator.manual_seed(self.seed)
        self.pad_id = self._pad_id()
        self.eos_ids = self._eos_ids()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str,
        *,
        model_kwargs: dict[str, Any] | None = None,
        tokenizer_kwargs: dict[str, Any] | None = None,
        **policy_kwargs: Any,
    ) -> LMPolicy:
        """Loads ``AutoModelForCausalLM`` and ``AutoTokenizer`` from a local path or hub name.

        Args:
            name_or_path: Passed to both ``from_pretrained`` calls.
            model_kwargs: Extra ``AutoModelForCausalLM.from_pretrained`` arguments.
            tokenizer_kwargs: Extra ``AutoTokenizer.from_pretrained`` arguments.
            **policy_kwargs: ``LMPolicy`` arguments.

        Raises:
            ConfigError: When ``name_or_path`` is neither a model folder nor a Hugging Face id that can be
                loaded (missing folder, no ``config.json``, unknown id without network, bad id syntax).
        """
        expected = ("'tiny', a local transformers model folder (with config.json and a tokenizer) or a Hugging Face "
                    "model id that can be loaded")
        text = str(name_or_path)
        if text.startswith(("/", ".", "~")) and not Path(text).expanduser().exists():
            raise ConfigError("model.name", f"{expected} (no such folder)", text, ["tiny"])
        model_kwargs = dict(model_kwargs or {})
        device = _resolve_device(policy_kwargs.get("device"))
        # Load straight in the policy's dtype (a 7B model loaded as float32 first would double peak memory).
        model_kwargs.setdefault("dtype", _resolve_dtype(policy_kwargs.get("dtype"), device))
        try:
            model, tokenizer = cls._load_pretrained(name_or_path, model_kwargs, tokenizer_kwargs or {})
        except (OSError, ValueError) as err:
            # transformers raises OSError for a missing folder or unknown id and ValueError (HFValidationError,
            # "Unrecognized model") for malformed ones; either way the name is what is wrong.
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ConfigError("model.name", f"{expected} ({reason})", text, ["tiny"]) from err
        return cls(model, tokenizer, **policy_kwargs)

    @staticmethod
    def _load_pretrained(name_or_path: str, model_kwargs: dict[str, Any],
                         tokenizer_kwargs: dict[str, Any]) -> tuple[Any, Any]:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        local_json = Path(str(name_or_path)) / "tokenizer.json"
        if local_json.is_file():
            # A saved fast tokenizer is rebuilt exactly from its tokenizer.json: AutoTokenizer would pick
            # the model family's class (e.g. Qwen2Tokenizer), whose own pre-tokenizer can split text
            # differently from the tokenizer the model was trained with.
            from transformers import PreTrainedTokenizerFast

            tokenizer = PreTrainedTokenizerFast.from_pretrained(name_or_path, **tokenizer_kwargs)
        else:
            tokenizer = AutoTokenizer.from_pretrained(name_or_path, **tokenizer_kwargs)
        model = AutoModelForCausalLM.from_pretrained(name_or_path, **model_kwargs)
        return model, tokenizer

    def with_lora(
        self,
        r: int = 8,
        alpha: int = 16,
        dropout: float = 0.0,
        target_modules: Sequence[str] | str | None = None,
    ) -> LMPolicy:
        """Wraps the model with ``peft`` LoRA adapters in place (base weights frozen) and returns ``self``.

        Args:
            r: Adapter rank.
            alpha: LoRA scaling numerator (``lora_alpha``).
            dropout: Adapter dropout.
            target_modules: Module names to adapt; ``None`` uses peft's default for the architecture,
                or every linear layer when peft has none.
        """
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError(
                "LMPolicy.with_lora needs peft: pip install 'turngym[llm]' (or pip install peft)"
            ) from err

        def wrap(targets: Sequence[str] | str | None) -> Any:
            if isinstance(targets, (list, tuple)):
                targets = list(targets)
            config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, task_type="CAUSAL_LM",
                                target_modules=targets)
            # Adapter init draws from the global RNG; fork it and seed from the policy (no global state).
            devices = [self.device.index or 0] if self.device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(self.seed)
                return get_peft_model(self.model, config)

        try:
            self.model = wrap(target_modules)
        except ValueError:
            if target_modules is not None:
                raise
            self.model = wrap("all-linear")
        return self

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        """The parameters that require gradients (only the adapters after ``with_lora``)."""
        return [p for p in self.model.parameters() if p.requires_grad]

    def rng_state(self) -> torch.Tensor:
        """A copy of the sampling generator's state (checkpoint it to resume sampling bit for bit)."""
        return self.generator.get_state().clone()

    def set_rng_state(self, state: torch.Tensor) -> None:
        """Restores a state from ``rng_state``."""
        self.generator.set_state(state.clone())

    def _pad_id(self) -> int:
        tok = self.tokenizer
        for candidate in (getattr(tok, "pad_token_id", None), getattr(tok, "eos_token_id", None)):
            if candidate is not None:
                return int(candidate)
        return 0

    def _eos_ids(self) -> frozenset[int]:
        ids: set[int] = set()
        eos = getattr(self.tokenizer, "eos_token_id", None)
        if eos is not None:
            ids.add(int(eos))
        vocab = self.tokenizer.get_vocab()
        if "<|im_end|>" in vocab:  # ChatML turns end with <|im_end|>: it ends the reply like eos does
            ids.add(int(vocab["<|im_end|>"]))
        gen_config = getattr(self.model, "generation_config", None)
        gen_eos = getattr(gen_config, "eos_token_id", None)
        if gen_eos is not None:
            ids.update(int(i) for i in (gen_eos if isinstance(gen_eos, (list, tuple)) else [gen_eos]))
        return frozenset(ids)

    # ------------------------------------------------------------------ prompts
    def _context_limit(self) -> int | None:
        config = getattr(self.model, "config", None)
        limit = getattr(config, "max_position_embeddings", None)
        return int(limit) if limit else None

    def _prompt_limit(self, room: int) -> int:
        """Most prompt tokens that leave ``room`` completion tokens (at least 1)."""
        limit = math.inf if self.max_prompt_tokens is None else self.max_prompt_tokens
        context = self._context_limit()
        if context is not None:
            limit = min(limit, context - room)
        return int(max(1, min(limit, 2**62)))

    def _encode_text(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def _full_prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        msgs = [{"role": sanitize_text(m.get("role", "user")), "content": sanitize_text(m.get("content", ""))}
                for m in messages]
        if self.system_prompt is not None and not (msgs and msgs[0]["role"] == "system"):
            msgs.insert(0, {"role": "system", "content": sanitize_text(self.system_prompt)})
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        else:  # no template: plain "role: content" lines, then the assistant's cue
            text = "".join(f"{m['role']}: {m['content']}\n" for m in msgs) + "assistant: "
        return self._encode_text(text)

    def encode_prompt(self, messages: Sequence[Message]) -> list[int]:
        r"""Token ids of a chat prompt with the generation prompt, as ``generate`` feeds an unconstrained row.

        Uses the tokenizer's chat template, or ``"{role}: {content}\\n"`` lines then ``"assistant: "``
        without one; ``system_prompt`` is prepended. Left-truncated to leave ``max_new_tokens`` of room.
        """
        return self._full_prompt_ids(messages)[-self._prompt_limit(self.max_new_tokens):]

    # ------------------------------------------------------------------ sampling
    def _forward_last(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
                      cache: Any, cache_kw: str) -> torch.Tensor:
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                         use_cache=True, logits_to_keep=1, **{cache_kw: cache})
        return out.logits[:, -1, :]

    def _sample(
        self, logits: torch.Tensor, allowed: torch.Tensor | None, uniforms: torch.Tensor,
        constrained: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One token per row from ``logits`` ``[A, V]``: mask, temperature, top-p, inverse-CDF draw.

        ``constrained`` ``[A]`` marks the rows that sample from the restricted ``q`` (no top-p cut there).
        """
        logits = logits.float()
        if allowed is not None:
            logits = logits.masked_fill(~allowed, -math.inf)
        if self.temperature == 0:
            return logits.argmax(-1)
        probs = torch.softmax(logits / self.temperature, dim=-1).double()
        order = None
        if self.top_p < 1.0:
            probs, order = probs.sort(dim=-1, descending=True)
            before = probs.cumsum(-1) - probs
            cut = before >= self.top_p  # the top token always survives
            if constrained is not None:  # q is the acting policy on constrained rows: keep its whole support
                cut &= ~constrained.to(cut.device).unsqueeze(-1)
            probs = probs.masked_fill(cut, 0.0)
        cdf = probs.cumsum(-1)
        target = (uniforms.to(cdf.device, torch.float64) * cdf[:, -1]).unsqueeze(-1)
        # right=True picks the first index whose cdf exceeds the target: a token of nonzero probability.
        idx = torch.searchsorted(cdf, target, right=True).squeeze(-1).clamp(max=probs.shape[-1] - 1)
        # u * total can round up to total: fall back to the most likely token in that ~2^-53 case.
        idx = torch.where(probs.gather(-1, idx.unsqueeze(-1)).squeeze(-1) > 0, idx, probs.argmax(-1))
        return idx if order is None else order.gather(-1, idx.unsqueeze(-1)).squeeze(-1)

    def _stop_hit(self, tokens: list[int]) -> bool:
        width = max(len(s.encode("utf-8")) for s in self.stop) + STOP_SCAN_SLACK
        tail = self.tokenizer.decode(tokens[-width:], skip_special_tokens=True)
        return any(s in tail for s in self.stop)

    def _advance(self, row: _Row, token: int, logprob: float) -> None:
        """Appends a sampled token and decides whether the row is finished."""
        row.tokens.append(token)
        row.logprobs.append(logprob)
        if row.trie is not None:
            if token not in row.allowed[-1]:  # cannot happen when q has its full support; never walk off the trie
                raise RuntimeError(f"constrained decoding drew token {token} outside its allowed set")
            if token in self.eos_ids and token not in row.trie.children:
                row.finish = "constrained"  # eos was allowed only where an admissible string is complete
                return
            row.trie = row.trie.children[token]
            if not row.trie.children:
                row.finish = "constrained"
            return
        if token in self.eos_ids:
            row.finish = "stop"
        elif self.stop and self._stop_hit(row.tokens):
            row.finish = "stop"
            text = self.tokenizer.decode(row.tokens, skip_special_tokens=True)
            end = find_stop(text, self.stop)
            row.text = text if end is None else text[:end]
        elif len(row.tokens) >= row.budget:
            row.finish = "length"

    def _allowed_ids(self, row: _Row, vocab: int) -> list[int]:
        """The sorted token ids a constrained row may emit next (the support of ``q``)."""
        assert row.trie is not None
        ids = set(row.trie.children)
        if row.trie.value is not None:  # complete here, longer strings continue: ending is allowed too
            ids |= self.eos_ids
        allowed = sorted(t for t in ids if 0 <= t < vocab)
        if not allowed:
            raise ValueError(f"constrained decoding: no admissible token id is below the model's vocabulary "
                             f"size {vocab} (trie ids {sorted(ids)[:8]}...)")
        return allowed

    def _allowed_mask(self, rows: list[_Row], vocab: int) -> torch.Tensor | None:
        """Dense ``[A, V]`` sampling mask of the live rows (all True on free rows); records each row's ids."""
        if all(r.trie is None for r in rows):
            return None
        allowed = torch.ones(len(rows), vocab, dtype=torch.bool)
        for i, r in enumerate(rows):
            if r.trie is None:
                continue
            ids = self._allowed_ids(r, vocab)
            r.allowed.append(ids)
            allowed[i] = False
            allowed[i, ids] = True
        return allowed.to(self.device)

    @staticmethod
    def _check_finite(logits: torch.Tensor, step: int, live: list[int]) -> None:
        """Raises ``NonFiniteLogitsError`` when a row's logits hold NaN or +inf (-inf is a legal "never")."""
        bad = torch.isnan(logits).any(-1) | torch.isposinf(logits).any(-1)
        if bool(bad.any()):
            rows = [live[i] for i in bad.nonzero().flatten().tolist()]
            raise NonFiniteLogitsError(
                f"the model produced non-finite logits (NaN or +inf) at decoding step {step} for prompt "
                f"row(s) {rows[:8]} of the sub-batch; its weights are probably NaN or inf. In training, the "
                f"trainer's non-finite guard should have skipped the update that produced them.")

    @torch.no_grad()
    def _generate_batch(self, full_prompts: list[list[int]], admissible: Sequence[Sequence[str] | None]
                        ) -> list[Generation]:
        rows: list[_Row] = []
        for ids, listed in zip(full_prompts, admissible, strict=True):
            adm = decoding_constraint(listed)
            trie = build_token_trie(self.tokenizer, adm) if adm is not None else None
            budget = trie.depth if trie is not None else self.max_new_tokens
            keep = self._prompt_limit(budget)
            dropped = max(0, len(ids) - keep)
            rows.append(_Row(prompt_ids=ids[-keep:], budget=budget, dropped=dropped, trie=trie))
        for r in rows:  # nothing to sample: zero budget, or the only admissible string is ""
            if r.trie is not None and not r.trie.children:
                r.finish = "constrained"
            elif r.trie is None and r.budget == 0:
                r.finish = "length"

        n = len(rows)
        width = max(len(r.prompt_ids) for r in rows)
        input_ids = torch.full((n, width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((n, width), dtype=torch.long)
        for i, r in enumerate(rows):  # left padding: every row's next token lands in the last column
            input_ids[i, width - len(r.prompt_ids):] = torch.tensor(r.prompt_ids, dtype=torch.long)
            attention[i, width - len(r.prompt_ids):] = 1
        input_ids, attention = input_ids.to(self.device), attention.to(self.device)
        positions = position_ids_from_mask(attention)

        from transformers import DynamicCache

        live = [i for i, r in enumerate(rows) if r.finish is None]  # rows still in the batch, in order
        if live:
            sel = torch.tensor(live, device=self.device)
            input_ids, attention, positions = input_ids[sel], attention[sel], positions[sel]
            # The config lets the cache pick per-layer kinds (e.g. sliding-window layers) as the model expects.
            cache = DynamicCache(config=getattr(self.model, "config", None))
            cache_kw = cache_argument(self.model)
            logits = self._forward_last(input_ids, attention, positions, cache, cache_kw)
            next_pos = positions[:, -1:] + 1
        step = 0
        while live:
            self._check_finite(logits, step, live)
            # One uniform per prompt row and step, drawn whether or not the row is live (fixed RNG use).
            uniforms = torch.rand(n, generator=self.generator, dtype=torch.float64)
            live_rows = [rows[i] for i in live]
            mask = self._allowed_mask(live_rows, logits.shape[-1])
            constrained = [k for k, r in enumerate(live_rows) if r.trie is not None]
            flags = None
            if constrained:
                flags = torch.zeros(len(live_rows), dtype=torch.bool)
                flags[constrained] = True
            tokens = self._sample(logits, mask, uniforms[live], flags)
            logps, _ = token_logprobs(logits, tokens, self.temperature)
            if constrained:  # record log q, the policy that acted, on constrained rows (module docstring)
                ids = [live_rows[k].allowed[-1] for k in constrained]
                table = torch.full((len(ids), max(map(len, ids))), -1, dtype=torch.long)
                for j, row_ids in enumerate(ids):
                    table[j, :len(row_ids)] = torch.tensor(row_ids, dtype=torch.long)
                sel = torch.tensor(constrained, device=logits.device)
                q_logp, _ = restricted_logprobs(logits[sel], tokens[sel], table.to(logits.device), self.temperature)
                logps = logps.index_put((sel,), q_logp)
            for r, t, lp in zip(live_rows, tokens.tolist(), logps.tolist(), strict=True):
                self._advance(r, int(t), float(lp))
            keep = [k for k, i in enumerate(live) if rows[i].finish is None]
            if not keep:
                break
            step_ids = tokens.unsqueeze(-1)
            if len(keep) < len(live):  # drop finished rows from the batch and the KV cache
                sel = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(sel)
                step_ids, attention, next_pos = step_ids[sel], attention[sel], next_pos[sel]
                live = [live[k] for k in keep]
            attention = torch.cat([attention, attention.new_ones(len(live), 1)], dim=1)
            logits = self._forward_last(step_ids, attention, next_pos, cache, cache_kw)
            next_pos = next_pos + 1
            step += 1

        out = []
        for r in rows:
            if r.finish == "constrained" and r.trie is not None:
                text = r.trie.value if r.trie.value is not None else ""
            elif r.text is not None:
                text = r.text
            else:
                text = self.tokenizer.decode(r.tokens, skip_special_tokens=True)
            extras = {"prompt_tokens_dropped": r.dropped} if r.dropped else {}
            out.append(Generation(text=text, prompt_ids=r.prompt_ids, completion_ids=r.tokens,
                                  logprobs=r.logprobs, finish_reason=r.finish or "length", extras=extras,
                                  allowed_ids=r.allowed if r.trie is not None else None))
        return out

    def generate(
        self,
        prompts: Sequence[Sequence[Message]],
        *,
        admissible: Sequence[Sequence[str] | None] | None = None,
    ) -> list[Generation]:
        """Samples one completion per chat prompt, in sub-batches of similar length (``plan_batches``).

        Args:
            prompts: Chat conversations (``{"role", "content"}`` messages).
            admissible: Per prompt, ``None`` / empty (free text) or the strings the reply must be exactly
                one of (a list holding a ``<placeholder>`` template is free text: ``decoding_constraint``).
                Constrained rows follow the token trie of those strings (see ``build_token_trie``), ignore
                ``max_new_tokens`` and stop strings, end with finish reason ``"constrained"``, sample from
                and record the restricted ``q`` and keep their allowed sets in ``allowed_ids``.

        Raises:
            NonFiniteLogitsError: When the model produces NaN or +inf logits (NaN weights).

        Returns:
            One ``Generation`` per prompt, in order.
        """
        if admissible is None:
            admissible = [None] * len(prompts)
        if len(admissible) != len(prompts):
            raise ValueError(f"admissible has {len(admissible)} entries for {len(prompts)} prompts")
        full = [self._full_prompt_ids(p) for p in prompts]
        lengths = [min(len(ids), self._prompt_limit(self.max_new_tokens)) for ids in full]
        out: list[Generation | None] = [None] * len(full)
        for batch in plan_batches(lengths, self.batch_size, self.max_batch_tokens):
            gens = self._generate_batch([full[i] for i in batch], [admissible[i] for i in batch])
            for i, g in zip(batch, gens, strict=True):
                out[i] = g
        return [g for g in out if g is not None]

    # ------------------------------------------------------------------ scoring and acting
    @torch.no_grad()
    def score(self, prompts: Sequence[Sequence[Message]], continuations: Sequence[str]) -> list[float]:
        """Mean token log-prob (temperature 1) of each continuation as the assistant's reply, teacher forced.

        The continuation is tokenized on its own (as the start of the reply) after the prompt's ids. An
        empty continuation scores 0.0. Prompts are left-truncated to fit the context; a continuation
        longer than the context is scored on its first tokens.
        """
        if len(prompts) != len(continuations):
            raise ValueError(f"{len(continuations)} continuations for {len(prompts)} prompts")
        context = self._context_limit()
        pairs = []
        for messages, cont in zip(prompts, continuations, strict=True):
            cont_ids = self._encode_text(sanitize_text(cont))
            if context is not None:
                cont_ids = cont_ids[:context - 1]
            prompt_ids = self._full_prompt_ids(messages)[-self._prompt_limit(len(cont_ids)):]
            pairs.append((prompt_ids, cont_ids))
        scores = [0.0] * len(pairs)
        lengths = [len(p) + len(c) for p, c in pairs]
        for batch in plan_batches(lengths, self.batch_size, self.max_batch_tokens):
            for i, value in zip(batch, self._score_batch([pairs[i] for i in batch]), strict=True):
                scores[i] = value
        return scores

    def _score_batch(self, pairs: list[tuple[list[int], list[int]]]) -> list[float]:
        keep = max(len(c) for _, c in pairs)
        if keep == 0:
            return [0.0] * len(pairs)
        width = max(len(p) + len(c) for p, c in pairs)
        input_ids = torch.full((len(pairs), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(pairs), width), dtype=torch.long)
        for i, (p, c) in enumerate(pairs):
            seq = p + c
            input_ids[i, width - len(seq):] = torch.tensor(seq, dtype=torch.long)
            attention[i, width - len(seq):] = 1
        input_ids, attention = input_ids.to(self.device), attention.to(self.device)
        # Left padding puts every continuation in the last `keep` columns: only those logits are needed.
        out = self.model(input_ids=input_ids, attention_mask=attention,
                         position_ids=position_ids_from_mask(attention), use_cache=False,
                         logits_to_keep=keep + 1)
        logp, _ = token_logprobs(out.logits[:, :-1], input_ids[:, width - keep:])
        scores = []
        for i, (_, c) in enumerate(pairs):
            scores.append(float(logp[i, keep - len(c):].mean()) if c else 0.0)
        return scores

    def act(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]]) -> list[str]:
        """One reply per observation, each sent as a single user message.

        With ``constrain`` set, each reply is one of its ``info["admissible_actions"]`` (free text where an
        info has none).
        """
        prompts = [[{"role": "user", "content": sanitize_text(obs)}] for obs in observations]
        admissible = None
        if self.constrain:
            admissible = [info.get("admissible_actions") if info else None for info in infos]
        return [g.text for g in self.generate(prompts, admissible=admissible)]


__all__ = [
    "AllowedTokens", "LMPolicy", "NonFiniteLogitsError", "TokenTrie", "build_token_trie", "cache_argument",
    "find_stop", "forward_logprobs", "plan_batches", "position_ids_from_mask", "restricted_logprobs",
    "sanitize_text", "token_logprobs",
]
