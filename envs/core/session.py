"""One episode of a ``TurnGame``: RNG, chance sampling, action validation, observations and infos.

Both game front ends (``GameAECEnv`` and ``GameSingleAgentEnv``) delegate here, so the info contract,
the bad-input handling and the snapshot format are written once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

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
T = TypeVar("T")
#: What the error of ``step()`` (and ``get_state()``) on an env that was never reset says to do.
RESET_FIRST = "call reset() first"


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

    def parse(self, data: Any) -> SessionSnapshot:
        """Validates ``dump`` output into a ``SessionSnapshot`` without touching the session.

        Front ends parse every part of a snapshot first and commit with ``restore`` only when all of it is
        valid, so a rejected snapshot leaves the env exactly as it was (atomic ``set_state``).

        Raises:
            SnapshotError: (or any of ``SNAPSHOT_ERRORS``, which ``set_state`` turns into one) when the
                data is malformed or describes a state the rules cannot reach.
        """
        game = self.game
        fields = read_dict(data, "session", ("game", "turn", "errors", "truncated"))
        state = game.load_state(fields["game"])
        turn = read_int(fields["turn"], 0, self.max_turns, "session turn")
        errors = [read_message(e, "session errors") for e in read_list(fields["errors"], "session errors",
                                                                        game.num_players)]
        truncated = read_bool(fields["truncated"], "session truncated")
        terminal = game.is_terminal(state)
        check_truncation(truncated, turn, self.max_turns, terminal)
        if self.chance == "sample" and not terminal and game.chance_pending(state):
            # Sampled chance is resolved inside every step, so a session never rests at a chance event.
            raise SnapshotError("snapshot stops at a pending chance event, which a sampling session never does")
        return SessionSnapshot(state, turn, errors, truncated)

    def restore(self, snap: SessionSnapshot) -> None:
        """Commits a ``parse`` result (cannot fail: everything was checked by ``parse``)."""
        self.state = snap.state
        self.turn = snap.turn
        self.errors = list(snap.errors)
        self.truncated = snap.truncated
        self._changed()

    def load(self, data: Any) -> None:
        """Restores ``dump`` output (``parse`` then ``restore``)."""
        self.restore(self.parse(data))


def encode_snapshot(env_id: str, payload: dict[str, Any]) -> bytes:
    """Serializes a snapshot as JSON bytes (never pickle: restoring must be safe on foreign bytes)."""
    return json.dumps({"env_id": env_id, "version": SNAPSHOT_VERSION, **payload}, allow_nan=False).encode("utf-8")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to inf
        raise ValueError(f"number {text[:40]!r} is out of range")
    return value


#: Strict JSON: no ``NaN``/``Infinity`` constants, no float that overflows to ``inf``.
_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float)


def decode_snapshot(env_id: str, blob: bytes) -> dict[str, Any]:
    """Parses and checks snapshot bytes; raises ``SnapshotError`` (and only that) on anything else.

    Python's ``json`` reads ``NaN``/``Infinity`` and ``1e999`` as floats, raises ``ValueError`` on integers of
    more than 4,300 digits and ``RecursionError`` on deep nesting (``b"[" * 200000``): snapshots are
    strict JSON, so all of these are malformed bytes.
    """
    if not isinstance(blob, (bytes, bytearray)):
        raise SnapshotError(f"set_state expected bytes from get_state(), got {type(blob).__name__}")
    try:
        data = _DECODER.decode(bytes(blob).decode("utf-8"))
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise SnapshotError(f"snapshot is not valid JSON: {type(e).__name__}: {str(e)[:200]}") from None
    if not isinstance(data, dict) or data.get("env_id") != env_id:
        got = data.get("env_id") if isinstance(data, dict) else type(data).__name__
        raise SnapshotError(f"snapshot is for env {str(got)[:80]!r}, this env is {env_id!r}")
    if type(data.get("version")) is not int or data["version"] != SNAPSHOT_VERSION:
        raise SnapshotError(f"snapshot version {str(data.get('version'))[:40]!r}, expected {SNAPSHOT_VERSION}")
    return data


def parsed_snapshot(env_id: str, blob: bytes, parse: Callable[[dict[str, Any]], T]) -> T:
    """``parse(decode_snapshot(env_id, blob))`` with every parsing error raised as ``SnapshotError``.

    ``parse`` builds new objects and must not touch the env; the caller commits its result afterwards, so
    a rejected snapshot leaves the env as it was (atomic ``set_state``).
    """
    data = decode_snapshot(env_id, blob)
    try:
        return parse(data)
    except SnapshotError:
        raise
    except SNAPSHOT_ERRORS as e:
        raise SnapshotError(f"malformed snapshot: {type(e).__name__}: {str(e)[:300]}") from None


@dataclass(frozen=True)
class SessionSnapshot:
    """A validated ``GameSession`` snapshot, ready to commit with ``GameSession.restore``."""

    state: Any
    turn: int
    errors: list[str | None]
    truncated: bool


# -------------------------------------------------------------- strict snapshot field readers
# Snapshots are untrusted input (DESIGN §5): every field is read with its exact JSON type (``int()`` would
# take ``true``, ``2.7`` and ``"3"``) and its range, so a forged value fails here instead of later.

#: What reading a forged snapshot may raise besides ``SnapshotError``; ``set_state`` turns each into one.
SNAPSHOT_ERRORS = (LookupError, TypeError, ValueError, AttributeError, ArithmeticError, RecursionError)
#: Longest message (an invalid-action error or notice) a snapshot may carry; real ones are a few hundred chars.
MAX_MESSAGE_CHARS = 4096


def check_truncation(truncated: bool, turn: int, max_turns: int, terminal: bool) -> None:
    """A session's ``truncated`` flag must be what ``act`` sets: the turn cap reached before the game ended.

    Raises:
        SnapshotError: The flag disagrees with the turn counter and the game's end.
    """
    if truncated != (turn >= max_turns and not terminal):
        raise SnapshotError(f"truncated={truncated} does not match turn {turn} of {max_turns} (game over: {terminal})")


def read_int(value: Any, low: int | None, high: int | None, what: str) -> int:
    """``value`` if it is a JSON integer (not a bool) in ``[low, high]`` (None: unbounded)."""
    if type(value) is not int:
        raise SnapshotError(f"{what}: expected an int, got {type(value).__name__}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise SnapshotError(f"{what}: {str(value)[:40]} outside [{low}, {high}]")
    return value


def read_bool(value: Any, what: str) -> bool:
    """``value`` if it is a JSON boolean."""
    if type(value) is not bool:
        raise SnapshotError(f"{what}: expected true or false, got {type(value).__name__}")
    return value


def read_number(value: Any, what: str, bound: float = 1e300) -> int | float:
    """``value`` if it is a JSON number (not a bool) with ``abs(value) <= bound``, kept as it is.

    Kept as ``int`` or ``float`` so that ``get_state`` after ``set_state(s)`` gives ``s`` byte for byte.
    """
    if type(value) not in (int, float) or not abs(value) <= bound:  # ``not <=`` also rejects NaN
        raise SnapshotError(f"{what}: expected a number within +-{bound:g}, got {str(value)[:40]}")
    return value


def read_list(value: Any, what: str, length: int | None = None, max_length: int | None = None) -> list[Any]:
    """``value`` if it is a JSON array of ``length`` items (or at most ``max_length``)."""
    if type(value) is not list:
        raise SnapshotError(f"{what}: expected a list, got {type(value).__name__}")
    if length is not None and len(value) != length:
        raise SnapshotError(f"{what}: expected {length} items, got {len(value)}")
    if max_length is not None and len(value) > max_length:
        raise SnapshotError(f"{what}: expected at most {max_length} items, got {len(value)}")
    return value


def read_int_list(value: Any, low: int, high: int, what: str, length: int | None = None,
                  max_length: int | None = None) -> list[int]:
    """A JSON array of ints in ``[low, high]`` (see ``read_list`` for the length arguments)."""
    return [read_int(x, low, high, what) for x in read_list(value, what, length, max_length)]


def read_dict(value: Any, what: str, keys: Sequence[str] = ()) -> dict[str, Any]:
    """``value`` if it is a JSON object holding every key in ``keys``."""
    if type(value) is not dict:
        raise SnapshotError(f"{what}: expected an object, got {type(value).__name__}")
    missing = [k for k in keys if k not in value]
    if missing:
        raise SnapshotError(f"{what}: missing {', '.join(missing)}")
    return value


def read_message(value: Any, what: str) -> str | None:
    """``None`` or a message string shown to an agent (bounded, valid UTF-8: no lone surrogates)."""
    if value is None:
        return None
    if type(value) is not str or len(value) > MAX_MESSAGE_CHARS:
        raise SnapshotError(f"{what}: expected null or a string of at most {MAX_MESSAGE_CHARS} chars")
    value.encode("utf-8")  # UnicodeEncodeError (a ValueError) on lone surrogates
    return value


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """JSON-compatible state of a numpy Generator."""
    return rng.bit_generator.state


#: Bit generators whose state is JSON (two 128-bit words); the others hold numpy arrays, which no
#: snapshot can carry. Gymnasium seeds PCG64.
_JSON_BIT_GENERATORS = ("PCG64", "PCG64DXSM")
_U128 = (1 << 128) - 1
_U32 = (1 << 32) - 1
#: Seeds the bit generator that ``rng_from_state`` overwrites at once: a fixed seed skips the OS entropy read
#: that ``PCG64()`` makes on every restore (tree search restores constantly).
_PLACEHOLDER_SEED = np.random.SeedSequence(0)


def rng_from_state(state: Any) -> np.random.Generator:
    """Rebuilds a numpy Generator from ``rng_state`` output, checking every field first.

    numpy itself raises ``OverflowError`` on a negative or too large state word and accepts states that
    seeding never produces (an even increment), so the fields are checked here.

    Raises:
        SnapshotError: unknown bit generator, missing or extra keys, or words out of range.
    """
    fields = read_dict(state, "rng", ("bit_generator", "state", "has_uint32", "uinteger"))
    name = fields["bit_generator"]
    if name not in _JSON_BIT_GENERATORS or set(fields) != {"bit_generator", "state", "has_uint32", "uinteger"}:
        raise SnapshotError(f"rng: expected the state of one of {', '.join(_JSON_BIT_GENERATORS)}, got "
                            f"{str(name)[:40]!r} with keys {sorted(map(str, fields))[:8]}")
    words = read_dict(fields["state"], "rng state", ("state", "inc"))
    if set(words) != {"state", "inc"}:
        raise SnapshotError("rng state: expected exactly the keys state and inc")
    inc = read_int(words["inc"], 0, _U128, "rng increment")
    if inc % 2 == 0:  # PCG streams always have an odd increment
        raise SnapshotError("rng increment: must be odd")
    clean = {
        "bit_generator": name,
        "state": {"state": read_int(words["state"], 0, _U128, "rng state word"), "inc": inc},
        "has_uint32": read_int(fields["has_uint32"], 0, 1, "rng has_uint32"),
        "uinteger": read_int(fields["uinteger"], 0, _U32, "rng uinteger"),
    }
    bitgen = getattr(np.random, name)(_PLACEHOLDER_SEED)
    bitgen.state = clean
    return np.random.Generator(bitgen)
