"""Training configuration: dataclasses with one docstring per field; ``turngym train``'s flags come from them.

The defaults are the embedded default run: the ``tiny`` model trained with GiGPO on Leduc hold'em
(text mode, against a random opponent, seat drawn per episode), which finishes in minutes on 2 CPU
cores. Every field is a flag, e.g. ``turngym train --algo.estimator grpo --rollout.group-size 4``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from turngym.envs.core.errors import ConfigError


def parse_json_object(name: str, text: str) -> dict[str, Any]:
    """Parses a JSON object given as a flag value.

    Strict JSON: ``NaN`` and ``Infinity`` (which Python's ``json`` accepts by default) are refused, because a
    non-finite env argument would only fail later, deep in an env, or be written back into ``config.json`` as
    text no other JSON reader accepts.

    Raises:
        ConfigError: When ``text`` is not a strict JSON object.
    """

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    try:
        value = json.loads(text, parse_constant=refuse)
    except ValueError as err:  # json.JSONDecodeError is a ValueError
        raise ConfigError(name, "a JSON object, e.g. '{\"difficulty\": 1}'", text) from err
    if not isinstance(value, dict):
        raise ConfigError(name, "a JSON object, e.g. '{\"difficulty\": 1}'", text)
    return value


@dataclass
class ModelConfig:
    """The policy model."""

    name: str = "tiny"
    """``tiny`` (embedded model, built from a config with the shipped tokenizer) or a local
    transformers model directory."""
    lora_rank: int = 0
    """LoRA rank through peft; 0 trains every parameter."""
    temperature: float = 1.0
    """Sampling temperature at rollout (also the temperature of the trained log-probs)."""
    top_p: float = 1.0
    """Nucleus sampling at rollout."""
    max_new_tokens: int = 24
    """Tokens generated per turn at most."""
    stop: tuple[str, ...] = ()
    """Stop strings (generation ends right after one; it is kept)."""
    device: str | None = None
    """``cpu``, ``cuda``; default: cuda when available."""


@dataclass
class EnvConfig:
    """The environment trained on."""

    env_id: str = "turngym/LeducHoldem-v0"
    """A registered turngym id (``turngym list``), or an id one of ``modules`` registers."""
    kwargs: str = ""
    """Env arguments for training, as a JSON object. Empty (default): the training arguments the env's registry
    entry declares (``EnvInfo.train_kwargs``; Leduc and Kuhn: text observations, a random opponent, a random
    seat; ``turngym list --json`` shows them). ``{}``: the env's own constructor defaults."""
    eval_kwargs: str = ""
    """JSON object of arguments overriding ``kwargs`` for evaluation (e.g. ``{"split": "test"}``). Empty
    (default): the held-out arguments the registry entry declares (``EnvInfo.eval_kwargs``; puzzles and tool
    use: ``{"split": "test"}``, levels and questions never trained on). ``{}``: evaluate with ``kwargs``."""
    modules: str = ""
    """Your modules that register envs (``register_env``), imported before ``env_id`` is looked up, here and
    in every subprocess/Ray env worker: a comma-separated or JSON list (``mypkg.envs``; ``mypkg.envs:register``
    also calls ``register()``). They must be importable (installed, or on ``PYTHONPATH``)."""

    def train_kwargs(self) -> dict[str, Any]:
        """``kwargs`` parsed; when empty, the registry entry's ``train_kwargs`` (imports ``modules``)."""
        if not self.kwargs.strip():
            return copy.deepcopy(dict(self.registry_entry().train_kwargs))
        return parse_json_object("env.kwargs", self.kwargs)

    def held_out_kwargs(self) -> dict[str, Any]:
        """``train_kwargs()`` updated with ``eval_kwargs`` (when empty, the registry entry's ``eval_kwargs``)."""
        if not self.eval_kwargs.strip():
            overrides = copy.deepcopy(dict(self.registry_entry().eval_kwargs))
        else:
            overrides = parse_json_object("env.eval_kwargs", self.eval_kwargs)
        return {**self.train_kwargs(), **overrides}

    def module_names(self) -> tuple[str, ...]:
        """``modules`` parsed (``make_pool(..., modules=cfg.env.module_names())``).

        Raises:
            ConfigError: Neither a JSON list of strings nor a comma-separated list of module names.
        """
        from turngym.envs.pool import check_modules

        text = self.modules.strip()
        if text.startswith("["):
            try:
                names = json.loads(text)
            except json.JSONDecodeError as err:
                raise ConfigError("env.modules", "a JSON list of module names", self.modules) from err
        else:
            names = [name.strip() for name in text.split(",") if name.strip()]
        return check_modules(names, "env.modules")

    def registry_entry(self) -> Any:
        """Imports ``modules``, then returns the registry entry (``EnvInfo``) of ``env_id``.

        Raises:
            ConfigError: A module does not import (the message names it); ``env_id`` is only in Gymnasium's
                registry (``gymnasium.register``: turngym needs ``register_env``, which declares the info
                contract, the expert and the gold answer).
            UnknownEnvError: ``env_id`` is not registered, with the nearest id.
        """
        import gymnasium

        import turngym.envs  # noqa: F401  (turngym's own ids)
        from turngym.envs.core.errors import UnknownEnvError
        from turngym.envs.core.registry import env_info
        from turngym.envs.pool import import_modules

        import_modules(self.module_names(), "env.modules")
        try:
            return env_info(self.env_id)
        except UnknownEnvError:
            if self.env_id not in gymnasium.registry:
                raise
            raise ConfigError("env.env_id", "an id registered with turngym.envs.register_env", self.env_id,
                              hint="It is registered with gymnasium.register only; register it with "
                                   "register_env(EnvInfo(...)) so turngym knows its forms and what it offers "
                                   "trainers.") from None


@dataclass
class RolloutConfig:
    """Rollouts: N tasks x G episodes per iteration."""

    tasks_per_iter: int = 8
    """N: task groups per iteration."""
    group_size: int = 8
    """G: episodes per task (they share the reset seed)."""
    history_turns: int = 0
    """Past exchanges (action, observation) kept in the prompt before the current observation."""
    include_first: bool = False
    """Keep the first observation in every prompt (turn on for tool use: it states the task)."""
    max_turns: int = 16
    """Turn budget per episode (ends as truncated)."""
    max_context_tokens: int | None = 2048
    """Prompt budget in tokens (ends as truncated)."""
    constrain: bool = True
    """Constrain decoding to the env's admissible actions when it lists them."""
    executor: Literal["inprocess", "subprocess", "ray"] = "inprocess"
    """Where envs step: in this process, in subprocess workers, or on Ray."""
    workers: int = 2
    """Workers for the subprocess and Ray executors."""


@dataclass
class AlgoConfig:
    """Advantage estimator, reward shaping and loss."""

    estimator: str = "gigpo"
    """Estimator name: grpo, rloo, gae, gigpo, igpo, mars."""
    estimator_options: str = "{}"
    """JSON object of estimator options (e.g. ``{"step_weight": 1.0, "gamma": 0.95}`` for gigpo; an option
    the estimator does not take is an error). The value targets of a value head use the same options."""

    def options(self) -> dict[str, Any]:
        """``estimator_options`` parsed."""
        return parse_json_object("algo.estimator_options", self.estimator_options)
    loss: Literal["ppo", "turn-ppo"] = "ppo"
    """Registered policy loss: ``ppo`` (token-level PPO clip) or ``turn-ppo`` (turn-level PPO, ST-PPO; it
    declares that it needs a value head)."""
    clip: float = 0.2
    """PPO clip range (lower side)."""
    clip_high: float | None = None
    """Upper clip range (clip-higher); default the same as ``clip``."""
    dual_clip: float | None = 3.0
    """Dual-clip constant c for negative advantages; None disables."""
    agg: Literal["turn-mean", "token-mean", "seq-mean", "seq-mean-token-sum"] = "turn-mean"
    """How the policy loss (``ppo`` and ``turn-ppo`` alike) is averaged over tokens. ``turn-mean`` (default;
    ``seq-mean`` is its old name): mean over each turn's tokens, then over turns, so every decision weighs the
    same. It is the default because decoding is constrained to admissible actions by default
    (``rollout.constrain``), and there a turn is one action whose token count is an accident of the
    tokenizer ("right" is 4 tokens, "up" 1): ``token-mean`` would weigh such turns by their tokenization.
    ``token-mean`` (DAPO) suits free-text completions, whose length is part of what is learned;
    ``seq-mean-token-sum``: sum over each turn's tokens, mean over turns."""
    value_coef: float = 0.5
    """Weight of the value loss (used when a value head exists: ``turn-ppo`` or the ``gae`` estimator)."""
    epo: bool = False
    """EPO entropy control (trajectory entropy bonus + entropy smoothing penalty)."""
    epo_coef: float = 0.001
    """EPO trajectory-entropy bonus weight beta (the EPO paper's runs use 0.001)."""
    epo_smooth_coef: float = 0.1
    """EPO smoothing-penalty weight (multiplied by the phase schedule ``epo_schedule``)."""
    epo_kappa_low: float = 0.0
    """Lower edge of EPO's entropy band, as a factor of the historical entropy (paper's runs: 0, no lower
    side)."""
    epo_kappa_high: float = 2.0
    """Upper edge of EPO's entropy band, as a factor of the historical entropy (paper's runs: 2.0)."""
    epo_band: Literal["hinge", "squared", "indicator"] = "hinge"
    """Form of the smoothing penalty outside the band: ``hinge`` (default: distance to the band, so it has
    a gradient that pushes entropy back), ``squared`` (the hinge squared), ``indicator`` (the paper's
    1[outside]: piecewise constant, no gradient, so it does not change the update)."""
    epo_traj_weighting: Literal["token", "turn"] = "token"
    """EPO trajectory entropy: ``token`` (every completion token of the trajectory weighs the same) or
    ``turn`` (each turn's mean token entropy, averaged over turns)."""
    epo_schedule: str = "epo"
    """Phase schedule of the smoothing-penalty weight over training progress: ``epo`` (the EPO code's
    two-phase decay: 1.0 -> 0.8 over the first half, then 0.8 exp(-3x)), ``constant``, or JSON
    ``[[progress, weight], ...]`` knots (piecewise linear)."""
    kl_coef: float = 0.0
    """Weight of the KL regularization to the frozen initial policy (> 0 builds the reference model; 0: none)."""
    kl_kind: Literal["k2", "k1-reward", "k3"] = "k2"
    """KL form: ``k2`` (default): loss (log pi/ref)^2/2, whose expected gradient is exactly that of
    KL(pi || ref), the divergence one means to limit, without passing through the estimator;
    ``k1-reward``: coef * sum of the turn's log(pi_old/ref) subtracted from each turn's reward (PPO-RLHF);
    ``k3``: GRPO's loss, whose gradient is that of the reverse direction KL(ref || pi). (k1 as a loss has
    zero expected gradient and is not offered.)"""
    gated_reward_gate: float | None = None
    """G-RA: keep step rewards only in episodes whose outcome reward is at least this; None: off."""
    invalid_action_penalty: float = 0.0
    """Subtracted from the reward of turns the env rejected as invalid."""


@dataclass
class OptimConfig:
    """Optimizer and update schedule."""

    lr: float = 3e-4
    """Adam learning rate."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    epochs: int = 1
    """Passes over each rollout batch."""
    minibatch_size: int = 64
    """Turns per optimizer step."""
    micro_batch_size: int | None = None
    """Turns per forward/backward pass (gradients accumulate over a minibatch); None: the whole minibatch."""
    max_grad_norm: float = 1.0
    """Gradient clipping: the global gradient norm is clipped to this (the pre-clip norm is logged as
    ``train/grad_norm``)."""
    target_kl: float | None = 0.5
    """Early stop of an iteration's update (SB3's ``target_kl``): when a minibatch's approximate KL(old ||
    new) (per token) exceeds 1.5 x this, its step is skipped and the remaining minibatches and epochs are
    dropped (``train/early_stopped``, ``train/epochs_done``). None disables it. Default 0.5, a collapse guard
    rather than a step-size target: on the default run the largest minibatch approx-KL measured was about
    0.2 (iteration 1; 0.0002-0.03 afterwards), so the guard (0.75) stays silent there, while the collapses
    of issue 13 (approx-KL up to 1e5) stop at their first minibatch. SB3 zoo values (0.01-0.05) would cut
    the default run's first updates; set them for small-step tuning."""


@dataclass
class SFTConfig:
    """Supervised warm start on scripted-expert trajectories (``turngym sft``)."""

    episodes: int = 0
    """Expert episodes to fine-tune on before RL (0: no warm start)."""
    steps: int = 200
    """Optimizer steps."""
    batch_size: int = 16
    """Turns per step."""
    lr: float = 1e-3
    """Learning rate."""
    prompt_weight: float = 0.0
    """Weight of the prompt tokens' log-likelihood in the warm-start loss (0: the expert's replies only). A
    randomly initialized model (``tiny``) learns to read the observations from the prompt loss: with only
    the reply trained it stays at chance on Sokoban (README)."""


@dataclass
class OpponentPoolConfig:
    """Self-play's pool of past checkpoints (used with ``--selfplay``; ``turngym.agents.llm.selfplay``)."""

    fraction: float = 0.0
    """Expected fraction of seats filled from the pool (the learner keeps at least one seat, so at most
    (n - 1) / n in an n-player game; 0: pure self-play)."""
    snapshot_every: int = 10
    """Add a frozen copy of the policy to the pool every this many iterations (the starting policy is the
    pool's first member)."""
    max_size: int = 8
    """Most checkpoints kept in the pool (the oldest is dropped first)."""
    sampling: Literal["uniform", "rating"] = "uniform"
    """How an opponent is picked: ``uniform``, or ``rating`` (prioritized fictitious self-play: weight = each
    checkpoint's Bradley-Terry chance to beat the learner, from the games against the pool so far)."""


@dataclass
class TrainConfig:
    """A training run. The defaults are the embedded default run (README)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    selfplay: bool = False
    """Self-play on the env's PettingZoo AEC form: the policy holds every seat (each seat's turns are its
    own trajectory, ``agent_id`` = seat; pair with ``--algo.estimator mars``), and ``opponents.fraction`` of
    the seats go to past checkpoints. Evaluation still plays the single-agent form (``env.eval_kwargs``)."""
    opponents: OpponentPoolConfig = field(default_factory=OpponentPoolConfig)
    iterations: int = 50
    """RL iterations (one rollout + update each)."""
    seed: int = 0
    """Root seed: model init, sampling, task seeds."""
    eval_every: int = 10
    """Evaluate every this many iterations (and before the first and after the last)."""
    eval_episodes: int = 1000
    """Held-out episodes per evaluation."""
    eval_temperature: float = 1.0
    """Sampling temperature at evaluation (1: the stochastic policy as trained; 0: greedy)."""
    checkpoint_every: int = 10
    """Save a checkpoint every this many iterations (and at the end)."""
    keep_checkpoints: int = 2
    """Checkpoints kept in ``checkpoints/`` (the newest); 0 keeps every one (e.g. to evaluate them later)."""
    out_dir: str = "runs/default"
    """Run directory (one run per folder): config.json, metrics.jsonl, TensorBoard events, checkpoints,
    curves.png, summary.json. Must be new or empty unless ``--resume`` or ``--overwrite`` is given."""
    resume: bool = False
    """Continue the run in ``out_dir`` from its newest checkpoint (bit-for-bit the same as an uninterrupted
    run; with ``--selfplay`` the opponent pool, its game records and RNG are restored too). Refused when this
    config differs from the run's in a field outside ``RESUMABLE_FIELDS``."""
    overwrite: bool = False
    """Replace the run in ``out_dir`` (its config, metrics, TensorBoard files, checkpoints, curves and
    summary are removed first). Without this or ``--resume``, a non-empty ``out_dir`` is refused."""
    tensorboard: bool = True
    """Also write TensorBoard event files."""
    progress: bool = True
    """Show a progress bar."""
    torch_threads: int | None = None
    """torch intra-op threads (default: torch's choice)."""


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config."""
    return dataclasses.asdict(cfg)


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuilds a (nested) config dataclass from ``to_dict`` output.

    Raises:
        ValueError: On keys the dataclass does not have.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown config keys {sorted(unknown)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        sub = _nested_type(cls, name)
        if sub is not None and isinstance(value, dict):
            kwargs[name] = from_dict(sub, value)
        elif isinstance(value, list) and name == "stop":
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


_NESTED = {"model": ModelConfig, "env": EnvConfig, "rollout": RolloutConfig, "algo": AlgoConfig,
           "optim": OptimConfig, "sft": SFTConfig, "opponents": OpponentPoolConfig}


def _nested_type(cls: type, name: str) -> type | None:
    return _NESTED.get(name) if cls is TrainConfig else None


#: Fields a ``--resume`` may change: how long the run goes on, where and how it runs, what it logs and
#: how often it evaluates or saves. None of them changes the training trajectory (evaluation restores the
#: sampling RNG; the executors step the same envs), except that ``model.device`` and ``torch_threads`` can
#: change float rounding. Every other field must equal the checkpoint's.
RESUMABLE_FIELDS = frozenset({
    "iterations", "out_dir", "resume", "overwrite", "progress", "tensorboard", "torch_threads",
    "eval_every", "checkpoint_every", "keep_checkpoints", "rollout.executor", "rollout.workers", "model.device",
})


def flat_items(cfg: Any) -> dict[str, Any]:
    """The config's leaf values by dotted name (``{"model.temperature": 1.0, ...}``)."""
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}{key}.", sub)
        else:
            out[prefix[:-1]] = value

    walk("", to_dict(cfg))
    return out


def resume_differences(saved: TrainConfig, given: TrainConfig) -> list[str]:
    """Dotted names of the fields outside ``RESUMABLE_FIELDS`` where ``given`` differs from ``saved``."""
    a, b = flat_items(saved), flat_items(given)
    return sorted(k for k in a.keys() | b.keys()
                  if k not in RESUMABLE_FIELDS and _normal(a.get(k)) != _normal(b.get(k)))


def _normal(value: Any) -> Any:
    # JSON turns tuples into lists: ("</answer>",) read back from a checkpoint equals the flag's tuple.
    return list(value) if isinstance(value, tuple) else value


_INT_AT_LEAST_1 = ("iterations", "eval_every", "eval_episodes", "checkpoint_every", "rollout.tasks_per_iter",
                   "opponents.snapshot_every", "opponents.max_size",
                   "rollout.group_size", "rollout.max_turns", "rollout.workers", "optim.epochs",
                   "optim.minibatch_size", "model.max_new_tokens", "sft.steps", "sft.batch_size")
_INT_AT_LEAST_0 = ("seed", "keep_checkpoints", "model.lora_rank", "rollout.history_turns", "sft.episodes")
_OPTIONAL_INT_AT_LEAST_1 = ("rollout.max_context_tokens", "optim.micro_batch_size", "torch_threads")
#: name -> (test, what is accepted), for numbers whose range matters before the first rollout.
_NUMBER_RANGES: dict[str, tuple[Any, str]] = {
    "model.temperature": (lambda v: v >= 0, "a number >= 0 (0: greedy)"),
    "eval_temperature": (lambda v: v >= 0, "a number >= 0 (0: greedy)"),
    "model.top_p": (lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "optim.lr": (lambda v: v > 0, "a number > 0"),
    "optim.weight_decay": (lambda v: v >= 0, "a number >= 0"),
    "optim.max_grad_norm": (lambda v: v > 0, "a number > 0"),
    "sft.lr": (lambda v: v > 0, "a number > 0"),
    "opponents.fraction": (lambda v: 0 <= v < 1, "a number in [0, 1) (the learner keeps a seat)"),
    "sft.prompt_weight": (lambda v: v >= 0, "a number >= 0"),
    "algo.value_coef": (lambda v: v >= 0, "a number >= 0"),
    "algo.epo_coef": (lambda v: v >= 0, "a number >= 0"),
    "algo.epo_smooth_coef": (lambda v: v >= 0, "a number >= 0"),
    "algo.kl_coef": (lambda v: v >= 0, "a number >= 0"),
    "algo.epo_kappa_low": (lambda v: v >= 0, "a number >= 0"),
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_config(cfg: TrainConfig) -> None:
    """Checks every field ``train`` relies on before anything is built, loaded or written.

    Checked: every number is finite (NaN passes every range comparison, ``nan < 0`` is False, so a NaN
    temperature used to reach the sampler and fail a minute later), counts are ints in range, sampling
    and optimizer numbers are in range, the JSON fields parse, and the env is trained in text mode (every
    ``turngym train`` policy is a language model; vector observations are for SB3).

    Raises:
        ConfigError: Naming the first invalid field, what it accepts and what it got.
    """
    values = flat_items(cfg)
    for name, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(name, "a finite number", value)
    for name in _INT_AT_LEAST_1:
        if not _is_int(values[name]) or values[name] < 1:
            raise ConfigError(name, "an int >= 1", values[name])
    for name in _INT_AT_LEAST_0:
        if not _is_int(values[name]) or values[name] < 0:
            raise ConfigError(name, "an int >= 0", values[name])
    for name in _OPTIONAL_INT_AT_LEAST_1:
        if values[name] is not None and (not _is_int(values[name]) or values[name] < 1):
            raise ConfigError(name, "an int >= 1 or None", values[name])
    for name, (test, expected) in _NUMBER_RANGES.items():
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not test(value):
            raise ConfigError(name, expected, value)
    target_kl = cfg.optim.target_kl
    if target_kl is not None and (isinstance(target_kl, bool) or not isinstance(target_kl, int | float)
                                  or not target_kl > 0):
        raise ConfigError("optim.target_kl", "a number > 0, or None (no early stop)", target_kl)
    if not cfg.algo.epo_kappa_high > cfg.algo.epo_kappa_low:
        raise ConfigError("algo.epo_kappa_high", f"a number > algo.epo_kappa_low ({cfg.algo.epo_kappa_low})",
                          cfg.algo.epo_kappa_high)
    cfg.algo.options()
    if cfg.selfplay and cfg.env.registry_entry().aec is None:
        raise ConfigError("env.env_id", "an env with a PettingZoo AEC form for --selfplay (turngym list shows the "
                          "forms; e.g. turngym/TicTacToe-v0)", cfg.env.env_id)
    for name, kwargs in (("env.kwargs", cfg.env.train_kwargs()), ("env.eval_kwargs", cfg.env.held_out_kwargs())):
        mode = kwargs.get("obs_mode", "text")
        if mode != "text":
            raise ConfigError(f"{name} obs_mode", "'text' (turngym train trains language models; vector "
                              "observations are for Stable-Baselines3 agents)", mode)


def save_config(cfg: TrainConfig, path: Path) -> None:
    """Writes ``cfg`` as JSON."""
    path.write_text(json.dumps(to_dict(cfg), indent=2, sort_keys=True))


def config_json(cfg: TrainConfig) -> str:
    """``cfg`` as JSON text (stored in checkpoints, so a resume can check it belongs to the same run)."""
    return json.dumps(to_dict(cfg), sort_keys=True)


def load_config(path: Path) -> TrainConfig:
    """Reads a config written by ``save_config``."""
    return from_dict(TrainConfig, json.loads(path.read_text()))
