"""PPO with one shared policy on Harvest through SuperSuit's PettingZoo -> Stable-Baselines3 conversion.

``supersuit.pettingzoo_env_to_vec_env_v1`` turns the Harvest ``ParallelEnv`` into a vector env with one
slot per player, and ``concat_vec_envs_v1`` stacks copies of it into one SB3 ``VecEnv``; a single SB3
PPO policy then acts in every slot, i.e. full parameter sharing (the standard SuperSuit recipe).

The vector observation is ``Dict(observation=Box(605,), action_mask=MultiBinary(8))``; every Harvest
action is always legal (the mask is all ones), so ``observation_lambda_v0`` keeps only the Box, which
loses nothing and lets ``MlpPolicy`` take it directly.

SB3's PPO samples actions and minibatches from the global torch and numpy RNGs. To stay reproducible
without leaving global state changed, training and evaluation run inside ``isolated_global_rng``,
which seeds those RNGs and restores the caller's state on exit.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

ENV_ID = "turngym/Harvest-v0"
METRICS: tuple[str, ...] = ("efficiency", "equality", "sustainability", "peace")


@contextlib.contextmanager
def isolated_global_rng(seed: int) -> Iterator[None]:
    """Seeds Python's, numpy's and torch's global RNGs for the block and restores them afterwards.

    For third-party code (SB3 PPO) that draws from global RNGs: the block is reproducible from ``seed``
    and the caller's RNG streams continue as if the block had not run.
    """
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


def _observation_only(env: Any) -> Any:
    import supersuit as ss

    return ss.observation_lambda_v0(env, lambda obs, space: obs["observation"], lambda space: space["observation"])


def make_harvest_vec_env(num_copies: int = 1, seed: int | None = None, **env_kwargs: Any) -> Any:
    """SB3 ``VecEnv`` of ``num_copies`` Harvest games, one slot per player (``num_copies * num_players`` slots).

    Args:
        num_copies: Harvest games stepped side by side (in-process, ``num_cpus=0``).
        seed: Seeds the games' RNGs (copy ``i`` gets ``seed + i``; later auto-resets continue those streams).
        **env_kwargs: Harvest arguments (``num_players``, ``horizon``, ``map``, ...); ``obs_mode`` is
            always ``"vector"``.

    Returns:
        A SuperSuit ``SB3VecEnvWrapper`` with ``Box(605,)`` observations and ``Discrete(8)`` actions.
    """
    import supersuit as ss

    import turngym.envs

    env = _observation_only(turngym.envs.make_parallel(ENV_ID, obs_mode="vector", **env_kwargs))
    vec = ss.concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1(env), num_copies, num_cpus=0,
                                base_class="stable_baselines3")
    if seed is not None:
        # SuperSuit 3.11's SB3 wrapper forwards seed() to ConcatVecEnv, which has no seed(); seed through the
        # inner reset instead (SB3's first reset() then continues these seeded streams).
        vec.venv.reset(seed=seed)
    return vec


def train_harvest_ppo(timesteps: int, seed: int = 0, *, num_copies: int = 2, n_steps: int = 128,
                      batch_size: int = 256, ppo_kwargs: dict[str, Any] | None = None, progress: bool = False,
                      **env_kwargs: Any) -> Any:
    """Trains one PPO policy shared by every Harvest player (SuperSuit conversion, SB3 PPO).

    Args:
        timesteps: Agent-steps of experience (SB3 counts one per slot per step).
        seed: Seed of the games, the weights and PPO's sampling.
        num_copies: Harvest games per rollout.
        n_steps: Rollout length per slot (rollout = ``n_steps * num_copies * num_players`` transitions).
        batch_size: PPO minibatch size.
        ppo_kwargs: Further ``stable_baselines3.PPO`` arguments (override the above).
        progress: SB3's progress bar.
        **env_kwargs: Harvest arguments (e.g. ``horizon=200`` for shorter episodes).

    Returns:
        The trained ``stable_baselines3.PPO``; ``model.get_env()`` is the training env.
    """
    from stable_baselines3 import PPO

    vec = make_harvest_vec_env(num_copies, seed, **env_kwargs)
    kwargs: dict[str, Any] = {"n_steps": n_steps, "batch_size": batch_size, "n_epochs": 4, "learning_rate": 3e-4,
                              "gamma": 0.99, "ent_coef": 0.01, "device": "cpu", "verbose": 0}
    kwargs.update(ppo_kwargs or {})
    with isolated_global_rng(seed):
        model = PPO("MlpPolicy", vec, **kwargs)
        model.learn(total_timesteps=timesteps, progress_bar=progress)
    return model


def ppo_act(model: Any, deterministic: bool = False) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    """An ``act(obs (n, 605), rng) -> actions (n,)`` function from an SB3 model (samples the policy)."""

    def act(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.asarray(model.predict(obs, deterministic=deterministic)[0], dtype=np.int64)

    return act


def random_act(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniformly random Harvest actions (8 of them), one per row of ``obs``."""
    return rng.integers(0, 8, size=obs.shape[0])


def evaluate_harvest(act: Callable[[np.ndarray, np.random.Generator], np.ndarray], episodes: int = 2,
                     seed: int = 0, **env_kwargs: Any) -> dict[str, Any]:
    """Social outcomes (Perolat et al. 2017) of a policy playing every Harvest seat.

    Plays ``episodes`` full episodes of the PettingZoo Parallel env (vector mode) and reads the env's own
    end-of-episode ``info["social"]``.

    Args:
        act: ``act(obs, rng) -> actions`` for all players at once (``ppo_act(model)`` or ``random_act``).
        episodes: Episodes to average.
        seed: Seeds the games and ``rng`` (and SB3's sampling, through ``isolated_global_rng``).
        **env_kwargs: Harvest arguments (use the training ones).

    Returns:
        ``{metric: mean}`` for efficiency, equality, sustainability and peace, ``{metric}_std`` across
        episodes, ``episodes`` and ``per_episode`` (list of the four-metric dicts).
    """
    import turngym.envs

    env = turngym.envs.make_parallel(ENV_ID, obs_mode="vector", **env_kwargs)
    seq = np.random.SeedSequence(seed)
    rng = np.random.default_rng(seq.spawn(1)[0])
    per_episode: list[dict[str, float]] = []
    with isolated_global_rng(seed):
        for ep_seed in seq.generate_state(episodes):
            obs, _ = env.reset(seed=int(ep_seed))
            social = None
            while env.agents:
                names = list(env.agents)
                actions = act(np.stack([obs[a]["observation"] for a in names]), rng)
                obs, _, terms, truncs, infos = env.step(dict(zip(names, (int(x) for x in actions), strict=True)))
                if any(terms.values()) or any(truncs.values()):
                    social = infos[names[0]].get("social")
                    break
            if social is None:
                raise RuntimeError("Harvest episode ended without info['social']")
            per_episode.append({k: float(social[k]) for k in METRICS})
    out: dict[str, Any] = {k: float(np.mean([e[k] for e in per_episode])) for k in METRICS}
    out.update({f"{k}_std": float(np.std([e[k] for e in per_episode])) for k in METRICS})
    out["episodes"] = episodes
    out["per_episode"] = per_episode
    return out
