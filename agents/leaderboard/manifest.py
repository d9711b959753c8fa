"""``manifest.json``: what a reader needs to reproduce a leaderboard run.

The suite and its hashes, every env's id, version, seeds, seat count and rules (``hands``,
``max_invalid_streak``), the games scheduled, and the versions of the packages and Python that played them.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from typing import Any

from turngym.agents.leaderboard.scheduling import Match
from turngym.agents.leaderboard.suite import Suite

MANIFEST_NAME = "manifest.json"
#: Distributions whose versions the manifest records (those installed).
PACKAGES = ("turngym", "numpy", "scipy", "gymnasium", "pettingzoo", "choix", "openskill", "torch", "transformers",
            "stable-baselines3", "sb3-contrib", "httpx", "matplotlib", "ray")


def package_versions() -> dict[str, str]:
    """Installed versions of ``PACKAGES`` (those not installed are left out)."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = dist_version(name)
        except PackageNotFoundError:
            continue
    return out


def build_manifest(suite: Suite, players: dict[str, int | None], matches: Sequence[Match]) -> dict[str, Any]:
    """What a reader needs to reproduce the run: the suite and its hashes, env versions, seeds, packages."""
    return {
        "suite": suite.to_dict(),
        "suite_hash": suite.hash,
        "agents": [{"name": a.name, "kind": a.kind, "params": a.params, "hash": a.hash} for a in suite.agents],
        "envs": [{"label": e.label, "id": e.id, "version": e.version, "kwargs": e.kwargs, "seeds": list(e.seeds),
                  "agents": list(e.agents), "players": players[e.label], "hands": e.hands,
                  "max_invalid_streak": e.max_invalid_streak, "hash": e.hash} for e in suite.envs],
        "games_scheduled": len(matches),
        "packages": package_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


__all__ = ["MANIFEST_NAME", "PACKAGES", "build_manifest", "package_versions"]
