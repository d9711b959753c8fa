"""A user's own env package, outside turngym, for the tests of ``--env.modules`` and registry experts.

Importing it registers ``testns/Echo-v0`` (with its scripted expert); ``register_v1()`` registers
``testns/Echo-v1`` (the ``module:function`` form of ``--env.modules``). Tests put this folder on ``sys.path``
(and ``PYTHONPATH`` for Ray workers), as a user's installed package would be.
"""

from __future__ import annotations

import json
from typing import Any

from turngym.envs.core.errors import SnapshotError
from turngym.envs.core.registry import EnvInfo, register_env
from turngym.envs.core.spaces import Text
from turngym.envs.core.state_key import make_state_key
from turngym.envs.core.text_env import TextEnv

WORDS = ("apple", "river", "stone", "cloud")


class EchoEnv(TextEnv):
    """Repeat the words the env shows, one per turn; a wrong word ends the episode.

    Description:
        Each episode draws ``length`` words; turn ``t`` shows word ``t``.
    Observation:
        ``Say: <word>``.
    Action:
        The word.
    Reward:
        1 per correct word.
    Episode end:
        Terminated after the last word or a wrong one; truncated never.
    Arguments:
        length (int): words per episode, default 3.
    Version history:
        v0: initial release.
    """

    env_id = "testns/Echo-v0"

    def __init__(self, length: int = 3):
        self.length = int(length)
        self.observation_space = Text(64)
        self.action_space = Text(64)
        self.words: list[str] = []
        self.turn = 0

    def _obs(self) -> str:
        return f"Say: {self.words[self.turn]}" if self.turn < self.length else "Done."

    def _info(self) -> dict[str, Any]:
        return {"state_key": make_state_key(self.env_id, json.dumps([self.words, self.turn])),
                "admissible_actions": list(WORDS), "action_valid": True, "turn": self.turn}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.words = [WORDS[int(i)] for i in self.np_random.integers(len(WORDS), size=self.length)]
        self.turn = 0
        info = self._info()
        info["task"] = {"id": "-".join(self.words), "instruction": "repeat the words"}
        return self._obs(), info

    def step(self, action: Any):
        correct = action == self.words[self.turn]
        self.turn += 1
        terminated = not correct or self.turn >= self.length
        info = self._info()
        if terminated:
            info["success"] = correct and self.turn >= self.length
        return self._obs(), float(correct), terminated, False, info

    def get_state(self) -> bytes:
        return json.dumps({"words": self.words, "turn": self.turn}).encode()

    def set_state(self, blob: bytes) -> None:
        data = json.loads(blob)
        if not isinstance(data, dict) or set(data) != {"words", "turn"}:
            raise SnapshotError("not an Echo snapshot")
        self.words, self.turn = list(data["words"]), int(data["turn"])


def echo_expert(env_id: str, *, seed: int = 0, env_kwargs: dict[str, Any] | None = None):
    """The expert factory the registry entry names: says the word the live env expects."""

    def act(env: Any, observation: Any, info: dict[str, Any]) -> str:
        inner = env.unwrapped
        return inner.words[inner.turn]

    return act


def register_v1() -> None:
    """Registers ``testns/Echo-v1`` (for ``--env.modules testns_echo:register_v1``)."""
    register_env(EnvInfo("testns/Echo-v1", "testns", EchoEnv, summary="echo, v1", expert=f"{__name__}:echo_expert"))


register_env(EnvInfo("testns/Echo-v0", "testns", EchoEnv, summary="echo", expert=f"{__name__}:echo_expert"))
