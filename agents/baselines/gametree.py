"""Explicit game trees of two-player zero-sum turn-based games, built through the env API.

The tree is enumerated once by a depth-first search over a PettingZoo AEC env created with
``chance="explicit"``: chance events are branched with ``chance_outcomes``/``apply_chance``, player
decisions with ``step``, and every branch starts from a ``get_state``/``set_state`` snapshot. Information
sets are identified by the env's own ``info["state_key"]``, so a solved strategy can be played back in
any front end of the same env id (AEC, or the single-agent ``gym.make`` view with opponents).

The tree is stored as flat numpy arrays with nodes sorted by depth, so that solvers (``turngym.agents.baselines.cfr``)
can sweep it level by level with vectorized operations instead of recursing in Python.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CHANCE, PLAYER, TERMINAL = 0, 1, 2
"""Node kinds."""

CHANCE_ACTOR = 2
"""Column of the chance player in reach-probability arrays (players are 0 and 1)."""


class GameTreeError(ValueError):
    """The env cannot be turned into a finite two-player zero-sum perfect-recall game tree."""


@dataclass(eq=False)
class GameTree:
    """A finite two-player zero-sum extensive-form game as flat arrays.

    Nodes are numbered so that depth is non-decreasing (node 0 is the root); level ``d`` is the slice
    ``level_bounds[d]:level_bounds[d + 1]``. Depth counts every edge, chance edges included.

    Attributes:
        env_id: Registered id the tree was built from (it namespaces the ``state_key`` values).
        num_actions: Size of the env's discrete action space; strategy arrays are ``[num_infosets, num_actions]``.
        action_names: Word of each action id (as the env's ``admissible_actions`` spell it).
        parent: Parent node of each node (-1 for the root).
        action: Action id on the edge into each node from a player node (-1 otherwise).
        chance_prob: Probability of the edge into each node from a chance node (1.0 otherwise).
        kind: ``CHANCE``, ``PLAYER`` or ``TERMINAL``.
        player: Acting seat of player nodes (-1 otherwise).
        infoset: Information-set index of player nodes (-1 otherwise).
        utility: Payoff of player 0 at terminal nodes (0 elsewhere); player 1 gets its negation.
        depth: Depth of each node.
        children: ``[num_nodes, num_actions]`` child of each player node per action id (-1 if illegal or
            not a player node).
        level_bounds: Start offset of each depth level, plus the end.
        infoset_keys: ``state_key`` of each information set.
        infoset_player: Acting seat of each information set.
        legal_mask: ``[num_infosets, num_actions]`` legal actions of each information set.
        infoset_depth: Common depth of the nodes of each information set.
        infoset_rep: One node of each information set.
    """

    env_id: str
    num_actions: int
    action_names: tuple[str, ...]
    parent: np.ndarray
    action: np.ndarray
    chance_prob: np.ndarray
    kind: np.ndarray
    player: np.ndarray
    infoset: np.ndarray
    utility: np.ndarray
    depth: np.ndarray
    children: np.ndarray
    level_bounds: np.ndarray
    infoset_keys: list[str]
    infoset_player: np.ndarray
    legal_mask: np.ndarray
    infoset_depth: np.ndarray
    infoset_rep: np.ndarray
    key_index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.key_index = {k: i for i, k in enumerate(self.infoset_keys)}
        # Derived indices used by every sweep; computed once here.
        n = self.num_nodes
        non_root = np.arange(1, n)
        #: Node ids 1..n-1 (every node but the root).
        self.non_root = non_root
        #: Slice of each depth level.
        self.levels = [self.level(d) for d in range(self.num_levels)]
        par = self.parent[non_root]
        #: Who acted on the edge into each node: 0/1 for a player move, ``CHANCE_ACTOR`` for chance, -1 root.
        self.parent_actor = np.full(n, -1, dtype=np.int64)
        self.parent_actor[non_root] = np.where(
            self.kind[par] == CHANCE, CHANCE_ACTOR, self.player[par]
        )
        #: Parent index relative to the start of the parent's level (for per-level ``np.bincount``).
        self.parent_local = np.full(n, -1, dtype=np.int64)
        self.parent_local[non_root] = par - self.level_bounds[self.depth[par]]
        #: Flat ``infoset * num_actions + action`` slot of each edge out of a player node (-1 otherwise).
        self.edge_slot = np.full(n, -1, dtype=np.int64)
        from_player = non_root[self.kind[par] == PLAYER]
        self.edge_slot[from_player] = (
            self.infoset[self.parent[from_player]] * self.num_actions + self.action[from_player]
        )
        #: Nodes entered by a move of seat p, for p = 0, 1.
        self.edges_of = [from_player[self.parent_actor[from_player] == p] for p in (0, 1)]
        #: Information sets of seat p.
        self.infosets_of = [np.flatnonzero(self.infoset_player == p) for p in (0, 1)]
        derived = (self.non_root, self.parent_actor, self.parent_local, self.edge_slot)
        for arr in (*derived, *self.edges_of, *self.infosets_of):
            arr.setflags(write=False)

    # ------------------------------------------------------------------ sizes
    @property
    def num_nodes(self) -> int:
        """Number of nodes (chance, player and terminal)."""
        return int(self.parent.shape[0])

    @property
    def num_infosets(self) -> int:
        """Number of information sets of both players."""
        return len(self.infoset_keys)

    @property
    def num_levels(self) -> int:
        """Number of depth levels (maximum depth + 1)."""
        return int(self.level_bounds.shape[0] - 1)

    def level(self, d: int) -> slice:
        """Slice of the nodes at depth ``d``."""
        return slice(int(self.level_bounds[d]), int(self.level_bounds[d + 1]))

    @functools.cached_property
    def player_nodes_by_level(self) -> list[list[np.ndarray]]:
        """``[p][d]``: the player-``p`` nodes at depth ``d``."""
        out: list[list[np.ndarray]] = [[], []]
        for d in range(self.num_levels):
            sl = self.level(d)
            nodes = np.arange(sl.start, sl.stop)
            for p in (0, 1):
                out[p].append(nodes[(self.kind[sl] == PLAYER) & (self.player[sl] == p)])
        return out

    def summary(self) -> dict[str, Any]:
        """Counts of nodes by kind, information sets by player, and depth."""
        return {
            "env_id": self.env_id,
            "nodes": self.num_nodes,
            "chance_nodes": int(np.sum(self.kind == CHANCE)),
            "player_nodes": int(np.sum(self.kind == PLAYER)),
            "terminal_nodes": int(np.sum(self.kind == TERMINAL)),
            "infosets": self.num_infosets,
            "infosets_per_player": [int(len(i)) for i in self.infosets_of],
            "depth": self.num_levels - 1,
        }

    # ------------------------------------------------------------- strategies
    def uniform_strategy(self) -> np.ndarray:
        """The uniform-random strategy profile, ``[num_infosets, num_actions]``."""
        legal = self.legal_mask.astype(np.float64)
        return legal / legal.sum(axis=1, keepdims=True)


def _freeze(tree_arrays: dict[str, np.ndarray]) -> None:
    for arr in tree_arrays.values():
        arr.setflags(write=False)


def build_tree_from_env(env: Any, env_id: str | None = None) -> GameTree:
    """Enumerates the full game tree of an AEC env with explicit chance.

    The env is reset (seed 0) and then driven only through its public API: ``chance_outcomes``,
    ``apply_chance``, ``step``, ``get_state``/``set_state``, ``agent_selection``, ``infos`` and
    ``terminations``. Information sets are keyed by ``info["state_key"]``.

    Args:
        env: A two-player AEC env created with ``chance="explicit"`` and ``obs_mode="vector"``.
        env_id: Id to record (default: ``env.env_id``).

    Returns:
        The tree, nodes sorted by depth.

    Raises:
        GameTreeError: If the game is not two-player zero-sum, an episode is truncated, chance
            probabilities do not sum to 1, nodes sharing a ``state_key`` disagree on the acting seat or
            the legal actions, or the game lacks perfect recall.
    """
    env_id = env_id or getattr(env, "env_id", "")
    if list(env.possible_agents) != ["player_0", "player_1"]:
        raise GameTreeError(f"CFR needs a two-player game, got agents {env.possible_agents}")
    num_actions = int(env.action_space("player_0").n)
    action_names = [""] * num_actions
    env.reset(seed=0)

    parent: list[int] = []
    action: list[int] = []
    chance_prob: list[float] = []
    kind: list[int] = []
    player: list[int] = []
    infoset: list[int] = []
    utility: list[float] = []
    depth: list[int] = []
    children: dict[int, list[tuple[int, int]]] = {}

    keys: dict[str, int] = {}
    is_player: list[int] = []
    is_legal: list[tuple[int, ...]] = []
    is_depth: list[int] = []
    is_history: list[tuple[tuple[int, int], ...]] = []  # the seat's own (infoset, action) sequence

    # Stack entries: (snapshot, parent node, action id or -1, chance prob, depth, own histories of seats).
    Hist = tuple[tuple[int, int], ...]
    stack: list[tuple[bytes, int, int, float, int, tuple[Hist, Hist]]] = [
        (env.get_state(), -1, -1, 1.0, 0, ((), ()))
    ]
    while stack:
        blob, par, act, prob, dep, hist = stack.pop()
        env.set_state(blob)
        node = len(parent)
        parent.append(par)
        action.append(act)
        chance_prob.append(prob)
        depth.append(dep)
        if par >= 0 and act >= 0:
            children.setdefault(par, []).append((act, node))
        pending: list[tuple[bytes, int, int, float, int, tuple[Hist, Hist]]] = []
        if all(env.terminations.values()):
            returns = env.infos["player_0"].get("returns")
            if returns is None or len(returns) != 2:
                raise GameTreeError(f"terminal node without a two-seat info['returns']: {returns!r}")
            if abs(float(returns[0]) + float(returns[1])) > 1e-9:
                raise GameTreeError(f"game is not zero-sum: returns {returns}")
            kind.append(TERMINAL)
            player.append(-1)
            infoset.append(-1)
            utility.append(float(returns[0]))
        elif any(env.truncations.values()):
            raise GameTreeError("an episode was truncated while enumerating the tree; raise max_turns")
        elif outcomes := env.chance_outcomes():
            total = sum(p for _, p in outcomes)
            if abs(total - 1.0) > 1e-9:
                raise GameTreeError(f"chance probabilities sum to {total}, not 1")
            kind.append(CHANCE)
            player.append(-1)
            infoset.append(-1)
            utility.append(0.0)
            for outcome, p in outcomes:
                env.set_state(blob)
                env.apply_chance(outcome)
                pending.append((env.get_state(), node, -1, float(p), dep + 1, hist))
        else:
            agent = env.agent_selection
            seat = int(agent.rsplit("_", 1)[1])
            info = env.infos[agent]
            key = info["state_key"]
            legal = tuple(int(a) for a in info["legal_action_ids"])
            if not legal:
                raise GameTreeError(f"{agent} is to act but has no legal action")
            for a, word in zip(legal, info.get("admissible_actions") or [], strict=False):
                action_names[a] = action_names[a] or str(word)
            idx = keys.setdefault(key, len(keys))
            if idx == len(is_player):
                is_player.append(seat)
                is_legal.append(legal)
                is_depth.append(dep)
                is_history.append(hist[seat])
            elif is_player[idx] != seat or is_legal[idx] != legal:
                raise GameTreeError(
                    f"state_key {key} is shared by nodes with different acting seats or legal actions "
                    f"({is_player[idx]}, {is_legal[idx]}) vs ({seat}, {legal})"
                )
            elif is_depth[idx] != dep or is_history[idx] != hist[seat]:
                raise GameTreeError(
                    f"imperfect recall: nodes of information set {key} differ in depth or in the acting "
                    "seat's own earlier decisions"
                )
            kind.append(PLAYER)
            player.append(seat)
            infoset.append(idx)
            utility.append(0.0)
            for a in legal:
                env.set_state(blob)
                env.step(a)
                own = list(hist)
                own[seat] = (*hist[seat], (idx, a))
                pending.append((env.get_state(), node, a, 1.0, dep + 1, (own[0], own[1])))
        stack.extend(reversed(pending))  # pop in order: preorder numbering

    n = len(parent)
    depth_arr = np.asarray(depth, dtype=np.int64)
    order = np.argsort(depth_arr, kind="stable")
    new_id = np.empty(n, dtype=np.int64)
    new_id[order] = np.arange(n)
    parent_arr = np.asarray(parent, dtype=np.int64)[order]
    parent_arr = np.where(parent_arr >= 0, new_id[np.maximum(parent_arr, 0)], -1)
    child_arr = np.full((n, num_actions), -1, dtype=np.int64)
    for par, kids in children.items():
        for a, c in kids:
            child_arr[new_id[par], a] = new_id[c]
    depth_sorted = depth_arr[order]
    num_levels = int(depth_sorted[-1]) + 1
    level_bounds = np.searchsorted(depth_sorted, np.arange(num_levels + 1), side="left").astype(np.int64)

    num_infosets = len(keys)
    legal_mask = np.zeros((num_infosets, num_actions), dtype=bool)
    for i, legal in enumerate(is_legal):
        legal_mask[i, list(legal)] = True
    infoset_arr = np.asarray(infoset, dtype=np.int64)[order]
    rep = np.full(num_infosets, -1, dtype=np.int64)
    player_nodes = np.flatnonzero(infoset_arr >= 0)
    rep[infoset_arr[player_nodes[::-1]]] = player_nodes[::-1]  # first node of each infoset wins

    arrays = {
        "parent": parent_arr,
        "action": np.asarray(action, dtype=np.int64)[order],
        "chance_prob": np.asarray(chance_prob, dtype=np.float64)[order],
        "kind": np.asarray(kind, dtype=np.int8)[order],
        "player": np.asarray(player, dtype=np.int64)[order],
        "infoset": infoset_arr,
        "utility": np.asarray(utility, dtype=np.float64)[order],
        "depth": depth_sorted,
        "children": child_arr,
        "level_bounds": level_bounds,
        "infoset_player": np.asarray(is_player, dtype=np.int64),
        "legal_mask": legal_mask,
        "infoset_depth": np.asarray(is_depth, dtype=np.int64),
        "infoset_rep": rep,
    }
    _freeze(arrays)
    return GameTree(
        env_id=env_id,
        num_actions=num_actions,
        action_names=tuple(name or str(i) for i, name in enumerate(action_names)),
        infoset_keys=list(keys),
        **arrays,
    )


@functools.lru_cache(maxsize=16)
def _cached_tree(env_id: str, kwargs: tuple[tuple[str, Any], ...]) -> GameTree:
    from turngym.envs import make_aec

    env = make_aec(env_id, obs_mode="vector", chance="explicit", **dict(kwargs))
    try:
        return build_tree_from_env(env, env_id=env.env_id)
    finally:
        env.close()


def build_tree(env_id: str, **env_kwargs: Any) -> GameTree:
    """Builds (once per process, then cached) the game tree of a registered turn-based env.

    Args:
        env_id: A registered two-player zero-sum turn-based id, e.g. ``"turngym/KuhnPoker-v0"``.
        **env_kwargs: Extra arguments of the AEC env (``obs_mode`` and ``chance`` are fixed).

    Returns:
        The tree. Its arrays are read-only and it is shared between callers.
    """
    return _cached_tree(env_id, tuple(sorted(env_kwargs.items())))


__all__ = ["CHANCE", "PLAYER", "TERMINAL", "GameTree", "GameTreeError", "build_tree", "build_tree_from_env"]
