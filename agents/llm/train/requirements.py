"""What estimators and losses declare they need, checked against the env before any model is loaded.

Estimators (``turngym.agents.llm.estimators.registry.requirements``) and losses
(``turngym.agents.llm.losses.registry.loss_requirements``) name the optional inputs they read; the trainer
never branches on their names (DESIGN section 4; STYLE: "declare what a component needs"). Each
requirement has one check here that says whether the run can supply it: a new requirement is one entry
in ``CHECKS``, not a branch in the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from turngym.agents.llm.rollout import gold_answer_method
from turngym.envs.core.errors import ConfigError


def _trainer_supplies(env_id: str) -> None:
    """``value``: the trainer builds and trains a value head itself; the env has nothing to offer."""


def _env_has_gold_answers(env_id: str) -> None:
    """``score``: information gain scores the gold answer, so the env must declare its accessor."""
    gold_answer_method(env_id)


#: requirement -> check(env_id), raising ``ConfigError`` when the run cannot supply it.
CHECKS: dict[str, Callable[[str], None]] = {
    "value": _trainer_supplies,
    "score": _env_has_gold_answers,
}


def check_requirements(required: Iterable[str], env_id: str, who: str) -> None:
    """Runs the check of every requirement in ``required`` against ``env_id``.

    Args:
        required: Requirement names (an estimator's or a loss's).
        env_id: The env the run trains on.
        who: What declared them, for the message (``"estimator 'igpo'"``).

    Raises:
        ConfigError: A requirement the env cannot meet (the check's own message), or one the trainer does
            not know how to supply.
    """
    for name in sorted(required):
        check = CHECKS.get(name)
        if check is None:
            raise ConfigError(f"{who} requirement", f"one the trainer can supply: {sorted(CHECKS)}", name,
                              choices=CHECKS)
        check(env_id)
