"""Sandboxes for SWE episodes: one interface (``base.Sandbox``), a docker and a local backend, a warm pool."""

from turngym.envs.swe.sandbox.base import ExecResult, Sandbox, SandboxError, SandboxSpec

__all__ = ["ExecResult", "Sandbox", "SandboxError", "SandboxSpec"]

# The local (bubblewrap) backend and the warm pool: standard library only, but loaded on first use too.
_LAZY_LOCAL = {"LocalSandbox": "local", "reap_local": "local", "SandboxPool": "pool"}
__all__ += list(_LAZY_LOCAL)

# The docker backend loads on first use (DESIGN section 4: heavy optional dependencies only when used); its
# module imports the docker SDK only inside the functions that talk to the daemon.
_LAZY_DOCKER = {"DockerSandbox": "docker_backend", "docker_unavailable": "docker_backend",
                "reap_containers": "reap", "clean": "reap"}
__all__ += list(_LAZY_DOCKER)


def __getattr__(name: str):
    if name in _LAZY_DOCKER:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY_DOCKER[name]}"), name)
    if name in _LAZY_LOCAL:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY_LOCAL[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
