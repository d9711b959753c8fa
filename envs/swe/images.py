"""Sandbox images of the shipped task set: prepared directories (local backend) and docker images (docker backend).

Local backend: one prepared directory per pinned repository, ``<cache>/images/<repo>-<version>/`` holding
``repo/`` (the git work tree at ``base_commit``, ``synth.repos.prepare``) and ``site/`` (the pinned pytest and the
test dependencies). It is made on first use (one line on stderr says so; the sdist is downloaded from PyPI once,
sha256-checked and cached) into a temporary sibling and renamed into place, under an exclusive ``flock`` on
``<cache>/images/.<repo>-<version>.lock``, so threads and processes that ask at once prepare it once.
``<cache>`` is ``~/.cache/turngym/swe`` or ``$TURNGYM_SWE_CACHE``'s parent (synth's sdist cache is
``$TURNGYM_SWE_CACHE``; the images go next to it).

Docker backend: the image named by a task's ``image`` field (``turngym-swe/<repo>:<version>``) must exist; when
it does not, ``require_docker_image`` refuses with the exact ``docker/build.sh`` command that builds it, and
``build_images`` runs those commands.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from turngym.envs.core.errors import ConfigError
from turngym.envs.swe.tasks.synth import repos as synth_repos

#: The docker build script of this checkout (``docker/build.sh``), used by ``build_images``.
BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "docker" / "build.sh"


def cache_root() -> Path:
    """Where prepared images live: ``~/.cache/turngym/swe/images`` (or next to ``$TURNGYM_SWE_CACHE``)."""
    sdists = os.environ.get("TURNGYM_SWE_CACHE")
    base = Path(sdists).parent if sdists else Path.home() / ".cache" / "turngym" / "swe"
    return base / "images"


def local_image(repo: str, root: Path | None = None) -> Path:
    """The prepared directory of a pinned repository, made on first use (see the module docstring).

    Args:
        repo: The short name (``toolz``).
        root: Where images live (default ``cache_root()``).

    Returns:
        ``<root>/<repo>-<version>`` with ``repo/`` and ``site/`` inside.

    Raises:
        ConfigError: Unknown repository.
        SdistHashError: The downloaded sdist is not the pinned one.
    """
    spec = synth_repos.get_spec(repo)
    root = Path(root or cache_root())
    dest = root / f"{spec.name}-{spec.version}"
    if (dest / "repo" / ".git").is_dir() and synth_repos.has_task_pytest(dest):
        _protect(dest)
        return dest
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{spec.name}-{spec.version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another thread or process may be preparing it right now
        if (dest / "repo" / ".git").is_dir():
            if not synth_repos.has_task_pytest(dest):  # prepared before the pytest pin: add it
                print(f"turngym swe: adding pytest {synth_repos.TASK_PYTEST} to {dest}/site (once)", file=sys.stderr)
                synth_repos.install_site(spec, dest)
            _protect(dest)
            return dest
        print(f"turngym swe: preparing {spec.dist} {spec.version} into {dest} (once)", file=sys.stderr)
        tmp = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", dir=root))
        try:
            synth_repos.prepare(spec, tmp)
            _protect(tmp)
            os.replace(tmp, dest)  # atomic: a reader sees no image or a whole one
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _protect(image: Path) -> None:
    """Hides the image's object store (it holds the clean source: every task's fix) from the agent's commands.

    ``local.protect_objects``: readable by root and the group ``reset`` runs with only. Needs root, as the local
    backend does; without it the store stays as it is (the backend refuses to run anyway).
    """
    if os.geteuid() == 0:
        from turngym.envs.swe.sandbox.local import protect_objects

        protect_objects(image)


def build_command(repo: str, root: Path | None = None) -> str:
    """The shell commands that build the docker image of a pinned repository (prepare, then ``build.sh repo``)."""
    spec = synth_repos.get_spec(repo)
    dest = Path(root or cache_root()) / f"{spec.name}-{spec.version}"
    req = dest / "requirements.txt"
    prep = (f"{shlex.quote(sys.executable)} -c 'from turngym.envs.swe.images import local_image; "
            f"local_image(\"{spec.name}\")'")
    reqs = " ".join([f"pytest=={synth_repos.TASK_PYTEST}", *spec.test_requires])
    return (f"{prep} && printf '%s\\n' {reqs} > {shlex.quote(str(req))} && "
            f"{shlex.quote(str(BUILD_SCRIPT))} repo {shlex.quote(str(dest / 'repo'))} --name {spec.image} "
            f"--requirements {shlex.quote(str(req))}")


def docker_image_exists(image: str) -> bool:
    """Whether the daemon has ``image`` (``SandboxError`` when no daemon answers)."""
    import docker.errors  # the swe extra; imported only when the docker backend is used

    from turngym.envs.swe.sandbox.docker_backend import docker_client

    client = docker_client()
    try:
        client.images.get(image)
        return True
    except docker.errors.ImageNotFound:
        return False
    finally:
        client.close()


def require_docker_image(image: str) -> None:
    """Refuses (``ConfigError``) when ``image`` is missing, with the command that builds it."""
    if docker_image_exists(image):
        return
    shipped = {s.image: s.name for s in synth_repos.REPOS.values()}
    how = (build_command(shipped[image]) if image in shipped
           else f"{BUILD_SCRIPT} repo <your prepared repository> --name {image} (or `build.sh adopt {image}`)")
    raise ConfigError("docker image", f"an existing image; build it with: {how}", image)


def build_images(repos: Sequence[str] | None = None) -> list[str]:
    """Prepares and builds the docker images of the shipped repositories (all by default); returns their names.

    Each build is ``docker/build.sh repo`` (offline: pip reaches only the package index), skipped by the script
    when an image with the same recipe exists.
    """
    names = []
    for repo in repos or sorted(synth_repos.REPOS):
        subprocess.run(["bash", "-c", build_command(repo)], check=True)
        names.append(synth_repos.get_spec(repo).image)
    return names


__all__ = ["build_command", "build_images", "cache_root", "docker_image_exists", "local_image",
           "require_docker_image"]
