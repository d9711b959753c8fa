"""Front ends of a ``SimultaneousGame``: PettingZoo Parallel, and the Gymnasium single-agent view.

Both delegate to ``SimultaneousSession``, so the info contract, the invalid-action rule (a joint step
with any invalid action is void: state unchanged, turn consumed; see ``turngym.envs.core.simultaneous``)
and the snapshot format are written once.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from turngym.envs.core.agent_api import accepts_rng
from turngym.envs.core.errors import SnapshotError
from turngym.envs.core.render import render_text
from turngym.envs.core.session import (
    RESET_FIRST,
    encode_snapshot,
    parsed_snapshot,
    read_dict,
    read_list,
    rng_from_state,
    rng_state,
)
from turngym.envs.core.simultaneous import SimultaneousGame, SimultaneousSession
from turngym.envs.core.single import check_seat, read_seat, resolve_opponents
from turngym.envs.core.text_env import TextEnv


class GameParallelEnv(ParallelEnv):
    """Simultaneous-move multi-agent env (PettingZoo Parallel) over a ``SimultaneousGame``.

    Agents are named ``player_0`` … ``player_{n-1}``; every live agent acts at every step. Rewards are
    the game's per-step rewards plus ``invalid_action_penalty`` for each invalid action. If any agent's
    action is invalid (or missing from the ``actions`` dict) the whole joint step is void: the game and
    the env RNG do not change, the turn is consumed, the invalid agents get ``action_valid=False`` and
    ``info["error"]``, the others ``action_valid=True`` and a note in their next text observation.
    Agents leave ``agents`` when they terminate or are truncated, as PettingZoo requires.

    Args:
        game: The rules.
        env_id: Registered id (namespaces ``state_key``).
        obs_mode: ``"text"`` or ``"vector"``.
        max_turns: Turn cap (joint steps, void ones included); reaching it truncates every agent.
        invalid_action_penalty: Reward for each invalid action (default 0).
        render_mode: ``None``, ``"ansi"`` or ``"human"``.
    """

    metadata = {"render_modes": ["ansi", "human"], "is_parallelizable": True}

    def __init__(
        self,
        game: SimultaneousGame,
        env_id: str,
        obs_mode: str = "text",
        max_turns: int = 100,
        invalid_action_penalty: float = 0.0,
        render_mode: str | None = None,
    ):
        self.game = game
        self.env_id = env_id
        self.metadata = {**self.metadata, "name": env_id.split("/")[-1]}
        self.session = SimultaneousSession(game, env_id, obs_mode, max_turns, invalid_action_penalty)
        self.obs_mode = obs_mode
        self.render_mode = render_mode
        self.possible_agents = [f"player_{i}" for i in range(game.num_players)]
        self._index = {a: i for i, a in enumerate(self.possible_agents)}
        self.observation_spaces = {a: self.session.observation_space() for a in self.possible_agents}
        self.action_spaces = {a: self.session.action_space() for a in self.possible_agents}
        self._np_random: np.random.Generator | None = None
        self.agents: list[str] = []

    def observation_space(self, agent: str) -> gymnasium.Space:
        """Observation space of ``agent`` (the same object at every call)."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.Space:
        """Action space of ``agent`` (the same object at every call)."""
        return self.action_spaces[agent]

    @property
    def np_random(self) -> np.random.Generator:
        """The env's own RNG (seeded by ``reset(seed=...)``)."""
        if self._np_random is None:
            self._np_random, _ = seeding.np_random()
        return self._np_random

    # ------------------------------------------------------------------ loop
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Starts a new episode; ``seed`` reseeds the env RNG.

        Returns:
            (observations, infos) of every agent; each info carries ``task``.
        """
        if seed is not None:
            self._np_random, _ = seeding.np_random(seed)
        self.session.reset(self.np_random)
        self.agents = list(self.possible_agents)
        obs = {a: self.session.observation(i) for i, a in enumerate(self.agents)}
        infos = {a: self.session.info(i) for i, a in enumerate(self.agents)}
        for i, a in enumerate(self.agents):
            infos[a]["task"] = self.session.task(seed, i)
        return obs, infos

    def step(self, actions: dict[str, Any]) -> tuple[dict[str, Any], dict[str, float], dict[str, bool],
                                                     dict[str, bool], dict[str, dict[str, Any]]]:
        """Plays one joint step: ``actions`` maps each live agent to a word or an action id.

        Returns:
            (observations, rewards, terminations, truncations, infos) of the agents that were live
            before the step (those that finished in it included).

        Raises:
            ValueError: ``actions`` names an agent that is not in ``possible_agents``.
            RuntimeError: every agent is done (call ``reset``).
        """
        if self.session.state is None:
            raise RuntimeError(f"step() called before reset(); {RESET_FIRST}")
        if not self.agents:
            raise RuntimeError("step() called after every agent is done; call reset()")
        if not isinstance(actions, dict):
            raise TypeError(f"step() expects a dict agent -> action, got {type(actions).__name__}")
        unknown = [a for a in actions if a not in self._index]
        if unknown:
            raise ValueError(f"unknown agent(s) {unknown!r}; agents are {self.possible_agents}")
        session = self.session
        live = list(self.agents)
        missing = [a not in actions for a in self.possible_agents]
        joint = [actions.get(a) for a in self.possible_agents]
        _, rewards = session.act(joint, self._np_random or self.np_random, missing)
        terminated, truncated = session.terminal, session.truncated and not session.terminal
        index = self._index
        obs = {a: session.observation(index[a]) for a in live}
        rew = {a: rewards[index[a]] for a in live}
        terms = dict.fromkeys(live, terminated)
        truncs = dict.fromkeys(live, truncated)
        infos = {a: session.info(index[a]) for a in live}
        if terminated or truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return obs, rew, terms, truncs, infos

    # ------------------------------------------------------------- snapshots
    def get_state(self) -> bytes:
        """Snapshot of the game, the env RNG and the live agents (JSON bytes, never pickle)."""
        if self.session.state is None:
            raise RuntimeError(f"get_state() called before reset(); {RESET_FIRST}")
        return encode_snapshot(
            self.env_id,
            {"session": self.session.dump(), "rng": rng_state(self.np_random), "agents": list(self.agents)},
        )

    def set_state(self, blob: bytes) -> None:
        """Restores a ``get_state`` snapshot; atomic: ``SnapshotError`` (only) leaves the env unchanged.

        Every agent is live until the episode ends, when all leave together (``step``).
        """

        def parse(data: dict[str, Any]) -> tuple[Any, ...]:
            fields = read_dict(data, "snapshot", ("session", "rng", "agents"))
            agents = read_list(fields["agents"], "agents", max_length=len(self.possible_agents))
            rng = rng_from_state(fields["rng"])
            snap = self.session.parse(fields["session"])
            over = snap.truncated or self.game.is_terminal(snap.state)
            if agents != ([] if over else self.possible_agents):
                raise SnapshotError(f"agents {str(agents)[:120]} do not match the game "
                                    f"({'over' if over else 'every agent live'})")
            return snap, rng, agents

        snap, rng, agents = parsed_snapshot(self.env_id, blob, parse)
        self.session.restore(snap)
        self._np_random = rng
        self.agents = list(agents)

    # ---------------------------------------------------------------- render
    def render(self) -> str | None:
        """Every agent's text view (``ansi`` returns it, ``human`` prints it)."""
        return render_text(self.render_mode, lambda: "\n\n".join(
            f"== {a} ==\n" + self.session.observation(i, mode="text") for i, a in enumerate(self.possible_agents)))

    def close(self) -> None:
        """Nothing to release."""


class SimultaneousSingleAgentEnv(TextEnv):
    """The learner plays one seat of a simultaneous-move game; ``opponents`` play the rest.

    Each ``step`` first validates the learner's action. If it is invalid the step is void (state and
    RNG unchanged, turn consumed, ``action_valid=False``) and the opponents are not asked. Otherwise
    every opponent chooses from its own observation of the same state (text, unless it has
    ``obs_mode = "vector"``), drawing from the env RNG when its ``act`` accepts ``rng``, and the joint
    action is played; an invalid opponent action voids the step too (the learner's observation then
    says so). Reward = the learner's step reward, plus ``invalid_action_penalty`` for an invalid
    learner action.

    Args:
        game: The rules.
        env_id: Registered id.
        opponents: ``None`` (random-legal), one agent or name for every other seat, or a list of them.
        seat: The learner's seat, or ``"random"`` (drawn at each reset from the env RNG).
        obs_mode: ``"text"`` or ``"vector"``.
        max_turns: Turn cap (void steps included); reaching it truncates.
        invalid_action_penalty: Reward for each invalid learner action (default 0).
        render_mode: ``None``, ``"ansi"`` or ``"human"``.
    """

    def __init__(
        self,
        game: SimultaneousGame,
        env_id: str,
        opponents: Any = None,
        seat: int | str = 0,
        obs_mode: str = "text",
        max_turns: int = 100,
        invalid_action_penalty: float = 0.0,
        render_mode: str | None = None,
    ):
        self.game = game
        self.env_id = env_id
        self.session = SimultaneousSession(game, env_id, obs_mode, max_turns, invalid_action_penalty)
        self.obs_mode = obs_mode
        self.seat_arg = check_seat(seat, game.num_players)
        self.seat = 0 if seat == "random" else int(seat)
        self.opponents = resolve_opponents(opponents, game.num_players - 1)
        self._opp_rng = [accepts_rng(o) for o in self.opponents]
        self.observation_space = self.session.observation_space()
        self.action_space = self.session.action_space()
        self.render_mode = render_mode

    # ------------------------------------------------------------------ loop
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Starts a new episode (and draws the seat when ``seat="random"``)."""
        super().reset(seed=seed)
        self.session.reset(self.np_random)
        if self.seat_arg == "random":
            self.seat = int(self.np_random.integers(self.game.num_players))
        info = self._info()
        info["task"] = self.session.task(seed, self.seat)
        return self._obs(), info

    def step(self, action: Any):
        """Plays the learner's action together with the opponents' (see the class docstring)."""
        session = self.session
        if session.state is None:
            raise RuntimeError(f"step() called before reset(); {RESET_FIRST}")
        if session.terminal or session.truncated:
            raise RuntimeError("step() called after the episode ended; call reset()")
        n = self.game.num_players
        joint: list[Any] = [None] * n
        joint[self.seat] = action
        aid, _ = session.to_action_id(self.seat, action)
        if aid is not None:  # a void step needs no opponent moves, and must not consume the RNG
            for k, opp in enumerate(self.opponents):
                player = k if k < self.seat else k + 1
                obs = session.observation(player, getattr(opp, "obs_mode", "text"))
                info = session.info(player)
                if self._opp_rng[k]:
                    joint[player] = opp.act([obs], [info], rng=self.np_random)[0]
                else:
                    joint[player] = opp.act([obs], [info])[0]
        _, rewards = session.act(joint, self.np_random)
        terminated = session.terminal
        return self._obs(), rewards[self.seat], terminated, session.truncated and not terminated, self._info()

    def _obs(self) -> Any:
        return self.session.observation(self.seat)

    def _info(self) -> dict[str, Any]:
        info = self.session.info(self.seat)
        info["seat"] = self.seat
        return info

    def action_masks(self) -> np.ndarray:
        """Legal-action mask of the learner (the hook sb3-contrib's MaskablePPO calls)."""
        mask = np.zeros(self.game.num_actions, dtype=bool)
        mask[self.session.legal_ids(self.seat)] = True
        return mask

    # ------------------------------------------------------------- snapshots
    def get_state(self) -> bytes:
        """Snapshot of the game, the env RNG and the seat (JSON bytes, never pickle)."""
        if self.session.state is None:
            raise RuntimeError(f"get_state() called before reset(); {RESET_FIRST}")
        return encode_snapshot(
            self.env_id,
            {"session": self.session.dump(), "rng": rng_state(self.np_random), "seat": self.seat},
        )

    def set_state(self, blob: bytes) -> None:
        """Restores a ``get_state`` snapshot; atomic: ``SnapshotError`` (only) leaves the env unchanged."""

        def parse(data: dict[str, Any]) -> tuple[Any, ...]:
            fields = read_dict(data, "snapshot", ("session", "rng", "seat"))
            seat = read_seat(fields["seat"], self.seat_arg, self.game.num_players)
            return self.session.parse(fields["session"]), rng_from_state(fields["rng"]), seat

        snap, rng, seat = parsed_snapshot(self.env_id, blob, parse)
        self.session.restore(snap)
        self._np_random = rng
        self.seat = seat

    def render(self) -> str | None:
        """The learner's text view (``ansi`` returns it, ``human`` prints it)."""
        return render_text(self.render_mode, lambda: self.session.observation(self.seat, mode="text"))


__all__ = ["GameParallelEnv", "SimultaneousSingleAgentEnv"]
