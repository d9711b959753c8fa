"""``train(config)``: the training pipeline of DESIGN section 4, composed from small parts.

rollout (``turngym.agents.llm.rollout.collect``) -> one ``RolloutBatch`` (turn rows for the estimators, token
rows for the update, built together) -> reward shaping, the loss's reward penalty, advantage estimator (by
name, from the registry) and value targets (``turngym.agents.llm.train.targets``) -> loss (by name, from the
loss registry) -> optimizer step (``turngym.agents.llm.train.update.ppo_update``) -> logging, evaluation,
checkpoints. The loop never branches on an estimator's or a loss's name: both declare what they need
(``value``: a value head is trained; ``score``: information-gain scores are computed during the rollout),
and each requirement is checked against the env before any model is loaded
(``turngym.agents.llm.train.requirements``).
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from turngym.agents.llm.estimators import estimator_metrics
from turngym.agents.llm.estimators.registry import requirements
from turngym.agents.llm.losses import ValueHead
from turngym.agents.llm.losses.registry import build_loss, loss_requirements
from turngym.agents.llm.policies.lm import LMPolicy
from turngym.agents.llm.policies.tiny import build_policy
from turngym.agents.llm.rollout import Episode, RolloutSettings, collect, rollout_metrics
from turngym.agents.llm.selfplay import OpponentPool, check_pool_state, collect_selfplay, selfplay_metrics
from turngym.agents.llm.train.checkpoint import (
    CheckpointError,
    check_run_folder,
    clear_run_folder,
    load_checkpoint,
    save_checkpoint,
    validate_checkpoint,
)
from turngym.agents.llm.train.config import (
    RESUMABLE_FIELDS,
    TrainConfig,
    config_json,
    flat_items,
    from_dict,
    resume_differences,
    save_config,
    validate_config,
)
from turngym.agents.llm.train.evaluate import evaluate
from turngym.agents.llm.train.logs import RunLogger, plot_curves, read_metrics
from turngym.agents.llm.train.requirements import check_requirements
from turngym.agents.llm.train.rollout_batch import RolloutBatch, build_rollout_batch
from turngym.agents.llm.train.sft import expert_examples, supervised_finetune
from turngym.agents.llm.train.targets import update_inputs
from turngym.agents.llm.train.update import UpdateInputs, ppo_update, reference_logprobs, turn_values
from turngym.agents.stats import paired_rate_test
from turngym.envs.pool import EnvPool, make_pool

#: Per-episode outcomes of every held-out evaluation, in the run folder.
EVAL_EPISODES = "eval_episodes.jsonl"
#: Every self-play game (iteration, seed, who held each seat, returns), in the run folder.
SELFPLAY_GAMES = "selfplay_games.jsonl"


@dataclass
class TrainResult:
    """What a finished run returns.

    Attributes:
        out_dir: Run directory.
        eval_before: Held-out metrics of the starting policy (after any SFT warm start).
        eval_after: Held-out metrics of the final policy.
        policy: The trained policy.
        history: Every logged row (iteration + namespaced metrics).
        eval_paired: McNemar's test of the first vs the last evaluation (``paired_eval``; None without two).
    """

    out_dir: Path
    eval_before: dict[str, float]
    eval_after: dict[str, float]
    policy: LMPolicy
    history: list[dict[str, Any]]
    eval_paired: dict[str, float] | None = None


def train_seeds(gen: np.random.Generator, n: int) -> list[int]:
    """Training reset seeds: even numbers, so they never meet the odd held-out seeds."""
    return [2 * int(s) for s in gen.integers(0, 2**30, size=n)]


def eval_seeds(seed: int, n: int) -> list[int]:
    """Held-out reset seeds (odd numbers; fixed per run seed so every evaluation sees the same episodes)."""
    gen = np.random.default_rng([seed, 7919])
    return [2 * int(s) + 1 for s in gen.choice(2**30, size=n, replace=False)]


def step_group_stats(batch: Any) -> dict[str, float]:
    """Sizes of the (task group, state_key) step groups GiGPO pools (``env/`` metrics)."""
    if len(batch) == 0:
        return {}
    pairs = batch.group_id * (int(batch.state_key.max()) + 1) + batch.state_key
    _, inverse, counts = np.unique(pairs, return_inverse=True, return_counts=True)
    per_row = counts[inverse.reshape(-1)]
    return {"step_group_size_mean": float(per_row.mean()), "step_groups": float(counts.size),
            "step_group_nonsingleton_frac": float((per_row > 1).mean())}


def run_requirements(cfg: TrainConfig) -> frozenset[str]:
    """What the run's estimator and loss declared they need (``value``, ``score``)."""
    return requirements(cfg.algo.estimator) | loss_requirements(cfg.algo.loss)


def _validate(cfg: TrainConfig) -> None:
    """Every check that needs no model: a bad config fails in a second, not after loading (issue 12, item 12).

    Each requirement the estimator and the loss declare is checked against the env (``check_requirements``:
    ``score`` needs an env with a gold-answer accessor), so e.g. IGPO on Leduc is a ``ConfigError`` here.
    """
    validate_config(cfg)
    estimator_needs = requirements(cfg.algo.estimator)  # ConfigError with a suggestion for unknown names
    loss_needs = loss_requirements(cfg.algo.loss)
    cfg.env.registry_entry()  # imports the user's env modules; UnknownEnvError naming the nearest id
    cfg.env.held_out_kwargs()  # both JSON objects parse (ConfigError naming the flag)
    build_loss(cfg.algo, "value" in estimator_needs | loss_needs)  # the losses check their own ranges
    check_requirements(estimator_needs, cfg.env.env_id, f"estimator {cfg.algo.estimator!r}")
    check_requirements(loss_needs, cfg.env.env_id, f"loss {cfg.algo.loss!r}")


def snapshot_iterations(iteration: int, snapshot_every: int, max_size: int) -> list[int]:
    """The iterations whose weights the opponent pool holds after ``iteration`` iterations, oldest first.

    ``_Run.selfplay_rollout`` adds ``iter{it - 1}`` at the start of every iteration ``it`` with
    ``(it - 1) % snapshot_every == 0``, and the pool keeps its ``max_size`` newest members.
    """
    return list(range(0, iteration, snapshot_every))[-max_size:]


def _check_resumed_pool(cfg: TrainConfig, state: dict[str, Any], path: Path) -> None:
    """A self-play checkpoint holds the opponent pool this run's schedule built by its iteration; others hold none.

    Raises:
        CheckpointError: No pool in a self-play checkpoint (one saved before the pool was checkpointed), a pool
            in another run's checkpoint, or a pool that is malformed or does not follow ``cfg.opponents``.
    """
    pool = state.get("opponent_pool")
    if not cfg.selfplay:
        if pool is not None:
            raise CheckpointError(f"{path}: holds an opponent pool, but its run is not a self-play run")
        return
    if pool is None:
        raise CheckpointError(f"{path}: a self-play checkpoint without its opponent pool (saved by a turngym "
                              "that did not checkpoint the pool); it cannot be resumed exactly: start a new run")
    it, o = int(state["iteration"]), cfg.opponents
    try:
        check_pool_state(pool, o.max_size)
    except ValueError as err:
        raise CheckpointError(f"{path}: 'opponent_pool': {err}") from None
    names = [f"iter{j}" for j in snapshot_iterations(it, o.snapshot_every, o.max_size)]
    added = len(range(0, it, o.snapshot_every))
    held = [m["name"] for m in pool["members"]]
    if held != names or pool["added"] != added:
        raise CheckpointError(f"{path}: 'opponent_pool' holds {held} ({pool['added']} added); after iteration {it} "
                              f"with opponents.snapshot_every={o.snapshot_every} and max_size={o.max_size} it holds "
                              f"{names} ({added} added)")
    last = pool["last_learner"]
    if last is not None and last not in {f"iter{j}" for j in range(it)}:
        raise CheckpointError(f"{path}: 'opponent_pool' last_learner {last!r} is not one of iter0..iter{it - 1}")


def _resume_state(cfg: TrainConfig, path: Path) -> dict[str, Any]:
    """The checkpoint at ``path``, checked to be well formed and to belong to a run of ``cfg``.

    Raises:
        CheckpointError: Unreadable, forged, out of range, from a run with a different config, or (self-play)
            with an opponent pool that is missing, malformed or off the run's snapshot schedule.
    """
    state = load_checkpoint(path)
    validate_checkpoint(state, path, cfg.iterations)
    try:
        saved = from_dict(TrainConfig, json.loads(state["config"]))
    except (ValueError, TypeError, AttributeError) as err:
        raise CheckpointError(f"{path}: its 'config' is not a TrainConfig ({err})") from None
    differ = resume_differences(saved, cfg)
    if differ:
        was, now = flat_items(saved), flat_items(cfg)
        shown = "; ".join(f"{k}: run {was.get(k)!r}, given {now.get(k)!r}" for k in differ)
        raise CheckpointError(
            f"--resume: this config differs from the run in {cfg.out_dir} ({shown}) "
            f"(only {', '.join(sorted(RESUMABLE_FIELDS))} may change on resume); pass the run's values, "
            "or start a new run in another --out-dir")
    _check_resumed_pool(cfg, state, path)
    return state


class _Run:
    """The objects of one run (built once, then stepped by ``train``)."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.out = Path(cfg.out_dir)
        m = cfg.model
        self.policy = build_policy(m.name, seed=cfg.seed, device=m.device, temperature=m.temperature,
                                   top_p=m.top_p, max_new_tokens=m.max_new_tokens, stop=m.stop)
        if m.lora_rank > 0:
            self.policy = self.policy.with_lora(r=m.lora_rank)
        self.model = self.policy.model
        self.requires = run_requirements(cfg)
        with_value = "value" in self.requires
        self.value_head = None
        if with_value:
            hidden = int(self.model.config.hidden_size)
            self.value_head = ValueHead(hidden, generator=torch.Generator().manual_seed(cfg.seed + 1)).to(
                next(self.model.parameters()).device)
        self.loss_fn = build_loss(cfg.algo, with_value)
        params = [p for p in self.model.parameters() if p.requires_grad]
        if self.value_head is not None:
            params += list(self.value_head.parameters())
        self.optimizer = torch.optim.AdamW(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
        self.shuffle = torch.Generator().manual_seed(cfg.seed + 2)
        self.task_rng = np.random.default_rng([cfg.seed, 1])
        self.ref_model: torch.nn.Module | None = None
        self.settings = RolloutSettings(history_turns=cfg.rollout.history_turns, max_turns=cfg.rollout.max_turns,
                                        max_context_tokens=cfg.rollout.max_context_tokens,
                                        constrain=cfg.rollout.constrain,
                                        include_first=cfg.rollout.include_first)
        total = cfg.rollout.tasks_per_iter * cfg.rollout.group_size
        # Self-play plays the env's AEC form (collect_selfplay makes those envs): no single-agent training pool.
        self.pool: EnvPool | None = None if cfg.selfplay else make_pool(
            cfg.env.env_id, total, executor=cfg.rollout.executor, workers=cfg.rollout.workers,
            env_kwargs=cfg.env.train_kwargs(), modules=cfg.env.module_names())
        self.eval_pool: EnvPool = make_pool(cfg.env.env_id, min(64, max(1, cfg.eval_episodes)),
                                            env_kwargs=cfg.env.held_out_kwargs(),
                                            modules=cfg.env.module_names())
        self.eval_seeds = eval_seeds(cfg.seed, cfg.eval_episodes)
        self.opponents = OpponentPool(cfg.opponents.max_size, cfg.opponents.sampling, cfg.seed)

    def prompt_length(self, messages: list[dict[str, str]]) -> int:
        return len(self.policy.encode_prompt(messages))

    def freeze_reference(self) -> None:
        if self.cfg.algo.kl_coef > 0:
            self.ref_model = copy.deepcopy(self.model).eval()
            for p in self.ref_model.parameters():
                p.requires_grad_(False)

    def state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "value_head": self.value_head.state_dict() if self.value_head is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "loss": self.loss_fn.state_dict(),
            "policy_rng": self.policy.rng_state(),
            "shuffle_rng": self.shuffle.get_state(),
            "task_rng": self.task_rng.bit_generator.state,
            "reference": self.ref_model.state_dict() if self.ref_model is not None else None,
            "opponent_pool": self.opponents.state_dict(self.policy) if self.cfg.selfplay else None,
        }

    def load(self, state: dict[str, Any], path: Path) -> None:
        """Restores a checkpoint validated by ``_resume_state``.

        Raises:
            CheckpointError: When a value does not fit this run's objects (tensor shapes, optimizer groups,
                RNG state sizes, the opponent pool's members): the checkpoint was forged or made by a
                different model.
        """
        try:
            self._load(state)
        except (RuntimeError, KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
            detail = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise CheckpointError(f"{path}: does not fit this run's model and optimizer ({detail})") from err
        if self.cfg.selfplay:  # after the model: members are frozen copies of the restored learner
            try:
                self.opponents.load_state_dict(state["opponent_pool"], self.policy)
            except ValueError as err:
                raise CheckpointError(f"{path}: its 'opponent_pool' does not fit this run ({err})") from None

    def _load(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        if self.value_head is not None:
            self.value_head.load_state_dict(state["value_head"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.loss_fn.load_state_dict(state["loss"])
        self.policy.set_rng_state(state["policy_rng"])
        self.shuffle.set_state(state["shuffle_rng"])
        self.task_rng.bit_generator.state = state["task_rng"]
        if state.get("reference") is not None:
            self.freeze_reference()
            assert self.ref_model is not None
            self.ref_model.load_state_dict(state["reference"])

    def evaluate(self, it: int) -> dict[str, float]:
        """The held-out metrics; each episode's outcome is appended to ``eval_episodes.jsonl`` (paired tests)."""
        metrics, episodes = evaluate(self.policy, self.eval_pool, self.eval_seeds, self.settings,
                                     temperature=self.cfg.eval_temperature, sample_seed=self.cfg.seed + 3,
                                     prompt_length=self.prompt_length)
        with (self.out / EVAL_EPISODES).open("a", encoding="utf-8") as f:
            for ep in episodes:
                f.write(json.dumps({"iteration": it, "seed": ep.seed, "success": bool(ep.success),
                                    "return": ep.total_reward, "turns": len(ep.turns),
                                    "infra_error": ep.infra_error}) + "\n")
        return metrics

    def iteration(self, it: int) -> dict[str, float]:
        cfg = self.cfg
        t0 = time.perf_counter()
        self.model.eval()
        seeds = train_seeds(self.task_rng, cfg.rollout.tasks_per_iter)
        if cfg.selfplay:
            episodes, metrics = self.selfplay_rollout(it, seeds)
        else:
            assert self.pool is not None  # built for every run that is not self-play
            episodes = collect(self.pool, self.policy, seeds, cfg.rollout.group_size, self.settings,
                               score_gold="score" in self.requires, prompt_length=self.prompt_length)
            metrics = {f"rollout/{k}": v for k, v in rollout_metrics(episodes).items()}
        t1 = time.perf_counter()
        # Unscored episodes (the env's outside world failed, DESIGN §3) give no gradient.
        episodes = [ep for ep in episodes if ep.turns and ep.infra_error is None]
        if not episodes:
            return {**metrics, "time/rollout_s": t1 - t0}
        batch = build_rollout_batch(episodes, self._pad_id())
        metrics.update({f"env/{k}": v for k, v in step_group_stats(batch.turns).items()})
        batch, inputs, target_metrics = self.prepare(batch)
        self.loss_fn.on_iteration((it - 1) / max(cfg.iterations - 1, 1))
        t2 = time.perf_counter()
        train_metrics = ppo_update(self.model, batch.tokens, inputs, self.loss_fn, self.optimizer, cfg.optim,
                                   self.shuffle, temperature=self.temperature, value_head=self.value_head)
        self.model.eval()
        t3 = time.perf_counter()
        adv = inputs.advantages.numpy()
        metrics.update({f"train/{k}": v for k, v in {**target_metrics, **train_metrics}.items()})
        metrics.update({"train/advantage_mean": float(np.mean(adv)), "train/advantage_std": float(np.std(adv)),
                        "train/turns": float(len(batch)), "time/rollout_s": t1 - t0,
                        "time/advantage_s": t2 - t1, "time/update_s": t3 - t2})
        return metrics

    def selfplay_rollout(self, it: int, seeds: list[int]) -> tuple[list[Episode], dict[str, float]]:
        """Self-play games on the env's AEC form, a fraction of seats held by past checkpoints.

        The pool starts with the policy that begins iteration 1 and gains a frozen copy every
        ``opponents.snapshot_every`` iterations; the learner is recorded as ``iter{it - 1}`` (the weights it
        plays with), so ``pool/rating`` is its Bradley-Terry rating over every pool game so far, relative to
        the starting policy ``iter0``. Every game is appended to ``selfplay_games.jsonl``.
        """
        cfg, pool = self.cfg, self.opponents
        if (it - 1) % cfg.opponents.snapshot_every == 0:  # the schedule snapshot_iterations describes
            pool.add(self.policy, f"iter{it - 1}")
        learner = f"iter{it - 1}"
        rollout = collect_selfplay(cfg.env.env_id, self.policy, seeds, cfg.rollout.group_size, self.settings,
                                   opponents=pool.opponents(), opponent_fraction=cfg.opponents.fraction,
                                   rng=pool.rng, prompt_length=self.prompt_length)
        records = pool.record(rollout, learner)
        with (self.out / SELFPLAY_GAMES).open("a", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps({"iteration": it, "seed": r.seed, "seats": list(r.seats),
                                    "returns": list(r.returns), "infra_error": r.infra_error}) + "\n")
        metrics = {f"rollout/{k}": v for k, v in selfplay_metrics(rollout).items()}
        ratings = pool.ratings()
        if learner in ratings and "iter0" in ratings:
            metrics["pool/rating"] = ratings[learner] - ratings["iter0"]
        metrics["pool/size"] = float(len(pool.members))
        return list(rollout.episodes), metrics

    @property
    def temperature(self) -> float:
        """Temperature of the recorded and recomputed log-probs (1 for greedy rollouts)."""
        t = self.cfg.model.temperature
        return max(t, 1e-6) if t > 0 else 1.0

    def prepare(self, batch: RolloutBatch) -> tuple[RolloutBatch, UpdateInputs, dict[str, float]]:
        """What the update gets for ``batch`` (``update_inputs``), and ``train/`` metrics.

        Critic values and reference log-probs come from the models first, then rewards, advantages and value
        targets from ``update_inputs``: a loss that puts KL in the reward (``reward_penalty``) changes the
        rewards the advantages are estimated from, so the reference runs before the estimator.
        """
        tb = batch.tokens
        old_values = None
        if self.value_head is not None:
            old_values = turn_values(self.model, self.value_head, tb, self.temperature)
        ref = reference_logprobs(self.ref_model, tb, self.temperature) if self.ref_model is not None else None
        penalty = self.loss_fn.reward_penalty(tb.old_logp, ref, tb.loss_mask)  # KL k1 in the reward, or None
        batch, inputs, metrics = update_inputs(batch, self.cfg.algo, self.requires, old_values=old_values,
                                               ref_logp=ref, reward_penalty=penalty)
        metrics.update({f"estimator/{k}": v for k, v in estimator_metrics(self.cfg.algo.estimator,
                                                                          batch.turns).items()})
        return batch, inputs, metrics

    def _pad_id(self) -> int:
        tok = self.policy.tokenizer
        return int(tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id or 0)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        self.eval_pool.close()


def read_eval_episodes(path: Path) -> dict[int, dict[int, dict[str, Any]]]:
    """``eval_episodes.jsonl`` as {iteration: {seed: row}} (a missing file gives {})."""
    out: dict[int, dict[int, dict[str, Any]]] = {}
    for row in read_metrics(path) if path.exists() else []:
        out.setdefault(int(row["iteration"]), {})[int(row["seed"])] = row
    return out


def keep_rows(path: Path, last_iteration: int) -> None:
    """Drops the rows of a per-iteration JSONL log after ``last_iteration`` (a resumed run writes them again).

    Used for ``eval_episodes.jsonl`` and ``selfplay_games.jsonl``; a torn last line (a run killed while writing
    it) is dropped with a warning (``read_metrics``).
    """
    if not path.exists():
        return
    kept = [row for row in read_metrics(path) if int(row["iteration"]) <= last_iteration]
    path.write_text("".join(json.dumps(row) + "\n" for row in kept), encoding="utf-8")


def paired_eval(path: Path) -> dict[str, float] | None:
    """McNemar's test of held-out success, first evaluation vs last, on the episodes both scored.

    Both evaluations play the same held-out seeds, so the comparison is paired (``paired_rate_test``).
    None with fewer than two evaluations or no seed scored in both (infrastructure failures are left out).
    """
    evals = read_eval_episodes(path)
    if len(evals) < 2:
        return None
    first, last = evals[min(evals)], evals[max(evals)]
    seeds = sorted(s for s in first if s in last and first[s]["infra_error"] is None
                   and last[s]["infra_error"] is None)
    if not seeds:
        return None
    test = paired_rate_test([first[s]["success"] for s in seeds], [last[s]["success"] for s in seeds])
    return {"from_iteration": float(min(evals)), "to_iteration": float(max(evals)), **test}


def progress_postfix(metrics: dict[str, float], *, selfplay: bool) -> dict[str, str]:
    """The progress bar's numbers for one iteration.

    Single-agent: the rollout's success rate and mean return. Self-play (no success rate, no single return):
    the learner's score against the pool (``pool_score``, 1 win, 0.5 draw; ``-`` when no game had a pool
    seat), the mean return of each seat, and the fraction of invalid turns.
    """

    def fmt(key: str) -> str:
        value = metrics.get(key)
        return "-" if value is None else f"{value:.2f}"

    if not selfplay:
        return {"success": fmt("rollout/success_rate"), "ret": fmt("rollout/return_mean")}
    seats = sorted((int(k[len("rollout/seat"):-len("_return_mean")]), v) for k, v in metrics.items()
                   if k.startswith("rollout/seat") and k.endswith("_return_mean"))
    return {"pool": fmt("rollout/pool_score"), "ret": "/".join(f"{v:+.2f}" for _, v in seats) or "-",
            "invalid": fmt("rollout/invalid_action_frac")}


def train(cfg: TrainConfig) -> TrainResult:
    """Runs the configured training and returns its result (see ``TrainConfig`` for every option).

    Writes to ``cfg.out_dir``: ``config.json``, ``metrics.jsonl``, TensorBoard events under ``tb/``,
    ``checkpoints/``, ``curves.png``, ``eval_episodes.jsonl`` (every held-out episode's outcome, by iteration
    and seed), with ``--selfplay`` ``selfplay_games.jsonl`` (every training game), and ``summary.json`` (with
    ``eval_paired``: McNemar's test of the first vs the last evaluation on the same held-out seeds). The folder
    must be new or empty unless ``cfg.resume`` (continue its run, self-play's opponent pool included) or
    ``cfg.overwrite`` (replace it) is set (``check_run_folder``).

    Raises:
        ConfigError: A bad config, model name or run folder; found before any model is loaded where possible.
        CheckpointError: On resume, a checkpoint that is unreadable, forged or from a different config.
    """
    _validate(cfg)
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    out = Path(cfg.out_dir)
    resume_from = check_run_folder(out, resume=cfg.resume, overwrite=cfg.overwrite)
    state = _resume_state(cfg, resume_from) if resume_from is not None else None
    run = _Run(cfg)
    start = 1
    try:
        if state is not None:
            assert resume_from is not None
            run.load(state, resume_from)
            start = int(state["iteration"]) + 1
            # The run goes on under this config (it differs from the saved one only in RESUMABLE_FIELDS,
            # e.g. more iterations): config.json says so, as the next checkpoints do (issue 13, item 15f).
            save_config(cfg, out / "config.json")
            eval_before = state["eval_before"]
            logger = RunLogger(out, cfg.tensorboard, keep_until=start - 1)
            keep_rows(out / EVAL_EPISODES, start - 1)  # evaluations after the checkpoint run again
            keep_rows(out / SELFPLAY_GAMES, start - 1)  # and so do the games of later iterations
        else:
            if cfg.overwrite:  # only now: a run that fails to build (bad model, env) leaves the old one intact
                clear_run_folder(out)
            save_config(cfg, out / "config.json")
            logger = RunLogger(out, cfg.tensorboard)
            if cfg.sft.episodes > 0:
                examples = expert_examples(cfg.env.env_id, cfg.sft.episodes, cfg.seed,
                                           cfg.env.train_kwargs(), cfg.rollout.history_turns,
                                           cfg.rollout.include_first)
                supervised_finetune(run.policy, examples, steps=cfg.sft.steps, batch_size=cfg.sft.batch_size,
                                    lr=cfg.sft.lr, seed=cfg.seed, prompt_weight=cfg.sft.prompt_weight,
                                    progress=cfg.progress,
                                    log=lambda s, m: None)
            run.freeze_reference()
            eval_before = run.evaluate(0)
            logger.log(0, {f"eval/{k}": v for k, v in eval_before.items()})
        # A resumed run that has no iterations left reports the last evaluation it made.
        eval_after = state.get("eval_after", eval_before) if state is not None else eval_before
        bar = tqdm(range(start, cfg.iterations + 1), desc="train", disable=not cfg.progress,
                   initial=start - 1, total=cfg.iterations)
        for it in bar:
            metrics = run.iteration(it)
            if it % cfg.eval_every == 0 or it == cfg.iterations:
                eval_after = run.evaluate(it)
                metrics.update({f"eval/{k}": v for k, v in eval_after.items()})
            logger.log(it, metrics)
            bar.set_postfix(progress_postfix(metrics, selfplay=cfg.selfplay))
            if it % cfg.checkpoint_every == 0 or it == cfg.iterations:
                save_checkpoint(out, it, {**run.state(), "eval_before": eval_before, "eval_after": eval_after,
                                          "config": config_json(cfg)}, keep=cfg.keep_checkpoints)
        logger.close()
        plot_curves(out / "metrics.jsonl", out / "curves.png",
                    title=f"{cfg.env.env_id}  {cfg.algo.estimator} + {cfg.algo.loss}  model={cfg.model.name}")
        history = read_metrics(out / "metrics.jsonl")
        paired = paired_eval(out / EVAL_EPISODES)
        summary = {"eval_before": eval_before, "eval_after": eval_after, "iterations": cfg.iterations,
                   "eval_paired": paired}
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        return TrainResult(out, eval_before, eval_after, run.policy, history, paired)
    finally:
        run.close()
