"""A human-style Kuhn poker heuristic: bet the King, give up the Jack, check the Queen and sometimes call.

The rule (``KuhnHeuristic``), on the seat's own card and whether it faces a bet:

* **King**: bet when no one has bet (first to act, or after the opponent checked); call a bet.
* **Queen**: check when no one has bet; facing a bet, call with probability ``queen_call`` (default 0.5),
  else fold.
* **Jack**: check when no one has bet; fold to a bet. It never bluffs.

It is **not an equilibrium**. Kuhn's (1950) equilibrium family (the form given by Wikipedia's "Kuhn poker" and
OpenSpiel's ``kuhn_poker`` docs) has the first player bluff the Jack with some α in [0, 1/3] and bet the King
with 3α, and the second player bluff the Jack with 1/3 after a check and call a bet with the Queen 1/3 of the
time. This heuristic never bluffs, so its bets always show a King, and a best response folds everything else
to them. Its exploitability (NashConv / 2, ``turngym.agents.baselines.cfr.exploitability``) is 1/8 = 0.125
chips per hand at the default ``queen_call`` (0.25 at 0, 0.167 at 1); the leaderboard validation benchmark
computes and records it (``turngym.benchmarks.leaderboard_validation``).

Every action it takes is one an equilibrium also takes or one the equilibrium opponent has made it indifferent to
(bet K; check and fold J; check Q and call a bet at any rate), so against an exact equilibrium it gets the game
value: CFR+ does not beat it in expectation, it only stops it from winning. Against a random player it wins
1/8 chips per hand at the default ``queen_call`` (exact, from the game tree; CFR+ wins 0.145): it bets only the
King and puts chips in against a bet only with the King or, sometimes, the Queen.

It reads what the env gives its seat and nothing else: the vector observation (seat, own card, betting history
one-hot; ``KuhnGame.encode``) or the text observation (``KuhnGame.render``: ``Your card: Q`` and ``Betting so far:
...``), plus ``info["legal_action_ids"]``. The opponent's card is never in either. Random calls draw from the
``rng`` the caller passes (the leaderboard's per-game generator, the single-agent env's own), else from the
agent's own seeded generator; never the global one.

Example (the leaderboard's ``scripted`` kind)::

    [[agents]]
    name = "heuristic"
    kind = "scripted"
    factory = "turngym.agents.baselines.kuhn_heuristic:KuhnHeuristic"
    kwargs = { seed = 0, queen_call = 0.5 }
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from turngym.envs.cards.kuhn import BET, PASS, RANKS
from turngym.envs.core.agent_api import legal_ids

JACK, QUEEN, KING = 0, 1, 2
#: Vector layout of ``KuhnGame.encode``: seat one-hot (2), own card one-hot (3), then 3 betting slots of 2.
_OFF_CARD, _OFF_HISTORY, _SLOTS = 2, 5, 3
_CARD_LINE = re.compile(r"^Your card: ([JQK])\s*$", re.MULTILINE)
_BETTING_LINE = re.compile(r"^Betting so far: (.*)$", re.MULTILINE)


class KuhnView(NamedTuple):
    """What the rule needs from one observation: the own card (0 J, 1 Q, 2 K) and whether a bet is pending."""

    card: int
    facing_bet: bool


def read_view(observation: Any) -> KuhnView:
    """The seat's card and whether it faces a bet, from a Kuhn vector or text observation.

    Args:
        observation: ``{"observation": array(11), "action_mask": ...}`` or the bare array (vector mode), or the
            text ``KuhnGame.render`` writes.

    Raises:
        ValueError: On an observation that is not a Kuhn poker one (e.g. the agent is seated at another game).
    """
    if isinstance(observation, str):
        card = _CARD_LINE.search(observation)
        betting = _BETTING_LINE.search(observation)
        if card is None or betting is None:
            raise ValueError("KuhnHeuristic reads Kuhn poker observations ('Your card: ...', 'Betting so far: ...'); "
                             f"got {observation[:80]!r}")
        moves = [m.strip() for m in betting.group(1).split(",")]
        # On the seat's turn the last move, if any, is the opponent's: "opponent bet" is a bet to answer.
        return KuhnView(RANKS.index(card.group(1)), moves[-1].endswith(" bet"))
    vec = observation.get("observation") if isinstance(observation, Mapping) else observation
    arr = np.asarray(vec, dtype=np.float64).ravel()
    if arr.shape != (_OFF_HISTORY + 2 * _SLOTS,) or arr[_OFF_CARD:_OFF_HISTORY].sum() != 1.0:
        raise ValueError(f"KuhnHeuristic reads Kuhn poker vector observations (11 values, one card); got {arr}")
    card = int(np.argmax(arr[_OFF_CARD:_OFF_HISTORY]))
    slots = arr[_OFF_HISTORY:].reshape(_SLOTS, 2)
    taken = np.flatnonzero(slots.sum(axis=1))
    facing = bool(taken.size) and bool(slots[taken[-1], BET] == 1.0)
    return KuhnView(card, facing)


def bet_probability(view: KuhnView, queen_call: float) -> float:
    """Probability that the rule (module docstring) bets or calls (action ``bet``) in ``view``."""
    if view.card == KING:
        return 1.0  # bet the nuts, call with the nuts
    if view.card == JACK or not view.facing_bet:
        return 0.0  # Jack: check/fold, never bluff; Queen: check
    return queen_call  # Queen facing a bet: a bluff-catcher, called at a fixed rate


class KuhnHeuristic:
    """The module's rule as an agent: ``act(observations, infos, *, rng=None)``, text or vector observations.

    Args:
        seed: Seed of the agent's own generator, used when ``act`` gets no ``rng``.
        queen_call: Probability of calling a bet with the Queen (0: always fold it, 1: always call).
        obs_mode: The observation mode it asks for (``"vector"`` or ``"text"``; it reads both).

    Raises:
        ValueError: On ``queen_call`` outside [0, 1] or an unknown ``obs_mode``.
    """

    name = "kuhn-heuristic"

    def __init__(self, seed: int | None = None, queen_call: float = 0.5, obs_mode: str = "vector"):
        if not 0.0 <= float(queen_call) <= 1.0:
            raise ValueError(f"queen_call must be a probability in [0, 1], got {queen_call}")
        if obs_mode not in ("text", "vector"):
            raise ValueError(f"obs_mode must be 'text' or 'vector', got {obs_mode!r}")
        self.queen_call = float(queen_call)
        self.obs_mode = obs_mode
        self.rng = np.random.default_rng(seed)

    def action_probs(self, info: Mapping[str, Any], observation: Any = None) -> dict[int, float]:
        """Probability of each legal action id (``TabularPolicy.action_probs``'s signature).

        Args:
            info: The seat's info (``legal_action_ids``).
            observation: The seat's observation, text or vector.

        Returns:
            ``{action_id: probability}`` over the legal actions.
        """
        p_bet = bet_probability(read_view(observation), self.queen_call)
        legal = legal_ids(dict(info), observation)
        probs = {a: (p_bet if a == BET else 1.0 - p_bet) for a in legal if a in (PASS, BET)}
        total = sum(probs.values())
        if total <= 0.0:  # only a never-chosen action is legal (Kuhn always allows both): play what is allowed
            return {a: 1.0 / len(legal) for a in legal}
        return {a: p / total for a, p in probs.items()}

    def act(self, observations: Sequence[Any], infos: Sequence[Mapping[str, Any]], *,
            rng: np.random.Generator | None = None) -> list[Any]:
        """One legal action per observation: its id for a vector observation, its word for a text one.

        The generator is drawn from only when the rule is mixed (a Queen facing a bet, ``0 < queen_call < 1``).
        """
        gen = rng if rng is not None else self.rng
        out: list[Any] = []
        for obs, info in zip(observations, infos, strict=True):
            probs = self.action_probs(info, obs)
            if not probs:
                out.append(None if not isinstance(obs, str) else "")
                continue
            mixed = [a for a, p in probs.items() if 0.0 < p < 1.0]
            if mixed:
                action = BET if gen.random() < probs.get(BET, 0.0) else PASS
            else:
                action = max(probs, key=probs.__getitem__)
            if isinstance(obs, str):
                words = info.get("admissible_actions")
                out.append(words[legal_ids(dict(info), obs).index(action)] if words else ("pass", "bet")[action])
            else:
                out.append(action)
        return out

    def __repr__(self) -> str:
        return f"KuhnHeuristic(queen_call={self.queen_call}, obs_mode={self.obs_mode!r})"


__all__ = ["JACK", "KING", "QUEEN", "KuhnHeuristic", "KuhnView", "bet_probability", "read_view"]
