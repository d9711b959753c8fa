"""Stable-Baselines3 models as turngym agents, plus a MaskablePPO training helper and a seeded evaluator.

``SB3Policy`` wraps a trained SB3 model (PPO, A2C, DQN, sb3-contrib MaskablePPO or QRDQN) into the
batched agent protocol of DESIGN §4, ``act(observations, infos, *, rng=None) -> actions``, for envs in
``obs_mode="vector"``. It never returns an illegal action: it reads the model's action scores (policy
logits or Q-values), drops every action that is not legal, and picks among the rest. Stochastic picks
draw from the ``rng`` the caller passes (turngym envs pass their own RNG to their opponents), so seeded
rollouts stay reproducible without touching torch's global RNG.

Example:
    >>> import gymnasium as gym
    >>> import turngym.envs
    >>> from turngym.agents.baselines.sb3 import SB3Policy, evaluate, train_maskable_ppo
    >>> model = train_maskable_ppo("turngym/LeducHoldem-v0", total_timesteps=50_000, seed=0)
    >>> agent = SB3Policy(model)
    >>> evaluate("turngym/LeducHoldem-v0", agent, "random", episodes=2000, seed=0)["ci95"]
    >>> env = gym.make("turngym/LeducHoldem-v0", obs_mode="vector", opponents=[agent])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium import spaces

import turngym.envs
from turngym.agents.stats import mean_ci
from turngym.envs.core.agent_api import accepts_rng, legal_ids


class SB3Policy:
    """A trained Stable-Baselines3 model behind turngym's batched agent protocol.

    Supported policies: actor-critic ones with a categorical head (PPO, A2C, MaskablePPO), whose logits
    are masked to the legal actions, and value-based ones (DQN via ``q_net``, QR-DQN via
    ``quantile_net``), whose Q-values are masked the same way.

    Args:
        model: A trained SB3 model (anything with a ``.policy`` of a supported kind), or such a policy.
            Its observation space must be the env's vector space (``Dict(observation, action_mask)``) or
            its ``observation`` part alone (a model trained on the flat vector).
        deterministic: If True, take the legal action with the highest logit / Q-value (ties go to the
            lowest id). If False, sample from the policy's distribution renormalised over the legal
            actions (actor-critic), or act epsilon-greedily over the legal actions with the model's
            ``exploration_rate`` (value-based, as SB3's own ``predict(deterministic=False)`` does).
        seed: Seed of the agent's own RNG, used for stochastic picks when ``act`` gets no ``rng``.
        name: Display name (default ``"sb3-<model class>"``).

    Attributes:
        obs_mode: Always ``"vector"``; turngym's single-agent envs read it to give this agent vector
            observations when it plays as an opponent.
    """

    obs_mode = "vector"

    def __init__(self, model: Any, deterministic: bool = True, seed: int | None = None,
                 name: str | None = None):
        policy = getattr(model, "policy", model)
        action_space = getattr(policy, "action_space", None)
        if hasattr(policy, "get_distribution"):
            self._kind = "actor_critic"
        elif hasattr(policy, "q_net"):
            self._kind = "q"
        elif hasattr(policy, "quantile_net"):
            self._kind = "quantile"
        if action_space is None or not hasattr(self, "_kind"):
            raise TypeError(
                f"SB3Policy supports actor-critic (PPO, A2C, MaskablePPO), DQN and QR-DQN policies; "
                f"got {type(policy).__name__}"
            )
        if not isinstance(action_space, spaces.Discrete):
            raise TypeError(f"SB3Policy needs a Discrete action space, got {action_space}")
        self.model = model
        self.policy = policy
        self.deterministic = bool(deterministic)
        self.rng = np.random.default_rng(seed)
        self.name = name or f"sb3-{type(model).__name__}"
        self.num_actions = int(policy.action_space.n)
        self._dict_obs = isinstance(policy.observation_space, spaces.Dict)

    # ---------------------------------------------------------------- scoring
    def _batch(self, observations: Sequence[Any]) -> Any:
        """Stacks per-env observations into the batch layout the policy was trained on."""
        if self._dict_obs:
            keys = self.policy.observation_space.spaces.keys()
            return {k: np.stack([np.asarray(o[k]) for o in observations]) for k in keys}
        rows = [o["observation"] if isinstance(o, dict) else o for o in observations]
        return np.stack([np.asarray(r, dtype=np.float32) for r in rows])

    def scores(self, observations: Sequence[Any]) -> np.ndarray:
        """Unmasked action scores, shape ``(len(observations), num_actions)``.

        Logits for actor-critic policies, Q-values for DQN, mean quantiles for QR-DQN.
        """
        policy = self.policy
        policy.set_training_mode(False)
        obs_t, _ = policy.obs_to_tensor(self._batch(observations))
        with torch.no_grad():
            if self._kind == "actor_critic":
                out = policy.get_distribution(obs_t).distribution.logits
            elif self._kind == "q":
                out = policy.q_net(obs_t)
            else:
                out = policy.quantile_net(obs_t).mean(dim=1)
        return out.detach().cpu().numpy().astype(np.float64).reshape(len(observations), self.num_actions)

    # -------------------------------------------------------------- protocol
    def act(
        self,
        observations: Sequence[Any],
        infos: Sequence[dict[str, Any]],
        *,
        rng: np.random.Generator | None = None,
    ) -> list[int | None]:
        """One legal action id per environment.

        Legal ids come from ``info["legal_action_ids"]``, or from the observation's ``action_mask``
        where the info has none.

        Args:
            observations: Vector observations, ``{"observation": float32 array, "action_mask": int8
                array}`` (or bare observation arrays for a model trained on them).
            infos: The matching infos.
            rng: Generator for stochastic picks (envs pass their own); the agent's RNG if None.

        Returns:
            Action ids, ``None`` where nothing is legal (it is not this agent's turn there).
        """
        if len(observations) != len(infos):
            raise ValueError(f"{len(observations)} observations but {len(infos)} infos")
        if not observations:
            return []
        gen = rng if rng is not None else self.rng
        scores = self.scores(observations)
        out: list[int | None] = []
        for row, obs, info in zip(scores, observations, infos, strict=True):
            ids = [int(a) for a in legal_ids(info, obs) if 0 <= int(a) < self.num_actions]
            if not ids:
                out.append(None)
                continue
            legal = row[ids]
            if self.deterministic:
                out.append(ids[int(np.argmax(legal))])
            elif self._kind == "actor_critic":
                # Categorical over the legal actions only: softmax of the masked logits, the same
                # renormalisation MaskablePPO's masked distribution applies.
                z = legal - legal.max()
                p = np.exp(z)
                out.append(ids[int(gen.choice(len(ids), p=p / p.sum()))])
            else:
                eps = float(getattr(self.model, "exploration_rate", 0.0))
                if gen.random() < eps:
                    out.append(ids[int(gen.integers(len(ids)))])
                else:
                    out.append(ids[int(np.argmax(legal))])
        return out

    def __repr__(self) -> str:
        return f"SB3Policy({self.name}, deterministic={self.deterministic})"


def _mask_fn(env: gymnasium.Env) -> np.ndarray:
    """Action mask of the learner, read from the unwrapped turngym env (``ActionMasker`` callback)."""
    return env.unwrapped.action_masks()


def make_masked_env(env_id: str, opponents: Any = None, seat: int | str = "random",
                    **env_kwargs: Any) -> gymnasium.Env:
    """``gymnasium.make`` of a vector-mode env, with a ``Monitor`` and sb3-contrib's ``ActionMasker``.

    Args:
        env_id: Registered turngym id with a ``"vector"`` mode.
        opponents: Agents for the other seats (default: random-legal).
        seat: Learner seat, or ``"random"`` (drawn at every reset from the env RNG).
        **env_kwargs: Further env arguments (e.g. ``max_turns``).

    Returns:
        The wrapped env; its ``action_masks()`` is what MaskablePPO calls.
    """
    from sb3_contrib.common.wrappers import ActionMasker
    from stable_baselines3.common.monitor import Monitor

    env = gymnasium.make(env_id, obs_mode="vector", opponents=opponents, seat=seat, **env_kwargs)
    return ActionMasker(Monitor(env), _mask_fn)


def train_maskable_ppo(
    env_id: str,
    total_timesteps: int,
    seed: int,
    opponents: Any = None,
    *,
    n_envs: int = 1,
    policy: str = "MultiInputPolicy",
    env_kwargs: dict[str, Any] | None = None,
    **ppo_kwargs: Any,
) -> Any:
    """Trains sb3-contrib's MaskablePPO on the single-agent vector view of a turngym game.

    The learner's seat is drawn at random at every reset, so the model learns every seat (the seat is
    part of the vector observation). SB3's ``seed=`` seeds torch and the envs (env ``i`` gets
    ``seed + i``); no other global state is touched.

    Args:
        env_id: Registered turngym id with a ``"vector"`` mode, e.g. ``"turngym/LeducHoldem-v0"``.
        total_timesteps: Learner decisions to train on.
        seed: Seed of the model and the envs.
        opponents: Agents for the other seats (default: random-legal); see
            ``turngym.envs.core.single.resolve_opponents``.
        n_envs: Parallel env copies (in-process ``DummyVecEnv``).
        policy: SB3 policy name; ``MultiInputPolicy`` takes the ``Dict`` observation as it is.
        env_kwargs: Further env arguments.
        **ppo_kwargs: Passed to ``MaskablePPO`` (``learning_rate``, ``n_steps``, ``batch_size``,
            ``ent_coef``, ``policy_kwargs``, ``verbose``, ...).

    Returns:
        The trained ``MaskablePPO`` model.
    """
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    kwargs = dict(env_kwargs or {})
    vec_env = DummyVecEnv([lambda: make_masked_env(env_id, opponents, "random", **kwargs)
                           for _ in range(n_envs)])
    ppo_kwargs.setdefault("verbose", 0)
    model = MaskablePPO(policy, vec_env, seed=seed, **ppo_kwargs)
    model.learn(total_timesteps=total_timesteps)
    return model


def _num_players(env: Any) -> int:
    game = getattr(env.unwrapped, "game", None)
    if game is None:
        raise TypeError(f"evaluate() needs a multi-player game env (with .game), got {type(env).__name__}")
    return int(game.num_players)


def evaluate(
    env_id: str,
    policy_agent: Any,
    opponent: Any = "random",
    episodes: int = 1000,
    seed: int = 0,
    *,
    confidence: float = 0.95,
    **env_kwargs: Any,
) -> dict[str, Any]:
    """Mean payoff of ``policy_agent`` against ``opponent`` over seeded hands, with a t interval.

    Hand ``i`` is played in seat ``i % num_players`` (so seats are balanced) from its own seed, drawn
    from ``numpy.random.SeedSequence(seed)``; the learner and the opponents draw stochastic choices from
    the env's RNG, so every hand is reproducible from ``seed`` alone. Hands are independent, and the
    interval is Student's t on the per-hand payoffs: mean ± t_{n-1, (1+c)/2} · s / sqrt(n).

    Args:
        env_id: Registered turngym game id.
        policy_agent: The agent under test; played in vector mode if it has ``obs_mode = "vector"``,
            in text mode otherwise.
        opponent: One agent (or ``"random"``) for every other seat, or a list with one per other seat.
        episodes: Hands to play (at least 2).
        seed: Root seed of the hands.
        confidence: Confidence level of the interval (default 0.95).
        **env_kwargs: Further env arguments (e.g. ``max_turns``).

    Returns:
        ``{"mean", "stderr", "ci95": (low, high), "std", "n", "seat_means": [mean payoff per seat]}``;
        ``ci95`` holds the interval at ``confidence``.
    """
    if episodes < 2:
        raise ValueError(f"episodes must be at least 2 for a confidence interval, got {episodes}")
    obs_mode = getattr(policy_agent, "obs_mode", "text")
    probe = turngym.envs.make(env_id, obs_mode=obs_mode, opponents=opponent, seat=0, **env_kwargs)
    num_players = _num_players(probe)
    envs = [probe] + [turngym.envs.make(env_id, obs_mode=obs_mode, opponents=opponent, seat=s, **env_kwargs)
                      for s in range(1, num_players)]
    with_rng = accepts_rng(policy_agent)
    seeds = np.random.SeedSequence(seed).generate_state(episodes, dtype=np.uint32)
    payoffs = np.zeros(episodes, dtype=np.float64)
    for i in range(episodes):
        env = envs[i % num_players]
        obs, info = env.reset(seed=int(seeds[i]))
        total, done = 0.0, False
        while not done:
            if with_rng:
                action = policy_agent.act([obs], [info], rng=env.np_random)[0]
            else:
                action = policy_agent.act([obs], [info])[0]
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            done = terminated or truncated
        payoffs[i] = total
    for env in envs:
        env.close()
    mean, low, high = mean_ci(payoffs, confidence)
    std = float(payoffs.std(ddof=1))
    stderr = std / np.sqrt(episodes)
    return {
        "mean": mean,
        "stderr": float(stderr),
        "ci95": (float(low), float(high)),
        "std": std,
        "n": episodes,
        "seat_means": [float(payoffs[s::num_players].mean()) for s in range(num_players)],
    }
