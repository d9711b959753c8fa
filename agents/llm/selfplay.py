"""Self-play rollouts over PettingZoo AEC games: one policy in every seat, plus a pool of its past selves.

DESIGN section 1 ("Multi-agent self-play: one policy in every seat of a PettingZoo game, against itself and a
pool of its past selves") and section 4 (MARS). The G games of a group reset with the same seed, as in
``turngym.agents.llm.rollout.collect``; every seat the learner holds is its own trajectory, a ``SeatEpisode``
whose ``agent_id`` is the seat index, so one game gives one trajectory per learner seat and the seat's
turns are that trajectory's turns. The MARS estimator (``turngym.agents.llm.estimators.mars``) then centers
each turn's return-to-go by the mean return of the same role over the group (Yuan, Xu et al. 2025,
arXiv:2510.15414, Sec. 3, agent-specific advantage normalization): rows of seat 0 against the seat-0 returns
of the group's games, seat 1 against the seat-1 returns.

Batching: each round, every live game's seat to act is prompted; the prompts of all seats the learner holds
go into one ``policy.generate`` call, those of each pool opponent into one call per opponent.

Rewards follow the AEC contract: after each ``env.step`` every agent's ``env.rewards[agent]`` (that step's
reward: payoffs at the end, the invalid-action penalty to the seat that erred) is added to that seat's last
turn, so a turn's reward is what its seat earned from that action up to its next one. A seat's episode
return is therefore its game payoff plus its own penalties: zero-sum games give zero-sum seat returns when
``invalid_action_penalty`` is 0. A reward paid before a seat's first turn counts in the game's returns only
(no turn carries it; the suite's games pay at the end).

Opponent pool (``opponents``, ``opponent_fraction``): the seats of a task group are assigned once, so its G
games compare like with like. Of the ``n`` seats, ``k`` are given to pool opponents, with ``k`` the floor or
the ceiling of ``opponent_fraction * n`` (the ceiling with probability of the remainder), so the expected
fraction of seats the pool fills is exactly ``opponent_fraction``; the ``k`` seats are drawn uniformly and
each one's opponent is drawn with probability proportional to its ``Opponent.weight`` (1: uniform; see
``pfsp_weights`` for rating-weighted sampling). The learner keeps at least one seat, so
``opponent_fraction <= (n - 1) / n``. Who sat where is in ``SelfPlayGame.seats`` (``game_records`` turns
them into leaderboard ``GameRecord`` rows; ``learner_rating`` fits Bradley-Terry ratings on them).

Budgets (``RolloutSettings``): a seat that has taken ``max_turns`` turns, or whose next prompt is over
``max_context_tokens``, ends the whole game as truncated (a seat cannot pass its turn). A policy
``PolicyInfraError`` (the endpoint failed, DESIGN section 3) ends that game unscored: every seat episode of
it carries ``infra_error`` and ``SelfPlayGame.infra_error`` is set.

Checkpoints: ``OpponentPool.state_dict`` holds everything the pool needs to go on exactly as it would have
(members' weights and sampling generators, its seat-assignment RNG, every game record, its counters), in
plain containers and tensors that ``torch.load(weights_only=True)`` reads; ``check_pool_state`` and
``OpponentPool.load_state_dict`` refuse a forged one with a ``ValueError`` naming the bad entry
(DESIGN section 5: checkpoints may be forged).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from turngym.agents.llm.batch import TurnBatch
from turngym.agents.llm.policies.base import Generation, Message, PolicyInfraError, TextPolicy
from turngym.agents.llm.rollout import Episode, RolloutSettings, Turn, format_prompt, to_turn_batch
from turngym.envs.core.errors import ConfigError

if TYPE_CHECKING:  # the leaderboard imports choix and scipy (0.7 s); only the rating helpers need it
    from turngym.agents.leaderboard import GameRecord

#: Name of the learning policy in ``SelfPlayGame.seats`` and in the rating records.
LEARNER = "learner"


@dataclass(frozen=True)
class Opponent:
    """A frozen policy of the opponent pool (a past checkpoint).

    Attributes:
        name: Its name in the logs and ratings (e.g. ``"iter10"``); never ``LEARNER``.
        policy: The frozen policy (``frozen_copy``); it is only sampled from, never trained.
        weight: Relative probability of being picked for an opponent seat (> 0).
    """

    name: str
    policy: TextPolicy
    weight: float = 1.0


@dataclass
class SeatEpisode(Episode):
    """One learner seat of one self-play game: that seat's turns, as an ``Episode``.

    Attributes:
        agent: The AEC agent name of the seat (``"player_0"``).
        agent_id: The seat index (the role MARS normalizes within; ``TurnBatch.agent_id``).
        game_id: Index of the game in its rollout (``SelfPlayRollout.games``).
    """

    agent: str = ""
    agent_id: int = 0
    game_id: int = 0


@dataclass
class SelfPlayGame:
    """One self-play game: who held each seat, and how it went.

    Attributes:
        game_id: Index in the rollout.
        group_id: Task group (the G games of a seed share it and their seat assignment).
        seed: Reset seed.
        seats: Holder of each seat, in seat order: ``LEARNER`` or an ``Opponent.name``.
        returns: Each seat's total reward (payoff plus its invalid-action penalties).
        turns: Turns played in the game (all seats, invalid actions included).
        terminated: The game reached a terminal state.
        truncated: A budget ended it (the env's turn cap, ``max_turns`` or the context budget).
        infra_error: Why the outside world failed (the game is unscored), or None.
    """

    game_id: int
    group_id: int
    seed: int
    seats: tuple[str, ...]
    returns: list[float] = field(default_factory=list)
    turns: int = 0
    terminated: bool = False
    truncated: bool = False
    infra_error: str | None = None

    @property
    def against_pool(self) -> bool:
        """True when a pool opponent held a seat."""
        return any(s != LEARNER for s in self.seats)


@dataclass
class SelfPlayRollout:
    """What ``collect_selfplay`` returns.

    Attributes:
        env_id: The game played.
        episodes: One ``SeatEpisode`` per learner seat per game, in game then seat order (``episode_id`` is
            the index in this list); the trainer's episodes.
        games: Every game, in order.
    """

    env_id: str
    episodes: list[SeatEpisode]
    games: list[SelfPlayGame]


def frozen_copy(policy: Any, seed: int) -> Any:
    """A frozen snapshot of an ``LMPolicy`` for the opponent pool: its own model copy and sampling RNG.

    The model is deep-copied (later updates of the learner leave it as it is) with gradients off; the copy
    samples from its own generator seeded with ``seed``, so the learner's sampling stream is untouched.
    """
    snap = copy.copy(policy)
    snap.model = copy.deepcopy(policy.model).eval()
    for p in snap.model.parameters():
        p.requires_grad_(False)
    snap.generator = torch.Generator(device="cpu")
    snap.generator.manual_seed(int(seed))
    return snap


def pfsp_weights(ratings: Mapping[str, float], opponents: Sequence[str], learner: str = LEARNER) -> list[float]:
    """Rating-weighted opponent sampling: each opponent's Bradley-Terry chance to beat the learner.

    Prioritized fictitious self-play (Vinyals et al. 2019, AlphaStar, "PFSP" with ``f(x) = x``): opponents the
    learner still loses to are picked more often. With log-strengths ``r`` (``bradley_terry``),
    ``P(o beats learner) = 1 / (1 + exp(r_learner - r_o))``. An opponent without a rating gets 0.5 (no
    evidence either way).

    Args:
        ratings: ``{name: log-strength}``, the learner included.
        opponents: The pool's names, in pool order.
        learner: The learner's name in ``ratings``.

    Returns:
        One weight in (0, 1) per opponent.
    """
    r_l = ratings.get(learner)
    out = []
    for name in opponents:
        r_o = ratings.get(name)
        out.append(0.5 if r_l is None or r_o is None else 1.0 / (1.0 + math.exp(r_l - r_o)))
    return out


def opponent_seat_count(num_seats: int, fraction: float, rng: np.random.Generator) -> int:
    """Seats of one group given to the pool: floor or ceiling of ``fraction * num_seats``, mean exactly that."""
    expected = fraction * num_seats
    base = math.floor(expected)
    return base + int(rng.random() < expected - base)


def assign_seats(num_seats: int, opponents: Sequence[Opponent], fraction: float,
                 rng: np.random.Generator) -> tuple[str, ...]:
    """The holder of each seat of one task group (module docstring, "Opponent pool")."""
    holders = [LEARNER] * num_seats
    k = opponent_seat_count(num_seats, fraction, rng) if opponents else 0
    if k == 0:
        return tuple(holders)
    weights = np.array([o.weight for o in opponents], dtype=np.float64)
    seats = rng.choice(num_seats, size=k, replace=False)
    picks = rng.choice(len(opponents), size=k, p=weights / weights.sum())
    for seat, pick in zip(seats, picks, strict=True):
        holders[int(seat)] = opponents[int(pick)].name
    return tuple(holders)


def _check_pool(opponents: Sequence[Opponent], fraction: float, num_seats: int,
                rng: np.random.Generator | None) -> None:
    if not (isinstance(fraction, int | float) and 0.0 <= fraction <= (num_seats - 1) / num_seats):
        raise ConfigError("opponent_fraction", f"a number in [0, {(num_seats - 1) / num_seats:g}] (the learner keeps "
                          f"at least one of the {num_seats} seats)", fraction)
    if fraction > 0 and not opponents:
        raise ConfigError("opponents", "at least one pool opponent when opponent_fraction > 0", list(opponents))
    if fraction > 0 and rng is None:
        raise ValueError("collect_selfplay: opponent_fraction > 0 needs rng (no global RNG)")
    names = [o.name for o in opponents]
    if LEARNER in names or len(set(names)) != len(names) or not all(names):
        raise ConfigError("opponents", f"distinct non-empty names other than {LEARNER!r}", names)
    if any(not (math.isfinite(o.weight) and o.weight > 0) for o in opponents):
        raise ConfigError("opponents", "weights > 0", [o.weight for o in opponents])


def collect_selfplay(
    env_id: str,
    policy: TextPolicy,
    seeds: Sequence[int],
    group_size: int,
    settings: RolloutSettings | None = None,
    *,
    opponents: Sequence[Opponent] | None = None,
    opponent_fraction: float = 0.0,
    rng: np.random.Generator | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    prompt_length: Callable[[list[Message]], int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> SelfPlayRollout:
    """Plays ``len(seeds) * group_size`` games of an AEC env to the end, the learner in its seats.

    Args:
        env_id: A registered id with a PettingZoo AEC form (``turngym.envs.make_aec``).
        policy: The learner; one ``generate`` call per round over every seat it holds in a live game.
        seeds: One reset seed per task group.
        group_size: G, games per seed.
        settings: Budgets and prompt formatting (as in ``collect``).
        opponents: The pool of frozen past policies.
        opponent_fraction: Expected fraction of seats filled from the pool (module docstring).
        rng: Draws the seat assignment (needed when ``opponent_fraction > 0``).
        env_kwargs: Arguments of ``make_aec`` (default ``{"obs_mode": "text"}``).
        prompt_length: Token count of a prompt, for ``max_context_tokens`` (needed when that is set).
        progress: Called with the number of env steps after each round.

    Raises:
        ConfigError: ``env_id`` has no AEC form, or the pool arguments are out of range.
        ValueError: ``max_context_tokens`` without ``prompt_length``, or a pool without ``rng``.
    """
    import turngym.envs as tenvs

    cfg = settings or RolloutSettings()
    if cfg.max_context_tokens is not None and prompt_length is None:
        raise ValueError("collect_selfplay: max_context_tokens needs prompt_length (a token counter)")
    pool = list(opponents or ())
    kwargs = {"obs_mode": "text", **dict(env_kwargs or {})}
    total = len(seeds) * group_size
    envs = [tenvs.make_aec(env_id, **kwargs) for _ in range(total)]
    if not envs:
        return SelfPlayRollout(env_id, [], [])
    agents = list(envs[0].possible_agents)
    n_seats = len(agents)
    _check_pool(pool, opponent_fraction, n_seats, rng)
    by_name: dict[str, TextPolicy] = {LEARNER: policy, **{o.name: o.policy for o in pool}}
    holders = [assign_seats(n_seats, pool, opponent_fraction, rng) if rng is not None and pool
               else (LEARNER,) * n_seats for _ in seeds]

    games = [SelfPlayGame(game_id=g, group_id=g // group_size, seed=int(seeds[g // group_size]),
                          seats=holders[g // group_size], returns=[0.0] * n_seats) for g in range(total)]
    # seat_eps[g][s]: the learner's trajectory in seat s of game g (None where an opponent sits).
    seat_eps: list[list[SeatEpisode | None]] = []
    for game in games:
        row: list[SeatEpisode | None] = []
        for s, holder in enumerate(game.seats):
            row.append(SeatEpisode(episode_id=-1, group_id=game.group_id, seed=game.seed, agent=agents[s],
                                   agent_id=s, game_id=game.game_id) if holder == LEARNER else None)
        seat_eps.append(row)
    first_obs: list[list[str | None]] = [[None] * n_seats for _ in range(total)]
    exchanges: list[list[list[tuple[str, str]]]] = [[[] for _ in range(n_seats)] for _ in range(total)]
    last_action: list[list[str | None]] = [[None] * n_seats for _ in range(total)]
    seat_turns = [[0] * n_seats for _ in range(total)]
    for game, env in zip(games, envs, strict=True):
        env.reset(seed=game.seed)

    def end(g: int, *, truncated: bool = False, infra: str | None = None) -> None:
        env, game = envs[g], games[g]
        env_over = any(env.terminations.values()) or any(env.truncations.values())
        game.terminated = bool(any(env.terminations.values())) and not truncated and infra is None
        game.truncated = not game.terminated
        game.infra_error = infra
        for s, ep in enumerate(seat_eps[g]):
            if ep is None:
                continue
            info = dict(env.infos.get(agents[s], {}))
            if infra is not None:
                info["infra_error"] = infra
            ep.terminated, ep.truncated = game.terminated, game.truncated
            ep.success, ep.final_info = bool(info.get("success", False)) and infra is None, info
            if env_over and ep.turns and infra is None:
                # The env's end-of-game info reports each seat's last action (AEC refreshes every seat's info).
                ep.turns[-1].action_valid = bool(info.get("action_valid", ep.turns[-1].action_valid))

    live = list(range(total))
    while live:
        requests: dict[str, list[tuple[int, int, list[Message], list[str] | None, str]]] = {}
        for g in live:
            env = envs[g]
            agent = env.agent_selection
            s = agents.index(agent)
            obs, info = str(env.observe(agent)), env.infos[agent]
            ep = seat_eps[g][s]
            if first_obs[g][s] is None:
                first_obs[g][s] = obs
            else:
                exchanges[g][s].append((str(last_action[g][s]), obs))
                if ep is not None and ep.turns:
                    # The seat's info when it is selected again reports its previous action (AEC infos are
                    # refreshed for the agent to act, so this is where that verdict is public).
                    ep.turns[-1].action_valid = bool(info.get("action_valid", True))
            prompt = format_prompt(str(first_obs[g][s]), exchanges[g][s], cfg.history_turns, cfg.include_first)
            if seat_turns[g][s] >= cfg.max_turns or (
                    cfg.max_context_tokens is not None and prompt_length(prompt) > cfg.max_context_tokens):
                end(g, truncated=True)  # DESIGN: budgets end an episode as truncated; a seat cannot pass
                continue
            admissible = (info.get("admissible_actions") or None) if cfg.constrain else None
            key = str(info.get("state_key", ""))
            requests.setdefault(games[g].seats[s], []).append((g, s, prompt, admissible, key))
        stepped: list[tuple[int, int, list[Message], Generation, str]] = []
        failed: dict[int, str] = {}
        for name in [LEARNER, *[o.name for o in pool]]:  # fixed order: sampling streams are reproducible
            rows = requests.get(name)
            if not rows:
                continue
            try:
                gens: list[Generation | None] = list(by_name[name].generate(
                    [r[2] for r in rows], admissible=[r[3] for r in rows] if cfg.constrain else None))
            except PolicyInfraError as err:
                # DESIGN section 3: the endpoint failed, not the agent; those games end unscored.
                gens = [None if k in err.failures else err.partial[k] for k in range(len(rows))]
                for k, reason in err.reasons.items():
                    failed[rows[k][0]] = f"policy {name}: {reason}"
            for (g, s, prompt, _, key), gen in zip(rows, gens, strict=True):
                if gen is not None and g not in failed:
                    stepped.append((g, s, prompt, gen, key))
        for g in failed:
            end(g, infra=failed[g])
        next_live = []
        for g, s, prompt, gen, key in sorted(stepped, key=lambda r: r[0]):
            env, game = envs[g], games[g]
            if g in failed:
                continue
            ep = seat_eps[g][s]
            if ep is not None:
                ep.turns.append(Turn(turn=len(ep.turns), state_key=key, prompt=prompt, generation=gen))
            last_action[g][s] = gen.text
            seat_turns[g][s] += 1
            game.turns += 1
            env.step(gen.text)  # any string: the env judges it (DESIGN section 3, bad input)
            for t, a in enumerate(agents):
                r = float(env.rewards.get(a, 0.0))
                game.returns[t] += r
                tep = seat_eps[g][t]
                if r and tep is not None and tep.turns:
                    tep.turns[-1].reward += r  # AEC: a step's reward belongs to the seat's last action
            if any(env.terminations.values()) or any(env.truncations.values()):
                end(g)
            else:
                next_live.append(g)
        if progress is not None:
            progress(len(stepped))
        live = next_live

    episodes = [ep for row in seat_eps for ep in row if ep is not None]
    for i, ep in enumerate(episodes):
        ep.episode_id = i
    return SelfPlayRollout(env_id, episodes, games)


def seat_turn_batch(episodes: Sequence[Episode]) -> TurnBatch:
    """``to_turn_batch`` with the ``agent_id`` column set to each row's seat (``SeatEpisode.agent_id``).

    Episodes that are not ``SeatEpisode`` (single-agent rollouts) keep agent 0.
    """
    batch = to_turn_batch(episodes)
    agent = np.array([ep.agent_id if isinstance(ep, SeatEpisode) else 0 for ep in episodes for _ in ep.turns],
                     dtype=np.int64)
    return dataclasses.replace(batch, agent_id=agent)


def game_records(rollout: SelfPlayRollout, learner: str = LEARNER) -> list[GameRecord]:
    """The games as leaderboard records (seat holders and returns; unscored games keep their ``infra_error``).

    Args:
        rollout: The games.
        learner: The name the learner's seats get (``OpponentPool`` names it after its checkpoint, so the
            iterate and its frozen copy in the pool are one rated agent).
    """
    from turngym.agents.leaderboard import GameRecord

    return [GameRecord(rollout.env_id, g.seed, tuple(learner if s == LEARNER else s for s in g.seats),
                       tuple(g.returns) if g.infra_error is None else (), g.infra_error) for g in rollout.games]


def learner_rating(records: Sequence[GameRecord], learner: str = LEARNER) -> dict[str, float]:
    """Bradley-Terry log-strengths (mean 0) of the learner and the pool, from games against the pool.

    Self-play games add nothing (``pairwise`` skips seats held by one agent); the learner's rating against
    its past selves over training is the curve of ``ratings[learner]`` with the pool's ratings beside it.

    Returns:
        ``{name: rating}``; empty when no scored game had a pool opponent.
    """
    from turngym.agents.leaderboard import bradley_terry

    scored = [r for r in records if r.scored and learner in r.seats and any(s != learner for s in r.seats)]
    if not scored:
        return {}
    return bradley_terry(scored)


class OpponentPool:
    """The past checkpoints a self-play learner plays against, and every game it played against them.

    Members are named after the iteration whose weights they hold (``"iter10"``). The learner is recorded
    under the name of the checkpoint it is playing with (``record(rollout, "iter10")`` while its weights are
    those of iteration 10), so an iterate and its frozen copy are one agent to Bradley-Terry, and
    ``ratings()`` over all games gives every iterate's rating on one scale: the learner's rating curve.

    Args:
        max_size: Most members kept (the oldest is dropped first).
        sampling: ``"uniform"``, or ``"rating"``: opponents weighted by their Bradley-Terry chance to beat the
            learner's latest rated checkpoint (``pfsp_weights``).
        seed: Seeds the seat assignment and the members' sampling generators.
    """

    def __init__(self, max_size: int = 8, sampling: str = "uniform", seed: int = 0):
        if sampling not in ("uniform", "rating"):
            raise ConfigError("sampling", "'uniform' or 'rating'", sampling, choices=("uniform", "rating"))
        if max_size < 1:
            raise ConfigError("max_size", "an int >= 1", max_size)
        self.max_size, self.sampling, self.seed = int(max_size), sampling, int(seed)
        self.members: list[Opponent] = []
        self.records: list[GameRecord] = []
        self.rng = np.random.default_rng([self.seed, 5])
        self._added = 0
        self._last_learner: str | None = None

    def add(self, policy: Any, name: str) -> None:
        """Adds a frozen copy of ``policy`` (``frozen_copy``) named ``name``; drops the oldest beyond ``max_size``."""
        self._added += 1
        self.members.append(Opponent(name, frozen_copy(policy, seed=self.seed * 1_000_003 + self._added)))
        del self.members[:-self.max_size]

    def opponents(self) -> list[Opponent]:
        """The members with their sampling weights (1 each, or ``pfsp_weights`` from ``ratings()``)."""
        if self.sampling == "uniform" or self._last_learner is None:
            return list(self.members)
        weights = pfsp_weights(self.ratings(), [o.name for o in self.members], self._last_learner)
        return [dataclasses.replace(o, weight=w) for o, w in zip(self.members, weights, strict=True)]

    def record(self, rollout: SelfPlayRollout, learner: str) -> list[GameRecord]:
        """Keeps the rollout's games (the learner named ``learner``) and returns their records."""
        records = game_records(rollout, learner)
        self.records.extend(records)
        if any(r.scored and learner in r.seats and len(set(r.seats)) > 1 for r in records):
            self._last_learner = learner
        return records

    def ratings(self) -> dict[str, float]:
        """Bradley-Terry log-strengths of every checkpoint that played a pool game (``learner_rating``)."""
        scored = [r for r in self.records if r.scored and len(set(r.seats)) > 1]
        if not scored:
            return {}
        from turngym.agents.leaderboard import bradley_terry

        return bradley_terry(scored)

    def state_dict(self, learner: Any) -> dict[str, Any]:
        """Everything needed to rebuild this pool exactly (``load_state_dict``), for a checkpoint.

        Each member stores the weights the learner trains (``member_weight_names``: every entry of the model's
        state dict except parameters frozen in ``learner``, e.g. a LoRA run's base weights, which are equal
        in every member and in the learner) and its sampling generator's state.

        Args:
            learner: The learning ``LMPolicy`` whose frozen copies the members are.

        Returns:
            ``{"members": [{"name", "weights", "generator"}], "rng", "records": [{"env_id", "seed",
            "seats", "returns", "infra_error"}], "added", "last_learner"}``.
        """
        names = member_weight_names(learner.model)
        return {
            "members": [{"name": o.name,
                         "weights": {k: v for k, v in o.policy.model.state_dict().items() if k in names},
                         "generator": o.policy.generator.get_state()} for o in self.members],
            "rng": self.rng.bit_generator.state,
            "records": [{"env_id": r.env_id, "seed": r.seed, "seats": list(r.seats), "returns": list(r.returns),
                         "infra_error": r.infra_error} for r in self.records],
            "added": self._added,
            "last_learner": self._last_learner,
        }

    def load_state_dict(self, state: Any, learner: Any) -> None:
        """Rebuilds the pool from ``state_dict`` output; the pool is unchanged when anything is refused.

        Each member is a ``frozen_copy`` of ``learner`` given the stored weights and generator state (the
        weights ``learner`` does not train are its own, equal to every member's).

        Args:
            state: ``state_dict`` output (from a checkpoint: untrusted).
            learner: The learning ``LMPolicy`` (already restored to the checkpoint's weights).

        Raises:
            ValueError: On anything that is not what ``state_dict`` writes for this pool and model: a missing
                or extra key, a wrong type, more than ``max_size`` members, a member whose weights miss or
                add an entry or do not fit the model's shapes, a generator or RNG state of the wrong kind,
                or a record the leaderboard refuses.
        """
        from turngym.agents.leaderboard import GameRecord
        from turngym.envs.core.errors import TurnGymError

        check_pool_state(state, self.max_size)
        records = []
        for i, r in enumerate(state["records"]):
            try:
                records.append(GameRecord(r["env_id"], r["seed"], tuple(r["seats"]), tuple(r["returns"]),
                                          r["infra_error"]))
            except (TurnGymError, ValueError, TypeError) as err:
                raise ValueError(f"records[{i}]: {err}") from None
        rng = np.random.default_rng(0)
        try:
            rng.bit_generator.state = state["rng"]
        except (ValueError, TypeError, KeyError) as err:
            raise ValueError(f"rng: not a state of this pool's {type(rng.bit_generator).__name__} ({err})") from None
        names = member_weight_names(learner.model)
        members = []
        for i, m in enumerate(state["members"]):
            given = set(m["weights"])
            if given != names:
                missing, extra = sorted(names - given), sorted(given - names)
                raise ValueError(f"members[{i}] ({m['name']!r}): its weights do not fit this model "
                                 f"(missing {missing[:3]}, unexpected {extra[:3]})")
            snap = frozen_copy(learner, seed=0)
            try:
                snap.model.load_state_dict(m["weights"], strict=False)
                snap.generator.set_state(m["generator"].clone())
            except RuntimeError as err:
                detail = " ".join(str(err).split())[:240]  # torch's first line alone names no tensor
                raise ValueError(f"members[{i}] ({m['name']!r}): {detail}") from None
            members.append(Opponent(m["name"], snap))
        self.members, self.records, self.rng = members, records, rng
        self._added, self._last_learner = int(state["added"]), state["last_learner"]


def member_weight_names(model: torch.nn.Module) -> set[str]:
    """The state-dict entries a pool member stores: all but the parameters ``model`` does not train.

    Frozen parameters (requires_grad False: a LoRA run's base weights) never change during the run, so every
    frozen copy holds the learner's own; buffers are kept (a model may update them in training mode).
    """
    frozen = {n for n, p in model.named_parameters(remove_duplicate=False) if not p.requires_grad}
    return {k for k in model.state_dict() if k not in frozen}


#: Keys of ``OpponentPool.state_dict()``.
POOL_STATE_KEYS = frozenset({"members", "rng", "records", "added", "last_learner"})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_pool_state(state: Any, max_size: int) -> None:
    """Checks the structure and types of an ``OpponentPool.state_dict()`` (from a checkpoint: untrusted).

    Shapes are checked against the model by ``OpponentPool.load_state_dict``; this needs no model.

    Raises:
        ValueError: Naming the first entry that is not what ``state_dict`` writes.
    """
    if not isinstance(state, dict) or set(state) != POOL_STATE_KEYS:
        got = sorted(map(str, state)) if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"must be a dict with keys {sorted(POOL_STATE_KEYS)}, got {got}")
    members, records = state["members"], state["records"]
    if not isinstance(members, list) or len(members) > max_size:
        raise ValueError(f"'members' must be a list of at most {max_size} (opponents.max_size) members")
    seen: set[str] = set()
    for i, m in enumerate(members):
        if not (isinstance(m, dict) and set(m) == {"name", "weights", "generator"}):
            raise ValueError(f"members[{i}] must be a dict with keys generator, name, weights")
        name = m["name"]
        if not (isinstance(name, str) and name and name != LEARNER and name not in seen):
            raise ValueError(f"members[{i}]: name must be a distinct non-empty string other than {LEARNER!r}, "
                             f"got {name!r}")
        seen.add(name)
        weights = m["weights"]
        if not (isinstance(weights, dict)
                and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items())):
            raise ValueError(f"members[{i}] ({name!r}): weights must be a state dict (str -> tensor)")
        gen = m["generator"]
        if not (isinstance(gen, torch.Tensor) and gen.dtype == torch.uint8 and gen.dim() == 1):
            raise ValueError(f"members[{i}] ({name!r}): generator must be a torch.Generator state (1-D uint8 tensor)")
    if not (isinstance(state["rng"], dict) and isinstance(state["rng"].get("bit_generator"), str)):
        raise ValueError("'rng' must be a numpy bit-generator state dict")
    if not isinstance(records, list):
        raise ValueError(f"'records' must be a list, got {type(records).__name__}")
    for i, r in enumerate(records):
        if not (isinstance(r, dict) and set(r) == {"env_id", "seed", "seats", "returns", "infra_error"}
                and isinstance(r["env_id"], str) and _is_int(r["seed"])
                and isinstance(r["seats"], list | tuple) and all(isinstance(a, str) for a in r["seats"])
                and isinstance(r["returns"], list | tuple)
                and all(isinstance(x, int | float) and not isinstance(x, bool) for x in r["returns"])
                and (r["infra_error"] is None or isinstance(r["infra_error"], str))):
            raise ValueError(f"records[{i}] must be {{env_id: str, seed: int, seats: [str], returns: [number], "
                             f"infra_error: str or None}}, got {r!r:.200}")
    added = state["added"]
    if not (_is_int(added) and added >= len(members)):
        raise ValueError(f"'added' must be an int >= the {len(members)} members, got {added!r}")
    last = state["last_learner"]
    if not (last is None or (isinstance(last, str) and last)):
        raise ValueError(f"'last_learner' must be None or a non-empty string, got {last!r}")


def selfplay_metrics(rollout: SelfPlayRollout) -> dict[str, float]:
    """Summary numbers of a self-play rollout (``rollout/`` namespace).

    ``seat{i}_return_mean`` is over the learner's scored seat-i trajectories; ``pool_seat_frac`` is the
    fraction of seats the pool held; ``pool_score`` is the learner's score against the pool (1 win, 0.5 draw,
    per game, as the leaderboard counts a two-seat game) and ``pool_games`` the games it is over.
    """
    games = rollout.games
    if not games:
        return {}
    scored = [g for g in games if g.infra_error is None]
    out: dict[str, float] = {
        "games": float(len(games)),
        "infra_error_frac": float(np.mean([g.infra_error is not None for g in games])),
        "pool_seat_frac": float(np.mean([s != LEARNER for g in games for s in g.seats])),
        "game_turns_mean": float(np.mean([g.turns for g in scored])) if scored else float("nan"),
        "truncated_frac": float(np.mean([g.truncated for g in scored])) if scored else float("nan"),
    }
    eps = [ep for ep in rollout.episodes if ep.infra_error is None]
    for seat in sorted({ep.agent_id for ep in eps}):
        out[f"seat{seat}_return_mean"] = float(np.mean([ep.total_reward for ep in eps if ep.agent_id == seat]))
    turns = [t for ep in eps for t in ep.turns]
    if turns:
        out["invalid_action_frac"] = float(np.mean([not t.action_valid for t in turns]))
    scores = []
    for g in scored:
        mine = [r for s, r in zip(g.seats, g.returns, strict=True) if s == LEARNER]
        theirs = [r for s, r in zip(g.seats, g.returns, strict=True) if s != LEARNER]
        if mine and theirs:
            scores.append(1.0 if max(mine) > max(theirs) else 0.5 if max(mine) == max(theirs) else 0.0)
    out["pool_games"] = float(len(scores))
    if scores:
        out["pool_score"] = float(np.mean(scores))
    return out


__all__ = ["LEARNER", "POOL_STATE_KEYS", "Opponent", "OpponentPool", "SeatEpisode", "SelfPlayGame", "SelfPlayRollout",
           "assign_seats", "check_pool_state", "collect_selfplay", "frozen_copy", "game_records", "learner_rating",
           "member_weight_names", "opponent_seat_count", "pfsp_weights", "seat_turn_batch", "selfplay_metrics"]
