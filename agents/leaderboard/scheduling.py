"""The leaderboard's schedule: which agents meet in which seats, on which seeds (issue 16).

* A multi-agent turn-based env (one with a PettingZoo AEC form) with ``N`` seats is played by every
  combination of ``N`` of its agents in each of the ``N`` cyclic rotations of their seats, on every seed. For
  two seats that is the seat-swapped pair: ``(A, B)`` and ``(B, A)`` on the same seed, so both face the
  same deal (chance draws from the env's RNG, seeded by the seed; agents draw from their own generators,
  never the env's), and the first-mover advantage cancels (duplicate play).
* A single-agent env (tool use, web, SWE, puzzles) is played by every agent on every seed; it is scored by
  success rate and mean return, not rated.

Every game is a ``Match``, keyed by ``(env label, seed, seats)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from turngym.agents.leaderboard.suite import EnvSpec, Suite, canonical_json
from turngym.envs.core.errors import ConfigError


@dataclass(frozen=True)
class Match:
    """One game to play: the env's label, the seed, and the agent in each seat (one seat: a single-agent task)."""

    env: str
    seed: int
    seats: tuple[str, ...]

    @property
    def key(self) -> str:
        """The game's identity in the log: canonical JSON of ``[env, seed, seats]``."""
        return canonical_json([self.env, self.seed, list(self.seats)])


def env_players(spec: EnvSpec) -> int | None:
    """Seats of the env's AEC form, or None for an env without one (a single-agent task).

    Raises:
        ConfigError: For a simultaneous-move env (only a Parallel form): the runner does not play those yet.
    """
    import turngym.envs

    info = turngym.envs.env_info(spec.id)
    if info.aec is None:
        if info.parallel is not None:
            raise ConfigError(f"env {spec.label!r}", "a turn-based game (AEC form) or a single-agent task",
                              spec.id, hint="Simultaneous-move envs (Parallel form) are not played by the "
                                            "leaderboard yet.")
        return None
    kwargs = {k: v for k, v in spec.kwargs.items() if k != "obs_mode"}
    env = turngym.envs.make_aec(spec.id, **kwargs)
    try:
        return len(env.possible_agents)
    finally:
        env.close()


def seatings(agents: Sequence[str], players: int) -> list[tuple[str, ...]]:
    """Every combination of ``players`` distinct agents, each in all its cyclic seat rotations (module docstring).

    Raises:
        ConfigError: With fewer agents than seats.
    """
    if len(agents) < players:
        raise ConfigError("agents", f"at least {players} agents for a {players}-seat game", list(agents))
    out = []
    for combo in itertools.combinations(agents, players):
        out += [combo[r:] + combo[:r] for r in range(players)]
    return out


def schedule(suite: Suite, players: dict[str, int | None] | None = None) -> list[Match]:
    """Every game of the suite, env by env, seed by seed (module docstring).

    Args:
        suite: The suite.
        players: Seats per env label (``env_players``); computed when None.
    """
    players = players if players is not None else {e.label: env_players(e) for e in suite.envs}
    out: list[Match] = []
    for env in suite.envs:
        n = players[env.label]
        seats = [(a,) for a in env.agents] if n is None else seatings(env.agents, n)
        out += [Match(env.label, seed, s) for seed in env.seeds for s in seats]
    return out


__all__ = ["Match", "env_players", "schedule", "seatings"]
