"""``docker/build.sh`` on a fixture repository: an installable package with a requirement from the package index.

Real docker and pip (the wheelhouse is built by the host's pip from the package index; the image build runs with
``--network none``). Skipped, with the reason, where no daemon answers or the base image is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from turngym.envs.swe.sandbox.base import SandboxSpec

ROOT = Path(__file__).resolve().parents[3]
BUILD = ROOT / "docker" / "build.sh"
BASE = os.environ.get("TURNGYM_SWE_BASE_IMAGE", "turngym-swe-base")
IMAGE = "turngym-swe-test-calc"


def _why_skip() -> str | None:
    from turngym.envs.swe.sandbox.docker_backend import docker_unavailable

    why = docker_unavailable()
    if why is None and subprocess.run(["docker", "image", "inspect", BASE], capture_output=True).returncode != 0:
        why = f"the base image {BASE} is missing: run .ci/docker-setup (or docker/build.sh base)"
    return why


_WHY = _why_skip()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=f"docker backend unavailable: {_WHY}")


def calc_repo(path: Path) -> Path:
    """A src-layout package (so it must be installed to import), a test suite, and one requirement."""
    (path / "src" / "calc").mkdir(parents=True)
    (path / "tests").mkdir()
    (path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "calc"\nversion = "0.1"\n[tool.setuptools.packages.find]\nwhere = ["src"]\n')
    (path / "src" / "calc" / "__init__.py").write_text("def add(a, b):\n    return a + b\n")
    (path / "tests" / "test_calc.py").write_text(
        "import iniconfig\nfrom calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n")
    (path / "requirements.txt").write_text("iniconfig\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "start"]):
        subprocess.run(cmd, cwd=path, check=True, env=env)
    (path / "uncommitted.txt").write_text("not part of the start state\n")
    return path


def build(*args: str) -> list[dict]:
    res = subprocess.run([str(BUILD), *args], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    return [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_repo_image_is_built_offline_cached_and_runs_its_tests(tmp_path: Path):
    from turngym.envs.swe.sandbox.docker_backend import PRISTINE_GIT, DockerSandbox

    repo = calc_repo(tmp_path / "calc")
    first = build("repo", str(repo), "--base", BASE, "--name", IMAGE, "--force")
    assert first == [{"image": IMAGE, "built": True, "recipe": first[0]["recipe"]}]
    again = build("repo", str(repo), "--base", BASE, "--name", IMAGE)
    assert again == [{"image": IMAGE, "built": False, "recipe": first[0]["recipe"]}]  # same recipe: skipped
    # The recipe hash is recorded on the image: that label is what makes the second build a no-op.
    label = subprocess.run(["docker", "image", "inspect", "-f", '{{ index .Config.Labels "turngym.recipe" }}', IMAGE],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert label == first[0]["recipe"]
    with DockerSandbox(SandboxSpec(image=IMAGE, memory_mb=512, history=True)) as box:
        assert box.exec("git status --porcelain --ignored").output == ""
        assert box.exec("ls").output.split() == ["pyproject.toml", "requirements.txt", "src", "tests"]
        assert box.exec(f"test -d {PRISTINE_GIT} && git log --format=%s").output == "start\n"
        # pytest is not in the image; the test module itself runs against the editable install.
        ok = box.exec("python -c 'import sys; sys.path.insert(0, \"tests\"); import test_calc; test_calc.test_add(); "
                      "print(\"PASS\")'")
        assert ok.output.strip() == "PASS", ok.output
        box.exec("sed -i 's/a + b/a - b/' src/calc/__init__.py")  # a synthesized bug; the editable install sees it
        bad = box.exec("python -c 'from calc import add; print(add(2, 3))'")
        assert bad.output.strip() == "-1"
        box.reset()
        assert box.exec("python -c 'from calc import add; print(add(2, 3))'").output.strip() == "5"


def test_build_refuses_a_directory_that_is_not_a_git_work_tree(tmp_path: Path):
    res = subprocess.run([str(BUILD), "repo", str(tmp_path), "--base", BASE], capture_output=True, text=True)
    assert res.returncode != 0 and "not a git work tree" in res.stderr
