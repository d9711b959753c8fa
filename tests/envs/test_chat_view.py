"""``ChatView``: text envs as chats; assistant messages with ``tool_calls`` play like the text they stand for."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

import turngym.envs  # noqa: F401  (registers the ids)
from turngym.envs.core.chat import ChatView, message_text
from turngym.envs.core.errors import ConfigError
from turngym.envs.tooluse import formats
from turngym.envs.tooluse.experts import scripted_expert


def as_message(text: str, fmt: str, tools) -> dict:
    """The assistant message an OpenAI-compatible server would return for a model that wrote ``text``."""
    parsed = formats.parse_turn(text, fmt, tools)
    if parsed.error is not None or not parsed.calls:
        return {"role": "assistant", "content": text}
    calls = [{"id": f"call_{k}", "type": "function",
              "function": {"name": c.name, "arguments": json.dumps(c.arguments)}} for k, c in enumerate(parsed.calls)]
    return {"role": "assistant", "content": None, "tool_calls": calls}


@pytest.mark.parametrize("fmt", ["hermes", "openai", "plain"])
def test_tool_calls_as_dicts_play_like_the_text_actions(fmt):
    plain = gym.make("turngym/ToolQA-v0", format=fmt)
    chat = ChatView(gym.make("turngym/ToolQA-v0", format=fmt), system_prompt="You are an agent.")
    act = scripted_expert("turngym/ToolQA-v0")
    obs, info = plain.reset(seed=3)
    msgs, cinfo = chat.reset(seed=3)
    assert msgs == [{"role": "system", "content": "You are an agent."}, {"role": "user", "content": obs}]
    used_calls = False
    for _ in range(20):
        text = act(plain, obs, info)
        message = as_message(text, fmt, plain.unwrapped.tools)
        used_calls |= "tool_calls" in message
        obs, r, term, trunc, info = plain.step(text)
        msgs, cr, cterm, ctrunc, cinfo = chat.step(message)
        assert msgs[-1] == {"role": "user", "content": obs} and msgs[-2]["role"] == "assistant"
        assert (cr, cterm, ctrunc, cinfo["state_key"]) == (r, term, trunc, info["state_key"])
        assert cinfo["action_valid"] is True
        if term or trunc:
            break
    assert used_calls and term and info["success"] and cinfo["success"]


def test_games_take_strings_and_content_only_messages_and_history_is_windowed():
    chat = ChatView(gym.make("turngym/KuhnPoker-v0", obs_mode="text"), history_turns=1)
    msgs, info = chat.reset(seed=0)
    assert [m["role"] for m in msgs] == ["user"] and chat.format is None
    legal = info["admissible_actions"]
    msgs, r, term, trunc, info = chat.step({"role": "assistant", "content": legal[0]})
    assert info["action_valid"] is True
    if not (term or trunc):
        msgs, r, term, trunc, info = chat.step(info["admissible_actions"][0])
        assert [m["role"] for m in msgs] == ["user", "assistant", "user"]  # the first observation + 1 exchange


@pytest.mark.parametrize("bad", [
    {"role": "assistant", "content": None, "tool_calls": [{"function": {"name": "search", "arguments": "{not json"}}]},
    {"role": "assistant", "tool_calls": "search(query='x')"},
    {"role": "assistant", "content": 12, "tool_calls": [{"no": "function"}]},
    {"tool_calls": [{"function": {"name": 5, "arguments": {}}}]},
    {"content": {"nested": [1, 2, float("nan")]}},
    [1, 2, 3], None, 3.5, b"\x00\xff", object(),
    {"role": "assistant", "content": None, "tool_calls": [{"function": {"name": "search",
                                                                          "arguments": {"query": float("inf")}}}]},
])
def test_malformed_messages_are_invalid_actions_never_crashes(bad):
    chat = ChatView(gym.make("turngym/ToolQA-v0"))
    msgs, info = chat.reset(seed=0)
    msgs, r, term, trunc, info = chat.step(bad)
    assert info["action_valid"] is False and "error" in info
    assert isinstance(msgs[-2]["content"], str) and len(msgs[-2]["content"]) <= 200_000


def test_message_text_renders_in_the_envs_format_and_keeps_content():
    msg = {"role": "assistant", "content": "Let me search.",
           "tool_calls": [{"type": "function", "function": {"name": "search", "arguments": '{"query": "x"}'}}]}
    text = message_text(msg, "hermes")
    assert text.startswith("Let me search.\n<tool_call>") and '"query": "x"' in text
    assert message_text("raw text", "plain") == "raw text"


def test_vector_envs_are_refused():
    with pytest.raises(ConfigError, match="text env"):
        ChatView(gym.make("turngym/KuhnPoker-v0", obs_mode="vector"))
