"""Single-agent Gymnasium view of a multi-agent ``TurnGame``.

The learner takes one seat; opponents (agent objects) fill the others and act inside ``step``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from turngym.envs.core.agent_api import Agent, RandomLegalAgent, accepts_rng
from turngym.envs.core.errors import ConfigError, SnapshotError
from turngym.envs.core.game import TurnGame
from turngym.envs.core.render import render_text
from turngym.envs.core.session import (
    RESET_FIRST,
    GameSession,
    encode_snapshot,
    parsed_snapshot,
    read_bool,
    read_dict,
    read_int,
    rng_from_state,
    rng_state,
)
from turngym.envs.core.text_env import TextEnv

BUILTIN_OPPONENTS = {"random": RandomLegalAgent}


def check_seat(seat: object, num_players: int) -> int | str:
    """Validates a learner ``seat`` argument: an int in ``0..num_players-1`` (not a bool) or ``"random"``."""
    valid = isinstance(seat, int) and not isinstance(seat, bool) and 0 <= seat < num_players
    if seat != "random" and not valid:
        raise ConfigError("seat", f"an int in 0..{num_players - 1} or 'random'", seat)
    return seat  # type: ignore[return-value]


def read_seat(value: Any, seat_arg: int | str, num_players: int) -> int:
    """The learner's seat of a snapshot: an int seat, equal to the env's ``seat`` unless it is ``"random"``.

    Raises:
        SnapshotError: Not an int seat, or another seat than the one this env fixes.
    """
    seat = read_int(value, 0, num_players - 1, "seat")
    if seat_arg != "random" and seat != seat_arg:
        raise SnapshotError(f"snapshot seats the learner at {seat}; this env seats it at {seat_arg}")
    return seat


def resolve_opponents(opponents: Any, count: int) -> list[Any]:
    """Turns the ``opponents`` argument into one agent per opponent seat.

    Accepts ``None`` (random-legal everywhere), one agent or name (used in every seat), or a list of
    ``count`` agents or names. Names: ``"random"``.
    """
    if opponents is None:
        opponents = "random"
    if isinstance(opponents, str) or not isinstance(opponents, Sequence):
        opponents = [opponents] * count
    if len(opponents) != count:
        raise ConfigError("opponents", f"{count} agent(s), one per other seat", f"{len(opponents)} agent(s)")
    out = []
    for opp in opponents:
        if isinstance(opp, str):
            if opp not in BUILTIN_OPPONENTS:
                raise ConfigError("opponents", "an agent object or " + repr(list(BUILTIN_OPPONENTS)), opp,
                                  BUILTIN_OPPONENTS)
            opp = BUILTIN_OPPONENTS[opp]()
        if not isinstance(opp, Agent):
            raise ConfigError("opponents", "objects with act(observations, infos)", type(opp).__name__)
        out.append(opp)
    return out


class GameSingleAgentEnv(TextEnv):
    """The learner plays one seat of a turn-based game; ``opponents`` play the rest.

    Each ``step`` plays the learner's action, then every opponent move until it is the learner's turn
    again or the game ends. Reward = the learner's payoff at the end, plus ``invalid_action_penalty``
    for each invalid learner action. Opponents receive their own observation (text, unless they have
    ``obs_mode = "vector"``) and info; those whose ``act`` accepts ``rng`` draw from the env's RNG, so
    seeded rollouts and snapshots stay reproducible.

    Args:
        game: The rules.
        env_id: Registered id.
        opponents: See ``resolve_opponents``.
        seat: The learner's seat, or ``"random"`` (drawn at each reset from the env RNG).
        obs_mode: ``"text"`` or ``"vector"``.
        max_turns: Turn cap over all seats, invalid actions included; reaching it truncates.
        invalid_action_penalty: Reward for each invalid learner action (default 0).
        render_mode: ``None``, ``"ansi"`` or ``"human"``.
    """

    def __init__(
        self,
        game: TurnGame,
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
        self.session = GameSession(game, env_id, obs_mode, max_turns, invalid_action_penalty)
        self.obs_mode = obs_mode
        self.seat_arg = check_seat(seat, game.num_players)
        self.seat = 0 if seat == "random" else int(seat)
        self.opponents = resolve_opponents(opponents, game.num_players - 1)
        self._opp_rng = [accepts_rng(o) for o in self.opponents]
        self.observation_space = self.session.observation_space()
        self.action_space = self.session.action_space()
        self.render_mode = render_mode
        self.learner_turns = 0
        self._ended_before_first_turn = False

    # ------------------------------------------------------------------ loop
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Deals a new game and plays opponents up to the learner's first decision."""
        super().reset(seed=seed)
        rng = self.np_random
        self.session.reset(rng)
        if self.seat_arg == "random":
            self.seat = int(rng.integers(self.game.num_players))
        self.learner_turns = 0
        self._play_opponents()
        # The opponents may end the game before the learner's first decision (e.g. a Dhumbal seat calling
        # jhyap on its dealt hand). Gymnasium's reset cannot end an episode, so the learner gets the final
        # observation (no legal action) and its next step, whatever the action, only delivers the payoff.
        self._ended_before_first_turn = self.session.terminal or self.session.truncated
        info = self._info()
        info["task"] = self.session.task(seed, self.seat)
        if self._ended_before_first_turn:
            info["ended_before_first_turn"] = True
        return self._obs(), info

    def step(self, action: Any):
        """Plays the learner's action, then the opponents'."""
        session = self.session
        if session.state is None:
            raise RuntimeError(f"step() called before reset(); {RESET_FIRST}")
        if session.terminal or session.truncated:
            if self._ended_before_first_turn:
                self._ended_before_first_turn = False
                terminated = session.terminal
                reward = float(session.final_returns[self.seat]) if terminated else 0.0
                info = self._info()
                info["ended_before_first_turn"] = True
                return self._obs(), reward, terminated, session.truncated and not terminated, info
            raise RuntimeError("step() called after the episode ended; call reset()")
        _, reward = session.act(action, self.np_random)
        self.learner_turns += 1
        self._play_opponents()
        terminated = session.terminal
        if terminated:
            reward += float(session.final_returns[self.seat])
        return self._obs(), reward, terminated, session.truncated and not terminated, self._info()

    def _play_opponents(self) -> None:
        session = self.session
        while not (session.terminal or session.truncated):
            player = session.current_player
            if player == self.seat:
                return
            k = player if player < self.seat else player - 1
            opp = self.opponents[k]
            obs = session.observation(player, getattr(opp, "obs_mode", "text"))
            info = session.info(player)
            if self._opp_rng[k]:
                action = opp.act([obs], [info], rng=self.np_random)[0]
            else:
                action = opp.act([obs], [info])[0]
            session.act(action, self.np_random)

    def _obs(self) -> Any:
        return self.session.observation(self.seat)

    def _info(self) -> dict[str, Any]:
        info = self.session.info(self.seat, turn=self.learner_turns)
        info["seat"] = self.seat
        return info

    def action_masks(self) -> np.ndarray:
        """Legal-action mask of the learner (the hook sb3-contrib's MaskablePPO calls)."""
        mask = np.zeros(self.game.num_actions, dtype=bool)
        if self.session.current_player == self.seat:
            mask[self.session.legal_ids()] = True
        return mask

    # ------------------------------------------------------------- snapshots
    def get_state(self) -> bytes:
        """Snapshot of the game, the env RNG, the seat and the learner's turn count."""
        if self.session.state is None:
            raise RuntimeError(f"get_state() called before reset(); {RESET_FIRST}")
        return encode_snapshot(
            self.env_id,
            {
                "session": self.session.dump(),
                "rng": rng_state(self.np_random),
                "seat": self.seat,
                "learner_turns": self.learner_turns,
                "ended_before_first_turn": bool(self._ended_before_first_turn),
            },
        )

    def set_state(self, blob: bytes) -> None:
        """Restores a ``get_state`` snapshot; atomic: ``SnapshotError`` (only) leaves the env unchanged.

        Besides the game state (``TurnGame.validate_state``), the snapshot must be one this env can be
        in: the learner's seat (fixed unless ``seat="random"``) is to act unless the episode is over,
        and the learner never took more turns than the session.
        """
        game = self.game

        def parse(data: dict[str, Any]) -> tuple[Any, ...]:
            fields = read_dict(data, "snapshot", ("session", "rng", "seat", "learner_turns"))
            session = self.session.parse(fields["session"])
            rng = rng_from_state(fields["rng"])
            seat = read_seat(fields["seat"], self.seat_arg, game.num_players)
            learner_turns = read_int(fields["learner_turns"], 0, session.turn, "learner_turns")
            ended = read_bool(fields.get("ended_before_first_turn", False), "ended_before_first_turn")
            over = session.truncated or game.is_terminal(session.state)
            # Opponents always play up to the learner's decision, so an ongoing game waits for the learner.
            if not over and game.current_player(session.state) != seat:
                raise SnapshotError(f"the learner (seat {seat}) is not to act in an ongoing game")
            if ended and (not over or learner_turns):
                raise SnapshotError("ended_before_first_turn set, but the learner has played or the game goes on")
            return session, rng, seat, learner_turns, ended

        session, rng, seat, learner_turns, ended = parsed_snapshot(self.env_id, blob, parse)
        self.session.restore(session)
        self._np_random = rng
        self.seat = seat
        self.learner_turns = learner_turns
        self._ended_before_first_turn = ended

    def render(self) -> str | None:
        """The learner's text view (``ansi`` returns it, ``human`` prints it)."""
        return render_text(self.render_mode, lambda: self.session.observation(self.seat, mode="text"))
