"""``OpenAIChatPolicy``: any OpenAI-compatible ``/v1/chat/completions`` endpoint as a text policy.

vLLM, SGLang, ``turngym serve`` and hosted APIs speak the same protocol, so one client evaluates them all
(DESIGN section 4, "Leaderboards and served models"). Each observation becomes one chat request (a string
is sent as a single user message, as ``LMPolicy.act`` does; a list of ``{"role", "content"}`` messages is
sent as it is); the reply's text is the action. Tool calls that come back as OpenAI ``tool_calls`` are
written as text in the env's call format (``tool_format``), so the env parses them like any model output.

Failures of the endpoint are infrastructure failures, never actions (DESIGN section 3, ``infra_error``):

* 429, 408 and 5xx answers, timeouts and connection errors are retried ``max_retries`` times with
  exponential backoff and "equal jitter" (the delay before retry k is drawn uniformly from
  ``[c_k / 2, c_k]`` with ``c_k = min(max_backoff, backoff_base * 2 ** (k - 1))``; AWS Architecture Blog,
  "Exponential Backoff And Jitter", 2015), never shorter than a ``Retry-After`` the server sent (capped
  at ``max_backoff``). The jitter comes from the policy's own ``random.Random`` (no global RNG).
* Other 4xx answers (bad request, bad key, unknown model) and malformed replies are not retried.
* When a request still fails, ``act``/``generate`` raise ``PolicyInfraError`` once every other request of the
  batch has finished; it carries the reason per failed row and the results of the rows that succeeded, so a
  caller records the failed episodes with ``info["infra_error"] = err.reasons[i]`` and leaves them out of every
  score. An empty or made-up action is never returned in place of a failure.

Requests of one batch run concurrently on a thread pool of ``max_concurrency`` workers (one shared
``httpx.Client``, thread-safe, with as many connections), so at most that many are in flight per policy.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from turngym.agents.llm.policies.base import Generation, PolicyInfraError  # re-exported (moved to base)
from turngym.envs.core.errors import ConfigError

if TYPE_CHECKING:
    import httpx

#: Statuses retried besides every 5xx: request timeout and rate limit.
RETRY_STATUSES = frozenset({408, 429})
#: Tool-call text formats (those of ``turngym.envs.tooluse.formats``).
TOOL_FORMATS = ("openai", "hermes", "plain")
#: Characters of an error body kept in a failure reason.
REASON_BODY_CHARS = 300

ChatMessage = dict[str, Any]
"""One OpenAI chat message (``role``, ``content`` and, for tool turns, ``tool_calls`` / ``tool_call_id``)."""
ToolsArg = Sequence[Mapping[str, Any]] | Callable[[Mapping[str, Any]], Sequence[Mapping[str, Any]] | None] | None
RetryHook = Callable[["RetryEvent"], None]


@dataclass(frozen=True)
class RequestFailure:
    """Why one chat request gave no reply.

    Attributes:
        reason: One line for ``info["infra_error"]``: what failed, at which URL, after how many attempts.
        status: The last HTTP status, or None when no answer arrived (timeout, connection error).
        attempts: Requests sent (1 + retries).
        retryable: Whether the last error was of a retried kind (False: a 4xx or a malformed reply).
    """

    reason: str
    status: int | None
    attempts: int
    retryable: bool


@dataclass(frozen=True)
class RetryEvent:
    """One retry about to happen (passed to ``on_retry``, e.g. for logging).

    Attributes:
        attempt: The attempt that failed (1-based).
        delay: Seconds slept before the next attempt.
        reason: Why the attempt failed.
        status: Its HTTP status, or None.
    """

    attempt: int
    delay: float
    reason: str
    status: int | None


class _Failed(Exception):
    """Internal: one request failed for good."""

    def __init__(self, failure: RequestFailure):
        super().__init__(failure.reason)
        self.failure = failure


@dataclass
class Usage:
    """Running totals of a policy's traffic (thread-safe through the policy's lock).

    Attributes:
        requests: Chat requests that got a reply.
        attempts: HTTP requests sent (retries included).
        failures: Chat requests that failed for good.
        prompt_tokens: Sum of the endpoint's reported ``usage.prompt_tokens``.
        completion_tokens: Sum of its ``usage.completion_tokens``.
    """

    requests: int = 0
    attempts: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


def _clean(text: str) -> str:
    """``text`` as valid UTF-8 (lone surrogates become ``?``): JSON encoders and servers reject them."""
    return text.encode("utf-8", errors="replace").decode("utf-8")


def observation_messages(observation: Any, system_prompt: str | None = None) -> list[ChatMessage]:
    """The chat messages sent for one observation.

    A string (or anything else, as ``str``) is one user message; a list of message dicts is sent as it is
    (each must have a ``role``). ``system_prompt`` is put first unless the messages start with a system one.

    Raises:
        ConfigError: A message list with an entry that is not a dict with a string ``role``.
    """
    if isinstance(observation, (list, tuple)):
        messages = []
        for k, m in enumerate(observation):
            if not isinstance(m, Mapping) or not isinstance(m.get("role"), str):
                raise ConfigError(f"observation message {k}", "a dict with a string 'role'", m)
            msg = dict(m)
            if isinstance(msg.get("content"), str):
                msg["content"] = _clean(msg["content"])
            messages.append(msg)
    else:
        messages = [{"role": "user", "content": _clean(observation if isinstance(observation, str)
                                                       else str(observation))}]
    if system_prompt is not None and not (messages and messages[0]["role"] in ("system", "developer")):
        messages.insert(0, {"role": "system", "content": _clean(system_prompt)})
    return messages


def _content_text(content: Any) -> str:
    """A message's ``content`` as text: a string, None, or a list of ``{"type": "text", "text"}`` parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, Mapping) and isinstance(p.get("text"), str) for p in content):
        return "".join(p["text"] for p in content)
    raise ValueError(f"content is {type(content).__name__}, expected a string, null or text parts")


def tool_calls_as_text(tool_calls: Sequence[Any], fmt: str) -> str:
    """OpenAI ``tool_calls`` written as the text a model would write in the env's call ``fmt``.

    Arguments that are a JSON object (or a JSON string holding one) go through
    ``turngym.envs.tooluse.formats.render_calls``, the inverse of the env's parser. Anything else is passed on
    as the server sent it (``openai``/``hermes``: the raw arguments string, which the env's parser reads or
    rejects with a message; ``plain``: ``name(<raw>)``): a broken call is the model's mistake, judged by the env.

    Raises:
        ValueError: An entry without a ``function.name`` string (a malformed reply, not a model mistake).
    """
    from turngym.envs.tooluse.base import ToolCall
    from turngym.envs.tooluse.formats import render_calls

    blocks = []
    for k, call in enumerate(tool_calls):
        fn = call.get("function") if isinstance(call, Mapping) else None
        name = fn.get("name") if isinstance(fn, Mapping) else None
        if not isinstance(name, str):
            raise ValueError(f"tool_calls[{k}] has no function.name string")
        raw = fn.get("arguments")
        args: Any = raw
        if isinstance(raw, str):
            try:
                args = json.loads(raw) if raw.strip() else {}
            except (ValueError, RecursionError):
                args = None
        if isinstance(args, dict):
            try:
                blocks.append(render_calls([ToolCall(name, args)], fmt))
                continue
            except (TypeError, ValueError, RecursionError):  # NaN, non-JSON values, too deep: passed on raw
                pass
        blocks.append(_raw_call(name, raw, fmt))
    if fmt == "openai" and len(blocks) > 1:  # one {"tool_calls": [...]} object, as the parser expects
        return _json_text({"tool_calls": [e for b in blocks for e in json.loads(b)["tool_calls"]]})
    return "\n".join(blocks)


def _raw_call(name: str, raw: Any, fmt: str) -> str:
    if fmt == "plain":
        return f"{name}({raw if isinstance(raw, str) else json.dumps(raw, default=str)})"
    entry = {"name": name, "arguments": raw if isinstance(raw, str) else json.dumps(raw, default=str)}
    if fmt == "hermes":
        return f"<tool_call>\n{_json_text(entry)}\n</tool_call>"
    return _json_text({"tool_calls": [{"type": "function", "function": entry}]})


def _json_text(value: Any) -> str:
    """JSON whose ``<`` are escaped (only strings can hold one), so it never forms a ``<tool_call>`` tag."""
    return json.dumps(value, ensure_ascii=False, default=str).replace("<", "\\u003c")


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a ``Retry-After: <seconds>`` header (the HTTP-date form is ignored)."""
    value = headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 and seconds == seconds else None


def _error_detail(body: bytes) -> str:
    """The ``error.message`` of an OpenAI-style error body, else the body's start."""
    text = body[:4096].decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
        message = data["error"]["message"] if isinstance(data.get("error"), dict) else data.get("detail", text)
        text = message if isinstance(message, str) else json.dumps(message)
    except (ValueError, AttributeError, KeyError, TypeError):
        pass
    text = " ".join(text.split())
    return text[:REASON_BODY_CHARS] + ("..." if len(text) > REASON_BODY_CHARS else "")


class _TooLarge(Exception):
    pass


@dataclass
class _Reply:
    text: str
    finish_reason: str
    extras: dict[str, Any] = field(default_factory=dict)


class OpenAIChatPolicy:
    """An OpenAI-compatible chat endpoint as a policy (see the module docstring).

    Args:
        base_url: The API root, e.g. ``http://127.0.0.1:8000/v1``; requests go to ``{base_url}/chat/completions``.
        model: The ``model`` field of every request (the served name).
        api_key: Sent as ``Authorization: Bearer <api_key>`` when given.
        temperature: Sampling temperature (0: greedy). None leaves it to the server.
        top_p: Nucleus sampling; None leaves it to the server.
        max_tokens: Completion cap per reply; None leaves it to the server.
        stop: Stop strings. OpenAI-style servers cut the reply before the stop string; when the choice names
            the string that matched (``stop_reason``, as vLLM and ``turngym serve`` do), it is put back, so
            ``</answer>`` reaches the env as with ``LMPolicy``.
        seed: Sent with every request (servers that honour it then sample reproducibly). None: not sent.
        system_prompt: Prepended as a system message unless the conversation starts with one.
        tools: OpenAI ``tools`` entries sent with every request, or a function of the row's info returning
            them (None: no tools). ``turngym.envs.tooluse.base.openai_schema`` writes an env tool this way.
        tool_format: How returned ``tool_calls`` are written as the action text: ``openai`` (default),
            ``hermes`` or ``plain``, the env's ``format`` (see ``tool_calls_as_text``).
        constrain: Send ``guided_choice`` (the vLLM extension ``turngym serve`` also reads) with the row's
            ``info["admissible_actions"]`` where the env lists a finite set (``decoding_constraint``).
        extra_body: More fields merged into every request body (server extensions).
        timeout: Seconds an attempt may wait for each read or write (httpx's read, write and pool timeouts).
        connect_timeout: Seconds per attempt for opening the connection.
        max_retries: Retries after the first attempt, on 429/408/5xx, timeouts and connection errors.
        backoff_base: First retry's delay cap in seconds (doubles each retry).
        max_backoff: Largest delay in seconds (also caps ``Retry-After``).
        max_concurrency: Requests in flight at once (threads and connections).
        max_response_bytes: Longest reply body read; a longer one is a (non-retried) infrastructure failure.
        rng: Source of the backoff jitter; default ``random.Random(jitter_seed)``.
        jitter_seed: Seed of the default ``rng``.
        on_retry: Called before each retry sleep (logging, tests).
        headers: More HTTP headers.
        transport: An ``httpx`` transport (e.g. ``httpx.HTTPTransport(retries=0, uds=...)``); default httpx's.

    Raises:
        ConfigError: On a bad setting.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        temperature: float | None = 0.0,
        top_p: float | None = None,
        max_tokens: int | None = 256,
        stop: Sequence[str] = (),
        seed: int | None = None,
        system_prompt: str | None = None,
        tools: ToolsArg = None,
        tool_format: str = "openai",
        constrain: bool = False,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        max_backoff: float = 30.0,
        max_concurrency: int = 8,
        max_response_bytes: int = 8 * 2**20,
        rng: random.Random | None = None,
        jitter_seed: int = 0,
        on_retry: RetryHook | None = None,
        headers: Mapping[str, str] | None = None,
        transport: Any = None,
    ):
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigError("base_url", "an http(s) URL of the API root, e.g. http://127.0.0.1:8000/v1", base_url)
        if tool_format not in TOOL_FORMATS:
            raise ConfigError("tool_format", "one of " + ", ".join(TOOL_FORMATS), tool_format, TOOL_FORMATS)
        for name, value in (("timeout", timeout), ("connect_timeout", connect_timeout),
                            ("backoff_base", backoff_base), ("max_backoff", max_backoff)):
            # "not (x > 0)" also rejects NaN.
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ConfigError(name, "a number of seconds > 0", value)
        for name, value, low in (("max_retries", max_retries, 0), ("max_concurrency", max_concurrency, 1),
                                 ("max_response_bytes", max_response_bytes, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(name, f"an int >= {low}", value)
        if temperature is not None and not (isinstance(temperature, int | float) and 0 <= temperature <= 2):
            raise ConfigError("temperature", "a number in [0, 2] or None", temperature)
        if top_p is not None and not (isinstance(top_p, int | float) and 0 < top_p <= 1):
            raise ConfigError("top_p", "a number in (0, 1] or None", top_p)
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                       or max_tokens < 1):
            raise ConfigError("max_tokens", "an int >= 1 or None", max_tokens)
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.temperature = temperature
        self.top_p = top_p
        self.max_tokens = max_tokens
        self.stop = tuple(s for s in stop if s)
        self.seed = seed
        self.system_prompt = system_prompt
        self.tools = tools
        self.tool_format = tool_format
        self.constrain = bool(constrain)
        self.extra_body = dict(extra_body or {})
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.max_retries = int(max_retries)
        self.backoff_base = float(backoff_base)
        self.max_backoff = float(max_backoff)
        self.max_concurrency = int(max_concurrency)
        self.max_response_bytes = int(max_response_bytes)
        self.rng = rng if rng is not None else random.Random(jitter_seed)
        self.on_retry = on_retry
        self.usage = Usage()
        self._lock = threading.Lock()
        self._headers = {"Content-Type": "application/json", **dict(headers or {})}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._transport = transport
        self._client: httpx.Client | None = None
        self._pool: ThreadPoolExecutor | None = None

    # ------------------------------------------------------------------ lifecycle
    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                import httpx

                self._client = httpx.Client(
                    timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout),
                    limits=httpx.Limits(max_connections=self.max_concurrency,
                                        max_keepalive_connections=self.max_concurrency),
                    headers=self._headers, follow_redirects=False, transport=self._transport)
            return self._client

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="openai-chat")
            return self._pool

    def close(self) -> None:
        """Closes the connections and the thread pool (the policy reopens them if used again)."""
        with self._lock:
            pool, client, self._pool, self._client = self._pool, self._client, None, None
        if pool is not None:
            pool.shutdown(wait=True)
        if client is not None:
            client.close()

    def __enter__(self) -> OpenAIChatPolicy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ requests
    def request_body(self, messages: Sequence[ChatMessage], info: Mapping[str, Any] | None = None,
                     admissible: Sequence[str] | None = None) -> dict[str, Any]:
        """The JSON body of one chat request (``admissible``: the ``guided_choice`` list, or None)."""
        body: dict[str, Any] = {"model": self.model, "messages": list(messages)}
        for key, value in (("temperature", self.temperature), ("top_p", self.top_p),
                           ("max_tokens", self.max_tokens), ("seed", self.seed)):
            if value is not None:
                body[key] = value
        if self.stop:
            body["stop"] = list(self.stop)
        tools = self.tools(info or {}) if callable(self.tools) else self.tools
        if tools:
            body["tools"] = [dict(t) for t in tools]
        if admissible:
            body["guided_choice"] = list(admissible)
        body.update(self.extra_body)
        return body

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Delay before retry ``attempt`` (1-based): equal jitter over ``[c/2, c]``, at least ``Retry-After``."""
        cap = min(self.max_backoff, self.backoff_base * 2.0 ** min(attempt - 1, 64))  # no float overflow
        with self._lock:  # one stream shared by the worker threads
            delay = cap / 2 + self.rng.uniform(0, cap / 2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_backoff))
        return delay

    def _send(self, payload: bytes) -> tuple[int, bytes, Mapping[str, str]]:
        """One HTTP attempt; the body is read up to ``max_response_bytes`` (``_TooLarge`` past it)."""
        with self._http().stream("POST", self.url, content=payload) as response:
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise _TooLarge
                chunks.append(chunk)
            return response.status_code, b"".join(chunks), response.headers

    def _complete(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Sends one chat request with retries and returns the endpoint's JSON reply.

        Raises:
            _Failed: The request failed for good; ``act``/``generate`` turn it into ``PolicyInfraError``.
        """
        import httpx

        payload = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
        attempt = 0
        while True:
            attempt += 1
            status: int | None = None
            retry_after = None
            with self._lock:
                self.usage.attempts += 1
            try:
                status, data, headers = self._send(payload)
            except httpx.TimeoutException as err:
                reason, retryable = f"timed out ({type(err).__name__}; timeout {self.timeout:g} s)", True
            except httpx.TransportError as err:
                reason, retryable = f"connection failed ({type(err).__name__}: {err})", True
            except _TooLarge:
                reason, retryable = f"reply longer than max_response_bytes={self.max_response_bytes}", False
            else:
                if 200 <= status < 300:
                    try:
                        reply = json.loads(data)
                        if not isinstance(reply, dict):
                            raise ValueError(f"a JSON {type(reply).__name__}, not an object")
                        return reply
                    except (ValueError, RecursionError) as err:
                        reason, retryable = f"malformed reply (HTTP {status}, not a JSON object: {err})", False
                else:
                    retryable = status in RETRY_STATUSES or status >= 500
                    retry_after = _retry_after(headers)
                    reason = f"HTTP {status}: {_error_detail(data)}"
            if not retryable or attempt > self.max_retries:
                tries = f"{attempt} attempt{'s' * (attempt != 1)}"
                raise _Failed(RequestFailure(f"{self.url}: {reason} ({tries})", status, attempt, retryable))
            delay = self._backoff(attempt, retry_after)
            if self.on_retry is not None:
                self.on_retry(RetryEvent(attempt=attempt, delay=delay, reason=reason, status=status))
            time.sleep(delay)

    def _reply(self, body: Mapping[str, Any]) -> _Reply:
        reply = self._complete(body)
        try:
            choice = reply["choices"][0]
            message = choice["message"]
            text = _content_text(message.get("content"))
            calls = message.get("tool_calls")
            if calls:
                if not isinstance(calls, list):
                    raise ValueError("tool_calls is not a list")
                written = tool_calls_as_text(calls, self.tool_format)
                text = f"{text}\n{written}" if text.strip() else written
            finish = choice.get("finish_reason") or "stop"
            stop_reason = choice.get("stop_reason")
            if (isinstance(stop_reason, str) and stop_reason in self.stop and finish == "stop"
                    and not text.endswith(stop_reason)):
                text += stop_reason  # the server cut the stop string off; the env needs it (e.g. </answer>)
            usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else {}
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as err:
            reason = f"{self.url}: malformed chat completion ({type(err).__name__}: {err})"
            raise _Failed(RequestFailure(reason, 200, 1, False)) from None
        prompt_tokens, completion_tokens = usage.get("prompt_tokens"), usage.get("completion_tokens")
        with self._lock:
            self.usage.requests += 1
            self.usage.prompt_tokens += prompt_tokens if isinstance(prompt_tokens, int) else 0
            self.usage.completion_tokens += completion_tokens if isinstance(completion_tokens, int) else 0
        extras = {"usage": usage, "model": reply.get("model"), "id": reply.get("id")}
        return _Reply(text=_clean(text), finish_reason=str(finish), extras=extras)

    def _batch(self, bodies: list[dict[str, Any]]) -> list[_Reply]:
        """Runs every request (``max_concurrency`` at a time); raises ``PolicyInfraError`` after all finished.

        The error's ``partial`` holds the ``_Reply`` of each row that succeeded (callers convert it).
        """
        results: list[_Reply | None] = [None] * len(bodies)
        failures: dict[int, RequestFailure] = {}

        def run(i: int) -> None:
            try:
                results[i] = self._reply(bodies[i])
            except _Failed as err:
                failures[i] = err.failure

        if len(bodies) == 1:
            run(0)
        else:
            for future in [self._executor().submit(run, i) for i in range(len(bodies))]:
                future.result()
        if failures:
            with self._lock:
                self.usage.failures += len(failures)
            raise PolicyInfraError(failures, results)
        return [r for r in results if r is not None]

    # ------------------------------------------------------------------ policy interface
    def _admissible(self, info: Mapping[str, Any] | None) -> list[str] | None:
        if not self.constrain or not info:
            return None
        from turngym.agents.llm.policies.lm import decoding_constraint

        return decoding_constraint(info.get("admissible_actions"))

    def act(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]]) -> list[str]:
        """One reply per observation (a string: one user message; a message list: sent as it is).

        Raises:
            PolicyInfraError: Some request failed for good (see the module docstring); the others' replies
                are in ``err.partial``.
        """
        if len(infos) != len(observations):
            raise ValueError(f"{len(infos)} infos for {len(observations)} observations")
        bodies = [self.request_body(observation_messages(obs, self.system_prompt), info, self._admissible(info))
                  for obs, info in zip(observations, infos, strict=True)]
        try:
            return [r.text for r in self._batch(bodies)]
        except PolicyInfraError as err:
            err.partial = [r.text if r is not None else None for r in err.partial]
            raise

    def generate(
        self,
        prompts: Sequence[Sequence[ChatMessage]],
        *,
        admissible: Sequence[Sequence[str] | None] | None = None,
    ) -> list[Generation]:
        """One reply per chat prompt, as ``Generation`` records for evaluation rollouts.

        The endpoint returns text only: ``prompt_ids``, ``completion_ids`` and ``logprobs`` are empty, so these
        records can be evaluated but never trained on. The server's ``usage`` is in ``extras``.
        ``admissible[i]`` (a finite list) is sent as ``guided_choice``.

        Raises:
            PolicyInfraError: As ``act``; ``err.partial`` holds the other rows' ``Generation``.
        """
        if admissible is not None and len(admissible) != len(prompts):
            raise ValueError(f"admissible has {len(admissible)} entries for {len(prompts)} prompts")
        from turngym.agents.llm.policies.lm import decoding_constraint

        bodies = []
        for i, prompt in enumerate(prompts):
            listed = decoding_constraint(admissible[i]) if admissible is not None else None
            bodies.append(self.request_body(observation_messages(list(prompt), self.system_prompt), None, listed))
        def record(r: _Reply) -> Generation:
            return Generation(text=r.text, prompt_ids=[], completion_ids=[], logprobs=[],
                              finish_reason=r.finish_reason, extras=r.extras)

        try:
            return [record(r) for r in self._batch(bodies)]
        except PolicyInfraError as err:
            err.partial = [record(r) if r is not None else None for r in err.partial]
            raise


__all__ = ["OpenAIChatPolicy", "PolicyInfraError", "RequestFailure", "RetryEvent", "Usage", "observation_messages",
           "tool_calls_as_text"]
