"""Exploration rules over Q-values: epsilon-greedy and Boltzmann (softmax), with an RNG the caller owns.

The exploration strength is what arXiv 2601.05509 (Weng & Lee 2026) sweeps: the exploration rate
epsilon of epsilon-greedy or the temperature tau of Boltzmann exploration. Every draw comes from a
``np.random.Generator`` passed in, never from numpy's global RNG, so a run is reproducible from its seed.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

ExplorationKind = Literal["epsilon", "boltzmann"]
EXPLORATION_KINDS: tuple[str, ...] = ("epsilon", "boltzmann")


def greedy(q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Argmax of each row of ``q`` with ties broken uniformly at random.

    Random tie-breaking matters for tabular learners, whose untouched states hold equal values: a
    plain ``argmax`` would always pick action 0 (cooperate) there and bias the cooperation rate.

    Args:
        q: ``(n, num_actions)`` action values.
        rng: Source of the tie-breaking draws (one uniform per entry of ``q``).

    Returns:
        ``(n,)`` int64 action ids.
    """
    q = np.asarray(q, dtype=np.float64)
    best = q == q.max(axis=1, keepdims=True)
    # Among the maximal entries pick the one with the largest uniform key (uniform over the tied set).
    keys = np.where(best, rng.random(q.shape), -1.0)
    return keys.argmax(axis=1).astype(np.int64)


def epsilon_greedy(q: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
    """Epsilon-greedy actions: with probability ``epsilon`` a uniformly random action, else the greedy one.

    As in Mnih et al. (2015) and Stable-Baselines3, the random action is drawn over all actions, so
    the greedy action is also chosen with probability ``1 - epsilon + epsilon / num_actions``.

    Args:
        q: ``(n, num_actions)`` action values.
        epsilon: Exploration rate in [0, 1].
        rng: Source of the exploration draws.

    Returns:
        ``(n,)`` int64 action ids.

    Raises:
        ValueError: ``epsilon`` is outside [0, 1].
    """
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    q = np.asarray(q, dtype=np.float64)
    n, k = q.shape
    explore = rng.random(n) < epsilon
    random_actions = rng.integers(0, k, size=n)
    return np.where(explore, random_actions, greedy(q, rng)).astype(np.int64)


def boltzmann_probs(q: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax policy pi(a|s) = exp(Q(s,a) / tau) / sum_b exp(Q(s,b) / tau) (Sutton & Barto 2018, eq. 13.2).

    Args:
        q: ``(n, num_actions)`` action values.
        temperature: tau > 0; large tau approaches uniform, small tau approaches greedy.

    Returns:
        ``(n, num_actions)`` probabilities (rows sum to 1).

    Raises:
        ValueError: ``temperature`` is not positive.
    """
    if not temperature > 0.0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    z = np.asarray(q, dtype=np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)  # shift for numerical stability; softmax is shift-invariant
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def boltzmann(q: np.ndarray, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """Actions sampled from ``boltzmann_probs(q, temperature)`` (inverse-CDF, one uniform per row).

    Args:
        q: ``(n, num_actions)`` action values.
        temperature: tau > 0.
        rng: Source of the draws.

    Returns:
        ``(n,)`` int64 action ids.
    """
    p = boltzmann_probs(q, temperature)
    u = rng.random((p.shape[0], 1))
    actions = (p.cumsum(axis=1) < u).sum(axis=1)
    return np.minimum(actions, p.shape[1] - 1).astype(np.int64)  # guard u ~ 1 against rounding


def explore(q: np.ndarray, kind: ExplorationKind, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Dispatches to ``epsilon_greedy`` (strength = epsilon) or ``boltzmann`` (strength = temperature).

    A Boltzmann strength of 0 means greedy (the tau -> 0 limit).

    Raises:
        ValueError: unknown ``kind``.
    """
    if kind == "epsilon":
        return epsilon_greedy(q, strength, rng)
    if kind == "boltzmann":
        return greedy(q, rng) if strength == 0.0 else boltzmann(q, strength, rng)
    raise ValueError(f"exploration kind must be one of {EXPLORATION_KINDS}, got {kind!r}")
