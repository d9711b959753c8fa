"""Agent specs of a leaderboard suite turned into acting agents (DESIGN §4, "Policies").

Every built agent has the one protocol ``act(observations, infos) -> actions`` (batched; the runner sends one
observation at a time) and an ``obs_mode`` (``"text"`` or ``"vector"``): the runner hands each seat its
observation in that mode. Agents whose ``act`` takes ``rng`` get the runner's per-game generator.

The kinds (``AGENT_KINDS``; each declares the settings it takes, so a typo is a ``ConfigError``):

* ``random``: uniform over the legal actions (the action's word in text mode, its id in vector mode).
* ``scripted``: any agent class or factory by import path, ``factory = "module:attr"`` with ``kwargs``, e.g.
  ``"turngym.envs.boardgames.solvers:TicTacToeSolver"`` (perfect tic-tac-toe) or ``ConnectFourSearch``, or
  ``"turngym.agents.leaderboard.agents:ConstantAgent"`` (the same reply every turn: a calling station with
  ``action = "call"``, or an agent that never acts validly, which the forfeit rule stops).
* ``cfr``: a CFR+ average strategy of the env (``turngym.agents.baselines.cfr.solve``, ``iterations``), or a
  saved ``TabularPolicy`` (``path``, as ``turngym solve`` writes it).
* ``sb3``: a saved Stable-Baselines3 / sb3-contrib model (``path``, ``algo``) behind ``SB3Policy``.
* ``lm``: an ``LMPolicy``: ``model = "tiny"``, a ``turngym train`` checkpoint or run folder, or a transformers
  model (``turngym.agents.llm.serve.load_served_policy``).
* ``openai``: an OpenAI-compatible endpoint (``OpenAIChatPolicy``: vLLM, SGLang, ``turngym serve``, hosted
  APIs). The key is read from the environment variable ``api_key_env`` names, so no secret is in the suite,
  the manifest or a hash. Endpoint failures raise ``PolicyInfraError``: the game is logged as an infra error.

Agents see what the env gives the acting seat and nothing else: its observation and its info (DESIGN §3; envs
keep gold answers out of infos). No agent is ever handed the env object; registry experts, which may read the
env's state, are teachers for warm starts and are not a kind here.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from turngym.agents.leaderboard.suite import AgentSpec
from turngym.envs.core.agent_api import legal_ids
from turngym.envs.core.errors import ConfigError


class RandomAgent:
    """Uniform over the legal actions: their word for text observations, their id for vector ones.

    A text env without a finite action set (tool use, web, SWE) gets an empty reply, which the env scores as
    an invalid action: the floor every other agent should clear.

    Args:
        seed: Seed of the agent's own RNG, used when the caller passes no ``rng``.
        obs_mode: The observation mode it asks for.
    """

    name = "random"

    def __init__(self, seed: int | None = None, obs_mode: str = "text"):
        self.rng = np.random.default_rng(seed)
        self.obs_mode = obs_mode

    def act(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]], *,
            rng: np.random.Generator | None = None) -> list[Any]:
        """One random legal action per observation (``""`` where the env lists none)."""
        gen = rng if rng is not None else self.rng
        out: list[Any] = []
        for obs, info in zip(observations, infos, strict=True):
            ids = legal_ids(info, obs)
            words = info.get("admissible_actions")
            if isinstance(obs, str):
                options = list(words) if words else [str(i) for i in ids]
                out.append(options[int(gen.integers(len(options)))] if options else "")
            else:
                out.append(ids[int(gen.integers(len(ids)))] if ids else None)
        return out


class ConstantAgent:
    """The same action every turn, legal or not (a ``scripted`` factory).

    A fixed word is a classic baseline (``"call"`` in poker: the calling station); a word the env never
    accepts is the agent the forfeit rule exists for (``play.py``).

    Args:
        action: The reply (a word for text observations, an id for vector ones).
        obs_mode: The observation mode it asks for.
    """

    name = "constant"

    def __init__(self, action: Any = "pass", obs_mode: str = "text"):
        self.action = action
        self.obs_mode = obs_mode

    def act(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]]) -> list[Any]:
        """``action`` for every observation."""
        del infos
        return [self.action for _ in observations]


def import_object(ref: str, what: str = "factory") -> Any:
    """The object a ``"module:attr"`` string names.

    Raises:
        ConfigError: On a malformed string or one that does not import.
    """
    if not isinstance(ref, str) or ref.count(":") != 1:
        raise ConfigError(what, '"module:attr", e.g. "turngym.envs.boardgames.solvers:TicTacToeSolver"', ref)
    module, attr = ref.split(":")
    try:
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise ConfigError(what, "an importable module:attr", ref, hint=f"{type(err).__name__}: {err}.") from None
    return obj


# ------------------------------------------------------------------------------------------- builders
def build_random(env_id: str, *, seed: int = 0, obs_mode: str = "text") -> Any:
    """``random``: ``RandomAgent(seed, obs_mode)``."""
    del env_id
    if obs_mode not in ("text", "vector"):
        raise ConfigError("obs_mode", "text or vector", obs_mode, ["text", "vector"])
    return RandomAgent(seed, obs_mode)


def build_scripted(env_id: str, *, factory: str, kwargs: Mapping[str, Any] | None = None,
                   obs_mode: str | None = None) -> Any:
    """``scripted``: ``factory(**kwargs)`` from an import path; ``obs_mode`` overrides the agent's own."""
    del env_id
    agent = import_object(factory)(**dict(kwargs or {}))
    if not callable(getattr(agent, "act", None)):
        raise ConfigError("factory", "a factory of objects with act(observations, infos)", factory)
    if obs_mode is not None:
        agent.obs_mode = obs_mode
    return agent


def build_cfr(env_id: str, *, iterations: int = 300, seed: int = 0, path: str | None = None) -> Any:
    """``cfr``: a saved ``TabularPolicy`` (``path``) or CFR+ solved here for ``iterations``."""
    from turngym.agents.baselines.tabular import TabularPolicy

    if path is not None:
        policy = TabularPolicy.load(path)
        if policy.env_id not in (None, env_id):
            raise ConfigError("path", f"a policy of {env_id}", f"{path} (a policy of {policy.env_id})")
        return policy
    from turngym.agents.baselines.cfr import solve

    if not (isinstance(iterations, int) and iterations >= 1):
        raise ConfigError("iterations", "an int >= 1", iterations)
    return solve(env_id, iterations, algo="cfr+", progress=False, seed=seed).policy


#: sb3 ``algo`` names and the module holding each class.
SB3_ALGOS = {"PPO": "stable_baselines3", "A2C": "stable_baselines3", "DQN": "stable_baselines3",
             "MaskablePPO": "sb3_contrib", "QRDQN": "sb3_contrib"}


def build_sb3(env_id: str, *, path: str, algo: str = "MaskablePPO", deterministic: bool = True,
              seed: int = 0) -> Any:
    """``sb3``: ``<algo>.load(path)`` behind ``SB3Policy`` (vector observations)."""
    del env_id
    if algo not in SB3_ALGOS:
        raise ConfigError("algo", "one of " + ", ".join(SB3_ALGOS), algo, SB3_ALGOS)
    from turngym.agents.baselines.sb3 import SB3Policy

    cls = getattr(importlib.import_module(SB3_ALGOS[algo]), algo)
    return SB3Policy(cls.load(path, device="cpu"), deterministic=deterministic, seed=seed)


def build_lm(env_id: str, *, model: str = "tiny", seed: int = 0, device: str | None = None,
             **policy_kwargs: Any) -> Any:
    """``lm``: ``load_served_policy(model, ...)`` (tiny, a checkpoint, a transformers model); text observations."""
    del env_id
    from turngym.agents.llm.serve import load_served_policy

    policy = load_served_policy(model, seed=seed, device=device, **policy_kwargs)
    policy.obs_mode = "text"
    return policy


def build_openai(env_id: str, *, base_url: str, model: str, api_key_env: str | None = None,
                 **client_kwargs: Any) -> Any:
    """``openai``: ``OpenAIChatPolicy(base_url, model, api_key=os.environ[api_key_env], ...)``."""
    del env_id
    from turngym.agents.llm.policies.openai_chat import OpenAIChatPolicy

    if "api_key" in client_kwargs:  # a key in the suite would be written to the manifest
        raise ConfigError("api_key", "no key in the suite: name the environment variable holding it in api_key_env",
                          "<redacted>")
    api_key = None
    if api_key_env is not None:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise ConfigError("api_key_env", "the name of a set environment variable", api_key_env)
    policy = OpenAIChatPolicy(base_url, model, api_key=api_key, **client_kwargs)
    policy.obs_mode = "text"
    return policy


@dataclass(frozen=True)
class AgentKind:
    """One agent kind: how it is built and what it is for (``turngym leaderboard --help`` lists them)."""

    build: Callable[..., Any]
    summary: str


#: Every kind a suite may name.
AGENT_KINDS: dict[str, AgentKind] = {
    "random": AgentKind(build_random, "uniform over the legal actions"),
    "scripted": AgentKind(build_scripted, "an agent class or factory by import path (heuristics, solvers)"),
    "cfr": AgentKind(build_cfr, "CFR+ average strategy, solved for the env or loaded from a saved policy"),
    "sb3": AgentKind(build_sb3, "a saved Stable-Baselines3 / sb3-contrib model"),
    "lm": AgentKind(build_lm, "an LMPolicy: tiny, a turngym train checkpoint, or a transformers model"),
    "openai": AgentKind(build_openai, "an OpenAI-compatible chat endpoint"),
}


def check_agent_spec(spec: AgentSpec) -> None:
    """Checks the kind and the names of its settings without building anything.

    Raises:
        ConfigError: On an unknown kind or a setting the kind does not take.
    """
    import inspect

    kind = AGENT_KINDS.get(spec.kind)
    if kind is None:
        raise ConfigError(f"agent {spec.name!r} kind", "one of " + ", ".join(AGENT_KINDS), spec.kind, AGENT_KINDS)
    params = inspect.signature(kind.build).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return  # the policy's constructor checks the rest
    allowed = [n for n in params if n != "env_id"]
    for key in spec.params:
        if key not in allowed:
            raise ConfigError(f"agent {spec.name!r} setting", f"one of {', '.join(allowed)} for kind {spec.kind}",
                              key, allowed)


def build_agent(spec: AgentSpec, env_id: str) -> Any:
    """The acting agent of ``spec`` for ``env_id`` (some kinds, e.g. ``cfr``, are built per env).

    Returns:
        An object with ``act(observations, infos)`` and an ``obs_mode`` attribute (``"text"`` if it had none).

    Raises:
        ConfigError: On an unknown kind or bad settings.
    """
    check_agent_spec(spec)
    try:
        agent = AGENT_KINDS[spec.kind].build(env_id, **spec.params)
    except TypeError as err:
        raise ConfigError(f"agent {spec.name!r}", f"valid settings for kind {spec.kind}", spec.params,
                          hint=f"{err}.") from None
    if getattr(agent, "obs_mode", None) not in ("text", "vector"):
        agent.obs_mode = "text"
    return agent


__all__ = ["AGENT_KINDS", "SB3_ALGOS", "AgentKind", "ConstantAgent", "RandomAgent", "build_agent", "check_agent_spec",
           "import_object"]
