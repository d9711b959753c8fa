"""The text-policy protocol the trainer works against, and the record of one generated turn.

Every acting thing implements ``act(observations, infos) -> actions`` (DESIGN section 4,
``turngym.envs.core.agent_api.Agent``). Trainable language-model policies add ``generate``, which returns
what the trainer needs for a policy-gradient update: the exact prompt and completion token ids and the
per-token log-probs recorded at sampling time, and ``score``, which information-gain rewards need.

A policy whose outside world fails (an endpoint, a remote worker) raises ``PolicyInfraError`` for the rows
it could not answer; callers record those episodes as ``info["infra_error"]`` (DESIGN section 3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from turngym.envs.core.errors import TurnGymError

Message = dict[str, str]
"""One chat message: ``{"role": "system" | "user" | "assistant", "content": str}``."""


@dataclass
class Generation:
    """One sampled completion.

    Attributes:
        text: The completion decoded to text without special tokens, cut right after the first stop string
            (the stop string is kept, so ``</answer>`` or ``</tool_call>`` reaches the env). This is the
            action sent to the env.
        prompt_ids: Token ids of the prompt exactly as the model saw them (no padding).
        completion_ids: Token ids sampled, in order, including a final end-of-sequence token when one was
            sampled; cut after the token that completed a stop string.
        logprobs: Per completion token, its log-probability under the distribution of the policy that acted,
            i.e. the quantity the trainer recomputes for the importance ratio. Free text: the full-vocabulary
            ``p = softmax(logits / temperature)``, before top-p filtering. Constrained decoding: the
            restricted ``q = softmax(logits[allowed] / temperature)`` over that step's ``allowed_ids`` (the
            distribution the token was drawn from; see ``turngym.agents.llm.policies.lm``).
        finish_reason: ``"stop"`` (end-of-sequence or stop string), ``"length"`` (``max_new_tokens``) or
            ``"constrained"`` (an admissible action was completed).
        extras: Free-form notes (e.g. ``prompt_tokens_dropped``).
        allowed_ids: ``None`` for free text; for a constrained completion, per completion token the sorted
            token ids that were admissible at that step (the support of ``q``; a single id means the step
            was forced and its log-prob is 0). The trainer rebuilds the same mask from it.
    """

    text: str
    prompt_ids: list[int]
    completion_ids: list[int]
    logprobs: list[float]
    finish_reason: str = "stop"
    extras: dict[str, Any] = field(default_factory=dict)
    allowed_ids: list[list[int]] | None = None


@runtime_checkable
class TextPolicy(Protocol):
    """A trainable text policy (``LMPolicy`` is the implementation)."""

    def generate(
        self,
        prompts: Sequence[Sequence[Message]],
        *,
        admissible: Sequence[Sequence[str] | None] | None = None,
    ) -> list[Generation]:
        """Samples one completion per chat prompt (batched); ``admissible[i]`` constrains prompt i."""
        ...

    def score(self, prompts: Sequence[Sequence[Message]], continuations: Sequence[str]) -> list[float]:
        """Mean token log-prob of each continuation as the assistant's reply to the prompt (teacher forced)."""
        ...

    def act(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]]) -> list[str]:
        """One action text per observation (a single user message each)."""
        ...


class InfraFailure(Protocol):
    """Why one request of a batch got no answer (``OpenAIChatPolicy``'s ``RequestFailure`` is one)."""

    @property
    def reason(self) -> str:
        """One line for ``info["infra_error"]``: what failed, where, after how many attempts."""
        ...


class PolicyInfraError(TurnGymError, RuntimeError):
    """A policy's outside world (its endpoint) failed for some rows of a batch: an infrastructure failure.

    The affected episodes are not the agent's failure: record them with ``info["infra_error"]`` (DESIGN
    section 3) and leave them out of training and of every score; the other rows' results are valid. Any
    policy may raise it (``generate`` or ``act``); the rollouts (``turngym.agents.llm.rollout``,
    ``turngym.agents.llm.selfplay``) catch it.

    Args:
        failures: Row index -> why it failed (at least one row).
        partial: Per row, what the call returns for it (``act``: the action text; ``generate``: the
            ``Generation``), or None for the failed rows.

    Attributes:
        failures: As given.
        partial: As given.
    """

    def __init__(self, failures: Mapping[int, InfraFailure], partial: Sequence[Any]):
        self.failures = dict(failures)
        self.partial = list(partial)
        first = min(self.failures)
        more = f" (and {len(self.failures) - 1} more of {len(self.partial)} requests)" if len(self.failures) > 1 else ""
        super().__init__(f"row {first}: {self.failures[first].reason}{more}")

    @property
    def reasons(self) -> dict[int, str]:
        """Row index -> the ``info["infra_error"]`` text of that row."""
        return {i: f.reason for i, f in self.failures.items()}
