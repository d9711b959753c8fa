"""Random-legal-play throughput of turngym's card games next to the peer libraries, in one run.

Every configuration plays whole hands with uniformly random legal actions on one CPU core and reports
decision steps per second, resets and episode bookkeeping included (DESIGN §5: speed is measured here,
never asserted in unit tests).

How steps are counted (the same unit everywhere): **one step = one player decision**, i.e. one action
by the seat to act. Not counted: chance events (dealing), which every library but OpenSpiel resolves
inside ``reset``/``step`` and which the OpenSpiel loop applies itself; the two ``step(None)`` calls
PettingZoo's AEC API requires per hand to retire terminated agents (ours and PettingZoo's alike, so the
ratio is unaffected; they are reported as ``dead_steps``). The single-agent form plays the opponent
inside ``step``: its headline rate counts every decision of the hand (learner and opponent, from
``session.turn``), and ``learner_steps_per_sec`` counts only ``env.step`` calls.

How rates are compared: configurations run round-robin, ``--repeats`` rounds, one pinned core. A row
reports its best round (wall clock, as ``timeit`` does) and its best thread-CPU rate; a ratio is given as
best over best and as the median over rounds of the per-round ratios (wall and CPU), which moves less
when other processes share the machine.

Run:
    python benchmarks/throughput.py [--quick] [--seconds S] [--out runs/throughput.json]
    python -m turngym.benchmarks.throughput
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.metadata
import json
import os
import platform
import random
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_OUT = "runs/throughput.json"
#: Possible decisions per hand (min, max): Kuhn is 2-3 moves; Leduc 2-8 (at most 4 per round); a Dhumbal
#: round is 1 decision (the leader calls jhyap) up to 200 (100 turns of discard + draw, then the showdown).
#: The dilemmas count agent decisions too: a spatial-PD episode is 100 joint steps of 900 agents; a Harvest
#: episode is 1,000 joint steps of 5 players.
STEP_BOUNDS = {"kuhn": (2, 3), "leduc": (2, 8), "dhumbal": (1, 200), "spatialpd": (90_000, 90_000),
               "harvest": (5_000, 5_000)}
KUHN_ID = "turngym/KuhnPoker-v0"
LEDUC_ID = "turngym/LeducHoldem-v0"
DHUMBAL_ID = "turngym/Dhumbal-v0"


class Runner:
    """Plays whole hands of one configuration; subclasses implement ``episode``.

    Attributes:
        steps: Decisions played (see the module docstring).
        learner_steps: ``env.step`` calls of the learner (single-agent form only, else equal to steps).
        dead_steps: ``step(None)`` calls that retire finished agents (PettingZoo AEC API only).
        resets: Resets performed.
        episodes: Hands played to their end.
        terminated: Hands that ended by the rules (not by a turn cap).
        chance_events: Chance outcomes the loop applied itself (OpenSpiel only).
        min_ep_steps: Fewest decisions in one hand.
        max_ep_steps: Most decisions in one hand.
    """

    def __init__(self, seed: int):
        self.seed = seed
        self.pick = _picker(seed)
        self.steps = 0
        self.learner_steps = 0
        self.dead_steps = 0
        self.resets = 0
        self.episodes = 0
        self.terminated = 0
        self.chance_events = 0
        self.min_ep_steps = sys.maxsize
        self.max_ep_steps = 0

    def next_seed(self) -> int | None:
        """The seed for the coming reset: ``seed`` the first time, then the env's own stream continues."""
        self.resets += 1
        return self.seed if self.resets == 1 else None

    def finish(self, n: int, terminated: bool, learner: int | None = None) -> None:
        """Books one finished hand of ``n`` decisions."""
        self.steps += n
        self.learner_steps += n if learner is None else learner
        self.episodes += 1
        self.terminated += bool(terminated)
        self.min_ep_steps = min(self.min_ep_steps, n)
        self.max_ep_steps = max(self.max_ep_steps, n)

    def episode(self) -> None:
        """Resets and plays one hand to its end, calling ``finish``."""
        raise NotImplementedError


def _picker(seed: int) -> Callable[[int], int]:
    """Uniform index in ``range(n)``, from the agent's own RNG (the same cheap draw for every library)."""
    draw = random.Random(seed).random
    return lambda n: int(draw() * n)


# ---------------------------------------------------------------------------------------------- ours
class AECRunner(Runner):
    """turngym or PettingZoo AEC env under the standard ``agent_iter``/``last``/``step`` loop.

    ``source="info"`` takes the legal action ids from ``info["legal_action_ids"]`` (turngym text mode);
    ``"mask"`` from the observation's ``action_mask`` (vector mode, PettingZoo); ``"words"`` sends the
    legal action words as ``[word]`` text (turngym text mode, parsed like TextArena's actions).
    """

    def __init__(self, seed: int, make_env: Callable[[], Any], source: str):
        super().__init__(seed)
        self.env = make_env()
        self.source = source

    def episode(self) -> None:
        """Resets and plays one hand (see the class docstring)."""
        env, pick, source = self.env, self.pick, self.source
        env.reset(seed=self.next_seed())
        n = dead = 0
        terminated = False
        for _ in env.agent_iter():
            obs, _rew, term, trunc, info = env.last()
            if term or trunc:
                terminated |= term
                env.step(None)
                dead += 1
                continue
            if source == "info":
                ids = info["legal_action_ids"]
                action: Any = ids[pick(len(ids))]
            elif source == "mask":
                ids = np.flatnonzero(obs["action_mask"])
                action = int(ids[pick(len(ids))])
            else:
                words = info["admissible_actions"]
                action = f"[{words[pick(len(words))]}]"
            env.step(action)
            n += 1
        self.dead_steps += dead
        self.finish(n, terminated)


class SingleRunner(Runner):
    """turngym single-agent Gymnasium env made with ``gymnasium.make``.

    The built-in random opponent acts inside ``step``, drawing from the env RNG.
    """

    def __init__(self, seed: int, env_id: str, obs_mode: str):
        super().__init__(seed)
        import gymnasium

        import turngym.envs  # noqa: F401  (registers the ids)

        self.env = gymnasium.make(env_id, obs_mode=obs_mode)
        self.session = self.env.unwrapped.session
        self.vector = obs_mode == "vector"

    def episode(self) -> None:
        """Resets and plays one hand (see the class docstring)."""
        env, pick = self.env, self.pick
        obs, info = env.reset(seed=self.next_seed())
        learner = 0
        term = trunc = False
        while not (term or trunc):
            if self.vector:
                ids = np.flatnonzero(obs["action_mask"])
                action = int(ids[pick(len(ids))])
            else:
                ids = info["legal_action_ids"]
                action = ids[pick(len(ids))]
            obs, _rew, term, trunc, info = env.step(action)
            learner += 1
        # session.turn counts every seat's decisions of this hand (opponents' included).
        self.finish(self.session.turn, term, learner)


class SpatialPDRunner(Runner):
    """The numpy core of the 30×30 spatial prisoner's dilemma: 900 agents step in one ``step`` call.

    Every agent draws a uniform move each step (one vectorized draw from the runner's RNG); a step counts
    900 decisions. Episodes end at the horizon (100 steps).
    """

    def __init__(self, seed: int):
        super().__init__(seed)
        from turngym.envs.dilemmas.spatial import SpatialPD

        self.env = SpatialPD(size=30, horizon=100)
        self.rng = np.random.default_rng(seed)

    def episode(self) -> None:
        """Resets and plays one episode of joint steps to the horizon."""
        env, rng = self.env, self.rng
        env.reset(seed=self.next_seed())
        n, done = 0, False
        while not done:
            _obs, _rew, term, trunc, _info = env.step(rng.integers(0, 2, size=env.num_agents))
            n += env.num_agents
            done = term or trunc
        self.finish(n, True)


class ParallelRunner(Runner):
    """A turngym PettingZoo Parallel env: every live agent picks a uniform legal action each joint step."""

    def __init__(self, seed: int, env_id: str, obs_mode: str):
        super().__init__(seed)
        import turngym.envs

        self.env = turngym.envs.make_parallel(env_id, obs_mode=obs_mode)

    def episode(self) -> None:
        """Resets and plays one episode; a joint step counts one decision per acting agent."""
        env, pick = self.env, self.pick
        obs, infos = env.reset(seed=self.next_seed())
        n, terminated = 0, False
        while env.agents:
            actions = {}
            for agent in env.agents:
                ids = np.flatnonzero(obs[agent]["action_mask"])
                actions[agent] = int(ids[pick(len(ids))])
            obs, _rew, terms, truncs, infos = env.step(actions)
            n += len(actions)
            terminated = any(terms.values())
        self.finish(n, terminated)


# --------------------------------------------------------------------------------------------- peers
class RLCardRunner(Runner):
    """RLCard ``leduc-holdem``: ``reset``/``step`` with a random key of ``state['legal_actions']``.

    Payoffs are read at the end of each hand (an RL loop needs them).
    """

    def __init__(self, seed: int):
        super().__init__(seed)
        import rlcard

        self.env = rlcard.make("leduc-holdem", config={"seed": seed})

    def episode(self) -> None:
        """Resets and plays one hand (see the class docstring)."""
        env, pick = self.env, self.pick
        self.next_seed()  # RLCard seeds once at make()
        state, _ = env.reset()
        n = 0
        while not env.is_over():
            legal = list(state["legal_actions"])
            state, _ = env.step(legal[pick(len(legal))])
            n += 1
        env.get_payoffs()
        self.finish(n, True)


class OpenSpielRunner(Runner):
    """OpenSpiel game-tree walk with random legal actions.

    Chance outcomes are drawn by inverse CDF from a seeded numpy RNG. ``view`` adds what an agent would
    read at each decision: ``"tensor"`` = ``information_state_tensor``, ``"string"`` =
    ``information_state_string``.
    """

    def __init__(self, seed: int, game: str, view: str | None):
        super().__init__(seed)
        import pyspiel

        self.game = pyspiel.load_game(game)
        self.rng = np.random.default_rng(seed)
        self.view = view

    def episode(self) -> None:
        """Resets and plays one hand (see the class docstring)."""
        pick, rand, view = self.pick, self.rng.random, self.view
        self.next_seed()
        s = self.game.new_initial_state()
        n = chance = 0
        while not s.is_terminal():
            if s.is_chance_node():
                outcomes = s.chance_outcomes()
                u, acc, choice = rand(), 0.0, outcomes[-1][0]
                for outcome, p in outcomes:
                    acc += p
                    if u < acc:
                        choice = outcome
                        break
                s.apply_action(choice)
                chance += 1
                continue
            if view == "tensor":
                s.information_state_tensor(s.current_player())
            elif view == "string":
                s.information_state_string(s.current_player())
            legal = s.legal_actions()
            s.apply_action(legal[pick(len(legal))])
            n += 1
        s.returns()
        self.chance_events += chance
        self.finish(n, True)


class TextArenaRunner(Runner):
    """TextArena ``KuhnPoker-v0``: ``get_observation`` then ``step("[word]")`` with a random legal word.

    ``max_rounds=1`` makes one episode one hand, like the others (the registered default plays 3 hands
    per episode). The legal words are read from the env's own action tree (cheaper for the peer than
    parsing them out of the observation text). TextArena seeds Python's global ``random`` on
    ``reset(seed=...)``, so only the first reset passes the seed.
    """

    def __init__(self, seed: int, env_id: str):
        super().__init__(seed)
        import textarena

        self.env = textarena.make(env_id, max_rounds=1)
        # TextArena's LLMObservationWrapper keeps every message across resets, so its string observation
        # grows without bound (hundreds of kB after a few hundred hands) and slows the peer down more
        # the longer the run. Clearing that buffer at each reset measures every hand as a fresh env.
        self.buffers = []
        layer = self.env
        while layer is not None:
            if isinstance(getattr(layer, "full_observations", None), dict):
                self.buffers.append(layer.full_observations)
            layer = getattr(layer, "env", None)

    def episode(self) -> None:
        """Resets and plays one hand (see the class docstring)."""
        env, pick = self.env, self.pick
        for buffer in self.buffers:
            buffer.clear()
        env.reset(num_players=2, seed=self.next_seed())
        n = 0
        done = False
        while not done:
            env.get_observation()
            legal = list(env.state.game_state["current_legal_action_tree"])
            done, _ = env.step(f"[{legal[pick(len(legal))]}]")
            n += 1
        env.close()
        self.finish(n, True)


# --------------------------------------------------------------------------------------------- setup
@dataclass(frozen=True)
class Config:
    """One measured configuration.

    Attributes:
        name: Row label.
        library: ``turngym`` or the peer's name.
        game: ``kuhn`` or ``leduc``.
        form: ``aec-text``, ``aec-vector``, ``single-text``, ``raw``, …
        factory: ``factory(seed) -> Runner``.
        module: Module whose import failure means the peer is not installed.
        note: What the row measures, for the table footnotes and the JSON.
    """

    name: str
    library: str
    game: str
    form: str
    factory: Callable[[int], Runner]
    module: str = "turngym.envs"
    note: str = ""


def _our_aec(env_id: str, obs_mode: str) -> Callable[[], Any]:
    def make() -> Any:
        import turngym.envs

        return turngym.envs.make_aec(env_id, obs_mode=obs_mode)

    return make


def _pz_leduc(raw: bool) -> Callable[[], Any]:
    def make() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pettingzoo.classic import leduc_holdem_v4
        return leduc_holdem_v4.raw_env() if raw else leduc_holdem_v4.env()

    return make


def our_configs() -> list[Config]:
    """Ours: Kuhn and Leduc (AEC text/vector, single-agent), Dhumbal (AEC), the spatial PD core and Harvest."""
    out = []
    for game, env_id in (("kuhn", KUHN_ID), ("leduc", LEDUC_ID)):
        out.append(Config(f"turngym {game} aec-text", "turngym", game, "aec-text",
                          lambda s, i=env_id: AECRunner(s, _our_aec(i, "text"), "info"),
                          note="make_aec(obs_mode='text'); text obs via last(); action id from info"))
        if game == "kuhn":
            out.append(Config("turngym kuhn aec-text words", "turngym", game, "aec-text-words",
                              lambda s, i=env_id: AECRunner(s, _our_aec(i, "text"), "words"),
                              note="as aec-text, but acts with '[word]' text (parsed, like TextArena); the same few "
                                   "short strings recur, so the parser's memo of short strings serves them"))
        out.append(Config(f"turngym {game} aec-vector", "turngym", game, "aec-vector",
                          lambda s, i=env_id: AECRunner(s, _our_aec(i, "vector"), "info"),
                          note="make_aec(obs_mode='vector'); vector obs built via last(); action id from "
                               "info['legal_action_ids'] (what RandomLegalAgent reads)"))
        for mode in ("text", "vector"):
            out.append(Config(f"turngym {game} single-{mode}", "turngym", game, f"single-{mode}",
                              lambda s, i=env_id, m=mode: SingleRunner(s, i, m),
                              note=f"gymnasium.make(obs_mode='{mode}'), random opponent inside step; "
                                   "steps = all seats' decisions"))
    # Dhumbal (4 players, one round per episode): no peer library implements it, so it has no ratio row.
    for mode in ("text", "vector"):
        out.append(Config(f"turngym dhumbal aec-{mode}", "turngym", "dhumbal", f"aec-{mode}",
                          lambda s, m=mode: AECRunner(s, _our_aec(DHUMBAL_ID, m), "info"),
                          note=f"make_aec(obs_mode='{mode}'), 4 players, one round; action id from info"))
    # Social dilemmas (no peer in the run): agent decisions per second.
    out.append(Config("turngym spatialpd 30x30 core", "turngym", "spatialpd", "vectorized", SpatialPDRunner,
                      note="SpatialPD(size=30) numpy core: 900 agents per step call, uniform moves"))
    out.append(Config("turngym harvest parallel-vector", "turngym", "harvest", "parallel-vector",
                      lambda s: ParallelRunner(s, "turngym/Harvest-v0", "vector"),
                      note="make_parallel('turngym/Harvest-v0', obs_mode='vector'), 5 players, 1,000 steps"))
    return out


def peer_configs() -> list[Config]:
    """The peers' configurations (PettingZoo, RLCard, OpenSpiel, TextArena)."""
    return [
        Config("pettingzoo leduc_holdem_v4.env()", "pettingzoo", "leduc", "aec-vector",
               lambda s: AECRunner(s, _pz_leduc(False), "mask"), "pettingzoo.classic.rlcard_envs.leduc_holdem",
               "wrapped env (OrderEnforcing, assertion, illegal-move wrappers) over RLCard"),
        Config("pettingzoo leduc_holdem_v4.raw_env()", "pettingzoo", "leduc", "aec-vector-raw",
               lambda s: AECRunner(s, _pz_leduc(True), "mask"), "pettingzoo.classic.rlcard_envs.leduc_holdem",
               "unwrapped raw_env over RLCard"),
        Config("rlcard leduc-holdem", "rlcard", "leduc", "raw", RLCardRunner, "rlcard",
               "rlcard.make; state['obs'] vector built every step; payoffs at the end"),
        Config("openspiel leduc_poker", "open_spiel", "leduc", "raw",
               lambda s: OpenSpielRunner(s, "leduc_poker", None), "pyspiel",
               "C++ tree walk, no observation built (an upper bound, not an env)"),
        Config("openspiel leduc_poker +info_state_tensor", "open_spiel", "leduc", "vector",
               lambda s: OpenSpielRunner(s, "leduc_poker", "tensor"), "pyspiel",
               "C++ tree walk plus information_state_tensor at each decision"),
        Config("openspiel kuhn_poker", "open_spiel", "kuhn", "raw",
               lambda s: OpenSpielRunner(s, "kuhn_poker", None), "pyspiel",
               "C++ tree walk, no observation built"),
        Config("openspiel kuhn_poker +info_state_string", "open_spiel", "kuhn", "text",
               lambda s: OpenSpielRunner(s, "kuhn_poker", "string"), "pyspiel",
               "C++ tree walk plus information_state_string at each decision"),
        Config("textarena KuhnPoker-v0-raw", "textarena", "kuhn", "text",
               lambda s: TextArenaRunner(s, "KuhnPoker-v0-raw"), "textarena",
               "no wrappers; obs = list of message tuples (not one rendered string); max_rounds=1"),
        Config("textarena KuhnPoker-v0 (LLM wrappers)", "textarena", "kuhn", "text-wrapped",
               lambda s: TextArenaRunner(s, "KuhnPoker-v0"), "textarena",
               "what textarena.make('KuhnPoker-v0') returns: LLMObservationWrapper (string obs, its "
               "history buffer cleared per hand) + ActionFormattingWrapper; max_rounds=1"),
    ]


#: (numerator, denominator, target) of the reported ratios; the first three carry the targets.
RATIOS: list[tuple[str, str, float | None]] = [
    ("turngym leduc aec-vector", "rlcard leduc-holdem", 1.0),
    ("turngym leduc aec-vector", "pettingzoo leduc_holdem_v4.env()", 3.0),
    ("turngym kuhn aec-text", "textarena KuhnPoker-v0 (LLM wrappers)", 1.0),
    ("turngym kuhn aec-text", "textarena KuhnPoker-v0-raw", None),
    ("turngym kuhn aec-text words", "textarena KuhnPoker-v0-raw", None),
    ("turngym leduc aec-vector", "pettingzoo leduc_holdem_v4.raw_env()", None),
    ("turngym leduc aec-vector", "openspiel leduc_poker +info_state_tensor", None),
    ("turngym leduc aec-vector", "openspiel leduc_poker", None),
    ("turngym leduc aec-text", "rlcard leduc-holdem", None),
    ("turngym kuhn aec-text", "openspiel kuhn_poker +info_state_string", None),
]


# --------------------------------------------------------------------------------------- measurement
@dataclass
class Measurement:
    """Result of one configuration (one repeat, or the median over repeats)."""

    name: str
    library: str
    game: str
    form: str
    steps: int
    learner_steps: int
    dead_steps: int
    resets: int
    episodes: int
    terminated: int
    chance_events: int
    min_ep_steps: int
    max_ep_steps: int
    seconds: float
    steps_per_sec: float
    learner_steps_per_sec: float
    episodes_per_sec: float
    steps_per_episode: float
    cpu_seconds: float = 0.0
    cpu_steps_per_sec: float = 0.0
    repeats: list[float] = field(default_factory=list)
    median_steps_per_sec: float = 0.0
    note: str = ""
    cpu_repeats: list[float] = field(default_factory=list)


def measure(config: Config, seconds: float | None = 1.0, steps: int | None = None, warmup: float = 0.2,
            seed: int = 0) -> Measurement:
    """Plays whole hands of ``config`` until ``steps`` decisions or ``seconds`` have passed.

    Args:
        config: What to run.
        seconds: Time budget (checked between hands); ignored when ``steps`` is given.
        steps: Decision budget; the last hand is always finished, so a few more may be played.
        warmup: Seconds of play on a separate instance first (imports, caches, code paths).
        seed: Seed of the env and of the random agent; every configuration gets the same.

    Returns:
        Counts and rates; resets and the agent's action choice are inside the timed loop, env
        construction is not.
    """
    if steps is None and seconds is None:
        raise ValueError("give seconds or steps")
    if warmup > 0:
        w = config.factory(seed + 1)
        end = time.perf_counter() + warmup
        while time.perf_counter() < end:
            w.episode()
    runner = config.factory(seed)
    gc.collect()
    episode, clock = runner.episode, time.perf_counter
    cpu0 = time.thread_time()
    t0 = clock()
    if steps is not None:
        while runner.steps < steps:
            episode()
        now = clock()
    else:
        end = t0 + float(seconds or 0.0)
        while True:
            episode()
            now = clock()
            if now >= end:
                break
    cpu = max(time.thread_time() - cpu0, 1e-9)
    elapsed = max(now - t0, 1e-9)
    return Measurement(
        name=config.name, library=config.library, game=config.game, form=config.form, steps=runner.steps,
        learner_steps=runner.learner_steps, dead_steps=runner.dead_steps, resets=runner.resets,
        episodes=runner.episodes, terminated=runner.terminated, chance_events=runner.chance_events,
        min_ep_steps=runner.min_ep_steps, max_ep_steps=runner.max_ep_steps, seconds=elapsed,
        steps_per_sec=runner.steps / elapsed, learner_steps_per_sec=runner.learner_steps / elapsed,
        episodes_per_sec=runner.episodes / elapsed, steps_per_episode=runner.steps / max(runner.episodes, 1),
        cpu_seconds=cpu, cpu_steps_per_sec=runner.steps / cpu, repeats=[runner.steps / elapsed],
        median_steps_per_sec=runner.steps / elapsed, note=config.note, cpu_repeats=[runner.steps / cpu],
    )


def best_of(runs: Sequence[Measurement]) -> Measurement:
    """The fastest of several runs of one config: the one least disturbed by other load (as ``timeit``).

    Every run's steps/s is kept in ``repeats`` (and its thread-CPU rate in ``cpu_repeats``), in the order
    of the rounds, and their median in ``median_steps_per_sec``.
    """
    rates = [r.steps_per_sec for r in runs]
    best = max(runs, key=lambda r: r.steps_per_sec)
    best.repeats = rates
    best.cpu_repeats = [r.cpu_steps_per_sec for r in runs]
    best.median_steps_per_sec = statistics.median(rates)
    return best


def available(config: Config) -> bool:
    """True when the config's library imports."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            __import__(config.module)
    except Exception:  # noqa: BLE001  (any import failure means "not installed" here)
        return False
    return True


@contextlib.contextmanager
def pinned(cpu: int | None) -> Iterator[int | None]:
    """Pins this process to one CPU (the lowest allowed one by default) and restores the mask after."""
    if (cpu is not None and cpu < 0) or not hasattr(os, "sched_setaffinity"):
        yield None
        return
    before = os.sched_getaffinity(0)
    target = min(before) if cpu is None else cpu
    try:
        os.sched_setaffinity(0, {target})
    except OSError:
        yield None
        return
    try:
        yield target
    finally:
        os.sched_setaffinity(0, before)


def machine_info(cpu: int | None) -> dict[str, Any]:
    """Platform, CPU model and the pinned core."""
    model = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "platform": platform.platform(), "machine": platform.machine(), "cpu_model": model,
        "cpu_count": os.cpu_count(), "pinned_cpu": cpu, "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "load_avg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def library_versions() -> dict[str, str | None]:
    """Installed versions of turngym and the peers (None when absent)."""
    out: dict[str, str | None] = {}
    for dist in ("turngym", "gymnasium", "pettingzoo", "rlcard", "open_spiel", "textarena", "numpy"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def paired_median(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Median over rounds of ``a[i] / b[i]``: the two configs of one round ran seconds apart.

    Under other load (a shared machine) a round that is slowed down is slowed down for both sides alike,
    so this ratio is steadier than the ratio of two best-of values taken from different rounds.
    """
    pairs = [x / y for x, y in zip(a, b, strict=True) if y > 0]
    return statistics.median(pairs) if pairs else None


def compute_ratios(results: dict[str, Measurement]) -> list[dict[str, Any]]:
    """Ratios of steps/s between configurations (``None`` where a side was skipped).

    ``ratio`` compares the best runs (wall clock; ``met`` judges it); ``paired_ratio`` and
    ``paired_cpu_ratio`` are the medians over rounds of the per-round ratios of wall-clock and
    thread-CPU rates (``paired_median``).
    """
    out = []
    for num, den, target in RATIOS:
        a, b = results.get(num), results.get(den)
        both = a is not None and b is not None
        ratio = a.steps_per_sec / b.steps_per_sec if both and b.steps_per_sec > 0 else None
        out.append({"numerator": num, "denominator": den, "ratio": ratio,
                    "paired_ratio": paired_median(a.repeats, b.repeats) if both else None,
                    "paired_cpu_ratio": paired_median(a.cpu_repeats, b.cpu_repeats) if both else None,
                    "target": target, "met": None if ratio is None or target is None else ratio >= target})
    return out


def run_benchmark(seconds: float | None = 1.5, steps: int | None = None, repeats: int = 3,
                  warmup: float = 0.3, seed: int = 0, cpu: int | None = None,
                  only: Sequence[str] = (), log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measures every available configuration on one pinned core.

    Args:
        seconds: Time budget per repeat and configuration.
        steps: Decision budget per repeat instead of ``seconds``.
        repeats: Repeats per configuration (best reported, median kept), interleaved across configs.
        warmup: Warm-up seconds per repeat.
        seed: Shared seed.
        cpu: Core to pin to (default: the lowest allowed one; -1: do not pin).
        only: Keep configurations whose name contains one of these substrings.
        log: Called with one progress line per configuration.

    Returns:
        The report (settings, machine, versions, results, skipped, ratios), JSON-compatible.
    """
    configs = our_configs() + peer_configs()
    if only:
        configs = [c for c in configs if any(o in c.name for o in only)]
    skipped = [c.name for c in configs if not available(c)]
    for name in skipped:
        if log:
            log(f"{name}: skipped: not installed")
    configs = [c for c in configs if c.name not in skipped]
    runs: dict[str, list[Measurement]] = {c.name: [] for c in configs}
    with pinned(cpu) as core, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Repeats go round-robin over the configs, so a burst of other load hits them all alike.
        for rep in range(max(1, repeats)):
            for cfg in configs:
                m = measure(cfg, seconds=seconds, steps=steps, warmup=warmup, seed=seed)
                runs[cfg.name].append(m)
                if log:
                    log(f"[{rep + 1}/{repeats}] {cfg.name}: {m.steps_per_sec:,.0f} steps/s")
        info = machine_info(core)
    results = {name: best_of(ms) for name, ms in runs.items()}
    return {
        "settings": {"seconds": seconds, "steps": steps, "repeats": repeats, "warmup": warmup, "seed": seed,
                     "step_unit": "one player decision (chance events and PettingZoo dead steps excluded)"},
        "machine": info,
        "versions": library_versions(),
        "results": [asdict(m) for m in results.values()],
        "skipped": skipped,
        "ratios": compute_ratios(results),
    }


# ------------------------------------------------------------------------------------------------ CLI
def print_report(report: dict[str, Any]) -> None:
    """Prints the results and ratio tables with rich."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # piped or logged: do not squeeze the tables into 80 columns
        console = Console(width=160)
    table = Table(title="Random-legal play, one core, resets included (step = one player decision)")
    for col, just in (("config", "left"), ("steps/s", "right"), ("CPU steps/s (best)", "right"),
                      ("learner steps/s", "right"), ("hands/s", "right"), ("steps/hand", "right"),
                      ("steps", "right"), ("spread", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in report["results"]:
        spread = (max(r["repeats"]) - min(r["repeats"])) / r["steps_per_sec"] if r["steps_per_sec"] else 0.0
        learner = f"{r['learner_steps_per_sec']:,.0f}" if r["form"].startswith("single") else ""
        cpu = max(r.get("cpu_repeats") or [r["cpu_steps_per_sec"]])
        table.add_row(r["name"], f"{r['steps_per_sec']:,.0f}", f"{cpu:,.0f}", learner,
                      f"{r['episodes_per_sec']:,.0f}", f"{r['steps_per_episode']:.2f}", f"{r['steps']:,}",
                      f"±{100 * spread / 2:.0f}%")
    for name in report["skipped"]:
        table.add_row(name, "skipped: not installed", "", "", "", "", "", "")
    console.print(table)
    ratios = Table(title="Ratios of steps/s: best runs; medians over rounds of the per-round ratios")
    for col in ("ours", "peer", "best/best", "paired (wall)", "paired (CPU)", "target", "met"):
        ratios.add_column(col)

    def times(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.2f}x"

    for r in report["ratios"]:
        if r["ratio"] is None and r["target"] is None:
            continue  # a side was not in this run (--only, or a peer not installed) and nothing is at stake
        target = "" if r["target"] is None else f">= {r['target']:.1f}x"
        met = "" if r["met"] is None else ("yes" if r["met"] else "NO")
        ratios.add_row(r["numerator"], r["denominator"], times(r["ratio"]), times(r["paired_ratio"]),
                       times(r["paired_cpu_ratio"]), target, met)
    console.print(ratios)
    m = report["machine"]
    console.print(f"[dim]{m['cpu_model']}, pinned to cpu {m['pinned_cpu']}, Python {m['python']}; "
                  f"{', '.join(f'{k} {v}' for k, v in report['versions'].items() if v)}[/dim]")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="throughput", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=None, help="time per repeat and config (default 1.5)")
    p.add_argument("--steps", type=int, default=None, help="decision budget per repeat instead of --seconds")
    p.add_argument("--repeats", type=int, default=None, help="repeats per config, best reported (default 5)")
    p.add_argument("--warmup", type=float, default=None, help="warm-up seconds per repeat (default 0.3)")
    p.add_argument("--quick", action="store_true", help="~10 s smoke run (0.15 s x 1 repeat per config)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cpu", type=int, default=None, help="core to pin to (default lowest allowed; -1: none)")
    p.add_argument("--only", action="append", default=[], help="substring of config names to keep")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"JSON output path (default {DEFAULT_OUT})")
    p.add_argument("--strict", action="store_true", help="exit 1 when a ratio misses its target")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the benchmark, prints the tables, writes the JSON; returns the exit status."""
    args = parse_args(argv)
    quick = args.quick
    seconds = args.seconds if args.seconds is not None else (0.15 if quick else 1.5)
    repeats = args.repeats if args.repeats is not None else (1 if quick else 5)
    warmup = args.warmup if args.warmup is not None else (0.05 if quick else 0.3)
    report = run_benchmark(seconds=None if args.steps else seconds, steps=args.steps, repeats=repeats,
                           warmup=warmup, seed=args.seed, cpu=args.cpu, only=args.only,
                           log=lambda line: print(line, file=sys.stderr, flush=True))
    report["settings"]["quick"] = quick
    report["settings"]["argv"] = list(sys.argv[1:] if argv is None else argv)
    print_report(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    missed = [r for r in report["ratios"] if r["met"] is False]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
