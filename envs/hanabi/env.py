"""The Hanabi front ends: the single-agent env with built-in partners and the PettingZoo AEC env.

Hanabi is cooperative: every seat gets the same reward, OpenSpiel's ``Rewards()``, the change in the team's
score (HLE ``Score``) that each move causes: +1 for a card that fits its firework, 0 for the other moves, and
minus the whole score on the move that loses the last life token (the score is then 0). The rewards of an
episode sum to the final score, OpenSpiel's ``Returns()`` (``info["returns"]`` at the end). The generic game
front ends pay the final returns at the end only, so these subclasses add the per-move part; ``success`` is a
final score of at least ``success_score`` (default: every firework complete).
"""

from __future__ import annotations

import json
from typing import Any

from turngym.envs.boardgames.solvers import named_opponents
from turngym.envs.core.aec import GameAECEnv
from turngym.envs.core.agent_api import RandomLegalAgent
from turngym.envs.core.errors import ConfigError, SnapshotError
from turngym.envs.core.session import (
    GameSession,
    parsed_snapshot,
    read_dict,
    read_int,
    read_number,
)
from turngym.envs.core.single import GameSingleAgentEnv
from turngym.envs.hanabi.game import HanabiConfig, HanabiGame
from turngym.envs.hanabi.partners import HeuristicPartner

ENV_ID = "turngym/Hanabi-v0"


class HanabiSession(GameSession):
    """A ``GameSession`` whose infos carry the team's ``score`` and whose ``success`` is a score threshold.

    Args:
        game: The rules.
        env_id: Registered id.
        obs_mode: ``"text"`` or ``"vector"``.
        max_turns: Turn cap over all seats, invalid actions included.
        invalid_action_penalty: Reward for each invalid action.
        chance: ``"sample"`` or ``"explicit"``.
        success_score: The final score that counts as a success.
    """

    def __init__(self, game: HanabiGame, env_id: str, obs_mode: str, max_turns: int, invalid_action_penalty: float,
                 chance: str, success_score: int):
        super().__init__(game, env_id, obs_mode, max_turns, invalid_action_penalty, chance=chance)
        self.success_score = success_score

    def info(self, player: int, turn: int | None = None) -> dict[str, Any]:
        """The info contract, plus ``score`` (the team's score now); ``success``: final score >= ``success_score``."""
        info = super().info(player, turn)
        info["score"] = self.game.score(self.state)
        if self.final_returns is not None:
            info["success"] = self.final_returns[player] >= self.success_score
        return info


def _setup(players: int, colors: int, ranks: int, hand_size: int, max_information_tokens: int, max_life_tokens: int,
           success_score: int | None, max_turns: int | None) -> tuple[HanabiGame, int, int]:
    """The rules, the success threshold and the turn cap of the constructor arguments (checked)."""
    game = HanabiGame(HanabiConfig(players, colors, ranks, hand_size, max_information_tokens, max_life_tokens))
    top = game.config.max_score
    if success_score is None:
        success_score = top
    elif not isinstance(success_score, int) or isinstance(success_score, bool) or not 1 <= success_score <= top:
        raise ConfigError("success_score", f"None (every firework complete) or an int in 1..{top}", success_score)
    # Twice the longest possible game, so only runs of invalid actions reach the cap.
    return game, success_score, 2 * game.config.max_moves if max_turns is None else max_turns


class HanabiEnv(GameSingleAgentEnv):
    """Hanabi, single-agent view: the learner plays ``seat``; ``opponents`` (its partners) play the others."""

    def __init__(self, opponents: Any = "heuristic", seat: int | str = 0, obs_mode: str = "text", players: int = 2,
                 colors: int = 2, ranks: int = 5, hand_size: int = 3, max_information_tokens: int = 8,
                 max_life_tokens: int = 3, success_score: int | None = None, max_turns: int | None = None,
                 invalid_action_penalty: float = 0.0, render_mode: str | None = None):
        game, success_score, max_turns = _setup(players, colors, ranks, hand_size, max_information_tokens,
                                                max_life_tokens, success_score, max_turns)
        config = game.config
        table = {"random": RandomLegalAgent, "heuristic": lambda: HeuristicPartner(config)}
        opponents = "heuristic" if opponents is None else opponents  # None means this env's default partner
        super().__init__(game, ENV_ID, named_opponents(opponents, table), seat, obs_mode, max_turns,
                         invalid_action_penalty, render_mode)
        self.session = HanabiSession(game, ENV_ID, obs_mode, max_turns, invalid_action_penalty, "sample",
                                     success_score)

    def step(self, action: Any):
        """Plays the learner's move and its partners'; the reward is the change in the team's score.

        Points the partners scored before the learner's first decision are paid on its first step, so an
        episode's rewards sum to the final score.
        """
        session = self.session
        live = session.state is not None and not (session.terminal or session.truncated)
        before = self.game.score(session.state) if live and self.learner_turns else 0
        obs, reward, terminated, truncated, info = super().step(action)
        if live:
            gain = self.game.score(session.state) - before
            # The base env paid the final score at the end (replace it: the moves' gains sum to it) and the
            # invalid-action penalty, which never comes with an end (an invalid action changes nothing).
            reward = float(gain) if terminated else reward + gain
        return obs, reward, terminated, truncated, info


class HanabiAEC(GameAECEnv):
    """Hanabi, PettingZoo AEC form (agents ``player_0`` … ``player_{n-1}``; every agent gets the team reward)."""

    def __init__(self, obs_mode: str = "text", players: int = 2, colors: int = 2, ranks: int = 5, hand_size: int = 3,
                 max_information_tokens: int = 8, max_life_tokens: int = 3, success_score: int | None = None,
                 max_turns: int | None = None, invalid_action_penalty: float = 0.0, chance: str = "sample",
                 render_mode: str | None = None):
        game, success_score, max_turns = _setup(players, colors, ranks, hand_size, max_information_tokens,
                                                max_life_tokens, success_score, max_turns)
        super().__init__(game, ENV_ID, obs_mode, max_turns, invalid_action_penalty, chance, render_mode)
        self.session = HanabiSession(game, ENV_ID, obs_mode, max_turns, invalid_action_penalty, chance,
                                     success_score)
        # The part of ``rewards`` (the same for every agent) and of each ``_cumulative_rewards`` entry that the
        # per-move team reward adds to what the base env pays (penalties, and the final score at the end).
        self._team_reward = 0
        self._team_cumulative: dict[str, int] = {}

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Starts a new game; ``seed`` reseeds the env RNG (the deal)."""
        super().reset(seed, options)
        self._team_reward = 0
        self._team_cumulative = dict.fromkeys(self.agents, 0)

    def step(self, action: Any) -> None:
        """Plays ``action`` for ``agent_selection``; every agent is rewarded with the change in the team's score."""
        session = self.session
        if session.state is None or self.terminations[self.agent_selection] or self.truncations[self.agent_selection]:
            super().step(action)  # raises before reset; a dead step clears the rewards
            self._team_reward = 0
            return
        agent = self.agent_selection
        before = self.game.score(session.state)
        super().step(action)
        gain = self.game.score(session.state) - before
        # OpenSpiel's ``Rewards()`` of this move for every seat, where the base env paid the final score at the end.
        shift = gain - (int(session.final_returns[0]) if session.terminal else 0)
        self._team_reward = shift
        self._team_cumulative[agent] = 0  # the base env resets the mover's cumulative reward
        for a in self.rewards:
            self._team_cumulative[a] = self._team_cumulative.get(a, 0) + shift
            if shift:
                self.rewards[a] += shift
                self._cumulative_rewards[a] += shift

    def get_state(self) -> bytes:
        """The base snapshot plus the team-reward bookkeeping (``team``)."""
        data = json.loads(super().get_state())
        data["team"] = {"reward": self._team_reward,
                        "cumulative": {a: self._team_cumulative.get(a, 0) for a in self.agents}}
        return json.dumps(data, allow_nan=False).encode("utf-8")

    def set_state(self, blob: bytes) -> None:
        """Restores a ``get_state`` snapshot; atomic: ``SnapshotError`` (only) leaves the env unchanged.

        The team-reward parts are bounded ints; without them the rewards must be what the base env accepts
        (penalties, and the final score at the end), which ``GameAECEnv.set_state`` checks.
        """
        bound = 2 * self.game.config.max_score + self.game.num_players

        def parse(data: dict[str, Any]) -> tuple[Any, ...]:
            fields = read_dict(data, "snapshot", ("team", "rewards", "cumulative"))
            team = read_dict(fields["team"], "team", ("reward", "cumulative"))
            if set(team) != {"reward", "cumulative"}:
                raise SnapshotError("team: expected exactly the keys reward and cumulative")
            shift = read_int(team["reward"], -bound, bound, "team reward")
            rewards, cumulative = read_dict(fields["rewards"], "rewards"), read_dict(fields["cumulative"], "cumulative")
            team_cumulative = read_dict(team["cumulative"], "team cumulative")
            if not list(team_cumulative) == list(rewards) == list(cumulative):
                raise SnapshotError("rewards, cumulative and team cumulative must name the same agents")
            team_cumulative = {a: read_int(v, -bound, bound, f"team cumulative[{a}]")
                               for a, v in team_cumulative.items()}
            rewards = {a: read_number(v, f"rewards[{a}]") for a, v in rewards.items()}
            cumulative = {a: read_number(v, f"cumulative[{a}]") for a, v in cumulative.items()}
            base = {k: v for k, v in data.items() if k != "team"}
            base["rewards"] = {a: v - shift for a, v in rewards.items()}
            base["cumulative"] = {a: v - team_cumulative[a] for a, v in cumulative.items()}
            return json.dumps(base, allow_nan=False).encode("utf-8"), shift, team_cumulative, rewards, cumulative

        base_blob, shift, team_cumulative, rewards, cumulative = parsed_snapshot(self.env_id, blob, parse)
        super().set_state(base_blob)
        self._team_reward, self._team_cumulative = shift, team_cumulative
        self.rewards, self._cumulative_rewards = rewards, cumulative


_DOC = """

    Description:
        Hanabi with the rules of the Hanabi Learning Environment as OpenSpiel's ``hanabi`` plays them:
        cooperative, 2-5 players, imperfect information (each player sees every hand but its own). The
        default is a small variant, 2 players, 2 colors, 5 ranks, 3 cards per hand, 8 info and 3 life
        tokens (a 20-card deck, maximum score 10): two heuristic players finish a game in about 27
        moves (full two-player Hanabi: about 70) with 13 possible moves and ~2,000-character text
        views, so language-model self-play stays cheap while every rule (hints, negative
        information, the final round) is exercised. OpenSpiel's ``hanabi`` with the same parameters
        is the same game: the tests play both in lockstep. Full Hanabi is ``players=2..5, colors=5,
        ranks=5, hand_size=5`` (4 for 4-5 players).
    Observation:
        Text: the rules in two sentences, score, fireworks, tokens, deck size, discards, the moves since
        your last turn, every other hand with what its holder knows, what hints told you about your own
        cards (never the cards themselves), whose turn it is and the legal moves. Vector
        (``obs_mode="vector"``): ``Dict(observation=Box(n,), action_mask=MultiBinary(m))``, where the
        observation is HLE's canonical encoding (OpenSpiel's ``observation_tensor``, 222 floats for the
        default) and ``m = 2 * hand_size + (players - 1) * (colors + ranks)`` (13 for the default).
    Action:
        Text: ``play 0``, ``discard 2`` (slot 0 is the oldest card), ``reveal color red to +1``,
        ``reveal rank 3 to +1`` (``+1`` is the next player, ``+2`` the one after); also ``play card 0``,
        ``hint red to +1``, ``clue 3 +1``, ``reveal r +1``, OpenSpiel's ``(Reveal player +1 color R)``
        and, with two players, no target (``hint rank 3``); bare, inside ``<action>…</action>``, or in
        ``[brackets]``. Vector: ``Discrete(m)`` with OpenSpiel's move ids (discards, plays, color hints,
        rank hints). A hint needs an info token and must touch a card; a discard needs a missing token.
    Reward:
        The team's reward, the same for every seat (OpenSpiel's ``Rewards()``): +1 for each card that
        fits its firework, minus the whole score on the move that loses the last life token; an
        episode's rewards sum to the final score (OpenSpiel's ``Returns()``: the sum of the fireworks,
        0 when every life token is lost). ``invalid_action_penalty`` (default 0) per invalid action.
        ``info["score"]`` is the score so far; ``info["success"]`` at the end: final score >=
        ``success_score``.
    Episode end:
        Terminated when the last life token is lost, when every firework is complete, or one round
        after the deck runs out (each player, the one who drew the last card included, moves once
        more); truncated when ``max_turns`` turns (all seats, invalid ones included) have been taken.
    Arguments:
        obs_mode (str): ``"text"`` (default) or ``"vector"``.
        players, colors, ranks, hand_size, max_information_tokens, max_life_tokens (int): OpenSpiel's
            game parameters; defaults 2, 2, 5, 3, 8, 3 (see Description).
        success_score (int | None): the final score that counts as a success; None (default) = every
            firework complete (``colors * ranks``).
        max_turns (int | None): turn cap; None (default) = twice the longest possible game.
        invalid_action_penalty (float): default 0.0.
{extra}    Version history:
        v0: initial release.
"""
_SINGLE_ARGS = """        opponents: the partners in the other seats: an agent object or a name, one for every seat or a
            list with one per seat: ``"heuristic"`` (the default, also for None; ``turngym.envs.hanabi.partners``:
            plays only cards it knows are playable, hints playable cards, discards the oldest unhinted card)
            or ``"random"`` (uniform over the legal moves).
        seat (int | str): the learner's seat, or ``"random"`` (drawn from the env RNG at reset).
"""
_AEC_ARGS = """        chance (str): ``"sample"`` (default) or ``"explicit"``: the caller deals every card through
            ``chance_outcomes()`` / ``apply_chance()`` (card type ``color * ranks + rank``, OpenSpiel's ids).
"""

HanabiEnv.__doc__ += _DOC.format(extra=_SINGLE_ARGS)
HanabiAEC.__doc__ += _DOC.format(extra=_AEC_ARGS)
