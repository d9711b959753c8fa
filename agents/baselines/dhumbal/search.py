"""Search agents for Dhumbal (Jhyap) over the env's own rules: determinized MCTS and SO-ISMCTS.

Simulator. A search agent is bound to the env it plays in (``env=`` at construction or ``bind(env)`` later,
for the single-agent env whose opponents must exist before it does): it reads the rules object
(``env.game``, a ``DhumbalGame``) and the live ``DhumbalState`` of ``env.session``, and never steps the env.
From that state it keeps only the acting seat's information (``determinize``): its own hand, the pile (every
discard is public), hand sizes, coins, the round clock and the public log, from which the cards each
opponent took from the pile and still holds are known. The hidden cards (the other hands and the deck) are
re-dealt uniformly from the unseen pool, sorted before shuffling, so a determinization depends on the
public information and the RNG only; it is written into a ``copy_state`` of the rules' state structure
(``hands``, ``deck``). Deck draws are made deterministic per determinization by a random priority of every
card (a draw takes the deck card of lowest priority), so each determinization is a perfect-information game.
Simulations call ``game.apply_action`` / ``game.apply_chance`` directly and stop at the end of the current
round; each seat's reward is ``0.5 + 0.5 * tanh(coin change / reward_scale)``, in [0, 1] for UCB1.

* ``MCTSAgent`` (determinized UCT / PIMC, Long et al. 2010): ``determinizations`` independent UCT trees
  (c = sqrt(2)), one fixed determinization each, root visit counts summed across trees.
* ``ISMCTSAgent`` (single-observer ISMCTS, Cowling, Powley & Whitehouse 2012): one tree over the observer's
  information sets, keyed by action sequences; a fresh determinization every iteration; UCB uses
  availability counts (how often an action was legal when its parent was visited).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from turngym.envs.cards.dhumbal import OVER, DhumbalGame, DhumbalState
from turngym.envs.cards.dhumbal_cards import NUM_CARDS
from turngym.envs.core.errors import ConfigError

RolloutPolicy = Callable[[DhumbalGame, DhumbalState, np.random.Generator], int]


def random_rollout(game: DhumbalGame, s: DhumbalState, rng: np.random.Generator) -> int:
    """Uniformly random legal action (the default rollout policy)."""
    legal = game.legal_actions(s)
    return legal[int(rng.integers(len(legal)))]


def greedy_rollout(game: DhumbalGame, s: DhumbalState, rng: np.random.Generator) -> int:
    """Aggressive heuristic on the raw state: call when allowed, shed the most value, draw low pile cards."""
    from turngym.agents.baselines.dhumbal.heuristics import choose_discard, completes_meld

    legal = game.legal_actions(s)
    if legal[0] == 0:
        return 0
    if legal[-1] <= 2:  # draw phase
        card = game.pile_card(s)
        if len(legal) == 2 and (completes_meld(card, s.hands[s.player]) or game.values[card] < 7):
            return 1
        return 2
    return choose_discard(legal, game.values)


ROLLOUTS: dict[str, RolloutPolicy] = {"random": random_rollout, "greedy": greedy_rollout}


# ------------------------------------------------------------------ information and determinization
def known_held(s: DhumbalState, num_players: int) -> list[list[int]]:
    """Cards each seat is publicly known to hold: taken from the pile this round and not discarded since.

    Read from the public log (``("t", seat, discarded, source, drawn)`` events; ``("r", i)`` ends a round).
    """
    known: list[list[int]] = [[] for _ in range(num_players)]
    for e in s.log:
        if e[0] == "r":
            known = [[] for _ in range(num_players)]
        elif e[0] == "t":
            held = known[e[1]]
            for c in e[2]:
                if c in held:
                    held.remove(c)
            if e[4] >= 0:
                held.append(e[4])
    return known


def determinize(game: DhumbalGame, s: DhumbalState, observer: int,
                rng: np.random.Generator) -> tuple[DhumbalState, np.ndarray]:
    """A copy of ``s`` with the cards hidden from ``observer`` re-dealt, and a draw priority per card.

    Reads only what ``observer`` knows: its hand, the pile, every hand's size and the public log; the
    other hands and the deck enter only as one unordered pool (sorted before shuffling), so two states that
    differ only in hidden cards give the same determinization for the same RNG state.

    Returns:
        (state, priority): the re-dealt state and a random priority of each card id (a deck draw takes the
        deck card of lowest priority).
    """
    n = game.num_players
    known = known_held(s, n)
    fixed = set(s.hands[observer]) | set(s.pile)
    for q in range(n):
        if q != observer:
            fixed.update(known[q])
    pool = [c for c in range(NUM_CARDS) if c not in fixed]
    order = rng.permutation(len(pool))
    shuffled = [pool[i] for i in order]
    d = game.copy_state(s)
    k = 0
    for q in range(n):
        if q == observer:
            continue
        need = len(s.hands[q]) - len(known[q])
        d.hands[q] = sorted(known[q] + shuffled[k:k + need])
        k += need
    d.deck = sorted(shuffled[k:])
    return d, rng.random(NUM_CARDS)


def _advance(game: DhumbalGame, s: DhumbalState, action: int, priority: np.ndarray, rounds_done: int) -> bool:
    """Applies ``action`` and the deck draws it triggers; True when the round (or game) is over."""
    game.apply_action(s, action)
    if len(s.results) > rounds_done or s.phase == OVER:
        return True
    while game.chance_pending(s):  # a deck draw: the deck card of lowest priority (fixed per determinization)
        deck = s.deck
        game.apply_chance(s, min(deck, key=priority.__getitem__))
        if len(s.results) > rounds_done:
            return True
    return False


class _Node:
    """A tree node: the action sequence from the root; statistics for the seat that chose it."""

    __slots__ = ("children", "visits", "total", "avail")

    def __init__(self) -> None:
        self.children: dict[int, _Node] = {}
        self.visits = 0
        self.total = 0.0
        self.avail = 0


class _SearchBase:
    """Shared budget, binding and tree-search machinery of the two search agents.

    Args:
        env: The env to read rules and state from (AEC or single-agent, possibly wrapped); or ``bind`` later.
        iterations: Simulations per decision.
        time_budget_s: Wall-clock budget per decision (None: iterations only; both: the first reached).
        rollout: ``"random"`` (default), ``"greedy"``, or a callable ``(game, state, rng) -> action``.
        c: UCB1 exploration constant (sqrt(2), Kocsis & Szepesvari 2006).
        reward_scale: Coins per unit of tanh in the reward mapping.
        max_rollout_turns: Stop a rollout after this many moves and score it as a showdown (None: play out).
        seed: Seed of the agent's own RNG, used when ``act`` gets no ``rng``.
    """

    name = "search"
    obs_mode = "vector"

    def __init__(self, env: Any = None, *, iterations: int = 200, time_budget_s: float | None = None,
                 rollout: str | RolloutPolicy = "random", c: float = math.sqrt(2), reward_scale: float = 50.0,
                 max_rollout_turns: int | None = None, seed: int | None = None):
        if isinstance(rollout, str):
            if rollout not in ROLLOUTS:
                raise ConfigError("rollout", "one of " + ", ".join(ROLLOUTS) + " or a callable", rollout, ROLLOUTS)
            rollout = ROLLOUTS[rollout]
        self.rollout = rollout
        self.iterations = int(iterations)
        self.time_budget_s = time_budget_s
        self.c = c
        self.reward_scale = reward_scale
        self.max_rollout_turns = max_rollout_turns
        self.rng = np.random.default_rng(seed)
        self.session: Any = None
        self.game: DhumbalGame | None = None
        if env is not None:
            self.bind(env)

    def bind(self, env: Any) -> _SearchBase:
        """Reads rules and state from ``env`` (``env.session`` or ``env.unwrapped.session``); returns self."""
        session = getattr(env, "session", None) or getattr(getattr(env, "unwrapped", None), "session", None)
        if session is None or not isinstance(session.game, DhumbalGame):
            raise TypeError("bind() needs a turngym Dhumbal env (AEC or single-agent)")
        self.session, self.game = session, session.game
        return self

    # ---------------------------------------------------------------- protocol
    def act(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]], *,
            rng: np.random.Generator | None = None) -> list[Any]:
        """The searched action for the bound env's acting seat (one env per agent: batches of one)."""
        if self.session is None:
            raise RuntimeError(f"{type(self).__name__} is not bound to an env: pass env= or call bind(env)")
        if len(observations) != 1:
            raise ValueError("a search agent acts in its one bound env: pass batches of one")
        session, info = self.session, infos[0]
        player = session.current_player
        if player < 0:
            return [None]
        if info.get("state_key", session.state_key(player)) != session.state_key(player):
            raise RuntimeError("the info does not belong to the bound env's acting seat")
        return [self.search(session.state, player, rng if rng is not None else self.rng)]

    def search(self, state: DhumbalState, player: int, rng: np.random.Generator) -> int:
        """The action to play for ``player`` in ``state`` (only its information is used)."""
        raise NotImplementedError

    # ---------------------------------------------------------------- machinery
    def _reward(self, s: DhumbalState, rounds_done: int) -> list[float]:
        game = self.game
        assert game is not None
        if len(s.results) > rounds_done:
            deltas = s.results[rounds_done]["deltas"]
        else:  # rollout cut short: score as a showdown of the current hands
            values = [game.hand_value(h) for h in s.hands]
            low = min(values)
            winner = values.index(low)
            deltas = [(sum(values) - low) if q == winner else -v for q, v in enumerate(values)]
        scale = self.reward_scale
        return [0.5 + 0.5 * math.tanh(d / scale) for d in deltas]

    def _iterate(self, root: _Node, base: DhumbalState, priority: np.ndarray, rng: np.random.Generator) -> None:
        """One selection / expansion / rollout / backpropagation pass on a determinized copy of ``base``."""
        game = self.game
        assert game is not None
        s = game.copy_state(base)
        rounds_done = len(s.results)
        node, path, over = root, [], False
        c = self.c
        while not over:  # selection with availability counts (Cowling et al. 2012; = UCT on a fixed state)
            legal = game.legal_actions(s)
            mover = s.player
            children = node.children
            untried = []
            for a in legal:
                child = children.get(a)
                if child is None:
                    untried.append(a)
                else:
                    child.avail += 1
            if untried:  # expansion
                a = untried[int(rng.integers(len(untried)))]
                child = children[a] = _Node()
                child.avail = 1
                path.append((child, mover))
                over = _advance(game, s, a, priority, rounds_done)
                break
            best, best_u = -1, -math.inf
            for a in legal:
                ch = children[a]
                u = ch.total / ch.visits + c * math.sqrt(math.log(ch.avail) / ch.visits)
                if u > best_u:
                    best, best_u = a, u
            node = children[best]
            path.append((node, mover))
            over = _advance(game, s, best, priority, rounds_done)
        moves = 0
        cap = self.max_rollout_turns
        while not over and (cap is None or moves < cap):  # rollout
            over = _advance(game, s, self.rollout(game, s, rng), priority, rounds_done)
            moves += 1
        reward = self._reward(s, rounds_done)
        root.visits += 1
        for n, mover in path:  # each node credits the seat that chose its action
            n.visits += 1
            n.total += reward[mover]

    def _run(self, root: _Node, state: DhumbalState, player: int, rng: np.random.Generator, iterations: int,
             budget: float | None, fresh: bool) -> None:
        game = self.game
        assert game is not None
        deadline = None if budget is None else time.perf_counter() + budget
        det = None
        for i in range(max(1, iterations)):
            if det is None or fresh:
                det = determinize(game, state, player, rng)
            self._iterate(root, det[0], det[1], rng)
            if deadline is not None and i % 8 == 7 and time.perf_counter() >= deadline:
                break


def _best(counts: dict[int, tuple[int, float]]) -> int:
    """Most visited action (ties: higher mean reward, then lower id)."""
    return max(sorted(counts), key=lambda a: (counts[a][0], counts[a][1] / max(1, counts[a][0])))


class MCTSAgent(_SearchBase):
    """Determinized UCT (perfect-information Monte Carlo): see the module docstring.

    Args:
        determinizations: Independent determinizations (trees); ``iterations`` and ``time_budget_s`` are
            split evenly among them.
        **kwargs: See ``_SearchBase``.
    """

    name = "mcts"

    def __init__(self, env: Any = None, *, determinizations: int = 8, **kwargs: Any):
        super().__init__(env, **kwargs)
        self.determinizations = max(1, int(determinizations))

    def search(self, state: DhumbalState, player: int, rng: np.random.Generator) -> int:
        """Most visited root action (see the class docstring)."""
        game = self.game
        assert game is not None
        legal = game.legal_actions(state)
        if len(legal) == 1:
            return legal[0]
        k = self.determinizations
        per = max(1, self.iterations // k)
        budget = None if self.time_budget_s is None else self.time_budget_s / k
        counts: dict[int, tuple[int, float]] = {a: (0, 0.0) for a in legal}
        for _ in range(k):
            root = _Node()
            self._run(root, state, player, rng, per, budget, fresh=False)
            for a, ch in root.children.items():
                v, t = counts[a]
                counts[a] = (v + ch.visits, t + ch.total)
        return _best(counts)


class ISMCTSAgent(_SearchBase):
    """Single-observer information-set MCTS (Cowling, Powley & Whitehouse 2012): see the module docstring."""

    name = "ismcts"

    def search(self, state: DhumbalState, player: int, rng: np.random.Generator) -> int:
        """Most visited root action (see the class docstring)."""
        game = self.game
        assert game is not None
        legal = game.legal_actions(state)
        if len(legal) == 1:
            return legal[0]
        root = _Node()
        self._run(root, state, player, rng, self.iterations, self.time_budget_s, fresh=True)
        return _best({a: (ch.visits, ch.total) for a, ch in root.children.items()})
