"""The chat-message view of a text env: observations as OpenAI message lists, actions as messages or strings.

``ChatView(env)`` wraps any text env (single-agent, ``obs_mode="text"``). Its observation is the conversation so
far as OpenAI chat messages: an optional system message, the first observation as a user message, then one
assistant message (the action) and one user message (the env's answer) per turn, the last ``history_turns``
exchanges kept (``None``: all). What the env saw and judged is unchanged: the wrapper only translates.

An action is the text a model wrote, or an assistant message as an OpenAI-compatible server returns it
(``{"role": "assistant", "content": ..., "tool_calls": [...]}``). A message becomes text the way the env's
own call format writes it (``formats.render_calls``, the inverse of the env's parser): its content, then its
tool calls. Nothing is judged here: a call with arguments that are not a JSON object, a message of the
wrong shape or any other value is turned into text the env's parser rejects as it would reject the same
mistake typed by a model (the env's invalid-action rule applies), never an exception.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium
from gymnasium import spaces

from turngym.envs.core.errors import ConfigError
from turngym.envs.core.spaces import Text

Message = dict[str, Any]
#: Most characters of a message's content kept when the wrapper writes a malformed message out as text.
MAX_REPR_CHARS = 100_000


def _tool_format(env: gymnasium.Env) -> str | None:
    """The env's tool-call format (tool-use, SWE envs) or None (games: plain text actions)."""
    fmt = getattr(env.unwrapped, "format", None)
    return fmt if isinstance(fmt, str) and getattr(env.unwrapped, "tools", None) is not None else None


def message_text(message: Any, fmt: str | None) -> str:
    """The action text of an assistant message (or of a string, returned as it is).

    Args:
        message: A string, or a mapping with ``content`` (str or None) and optional ``tool_calls`` (OpenAI
            ``[{"type": "function", "function": {"name", "arguments"}}]``, arguments a JSON string or object).
        fmt: The env's tool-call format (``hermes``, ``openai``, ``plain``); None when the env has no tools
            (the tool calls are then written in the ``openai`` format, which such an env rejects as an action).

    Returns:
        The text: the content, then each call as the format writes it; malformed parts are written out as
        their JSON (or ``repr``) so the env's parser reports them.
    """
    from turngym.envs.tooluse.base import ToolCall
    from turngym.envs.tooluse.formats import render_calls

    if isinstance(message, str):
        return message
    if not isinstance(message, Mapping):
        return _dump(message)
    content = message.get("content")
    parts = [content] if isinstance(content, str) and content else []
    if content is not None and not isinstance(content, str):
        parts.append(_dump(content))
    calls = message.get("tool_calls")
    if calls is None:
        return "\n".join(parts)
    if not isinstance(calls, Sequence) or isinstance(calls, (str, bytes)):
        return "\n".join([*parts, _dump(calls)])
    for call in calls:
        fn = call.get("function") if isinstance(call, Mapping) else None
        name = fn.get("name") if isinstance(fn, Mapping) else None
        raw = fn.get("arguments") if isinstance(fn, Mapping) else None
        args: Any = raw
        if isinstance(raw, str):
            try:
                args = json.loads(raw) if raw.strip() else {}
            except (ValueError, RecursionError):
                args = None
        if isinstance(name, str) and isinstance(args, dict):
            try:
                parts.append(render_calls([ToolCall(name, args)], fmt or "openai"))
                continue
            except (TypeError, ValueError, RecursionError):
                pass
        parts.append(_dump(call))  # the model's broken call, for the env to reject with its message
    return "\n".join(parts)


def _dump(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text[:MAX_REPR_CHARS]


class ChatView(gymnasium.Wrapper):
    """A text env seen as a chat (see the module docstring).

    Args:
        env: A text env (``obs_mode="text"``).
        system_prompt: A system message put first (None: none).
        history_turns: Exchanges kept after the first observation (None: all of them).

    Raises:
        ConfigError: The env's observations are not text, or ``history_turns`` is negative.
    """

    def __init__(self, env: gymnasium.Env, system_prompt: str | None = None, history_turns: int | None = None):
        super().__init__(env)
        if not isinstance(env.observation_space, Text):
            raise ConfigError("env", "a text env (obs_mode='text')", type(env.observation_space).__name__)
        if history_turns is not None and (isinstance(history_turns, bool) or not isinstance(history_turns, int)
                                          or history_turns < 0):
            raise ConfigError("history_turns", "None or an int >= 0", history_turns)
        self.system_prompt = system_prompt
        self.history_turns = history_turns
        self.format = _tool_format(env)
        text = env.observation_space
        self.observation_space = spaces.Sequence(spaces.Dict({"role": Text(16), "content": text}), stack=False)
        self._first: Message | None = None
        self._exchanges: list[tuple[Message, Message]] = []

    def _messages(self) -> list[Message]:
        out: list[Message] = []
        if self.system_prompt is not None:
            out.append({"role": "system", "content": self.system_prompt})
        if self._first is not None:
            out.append(dict(self._first))
        kept = self._exchanges if self.history_turns is None else self._exchanges[
            max(0, len(self._exchanges) - self.history_turns):]
        for assistant, user in kept:
            out += [dict(assistant), dict(user)]
        return out

    def reset(self, **kwargs: Any) -> tuple[list[Message], dict[str, Any]]:
        """Resets the env; the observation is the opening conversation."""
        obs, info = self.env.reset(**kwargs)
        self._first = {"role": "user", "content": str(obs)}
        self._exchanges = []
        return self._messages(), info

    def step(self, action: Any) -> tuple[list[Message], float, bool, bool, dict[str, Any]]:
        """Steps with the action's text; the observation is the conversation including the env's answer."""
        text = message_text(action, self.format)
        obs, reward, terminated, truncated, info = self.env.step(text)
        self._exchanges.append(({"role": "assistant", "content": text}, {"role": "user", "content": str(obs)}))
        return self._messages(), reward, terminated, truncated, info


__all__ = ["ChatView", "Message", "message_text"]
