"""Card games: Kuhn poker, Leduc hold'em."""

from turngym.envs.cards.kuhn import KuhnGame, KuhnPokerAEC, KuhnPokerEnv
from turngym.envs.cards.leduc import LeducGame, LeducHoldemAEC, LeducHoldemEnv
from turngym.envs.core.registry import EnvInfo, register_env

register_env(EnvInfo("turngym/KuhnPoker-v0", "cards", KuhnPokerEnv, aec=KuhnPokerAEC,
                     modes=("text", "vector"), summary="Kuhn poker, 2 players (OpenSpiel rules)"))
register_env(EnvInfo("turngym/LeducHoldem-v0", "cards", LeducHoldemEnv, aec=LeducHoldemAEC,
                     modes=("text", "vector"), summary="Leduc hold'em, 2 players (OpenSpiel rules)"))

__all__ = ["KuhnGame", "KuhnPokerAEC", "KuhnPokerEnv", "LeducGame", "LeducHoldemAEC", "LeducHoldemEnv"]
