"""``turngym serve``: an ``LMPolicy`` behind an OpenAI-compatible chat API (FastAPI on uvicorn).

Any policy (the tiny model, a Hugging Face folder or id, an RL checkpoint of ``turngym train``) becomes an
endpoint that ``OpenAIChatPolicy``, vLLM clients and the ``openai`` package can call (DESIGN section 4,
"Leaderboards and served models")::

    GET  /health                 {"status": "ok"}
    GET  /v1/models              the one served model
    POST /v1/chat/completions    messages -> one assistant message (n = 1, no streaming)

A reply is exactly what ``LMPolicy.generate`` gives for the same chat messages and settings: the request's
``temperature``, ``top_p``, ``max_tokens`` (or ``max_completion_tokens``) and ``stop`` are set on the policy
for that request, and a ``seed`` re-seeds its sampling generator for that request only (so a seeded,
or greedy, request is reproducible and equals an in-process ``LMPolicy`` built with that seed). Unseeded
requests continue the policy's own stream. A prompt longer than the model's context is left-truncated, as
``LMPolicy`` does (``usage.prompt_tokens`` counts what the model saw). Extensions are read as vLLM reads
them: ``guided_choice`` (the reply is one of these strings: ``LMPolicy``'s constrained decoding) and
``include_stop_str_in_output`` (OpenAI semantics cut the stop string off the content;
``choices[0].stop_reason`` names it).

Tools: ``tools`` (OpenAI ``function`` entries) are written into the system message with
``turngym.envs.tooluse.formats.format_instructions`` in the server's ``tool_format`` (the prompt a
turngym tool-use env shows), and a reply that parses as calls in that format comes back as ``tool_calls``
(``finish_reason: "tool_calls"``). Assistant ``tool_calls`` and ``tool`` messages in the history are
written back as the model would have seen them in the env (calls in the format; results as the env renders
them, in a user turn).

Hostile input (DESIGN section 5: anything a client sends) gets a 4xx with an OpenAI-shaped ``error`` and
leaves the server serving: bodies over ``max_body_bytes`` (413, refused before they are read whole),
malformed or non-standard JSON (``NaN``, nesting deep enough to overflow the parser), wrong types or ranges
(400), an unknown model (404), more waiting requests than ``max_queue`` (503 with ``Retry-After``).
Generation on a CPU is not thread-safe and saturates the cores, so one request generates at a time (a lock).
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from turngym.envs.core.errors import ConfigError, MissingExtraError
from turngym.envs.core.served import start_in_thread, stop_in_thread

if TYPE_CHECKING:
    from turngym.agents.llm.policies.lm import LMPolicy

try:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
except ImportError as _err:  # the server stack ships with the web extra (fastapi, uvicorn, httpx)
    raise MissingExtraError(__name__, "llm", _err.name or "fastapi") from _err

logger = logging.getLogger(__name__)

#: Most messages in one request.
MAX_MESSAGES = 4096
#: Most tools in one request.
MAX_TOOLS = 128
#: Most ``guided_choice`` strings in one request.
MAX_CHOICES = 4096
#: Most stop strings (the OpenAI API's limit).
MAX_STOPS = 4
_START_TIMEOUT_S = 60.0
#: uvicorn's log levels.
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


@dataclass(frozen=True)
class ServeSettings:
    """How the server answers.

    Attributes:
        model_name: The ``model`` requests must name (``/v1/models`` lists it).
        max_body_bytes: Longest request body read (413 past it).
        max_tokens_limit: Most completion tokens a request may ask for (400 past it).
        default_max_tokens: Completion tokens when a request sets none (None: the policy's ``max_new_tokens``).
        max_queue: Requests waiting or generating at once; one more gets 503 with ``Retry-After``.
        tool_format: How tools are shown to the model and its calls parsed: ``hermes``, ``openai`` or ``plain``.
    """

    model_name: str = "tiny"
    max_body_bytes: int = 2 * 2**20
    max_tokens_limit: int = 2048
    default_max_tokens: int | None = None
    max_queue: int = 64
    tool_format: str = "hermes"

    def __post_init__(self) -> None:
        from turngym.envs.tooluse.formats import FORMATS

        if self.tool_format not in FORMATS:
            raise ConfigError("tool_format", "one of " + ", ".join(FORMATS), self.tool_format, FORMATS)
        for name in ("max_body_bytes", "max_tokens_limit", "max_queue"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(name, "an int >= 1", value)
        if not self.model_name:
            raise ConfigError("model_name", "a non-empty name", self.model_name)
        if self.default_max_tokens is not None and not 1 <= self.default_max_tokens <= self.max_tokens_limit:
            raise ConfigError("default_max_tokens", f"an int in [1, max_tokens_limit={self.max_tokens_limit}] or None",
                              self.default_max_tokens)


# ---------------------------------------------------------------------------------------------- requests
def _request_models() -> dict[str, Any]:
    """The pydantic request models (built on first use: pydantic loads only where the server runs)."""
    from pydantic import BaseModel, ConfigDict, Field

    # Strict: "0.5" is not a temperature and true is not a token count (the OpenAI API rejects them too);
    # unknown fields (user, logit_bias, ...) are ignored, as OpenAI-compatible servers do.
    strict = ConfigDict(strict=True, extra="ignore")

    class Function(BaseModel):
        model_config = strict
        name: str = Field(min_length=1, max_length=256)
        description: str = ""
        parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})

    class Tool(BaseModel):
        model_config = strict
        type: Literal["function"] = "function"
        function: Function

    class CallFunction(BaseModel):
        model_config = strict
        name: str = Field(min_length=1, max_length=256)
        arguments: str | dict[str, Any] = ""

    class ToolCallEntry(BaseModel):
        model_config = strict
        id: str = ""
        type: Literal["function"] = "function"
        function: CallFunction

    class TextPart(BaseModel):
        model_config = strict
        type: Literal["text"]
        text: str

    class Message(BaseModel):
        model_config = strict
        role: Literal["system", "developer", "user", "assistant", "tool"]
        content: str | list[TextPart] | None = None
        name: str | None = None
        tool_calls: list[ToolCallEntry] | None = Field(None, max_length=MAX_TOOLS)
        tool_call_id: str | None = None

    class ChatRequest(BaseModel):
        model_config = strict
        model: str
        messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)
        temperature: float | None = Field(None, ge=0.0, le=2.0)
        top_p: float | None = Field(None, gt=0.0, le=1.0)
        max_tokens: int | None = Field(None, ge=0)
        max_completion_tokens: int | None = Field(None, ge=0)
        stop: str | list[str] | None = None
        # torch.Generator.manual_seed's range.
        seed: int | None = Field(None, ge=-(2**63), le=2**64 - 1)
        n: int = 1
        stream: bool = False
        logprobs: bool | None = None
        tools: list[Tool] | None = Field(None, max_length=MAX_TOOLS)
        tool_choice: Literal["none", "auto"] | None = None
        guided_choice: list[str] | None = Field(None, min_length=1, max_length=MAX_CHOICES)
        include_stop_str_in_output: bool = False

    return {"ChatRequest": ChatRequest}


class RequestError(Exception):
    """A request the server refuses: its HTTP status and OpenAI-style error fields."""

    def __init__(self, status: int, message: str, *, kind: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.code = status, message, kind, param, code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """``{"error": {"message", "type", "param", "code"}}``."""
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def parse_request(body: bytes, settings: ServeSettings) -> Any:
    """Validates a request body; returns the ``ChatRequest``.

    Raises:
        RequestError: 400 for malformed JSON, wrong types, ranges or unsupported options; 404 for another model.
    """
    try:
        # Python's json reads NaN/Infinity, which JSON does not allow; deep nesting overflows its recursion.
        data = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as err:
        detail = "nested too deeply" if isinstance(err, RecursionError) else str(err)[:200]
        raise RequestError(400, f"the request body is not valid JSON ({detail})", code="invalid_json") from None
    if not isinstance(data, dict):
        raise RequestError(400, f"the request body must be a JSON object, got a JSON {type(data).__name__}")
    from pydantic import ValidationError

    try:
        req = _request_models()["ChatRequest"].model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        more = f" (and {err.error_count() - 1} more problems)" if err.error_count() > 1 else ""
        raise RequestError(400, f"{where or 'body'}: {first['msg']}{more}", param=where or None) from None
    except RecursionError:
        raise RequestError(400, "the request is nested too deeply", code="invalid_json") from None
    if req.model != settings.model_name:
        raise RequestError(404, f"the model {req.model!r} does not exist; this server serves {settings.model_name!r}",
                           param="model", code="model_not_found")
    if req.n != 1:
        raise RequestError(400, f"n must be 1 (one completion per request), got {req.n}", param="n")
    if req.stream:
        raise RequestError(400, "stream=true is not supported; send stream=false", param="stream")
    if req.logprobs:
        raise RequestError(400, "logprobs are not supported", param="logprobs")
    stops = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
    if len(stops) > MAX_STOPS:
        raise RequestError(400, f"at most {MAX_STOPS} stop strings, got {len(stops)}", param="stop")
    limit = settings.max_tokens_limit
    for name in ("max_tokens", "max_completion_tokens"):
        value = getattr(req, name)
        if value is not None and value > limit:
            raise RequestError(400, f"{name} is {value}; this server allows at most {limit}", param=name)
    return req


# ---------------------------------------------------------------------------------------------- prompts
def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.text for part in content)


def _tool_dicts(req: Any) -> list[dict[str, Any]]:
    if not req.tools or req.tool_choice == "none":
        return []
    return [{"type": "function", "function": t.function.model_dump()} for t in req.tools]


def prompt_messages(req: Any, tool_format: str, system_prompt: str | None = None) -> list[dict[str, str]]:
    """The ``{"role", "content"}`` messages ``LMPolicy`` generates from, for a validated request.

    ``developer`` counts as ``system``; assistant ``tool_calls`` are written in ``tool_format`` after the
    assistant's text; consecutive ``tool`` messages become one user turn rendered as the env renders tool
    results; the tool instructions go at the end of the system message (``system_prompt`` when the request
    has none, as ``LMPolicy`` would prepend it).

    Raises:
        RequestError: 400 when the tools cannot be described (a malformed schema).
    """
    from turngym.agents.llm.policies.openai_chat import tool_calls_as_text
    from turngym.envs.tooluse import formats
    from turngym.envs.tooluse.base import ToolCall, ToolResult

    names: dict[str, str] = {}  # tool_call_id -> function name, for tool results that give no name
    out: list[dict[str, str]] = []
    pending: list[tuple[ToolCall, ToolResult]] = []

    def flush() -> None:
        if pending:
            calls, results = zip(*pending, strict=True)
            out.append({"role": "user", "content": formats.render_results(list(calls), list(results), tool_format,
                                                                           max_chars=10**9)})
            pending.clear()

    for m in req.messages:
        if m.role == "tool":
            name = m.name or names.get(m.tool_call_id or "", "tool")
            pending.append((ToolCall(name, {}), ToolResult(ok=True, output=_text(m.content))))
            continue
        flush()
        text = _text(m.content)
        if m.role == "assistant" and m.tool_calls:
            entries = [c.model_dump() for c in m.tool_calls]
            for c in entries:
                names[c["id"]] = c["function"]["name"]
            calls = tool_calls_as_text(entries, tool_format)
            text = f"{text}\n{calls}" if text.strip() else calls
        out.append({"role": "system" if m.role == "developer" else m.role, "content": text})
    flush()
    tools = _tool_dicts(req)
    if tools:
        try:
            instructions = formats.format_instructions(tool_format, tools)
        except (ConfigError, TypeError, ValueError) as err:
            raise RequestError(400, f"tools: {err}", param="tools") from None
        if out and out[0]["role"] == "system":
            out[0]["content"] = f"{out[0]['content']}\n\n{instructions}" if out[0]["content"] else instructions
        else:
            head = f"{system_prompt}\n\n{instructions}" if system_prompt else instructions
            out.insert(0, {"role": "system", "content": head})
    return out


# ---------------------------------------------------------------------------------------------- service
class ChatService:
    """Answers chat requests with one ``LMPolicy`` (one generation at a time); ``app`` is its FastAPI app.

    Args:
        policy: The policy served. Its ``temperature`` and ``top_p`` are the defaults of requests that set
            none; each request's settings apply to that request only.
        settings: See ``ServeSettings``.
    """

    def __init__(self, policy: LMPolicy, settings: ServeSettings | None = None):
        self.policy = policy
        self.settings = settings or ServeSettings()
        self.lock = threading.Lock()
        self.pending = 0  # requests admitted and not yet answered (changed on the event loop only)
        self.app = self._build_app()

    # ------------------------------------------------------------------ generation
    def complete(self, req: Any) -> dict[str, Any]:
        """The chat-completion JSON for a validated request (runs the model; call from a worker thread)."""
        from turngym.envs.tooluse import formats

        p = self.policy
        tools = _tool_dicts(req)
        messages = prompt_messages(req, self.settings.tool_format, getattr(p, "system_prompt", None))
        stops = [s for s in ([req.stop] if isinstance(req.stop, str) else list(req.stop or [])) if s]
        max_tokens = req.max_completion_tokens if req.max_completion_tokens is not None else req.max_tokens
        if max_tokens is None:
            max_tokens = self.settings.default_max_tokens or p.max_new_tokens
        admissible = [list(req.guided_choice)] if req.guided_choice else None
        with self.lock:
            saved = (p.temperature, p.top_p, p.max_new_tokens, p.stop)
            rng = p.rng_state() if req.seed is not None else None
            try:
                p.temperature = float(req.temperature) if req.temperature is not None else saved[0]
                p.top_p = float(req.top_p) if req.top_p is not None else saved[1]
                p.max_new_tokens = int(max_tokens)
                p.stop = tuple(stops)
                if req.seed is not None:
                    p.generator.manual_seed(int(req.seed))
                gen = p.generate([messages], admissible=admissible)[0]
            finally:
                p.temperature, p.top_p, p.max_new_tokens, p.stop = saved
                if rng is not None:
                    p.set_rng_state(rng)  # a seeded request leaves the unseeded stream where it was
        text, finish = gen.text, "length" if gen.finish_reason == "length" else "stop"
        matched = None
        if gen.finish_reason == "stop":  # "constrained" replies ignore stop strings (LMPolicy.generate)
            matched = max((s for s in stops if text.endswith(s)), key=len, default=None)
        content = text[:-len(matched)] if matched and not req.include_stop_str_in_output else text
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if tools:
            parsed = formats.parse_turn(text, self.settings.tool_format, tools)
            if parsed.calls:
                message = {"role": "assistant", "content": None, "tool_calls": [
                    {"id": f"call_{secrets.token_hex(12)}", "type": "function",
                     "function": {"name": c.name, "arguments": json.dumps(c.arguments, ensure_ascii=False)}}
                    for c in parsed.calls]}
                finish, matched = "tool_calls", None
        prompt_tokens, completion_tokens = len(gen.prompt_ids), len(gen.completion_ids)
        return {
            "id": f"chatcmpl-{secrets.token_hex(12)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.settings.model_name,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "stop_reason": matched,
                         "logprobs": None}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }

    # ------------------------------------------------------------------ HTTP
    def _build_app(self) -> FastAPI:
        from starlette.concurrency import run_in_threadpool

        settings = self.settings
        app = FastAPI(title="turngym serve", docs_url=None, redoc_url=None, openapi_url=None)

        def error(err: RequestError) -> JSONResponse:
            return JSONResponse(err.body(), status_code=err.status, headers=err.headers)

        @app.get("/health")
        def health() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/v1/models")
        def models() -> dict[str, Any]:
            return {"object": "list", "data": [{"id": settings.model_name, "object": "model", "created": 0,
                                                "owned_by": "turngym"}]}

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> JSONResponse:
            try:
                body = await self._read_body(request)
                req = parse_request(body, settings)
            except RequestError as err:
                return error(err)
            if self.pending >= settings.max_queue:
                return error(RequestError(503, f"the server is busy ({self.pending} requests queued); retry later",
                                          kind="server_error", code="overloaded", headers={"Retry-After": "1"}))
            self.pending += 1
            try:
                result = await run_in_threadpool(self.complete, req)
            except RequestError as err:
                return error(err)
            except Exception as err:  # noqa: BLE001 - one failed generation must not take the server down
                logger.exception("generation failed")
                return error(RequestError(500, f"generation failed ({type(err).__name__}: {str(err)[:300]})",
                                          kind="server_error"))
            finally:
                self.pending -= 1
            return JSONResponse(result)

        return app

    async def _read_body(self, request: Request) -> bytes:
        """The body, refused with 413 once it is longer than ``max_body_bytes`` (before it is all read)."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        too_long = RequestError(413, f"the request body is longer than {limit} bytes", code="request_too_large")
        if declared is not None:
            try:
                if int(declared) > limit:
                    raise too_long
            except ValueError:
                raise RequestError(400, "malformed Content-Length header") from None
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_long
            chunks.append(chunk)
        return b"".join(chunks)


def create_app(policy: LMPolicy, settings: ServeSettings | None = None) -> FastAPI:
    """The FastAPI app serving ``policy`` (see ``ChatService``)."""
    return ChatService(policy, settings).app


# ---------------------------------------------------------------------------------------------- models
def load_served_policy(model: str, *, seed: int = 0, device: str | None = None, **policy_kwargs: Any) -> LMPolicy:
    """The ``LMPolicy`` to serve: ``tiny``, an RL checkpoint of ``turngym train``, or a transformers model.

    Args:
        model: ``"tiny"``; a checkpoint file (``.../checkpoints/iter-000010.pt``) or a run folder (its newest
            checkpoint), whose model (``model.name``, ``model.lora_rank`` of the run's config) is rebuilt and
            given the checkpoint's weights; else a local transformers folder or Hugging Face id.
        seed: Seed of the policy's generator (and of the tiny model's init, overwritten by a checkpoint).
        device: ``cpu``, ``cuda`` or None (CUDA when available).
        **policy_kwargs: Other ``LMPolicy`` arguments (``temperature``, ``max_new_tokens``, ...).

    Raises:
        CheckpointError: The checkpoint is unreadable or its weights do not fit its model.
        ConfigError: A model name or folder that cannot be loaded.
    """
    from turngym.agents.llm.policies.tiny import build_policy
    from turngym.agents.llm.train.checkpoint import latest_checkpoint

    path = Path(model).expanduser()
    checkpoint = path if path.is_file() else latest_checkpoint(path) if path.is_dir() else None
    if checkpoint is None:
        return build_policy(model, seed=seed, device=device, **policy_kwargs)
    return _policy_from_checkpoint(checkpoint, seed=seed, device=device, **policy_kwargs)


def _policy_from_checkpoint(path: Path, *, seed: int, device: str | None, **policy_kwargs: Any) -> LMPolicy:
    """The policy of a training checkpoint (only its ``model`` weights and ``config.model`` are used)."""
    import torch

    from turngym.agents.llm.policies.tiny import build_policy
    from turngym.agents.llm.train.checkpoint import CheckpointError, load_checkpoint
    from turngym.agents.llm.train.config import ModelConfig, from_dict

    state = load_checkpoint(path)  # weights_only: a forged file runs no code (DESIGN section 5)
    weights, config = state.get("model"), state.get("config")
    if not (isinstance(weights, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in weights.items())):
        raise CheckpointError(f"{path}: 'model' must be a state dict (str -> tensor)")
    try:
        cfg = from_dict(ModelConfig, json.loads(config)["model"])
        name, rank = str(cfg.name), int(cfg.lora_rank)
    except (TypeError, ValueError, KeyError) as err:
        raise CheckpointError(f"{path}: 'config' is not a turngym run config ({type(err).__name__}: {err})") from None
    policy = build_policy(name, seed=seed, device=device, **policy_kwargs)
    if rank > 0:
        policy = policy.with_lora(r=rank)
    try:
        policy.model.load_state_dict(weights)
    except (RuntimeError, KeyError, ValueError) as err:
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(f"{path}: the weights do not fit its model {name!r} ({detail})") from err
    policy.model.eval()
    return policy


# ---------------------------------------------------------------------------------------------- running
def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: the OS picks a free one, so there is no race for it).

    Raises:
        ConfigError: The address cannot be bound (in use, not an address of this machine).
    """
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as err:
        raise ConfigError("--host/--port", f"an address this machine can listen on ({err.strerror or err})",
                          f"{host}:{port}") from None
    return sock


def _uvicorn_server(app: Any, log_level: str) -> Any:
    import uvicorn

    # lifespan off: the app has no startup work; keep-alive is short so idle clients do not pin connections.
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off", timeout_keep_alive=5)
    return uvicorn.Server(config)


def run_server(app: FastAPI, host: str = "127.0.0.1", port: int = 8000, *, log_level: str = "warning",
               announce: Callable[[str], None] | None = None) -> None:
    """Serves ``app`` in this thread until SIGINT/SIGTERM; ``announce(base_url)`` is called once it accepts.

    The socket is bound first (``bind_socket``), so ``port=0`` works and the announced URL has the real port.
    """
    sock = bind_socket(host, port)
    server = _uvicorn_server(app, log_level)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host

    def watch() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.01)
        if server.started and announce is not None:
            announce(f"http://{shown}:{bound}/v1")

    threading.Thread(target=watch, name="turngym-serve-ready", daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


class ChatServer:
    """``create_app(policy)`` served on 127.0.0.1 (a free port) in a background thread; a context manager.

    For in-process use (notebooks, tests of clients); ``turngym serve`` runs the same app in its own process.
    """

    def __init__(self, policy: LMPolicy, settings: ServeSettings | None = None, host: str = "127.0.0.1"):
        self.service = ChatService(policy, settings)
        self.host = host
        self.port: int | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def start(self) -> ChatServer:
        """Starts serving; returns self.

        Raises:
            RuntimeError: The server did not come up within 60 s.
        """
        if self._thread is not None:
            return self
        sock = bind_socket(self.host, 0)
        server = _uvicorn_server(self.service.app, "warning")
        thread = start_in_thread(server, sock, "turngym-chat-server", _START_TIMEOUT_S)
        self._server, self._thread, self._socket = server, thread, sock
        self.port = sock.getsockname()[1]
        return self

    def stop(self) -> None:
        """Stops the server, joins its thread and closes its socket (idempotent)."""
        if self._thread is None:
            return
        stop_in_thread(self._server, self._thread, self._socket)
        self._server = self._thread = self._socket = None
        self.port = None

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``."""
        if self.port is None:
            raise RuntimeError("the chat server is not running; call start()")
        return f"http://{self.host}:{self.port}/v1"


def serve_main(model: str = "tiny", *, host: str = "127.0.0.1", port: int = 8000, seed: int = 0,
               device: str | None = None, settings: ServeSettings | None = None, log_level: str = "warning",
               policy_kwargs: dict[str, Any] | None = None) -> None:
    """Loads the policy, then serves it until SIGINT/SIGTERM (``turngym serve``).

    The line ``turngym serve: <name> ready at <base_url>`` goes to stdout (flushed) once requests are accepted.
    """
    settings = settings or ServeSettings()
    if log_level not in LOG_LEVELS:
        raise ConfigError("log_level", "one of " + ", ".join(LOG_LEVELS), log_level, LOG_LEVELS)
    if port:  # a taken port fails now, not after minutes of model loading
        bind_socket(host, port).close()
    policy = load_served_policy(model, seed=seed, device=device, **(policy_kwargs or {}))
    app = create_app(policy, settings)

    def announce(url: str) -> None:
        print(f"turngym serve: {settings.model_name} ready at {url}", flush=True)

    run_server(app, host, port, log_level=log_level, announce=announce)


__all__ = ["ChatServer", "ChatService", "RequestError", "ServeSettings", "bind_socket", "create_app",
           "load_served_policy", "parse_request", "prompt_messages", "run_server", "serve_main"]
