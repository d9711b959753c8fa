"""Test options.

- Slow tests run with ``--runslow`` or when ``CI=true`` (CI runs them, laptops skip them).
- Exhaustive tests (every one of the 128 MiniWoB++ ids through ``check_env``, 1,000 browser episodes, 50 seeds of
  every solver: about 1.5 hours of real Chromium) run only with ``--exhaustive``: CI runs a sample of each under
  the slow mark, inside its 40-minute budget.
- Tests of ``turngym/ToolMath-v0`` (the id whose tasks run the python tool) are skipped where bubblewrap is
  missing: there the tool refuses to run (issue 12; the refusal itself is tested in
  ``tests/envs/tooluse/test_python_sandbox_security.py``, which CI also runs with bubblewrap off PATH).
"""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")
    parser.addoption("--exhaustive", action="store_true", default=False,
                     help="also run tests marked exhaustive (hours of real Chromium; never run by CI)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--exhaustive"):
        skip_sweep = pytest.mark.skip(reason="exhaustive: run with --exhaustive (hours; CI runs a sample)")
        for item in items:
            if "exhaustive" in item.keywords:
                item.add_marker(skip_sweep)
    if any("ToolMath" in item.nodeid for item in items):
        from turngym.envs.tooluse.tools.python_sandbox import isolation_unavailable

        why = isolation_unavailable()
        if why is not None:
            skip_math = pytest.mark.skip(reason=f"the python tool cannot run here: {why}")
            for item in items:
                if "ToolMath" in item.nodeid:
                    item.add_marker(skip_math)
    if config.getoption("--runslow") or os.environ.get("CI", "").lower() == "true":
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow (CI=true runs it)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def ray_cluster():
    """Ray on 2 CPUs for one test module (started here unless running already; then shut down again)."""
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install turngym[dist])")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()
