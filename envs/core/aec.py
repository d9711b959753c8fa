"""PettingZoo AEC front end for any ``TurnGame``."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium.utils import seeding
from pettingzoo import AECEnv

from turngym.envs.core.errors import SnapshotError
from turngym.envs.core.game import TurnGame
from turngym.envs.core.render import render_text
from turngym.envs.core.session import (
    RESET_FIRST,
    GameSession,
    encode_snapshot,
    parsed_snapshot,
    read_bool,
    read_dict,
    read_list,
    read_number,
    rng_from_state,
    rng_state,
)


class GameAECEnv(AECEnv):
    """Turn-based multi-agent env (PettingZoo AEC) over a ``TurnGame``.

    Agents are named ``player_0`` … ``player_{n-1}``. Rewards are the game payoffs, given to every
    agent on the final step, plus ``invalid_action_penalty`` to a seat for each invalid action.
    An invalid action does not change the game; the same agent acts again and its observation and
    ``info["error"]`` say what was wrong.

    Args:
        game: The rules.
        env_id: Registered id (namespaces ``state_key``).
        obs_mode: ``"text"`` or ``"vector"``.
        max_turns: Turn cap, invalid actions included; reaching it truncates every agent.
        invalid_action_penalty: Reward for each invalid action (default 0).
        chance: ``"sample"`` (default) or ``"explicit"`` for solvers (see ``chance_outcomes``).
        render_mode: ``None``, ``"ansi"`` or ``"human"``.
    """

    metadata = {"render_modes": ["ansi", "human"], "is_parallelizable": False}

    def __init__(
        self,
        game: TurnGame,
        env_id: str,
        obs_mode: str = "text",
        max_turns: int = 100,
        invalid_action_penalty: float = 0.0,
        chance: str = "sample",
        render_mode: str | None = None,
    ):
        super().__init__()
        self.game = game
        self.env_id = env_id
        self.metadata = {**self.metadata, "name": env_id.split("/")[-1]}
        self.session = GameSession(game, env_id, obs_mode, max_turns, invalid_action_penalty, chance=chance)
        self.obs_mode = obs_mode
        self.render_mode = render_mode
        self.possible_agents = [f"player_{i}" for i in range(game.num_players)]
        self._index = {a: i for i, a in enumerate(self.possible_agents)}
        self.observation_spaces = {a: self.session.observation_space() for a in self.possible_agents}
        self.action_spaces = {a: self.session.action_space() for a in self.possible_agents}
        self._np_random: np.random.Generator | None = None
        self.agents: list[str] = []

    def observation_space(self, agent: str) -> gymnasium.Space:
        """Observation space of ``agent``."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.Space:
        """Action space of ``agent``."""
        return self.action_spaces[agent]

    @property
    def np_random(self) -> np.random.Generator:
        """The env's own RNG (seeded by ``reset(seed=...)``)."""
        if self._np_random is None:
            self._np_random, _ = seeding.np_random()
        return self._np_random

    # ------------------------------------------------------------------ loop
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Starts a new game; ``seed`` reseeds the env RNG (deals and seating)."""
        if seed is not None:
            self._np_random, _ = seeding.np_random(seed)
        agents = self.agents = list(self.possible_agents)
        self.session.reset(self.np_random)
        self.rewards = dict.fromkeys(agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(agents, 0.0)
        self.terminations = dict.fromkeys(agents, False)
        self.truncations = dict.fromkeys(agents, False)
        self.infos = {a: {} for a in agents}
        self.agent_selection = agents[0]
        self._after_move()
        infos, task = self.infos, self.session.task
        for i, agent in enumerate(agents):
            infos[agent]["task"] = task(seed, i)

    def observe(self, agent: str) -> Any:
        """Observation of ``agent`` now (text or ``{observation, action_mask}``)."""
        return self.session.observation(self._index[agent])

    def step(self, action: Any) -> None:
        """Plays ``action`` (a word or an action id) for ``agent_selection``."""
        if self.session.state is None:
            raise RuntimeError(f"step() called before reset(); {RESET_FIRST}")
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        session = self.session
        if session.current_player != self._index[agent]:
            raise RuntimeError("a chance event is pending: resolve it with apply_chance() first")
        self._cumulative_rewards[agent] = 0.0
        rewards = self.rewards
        for a in rewards:
            rewards[a] = 0.0
        _, penalty = session.act(action, self._np_random or self.np_random)
        if penalty:
            rewards[agent] += penalty
        self._after_move()
        self._accumulate_rewards()
        if self.render_mode == "human":
            self.render()

    def _after_move(self) -> None:
        """Updates selection, terminal flags, payoffs and infos after a move or a chance event."""
        session = self.session
        player, terminal = session.current_player, session.terminal
        if terminal or session.truncated:
            if terminal:
                rewards = self.rewards
                for a, ret in zip(self.possible_agents, session.final_returns, strict=True):
                    if a in rewards:
                        rewards[a] += float(ret)
                self.terminations = dict.fromkeys(self.agents, True)
            else:
                self.truncations = dict.fromkeys(self.agents, True)
            index, infos = self._index, self.infos
            for a in self.agents:
                infos[a] = session.info(index[a])
            return
        if player >= 0:
            agent = self.agent_selection = self.possible_agents[player]
            self.infos[agent] = session.info(player)

    # ---------------------------------------------------------- chance (solvers)
    def chance_outcomes(self) -> list[tuple[int, float]]:
        """The pending chance event as (outcome, probability) pairs; empty when none is pending.

        Only ``chance="explicit"`` leaves chance events pending; exact solvers branch over them with
        ``get_state``/``set_state``.
        """
        return list(self.session.game.chance_outcomes(self.session.state))

    def apply_chance(self, outcome: int) -> None:
        """Resolves the pending chance event with ``outcome`` (explicit chance mode)."""
        self.session.apply_chance(outcome)
        self._after_move()

    # ------------------------------------------------------------- snapshots
    def get_state(self) -> bytes:
        """Snapshot of the game, RNG, rewards and agent bookkeeping."""
        if self.session.state is None:
            raise RuntimeError(f"get_state() called before reset(); {RESET_FIRST}")
        return encode_snapshot(
            self.env_id,
            {
                "session": self.session.dump(),
                "rng": rng_state(self.np_random),
                "agents": list(self.agents),
                "agent_selection": self.agent_selection,
                "rewards": self.rewards,
                "cumulative": self._cumulative_rewards,
                "terminations": self.terminations,
                "truncations": self.truncations,
            },
        )

    def set_state(self, blob: bytes) -> None:
        """Restores a ``get_state`` snapshot; atomic: ``SnapshotError`` (only) leaves the env unchanged.

        The agent bookkeeping must agree with the game: every agent is live until the game is over
        (PettingZoo removes agents one dead step at a time afterwards), the selected agent is the one to
        act, and the termination and truncation flags are the session's.
        """
        session = self.session
        possible = self.possible_agents

        def parse(data: dict[str, Any]) -> tuple[Any, ...]:
            fields = read_dict(data, "snapshot", ("session", "rng", "agents", "agent_selection", "rewards",
                                                  "cumulative", "terminations", "truncations"))
            snap = session.parse(fields["session"])
            rng = rng_from_state(fields["rng"])
            agents = read_list(fields["agents"], "agents", max_length=len(possible))
            if any(a not in self._index for a in agents) or agents != [a for a in possible if a in agents]:
                raise SnapshotError(f"agents {str(agents)[:120]} are not live agents of {possible} in seat order")
            selection = fields["agent_selection"]
            if selection not in self._index:
                raise SnapshotError(f"agent_selection {str(selection)[:40]!r} is not one of {possible}")
            terminal = self.game.is_terminal(snap.state)
            player = -1 if terminal or snap.truncated else self.game.current_player(snap.state)
            if not (terminal or snap.truncated) and agents != possible:
                raise SnapshotError("an agent left before the game was over")
            if player >= 0 and selection != possible[player]:
                raise SnapshotError(f"agent_selection {selection!r}, but {possible[player]} is to act")
            if (terminal or snap.truncated) and agents and selection not in agents:
                raise SnapshotError(f"agent_selection {selection!r} is not live")

            def per_agent(key: str, read: Any) -> dict[str, Any]:
                table = read_dict(fields[key], key)
                if sorted(table) != sorted(agents):
                    raise SnapshotError(f"{key}: expected one entry per live agent")
                return {a: read(table[a], f"{key}[{a}]") for a in agents}

            rewards, cumulative = per_agent("rewards", read_number), per_agent("cumulative", read_number)
            terminations, truncations = per_agent("terminations", read_bool), per_agent("truncations", read_bool)
            if any(terminations[a] != terminal or truncations[a] != snap.truncated for a in agents):
                raise SnapshotError("termination and truncation flags disagree with the game")
            # ``step`` pays only the invalid-action penalty (to the agent that acted) and, on the final
            # step, the payoffs; an agent's cumulative reward is reset when it acts, so neither can exceed one
            # penalty plus the payoff.
            penalty = session.invalid_action_penalty
            returns = self.game.returns(snap.state) if terminal else [0.0] * len(possible)
            for a in agents:
                payoff = float(returns[self._index[a]])
                if not {rewards[a], cumulative[a]} <= {0.0, penalty, 0.0 + payoff, penalty + payoff}:
                    raise SnapshotError(f"rewards of {a} that the game does not pay")
            return snap, rng, agents, selection, rewards, cumulative, terminations, truncations

        parsed = parsed_snapshot(self.env_id, blob, parse)
        snap, rng, agents, selection, rewards, cumulative, terminations, truncations = parsed
        session.restore(snap)
        self._np_random = rng
        self.agents = agents
        self.agent_selection = selection
        self.rewards, self._cumulative_rewards = rewards, cumulative
        self.terminations, self.truncations = terminations, truncations
        self.infos = {a: {} for a in self.agents}
        if session.terminal or session.truncated:
            for a in self.agents:
                self.infos[a] = session.info(self._index[a])
        elif session.current_player >= 0:
            self.infos[self.agent_selection] = session.info(session.current_player)

    # ---------------------------------------------------------------- render
    def render(self) -> str | None:
        """Text of the acting agent's view (``ansi`` returns it, ``human`` prints it)."""
        return render_text(self.render_mode,
                           lambda: self.session.observation(max(self.session.current_player, 0), mode="text"))

    def close(self) -> None:
        """Nothing to release."""


__all__ = ["GameAECEnv", "SnapshotError"]
