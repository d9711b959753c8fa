"""Builds the SWE sandbox images offline: no registry but the package index (PyPI) is reached.

Usage (through ``docker/build.sh``, which runs this file)::

    docker/build.sh base [--name turngym-swe-base]
    docker/build.sh repo DIR [DIR ...] [--base turngym-swe-base] [--prefix turngym-swe-] [--requirements FILE]
    docker/build.sh adopt IMAGE [--workdir /testbed] [--name NAME]

``base``: Debian bookworm from the Debian archive with ``debootstrap`` (``minbase`` plus python3, venv, git),
``docker import``-ed (Docker Hub is never pulled from), then ``Dockerfile.base`` on top. Skipped when an image
of that name carries the same recipe hash (label ``turngym.recipe``: the hash of the recipe files and options).

``repo``: one image per prepared repository directory (SWE-smith's layout: one image per repository, a task is a
patch on top). A directory is a git work tree whose HEAD is the start state, with ``requirements.txt`` (or
``--requirements``) listing its test dependencies. The host's pip builds a wheelhouse from the package index
(the requirements plus the repository's build backend, read from ``pyproject.toml``), and ``docker build
--network none`` installs only from it, so the image build itself reaches nothing. Skipped when the image
exists with the same recipe hash (base image id, HEAD commit, requirements, Dockerfile).

``adopt``: a thin layer over an existing SWE-bench-style image that copies its repository's ``.git`` to
``/opt/turngym/pristine.git`` (the docker backend checks the work tree out of it and resets from it).

Prints one JSON line per image: ``{"image", "built", "recipe"}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import tomllib

HERE = Path(__file__).resolve().parent
SUITE = "bookworm"
PACKAGES = ("python3", "python3-venv", "git", "ca-certificates")
MIRROR = "http://deb.debian.org/debian"
# Trimmed from the debootstrap tree before import: caches and documentation nobody in a sandbox reads.
TRIM = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info")


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """Runs ``cmd``, echoing it to stderr; raises ``SystemExit`` with its output when it fails."""
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    res = subprocess.run(cmd, **kw)
    if res.returncode != 0:
        raise SystemExit(f"failed ({res.returncode}): {' '.join(cmd)}")
    return res


def image_label(image: str, label: str) -> str | None:
    """The value of ``label`` on a local image; None when the image does not exist."""
    res = subprocess.run(["docker", "image", "inspect", "-f", f'{{{{ index .Config.Labels "{label}" }}}}', image],
                         capture_output=True, text=True)
    return res.stdout.strip() if res.returncode == 0 else None


def image_id(image: str) -> str:
    """The id of a local image (``SystemExit`` when it is missing)."""
    res = subprocess.run(["docker", "image", "inspect", "-f", "{{ .Id }}", image], capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"image {image!r} is missing: build it first (docker/build.sh base)")
    return res.stdout.strip()


def digest(*parts: str | bytes) -> str:
    """A short sha256 over ``parts`` (the recipe hash)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def build_base(name: str, mirror: str, force: bool) -> dict:
    """The base image (see the module docstring)."""
    dockerfile = (HERE / "Dockerfile.base").read_bytes()
    recipe = digest(SUITE, ",".join(PACKAGES), ",".join(TRIM), dockerfile)
    if not force and image_label(name, "turngym.recipe") == recipe:
        return {"image": name, "built": False, "recipe": recipe}
    if shutil.which("debootstrap") is None:
        raise SystemExit("debootstrap is missing: apt-get install debootstrap")
    with tempfile.TemporaryDirectory(prefix="turngym-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(root), mirror],
            stdout=subprocess.DEVNULL)
        for rel in TRIM:
            target = root / rel
            if target.is_dir():
                for child in target.iterdir():
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
        rootfs_tag = f"{name}:rootfs"
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        run(["docker", "import", "-", rootfs_tag], stdin=tar.stdout, stdout=subprocess.DEVNULL)
        tar.stdout.close()
        if tar.wait() != 0:
            raise SystemExit("tar of the debootstrap tree failed")
    replace_image(name, ["docker", "build", "-q", "--network", "none", "--build-arg", f"BASE_IMAGE={rootfs_tag}",
                         "--build-arg", f"RECIPE={recipe}", "-f", str(HERE / "Dockerfile.base"), "-t", name, str(HERE)])
    return {"image": name, "built": True, "recipe": recipe}


def replace_image(name: str, cmd: list[str]) -> None:
    """Runs the build ``cmd`` that tags ``name``; removes the image it replaced (else it lingers, dangling)."""
    old = subprocess.run(["docker", "image", "inspect", "-f", "{{ .Id }}", name], capture_output=True, text=True)
    run(cmd, stdout=subprocess.DEVNULL)
    if old.returncode == 0 and old.stdout.strip() != image_id(name):
        subprocess.run(["docker", "image", "rm", old.stdout.strip()], capture_output=True)  # in use: kept


def build_requires(repo: Path) -> list[str]:
    """The repository's build backend requirements (PEP 518), so the editable install works offline."""
    pyproject = repo / "pyproject.toml"
    if pyproject.is_file():
        data = tomllib.loads(pyproject.read_text())
        reqs = data.get("build-system", {}).get("requires")
        if reqs:
            return list(reqs)
    return ["setuptools", "wheel"] if (repo / "setup.py").is_file() or (repo / "setup.cfg").is_file() else []


def build_repo(repo: Path, base: str, name: str, requirements: Path | None, workdir: str, force: bool) -> dict:
    """One repository image (see the module docstring)."""
    repo = repo.resolve()
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        raise SystemExit(f"{repo} is not a git work tree with a commit: {head.stderr.strip()}")
    req_file = requirements or repo / "requirements.txt"
    reqs = req_file.read_text() if req_file.is_file() else ""
    backend = build_requires(repo)
    installable = bool(backend)
    dockerfile = (HERE / "Dockerfile.repo").read_bytes()
    recipe = digest(image_id(base), head.stdout.strip(), reqs, ",".join(backend), workdir, dockerfile)
    if not force and image_label(name, "turngym.recipe") == recipe:
        return {"image": name, "built": False, "recipe": recipe}
    with tempfile.TemporaryDirectory(prefix="turngym-repo-") as tmp:
        ctx = Path(tmp)
        wheels = ctx / "wheels"
        wheels.mkdir()
        # The committed start state only (HEAD), with its history; no hard links back to the host's tree.
        run(["git", "clone", "-q", "--no-hardlinks", str(repo), str(ctx / "repo")])
        (wheels / "requirements.txt").write_text(reqs)
        pip_args = [*backend, *(["-r", str(wheels / "requirements.txt")] if reqs.strip() else [])]
        if pip_args:
            # The host's pip, with its index configuration: the one place the build reaches the network.
            run([sys.executable, "-m", "pip", "wheel", "-q", "-w", str(wheels), *pip_args])
        replace_image(name, ["docker", "build", "-q", "--network", "none", "--build-arg", f"BASE_IMAGE={base}",
                             "--build-arg", f"WORKDIR={workdir}", "--build-arg", f"INSTALL_REPO={int(installable)}",
                             "--build-arg", f"RECIPE={recipe}", "-f", str(HERE / "Dockerfile.repo"), "-t", name,
                             str(ctx)])
    return {"image": name, "built": True, "recipe": recipe}


def adopt(image: str, name: str, workdir: str) -> dict:
    """A thin layer over ``image`` with its repository's ``.git`` at ``/opt/turngym/pristine.git``."""
    run(["docker", "build", "-q", "--network", "none", "--build-arg", f"BASE_IMAGE={image}", "--build-arg",
         f"WORKDIR={workdir}", "-f", str(HERE / "Dockerfile.adopt"), "-t", name, str(HERE)], stdout=subprocess.DEVNULL)
    return {"image": name, "built": True, "recipe": ""}


def repo_image_name(prefix: str, repo: Path) -> str:
    """``<prefix><directory name>`` lower-cased to a valid image name."""
    stem = "".join(c if c.isalnum() or c in "._-" else "-" for c in repo.resolve().name.lower()).strip("._-")
    return prefix + (stem or "repo")


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="docker/build.sh", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p_base = sub.add_parser("base", help="the Debian base image (debootstrap + docker import)")
    p_base.add_argument("--name", default="turngym-swe-base")
    p_base.add_argument("--mirror", default=os.environ.get("DEBIAN_MIRROR", MIRROR))
    p_base.add_argument("--force", action="store_true", help="rebuild even when the recipe hash matches")
    p_repo = sub.add_parser("repo", help="one image per prepared repository directory")
    p_repo.add_argument("dirs", nargs="+", type=Path)
    p_repo.add_argument("--base", default="turngym-swe-base")
    p_repo.add_argument("--prefix", default="turngym-swe-", help="image name = prefix + directory name")
    p_repo.add_argument("--name", default=None, help="image name (one directory only)")
    p_repo.add_argument("--requirements", type=Path, default=None, help="default: DIR/requirements.txt")
    p_repo.add_argument("--workdir", default="/testbed")
    p_repo.add_argument("--force", action="store_true")
    p_adopt = sub.add_parser("adopt", help="make an existing SWE-bench-style image usable by the docker backend")
    p_adopt.add_argument("image")
    p_adopt.add_argument("--name", default=None, help="default: IMAGE-turngym")
    p_adopt.add_argument("--workdir", default="/testbed")
    args = parser.parse_args(argv)
    if args.what == "base":
        results = [build_base(args.name, args.mirror, args.force)]
    elif args.what == "repo":
        if args.name and len(args.dirs) != 1:
            parser.error("--name takes one directory")
        results = [build_repo(d, args.base, args.name or repo_image_name(args.prefix, d), args.requirements,
                              args.workdir, args.force) for d in args.dirs]
    else:
        results = [adopt(args.image, args.name or f"{args.image.split(':')[0]}-turngym", args.workdir)]
    for result in results:
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
