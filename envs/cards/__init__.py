"""Card games: Dhumbal (Jhyap), Kuhn poker, Leduc hold'em."""

from turngym.envs.cards.dhumbal import DhumbalAEC, DhumbalEnv, DhumbalGame
from turngym.envs.cards.kuhn import KuhnGame, KuhnPokerAEC, KuhnPokerEnv
from turngym.envs.cards.leduc import LeducGame, LeducHoldemAEC, LeducHoldemEnv
from turngym.envs.core.registry import EnvInfo, register_env

#: The SFT expert of the two-player zero-sum games: a CFR+ strategy. The string names agent code (the solver is
#: a baseline agent), imported only when a trainer asks for the expert, never by ``import turngym.envs``.
CFR_EXPERT = "turngym.agents.baselines.experts:cfr_expert"

#: Training a single policy on a two-player poker game: text, against a uniformly random opponent, in a random seat.
_POKER_TRAINING = {"obs_mode": "text", "opponents": ["random"], "seat": "random"}
register_env(EnvInfo("turngym/KuhnPoker-v0", "cards", KuhnPokerEnv, aec=KuhnPokerAEC,
                     modes=("text", "vector"), summary="Kuhn poker, 2 players (OpenSpiel rules)", expert=CFR_EXPERT,
                     train_kwargs=_POKER_TRAINING))
register_env(EnvInfo("turngym/LeducHoldem-v0", "cards", LeducHoldemEnv, aec=LeducHoldemAEC,
                     modes=("text", "vector"), summary="Leduc hold'em, 2 players (OpenSpiel rules)",
                     expert=CFR_EXPERT, train_kwargs=_POKER_TRAINING))
register_env(EnvInfo("turngym/Dhumbal-v0", "cards", DhumbalEnv, aec=DhumbalAEC, modes=("text", "vector"),
                     summary="Dhumbal (Jhyap), 2-5 players, draw-and-discard to the lowest hand"))

__all__ = ["DhumbalAEC", "DhumbalEnv", "DhumbalGame", "KuhnGame", "KuhnPokerAEC", "KuhnPokerEnv", "LeducGame",
           "LeducHoldemAEC", "LeducHoldemEnv"]
