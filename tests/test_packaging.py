"""The wheel holds every package and data file, and imports without the checkout (issue 12, item 5).

The wheel is built from the files git would commit (a copy of the tree, as a clean clone has it). On main
the hand-written package list left out ``turngym.envs.dilemmas.gridworld`` and ``turngym.agents.baselines.dilemmas``:
the wheel lacked them and ``import turngym.envs`` failed from it; there was no ``turngym.__version__``.

Run as a script, this file is the import walk ``.ci/run`` uses on a wheel installed into a clean virtualenv:
``python -P tests/test_packaging.py --prefix <site-packages> --extras dev,sb3,...``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Installed package -> repository folder (DESIGN §2; setup.py maps the same).
FOLDERS = {"turngym": "turngym", "turngym/envs": "envs", "turngym/agents": "agents",
           "turngym/benchmarks": "benchmarks"}
CACHE_PARTS = {"__pycache__"}
CACHE_SUFFIXES = {".pyc", ".pyo"}


# ------------------------------------------------------------------ the import walk (also run by .ci/run)
def walk_installed(prefix: str, extras: set[str]) -> tuple[list[str], list[str], list[str]]:
    """Imports every module of the installed ``turngym`` package.

    Args:
        prefix: The folder the package must be imported from (the wheel's install location).
        extras: The turngym extras installed there. A module that raises ``MissingExtraError`` for an extra
            outside this set is listed as skipped (and printed); any other failure is an error.

    Returns:
        (imported module names, skipped modules with the reason, errors).
    """
    import turngym

    errors: dict[str, str] = {}  # walk_packages may report a failing package twice
    skipped: dict[str, str] = {}
    imported: list[str] = []
    prefix = os.path.realpath(prefix)
    if not os.path.realpath(turngym.__file__).startswith(prefix + os.sep):
        return [], [], [f"turngym: imported from {turngym.__file__}, not from {prefix}"]

    def record(name: str, exc: BaseException) -> None:
        extra = getattr(exc, "extra", None)
        if extra is not None and extra not in extras:
            skipped[name] = f"{name}: needs turngym[{extra}], not installed here"
        else:
            errors[name] = f"{name}: {type(exc).__name__}: {exc}"

    def onerror(name: str) -> None:
        record(name, sys.exc_info()[1] or RuntimeError("unknown error"))

    for info in pkgutil.walk_packages(turngym.__path__, "turngym.", onerror=onerror):
        try:
            module = importlib.import_module(info.name)
        except Exception as e:  # noqa: BLE001 - every failure is reported, none is skipped silently
            record(info.name, e)
            continue
        origin = os.path.realpath(getattr(module, "__file__", "") or "")
        if not origin.startswith(prefix + os.sep):
            errors[info.name] = f"{info.name}: imported from {origin}, not from the installed wheel"
        imported.append(info.name)
    return imported, list(skipped.values()), list(errors.values())


def main() -> int:
    """CLI of the import walk; exit status 1 on any error."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prefix", required=True, help="site-packages folder the wheel is installed in")
    parser.add_argument("--extras", default="", help="comma-separated turngym extras installed there")
    args = parser.parse_args()
    imported, skipped, errors = walk_installed(args.prefix, {e for e in args.extras.split(",") if e})
    print(f"imported {len(imported)} modules of turngym from {args.prefix}")
    for line in skipped:
        print(f"SKIPPED {line}")
    for line in errors:
        print(f"ERROR {line}", file=sys.stderr)
    return 1 if errors or not imported else 0


if __name__ == "__main__":
    sys.exit(main())


# ------------------------------------------------------------------ tests
def _source_files() -> list[str]:
    """Files a clean clone has (tracked, plus new files git does not ignore), that exist now."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to know which files a clean clone has")
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, check=True).stdout.decode()
    return sorted(f for f in out.split("\0") if f and (ROOT / f).is_file())


def _expected_wheel_files(files: list[str]) -> set[str]:
    """Where each source file of a package folder lands in the wheel."""
    expected = set()
    for f in files:
        path = Path(f)
        if CACHE_PARTS.intersection(path.parts) or path.suffix in CACHE_SUFFIXES:
            continue
        for installed, folder in FOLDERS.items():
            if path.parts[0] == folder:
                expected.add("/".join((installed, *path.parts[1:])))
    return expected


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory) -> Path:
    """A wheel built (no dependencies) from a copy of the files a clean clone has."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    for f in _source_files():
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, src / f)
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "dist"), str(src)]
    try:
        import setuptools

        if int(setuptools.__version__.split(".")[0]) >= 68:  # pyproject's build requirement: build offline
            cmd.insert(4, "--no-build-isolation")
    except ImportError:
        pass
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    (wheel,) = (work / "dist").glob("turngym-*.whl")
    return wheel


def test_wheel_holds_exactly_the_package_folders(built_wheel):
    names = set(zipfile.ZipFile(built_wheel).namelist())
    dist_info = {n for n in names if n.split("/")[0].endswith(".dist-info")}
    expected = _expected_wheel_files(_source_files())
    assert "turngym/envs/dilemmas/gridworld/__init__.py" in expected  # main: left out of the wheel
    assert sorted(expected - names) == []  # every module and data file (tokenizer JSON, agent weights) ships
    assert sorted(names - dist_info - expected) == []  # and nothing else: no tests/, no top-level envs/
    assert {n.split("/")[0] for n in names - dist_info} == {"turngym"}


def test_wheel_version_is_turngym_version(built_wheel):
    import turngym

    metadata = zipfile.ZipFile(built_wheel).read(
        next(n for n in zipfile.ZipFile(built_wheel).namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert f"\nVersion: {turngym.__version__}\n" in metadata  # main: turngym had no __version__


@pytest.mark.slow
def test_every_module_imports_from_the_wheel(built_wheel, tmp_path):
    """Installs the wheel alone into a folder and imports every module from there (dependencies: this env)."""
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                    str(built_wheel)], check=True, capture_output=True, timeout=600)
    env = {**os.environ, "PYTHONPATH": str(site)}
    # -P: not the checkout (nor the cwd) on sys.path; the installed copy comes first on PYTHONPATH.
    walk = subprocess.run([sys.executable, "-P", __file__, "--prefix", str(site), "--extras",
                           "dev,sb3,llm,dist,peers"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
    assert walk.returncode == 0, walk.stderr[-3000:]
    assert "imported" in walk.stdout and "SKIPPED" not in walk.stdout
    script = site / "bin" / "turngym"
    import turngym

    for args, expect in ((["list"], "turngym/Harvest-v0"), (["--version"], turngym.__version__)):
        out = subprocess.run([sys.executable, "-P", str(script), *args], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0 and expect in out.stdout, out.stderr[-2000:]
