"""Validation of candidate bugs: a candidate is kept iff it makes previously passing tests fail, and only those.

This is a build step on trusted code: the library's own tests run on the library's source with one of our own
mutations in it, in a subprocess on the host, in a temporary copy of the prepared tree. No agent code runs
here; episodes run agent code only inside the sandboxes (``envs/swe/sandbox``). The subprocess still gets a
wall-clock timeout (a mutation can make a test loop forever: the candidate is rejected, its process group
killed with ``procs.kill_tree``) and rlimits (address space, file size), because a mutation can also make a
loop allocate without end.

Procedure (SWE-smith's validation, with SWE-bench's FAIL_TO_PASS / PASS_TO_PASS):

1. The clean tree's full suite runs ``baseline_runs`` times; the tests that pass every time are the baseline
   (a test whose outcome differs between runs is flaky and never listed). Ids with whitespace are left out:
   the ``-rA`` log parsers of the graders split on it.
2. Screen: the test files that name the mutated module run with ``--maxfail=1``; no failure there rejects the
   candidate (``no_failure``) without the full run. When no file or every file names it, the full run decides.
3. The full suite runs on the mutated tree. Rejected: ``timeout``, ``collection_error`` (a test file no longer
   imports), ``changed_collection`` (baseline tests vanished, e.g. parametrize ids computed by the library),
   ``no_failure``. Otherwise FAIL_TO_PASS = the baseline tests that no longer pass, PASS_TO_PASS = the rest of
   the baseline (capped by ``cap_pass_to_pass``).
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from turngym.envs.swe.tasks.synth.mutate import Mutation, effective
from turngym.envs.swe.tasks.synth.repos import RepoSpec
from turngym.envs.tooluse.tools.sandbox.procs import kill_tree

PLUGIN_MODULE = "turngym_outcomes_plugin"
MEMORY_LIMIT = 4 * 2**30
"""Address-space limit of one test run (a mutated loop that allocates without end stops here)."""
FILE_SIZE_LIMIT = 512 * 2**20


@dataclass
class RunResult:
    """One pytest run: per-test outcomes (node id -> outcome), failures, collection errors, and how it ended."""

    tests: dict[str, str] = field(default_factory=dict)
    failures: dict[str, dict] = field(default_factory=dict)
    collect_errors: list[str] = field(default_factory=list)
    timed_out: bool = False
    returncode: int | None = None
    seconds: float = 0.0
    output: str = ""

    @property
    def passed(self) -> set[str]:
        """The node ids that passed."""
        return {t for t, o in self.tests.items() if o == "passed"}


@dataclass(frozen=True)
class Baseline:
    """The clean tree's passing tests (sorted node ids), its flaky tests, and one full run's duration."""

    passing: tuple[str, ...]
    flaky: tuple[str, ...]
    seconds: float
    collected: int


@dataclass
class Verdict:
    """The decision on one candidate, with the lists it would ship and the run they came from."""

    kept: bool
    reason: str
    fail_to_pass: list[str] = field(default_factory=list)
    pass_to_pass: list[str] = field(default_factory=list)
    run: RunResult | None = None
    ran: str = ""


def _limits() -> None:  # runs in the child between fork and exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_pytest(work: Path, spec: RepoSpec, tests: Sequence[str], timeout: float, *, plugin_dir: Path,
               site: Path | None = None, maxfail: int | None = None) -> RunResult:
    """Runs pytest on ``tests`` in ``work`` in a subprocess and returns the outcomes the plugin recorded.

    The run gets the same isolation from the host's pytest plugins as the tasks' ``test_cmd`` (autoload off,
    ``addopts`` cleared, ``--rootdir=.`` so node ids are relative to the tree), a fixed ``PYTHONHASHSEED``
    (set iteration order is then the same on every run) and no bytecode written into the tree.
    """
    out_file = plugin_dir / f"outcomes-{os.getpid()}.json"
    out_file.unlink(missing_ok=True)
    paths = [str(plugin_dir), *(str(work / p) for p in spec.pythonpath)]
    if site is not None:
        paths.append(str(site))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "TURNGYM_OUTCOMES": str(out_file)}
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", PLUGIN_MODULE, "-o", "addopts=",
           "--rootdir=.", "-q", "--tb=short", "--color=no", "-o", "console_output_style=classic"]
    if maxfail:
        cmd.append(f"--maxfail={maxfail}")
    cmd.extend(tests)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_limits)
    result = RunResult()
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(proc.pid, None)  # the whole session: pytest and anything a test started
        output, _ = proc.communicate()
        result.timed_out = True
    result.seconds = time.monotonic() - start
    result.returncode = proc.returncode
    result.output = output.decode("utf-8", errors="replace")[-20_000:]
    if out_file.exists() and not result.timed_out:
        data = json.loads(out_file.read_text(encoding="utf-8"))
        result.tests, result.failures, result.collect_errors = data["tests"], data["failures"], data["collect_errors"]
    return result


def install_plugin(folder: Path) -> Path:
    """Copies the outcomes plugin into ``folder`` (put on the runs' ``PYTHONPATH``) and returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(__file__).with_name("outcomes_plugin.py"), folder / f"{PLUGIN_MODULE}.py")
    return folder


def gradeable(nodeid: str) -> bool:
    """Whether a node id survives the graders' ``-rA`` parsing (they split the summary lines on whitespace)."""
    return not re.search(r"\s", nodeid)


def cap_pass_to_pass(pass_to_pass: Sequence[str], fail_to_pass: Sequence[str], cap: int, seed: int) -> list[str]:
    """At most ``cap`` PASS_TO_PASS ids, sorted: first those in the FAIL_TO_PASS tests' files, then a seeded sample.

    Tests next to the failing ones are the likeliest to catch a fix that breaks a neighbour; the sample keeps
    some guard on the rest of the suite. The cap keeps rows small (a suite of 500 tests would put 500 ids in
    every row); a user who wants the whole suite as PASS_TO_PASS passes a large ``cap``.
    """
    if len(pass_to_pass) <= cap:
        return sorted(pass_to_pass)
    files = {t.split("::", 1)[0] for t in fail_to_pass}
    near = sorted(t for t in pass_to_pass if t.split("::", 1)[0] in files)
    far = sorted(t for t in pass_to_pass if t.split("::", 1)[0] not in files)
    random.Random(seed).shuffle(far)
    return sorted((near + far)[:cap]) if len(near) < cap else sorted(random.Random(seed).sample(near, cap))


class Validator:
    """Validates candidates of one repository in a private copy of its prepared tree.

    Args:
        spec: The repository.
        work: A copy of the prepared work tree (mutated in place, restored after each candidate).
        scratch: A folder for the plugin and the outcome files.
        site: The prepared ``site/`` folder (test dependencies), if any.
        baseline_runs: Clean full-suite runs; a test must pass in all of them to be listed.
        timeout_factor: A run may take this many times the clean suite's duration ...
        min_timeout: ... but never less than this many seconds (a loaded machine is slow).
    """

    def __init__(self, spec: RepoSpec, work: Path, scratch: Path, site: Path | None = None, *,
                 baseline_runs: int = 2, timeout_factor: float = 4.0, min_timeout: float = 30.0):
        self.spec = spec
        self.work = Path(work)
        self.plugin_dir = install_plugin(Path(scratch) / "plugin")
        self.site = site
        self.timeout_factor = timeout_factor
        self.min_timeout = min_timeout
        self.full = list(spec.test_paths)
        self.baseline = self._baseline(baseline_runs)

    @property
    def timeout(self) -> float:
        """Wall-clock limit of one mutated run."""
        return max(self.min_timeout, self.timeout_factor * self.baseline.seconds)

    def _run(self, tests: Sequence[str], timeout: float, maxfail: int | None = None) -> RunResult:
        return run_pytest(self.work, self.spec, tests, timeout, plugin_dir=self.plugin_dir, site=self.site,
                          maxfail=maxfail)

    def _baseline(self, runs: int) -> Baseline:
        passing: set[str] | None = None
        ever_passed: set[str] = set()
        seen: set[str] = set()
        seconds = 0.0
        for _ in range(max(1, runs)):
            res = self._run(self.full, timeout=600.0)
            if res.timed_out or res.collect_errors or not res.tests:
                raise RuntimeError(f"{self.spec.name}: the clean suite does not run cleanly "
                                   f"(timed out={res.timed_out}, collection errors={res.collect_errors}):\n"
                                   f"{res.output[-3000:]}")
            seconds = max(seconds, res.seconds)
            seen |= set(res.tests)
            ever_passed |= res.passed
            passing = res.passed if passing is None else passing & res.passed
        assert passing is not None
        return Baseline(passing=tuple(sorted(t for t in passing if gradeable(t))),
                        flaky=tuple(sorted(ever_passed - passing)), seconds=seconds, collected=len(seen))

    def test_files(self) -> list[str]:
        """Every test file of the suite (relative posix paths, sorted)."""
        files = []
        for test_path in self.spec.test_paths:
            root = self.work / test_path
            for f in [root] if root.is_file() else sorted(root.rglob("*.py")):
                if f.name.startswith("test") or f.name.endswith("_test.py"):
                    files.append(f.relative_to(self.work).as_posix())
        return sorted(files)

    def screen_files(self, path: str) -> list[str]:
        """The test files that name the mutated module (a word match on its name; ``__init__`` -> the package)."""
        stem = Path(path).stem
        name = Path(path).parent.name if stem == "__init__" else stem
        word = re.compile(rf"\b{re.escape(name)}\b")
        return [f for f in self.test_files() if word.search((self.work / f).read_text("utf-8", errors="replace"))]

    def check(self, mutation: Mutation) -> Verdict:
        """Applies ``mutation`` to the work tree, runs the tests, restores the file, and decides."""
        target = self.work / mutation.path
        original = target.read_bytes()
        source = original.decode("utf-8")
        if not effective(mutation, source):
            return Verdict(False, "ineffective")
        target.write_text(mutation.apply(source), encoding="utf-8")
        baseline = set(self.baseline.passing)
        try:
            screen = self.screen_files(mutation.path)
            if screen and len(screen) < len(self.test_files()):
                first = self._run(screen, self.timeout, maxfail=1)
                verdict = self._reject(first, screen)
                if verdict is not None:
                    return verdict
                if not any(first.tests.get(t) in ("failed", "error") for t in baseline):
                    return Verdict(False, "no_failure", run=first, ran="screen: " + " ".join(screen))
            full = self._run(self.full, self.timeout)
            verdict = self._reject(full, self.full)
            if verdict is not None:
                return verdict
            if any(t not in full.tests for t in baseline):
                return Verdict(False, "changed_collection", run=full, ran="full suite")
            f2p = sorted(t for t in baseline if full.tests[t] != "passed")
            if not f2p:
                return Verdict(False, "no_failure", run=full, ran="full suite")
            p2p = sorted(baseline - set(f2p))
            return Verdict(True, "kept", fail_to_pass=f2p, pass_to_pass=p2p, run=full, ran="full suite")
        finally:
            target.write_bytes(original)

    def _reject(self, res: RunResult, ran: Sequence[str]) -> Verdict | None:
        """The rejection a run implies by itself (timeout, broken collection, vanished tests), or None."""
        what = " ".join(ran)
        if res.timed_out:
            return Verdict(False, "timeout", run=res, ran=what)
        if res.collect_errors:
            return Verdict(False, "collection_error", run=res, ran=what)
        if not res.tests:  # pytest's usage/internal/no-tests exits, else the interpreter itself died
            reason = "collection_error" if res.returncode in (2, 3, 4, 5) else "crashed"
            return Verdict(False, reason, run=res, ran=what)
        return None
