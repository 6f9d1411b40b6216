"""A real local OpenAI-compatible HTTP/1.1 server with seeded fault injection.

Why hand-rolled on asyncio streams rather than a web framework: it must misbehave at the socket
level (hang, drop the connection, send a truncated body) exactly when told to, and it must cost
almost nothing per request, because benchmarks push thousands of zero-latency calls through it.
It serves `POST /v1/chat/completions` and `GET /v1/models`, keeps connections alive, records
every request body and counts attempts per case, so tests can check retries from the server's
side. Run `python -m promptops.testing.openai_server --port N` to use it from other tools.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from promptops.testing.ratelimit import ProviderLimits

Answer = Callable[[dict[str, Any]], str]
ChoiceExtra = Callable[[dict[str, Any], str], dict[str, Any]]

TRANSIENT_FAULTS: tuple[str, ...] = ("429", "500", "503", "hang", "malformed", "drop")
# "quota" is a 429 that is no rate limit: billing is exhausted (OpenAI's insufficient_quota).
_SOCKET_FAULTS = frozenset({"hang", "malformed", "drop", "quota"})
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True)
class FaultPlan:
    """Which attempts fail and how; decided by a seeded hash of (case, attempt number).

    Hashing rather than drawing from one shared stream keeps the plan independent of request
    order, so a run under concurrency faults the same attempts every time. `kinds` holds
    HTTP statuses as strings ("429", "500", "400", ...) and the socket faults "hang" (no answer
    for `hang_s`), "malformed" (a 200 with truncated JSON) and "drop" (close without answer).
    `persistent` makes every attempt fail; `max_per_case` stops faulting a case after that
    many attempts (rate=1, max_per_case=2: the first two attempts fail, the third succeeds).
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = TRANSIENT_FAULTS
    seed: int = 0
    persistent: bool = False
    retry_after: str | None = "0"
    retry_after_ms: int | None = None
    max_per_case: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be in [0, 1], got {self.rate}")
        for kind in self.kinds:
            if kind not in _SOCKET_FAULTS and not (kind.isdigit() and len(kind) == 3):
                raise ValueError(f"unknown fault kind {kind!r}")

    def fault_for(self, case: str, attempt: int) -> str | None:
        if not self.kinds or (not self.persistent and self.rate == 0.0):
            return None
        if self.max_per_case is not None and attempt > self.max_per_case:
            return None
        rng = random.Random(f"{self.seed}|{case}|{attempt}")
        if not self.persistent and rng.random() >= self.rate:
            return None
        return rng.choice(self.kinds)


def last_user_message(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


def _enum_labels(body: dict[str, Any]) -> list[str] | None:
    try:
        labels = body["response_format"]["json_schema"]["schema"]["properties"]["label"]["enum"]
    except (KeyError, TypeError):
        return None
    return [str(label) for label in labels] if isinstance(labels, list) and labels else None


def default_answer(body: dict[str, Any]) -> str:
    """For an enum schema, the label that occurs first in the last user message (else the first
    label) as `{"label": ...}`; for free text, an echo of the last user message."""
    question = last_user_message(body)
    labels = _enum_labels(body)
    if labels is None:
        return f"echo: {question}"
    lowered = question.lower()
    found = [(lowered.find(label.lower()), i) for i, label in enumerate(labels)]
    hits = [(pos, i) for pos, i in found if pos >= 0]
    return json.dumps({"label": labels[min(hits)[1] if hits else 0]})


@dataclass
class _Request:
    method: str
    path: str
    keep_alive: bool
    body: bytes


@dataclass
class _Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class FakeOpenAIServer:
    """`with FakeOpenAIServer(...) as srv:` serves on `srv.base_url` from a background thread.

    `requests` holds every chat request body in arrival order; `attempts` and `faulted` count,
    per case (the last user message), the attempts seen and the faults injected;
    `fault_counts` counts injected faults per kind; `max_in_flight` is the peak number of chat
    requests being handled at once; `connections` counts accepted TCP connections.
    """

    def __init__(
        self,
        *,
        answer: Answer | None = None,
        latency_s: float = 0.0,
        faults: FaultPlan | None = None,
        hang_s: float = 30.0,
        model: str = "fake-model",
        choice_extra: ChoiceExtra | None = None,
        limits: ProviderLimits | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.answer = answer or default_answer
        self.latency_s = latency_s
        self.plan = faults or FaultPlan()
        self.hang_s = hang_s
        self.model = model
        self.choice_extra = choice_extra
        self.limits = limits
        self.host = host
        self.port = port
        self.requests: list[dict[str, Any]] = []
        self.attempts: Counter[str] = Counter()
        self.faulted: Counter[str] = Counter()
        self.fault_counts: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections = 0
        self._served = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def reset(self) -> None:
        """Forget recorded requests and counters (call while no request is in flight)."""
        self.requests.clear()
        self.attempts.clear()
        self.faulted.clear()
        self.fault_counts.clear()
        self.max_in_flight = 0
        self.connections = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(self.serve(on_ready=ready.set))
            except BaseException as exc:  # reported to the starting thread below
                failure.append(exc)
                ready.set()

        self._thread = threading.Thread(target=run, name="fake-openai-server", daemon=True)
        self._thread.start()
        ready.wait(timeout=10)
        if failure:
            raise RuntimeError(f"fake OpenAI server failed to start: {failure[0]}") from failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def serve(self, on_ready: Callable[[], object] = lambda: None) -> None:
        """Serve in the running loop until `stop()` (or cancellation)."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(
            self._handle, self.host, self.port, backlog=2048, reuse_address=True
        )
        self.port = server.sockets[0].getsockname()[1]
        on_ready()
        try:
            async with server:
                await self._stop.wait()
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- connection handling -----------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                response = await self._dispatch(request)
                if response is None:  # hang or drop: close without answering
                    break
                writer.write(_encode(response, request.keep_alive))
                await writer.drain()
                if not request.keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        except asyncio.CancelledError:
            # Only `serve()` cancels handlers, at shutdown. Ending normally matters: Python 3.11's
            # stream callback calls `task.exception()`, which raises on a cancelled task.
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _dispatch(self, request: _Request) -> _Response | None:
        path = request.path.removeprefix("/v1")
        if request.method == "POST" and path == "/chat/completions":
            return await self._chat(request)
        if request.method == "GET" and path == "/_limits" and self.limits is not None:
            return _Response(200, json.dumps(self.limits.report()).encode())
        if request.method == "GET" and path == "/models":
            models = {"object": "list", "data": [_model_entry(self.model)]}
            return _Response(200, json.dumps(models).encode())
        return _error(404, f"no route for {request.method} {request.path}")

    async def _chat(self, request: _Request) -> _Response | None:
        try:
            body = json.loads(request.body)
        except ValueError:
            return _error(400, "request body is not valid JSON")
        if not isinstance(body, dict):
            return _error(400, "request body must be a JSON object")
        self.requests.append(body)
        case = last_user_message(body)
        self.attempts[case] += 1
        limit_headers: dict[str, str] = {}
        if self.limits is not None:
            decision = self.limits.admit(_charge(body))
            if decision.status == 429:
                return _error(429, decision.message, decision.headers)
            limit_headers = decision.headers
        fault = self.plan.fault_for(case, self.attempts[case])
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency_s > 0:
                await asyncio.sleep(self.latency_s)
            if fault is None:
                completion = json.dumps(self._completion(body)).encode()
                if self.limits is not None:
                    self.limits.answered_one()
                return _Response(200, completion, limit_headers)
            self.faulted[case] += 1
            self.fault_counts[fault] += 1
            return await self._fault(fault, body)
        finally:
            self.in_flight -= 1

    async def _fault(self, fault: str, body: dict[str, Any]) -> _Response | None:
        if fault == "hang":
            await asyncio.sleep(self.hang_s)
            return None
        if fault == "drop":
            return None
        if fault == "quota":
            response = _error(429, "You exceeded your current quota, check your billing.")
            response.body = response.body.replace(b"rate_limit_exceeded", b"insufficient_quota")
            return response
        if fault == "malformed":
            whole = json.dumps(self._completion(body)).encode()
            return _Response(200, whole[: len(whole) // 2])
        response = _error(int(fault), f"injected fault {fault}")
        if fault == "429":
            if self.plan.retry_after is not None:
                response.headers["retry-after"] = self.plan.retry_after
            if self.plan.retry_after_ms is not None:
                response.headers["retry-after-ms"] = str(self.plan.retry_after_ms)
        return response

    def _completion(self, body: dict[str, Any]) -> dict[str, Any]:
        text = self.answer(body)
        self._served += 1
        prompt_tokens = _prompt_words(body)
        completion_tokens = len(text.split())
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
            "logprobs": None,
        }
        if self.choice_extra is not None:
            choice.update(self.choice_extra(body, text))
        return {
            "id": f"chatcmpl-fake-{self._served}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(body.get("model") or self.model),
            "choices": [choice],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    """One HTTP/1.1 request, or None when the client closed the connection between requests."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError as exc:
        raise ValueError("request head too large") from exc
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        length = int(headers.get("content-length", "0"))
        body = await reader.readexactly(length) if length else b""
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    return _Request(method.upper(), target.split("?", 1)[0], keep_alive, body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _encode(response: _Response, keep_alive: bool) -> bytes:
    reason = _REASONS.get(response.status, "Status")
    lines = [
        f"HTTP/1.1 {response.status} {reason}",
        "content-type: application/json",
        f"content-length: {len(response.body)}",
        f"connection: {'keep-alive' if keep_alive else 'close'}",
        *(f"{name}: {value}" for name, value in response.headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body


def _prompt_words(body: dict[str, Any]) -> int:
    """The prompt's size in this server's tokens: whitespace-separated words."""
    messages = body.get("messages") or []
    return sum(len(str(m.get("content", "")).split()) for m in messages if isinstance(m, dict))


def _charge(body: dict[str, Any]) -> int:
    """Tokens a provider charges up front: the prompt plus `max_tokens` (16 when unset)."""
    max_tokens = body.get("max_tokens")
    return _prompt_words(body) + (max_tokens if isinstance(max_tokens, int) else 16)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> _Response:
    kind = "rate_limit_exceeded" if status == 429 else "server_error" if status >= 500 else None
    payload = {
        "error": {
            "message": message,
            "type": kind or "invalid_request_error",
            "param": None,
            "code": kind or str(status),
        }
    }
    return _Response(status, json.dumps(payload).encode(), dict(headers or {}))


def _model_entry(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 0, "owned_by": "promptops-testing"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m promptops.testing.openai_server",
        description="Local OpenAI-compatible server with fault injection (runs until killed).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--fault-kinds", default=",".join(TRANSIENT_FAULTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hang-s", type=float, default=30.0)
    parser.add_argument("--rps", type=float, default=None, help="requests a second (bucket)")
    parser.add_argument("--burst", type=float, default=5.0)
    parser.add_argument("--tpm", type=float, default=None, help="tokens a minute (bucket)")
    parser.add_argument("--no-limit-headers", action="store_true")
    parser.add_argument("--halve-after", type=int, default=None)
    args = parser.parse_args(argv)
    limits = None
    if args.rps is not None:
        limits = ProviderLimits(
            args.rps,
            burst=args.burst,
            tokens_per_minute=args.tpm,
            headers=not args.no_limit_headers,
            halve_after=args.halve_after,
        )
    plan = FaultPlan(
        rate=args.fault_rate,
        kinds=tuple(k.strip() for k in args.fault_kinds.split(",") if k.strip()),
        seed=args.seed,
    )
    server = FakeOpenAIServer(
        latency_s=args.latency_ms / 1000,
        faults=plan,
        hang_s=args.hang_s,
        limits=limits,
        host=args.host,
        port=args.port,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(server.serve(on_ready=lambda: print(server.base_url, flush=True)))


if __name__ == "__main__":
    main()
