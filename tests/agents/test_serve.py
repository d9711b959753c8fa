"""``turngym serve``: the real server process, played through ``OpenAIChatPolicy``, compared with ``LMPolicy``.

One ``turngym serve --model tiny`` process (OS-picked port, one torch thread) serves the module; its teardown
stops it with SIGTERM and checks that the port is free again. Episodes of real envs step with the served
replies; greedy and seeded replies equal the in-process ``LMPolicy``'s; hostile requests get 4xx and the
server keeps serving.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
from typer.testing import CliRunner

import turngym.envs
from turngym.agents.llm.policies import LMPolicy, build_policy
from turngym.agents.llm.policies.openai_chat import OpenAIChatPolicy
from turngym.agents.llm.rollout import RolloutSettings, collect
from turngym.agents.llm.serve import ChatServer, ServeSettings, load_served_policy, parse_request, prompt_messages
from turngym.agents.llm.train.checkpoint import CheckpointError, save_checkpoint
from turngym.agents.llm.train.config import TrainConfig, config_json
from turngym.benchmarks import cli
from turngym.envs.pool import make_pool
from turngym.envs.tooluse import formats
from turngym.envs.tooluse.base import Answer, openai_schema
from turngym.envs.tooluse.env import expert_next_step

pytestmark = pytest.mark.usefixtures("one_thread")

MAX_BODY = 65536
MAX_NEW = 12
START_TIMEOUT_S = 120.0


def wait_line(proc: subprocess.Popen, timeout: float) -> str:
    """The first stdout line of ``proc``, or a failure with its stderr when it dies or stays silent."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout):
        proc.kill()
        pytest.fail(f"turngym serve printed nothing in {timeout} s; stderr: {proc.stderr.read()[-2000:]}")
    line = proc.stdout.readline()
    if not line:
        pytest.fail(f"turngym serve exited ({proc.wait()}); stderr: {proc.stderr.read()[-2000:]}")
    return line


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def served():
    """``(base_url, startup seconds)`` of a real ``turngym serve`` process, stopped (SIGTERM) after the module."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # as the in-process policies (one_thread)
    cmd = [sys.executable, "-m", "turngym.benchmarks.cli", "serve", "--model", "tiny", "--port", "0", "--seed", "0",
           "--max-new-tokens", str(MAX_NEW), "--max-body-bytes", str(MAX_BODY), "--max-tokens-limit", "64"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = wait_line(proc, START_TIMEOUT_S)
        assert line.startswith("turngym serve: tiny ready at http://127.0.0.1:"), line
        url = line.split(" ready at ")[1].strip()
        yield url, time.monotonic() - start
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail("turngym serve did not stop within 15 s of SIGTERM")
    # uvicorn shuts down gracefully, then re-raises the signal it caught: 0 or -SIGTERM.
    assert code in (0, -signal.SIGTERM), proc.stderr.read()[-2000:]
    assert port_is_free(int(url.rsplit(":", 1)[1].split("/")[0]))


@pytest.fixture(scope="module")
def greedy() -> LMPolicy:
    """The served model in-process, greedy (same seed, same weights)."""
    return build_policy("tiny", seed=0, temperature=0.0, max_new_tokens=MAX_NEW)


def post(url: str, body: Any = None, *, content: bytes | None = None, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{url}/chat/completions", json=body if content is None else None, content=content,
                      timeout=60, **kwargs)


def chat(text: str, **fields: Any) -> dict[str, Any]:
    return {"model": "tiny", "messages": [{"role": "user", "content": text}], **fields}


def assert_still_serving(url: str) -> None:
    assert httpx.get(url.removesuffix("/v1") + "/health", timeout=10).json() == {"status": "ok"}
    reply = post(url, chat("still there?", temperature=0, max_tokens=2))
    assert reply.status_code == 200 and reply.json()["usage"]["completion_tokens"] <= 2


# ------------------------------------------------------------------------------------------ the protocol
def test_models_lists_the_served_name(served) -> None:
    url, startup = served
    data = httpx.get(f"{url}/models", timeout=10).json()
    assert [m["id"] for m in data["data"]] == ["tiny"]
    assert startup < START_TIMEOUT_S


def test_reply_is_openai_shaped_with_usage(served, greedy: LMPolicy) -> None:
    url, _ = served
    data = post(url, chat("Your card: K", temperature=0, max_tokens=5)).json()
    choice = data["choices"][0]
    assert data["object"] == "chat.completion" and data["model"] == "tiny" and data["id"].startswith("chatcmpl-")
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] in ("stop", "length")
    prompt = [{"role": "user", "content": "Your card: K"}]
    assert data["usage"]["prompt_tokens"] == len(greedy.encode_prompt(prompt))
    assert data["usage"]["completion_tokens"] <= 5
    assert data["usage"]["total_tokens"] == data["usage"]["prompt_tokens"] + data["usage"]["completion_tokens"]


def test_the_official_openai_client_reads_replies_and_tool_calls(served, greedy: LMPolicy) -> None:
    openai = pytest.importorskip("openai")
    url, _ = served
    client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=60)
    assert [m.id for m in client.models.list()] == ["tiny"]
    prompt = [{"role": "user", "content": "Your card: Q"}]
    out = client.chat.completions.create(model="tiny", messages=prompt, temperature=0, max_tokens=MAX_NEW)
    assert out.choices[0].message.content == greedy.generate([prompt])[0].text
    assert out.usage.completion_tokens == len(greedy.generate([prompt])[0].completion_ids)
    tools = [{"type": "function", "function": {"name": "search", "description": "Search.", "parameters": {
        "type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}]
    forced = '<tool_call>\n{"name": "search", "arguments": {"query": "Graz"}}\n</tool_call>'
    out = client.chat.completions.create(model="tiny", messages=prompt, tools=tools, temperature=0,
                                         extra_body={"guided_choice": [forced]})
    call = out.choices[0].message.tool_calls[0]
    assert out.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "search" and json.loads(call.function.arguments) == {"query": "Graz"}
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="tiny", messages=prompt, n=2)


# ----------------------------------------------------------------------- equal to the in-process policy
def test_greedy_served_replies_equal_the_in_process_policy(served, greedy: LMPolicy) -> None:
    url, _ = served
    texts = ["Your card: Q\nLegal actions: pass, bet.", "Question: who wrote it?", "x" * 50]
    with OpenAIChatPolicy(url, "tiny", temperature=0.0, max_tokens=MAX_NEW) as remote:
        assert remote.act(texts, [{}] * 3) == greedy.act(texts, [{}] * 3)


def test_seeded_sampling_equals_a_policy_built_with_that_seed(served) -> None:
    url, _ = served
    prompt = [{"role": "user", "content": "Reply with one action word."}]
    local = [build_policy("tiny", seed=0, temperature=1.0, max_new_tokens=MAX_NEW) for _ in range(2)]
    for p, seed in zip(local, (11, 12), strict=True):
        p.generator.manual_seed(seed)
    expected = [p.generate([prompt])[0].text for p in local]
    assert expected[0] != expected[1]  # the seed matters, so the comparison below can fail
    for seed, text in zip((11, 12), expected, strict=True):
        for _ in range(2):  # the same seed again: the same reply (a seeded request does not move the stream)
            reply = post(url, {"model": "tiny", "messages": prompt, "temperature": 1.0, "seed": seed}).json()
            assert reply["choices"][0]["message"]["content"] == text


def test_stop_strings_cut_as_openai_does_and_come_back_through_the_client(served, greedy: LMPolicy) -> None:
    url, _ = served
    prompt = [{"role": "user", "content": "Question: who wrote it?"}]
    full = greedy.generate([prompt])[0].text
    stop = full[3:5]  # a string the greedy reply contains
    cut = LMPolicy(greedy.model, greedy.tokenizer, temperature=0.0, max_new_tokens=MAX_NEW, stop=[stop])
    expected = cut.generate([prompt])[0].text
    assert expected.endswith(stop) and len(expected) < len(full)
    data = post(url, {"model": "tiny", "messages": prompt, "temperature": 0, "stop": stop}).json()["choices"][0]
    assert data["message"]["content"] == expected[:-len(stop)] and data["stop_reason"] == stop
    kept = post(url, {"model": "tiny", "messages": prompt, "temperature": 0, "stop": [stop],
                      "include_stop_str_in_output": True}).json()["choices"][0]
    assert kept["message"]["content"] == expected
    with OpenAIChatPolicy(url, "tiny", temperature=0.0, stop=[stop], max_tokens=MAX_NEW) as remote:
        assert remote.generate([prompt])[0].text == expected  # as LMPolicy gives it to the env


def test_guided_choice_is_constrained_decoding(served, greedy: LMPolicy) -> None:
    url, _ = served
    prompt = [{"role": "user", "content": "Legal actions: fold, call, raise."}]
    choices = ["fold", "call", "raise"]
    reply = post(url, {"model": "tiny", "messages": prompt, "temperature": 0, "guided_choice": choices}).json()
    assert reply["choices"][0]["message"]["content"] == greedy.generate([prompt], admissible=[choices])[0].text
    assert reply["choices"][0]["message"]["content"] in choices


def test_tool_history_is_rendered_as_the_env_shows_it(served, greedy: LMPolicy) -> None:
    url, _ = served
    tools = [{"type": "function", "function": {"name": "search", "description": "Search.", "parameters": {
        "type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}]
    messages = [{"role": "user", "content": "Where was Maria Lenz born?"},
                {"role": "assistant", "content": None, "tool_calls": [{
                    "id": "c1", "type": "function", "function": {"name": "search", "arguments": '{"query": "Lenz"}'}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "d1 | Maria Lenz | born in Graz"}]
    body = {"model": "tiny", "messages": messages, "tools": tools, "temperature": 0}
    req = parse_request(json.dumps(body).encode(), ServeSettings())
    prompt = prompt_messages(req, "hermes")
    assert prompt[0]["role"] == "system" and "<tools>" in prompt[0]["content"] and '"search"' in prompt[0]["content"]
    assert formats.parse_turn(prompt[2]["content"], "hermes", tools).calls[0].arguments == {"query": "Lenz"}
    assert prompt[3] == {"role": "user", "content": "<tool_response>\nd1 | Maria Lenz | born in Graz\n</tool_response>"}
    reply = post(url, body).json()["choices"][0]
    assert reply["message"]["content"] == greedy.generate([prompt])[0].text  # free text: no call parsed
    assert reply["finish_reason"] in ("stop", "length")


# ------------------------------------------------------------------------------------- real episodes
def test_kuhn_episodes_step_with_served_replies(served, greedy: LMPolicy) -> None:
    """Whole hands of Kuhn poker (text, a random opponent) through the endpoint, then in-process: equal."""
    url, _ = served
    local = LMPolicy(greedy.model, greedy.tokenizer, temperature=0.0, max_new_tokens=MAX_NEW, constrain=True)

    def play(agent: Any, seed: int) -> tuple[list[str], float]:
        env = turngym.envs.make("turngym/KuhnPoker-v0", obs_mode="text", opponents=["random"], seat="random")
        obs, info = env.reset(seed=seed)
        actions, total = [], 0.0
        for _ in range(6):
            (action,) = agent.act([obs], [info])
            assert action in info["admissible_actions"]
            actions.append(action)
            obs, reward, terminated, truncated, info = env.step(action)
            assert info["action_valid"]
            total += float(reward)
            if terminated or truncated:
                assert terminated
                return actions, total
        raise AssertionError("a Kuhn hand lasts at most 3 decisions")

    with OpenAIChatPolicy(url, "tiny", temperature=0.0, constrain=True, max_tokens=MAX_NEW) as remote:
        for seed in range(4):
            actions, total = play(remote, seed)
            assert total in (-2.0, -1.0, 1.0, 2.0)
            assert (actions, total) == play(local, seed)


def test_tool_use_episode_solved_through_served_tool_calls(served) -> None:
    """ToolQA (openai call format) with the server forced (guided_choice) to write the expert's next step.

    The model writes hermes ``<tool_call>`` text, the server returns it as OpenAI ``tool_calls``, the client
    writes them in the env's ``openai`` format, the env runs the tools: the task is solved.
    """
    url, _ = served
    env = turngym.envs.make("turngym/ToolQA-v0", format="openai")
    obs, info = env.reset(seed=3)
    inner = env.unwrapped
    tools = [openai_schema(t) for t in inner.tools.values()]
    remote = OpenAIChatPolicy(url, "tiny", temperature=0.0, tools=tools, tool_format="openai", max_tokens=64)
    with remote:
        for _turn in range(12):
            step = expert_next_step(inner.task, inner.history, inner.tools)
            if isinstance(step, Answer):
                forced = formats.render_answer(step.text)
            else:
                forced = formats.render_calls([step], "hermes")
            remote.extra_body = {"guided_choice": [forced]}
            (action,) = remote.act([obs], [info])
            if not isinstance(step, Answer):
                assert action.startswith('{"tool_calls"')  # came back as tool_calls, written in the env's format
            obs, reward, terminated, truncated, info = env.step(action)
            assert info["action_valid"], obs
            if terminated or truncated:
                break
    assert terminated and info["success"] and reward == 1.0


def test_free_text_tool_use_episode_ends_by_the_turn_budget(served) -> None:
    """The untrained model's free text: every reply is a string the env judges; the episode ends truncated."""
    url, _ = served
    env = turngym.envs.make("turngym/ToolQA-v0", format="hermes", max_turns=3)
    obs, info = env.reset(seed=0)
    with OpenAIChatPolicy(url, "tiny", temperature=1.0, seed=0, max_tokens=MAX_NEW) as remote:
        for turns in range(1, 4):  # noqa: B007 - the count after the loop is checked
            (action,) = remote.act([obs], [info])
            assert isinstance(action, str)
            obs, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                break
    assert truncated and not terminated and turns == 3 and remote.usage.requests == 3


def test_collect_rolls_out_through_the_endpoint(served) -> None:
    url, _ = served
    with make_pool("turngym/KuhnPoker-v0", 4, env_kwargs={"obs_mode": "text", "opponents": ["random"],
                                                            "seat": "random"}) as pool, \
            OpenAIChatPolicy(url, "tiny", temperature=1.0, seed=1, max_concurrency=4, max_tokens=MAX_NEW) as remote:
        episodes = collect(pool, remote, seeds=[0, 1], group_size=2,
                           settings=RolloutSettings(constrain=True, max_context_tokens=None))
    assert len(episodes) == 4
    assert all(ep.terminated and ep.infra_error is None and ep.total_reward in (-2, -1, 1, 2) for ep in episodes)
    assert all(t.action_valid and t.generation.text in ("pass", "bet", "call", "fold")
               for ep in episodes for t in ep.turns)


# --------------------------------------------------------------------------------------- hostile input
HOSTILE: list[tuple[str, bytes, int]] = [
    ("truncated JSON", b'{"model": "tiny", "messages": [', 400),
    ("not UTF-8", b'{"model": "tiny", "messages": "\xff\xfe"}', 400),
    ("a JSON list", b"[1, 2]", 400),
    ("NaN temperature", b'{"model": "tiny", "messages": [{"role": "user", "content": "x"}], "temperature": NaN}', 400),
    ("deep nesting", b"[" * 30_000 + b"]" * 30_000, 400),
    ("no messages", json.dumps({"model": "tiny", "messages": []}).encode(), 400),
    ("messages not a list", json.dumps({"model": "tiny", "messages": "hi"}).encode(), 400),
    ("content a number", json.dumps(chat("x") | {"messages": [{"role": "user", "content": 5}]}).encode(), 400),
    ("unknown role", json.dumps(chat("x") | {"messages": [{"role": "wizard", "content": "x"}]}).encode(), 400),
    ("temperature a string", json.dumps(chat("x", temperature="hot")).encode(), 400),
    ("temperature too high", json.dumps(chat("x", temperature=9)).encode(), 400),
    ("max_tokens a bool", json.dumps(chat("x", max_tokens=True)).encode(), 400),
    ("max_tokens over the limit", json.dumps(chat("x", max_tokens=10**9)).encode(), 400),
    ("negative max_tokens", json.dumps(chat("x", max_tokens=-1)).encode(), 400),
    ("seed out of range", json.dumps(chat("x", seed=2**70)).encode(), 400),
    ("n = 3", json.dumps(chat("x", n=3)).encode(), 400),
    ("streaming", json.dumps(chat("x", stream=True)).encode(), 400),
    ("five stops", json.dumps(chat("x", stop=list("abcde"))).encode(), 400),
    ("bad tool", json.dumps(chat("x", tools=[{"type": "function", "function": {"name": 3}}])).encode(), 400),
    ("empty guided_choice", json.dumps(chat("x", guided_choice=[])).encode(), 400),
    ("another model", json.dumps(chat("x") | {"model": "gpt-9"}).encode(), 404),
    ("a body over the limit", json.dumps(chat("x" * (MAX_BODY + 10))).encode(), 413),
]


@pytest.mark.parametrize(("what", "body", "status"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_requests_get_4xx_and_the_server_keeps_serving(served, what: str, body: bytes, status: int) -> None:
    url, _ = served
    reply = post(url, content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert isinstance(error["message"], str) and error["message"] and error["type"]
    assert_still_serving(url)


def test_a_huge_declared_body_is_refused_before_it_is_sent(served) -> None:
    """Content-Length: 1 GB and no body: 413 at once (the server does not wait for a gigabyte)."""
    url, _ = served
    host, port = url.removeprefix("http://").removesuffix("/v1").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000000000\r\n\r\n")
        head = s.recv(4096).decode("latin-1")
    assert head.startswith("HTTP/1.1 413"), head
    assert_still_serving(url)


def test_a_chunked_body_over_the_limit_is_cut_off(served) -> None:
    url, _ = served

    def chunks():
        for _ in range(40):
            yield b" " * 4096

    reply = httpx.post(f"{url}/chat/completions", content=chunks(), timeout=30)  # no Content-Length
    assert reply.status_code == 413
    assert_still_serving(url)


def test_wrong_method_and_path(served) -> None:
    url, _ = served
    assert httpx.get(f"{url}/chat/completions", timeout=10).status_code == 405
    assert httpx.post(f"{url}/completions", json={}, timeout=10).status_code == 404
    assert_still_serving(url)


def test_a_full_queue_answers_503_and_the_client_retries_after_it(greedy: LMPolicy) -> None:
    """max_queue=1: while one request waits for the model, the next gets 503 + Retry-After; the client retries."""
    with ChatServer(greedy, ServeSettings(model_name="tiny", max_queue=1)) as server:
        url = server.base_url
        server.service.lock.acquire()  # the model is busy: the first request waits in the queue
        first: list[httpx.Response] = []
        waiting = threading.Thread(target=lambda: first.append(post(url, chat("first", temperature=0, max_tokens=3))))
        waiting.start()
        deadline = time.monotonic() + 10
        while server.service.pending < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        busy = post(url, chat("second", temperature=0, max_tokens=3))
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert busy.json()["error"]["code"] == "overloaded"
        statuses: list[int | None] = []
        remote = OpenAIChatPolicy(url, "tiny", temperature=0.0, max_tokens=3, backoff_base=0.05,
                                  on_retry=lambda e: statuses.append(e.status))
        releaser = threading.Timer(0.5, server.service.lock.release)
        releaser.start()
        with remote:
            (text,) = remote.act(["second"], [{}])  # retried after Retry-After (1 s), once the model is free
        releaser.join()
        waiting.join(30)
    assert first[0].status_code == 200
    assert statuses and statuses[0] == 503
    assert text == LMPolicy(greedy.model, greedy.tokenizer, temperature=0.0, max_new_tokens=3).act(["second"], [{}])[0]


# -------------------------------------------------------------------------------------- what is served
def test_a_training_checkpoint_serves_its_own_weights(tmp_path: Path, greedy: LMPolicy) -> None:
    trained = build_policy("tiny", seed=7, temperature=0.0, max_new_tokens=MAX_NEW)  # stands for RL-trained weights
    save_checkpoint(tmp_path, 3, {"model": trained.model.state_dict(), "config": config_json(TrainConfig())})
    prompt = [{"role": "user", "content": "Your card: J"}]
    expected = trained.generate([prompt])[0].text
    assert expected != greedy.generate([prompt])[0].text  # the weights matter, so the check below can fail
    for where in (tmp_path, tmp_path / "checkpoints" / "iter-000003.pt"):  # a run folder or the file itself
        loaded = load_served_policy(str(where), seed=0, temperature=0.0, max_new_tokens=MAX_NEW)
        assert loaded.generate([prompt])[0].text == expected


def test_forged_checkpoints_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_served_policy(str(junk))
    wrong = tmp_path / "wrong.pt"
    torch.save({"model": {"lm_head.weight": torch.zeros(2, 2)}, "config": config_json(TrainConfig())}, wrong)
    with pytest.raises(CheckpointError, match="do not fit"):
        load_served_policy(str(wrong))
    no_config = tmp_path / "noconfig.pt"
    torch.save({"model": {}, "config": "{}"}, no_config)
    with pytest.raises(CheckpointError, match="config"):
        load_served_policy(str(no_config))


def test_cli_bad_model_and_taken_port_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli.app, ["serve", "--model", str(tmp_path / "missing"), "--port", "0"])
    assert result.exit_code == 2 and "model.name" in result.output
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = runner.invoke(cli.app, ["serve", "--port", str(port)])
    assert result.exit_code == 2 and str(port) in result.output
    result = runner.invoke(cli.app, ["serve", "--tool-format", "xml", "--port", "0"])
    assert result.exit_code == 2 and "tool_format" in result.output
