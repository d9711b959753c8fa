"""Package discovery for the build (metadata, dependencies and extras are in setup.cfg).

The folders at the top of the repository install as one namespace (DESIGN §2): ``envs`` -> ``turngym.envs``,
``agents`` -> ``turngym.agents``, ``benchmarks`` -> ``turngym.benchmarks``, and ``turngym/`` (the version) ->
``turngym``. setup.cfg cannot say "every subpackage of this folder, renamed", and a hand-written list
drifts: it once left out ``turngym.envs.dilemmas.gridworld`` and ``turngym.agents.baselines.dilemmas``, so the wheel
did not import (issue 12). Here ``find_packages`` walks each folder, and every non-Python file inside a
package folder ships as its package data (tokenizer JSON, agent weights), so neither can be forgotten.
``tests/test_packaging.py`` checks the built wheel against the source tree.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent

#: Installed package -> folder of the repository that holds it.
FOLDERS = {
    "turngym": "turngym",
    "turngym.envs": "envs",
    "turngym.agents": "agents",
    "turngym.benchmarks": "benchmarks",
}

#: Never package data: bytecode caches and editor/OS debris.
SKIP_DIRS = {"__pycache__"}
SKIP_SUFFIXES = {".py", ".pyc", ".pyo", ".pyd", ".so"}
SKIP_NAMES = {".DS_Store"}


def discover_packages() -> dict[str, Path]:
    """Every installed package name mapped to its folder (each folder with an ``__init__.py``)."""
    packages: dict[str, Path] = {}
    for name, folder in FOLDERS.items():
        root = ROOT / folder
        packages[name] = root
        for sub in find_packages(where=str(root)):
            packages[f"{name}.{sub}"] = root.joinpath(*sub.split("."))
    return packages


def discover_package_data(packages: dict[str, Path]) -> dict[str, list[str]]:
    """Non-Python files of each package, as paths relative to it (files of subpackages belong to those)."""
    folders = set(packages.values())
    data: dict[str, list[str]] = {}
    for name, folder in packages.items():
        files = []
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            inside_subpackage = any(parent in folders for parent in list(path.parents)[: len(rel.parts) - 1])
            if (path.is_file() and not inside_subpackage and path.suffix not in SKIP_SUFFIXES
                    and path.name not in SKIP_NAMES and not SKIP_DIRS.intersection(rel.parts)):
                files.append(rel.as_posix())
        if files:
            data[name] = files
    return data


PACKAGES = discover_packages()

setup(
    packages=sorted(PACKAGES),
    package_dir={name: folder for name, folder in FOLDERS.items()},
    package_data=discover_package_data(PACKAGES),
)
