"""Joint steps per second of the gridworld dilemmas: the numpy core and the PettingZoo Parallel env.

Run ``python -m turngym.envs.dilemmas.gridworld.speed [--env Harvest|Cleanup] [--steps 5000]``. Four rows:

* ``core``: ``Game.apply_joint`` only (dynamics, no observations);
* ``core+obs``: plus ``Game.observe`` (every player's vector observation as one array);
* ``parallel/vector``: ``ParallelEnv.step`` in vector mode (observations, infos, state keys, rewards);
* ``parallel/text``: the same in text mode (every player's window rendered as text).

Actions are uniform over every action id, from a seeded RNG; episodes restart at their horizon. Both
wall-clock and process-CPU rates are printed (CPU time is steadier on a shared machine).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from turngym.envs.core.registry import make_parallel
from turngym.envs.dilemmas.gridworld.cleanup import CleanupGame
from turngym.envs.dilemmas.gridworld.core import GridGame
from turngym.envs.dilemmas.gridworld.harvest import HarvestGame

GAMES: dict[str, Callable[..., GridGame]] = {"Harvest": HarvestGame, "Cleanup": CleanupGame}


def _timed(fn: Callable[[], None], steps: int) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"steps": steps, "steps_per_s": steps / wall, "cpu_steps_per_s": steps / max(cpu, 1e-9)}


def measure(env: str = "Harvest", steps: int = 5000, seed: int = 0, num_players: int = 5) -> dict[str, dict[str, Any]]:
    """Measures joint steps per second of ``env`` (``"Harvest"`` or ``"Cleanup"``), default settings.

    Args:
        env: Which game.
        steps: Joint steps per measurement.
        seed: Seed of the env and of the random actions.
        num_players: Players.

    Returns:
        ``{row: {"steps", "steps_per_s", "cpu_steps_per_s"}}`` for the rows of the module docstring.
    """
    game = GAMES[env](num_players=num_players)
    rng = np.random.default_rng(seed)
    actions = rng.integers(game.num_actions, size=(steps, num_players)).tolist()
    results: dict[str, dict[str, Any]] = {}

    def core(observe: bool) -> Callable[[], None]:
        def run() -> None:
            env_rng = np.random.default_rng(seed)
            s = game.new_state(env_rng)
            for joint in actions:
                if game.is_terminal(s):
                    s = game.new_state(env_rng)
                game.apply_joint(s, joint, env_rng)
                if observe:
                    game.observe(s)
        return run

    results["core"] = _timed(core(False), steps)
    results["core+obs"] = _timed(core(True), steps)
    for mode in ("vector", "text"):
        penv = make_parallel(f"turngym/{env}-v0", obs_mode=mode, num_players=num_players)
        agents = list(penv.possible_agents)

        def run(penv: Any = penv, agents: list[str] = agents) -> None:
            penv.reset(seed=seed)
            for joint in actions:
                if not penv.agents:
                    penv.reset()
                penv.step(dict(zip(agents, joint, strict=True)))

        results[f"parallel/{mode}"] = _timed(run, steps)
    return results


def main(argv: list[str] | None = None) -> None:
    """Prints the table of ``measure``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", choices=sorted(GAMES), default="Harvest")
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--players", type=int, default=5)
    args = parser.parse_args(argv)
    results = measure(args.env, args.steps, num_players=args.players)
    print(f"{args.env}, {args.players} players, {args.steps} joint steps per row")
    print(f"{'row':<18}{'steps/s (wall)':>16}{'steps/s (cpu)':>16}")
    for row, r in results.items():
        print(f"{row:<18}{r['steps_per_s']:>16,.0f}{r['cpu_steps_per_s']:>16,.0f}")


if __name__ == "__main__":
    main()
