"""The built-in Hanabi partner: a rule-based player that never plays a card it is not sure of.

It reads HLE's canonical vector observation (it declares ``obs_mode = "vector"``, so the single-agent env hands
it one whatever the learner's mode) through ``VectorLayout``, and the legal moves from the info. Rules, in order
(the spirit of HLE's ``SimpleAgent``, with certainty instead of "both values hinted"):

1. Play the oldest own card that is *known* playable: every card its hints leave plausible fits a firework now.
2. With an info token, hint a playable card that its holder does not know is playable (next seats first, oldest
   cards first): the rank or color hint after which it is known playable, else one that tells something new.
3. Below the token maximum, discard: a card known to be dead (every plausible card is already played), else the
   oldest card without any hint, else the oldest card.
4. Otherwise any hint (the first legal one), else the first legal move.

It never loses a life token, so its games end on completed fireworks or on the empty deck. It is deterministic;
it is the ``"heuristic"`` partner of ``turngym/Hanabi-v0`` and the registry's expert for that id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from turngym.envs.core.agent_api import legal_ids
from turngym.envs.hanabi.cards import HanabiConfig, Knowledge
from turngym.envs.hanabi.views import VectorLayout, plausible_cards


def known_playable(k: Knowledge, fireworks: Sequence[int], c: HanabiConfig) -> bool:
    """True when every card ``k`` leaves plausible fits its firework now."""
    return all(fireworks[t // c.ranks] == t % c.ranks for t in plausible_cards(k, c))


def known_dead(k: Knowledge, fireworks: Sequence[int], c: HanabiConfig) -> bool:
    """True when every card ``k`` leaves plausible is below its firework's height (can never score)."""
    return all(t % c.ranks < fireworks[t // c.ranks] for t in plausible_cards(k, c))


class HeuristicPartner:
    """Rule-based Hanabi player (rules in the module docstring).

    Args:
        config: The game parameters (the layout of the vector observations it reads).
    """

    name = "heuristic"
    #: The single-agent env gives a partner observations in its ``obs_mode``: this one reads vectors.
    obs_mode = "vector"

    def __init__(self, config: HanabiConfig | None = None):
        self.config = config if config is not None else HanabiConfig()
        self.layout = VectorLayout.of(self.config)

    def act(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]]) -> list[int | None]:
        """One move id per observation (``None`` where nothing is legal)."""
        out: list[int | None] = []
        for obs, info in zip(observations, infos, strict=True):
            vec = obs.get("observation") if isinstance(obs, dict) else obs
            if not isinstance(vec, np.ndarray) or vec.shape != (self.layout.size,):
                raise TypeError(f"expected a Hanabi vector observation of {self.layout.size} floats (make the env "
                                f"with obs_mode='vector' and the same game parameters), got {type(vec).__name__}")
            legal = legal_ids(info, obs)
            out.append(self.choose(vec, legal) if legal else None)
        return out

    def choose(self, vec: np.ndarray, legal: Sequence[int]) -> int:
        """The move for one observation ``vec`` given the legal move ids (not empty)."""
        c, lay = self.config, self.layout
        h, n = c.hand_size, c.players
        allowed = set(legal)
        fireworks = lay.read_fireworks(vec)
        mine = lay.read_knowledge(vec, 0)
        # 1. A card known to be playable.
        for i, k in enumerate(mine):
            if h + i in allowed and known_playable(k, fireworks, c):
                return h + i
        # 2. Tell a partner about a playable card.
        if lay.read_info_tokens(vec) > 0:
            color_base = 2 * h
            rank_base = color_base + (n - 1) * c.colors
            for o in range(1, n):
                for card, k in zip(lay.read_hand(vec, o), lay.read_knowledge(vec, o), strict=True):
                    color, rank = divmod(card, c.ranks)
                    if fireworks[color] != rank or known_playable(k, fireworks, c):
                        continue
                    by_rank = (rank_base + (o - 1) * c.ranks + rank, k._replace(rank=rank, ranks=1 << rank))
                    by_color = (color_base + (o - 1) * c.colors + color, k._replace(color=color, colors=1 << color))
                    for hint, after in (by_rank, by_color):
                        if hint in allowed and known_playable(after, fireworks, c):
                            return hint
                    for hint, new in ((by_rank[0], k.rank < 0), (by_color[0], k.color < 0)):
                        if new and hint in allowed:
                            return hint
        # 3. Discard.
        discards = [i for i in range(len(mine)) if i in allowed]
        if discards:
            for i in discards:
                if known_dead(mine[i], fireworks, c):
                    return i
            for i in discards:
                if mine[i].color < 0 and mine[i].rank < 0:
                    return i
            return discards[0]
        # 4. Any hint, else anything legal.
        hints = [a for a in legal if a >= 2 * h]
        return hints[0] if hints else legal[0]


def hanabi_expert(env_id: str, *, seed: int = 0, env_kwargs: dict[str, Any] | None = None) -> Any:
    """The registry expert of ``turngym/Hanabi-v0``: ``HeuristicPartner`` in the learner's seat.

    Args:
        env_id: The id.
        seed: Unused (the heuristic is deterministic).
        env_kwargs: Unused: the game parameters are read from the live env.

    Returns:
        ``act(env, observation, info) -> str``, the expert's move in a live single-agent env, as its word.
    """
    del env_id, seed, env_kwargs
    partners: dict[HanabiConfig, HeuristicPartner] = {}

    def act(env: Any, observation: Any, info: dict[str, Any]) -> str:
        base = env.unwrapped  # the expert reads the vector view, whatever the learner's mode
        config = base.game.config
        partner = partners.setdefault(config, HeuristicPartner(config))
        action = partner.act([base.session.observation(base.seat, "vector")], [info])[0]
        return info["admissible_actions"][list(info["legal_action_ids"]).index(action)]

    return act
