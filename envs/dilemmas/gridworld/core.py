"""Rules shared by the Harvest and Cleanup gridworlds: movement, beams, tagging, egocentric views, snapshots.

A ``GridGame`` is a ``SimultaneousGame`` (every player acts at every step), so the PettingZoo Parallel
front end, the single-agent view, the invalid-action rule and the snapshot format come from
``turngym.envs.core``. Subclasses add the resource dynamics (``_grow``): apple regrowth in Harvest
(Perolat et al. 2017), waste and pollution-dependent apple spawning in Cleanup (Hughes et al. 2018).

One joint step, in order (the order is part of the rules; tests pin it):
    1. Players in play act in a random order drawn from the env RNG: moves are relative to the
       player's orientation (``up`` = one cell forward); a move into a wall, off the map or into a cell
       another player holds at that moment fails (the player stays). Turns rotate by 90 degrees.
    2. Every player in play standing on an apple eats it: +1 (Leibo et al. 2017; Perolat et al. 2017).
    3. Beams fire from the players' new cells, all at once (a beam hits who stood there after step 1):
       a beam covers ``width`` parallel lanes (the player's own lane and ``width // 2`` on each side),
       each from 1 to ``length`` cells ahead; a lane stops before the first wall. The tagging beam
       stops in each lane at the first player it hits, who is tagged out: removed from the map for
       ``tag_duration`` steps (Perolat et al. 2017 use 25), during which its actions are ignored and
       nobody sees it. The cleaning beam (Cleanup) stops in each lane at the first waste cell, which it
       cleans. Firing costs ``tag_cost`` / ``clean_cost`` (default 0).
    4. Players whose time out is over return on a free spawn point drawn from the env RNG, with a
       drawn orientation (when every spawn point is taken they wait one more step).
    5. The resources change (``_grow``); cells under players never grow apples.

Players tagged at step ``t`` are out of play (their ``removed`` flag set) at steps ``t+1 .. t+D`` and act
again at step ``t+D+1``, where ``D = tag_duration``.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from turngym.envs.core.errors import ConfigError
from turngym.envs.core.simultaneous import SimultaneousGame
from turngym.envs.dilemmas.gridworld.maps import (
    AGENT,
    APPLE,
    BEAM,
    RIVER,
    WALL,
    WASTE,
    Layout,
    parse_map,
    split_rows,
)
from turngym.envs.dilemmas.gridworld.state import (
    DIRS,
    GridState,
    int_list,
    pack_bools,
    pack_floats,
    unpack_bools,
    unpack_floats,
)
from turngym.envs.dilemmas.metrics import social_outcomes

UP, DOWN, LEFT, RIGHT, TURN_LEFT, TURN_RIGHT, STAY, TAG, CLEAN = range(9)
ACTION_NAMES = ("up", "down", "left", "right", "turn_left", "turn_right", "stay", "tag", "clean")
ACTION_ALIASES = {
    "forward": UP, "backward": DOWN, "back": DOWN, "step left": LEFT, "step_left": LEFT, "step right": RIGHT,
    "step_right": RIGHT, "turn left": TURN_LEFT, "rotate left": TURN_LEFT, "rotate_left": TURN_LEFT,
    "turn right": TURN_RIGHT, "rotate right": TURN_RIGHT, "rotate_right": TURN_RIGHT, "noop": STAY,
    "wait": STAY, "fire": TAG, "zap": TAG,
}
#: Move action -> orientation offset of its direction (up = forward, right = +90 degrees, ...).
_MOVE_TURN = {UP: 0, RIGHT: 1, DOWN: 2, LEFT: 3}

#: Characters of the text view, by priority (a player hides the apple it stands on, and so on).
SELF_CHAR = "^"
LEGEND = {"^": "you (facing up)", "P": "another player", "#": "wall or outside the map", "A": "apple",
          "w": "waste", "*": "beam fired last step", "~": "river", ".": "floor"}
_PRIORITY = ((AGENT, "P"), (WALL, "#"), (APPLE, "A"), (WASTE, "w"), (BEAM, "*"), (RIVER, "~"))
_LUT = np.array([next((ord(ch) for bit, ch in _PRIORITY if code & bit), ord(".")) for code in range(64)],
                dtype=np.uint8)

#: Vector channel name -> code bit (``self`` has no bit: it is the centre cell of the player's window).
CHANNEL_BITS = {"wall": WALL, "apple": APPLE, "river": RIVER, "waste": WASTE, "agent": AGENT, "self": 0,
                "beam": BEAM}


_SNAPSHOT_KEYS = ("map", "t", "apples", "waste", "beams", "pos", "orient", "timeout", "last", "scores", "rewards",
                  "removed")


def check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    """``value`` if it is an int in ``[low, high]`` (bools rejected), else ``ConfigError``."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= low and (high is None or value <= high)
    if not ok:
        raise ConfigError(name, f"an int >= {low}" + (f" and <= {high}" if high is not None else ""), value)
    return value


def check_prob(name: str, value: Any) -> float:
    """``value`` as a float in [0, 1], else ``ConfigError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise ConfigError(name, "a probability in [0, 1]", value)
    return float(value)


def check_real(name: str, value: Any) -> float:
    """``value`` as a finite float, else ``ConfigError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ConfigError(name, "a finite number", value)
    return float(value)


class GridGame(SimultaneousGame[GridState]):
    """Common rules of the gridworld dilemmas (see the module docstring for one step).

    Args:
        num_players: Number of players (at least 1; the map needs as many spawn points).
        map: ``"classic"`` (the shipped layout), ``"random"`` (a new map drawn from the env RNG at every
            reset by the subclass's generator), or an ASCII map (legend in ``gridworld.maps``).
        horizon: Joint steps per episode; the game ends (terminates) after ``horizon`` steps.
        view_ahead: Rows of the egocentric window in front of the player.
        view_behind: Rows behind the player.
        view_sides: Columns on each side of the player.
        tag_length: Reach of the tagging beam (cells ahead).
        tag_width: Lanes of the tagging beam (odd).
        tag_duration: Steps a tagged player stays out of play.
        tag_cost: Cost of each tagging shot: the shooter's reward drops by it (default 0, as in Perolat
            et al. 2017).
        classic_map: The ASCII layout of ``map="classic"``.
        random_rows: The random-map generator ``(rng, num_players) -> rows``.
        river_allowed: Whether maps may hold river cells.
        channels: Names of the vector-observation channels (keys of ``CHANNEL_BITS``).
        action_names: The action words (a prefix of ``ACTION_NAMES``).
    """

    obs_low = 0.0
    obs_high = 1.0
    #: The cleaning beam (Cleanup sets these; Harvest has no ``clean`` action).
    clean_length: int = 0
    clean_width: int = 1
    clean_cost: float = 0.0

    def __init__(self, *, num_players: int, map: str, horizon: int, view_ahead: int, view_behind: int,
                 view_sides: int, tag_length: int, tag_width: int, tag_duration: int, tag_cost: float,
                 classic_map: str, random_rows: Callable[[np.random.Generator, int], list[str]],
                 river_allowed: bool, channels: Sequence[str], action_names: Sequence[str]):
        self.num_players = check_int("num_players", num_players, 1, 64)
        self.horizon = check_int("horizon", horizon, 1, 1_000_000)
        self.view_ahead = check_int("view_ahead", view_ahead, 0, 64)
        self.view_behind = check_int("view_behind", view_behind, 0, 64)
        self.view_sides = check_int("view_sides", view_sides, 0, 64)
        self.tag_length = check_int("tag_length", tag_length, 1, 256)
        self.tag_width = check_int("tag_width", tag_width, 1, 63)
        if self.tag_width % 2 == 0:
            raise ConfigError("tag_width", "an odd int (the player's lane plus as many lanes each side)", tag_width)
        self.tag_duration = check_int("tag_duration", tag_duration, 1, 1_000_000)
        self.tag_cost = check_real("tag_cost", tag_cost)
        self.river_allowed = river_allowed
        self._random_rows = random_rows
        self.map_kind, self.layout = self._resolve_map(map, classic_map)
        self.action_names = tuple(action_names)
        self.aliases: Mapping[str, int] = {w: a for w, a in ACTION_ALIASES.items() if a < len(self.action_names)}
        self.channels = tuple(channels)
        self._channel_bits = np.array([CHANNEL_BITS[c] for c in self.channels], dtype=np.uint8)
        self._agent_ch = self.channels.index("agent")
        self._self_ch = self.channels.index("self")
        self.view_shape = (self.view_ahead + 1 + self.view_behind, 2 * self.view_sides + 1)
        self.obs_shape = (*self.view_shape, len(self.channels))
        self.obs_size = int(np.prod(self.obs_shape))
        self._margin = max(self.view_ahead, self.view_behind, self.view_sides)
        self._win_dr, self._win_dc = self._window_offsets()
        # Code (0..63) -> its 0/1 channel vector, so a window becomes planes in one gather.
        codes = np.arange(64, dtype=np.uint8)[:, None]
        self._plane_lut = ((codes & self._channel_bits[None, :]) != 0).astype(np.float32)
        self._all_actions = list(range(len(self.action_names)))
        shown = [ch for ch in LEGEND if river_allowed or ch not in "~w"]
        self._legend = "Legend: " + ", ".join(f"{ch} {LEGEND[ch]}" for ch in shown) + "."
        self._layouts: dict[tuple[str, ...], Layout] = {}
        self._rules: str | None = None
        self._restored: dict[str, GridState] = {}  # snapshot fields -> checked state (small FIFO)
        if self.layout is not None:
            self._layouts[self.layout.rows] = self.layout

    # ------------------------------------------------------------------ setup
    def _resolve_map(self, map_arg: Any, classic: str) -> tuple[str, Layout | None]:
        if not isinstance(map_arg, str):
            raise ConfigError("map", "'classic', 'random' or an ASCII map string", type(map_arg).__name__)
        if map_arg == "random":
            return "random", None
        if map_arg == "classic":
            text = classic
        elif "\n" in map_arg.strip():
            text = map_arg
        else:
            raise ConfigError("map", "'classic', 'random' or an ASCII map with several rows", map_arg,
                              ["classic", "random"])
        layout = self._checked_layout(split_rows(text))
        return ("classic" if map_arg == "classic" else "custom"), layout

    def _checked_layout(self, rows: Sequence[str]) -> Layout:
        layout = parse_map(list(rows), self.river_allowed)
        if len(layout.spawns) < self.num_players:
            raise ConfigError("map", f"at least {self.num_players} spawn points (P or digits), one per player",
                              f"{len(layout.spawns)} spawn points")
        return layout

    def _layout_of(self, rows: tuple[str, ...]) -> Layout:
        """The layout of ``rows``, parsed once (snapshots restore it from its rows)."""
        layout = self._layouts.get(rows)
        if layout is None:
            if len(self._layouts) > 64:
                self._layouts.clear()
            layout = self._layouts[rows] = self._checked_layout(rows)
        return layout

    def initial_state(self, rng: np.random.Generator) -> GridState:
        """``new_state(rng)``: the session passes the env's RNG."""
        return self.new_state(rng)

    def new_state(self, rng: np.random.Generator | None = None) -> GridState:
        """Start of an episode: the map (drawn for ``map="random"``), full apples, players on spawn points.

        Players with a digit cell start there facing north; the others take distinct spawn points drawn
        from ``rng`` and drawn orientations. Envs call it through ``initial_state(env RNG)``.
        """
        if rng is None:
            raise RuntimeError("new_state() needs an rng (the env's): the start map and spawn points are drawn")
        layout = self.layout
        if layout is None:
            layout = self._layout_of(tuple(self._random_rows(rng, self.num_players)))
        n = self.num_players
        pos = np.zeros((n, 2), dtype=np.int64)
        orient = np.zeros(n, dtype=np.int64)
        fixed = {k: rc for k, rc in layout.fixed_starts.items() if k < n}
        taken = set(fixed.values())
        free = [tuple(int(x) for x in rc) for rc in layout.spawns if tuple(int(x) for x in rc) not in taken]
        others = [i for i in range(n) if i not in fixed]
        picks = rng.choice(len(free), size=len(others), replace=False) if others else []
        for i, k in zip(others, picks, strict=True):
            pos[i] = free[int(k)]
        for i, rc in fixed.items():
            pos[i] = rc
        if others:
            orient[others] = rng.integers(4, size=len(others))
        shape = layout.shape
        return GridState(
            layout=layout, t=0, apples=layout.init_apples.copy(), waste=layout.init_waste.copy(), pos=pos,
            orient=orient, timeout=np.zeros(n, dtype=np.int64), beams=np.zeros(shape, dtype=bool),
            last_rewards=np.zeros(n), scores=np.zeros(n), reward_hist=np.zeros((self.horizon, n)),
            removed_hist=np.zeros((self.horizon, n), dtype=bool),
        )

    # ------------------------------------------------------------------ rules
    def legal_actions(self, s: GridState, player: int) -> list[int]:
        """Every action, always: a tagged-out player's action is ignored rather than masked.

        Keeping the mask full means an unmasked learner (plain PPO through SuperSuit) never voids a joint
        step by choosing a masked action for a tagged-out player.
        """
        return [] if s.t >= self.horizon else self._all_actions

    def is_terminal(self, s: GridState) -> bool:
        """True after ``horizon`` joint steps."""
        return s.t >= self.horizon

    def returns(self, s: GridState) -> list[float]:
        """Every player's total reward so far."""
        return s.scores.tolist()

    def step_rewards(self, s: GridState) -> list[float]:
        """Rewards of the last joint step."""
        return s.last_rewards.tolist()

    def apply_joint(self, s: GridState, actions: list[int], rng: np.random.Generator) -> None:
        """Plays one joint step in place (the order of the module docstring); chance comes from ``rng``."""
        if s.t >= self.horizon:
            raise RuntimeError(f"the episode is over after {self.horizon} steps; start a new_state()")
        s.invalidate()
        layout = s.layout
        height, width = layout.shape
        walls = layout.wall_rows
        n = self.num_players
        was_out = s.timeout > 0
        rewards = np.zeros(n)
        pos = [(r, c) for r, c in s.pos.tolist()]
        orient = s.orient.tolist()
        occupied = {pos[i]: i for i in range(n) if not was_out[i]}
        # 1. Moves and turns, in a random order so that no seat wins every contested cell.
        for i in rng.permutation(n).tolist():
            if was_out[i]:
                continue
            a = actions[i]
            if a in _MOVE_TURN:
                dr, dc = DIRS[(orient[i] + _MOVE_TURN[a]) % 4]
                r, c = pos[i][0] + dr, pos[i][1] + dc
                if 0 <= r < height and 0 <= c < width and not walls[r][c] and (r, c) not in occupied:
                    del occupied[pos[i]]
                    occupied[(r, c)] = i
                    pos[i] = (r, c)
            elif a == TURN_LEFT:
                orient[i] = (orient[i] + 3) % 4
            elif a == TURN_RIGHT:
                orient[i] = (orient[i] + 1) % 4
        # 2. Eating: +1 per apple (Perolat et al. 2017, §2; Hughes et al. 2018, Cleanup).
        for (r, c), i in occupied.items():
            if s.apples[r, c]:
                s.apples[r, c] = False
                rewards[i] += 1.0
        # 3. Beams, simultaneous: lanes stop at walls; tagging stops at the first player, cleaning at the
        #    first waste cell (judged on the waste before any cleaning this step).
        s.beams[:] = False
        hit: set[int] = set()
        waste_before = s.waste.copy() if self.num_actions > CLEAN else s.waste
        for i in range(n):
            if was_out[i] or actions[i] not in (TAG, CLEAN):
                continue
            if actions[i] == TAG:
                rewards[i] -= self.tag_cost
                for cell in self._beam(layout, pos[i], orient[i], self.tag_length, self.tag_width,
                                       lambda cell: cell in occupied):
                    s.beams[cell] = True
                    if cell in occupied:
                        hit.add(occupied[cell])
            else:
                rewards[i] -= self.clean_cost
                for cell in self._beam(layout, pos[i], orient[i], self.clean_length, self.clean_width,
                                       lambda cell: waste_before[cell]):
                    s.beams[cell] = True
                    s.waste[cell] = False
        for j in sorted(hit):
            s.timeout[j] = self.tag_duration
            del occupied[pos[j]]
        # 4. Players whose time out ends return on a free spawn point.
        for i in np.flatnonzero(was_out).tolist():
            s.timeout[i] -= 1
            if s.timeout[i] > 0:
                continue
            free = [rc for rc in map(tuple, layout.spawns.tolist()) if rc not in occupied]
            if not free:
                s.timeout[i] = 1  # every spawn point is taken: wait one more step
                continue
            cell = free[int(rng.integers(len(free)))]
            pos[i] = (int(cell[0]), int(cell[1]))
            orient[i] = int(rng.integers(4))
            occupied[pos[i]] = i
        s.pos[:] = pos
        s.orient[:] = orient
        # 5. Resources.
        under = np.zeros(layout.shape, dtype=bool)
        if occupied:
            cells = np.array(list(occupied), dtype=np.int64)
            under[cells[:, 0], cells[:, 1]] = True
        self._grow(s, rng, under)
        s.reward_hist[s.t] = rewards
        s.removed_hist[s.t] = was_out
        s.scores += rewards
        s.last_rewards = rewards
        s.t += 1

    @staticmethod
    def _beam(layout: Layout, origin: tuple[int, int], orient: int, length: int, width: int,
              absorbs: Callable[[tuple[int, int]], bool]) -> list[tuple[int, int]]:
        """Cells a beam covers: ``width`` lanes, 1..``length`` ahead.

        Each lane stops before the first wall (or the map edge) and after the first cell that ``absorbs`` it.
        """
        height, w = layout.shape
        walls = layout.wall_rows
        fr, fc = DIRS[orient]
        rr, rc = DIRS[(orient + 1) % 4]  # the player's right
        cells = []
        half = width // 2
        for k in range(-half, half + 1):
            for d in range(1, length + 1):
                r, c = origin[0] + d * fr + k * rr, origin[1] + d * fc + k * rc
                if not (0 <= r < height and 0 <= c < w) or walls[r][c]:
                    break
                cells.append((r, c))
                if absorbs((r, c)):
                    break
        return cells

    @abstractmethod
    def _grow(self, s: GridState, rng: np.random.Generator, under: np.ndarray) -> None:
        """Resource dynamics of one step; ``under`` marks cells with a player on them."""

    # ------------------------------------------------------------------ views
    def _window_offsets(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per orientation, the (row, col) map offsets of every window cell.

        Window cell ``(i, j)`` lies ``view_ahead - i`` cells ahead of the player and ``j - view_sides``
        cells to its right, so the window is the map rotated until the player faces up.
        """
        rows, cols = self.view_shape
        ahead = (self.view_ahead - np.arange(rows))[:, None]
        right = (np.arange(cols) - self.view_sides)[None, :]
        drs, dcs = [], []
        for o in range(4):
            (fr, fc), (rr, rc) = DIRS[o], DIRS[(o + 1) % 4]
            drs.append(ahead * fr + right * rr)
            dcs.append(ahead * fc + right * rc)
        return drs, dcs

    def _grid(self, s: GridState) -> np.ndarray:
        """Code grid of the whole map (bits of ``maps``), padded with wall by the view margin; cached."""
        grid = s.cache.get("grid")
        if grid is None:
            m = self._margin
            height, width = s.layout.shape
            grid = np.full((height + 2 * m, width + 2 * m), WALL, dtype=np.uint8)
            inner = grid[m:m + height, m:m + width]
            inner[:] = s.layout.static_bits
            inner[s.apples] |= APPLE
            inner[s.waste] |= WASTE
            inner[s.beams] |= BEAM
            act = s.timeout == 0
            inner[s.pos[act, 0], s.pos[act, 1]] |= AGENT
            grid.flags.writeable = False  # views are shared between copies of a state (``GridState.copy``)
            s.cache["grid"] = grid
        return grid

    def window(self, s: GridState, player: int) -> np.ndarray | None:
        """The player's egocentric window of codes (read-only), rotated so that it faces up; None while out.

        Row 0 is the farthest row ahead, the player sits at row ``view_ahead``, column ``view_sides``;
        columns run from the player's left to its right. One fancy-indexing gather per window, with the
        offsets of each orientation precomputed (``_window_offsets``).
        """
        key = ("win", player)
        if key in s.cache:
            return s.cache[key]
        win = None
        if s.timeout[player] == 0:
            m = self._margin
            o = int(s.orient[player])
            r, c = int(s.pos[player, 0]) + m, int(s.pos[player, 1]) + m
            win = self._grid(s)[r + self._win_dr[o], c + self._win_dc[o]]
            win.flags.writeable = False
        s.cache[key] = win
        return win

    def info_encoding(self, s: GridState, player: int) -> str:
        """The player's window (every code bit), or its remaining time out while tagged out."""
        win = self.window(s, player)
        if win is None:
            return f"out|{int(s.timeout[player])}"
        return "v|" + win.tobytes().hex()

    def encode(self, s: GridState, player: int, out: np.ndarray) -> None:
        """Window as ``(rows, cols, channels)`` 0/1 planes flattened in C order; all zeros while tagged out."""
        win = self.window(s, player)
        if win is None:
            return
        planes = out.reshape(self.obs_shape)
        np.take(self._plane_lut, win, axis=0, out=planes)
        planes[self.view_ahead, self.view_sides, self._agent_ch] = 0.0
        planes[self.view_ahead, self.view_sides, self._self_ch] = 1.0

    def observe(self, s: GridState) -> np.ndarray:
        """Every player's vector observation as one ``(N, obs_size)`` float32 array (no text, no infos)."""
        out = np.zeros((self.num_players, self.obs_size), dtype=np.float32)
        for p in range(self.num_players):
            self.encode(s, p, out[p])
        return out

    def view_text(self, s: GridState, player: int) -> str:
        """The window as text rows (legend ``LEGEND``), or a line saying the player is tagged out."""
        win = self.window(s, player)
        if win is None:
            return f"(you are tagged out: back in play in {int(s.timeout[player])} step(s))"
        rows, cols = self.view_shape
        chars = np.full((rows, cols + 1), ord("\n"), dtype=np.uint8)  # one decode for the whole window
        chars[:, :cols] = _LUT[win]
        chars[self.view_ahead, self.view_sides] = ord(SELF_CHAR)
        return chars.tobytes()[:-1].decode("ascii")

    @abstractmethod
    def rules_text(self) -> str:
        """The rules in a few sentences (shown in every text observation)."""

    def render(self, s: GridState, player: int) -> str:
        """Header, the egocentric view, the legend and the rules (cached with the state's other views)."""
        key = ("text", player)
        if key in s.cache:
            return s.cache[key]
        t, out = s.t, int(s.timeout[player])
        lines = [f"{self.title}, {self.num_players} players. Step {t} of {self.horizon}. You are player {player}; "
                 f"your score: {s.scores[player]:g}; last step's reward: {s.last_rewards[player]:g}."]
        if out:
            lines.append(f"You were tagged out: you are out of play for {out} more step(s); "
                         "your actions are ignored until you return.")
        else:
            lines.append(f"Your view ({self.view_shape[0]} rows x {self.view_shape[1]} columns; top = ahead):")
            lines.append(self.view_text(s, player))
            lines.append(self._legend)
        if t >= self.horizon:
            lines.append(f"Episode over after {t} steps: your total {s.scores[player]:g}.")
        if self._rules is None:
            self._rules = self.rules_text()
        lines.append(self._rules)
        text = s.cache[key] = "\n".join(lines)
        return text

    def social(self, s: GridState) -> dict[str, float]:
        """Perolat et al. (2017) social outcomes of the steps played so far (``metrics.social_outcomes``)."""
        return social_outcomes(s.reward_hist[:s.t], s.removed_hist[:s.t])

    # ------------------------------------------------------------------ snapshots
    def to_json(self, s: GridState) -> Any:
        """Map rows, counters, bit-packed grids and exact float64 rewards (base64)."""
        return {
            "map": list(s.layout.rows), "t": s.t, "apples": pack_bools(s.apples), "waste": pack_bools(s.waste),
            "beams": pack_bools(s.beams), "pos": s.pos.ravel().tolist(), "orient": s.orient.tolist(),
            "timeout": s.timeout.tolist(), "last": pack_floats(s.last_rewards), "scores": pack_floats(s.scores),
            "rewards": pack_floats(s.reward_hist[:s.t]), "removed": pack_bools(s.removed_hist[:s.t]),
        }

    def from_json(self, data: Any) -> GridState:
        """Rebuilds and checks a ``to_json`` state (``KeyError``/``TypeError``/``ValueError`` when malformed)."""
        try:
            # Canonical JSON as the key: it tells ``true`` from ``1`` and ``-0.0`` from ``0``, which a tuple does not.
            key = json.dumps([data[k] for k in _SNAPSHOT_KEYS])
            hit = self._restored.get(key)
            if hit is not None:  # search and the conformance battery restore the same snapshot many times
                state = hit.copy()
                state.cache = hit.cache  # equal states share views; a change rebinds (``invalidate``)
                return state
            state = self._from_json(data)
        except (OverflowError, IndexError) as e:
            raise ValueError(f"malformed state: {e}") from None
        if len(self._restored) >= 8:
            self._restored.pop(next(iter(self._restored)))
        self._restored[key] = state.copy()
        return state

    def _from_json(self, data: Any) -> GridState:
        rows = data["map"]
        if not isinstance(rows, list) or not all(isinstance(r, str) for r in rows):
            raise TypeError("map must be a list of strings")
        if self.layout is not None and tuple(rows) != self.layout.rows:
            # A fixed map (classic or custom) is part of the env's configuration, not of its state.
            raise ValueError(f"the snapshot's map is not this env's {self.map_kind} map")
        layout = self._layout_of(tuple(rows))
        shape = layout.shape
        n = self.num_players
        t = data["t"]
        if type(t) is not int or not 0 <= t <= self.horizon:
            raise ValueError(f"step {t!r} outside 0..{self.horizon}")
        apples, waste, beams = (unpack_bools(data[k], shape) for k in ("apples", "waste", "beams"))
        if (apples & ~layout.apple_cells).any() or (waste & ~layout.river).any():
            raise ValueError("apples or waste outside their cells")
        pos = int_list(data["pos"], 2 * n, 0, max(shape) - 1, "pos").reshape(n, 2)
        orient = int_list(data["orient"], n, 0, 3, "orient")
        timeout = int_list(data["timeout"], n, 0, self.tag_duration, "timeout")
        if (pos[:, 0] >= shape[0]).any() or (pos[:, 1] >= shape[1]).any() or layout.walls[pos[:, 0], pos[:, 1]].any():
            raise ValueError("a player stands off the map or in a wall")
        live = pos[timeout == 0]
        if len({(int(r), int(c)) for r, c in live}) != len(live):
            raise ValueError("two players in play share a cell")
        reward_hist = np.zeros((self.horizon, n))
        removed_hist = np.zeros((self.horizon, n), dtype=bool)
        reward_hist[:t] = unpack_floats(data["rewards"], (t, n))
        removed_hist[:t] = unpack_bools(data["removed"], (t, n))
        last, scores = unpack_floats(data["last"], (n,)), unpack_floats(data["scores"], (n,))
        # A step pays at most one apple and costs at most one shot of each beam.
        bound = 1.0 + abs(self.tag_cost) + abs(self.clean_cost)
        if (np.abs(reward_hist[:t]) > bound).any():
            raise ValueError(f"a step reward beyond +-{bound:g}")
        # The scores are the running sum of the step rewards (added in step order, as ``apply_joint`` does, so
        # the comparison is exact) and the last rewards are the last step's.
        if t and (not np.array_equal(np.cumsum(reward_hist[:t], axis=0)[-1], scores)
                  or not np.array_equal(reward_hist[t - 1], last)):
            raise ValueError("scores or last rewards do not match the step rewards")
        if not t and (scores.any() or last.any()):
            raise ValueError("scores before the first step")
        return GridState(
            layout=layout, t=t, apples=apples, waste=waste, pos=pos, orient=orient, timeout=timeout, beams=beams,
            last_rewards=last, scores=scores, reward_hist=reward_hist, removed_hist=removed_hist,
        )

    def copy_state(self, s: GridState) -> GridState:
        """Independent copy."""
        return s.copy()


def neighbour_counts(mask: np.ndarray, radius: int) -> np.ndarray:
    """Number of True cells within L1 distance ``radius`` of every cell, the cell itself excluded.

    Vectorized as a sum of shifted copies of the zero-padded mask (one slice per offset of the L1
    diamond, never a loop over cells): the counting of Perolat et al. (2017)'s regrowth rule.
    """
    height, width = mask.shape
    padded = np.zeros((height + 2 * radius, width + 2 * radius), dtype=np.int16)
    padded[radius:radius + height, radius:radius + width] = mask
    counts = np.zeros((height, width), dtype=np.int16)
    for dr in range(-radius, radius + 1):
        span = radius - abs(dr)
        for dc in range(-span, span + 1):
            if dr or dc:
                counts += padded[radius + dr:radius + dr + height, radius + dc:radius + dc + width]
    return counts
