"""The source repositories bugs are synthesized in: pure-Python libraries from their PyPI sdists, pinned by sha256.

Each repository is one published source distribution (the sdist ships the library's own test suite), unpacked
into a git work tree with one commit whose author, committer, dates and message are fixed, so ``base_commit``
is the same hash on every machine (git hashes the tree and the commit metadata, nothing else). Test
dependencies beyond pytest go to a separate folder (``site/``) that is put on ``PYTHONPATH``; the five chosen
here need none.

Layout written by ``prepare(spec, dest)`` (what the local sandbox backend copies, and what the docker images
bake in):

* ``dest/repo/``: the git work tree (``base_commit`` checked out, nothing untracked);
* ``dest/site/``: the test dependencies, present only when the spec lists some.

Downloading happens only here, while preparing (PyPI is the one registry these machines reach); an episode
never downloads anything. A downloaded or cached sdist whose sha256 differs from the pin is refused
(``SdistHashError``), never used.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from turngym.envs.core.errors import ConfigError, TurnGymError

#: Author, committer and date of the one commit of every prepared tree (git hashes them: fixed = reproducible).
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "turngym", "GIT_AUTHOR_EMAIL": "swe@turngym.invalid",
    "GIT_AUTHOR_DATE": "2025-01-01T00:00:00+0000",
    "GIT_COMMITTER_NAME": "turngym", "GIT_COMMITTER_EMAIL": "swe@turngym.invalid",
    "GIT_COMMITTER_DATE": "2025-01-01T00:00:00+0000",
}
#: The ``created_at`` of every synthesized instance (the commit date above; SWE-bench's ISO form).
CREATED_AT = "2025-01-01T00:00:00Z"
#: Where sdists are cached between preparations (override with ``TURNGYM_SWE_CACHE``).
DEFAULT_CACHE = Path(os.environ.get("TURNGYM_SWE_CACHE", Path.home() / ".cache" / "turngym" / "swe" / "sdists"))


class SdistHashError(TurnGymError, RuntimeError):
    """A source distribution's sha256 is not the pinned one: the file is refused (tampered, or the wrong one)."""


TASK_PYTEST = "9.0.3"
"""The pytest the shipped tasks' test ids were recorded with. Ids of parametrized tests can change between pytest
releases (pytest 9.2 names boltons' long ``magnet:?xt=...`` URL case ``test_url16``), so both backends run this
one: the docker images install it and the local images carry it in ``site/`` (ahead of the host's pytest)."""


@dataclass(frozen=True)
class RepoSpec:
    """One library: where its sdist comes from, where its source and tests are, and how its tests run.

    Attributes:
        name: Short name (file names, image names): ``toolz``.
        repo: SWE-bench's ``owner/name`` (the upstream GitHub repository).
        dist: The PyPI distribution name.
        version: The pinned version.
        sdist: The sdist's file name on PyPI.
        sha256: The sdist's sha256 (hex); anything else is refused.
        source_dirs: Folders (relative to the tree) whose ``.py`` files bugs are synthesized in.
        exclude_dirs: Folders under ``source_dirs`` that are not library source (tests inside the package).
        test_paths: The test files/folders pytest is given for the whole suite.
        pythonpath: Folders put first on ``PYTHONPATH`` so the tests import the tree's source (``src`` layouts).
        test_requires: Test dependencies besides pytest (``TASK_PYTEST``, always installed), installed into
            ``site/`` (pip requirement strings).
    """

    name: str
    repo: str
    dist: str
    version: str
    sdist: str
    sha256: str
    source_dirs: tuple[str, ...]
    test_paths: tuple[str, ...]
    exclude_dirs: tuple[str, ...] = ()
    pythonpath: tuple[str, ...] = ()
    test_requires: tuple[str, ...] = ()

    @property
    def image(self) -> str:
        """The repository's image name (docker backend), one image per repository (SWE-smith's layout)."""
        return f"turngym-swe/{self.name}:{self.version}"

    def is_test_path(self, path: str) -> bool:
        """Whether ``path`` (relative to the tree, posix) is one of the suite's test files."""
        return any(path == t or path.startswith(t.rstrip("/") + "/") for t in self.test_paths)

    def test_cmd(self, tests: Sequence[str]) -> str:
        """The shell command (run in the tree) that runs ``tests`` (node ids or files) with ``-rA`` output.

        ``-o addopts=`` drops options a project's own config adds for its CI (``parse`` adds ``--cov``, which
        needs pytest-cov); ``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` keeps whatever plugins the host has installed out
        of the run, so the outcome depends on the tree and pytest alone; ``--rootdir=.`` makes node ids relative
        to the tree whatever config files it has; ``PYTHONHASHSEED=0`` gives set iteration the order the tasks
        were validated with. ``site/`` is appended to ``PYTHONPATH``
        by the sandbox, so the tree's folders are prepended to what is there.
        """
        env = ["PYTEST_DISABLE_PLUGIN_AUTOLOAD=1", "PYTHONDONTWRITEBYTECODE=1", "PYTHONHASHSEED=0"]
        if self.pythonpath:
            env.append("PYTHONPATH=" + ":".join(self.pythonpath) + "${PYTHONPATH:+:$PYTHONPATH}")
        return " ".join([*env, "python -m pytest -rA --color=no -p no:cacheprovider -o addopts= --rootdir=.",
                         *(shlex.quote(t) for t in tests)])


#: The pinned libraries. Chosen for: pure Python, the sdist ships the test suite, the suite needs nothing beyond
#: pytest and runs in a few seconds on one core (measured, see the module's report), and the code is dense in
#: the logic mutations exercise (iterators, caches, string transforms, parsing).
REPOS: dict[str, RepoSpec] = {spec.name: spec for spec in (
    RepoSpec(
        name="toolz", repo="pytoolz/toolz", dist="toolz", version="1.2.0", sdist="toolz-1.2.0.tar.gz",
        sha256="9667a038e9d6ecba37995e26cb2f59ec6420b6ad8dd9677de59db9b956b08490",
        source_dirs=("toolz",), exclude_dirs=("toolz/tests", "toolz/sandbox/tests"),
        test_paths=("toolz/tests", "toolz/sandbox/tests")),
    RepoSpec(
        name="cachetools", repo="tkem/cachetools", dist="cachetools", version="8.0.2",
        sdist="cachetools-8.0.2.tar.gz", sha256="30ac523adfc118b51d2b2e7bad8a0ddb31370dfe2700c7f10ca224f36ccf81e0",
        source_dirs=("src/cachetools",), test_paths=("tests",), pythonpath=("src",)),
    RepoSpec(
        name="inflection", repo="jpvanhal/inflection", dist="inflection", version="0.5.1",
        sdist="inflection-0.5.1.tar.gz", sha256="1a29730d366e996aaacffb2f1f1cb9593dc38e2ddd30c91250c6dde09ea9b417",
        source_dirs=("inflection",), test_paths=("test_inflection.py",)),
    RepoSpec(
        name="parse", repo="r1chardj0n3s/parse", dist="parse", version="1.22.4", sdist="parse-1.22.4.tar.gz",
        sha256="706d458feed5a81b02768d3156e8070baf6cee7d150a3a3c0cd43101a875c3b5",
        source_dirs=("parse",), test_paths=("tests",)),
    RepoSpec(
        name="boltons", repo="mahmoud/boltons", dist="boltons", version="26.2.0", sdist="boltons-26.2.0.tar.gz",
        sha256="d39cfd15c1a1c3bd4d705c82252fa9edb8e4f5e8cc039f8e39afac7b1b47e92c",
        source_dirs=("boltons",), test_paths=("tests",)),
)}


def get_spec(name: str) -> RepoSpec:
    """The spec of a repository by short name (``ConfigError`` with the nearest name otherwise)."""
    if name not in REPOS:
        raise ConfigError("repo", "one of the pinned repositories", name, choices=sorted(REPOS))
    return REPOS[name]


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_sdist(spec: RepoSpec, path: Path) -> Path:
    """``path`` if its sha256 is the pinned one; raises ``SdistHashError`` otherwise."""
    got = sha256_file(path)
    if got != spec.sha256:
        raise SdistHashError(f"{path.name}: sha256 {got} is not the pinned {spec.sha256} of "
                             f"{spec.dist}=={spec.version}; the file is refused (delete it to download it again)")
    return path


def fetch_sdist(spec: RepoSpec, cache: Path | None = None) -> Path:
    """The verified sdist of ``spec``: from the cache, else downloaded from PyPI with ``pip download``.

    pip is the ordinary client for the one registry these machines reach; ``--no-binary :all:`` makes it fetch
    the source distribution and ``--no-deps`` nothing else. The hash is checked either way.
    """
    cache = Path(cache or DEFAULT_CACHE)
    target = cache / spec.sdist
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                            "--dest", tmp, f"{spec.dist}=={spec.version}"], check=True)
            got = Path(tmp) / spec.sdist
            if not got.exists():
                raise SdistHashError(f"pip download of {spec.dist}=={spec.version} did not produce {spec.sdist}")
            check_sdist(spec, got)
            os.replace(got, target)
    return check_sdist(spec, target)


def _git(tree: Path, *args: str) -> str:
    """Runs git in ``tree`` with the user's and system's config out of the way (hooks, excludes, signing)."""
    env = {**os.environ, **GIT_IDENTITY, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_TERMINAL_PROMPT": "0"}
    out = subprocess.run(["git", "-c", "core.autocrlf=false", "-c", "core.excludesFile=" + os.devnull,
                          "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
                         cwd=tree, env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def unpack(spec: RepoSpec, sdist: Path, tree: Path) -> None:
    """Extracts the verified sdist into ``tree`` (its top folder stripped) with tarfile's ``data`` filter.

    The filter refuses absolute paths, ``..``, links leaving the tree and device files, and drops set-id bits.
    """
    top = f"{spec.dist.replace('-', '_')}-{spec.version}"
    tree.mkdir(parents=True)
    with tarfile.open(check_sdist(spec, sdist)) as tar:
        members = []
        for member in tar.getmembers():
            head, _, rest = member.name.partition("/")
            if head not in (top, f"{spec.dist}-{spec.version}") or not rest:
                continue
            member.name = rest
            members.append(member)
        tar.extractall(tree, members=members, filter="data")


def prepare(spec: RepoSpec | str, dest: str | Path, cache: Path | None = None) -> str:
    """Prepares ``dest/repo`` (git work tree, one deterministic commit) and ``dest/site`` (test deps, if any).

    Args:
        spec: The repository (a ``RepoSpec`` or its short name).
        dest: The folder to fill; ``dest/repo`` must not exist yet.
        cache: Where sdists are cached (default ``~/.cache/turngym/swe/sdists`` or ``$TURNGYM_SWE_CACHE``).

    Returns:
        The commit hash of the prepared tree (``base_commit``): the same on every machine.

    Raises:
        SdistHashError: The sdist's sha256 is not the pinned one.
        FileExistsError: ``dest/repo`` already exists.
    """
    spec = get_spec(spec) if isinstance(spec, str) else spec
    dest = Path(dest)
    tree = dest / "repo"
    if tree.exists():
        raise FileExistsError(f"{tree} exists; prepare into an empty folder")
    unpack(spec, fetch_sdist(spec, cache), tree)
    _git(tree, "init", "-q")
    _git(tree, "add", "--all", "--force")  # every file of the sdist, whatever ignore files it ships
    _git(tree, "commit", "-q", "--no-verify", "-m", f"{spec.dist} {spec.version} (sdist {spec.sdist})")
    install_site(spec, dest)
    return _git(tree, "rev-parse", "HEAD")


def install_site(spec: RepoSpec, dest: str | Path) -> None:
    """Installs ``TASK_PYTEST`` and the test dependencies into ``dest/site`` (pip, from the package index)."""
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-input", "--target",
                    str(Path(dest) / "site"), f"pytest=={TASK_PYTEST}", *spec.test_requires], check=True)


def has_task_pytest(dest: str | Path) -> bool:
    """Whether ``dest/site`` holds ``TASK_PYTEST`` (images prepared before it was pinned do not)."""
    return (Path(dest) / "site" / f"pytest-{TASK_PYTEST}.dist-info").is_dir()


def source_files(spec: RepoSpec, tree: Path) -> list[str]:
    """The library's ``.py`` files (relative posix paths, sorted): ``source_dirs`` minus tests and excludes."""
    out = []
    for folder in spec.source_dirs:
        for path in sorted((tree / folder).rglob("*.py")):
            rel = path.relative_to(tree).as_posix()
            if spec.is_test_path(rel) or any(rel.startswith(e.rstrip("/") + "/") for e in spec.exclude_dirs):
                continue
            out.append(rel)
    return sorted(out)


def copy_tree(tree: Path, dest: Path) -> Path:
    """A plain copy of a prepared work tree without its ``.git`` (validation runs mutate the copy)."""
    shutil.copytree(tree, dest, ignore=shutil.ignore_patterns(".git", "__pycache__"))
    return dest
