"""Sequential social dilemma gridworlds (Harvest, Cleanup); importing this package registers their ids.

``turngym/Harvest-v0`` (commons; Perolat et al. 2017) and ``turngym/Cleanup-v0`` (public good; Hughes et
al. 2018), each as a single-agent Gymnasium view and a PettingZoo Parallel env, in text and vector modes.
The numpy cores (``HarvestGame``, ``CleanupGame``) step without any front end: ``new_state(rng)``,
``apply_joint(state, actions, rng)``, ``observe(state)``. Their envs are the shared dilemma front ends
(``turngym.envs.dilemmas.frontends``): ``info["social"]`` at the episode's end.
"""

from turngym.envs.core.registry import EnvInfo, register_env
from turngym.envs.dilemmas.gridworld.cleanup import CleanupEnv, CleanupGame, CleanupParallel
from turngym.envs.dilemmas.gridworld.core import ACTION_NAMES, GridGame
from turngym.envs.dilemmas.gridworld.harvest import HarvestEnv, HarvestGame, HarvestParallel
from turngym.envs.dilemmas.gridworld.maps import CLEANUP_MAP, HARVEST_MAP
from turngym.envs.dilemmas.gridworld.state import GridState

register_env(EnvInfo("turngym/Harvest-v0", "dilemmas", HarvestEnv, parallel=HarvestParallel,
                     modes=("text", "vector"),
                     summary="Harvest commons gridworld (Perolat et al. 2017), 5 players, egocentric views"))
register_env(EnvInfo("turngym/Cleanup-v0", "dilemmas", CleanupEnv, parallel=CleanupParallel,
                     modes=("text", "vector"),
                     summary="Cleanup public-good gridworld (Hughes et al. 2018), 5 players, egocentric views"))

__all__ = ["ACTION_NAMES", "CLEANUP_MAP", "HARVEST_MAP", "CleanupEnv", "CleanupGame", "CleanupParallel", "GridGame",
           "GridState", "HarvestEnv", "HarvestGame", "HarvestParallel"]
