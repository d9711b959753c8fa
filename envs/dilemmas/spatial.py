"""The spatial prisoner's dilemma on a periodic lattice (the setting of arXiv 2601.05509).

``size x size`` agents sit on a torus; each plays the prisoner's dilemma with its four von Neumann
neighbours (north, south, west, east) at every step, choosing one move for all four games. The weak
prisoner's dilemma payoffs with one dilemma-strength parameter Dr (Wang et al. 2015, "Universal scaling
for the dilemma strength in evolutionary games") are

    R = 1, P = 0, S = -Dr, T = 1 + Dr

and an agent's reward is the mean of its four pairwise payoffs. Its observation is five numbers: its own
last move and its four neighbours' last moves (1.0 = cooperated, 0.0 = defected), in the order
``[self, north, south, west, east]`` (north = row - 1, west = column - 1, wrapping around).

Three views of the same dynamics:

* ``SpatialPD``: the numpy core. ``step`` takes every agent's action as one array and computes all
  rewards with four ``np.roll`` calls (no Python loop over agents).
* ``SpatialPDParallel`` / ``SpatialPDEnv``: the PettingZoo Parallel env and the single-agent view
  (``turngym/SpatialPD-v0``), through ``SimultaneousGame`` so the turngym contract (text mode, void
  steps on bad input, state keys, snapshots) holds per agent. Their default lattice is small (4x4).
* ``SpatialPDVecEnv`` (``turngym.envs.dilemmas.spatial_vec``, needs the ``sb3`` extra): a
  Stable-Baselines3 ``VecEnv`` with one slot per agent, for one shared-parameter policy (DQN, PPO) that
  acts for every agent at once.

Horizon: the episode lasts ``horizon`` steps. In the PettingZoo and single-agent forms that is the end
of the game (terminated, as ``rounds`` ends a repeated matrix game; void steps do not count, and
``max_turns`` truncates). The core and the VecEnv, which learners bootstrap from, report it as a
truncation instead: the observation carries no clock and the lattice dynamics have no natural end, so
the cut is a time limit (Pardo et al. 2018, "Time limits in reinforcement learning").

Actions: 0 = cooperate, 1 = defect (as in every turngym dilemma, action 0 is the cooperative one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from turngym.envs.core.errors import ConfigError
from turngym.envs.core.session import read_dict, read_int_list, read_list, rng_from_state
from turngym.envs.core.simultaneous import SimultaneousGame
from turngym.envs.dilemmas.docs import PARALLEL_ARGS, SINGLE_ARGS, default_max_turns
from turngym.envs.dilemmas.frontends import DilemmaParallelEnv, DilemmaSingleAgentEnv
from turngym.envs.dilemmas.metrics import cooperation_rate, social_outcomes

ENV_ID = "turngym/SpatialPD-v0"
COOPERATE, DEFECT = 0, 1
#: Order of the five observation entries.
OBS_FIELDS = ("self", "north", "south", "west", "east")
MAX_SIZE = 1024
#: Default lattice side and horizon of the PettingZoo and single-agent forms (small: the dict API and the
#: conformance checks handle every agent one by one). The paper's 30x30 lattice is ``size=30``.
WRAPPER_SIZE = 4
WRAPPER_HORIZON = 10


# ------------------------------------------------------------------------------- pure lattice functions
def pd_payoffs(dr: float) -> tuple[float, float, float, float]:
    """(R, S, T, P) of the weak prisoner's dilemma with dilemma strength ``dr``: (1, -dr, 1 + dr, 0)."""
    return 1.0, -dr, 1.0 + dr, 0.0


def cooperating_neighbours(coop: np.ndarray) -> np.ndarray:
    """Number of cooperating von Neumann neighbours of every site of an ``(L, L)`` 0/1 grid (periodic)."""
    return (np.roll(coop, 1, axis=0) + np.roll(coop, -1, axis=0)
            + np.roll(coop, 1, axis=1) + np.roll(coop, -1, axis=1))


def lattice_rewards(moves: np.ndarray, size: int, dr: float) -> np.ndarray:
    """Every agent's reward: the mean of its four pairwise PD payoffs with its von Neumann neighbours.

    With ``k`` cooperating neighbours a cooperator earns ``k R + (4 - k) S`` and a defector
    ``k T + (4 - k) P`` over its four games; the reward is that sum / 4.

    Args:
        moves: ``(size * size,)`` moves (0 cooperate, 1 defect), row-major.
        size: Lattice side L.
        dr: Dilemma strength.

    Returns:
        ``(size * size,)`` float64 rewards.
    """
    r, s, t, p = pd_payoffs(dr)
    coop = (moves == COOPERATE).reshape(size, size).astype(np.float64)
    k = cooperating_neighbours(coop)
    total = np.where(coop > 0, k * r + (4.0 - k) * s, k * t + (4.0 - k) * p)
    return (total * 0.25).reshape(-1)


def lattice_observations(moves: np.ndarray, size: int) -> np.ndarray:
    """``(size * size, 5)`` float32: every agent's own last move and its neighbours' (1.0 = cooperated)."""
    coop = (moves == COOPERATE).reshape(size, size).astype(np.float32)
    out = np.empty((size, size, 5), dtype=np.float32)
    out[..., 0] = coop
    out[..., 1] = np.roll(coop, 1, axis=0)  # north: the site at row - 1
    out[..., 2] = np.roll(coop, -1, axis=0)  # south: row + 1
    out[..., 3] = np.roll(coop, 1, axis=1)  # west: column - 1
    out[..., 4] = np.roll(coop, -1, axis=1)  # east: column + 1
    return out.reshape(size * size, 5)


def _check_args(size: Any, dr: Any, horizon: Any, init_coop: Any) -> tuple[int, float, int, float]:
    if not isinstance(size, int) or isinstance(size, bool) or not 3 <= size <= MAX_SIZE:
        # L >= 3 keeps the four neighbours distinct sites (on a 2x2 torus north and south coincide).
        raise ConfigError("size", f"an int in 3..{MAX_SIZE}", size)
    if not isinstance(dr, (int, float, np.floating, np.integer)) or isinstance(dr, bool) or not np.isfinite(dr):
        raise ConfigError("dr", "a finite number (dilemma strength, usually in [0, 1])", dr)
    if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1:
        raise ConfigError("horizon", "a positive int", horizon)
    ok = isinstance(init_coop, (int, float, np.floating)) and not isinstance(init_coop, bool)
    if not ok or not 0.0 <= float(init_coop) <= 1.0:
        raise ConfigError("init_coop", "a probability in [0, 1]", init_coop)
    return size, float(dr), horizon, float(init_coop)


def initial_moves(rng: np.random.Generator, num_agents: int, init_coop: float) -> np.ndarray:
    """Random first moves: each agent cooperates with probability ``init_coop`` (one uniform per agent)."""
    return np.where(rng.random(num_agents) < init_coop, COOPERATE, DEFECT).astype(np.int8)


# ------------------------------------------------------------------------------------- the numpy core
class SpatialPD:
    """Vectorized spatial prisoner's dilemma: all ``size * size`` agents step in one call.

    Moves before the first step are drawn at ``reset``: each agent cooperates with probability
    ``init_coop``, from the core's own RNG. ``step(actions)`` plays every agent's new move, pays the
    rewards of the new configuration and returns the new observations.

    Bad input: when ``actions`` is not an integer array of shape ``(size * size,)`` with values in
    {0, 1}, the step is void (moves unchanged, zero rewards, the step still counts toward the horizon),
    ``info["action_valid"]`` is False and ``info["error"]`` says why.

    Args:
        size: Lattice side L (L * L agents), at least 3; default 30 (900 agents).
        dr: Dilemma strength Dr: R=1, P=0, S=-Dr, T=1+Dr; default 0.2.
        horizon: Steps per episode (the episode is truncated after them); default 100.
        init_coop: Probability that an agent's initial move is cooperate; default 0.5.
        seed: Seed of the core's RNG (``reset(seed=...)`` reseeds it).

    Attributes:
        num_agents: ``size * size``.
        moves: ``(num_agents,)`` int8, every agent's last move.
        t: Steps taken in this episode (void ones included).
    """

    def __init__(self, size: int = 30, dr: float = 0.2, horizon: int = 100, init_coop: float = 0.5,
                 seed: int | None = None):
        self.size, self.dr, self.horizon, self.init_coop = _check_args(size, dr, horizon, init_coop)
        self.num_agents = self.size * self.size
        self.rng = np.random.default_rng(seed)
        self.moves = np.zeros(self.num_agents, dtype=np.int8)
        self.t = 0
        self._played = 0
        self._rewards = np.zeros((self.horizon, self.num_agents), dtype=np.float64)
        self._coop_steps = np.zeros(self.horizon, dtype=np.float64)

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Starts an episode (reseeding the RNG when ``seed`` is given); returns ``(num_agents, 5)`` obs."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.moves = initial_moves(self.rng, self.num_agents, self.init_coop)
        self.t = 0
        self._played = 0
        return lattice_observations(self.moves, self.size)

    def _validate(self, actions: Any) -> tuple[np.ndarray | None, str | None]:
        try:
            a = np.asarray(actions)
        except Exception as e:  # noqa: BLE001 - any object may arrive; none may crash the step
            return None, f"actions could not be read as an array: {type(e).__name__}"
        if a.shape != (self.num_agents,):
            return None, f"expected {self.num_agents} actions (one per agent), got an array of shape {a.shape}"
        if a.dtype.kind not in "iu":
            return None, f"expected integer action ids (0 cooperate, 1 defect), got dtype {a.dtype}"
        bad = (a < 0) | (a > 1)
        if bad.any():
            return None, f"action ids must be 0 or 1; {int(bad.sum())} agent(s) sent others"
        return a.astype(np.int8, copy=False), None

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, bool, dict[str, Any]]:
        """Plays every agent's move at once.

        Args:
            actions: ``(num_agents,)`` integer array, 0 cooperate / 1 defect, row-major agent order.

        Returns:
            ``(obs (num_agents, 5) float32, rewards (num_agents,) float64, terminated, truncated, info)``.
            ``terminated`` is always False; ``truncated`` is True once ``horizon`` steps were taken.
            ``info``: ``t``, ``action_valid``, ``cooperation_rate`` (fraction of agents whose last move
            is cooperate), ``error`` on a void step, and at the end ``social`` (``SpatialPD.social``).

        Raises:
            RuntimeError: the episode is over (call ``reset``).
        """
        if self.t >= self.horizon:
            raise RuntimeError("step() called after the horizon; call reset()")
        moves, error = self._validate(actions)
        self.t += 1
        if moves is None:
            rewards = np.zeros(self.num_agents, dtype=np.float64)
        else:
            self.moves = moves.copy()
            rewards = lattice_rewards(moves, self.size, self.dr)
            self._rewards[self._played] = rewards
            self._coop_steps[self._played] = np.count_nonzero(moves == COOPERATE) / self.num_agents
            self._played += 1
        info: dict[str, Any] = {"t": self.t, "action_valid": error is None,
                                "cooperation_rate": float(np.count_nonzero(self.moves == COOPERATE)) / self.num_agents}
        if error is not None:
            info["error"] = error
        truncated = self.t >= self.horizon
        if truncated:
            info["social"] = self.social()
        return lattice_observations(self.moves, self.size), rewards, False, truncated, info

    def observations(self) -> np.ndarray:
        """``(num_agents, 5)`` observations of the current moves."""
        return lattice_observations(self.moves, self.size)

    def social(self) -> dict[str, float]:
        """Perolat et al. (2017) metrics of the steps played so far, plus the episode's cooperation rate.

        Returns:
            ``metrics.social_outcomes`` of the ``(steps played, agents)`` rewards (peace = number of
            agents: nobody is removed), and ``cooperation_rate``: the fraction of cooperative moves
            chosen over the episode (initial random moves excluded).
        """
        out = social_outcomes(self._rewards[: self._played])
        out["cooperation_rate"] = float(self._coop_steps[: self._played].mean()) if self._played else 0.0
        return out

    # ------------------------------------------------------------ snapshots
    def get_state(self) -> dict[str, Any]:
        """JSON-compatible snapshot: moves, step counters, the episode's rewards so far and the RNG."""
        return {"moves": self.moves.tolist(), "t": self.t, "played": self._played,
                "rewards": self._rewards[: self._played].tolist(),
                "coop": self._coop_steps[: self._played].tolist(), "rng": self.rng.bit_generator.state}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores ``get_state`` output (``ValueError`` on malformed data)."""
        try:
            moves = np.asarray(state["moves"], dtype=np.int64)
            t, played = int(state["t"]), int(state["played"])
            rewards = np.asarray(state["rewards"], dtype=np.float64).reshape(played, self.num_agents)
            coop = np.asarray(state["coop"], dtype=np.float64).reshape(played)
            rng = rng_from_state(state["rng"])
        except (LookupError, TypeError, ValueError, ArithmeticError) as e:  # SnapshotError is a ValueError
            raise ValueError(f"malformed SpatialPD state: {e!r}") from None
        if moves.shape != (self.num_agents,) or ((moves != 0) & (moves != 1)).any():
            raise ValueError("malformed SpatialPD state: moves")
        if not 0 <= played <= t <= self.horizon:
            raise ValueError(f"malformed SpatialPD state: t={t}, played={played}")
        if not (np.isfinite(rewards).all() and ((coop >= 0) & (coop <= 1)).all()):
            raise ValueError("malformed SpatialPD state: rewards or cooperation rates out of range")
        self.moves, self.t, self._played = moves.astype(np.int8), t, played
        self._rewards[:played] = rewards
        self._coop_steps[:played] = coop
        self.rng = rng


# ---------------------------------------------------------- SimultaneousGame adapter (dict API, text)
@dataclass
class LatticeState:
    """State of the spatial game in its ``SimultaneousGame`` form.

    Attributes:
        history: The moves of every agent: the initial random moves, then one array per step played.
        rewards: The rewards of every step played, ``(num_agents,)`` each.
    """

    history: list[np.ndarray] = field(default_factory=list)
    rewards: list[np.ndarray] = field(default_factory=list)
    obs: np.ndarray | None = None


class SpatialPDGame(SimultaneousGame[LatticeState]):
    """The spatial prisoner's dilemma as a ``SimultaneousGame`` (one seat per lattice site).

    Dynamics are the numpy core's (``lattice_rewards``, ``lattice_observations``). The initial moves
    are drawn from the env RNG the session passes to ``initial_state`` at reset, so seeded episodes
    reproduce and the rules object holds no reference to an env (envs pickle).

    Args:
        size: Lattice side L.
        dr: Dilemma strength.
        horizon: Steps per episode (the game ends after them).
        init_coop: Probability of an initial cooperative move.
    """

    obs_low = 0.0
    obs_high = 1.0
    action_names = ("cooperate", "defect")
    aliases = {"c": COOPERATE, "d": DEFECT}
    obs_size = 5
    title = "Spatial prisoner's dilemma"

    def __init__(self, size: int, dr: float, horizon: int, init_coop: float):
        self.size, self.dr, self.horizon, self.init_coop = _check_args(size, dr, horizon, init_coop)
        self.num_players = self.size * self.size
        r, s, t, p = pd_payoffs(self.dr)
        self.rules = (f"You are one of {self.num_players} agents on a {self.size}x{self.size} grid that wraps "
                      f"around. Each step you choose cooperate or defect, one move played against each of your "
                      f"four neighbours (north, south, west, east). Per neighbour: both cooperate {r:+g} each, "
                      f"both defect {p:g}, a defector against a cooperator gets {t:+g} and the cooperator {s:+g}. "
                      f"Your reward is the mean of your four payoffs.")
        self.instruction = f"Earn as much as you can over {self.horizon} steps of the spatial prisoner's dilemma."

    def initial_state(self, rng: np.random.Generator) -> LatticeState:
        """Initial random moves from the env RNG (cooperate with probability ``init_coop``)."""
        return self.new_state(rng)

    def new_state(self, rng: np.random.Generator | None = None) -> LatticeState:
        """The start of an episode: moves drawn from ``rng`` (the session passes the env's at reset)."""
        if rng is None:
            raise RuntimeError("new_state() needs an rng (the env's): the initial moves are drawn")
        moves = initial_moves(rng, self.num_players, self.init_coop)
        return LatticeState([moves], [], lattice_observations(moves, self.size))

    def legal_actions(self, s: LatticeState, player: int) -> list[int]:
        """Both moves, until the horizon."""
        return [] if self.is_terminal(s) else [COOPERATE, DEFECT]

    def apply_joint(self, s: LatticeState, actions: list[int], rng: np.random.Generator) -> None:
        """Plays every agent's move (no chance)."""
        moves = np.asarray(actions, dtype=np.int8)
        s.history.append(moves)
        s.rewards.append(lattice_rewards(moves, self.size, self.dr))
        s.obs = lattice_observations(moves, self.size)

    def is_terminal(self, s: LatticeState) -> bool:
        """True after ``horizon`` steps played (void steps do not count)."""
        return len(s.rewards) >= self.horizon

    def step_rewards(self, s: LatticeState) -> list[float]:
        """Rewards of the last step played."""
        return s.rewards[-1].tolist() if s.rewards else [0.0] * self.num_players

    def returns(self, s: LatticeState) -> list[float]:
        """Every agent's total reward so far."""
        return np.sum(s.rewards, axis=0).tolist() if s.rewards else [0.0] * self.num_players

    def _obs(self, s: LatticeState) -> np.ndarray:
        if s.obs is None:
            s.obs = lattice_observations(s.history[-1], self.size)
        return s.obs

    def info_encoding(self, s: LatticeState, player: int) -> str:
        """Rules, steps played and the agent's five observed moves (the lattice is translation invariant)."""
        view = "".join(str(int(x)) for x in self._obs(s)[player])
        return f"L{self.size}|dr{self.dr!r}|H{self.horizon}|t{len(s.rewards)}|o{view}"

    def render(self, s: LatticeState, player: int) -> str:
        """Rules, position, step, the five last moves and the last reward."""
        row, col = divmod(player, self.size)
        word = {1.0: "cooperate", 0.0: "defect"}
        view = self._obs(s)[player]
        moves = ", ".join(f"{name} {word[float(x)]}" for name, x in zip(OBS_FIELDS, view, strict=True))
        played = len(s.rewards)
        lines = [f"{self.title}, step {played + 1} of {self.horizon}. You are agent {player} "
                 f"(row {row}, column {col}).", self.rules,
                 f"Last moves ({'initial random moves' if not played else 'last step'}): {moves}."]
        if played:
            lines.append(f"Your last reward: {s.rewards[-1][player]:+.4g}.")
        return "\n".join(lines)

    def encode(self, s: LatticeState, player: int, out: np.ndarray) -> None:
        """``[self, north, south, west, east]`` last moves, 1.0 = cooperated."""
        out[:] = self._obs(s)[player]

    def step_metrics(self, s: LatticeState) -> dict[str, float]:
        """``cooperation_rate``: the fraction of agents whose last move is cooperate."""
        return {"cooperation_rate": float(np.count_nonzero(s.history[-1] == COOPERATE)) / self.num_players}

    def social(self, s: LatticeState) -> dict[str, float]:
        """Perolat et al. (2017) metrics of the steps played plus the episode's cooperation rate."""
        rewards = np.asarray(s.rewards, dtype=np.float64).reshape(len(s.rewards), self.num_players)
        out = social_outcomes(rewards)
        out["cooperation_rate"] = cooperation_rate(np.asarray(s.history[1:]) == COOPERATE) if s.rewards else 0.0
        return out

    def to_json(self, s: LatticeState) -> Any:
        """The move history (rewards and observations follow from it)."""
        return {"history": [m.tolist() for m in s.history]}

    def from_json(self, data: Any) -> LatticeState:
        """Rebuilds a state from ``to_json`` output, checking every move (exact JSON ints 0 or 1)."""
        rows = read_list(read_dict(data, "lattice state", ("history",))["history"], "history",
                         max_length=self.horizon + 1)
        if not rows:
            raise ValueError("a lattice state holds at least the initial moves")
        moves = [np.array(read_int_list(m, 0, 1, "moves", length=self.num_players), dtype=np.int8) for m in rows]
        rewards = [lattice_rewards(m, self.size, self.dr) for m in moves[1:]]
        return LatticeState(moves, rewards, None)

    def copy_state(self, s: LatticeState) -> LatticeState:
        """Independent copy (the arrays are never written in place)."""
        return LatticeState(list(s.history), list(s.rewards), s.obs)


_DOC = """

    Description:
        The spatial prisoner's dilemma (arXiv 2601.05509): ``size x size`` agents on a periodic lattice
        each play the prisoner's dilemma with their four von Neumann neighbours, one move per step for
        all four games. Payoffs R=1, P=0, S=-Dr, T=1+Dr with dilemma strength ``dr``. Initial moves are
        random (cooperate with probability ``init_coop``, from the env RNG). The defaults here are small
        (4x4, 10 steps) because this form handles every agent one by one; the paper's 30x30 lattice is
        ``size=30``, and ``SpatialPD`` / ``SpatialPDVecEnv`` step it vectorized.
    Observation:
        Vector (``obs_mode="vector"``): ``Dict(observation=Box(0, 1, (5,)), action_mask=MultiBinary(2))``,
        the last moves ``[self, north, south, west, east]`` with 1.0 = cooperated (north = row - 1, west =
        column - 1, wrapping). Text: the rules, the agent's position and step, the same five moves in
        words and its last reward. ``info["state_key"]`` hashes the rules, the steps played and the five
        moves (the lattice is translation invariant, so the position is left out).
    Action:
        Text: ``cooperate`` or ``defect`` (aliases ``c``, ``d``), bare, inside ``<action>…</action>`` or in
        ``[brackets]``. Vector: ``Discrete(2)`` (0 cooperate, 1 defect).
    Reward:
        The mean of the agent's four pairwise payoffs with its neighbours' moves of the same step.
        ``invalid_action_penalty`` per invalid action; a step with any invalid action is not played
        (moves unchanged, turn consumed).
    Episode end:
        Terminated after ``horizon`` steps played (``info["success"]``: your total reward > 0); truncated
        when ``max_turns`` turns (void steps included) have been taken. (``SpatialPD`` and
        ``SpatialPDVecEnv`` report the horizon as a truncation instead, for bootstrapping learners; see
        ``turngym.envs.dilemmas.spatial``.) Every info has ``cooperation_rate``
        (fraction of agents whose last move is cooperate); the final info has ``info["social"]``:
        ``efficiency``, ``equality``, ``sustainability``, ``peace`` (Perolat et al. 2017) and the
        episode's ``cooperation_rate``.
    Arguments:
        size (int): lattice side, at least 3; default 4 here (the paper: 30).
        dr (float): dilemma strength, default 0.2.
        horizon (int): steps per episode, default 10.
        init_coop (float): probability of an initial cooperative move, default 0.5.
        max_turns (int | None): turn cap; default ``2 * horizon``.
        obs_mode (str): ``"text"`` (default) or ``"vector"``.
        invalid_action_penalty (float): default 0.0.
{extra}    Version history:
        v0: initial release.
"""


class SpatialPDParallel(DilemmaParallelEnv):
    """Spatial prisoner's dilemma, PettingZoo Parallel form (agents ``player_0`` … ``player_{L*L-1}``, row-major)."""

    def __init__(self, size: int = WRAPPER_SIZE, dr: float = 0.2, horizon: int = WRAPPER_HORIZON,
                 init_coop: float = 0.5, obs_mode: str = "text", max_turns: int | None = None,
                 invalid_action_penalty: float = 0.0, render_mode: str | None = None):
        game = SpatialPDGame(size, dr, horizon, init_coop)
        super().__init__(game, ENV_ID, obs_mode, default_max_turns(max_turns, game.horizon), invalid_action_penalty,
                         render_mode)


class SpatialPDEnv(DilemmaSingleAgentEnv):
    """Spatial prisoner's dilemma, single-agent view: the learner is agent ``seat``, ``opponents`` the others."""

    def __init__(self, size: int = WRAPPER_SIZE, dr: float = 0.2, horizon: int = WRAPPER_HORIZON,
                 init_coop: float = 0.5, opponents: Any = None, seat: int | str = 0, obs_mode: str = "text",
                 max_turns: int | None = None, invalid_action_penalty: float = 0.0, render_mode: str | None = None):
        game = SpatialPDGame(size, dr, horizon, init_coop)
        super().__init__(game, ENV_ID, opponents, seat, obs_mode, default_max_turns(max_turns, game.horizon),
                         invalid_action_penalty, render_mode)


SpatialPDParallel.__doc__ = (SpatialPDParallel.__doc__ or "") + _DOC.format(extra=PARALLEL_ARGS)
SpatialPDEnv.__doc__ = (SpatialPDEnv.__doc__ or "") + _DOC.format(extra=SINGLE_ARGS)

__all__ = ["COOPERATE", "DEFECT", "ENV_ID", "OBS_FIELDS", "SpatialPD", "SpatialPDEnv", "SpatialPDGame",
           "SpatialPDParallel", "cooperating_neighbours", "lattice_observations",
           "lattice_rewards", "pd_payoffs"]
