"""The turngym registry: every env id, its family, and its single- and multi-agent constructors.

``import turngym.envs`` registers every id with Gymnasium (``gym.make`` gives the single-agent view)
and here (``make_aec`` / ``make_parallel`` give the PettingZoo forms).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium

from turngym.envs.core.errors import ConfigError, UnknownEnvError

NAMESPACE = "turngym"


@dataclass(frozen=True)
class EnvInfo:
    """What the registry knows about one env id.

    Attributes:
        id: ``turngym/Name-vN``.
        family: ``cards``, ``dilemmas``, ``tooluse``, ``web`` or ``swe``.
        single: Constructor of the single-agent Gymnasium env.
        aec: Constructor of the PettingZoo AEC env, if the env is turn-based multi-agent.
        parallel: Constructor of the PettingZoo Parallel env, if simultaneous-move multi-agent.
        modes: Observation modes (``text``, ``vector``).
        summary: One line for ``turngym list``.
    """

    id: str
    family: str
    single: Callable[..., Any]
    aec: Callable[..., Any] | None = None
    parallel: Callable[..., Any] | None = None
    modes: tuple[str, ...] = ("text",)
    summary: str = ""
    kinds: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        kinds = ["gymnasium"] + (["aec"] if self.aec else []) + (["parallel"] if self.parallel else [])
        object.__setattr__(self, "kinds", tuple(kinds))


_REGISTRY: dict[str, EnvInfo] = {}


def checked_call(ctor: Callable[..., Any], env_id: str, kwargs: dict[str, Any]) -> Any:
    """Calls ``ctor(**kwargs)`` after checking the keyword names (typed error with a suggestion)."""
    params = inspect.signature(ctor).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if not accepts_any:
        for key in kwargs:
            if key not in params:
                raise ConfigError(f"{env_id} argument", "one of " + ", ".join(params), key, params)
    return ctor(**kwargs)


def _gym_entry(env_id: str) -> Callable[..., Any]:
    def make(**kwargs: Any) -> Any:
        return checked_call(_REGISTRY[env_id].single, env_id, kwargs)

    make.__name__ = f"make_{env_id.split('/')[-1].replace('-', '_')}"
    return make


def register_env(info: EnvInfo) -> None:
    """Adds an env to the turngym registry and to Gymnasium's."""
    if not info.id.startswith(NAMESPACE + "/"):
        raise ConfigError("env id", f"'{NAMESPACE}/Name-vN'", info.id)
    _REGISTRY[info.id] = info
    if info.id not in gymnasium.registry:
        gymnasium.register(id=info.id, entry_point=_gym_entry(info.id), disable_env_checker=False)


def env_info(env_id: str) -> EnvInfo:
    """Registry entry of ``env_id`` (``UnknownEnvError`` with the nearest id otherwise)."""
    if env_id not in _REGISTRY and f"{NAMESPACE}/{env_id}" in _REGISTRY:
        env_id = f"{NAMESPACE}/{env_id}"
    if env_id not in _REGISTRY:
        raise UnknownEnvError("env id", "a registered turngym id (see turngym.envs.list_envs())", env_id,
                              list(_REGISTRY))
    return _REGISTRY[env_id]


def list_envs(family: str | None = None) -> list[EnvInfo]:
    """Every registered env, optionally of one family, sorted by id."""
    return sorted((e for e in _REGISTRY.values() if family in (None, e.family)), key=lambda e: e.id)


def make(env_id: str, **kwargs: Any) -> Any:
    """Single-agent env without Gymnasium's wrappers (``gym.make`` adds its checker and order wrappers)."""
    info = env_info(env_id)
    env = checked_call(info.single, info.id, kwargs)
    env.make_kwargs = dict(kwargs)
    return env


def make_aec(env_id: str, **kwargs: Any) -> Any:
    """PettingZoo AEC env of a turn-based multi-agent id."""
    info = env_info(env_id)
    if info.aec is None:
        raise ConfigError("env id", "a turn-based multi-agent env (it has no AEC form)", env_id,
                          [e.id for e in _REGISTRY.values() if e.aec])
    env = checked_call(info.aec, info.id, kwargs)
    env.make_kwargs = dict(kwargs)
    return env


def make_parallel(env_id: str, **kwargs: Any) -> Any:
    """PettingZoo Parallel env of a simultaneous-move multi-agent id."""
    info = env_info(env_id)
    if info.parallel is None:
        raise ConfigError("env id", "a simultaneous-move multi-agent env (it has no Parallel form)", env_id,
                          [e.id for e in _REGISTRY.values() if e.parallel])
    env = checked_call(info.parallel, info.id, kwargs)
    env.make_kwargs = dict(kwargs)
    return env


def unregister_env(env_id: str) -> None:
    """Removes an env from both registries (for tests and interactive redefinition)."""
    _REGISTRY.pop(env_id, None)
    gymnasium.registry.pop(env_id, None)
