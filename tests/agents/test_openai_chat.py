"""``OpenAIChatPolicy`` against a real local HTTP server that misbehaves on purpose.

The stub is a real ``http.server`` on 127.0.0.1 (no mocks of httpx): the last user message names what it does
(``ok``, ``flaky:<k>``: 500 for the first k attempts, ``always500``, ``429``, ``400``, ``sleep:<s>``, ``par:<s>``,
``garbage``, ``huge``, ``badshape``, ``toolcall:<fmt>``, ``stopped``), and it records every request body,
the attempts per key and the most requests it held at once.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import turngym.envs
from turngym.agents.llm.policies.openai_chat import (
    OpenAIChatPolicy,
    PolicyInfraError,
    RetryEvent,
    observation_messages,
    tool_calls_as_text,
)
from turngym.envs.core.errors import ConfigError
from turngym.envs.tooluse import formats
from turngym.envs.tooluse.base import openai_schema


class Stub:
    """Shared state of the stub server."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.attempts: dict[str, int] = {}
        self.bodies: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0


def completion(content: Any, *, tool_calls: list[dict[str, Any]] | None = None, finish: str = "stop",
               stop_reason: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return {"id": "chatcmpl-stub", "object": "chat.completion", "model": "stub",
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "stop_reason": stop_reason}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}


SEARCH_CALL = [{"id": "call_1", "type": "function",
                "function": {"name": "search", "arguments": json.dumps({"query": "birthplace"})}}]


def make_handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            key = body["messages"][-1]["content"]
            parallel = key.startswith("par:")  # only these count towards in_flight (other tests leave sleepers)
            with stub.lock:
                stub.bodies.append(body)
                stub.attempts[key] = n = stub.attempts.get(key, 0) + 1
                stub.in_flight += parallel
                stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
            try:
                self.answer(key, n)
            finally:
                with stub.lock:
                    stub.in_flight -= parallel

        def answer(self, key: str, n: int) -> None:
            error = json.dumps({"error": {"message": f"stub failure {n}", "type": "server_error"}}).encode()
            if key.startswith("flaky:") and n <= int(key.split(":")[1]):
                self.send(500, error)
            elif key == "always500":
                self.send(500, error)
            elif key == "429" and n == 1:
                self.send(429, error, {"Retry-After": "0.3"})
            elif key == "429":
                self.send(200, json.dumps(completion("after rate limit")).encode())
            elif key == "400":
                self.send(400, json.dumps({"error": {"message": "context too long"}}).encode())
            elif key.startswith(("sleep:", "par:")):
                time.sleep(float(key.split(":")[1]))
                self.send(200, json.dumps(completion(f"slept {key}")).encode())
            elif key == "garbage":
                self.send(200, b"<html>not json</html>")
            elif key == "huge":
                self.send(200, json.dumps(completion("x" * 200_000)).encode())
            elif key == "badshape":
                self.send(200, json.dumps({"choices": []}).encode())
            elif key.startswith("toolcall"):
                self.send(200, json.dumps(completion(None, tool_calls=SEARCH_CALL, finish="tool_calls")).encode())
            elif key == "stopped":
                self.send(200, json.dumps(completion("<answer>Paris", stop_reason="</answer>")).encode())
            else:
                self.send(200, json.dumps(completion(f"reply to {key}")).encode())

    return Handler


@pytest.fixture(scope="module")
def stub_server():
    stub = Stub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(stub))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield stub, f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def policy(url: str, **kwargs: Any) -> OpenAIChatPolicy:
    defaults: dict[str, Any] = {"backoff_base": 0.01, "max_backoff": 1.0, "max_retries": 3, "timeout": 5.0}
    return OpenAIChatPolicy(url, "stub", **{**defaults, **kwargs})


def test_reply_text_is_the_action_and_the_body_is_openai_shaped(stub_server) -> None:
    stub, url = stub_server
    with policy(url, temperature=0.0, max_tokens=32, seed=5, system_prompt="Be brief.", stop=["</answer>"]) as p:
        assert p.act(["hello"], [{}]) == ["reply to hello"]
    body = stub.bodies[-1]
    assert body["model"] == "stub"
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]
    assert (body["temperature"], body["max_tokens"], body["seed"], body["stop"]) == (0.0, 32, 5, ["</answer>"])
    assert "tools" not in body and "guided_choice" not in body
    assert p.usage.requests == 1 and p.usage.prompt_tokens == 7 and p.usage.completion_tokens == 3


def test_message_list_observations_are_sent_as_they_are(stub_server) -> None:
    stub, url = stub_server
    chat = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]
    with policy(url) as p:
        assert p.act([chat], [{}]) == ["reply to c"]
    assert stub.bodies[-1]["messages"] == chat
    with pytest.raises(ConfigError):
        observation_messages([{"content": "no role"}])


def test_transient_500s_are_retried_with_growing_jittered_backoff(stub_server) -> None:
    stub, url = stub_server
    events: list[RetryEvent] = []
    with policy(url, on_retry=events.append, backoff_base=0.02) as p:
        assert p.act(["flaky:2"], [{}]) == ["reply to flaky:2"]
    assert stub.attempts["flaky:2"] == 3
    assert [e.attempt for e in events] == [1, 2] and all(e.status == 500 for e in events)
    # Equal jitter: retry k waits in [c_k / 2, c_k], c_k = base * 2 ** (k - 1).
    assert 0.01 <= events[0].delay <= 0.02 and 0.02 <= events[1].delay <= 0.04
    assert "stub failure 1" in events[0].reason


def test_backoff_jitter_comes_from_the_seeded_rng_only() -> None:
    def delays(rng: random.Random) -> list[float]:
        p = OpenAIChatPolicy("http://127.0.0.1:9/v1", "m", rng=rng, backoff_base=1.0, max_backoff=8.0)
        return [p._backoff(k, None) for k in range(1, 7)]

    random.seed(123)  # the global RNG must not matter
    first = delays(random.Random(7))
    random.seed(999)
    assert delays(random.Random(7)) == first
    assert delays(random.Random(8)) != first
    caps = [1, 2, 4, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(first, caps, strict=True))
    p = OpenAIChatPolicy("http://127.0.0.1:9/v1", "m", backoff_base=0.1, max_backoff=5.0)
    assert p._backoff(1, 3.0) >= 3.0 and p._backoff(1, 60.0) == 5.0  # Retry-After, capped at max_backoff


def test_429_waits_at_least_retry_after(stub_server) -> None:
    stub, url = stub_server
    events: list[RetryEvent] = []
    with policy(url, on_retry=events.append) as p:
        start = time.monotonic()
        assert p.act(["429"], [{}]) == ["after rate limit"]
        assert time.monotonic() - start >= 0.3
    assert [e.status for e in events] == [429] and events[0].delay >= 0.3


def test_persistent_500_is_a_typed_infra_error_after_the_last_retry(stub_server) -> None:
    stub, url = stub_server
    with policy(url, max_retries=2) as p, pytest.raises(PolicyInfraError) as caught:
        p.act(["always500"], [{}])
    err = caught.value
    assert stub.attempts["always500"] == 3
    failure = err.failures[0]
    assert (failure.status, failure.attempts, failure.retryable) == (500, 3, True)
    assert "HTTP 500" in err.reasons[0] and "3 attempts" in err.reasons[0]
    assert err.partial == [None]  # never an empty action in place of the failure
    assert p.usage.failures == 1


def test_a_4xx_is_not_retried(stub_server) -> None:
    stub, url = stub_server
    with policy(url) as p, pytest.raises(PolicyInfraError) as caught:
        p.act(["400"], [{}])
    assert stub.attempts["400"] == 1
    assert caught.value.failures[0].retryable is False and "context too long" in str(caught.value)


def test_timeouts_are_retried_then_reported(stub_server) -> None:
    stub, url = stub_server
    start = time.monotonic()
    with policy(url, timeout=0.3, max_retries=1) as p, pytest.raises(PolicyInfraError) as caught:
        p.act(["sleep:2"], [{}])
    assert time.monotonic() - start < 1.9  # gave up well before the server's 2 s replies
    assert "timed out" in str(caught.value) and caught.value.failures[0].attempts == 2
    assert caught.value.failures[0].status is None


def test_connection_refused_is_an_infra_error() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with policy(f"http://127.0.0.1:{port}/v1", max_retries=1) as p, pytest.raises(PolicyInfraError) as caught:
        p.act(["hello"], [{}])
    assert "connection failed" in str(caught.value) and caught.value.failures[0].attempts == 2


@pytest.mark.parametrize(("key", "words"), [("garbage", "malformed reply"), ("badshape", "malformed chat completion"),
                                            ("huge", "max_response_bytes")])
def test_malformed_replies_are_infra_errors_not_retried(stub_server, key: str, words: str) -> None:
    stub, url = stub_server
    with policy(url, max_response_bytes=100_000) as p, pytest.raises(PolicyInfraError) as caught:
        p.act([key], [{}])
    assert words in str(caught.value)
    assert stub.attempts[key] == 1


def test_a_failed_row_does_not_lose_the_other_rows(stub_server) -> None:
    _, url = stub_server
    with policy(url, max_retries=0) as p, pytest.raises(PolicyInfraError) as caught:
        p.act(["one", "always500", "three"], [{}, {}, {}])
    err = caught.value
    assert err.partial == ["reply to one", None, "reply to three"]
    assert set(err.failures) == {1} and set(err.reasons) == {1}
    with policy(url, max_retries=0) as p, pytest.raises(PolicyInfraError) as caught:
        p.generate([[{"role": "user", "content": "always500"}], [{"role": "user", "content": "two"}]])
    assert caught.value.partial[0] is None and caught.value.partial[1].text == "reply to two"


def test_concurrency_is_limited(stub_server) -> None:
    stub, url = stub_server
    keys = [f"par:0.3{'0' * k}" for k in range(6)]  # six distinct requests that each take 0.3 s
    with policy(url, max_concurrency=2) as p:
        start = time.monotonic()
        replies = p.act(keys, [{}] * 6)
        elapsed = time.monotonic() - start
    assert replies == [f"slept {k}" for k in keys]  # in order
    assert stub.max_in_flight == 2
    assert elapsed >= 0.85  # 6 requests of 0.3 s, two at a time


def test_tools_are_sent_and_returned_calls_become_env_actions(stub_server) -> None:
    stub, url = stub_server
    env = turngym.envs.make("turngym/ToolQA-v0", format="openai")
    obs, info = env.reset(seed=0)
    tools = [openai_schema(t) for t in env.unwrapped.tools.values()]
    with policy(url, tools=lambda info: tools, tool_format="openai") as p:
        (action,) = p.act(["toolcall"], [info])
    assert stub.bodies[-1]["tools"] == tools
    parsed = formats.parse_turn(action, "openai", env.unwrapped.tools)
    assert parsed.ok and parsed.calls[0].name == "search" and parsed.calls[0].arguments == {"query": "birthplace"}
    _, _, _, _, step_info = env.step(action)
    assert step_info["action_valid"] and step_info["tool_calls"] == 1


@pytest.mark.parametrize("fmt", ["openai", "hermes", "plain"])
def test_tool_calls_as_text_round_trips_through_the_env_parser(fmt: str) -> None:
    schema = {"search": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}
    calls = [{"function": {"name": "search", "arguments": json.dumps({"query": "a <tool_call> b"})}},
             {"function": {"name": "search", "arguments": {"query": "second"}}}]
    parsed = formats.parse_turn(tool_calls_as_text(calls, fmt), fmt, schema)
    assert parsed.ok, parsed.error
    assert [c.arguments["query"] for c in parsed.calls] == ["a <tool_call> b", "second"]
    # Broken arguments are the model's mistake: passed on, and the env's parser says what is wrong.
    broken = formats.parse_turn(tool_calls_as_text([{"function": {"name": "search", "arguments": "{oops"}}], fmt),
                                fmt, schema)
    assert not broken.ok
    with pytest.raises(ValueError):
        tool_calls_as_text([{"function": {"arguments": "{}"}}], fmt)


def test_a_stop_string_the_server_cut_off_is_put_back(stub_server) -> None:
    _, url = stub_server
    with policy(url, stop=["</answer>"]) as p:
        assert p.act(["stopped"], [{}]) == ["<answer>Paris</answer>"]
    with policy(url) as p:  # not one of this policy's stops: left as the server sent it
        assert p.act(["stopped"], [{}]) == ["<answer>Paris"]


def test_constrain_sends_the_admissible_actions_as_guided_choice(stub_server) -> None:
    stub, url = stub_server
    with policy(url, constrain=True) as p:
        p.act(["pick", "free"], [{"admissible_actions": ["pass", "bet"]}, {"admissible_actions": ["search[<q>]"]}])
    by_key = {b["messages"][-1]["content"]: b for b in stub.bodies[-2:]}
    assert by_key["pick"]["guided_choice"] == ["pass", "bet"]
    assert "guided_choice" not in by_key["free"]  # a template action is free text (decoding_constraint)


def test_generate_returns_text_only_generations(stub_server) -> None:
    _, url = stub_server
    with policy(url) as p:
        (gen,) = p.generate([[{"role": "user", "content": "hello"}]])
    assert gen.text == "reply to hello" and gen.completion_ids == [] and gen.logprobs == []
    assert gen.extras["usage"]["completion_tokens"] == 3


@pytest.mark.parametrize(("kwargs", "what"), [({"timeout": 0}, "timeout"), ({"max_retries": -1}, "max_retries"),
                                              ({"max_concurrency": 0}, "max_concurrency"),
                                              ({"tool_format": "xml"}, "tool_format"),
                                              ({"temperature": float("nan")}, "temperature")])
def test_bad_settings_are_config_errors(kwargs: dict[str, Any], what: str) -> None:
    with pytest.raises(ConfigError, match=what):
        OpenAIChatPolicy("http://127.0.0.1:9/v1", "m", **kwargs)
    with pytest.raises(ConfigError, match="base_url"):
        OpenAIChatPolicy("127.0.0.1:9", "m")


class _FailFirstRow:
    """An ``OpenAIChatPolicy`` whose first row asks the stub for a 500 (real HTTP); the other rows get replies."""

    def __init__(self, inner: OpenAIChatPolicy) -> None:
        self.inner = inner
        self.calls = 0

    def generate(self, prompts, *, admissible=None):
        self.calls += 1
        prompts = [list(p) for p in prompts]
        if self.calls == 1:
            prompts[0] = [*prompts[0][:-1], {"role": "user", "content": "always500"}]
        return self.inner.generate(prompts, admissible=admissible)


def test_collect_ends_an_endpoint_failure_as_an_unscored_infra_error(stub_server) -> None:
    from turngym.agents.llm.rollout import RolloutSettings, collect, rollout_metrics
    from turngym.envs.pool import make_pool

    _, url = stub_server
    with policy(url, max_retries=1) as inner, make_pool("turngym/ToolQA-v0", 3) as pool:
        eps = collect(pool, _FailFirstRow(inner), [0], 3, RolloutSettings(max_turns=4, max_context_tokens=None))
    failed = eps[0]
    assert failed.truncated and "always500" not in (failed.infra_error or "")
    assert failed.infra_error is not None and failed.infra_error.startswith("policy:")
    assert failed.turns == []  # the turn that failed was never sent to the env
    # The other rows of the same call were stepped and went on to the turn budget, unmarked.
    assert all(ep.infra_error is None and len(ep.turns) == 4 for ep in eps[1:])
    metrics = rollout_metrics(eps)
    assert metrics["infra_error_frac"] == pytest.approx(1 / 3)
