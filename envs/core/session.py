"""One episode of a ``TurnGame``: RNG, chance sampling, action validation, observations and infos.

Both game front ends (``GameAECEnv`` and ``GameSingleAgentEnv``) delegate here, so the info contract,
the bad-input handling and the snapshot format are written once.
"""

from __future__ import annotations

import json
from typing import Any

import gymnasium
import numpy as np

from turngym.envs.core.contract import add_outcome, game_task
from turngym.envs.core.errors import ConfigError, SnapshotError
from turngym.envs.core.game import TurnGame
from turngym.envs.core.parsing import MAX_ACTION_CHARS, parse_action
from turngym.envs.core.spaces import Text, truncate
from turngym.envs.core.state_key import cached_state_key as _state_key

OBS_MODES = ("text", "vector")
SNAPSHOT_VERSION = 1
_MAX_CACHED_VIEWS = 1 << 16
_TWO_POW_MINUS_53 = 1.0 / 9007199254740992.0


class View:
    """One player's view of one information state; text and vector parts are filled on first use.

    Attributes:
        state_key: ``info["state_key"]``.
        legal: Legal action ids (empty unless the player is to act).
        words: Their canonical words.
        text: The text observation without the invalid-action line, once built.
        vector: The vector observation, once built (callers get copies).
        mask: The action mask, once built (callers get copies).
    """

    __slots__ = ("state_key", "legal", "words", "text", "vector", "mask")

    def __init__(self, state_key: str, legal: tuple[int, ...], words: tuple[str, ...]):
        self.state_key = state_key
        self.legal = legal
        self.words = words
        self.text: str | None = None
        self.vector: np.ndarray | None = None
        self.mask: np.ndarray | None = None


#: View caches shared by every session of the same game rules and env id (views are pure functions of
#: the information state, so envs in one process, e.g. the copies of a vectorized env, warm one cache).
_SHARED: dict[tuple[Any, ...], dict[tuple[str, bool], View]] = {}


def _shared_views(game: TurnGame, env_id: str) -> dict[tuple[str, bool], View] | None:
    """The view cache of ``game`` under ``env_id``, or None when its views cannot be cached.

    Games keep no episode state, so their instance attributes are their rule parameters; two games of
    the same class with equal parameters share a cache. Unhashable parameters disable sharing.
    """
    if not game.views_follow_info_state:
        return None
    try:
        key = (type(game).__module__, type(game).__qualname__, env_id, tuple(sorted(vars(game).items())))
        hash(key)
    except TypeError:
        return {}
    return _SHARED.setdefault(key, {})


def check_obs_mode(obs_mode: str) -> str:
    """Validates the ``obs_mode`` argument."""
    if obs_mode not in OBS_MODES:
        raise ConfigError("obs_mode", "one of " + ", ".join(OBS_MODES), obs_mode, OBS_MODES)
    return obs_mode


class GameSession:
    """Runs one game episode under the turngym step contract.

    Args:
        game: The rules.
        env_id: Registered id; namespaces the state keys.
        obs_mode: ``"text"`` or ``"vector"``.
        max_turns: Turn cap (invalid actions count); reaching it truncates the episode.
        invalid_action_penalty: Reward added to a seat for each invalid action it takes.
        max_obs_chars: Text observations are truncated to this length.
        chance: ``"sample"`` draws chance events from the env RNG; ``"explicit"`` leaves them to the
            caller (``chance_outcomes`` / ``apply_chance``), which exact solvers use to branch.
    """

    def __init__(
        self,
        game: TurnGame,
        env_id: str,
        obs_mode: str = "text",
        max_turns: int = 100,
        invalid_action_penalty: float = 0.0,
        max_obs_chars: int = 8192,
        chance: str = "sample",
    ):
        self.game = game
        self.env_id = env_id
        self.obs_mode = check_obs_mode(obs_mode)
        if not isinstance(max_turns, int) or max_turns < 1:
            raise ConfigError("max_turns", "a positive int", max_turns)
        if chance not in ("sample", "explicit"):
            raise ConfigError("chance", "'sample' or 'explicit'", chance, ("sample", "explicit"))
        self.max_turns = max_turns
        self.invalid_action_penalty = float(invalid_action_penalty)
        self.max_obs_chars = int(max_obs_chars)
        self.chance = chance
        self.vocabulary = game.vocabulary
        self.state: Any = None
        self.turn = 0
        self.errors: list[str | None] = [None] * game.num_players
        self.truncated = False
        self._views = _shared_views(game, env_id)
        self._cache_views = self._views is not None
        # Bumped by every change of ``state``; ``view`` memoizes each player's view per version, since
        # one step asks for the same view several times (info, observation, action mask).
        self._version = 0
        self._memo: list[tuple[int, View | None]] = [(-1, None)] * game.num_players
        #: Seat to act, -1 when over or at a pending (explicit) chance event; kept current by ``_changed``.
        self.current_player = -1
        #: True when the game itself ended; kept current by ``_changed``.
        self.terminal = False
        #: Payoffs of every seat once the game ended (else None); kept current by ``_changed``.
        self.final_returns: list[float] | None = None

    # ----------------------------------------------------------------- spaces
    def observation_space(self) -> gymnasium.Space:
        """Text, or ``Dict(observation=Box, action_mask=MultiBinary)`` in vector mode."""
        if self.obs_mode == "text":
            return Text(self.max_obs_chars)
        return gymnasium.spaces.Dict(
            {
                "observation": gymnasium.spaces.Box(-np.inf, np.inf, (self.game.obs_size,), np.float32),
                "action_mask": gymnasium.spaces.MultiBinary(self.game.num_actions),
            }
        )

    def action_space(self) -> gymnasium.Space:
        """Text (any string) or ``Discrete(num_actions)``."""
        if self.obs_mode == "text":
            return Text(MAX_ACTION_CHARS, examples=self.game.action_names)
        return gymnasium.spaces.Discrete(self.game.num_actions)

    # ---------------------------------------------------------------- episode
    def reset(self, rng: np.random.Generator) -> None:
        """Starts a new episode; chance events are sampled from ``rng`` unless chance is explicit."""
        self.state = self.game.new_state()
        self.turn = 0
        self.errors = [None] * self.game.num_players
        self.truncated = False
        if self.chance == "sample":
            self._sample_chance(rng)
        self._changed()

    def resolve_chance(self, rng: np.random.Generator) -> None:
        """Samples pending chance events (inverse-CDF draw, one uniform per event)."""
        if self.chance == "sample" and self._sample_chance(rng):
            self._changed()

    def _sample_chance(self, rng: np.random.Generator) -> bool:
        """Samples every pending chance event into ``state``; True when there was one."""
        game, s = self.game, self.state
        if not game.chance_pending(s):
            return False
        # One uniform per event: 53 high bits of the bit generator's next 64-bit draw, which for PCG64
        # (gymnasium's default) is exactly ``rng.random()`` without the Generator call overhead.
        raw = rng.bit_generator.random_raw
        while True:
            outcomes = game.chance_outcomes(s)
            u = (raw() >> 11) * _TWO_POW_MINUS_53
            acc = 0.0
            pick = outcomes[-1][0]
            for outcome, p in outcomes:
                acc += p
                if u < acc:
                    pick = outcome
                    break
            game.apply_chance(s, pick)
            if not game.chance_pending(s):
                return True

    def apply_chance(self, outcome: int) -> None:
        """Resolves a pending chance event with ``outcome`` (explicit chance mode)."""
        allowed = [o for o, _ in self.game.chance_outcomes(self.state)]
        if outcome not in allowed:
            raise ValueError(f"chance outcome {outcome!r} is not pending; pending: {allowed}")
        self.game.apply_chance(self.state, outcome)
        self._changed()

    def _changed(self) -> None:
        """Marks ``state`` as changed: a new version (views are memoized per version) and fresh status."""
        self._version += 1
        game, s = self.game, self.state
        self.current_player = game.current_player(s)
        self.terminal = game.is_terminal(s)
        self.final_returns = game.returns(s) if self.terminal else None

    def to_action_id(self, action: object) -> tuple[int | None, str | None]:
        """Validates an action of the current player; returns (action id, None) or (None, error)."""
        game = self.game
        aid, error = parse_action(action, self.vocabulary, game.num_actions)
        if aid is None:
            return None, error
        player = self.current_player
        if player < 0 or aid not in self.view(player).legal:
            return None, game.illegal_reason(self.state, aid)
        return aid, None

    def act(self, action: object, rng: np.random.Generator) -> tuple[bool, float]:
        """Plays ``action`` for the current player.

        Returns:
            (valid, penalty). An invalid action leaves the game state unchanged but consumes the turn,
            and its message is shown in that player's next observation (DESIGN §3, bad input).
        """
        player = self.current_player
        aid, error = self.to_action_id(action)
        self.turn += 1
        penalty = 0.0
        if aid is None:
            self.errors[player] = error
            penalty = self.invalid_action_penalty
        else:
            self.errors[player] = None
            game, s = self.game, self.state
            game.apply_action(s, aid)
            if self.chance == "sample":
                self._sample_chance(rng)
            self._changed()
        if self.turn >= self.max_turns and not self.terminal:
            self.truncated = True
        return aid is not None, penalty

    # ------------------------------------------------------- what agents see
    def view(self, player: int) -> View:
        """What ``player`` sees now, built once per information state when the game allows it.

        With ``game.views_follow_info_state`` the view of a non-terminal state is cached under
        ``(info_encoding, acting)``; terminal states (which may reveal hidden cards) are built fresh.
        """
        version, memo = self._memo[player]
        if version == self._version:
            return memo
        game, s = self.game, self.state
        terminal = self.terminal
        acting = self.current_player == player
        enc = game.info_encoding(s, player)
        cache_key: tuple[str, bool] | None = None
        if self._cache_views:
            if not terminal:
                cache_key = (enc, acting)
            else:
                terminal_key = game.terminal_view_key(s, player)
                cache_key = None if terminal_key is None else ("terminal:" + terminal_key, acting)
        if cache_key is not None:
            cached = self._views.get(cache_key)
            if cached is not None:
                self._memo[player] = (self._version, cached)
                return cached
        legal = tuple(game.legal_actions(s)) if acting else ()
        names = game.action_names
        v = View(_state_key(self.env_id, enc), legal, tuple(names[a] for a in legal))
        if cache_key is not None:
            views = self._views
            if len(views) >= _MAX_CACHED_VIEWS:
                views.clear()
            views[cache_key] = v
        self._memo[player] = (self._version, v)
        return v

    def legal_ids(self) -> list[int]:
        """Legal action ids of the current player (empty when nobody is to act)."""
        if self.current_player < 0:
            return []
        return self.game.legal_actions(self.state)

    def admissible(self, player: int) -> list[str]:
        """Legal actions of ``player`` as words (empty when it is not that player's turn)."""
        return list(self.view(player).words)

    def state_key(self, player: int) -> str:
        """Hex digest of ``player``'s information state (GiGPO anchor identity)."""
        return self.view(player).state_key

    def observation(self, player: int, mode: str | None = None) -> Any:
        """Observation of ``player`` in ``mode`` (default: the session's mode); always a fresh object."""
        v = self.view(player)
        if (mode or self.obs_mode) == "vector":
            if v.vector is None:
                game = self.game
                vec = np.zeros(game.obs_size, dtype=np.float32)
                game.encode(self.state, player, vec)
                mask = np.zeros(game.num_actions, dtype=np.int8)
                mask[list(v.legal)] = 1
                v.vector, v.mask = vec, mask
            return {"observation": v.vector.copy(), "action_mask": v.mask.copy()}
        if v.text is None:
            body = self.game.render(self.state, player)
            if v.words:
                body += ("\nLegal actions: " + ", ".join(v.words)
                         + ".\nReply with one action word, bare or inside <action>...</action>.")
            v.text = body
        error = self.errors[player]
        text = v.text if error is None else f"Invalid action: {error}.\n{v.text}"
        return text if len(text) <= self.max_obs_chars else truncate(text, self.max_obs_chars)

    def info(self, player: int, turn: int | None = None) -> dict[str, Any]:
        """The info contract of DESIGN §3 for ``player``."""
        v = self.view(player)
        error = self.errors[player]
        info: dict[str, Any] = {
            "state_key": v.state_key,
            "admissible_actions": list(v.words),
            "legal_action_ids": list(v.legal),
            "action_valid": error is None,
            "turn": self.turn if turn is None else turn,
        }
        if error is not None:
            info["error"] = error
        add_outcome(info, self.final_returns, player, self.truncated)
        return info

    def task(self, seed: int | None, player: int) -> dict[str, Any]:
        """``info["task"]`` at reset: a game's task is its id, the deal's seed and the seat."""
        return game_task(self.env_id, seed, player, self.game.instruction)

    # -------------------------------------------------------------- snapshots
    def dump(self) -> dict[str, Any]:
        """JSON-compatible snapshot of the episode."""
        return {
            "game": self.game.to_json(self.state),
            "turn": self.turn,
            "errors": list(self.errors),
            "truncated": self.truncated,
        }

    def load(self, data: dict[str, Any]) -> None:
        """Restores ``dump`` output."""
        self.state = self.game.from_json(data["game"])
        self._changed()
        self.turn = int(data["turn"])
        errors = list(data["errors"])
        if len(errors) != self.game.num_players:
            raise ValueError("wrong number of players in snapshot")
        self.errors = errors
        self.truncated = bool(data["truncated"])


def encode_snapshot(env_id: str, payload: dict[str, Any]) -> bytes:
    """Serializes a snapshot as JSON bytes (never pickle: restoring must be safe on foreign bytes)."""
    return json.dumps({"env_id": env_id, "version": SNAPSHOT_VERSION, **payload}).encode("utf-8")


def decode_snapshot(env_id: str, blob: bytes) -> dict[str, Any]:
    """Parses and checks snapshot bytes; raises ``SnapshotError`` on anything else."""
    if not isinstance(blob, (bytes, bytearray)):
        raise SnapshotError(f"set_state expected bytes from get_state(), got {type(blob).__name__}")
    try:
        data = json.loads(bytes(blob).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SnapshotError(f"snapshot is not valid JSON: {e}") from None
    if not isinstance(data, dict) or data.get("env_id") != env_id:
        got = data.get("env_id") if isinstance(data, dict) else type(data).__name__
        raise SnapshotError(f"snapshot is for env {got!r}, this env is {env_id!r}")
    if data.get("version") != SNAPSHOT_VERSION:
        raise SnapshotError(f"snapshot version {data.get('version')!r}, expected {SNAPSHOT_VERSION}")
    return data


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """JSON-compatible state of a numpy Generator."""
    return rng.bit_generator.state


def rng_from_state(state: dict[str, Any]) -> np.random.Generator:
    """Rebuilds a numpy Generator from ``rng_state`` output."""
    name = state["bit_generator"]
    if name not in ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937"):
        raise ValueError(f"unknown bit generator {name!r}")
    bitgen = getattr(np.random, name)()
    bitgen.state = state
    return np.random.Generator(bitgen)
