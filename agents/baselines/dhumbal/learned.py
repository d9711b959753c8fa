"""Learned Dhumbal agents: MaskablePPO (sb3-contrib) and a legal-action-masked DQN (Stable-Baselines3).

Both train on the single-agent vector view of ``turngym/Dhumbal-v0`` (``Dict(observation, action_mask)``,
``Discrete(318)``) against a fixed pool of opponent tables, and play through ``SB3Policy``, which never
picks an illegal action. Small trained weights ship in ``agents/baselines/dhumbal/weights/`` (one file per algorithm
and ruleset) so ``make_agent("ppo")`` / ``make_agent("dqn")`` work offline.

Training pool (``TRAINING_TABLES``): one vectorised env copy per table, the learner's seat drawn at every
reset. The observation has the same size for 2–5 players (opponent slots are zero-padded), so one model
learns the 2-player and the 4-player game, the two table sizes of the study's tournaments. Rewards are
the coin change divided by ``REWARD_SCALE`` (only for learning; evaluation reports coins).

Masked DQN (written here because SB3's DQN has no action masks): Q-values of illegal actions are set to
a large negative number inside the Q-network, so both the greedy action and the bootstrap target
``max_a' Q_target(s', a')`` range over legal actions only (the masked Bellman target of invalid-action
masking, Huang & Ontañón 2022); epsilon-greedy exploration draws among legal actions from the model's own
``numpy.random.Generator`` instead of NumPy's global RNG.

Train (``python -m turngym.agents.baselines.dhumbal.learned --algo ppo --ruleset standard``; see ``--help``) writes
``<out>/<algo>_<ruleset>.pt`` (the policy: weights and architecture, what playing needs), the whole model
as ``<out>/<algo>_<ruleset>.zip`` only with ``--save-model``, and a JSON summary with an evaluation.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ENV_ID = "turngym/Dhumbal-v0"
WEIGHTS_DIR = Path(__file__).parent / "weights"
ALGOS = ("ppo", "dqn")
REWARD_SCALE = 100.0
#: Opponent tables of the training pool (learner + these); two- and four-player games.
TRAINING_TABLES: tuple[tuple[str, ...], ...] = (
    ("aggressive", "aggressive", "aggressive"),
    ("aggressive", "random", "balanced"),
    ("conservative", "opportunistic", "random"),
    ("random", "random", "random"),
    ("aggressive",),
    ("balanced",),
)
MASKED_Q = -1.0e8


def weights_path(algo: str, ruleset: str = "standard", directory: str | Path | None = None) -> Path:
    """Where the policy weights of ``algo`` for ``ruleset`` live (the shipped ones unless ``directory``)."""
    return Path(directory or WEIGHTS_DIR) / f"{algo}_{ruleset}.pt"


# ------------------------------------------------------------------------------------------ masked DQN
def _masked_dqn_classes() -> tuple[type, type]:
    """Builds ``MaskedDQN`` and its policy lazily (SB3 and torch import only when needed)."""
    import torch
    from stable_baselines3 import DQN
    from stable_baselines3.dqn.policies import MultiInputPolicy, QNetwork

    class MaskedQNetwork(QNetwork):
        """``QNetwork`` whose illegal actions score ``MASKED_Q`` (rows with no legal action are left as is)."""

        def forward(self, obs: Any) -> torch.Tensor:
            q = super().forward(obs)
            legal = obs["action_mask"] > 0.5
            keep = legal | ~legal.any(dim=1, keepdim=True)
            return torch.where(keep, q, torch.full_like(q, MASKED_Q))

    class MaskedDQNPolicy(MultiInputPolicy):
        """DQN policy over ``Dict(observation, action_mask)`` with masked Q-networks (online and target)."""

        def make_q_net(self) -> MaskedQNetwork:
            net_args = self._update_features_extractor(self.net_args, features_extractor=None)
            return MaskedQNetwork(**net_args).to(self.device)

    class MaskedDQN(DQN):
        """SB3 ``DQN`` whose exploration picks uniformly among legal actions, from its own RNG."""

        def __init__(self, *args: Any, **kwargs: Any):
            seed = kwargs.get("seed")
            self.explore_rng = np.random.default_rng(seed)
            super().__init__(*args, **kwargs)

        def _random_legal(self, masks: np.ndarray) -> np.ndarray:
            out = np.zeros(len(masks), dtype=np.int64)
            for i, row in enumerate(np.asarray(masks)):
                ids = np.flatnonzero(row)
                out[i] = int(self.explore_rng.choice(ids)) if len(ids) else 0
            return out

        def predict(self, observation: Any, state: Any = None, episode_start: Any = None,
                    deterministic: bool = False) -> tuple[np.ndarray, Any]:
            if not deterministic and self.explore_rng.random() < self.exploration_rate:
                masks = np.asarray(observation["action_mask"]).reshape(-1, self.action_space.n)
                return self._random_legal(masks), state
            return self.policy.predict(observation, state, episode_start, deterministic=True)

        def _sample_action(self, learning_starts: int, action_noise: Any = None,
                           n_envs: int = 1) -> tuple[np.ndarray, np.ndarray]:
            if self.num_timesteps < learning_starts:
                action = self._random_legal(self._last_obs["action_mask"])
            else:
                action, _ = self.predict(self._last_obs, deterministic=False)
            return action, action

    return MaskedDQN, MaskedDQNPolicy


def load_model(algo: str, path: str | Path) -> Any:
    """Loads ``algo``'s weights on the CPU: a policy file (``.pt``, what ships) or a whole SB3 model (``.zip``).

    Args:
        algo: ``"ppo"`` (MaskablePPO) or ``"dqn"`` (masked DQN).
        path: ``<name>.pt`` saved with ``model.policy.save`` (weights and architecture, no optimizer or
            replay state: what playing needs), or ``<name>.zip`` saved with ``model.save``.

    Returns:
        The policy (``.pt``) or the model (``.zip``); ``SB3Policy`` accepts either.
    """
    if algo not in ALGOS:
        raise ValueError(f"algo must be one of {ALGOS}, got {algo!r}")
    zipped = str(path).endswith(".zip")
    if algo == "ppo":
        if zipped:
            from sb3_contrib import MaskablePPO

            return MaskablePPO.load(str(path), device="cpu")
        from sb3_contrib.common.maskable.policies import MaskableMultiInputActorCriticPolicy

        return MaskableMultiInputActorCriticPolicy.load(str(path), device="cpu")
    masked_dqn, masked_policy = _masked_dqn_classes()
    return masked_dqn.load(str(path), device="cpu") if zipped else masked_policy.load(str(path), device="cpu")


class LearnedAgent:
    """A trained PPO or DQN Dhumbal model behind the batched agent protocol (legal actions only).

    Args:
        algo: ``"ppo"`` or ``"dqn"``.
        ruleset: Which shipped weights to load (``"standard"`` or ``"paper"``).
        path: A saved model to load instead of the shipped one.
        deterministic: Greedy play (default) or sampling (PPO) / epsilon-greedy (DQN).
        seed: Seed of the agent's RNG for stochastic picks.
        **_: Ignored (``make_agent`` passes table options some agents use).
    """

    obs_mode = "vector"

    def __init__(self, algo: str = "ppo", ruleset: str = "standard", path: str | Path | None = None,
                 deterministic: bool = True, seed: int | None = None, **_: Any):
        from turngym.agents.baselines.sb3 import SB3Policy
        from turngym.envs.core.errors import ConfigError

        if algo not in ALGOS:
            raise ConfigError("algo", "one of " + ", ".join(ALGOS), algo)
        file = Path(path) if path is not None else weights_path(algo, ruleset)
        if not file.exists():
            raise FileNotFoundError(f"no {algo} weights at {file}; train them with `python -m "
                                    f"turngym.agents.baselines.dhumbal.learned --algo {algo} --ruleset {ruleset}`")
        self.name = algo
        self.path = file
        self.policy = SB3Policy(load_model(algo, file), deterministic=deterministic, seed=seed, name=algo)

    def act(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]], *,
            rng: np.random.Generator | None = None) -> list[Any]:
        """One legal action id per environment (``None`` where nothing is legal)."""
        return self.policy.act(observations, infos, rng=rng)


# ------------------------------------------------------------------------------------------ training
def make_training_envs(ruleset: str, seed: int, tables: Sequence[Sequence[str]] = TRAINING_TABLES) -> Any:
    """A ``DummyVecEnv`` with one masked, reward-scaled Dhumbal env per opponent table (seat random).

    Each env is ``make_masked_env``'s (``Monitor`` + ``ActionMasker``, so episode stats stay in coins) with
    the reward divided by ``REWARD_SCALE`` on top; MaskablePPO finds ``action_masks`` through the wrappers.
    """
    import gymnasium
    from stable_baselines3.common.vec_env import DummyVecEnv

    from turngym.agents.baselines.dhumbal import make_agent
    from turngym.agents.baselines.sb3 import make_masked_env

    def factory(index: int, table: Sequence[str]) -> Any:
        def make() -> Any:
            opponents = [make_agent(name, seed=seed * 1000 + index * 10 + k) for k, name in enumerate(table)]
            env = make_masked_env(ENV_ID, opponents, "random", num_players=len(table) + 1, ruleset=ruleset)
            return gymnasium.wrappers.TransformReward(env, lambda r: float(r) / REWARD_SCALE)

        return make

    return DummyVecEnv([factory(i, t) for i, t in enumerate(tables)])


def train(algo: str, ruleset: str = "standard", timesteps: int = 300_000, seed: int = 0,
          progress: bool = True, **kwargs: Any) -> Any:
    """Trains a Dhumbal PPO (MaskablePPO) or masked-DQN model on the training pool.

    Args:
        algo: ``"ppo"`` or ``"dqn"``.
        ruleset: ``"standard"`` or ``"paper"``.
        timesteps: Learner decisions, summed over the pool's envs.
        seed: Seed of the model, the envs and the opponents.
        progress: Show SB3's progress bar (tqdm/rich).
        **kwargs: Overrides of the algorithm's hyperparameters.

    Returns:
        The trained model.
    """
    if algo == "ppo":
        from sb3_contrib import MaskablePPO

        envs = make_training_envs(ruleset, seed)
        params: dict[str, Any] = {"learning_rate": 3e-4, "n_steps": 512, "batch_size": 256, "n_epochs": 4,
                                  "gamma": 0.99, "ent_coef": 0.01, "policy_kwargs": {"net_arch": [128, 128]}}
        params.update(kwargs)
        model = MaskablePPO("MultiInputPolicy", envs, seed=seed, verbose=0, device="cpu", **params)
    elif algo == "dqn":
        masked_dqn, policy = _masked_dqn_classes()
        envs = make_training_envs(ruleset, seed)  # DQN reads the mask from the observation
        params = {"learning_rate": 2.5e-4, "buffer_size": 100_000, "learning_starts": 5_000, "batch_size": 128,
                  "gamma": 0.99, "train_freq": 4, "target_update_interval": 2_000, "exploration_fraction": 0.3,
                  "exploration_final_eps": 0.05, "policy_kwargs": {"net_arch": [128, 128]}}
        params.update(kwargs)
        model = masked_dqn(policy, envs, seed=seed, verbose=0, device="cpu", **params)
    else:
        raise ValueError(f"algo must be one of {ALGOS}, got {algo!r}")
    model.learn(total_timesteps=timesteps, progress_bar=progress)
    return model


def evaluate_against(agent: Any, table: Sequence[str], ruleset: str, episodes: int, seed: int) -> dict[str, Any]:
    """Round win rate and mean coin change of ``agent`` against one opponent table, seats rotated."""
    from turngym.agents.baselines.dhumbal import make_agent
    from turngym.agents.baselines.sb3 import evaluate

    opponents = [make_agent(name, seed=seed + k) for k, name in enumerate(table)]
    result = evaluate(ENV_ID, agent, opponents, episodes=episodes, seed=seed, num_players=len(table) + 1,
                      ruleset=ruleset)
    return {"table": list(table), "coins_mean": result["mean"], "coins_ci95": list(result["ci95"])}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options of the training script."""
    p = argparse.ArgumentParser(description="Train a Dhumbal PPO (MaskablePPO) or masked-DQN agent.")
    p.add_argument("--algo", choices=ALGOS, default="ppo")
    p.add_argument("--ruleset", choices=("standard", "paper"), default="standard")
    p.add_argument("--timesteps", type=int, default=300_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(WEIGHTS_DIR), help="directory for <algo>_<ruleset>.pt")
    p.add_argument("--save-model", action="store_true", help="also save the whole SB3 model (.zip) to resume")
    p.add_argument("--eval-episodes", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (small MLPs: 1 is fastest)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Trains, saves ``<out>/<algo>_<ruleset>.pt``, evaluates against random and aggressive tables."""
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model = train(args.algo, args.ruleset, args.timesteps, args.seed)
    seconds = time.perf_counter() - t0
    path = weights_path(args.algo, args.ruleset, args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.policy.save(str(path))
    if args.save_model:
        model.save(str(path.with_suffix(".zip")))
    agent = LearnedAgent(args.algo, args.ruleset, path=path)
    evals = [evaluate_against(agent, table, args.ruleset, args.eval_episodes, seed=10_000 + i)
             for i, table in enumerate([("random",) * 3, ("aggressive",) * 3, ("aggressive", "random", "random")])]
    summary = {"algo": args.algo, "ruleset": args.ruleset, "timesteps": args.timesteps, "seed": args.seed,
               "train_seconds": round(seconds, 1), "weights": str(path), "evaluation": evals}
    path.with_suffix(".json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
