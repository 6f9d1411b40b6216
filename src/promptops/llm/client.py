"""The one way promptops talks to a model: the official OpenAI SDK, wrapped.

Every endpoint, including the embedded local model, is reached through `AsyncOpenAI`, so what
is tested locally is the code path used against a remote API. The SDK's own retries are off:
this module owns the retry loop (classification and backoff in `retry.py`), the adaptive
concurrency (`limiter.py`), the response cache (`cache.py`) and answer parsing (`parse.py`).
Endpoint failures never escape as exceptions: they come back as a `Completion` with `error`.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import ssl
import time
from collections import Counter
from collections.abc import AsyncGenerator, Iterable, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx2
import openai
from openai import AsyncOpenAI, RequestOptions

from promptops.errors import ConfigError
from promptops.llm.cache import ResponseCache, cache_key
from promptops.llm.limiter import AdaptiveLimiter
from promptops.llm.pacing import RatePacer, Ticket
from promptops.llm.parse import parse_choice
from promptops.llm.profile import EndpointProfile
from promptops.llm.ratelimit_headers import RateHeaders, read_rate_headers
from promptops.llm.retry import BackoffPolicy, MalformedResponseError, RetryDecision, should_retry
from promptops.llm.types import ChatRequest, Completion, TokenCounts

EMBEDDED_BASE_URL = "http://embedded.local/v1"
TOP_LOGPROBS = 20
SLOW_START_WINDOW = 8  # requests in flight at first; each answer adds one, up to concurrency
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})
_LOCAL_DUMMY_KEY = "promptops-local"
# `chat.completions.create` re-walks the body against the SDK's TypedDicts (about half a
# millisecond a request, more than the rest of the client); `body` is already plain JSON, so
# it is posted as is, to the same path with the same bearer auth that `create` uses. The
# answer comes back as the SDK's raw `httpx2.Response` (status errors are still raised by the
# SDK) and its JSON is read directly: building the SDK's `ChatCompletion` model would cost
# more CPU per call than the rest of this module, and only a few fields are used.
_CHAT_OPTIONS: RequestOptions = {"security": {"bearer_auth": True}}


@dataclass(frozen=True)
class _Failure:
    decision: RetryDecision
    exc: Exception


@dataclass
class ClientStats:
    """Running totals for one client; `cost_usd` counts only calls actually made (not cache
    hits). `errors` and `retries_by_kind` are keyed by failure kind."""

    requests: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    attempts: int = 0
    retries: int = 0
    retries_by_kind: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    rate_limited: int = 0  # 429 answers that were rate limits (waited out, not faults)
    rate_limit_wait_s: float = 0.0  # backoff slept after them


class LLMClient:
    """Chat completions against one endpoint profile, with retries, adaptive concurrency,
    caching and label parsing. Use as `async with LLMClient(profile) as client:`."""

    def __init__(
        self,
        profile: EndpointProfile,
        *,
        cache: ResponseCache | None = None,
        http_client: httpx2.AsyncClient | None = None,
        api_key: str | None = None,
        backoff: BackoffPolicy | None = None,
    ) -> None:
        self.profile = profile
        self.cache = cache
        self.backoff = backoff or BackoffPolicy()
        self.limiter = AdaptiveLimiter(profile.concurrency, initial=SLOW_START_WINDOW)
        self.pacer = RatePacer(rpm=profile.rpm, tpm=profile.tpm)
        self.stats = ClientStats()
        self._latency_ewma = 0.0
        self._tokens_per_char = 0.25  # learned from `usage`, for the tokens-per-minute bucket
        self._completion_tokens = 16.0
        self._api_key = _resolve_api_key(profile, api_key)
        self._owns_http = http_client is None
        if http_client is None:
            http_client = _default_http_client(profile)
        self._sdk = AsyncOpenAI(
            base_url=profile.base_url or EMBEDDED_BASE_URL,
            api_key=self._api_key,
            max_retries=0,
            timeout=profile.timeout,
            http_client=http_client,
        )

    async def complete(self, req: ChatRequest) -> Completion:
        """Answer one request; failures come back as a `Completion` with `error` set.

        `latency_s` is the duration of the attempt that answered (not queueing or backoff);
        `attempts` counts HTTP attempts. A cache hit has `cached=True`, `attempts=0`,
        `cost_usd=0` (nothing was spent) and the lookup's own latency.
        """
        self.stats.requests += 1
        started = time.perf_counter()
        body = self._body(req)
        key = None
        if self.cache is not None:
            key = cache_key(
                self.profile.base_url, body, labels=req.labels, sample_index=req.sample_index
            )
            hit = self.cache.get(key)
            if hit is not None:
                self.stats.cache_hits += 1
                return replace(hit, cost_usd=0.0, latency_s=time.perf_counter() - started)
            self.stats.cache_misses += 1
        completion = await self._call_with_retries(req, body)
        if key is not None and self.cache is not None:
            self.cache.put(key, completion)
        return completion

    async def complete_many(
        self, reqs: Iterable[ChatRequest]
    ) -> AsyncGenerator[tuple[int, Completion], None]:
        """Yield `(index, completion)` as each request finishes, in completion order.

        `reqs` is consumed lazily and at most a few times the concurrency limit of tasks
        exist at once (the limiter bounds what is actually in flight), so a million requests
        never become a million tasks or a million requests in memory.
        """
        window = 4 * self.profile.concurrency
        pending: dict[asyncio.Task[Completion], int] = {}
        finished: asyncio.Queue[asyncio.Task[Completion]] = asyncio.Queue()
        numbered = enumerate(reqs)
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) < window:
                    item = next(numbered, None)
                    if item is None:
                        exhausted = True
                        break
                    task = asyncio.create_task(self.complete(item[1]))
                    task.add_done_callback(finished.put_nowait)
                    pending[task] = item[0]
                if not pending:
                    return
                # One callback per task, not `asyncio.wait` over the whole window per result.
                task = await finished.get()
                yield pending.pop(task), task.result()
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._sdk.close()

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- internals ---------------------------------------------------------------------------

    def _body(self, req: ChatRequest) -> dict[str, Any]:
        """The request body as sent; it is also what the cache key hashes."""
        body: dict[str, Any] = {
            "model": self.profile.model,
            "messages": req.message_dicts(),
            "temperature": req.temperature,
        }
        optional = {
            "max_tokens": req.max_tokens,
            "top_p": req.top_p,
            "stop": list(req.stop) if req.stop is not None else None,
            "seed": req.seed,
        }
        body.update({name: value for name, value in optional.items() if value is not None})
        if req.labels is not None:
            if self.profile.structured_output:
                body["response_format"] = label_response_format(req.labels)
            if self.profile.logprobs:
                body["logprobs"] = True
                body["top_logprobs"] = TOP_LOGPROBS
        return body

    async def _call_with_retries(self, req: ChatRequest, body: dict[str, Any]) -> Completion:
        """Faults (5xx, timeouts, dropped connections) spend `max_retries`; rate limits do
        not: a case waits them out until `max_wait` seconds have passed since its first 429."""
        attempt = faults = limited = 0
        first_limited: float | None = None
        chars = sum(len(m["content"]) for m in body["messages"])
        tokens = self._token_estimate(chars, body)
        while True:
            attempt += 1
            self.stats.attempts += 1
            result = await self._attempt(req, body, tokens)
            if isinstance(result, Completion):
                result.attempts = attempt
                self._count_usage(result)
                self._learn_tokens(chars, result.usage)
                return result
            decision = result.decision
            if decision.kind == "rate_limit":
                now = time.monotonic()
                first_limited = now if first_limited is None else first_limited
                delay = self.backoff.rate_limit_delay(limited, decision.retry_after_s)
                limited += 1
                self.stats.rate_limited += 1
                if now - first_limited + delay > self.profile.max_wait:
                    return self._failed(result, attempt, waited_s=now - first_limited)
                self.stats.rate_limit_wait_s += delay
            else:
                faults += 1
                if not decision.retry or faults > self.profile.max_retries:
                    return self._failed(result, attempt)
                delay = self.backoff.delay(faults - 1, decision.retry_after_s)
            self.stats.retries += 1
            self.stats.retries_by_kind[decision.kind] += 1
            if delay > 0:
                await asyncio.sleep(delay)

    async def _attempt(
        self, req: ChatRequest, body: dict[str, Any], tokens: float
    ) -> Completion | _Failure:
        """One HTTP call holding one limiter slot and one pacer ticket; the slot is free
        again during backoff."""
        async with self.limiter.slot() as outcome:
            ticket = await self.pacer.acquire(tokens)
            started = time.perf_counter()
            try:
                async with asyncio.timeout(self.profile.timeout):
                    response = await self._sdk.post(
                        "/chat/completions",
                        body=body,
                        cast_to=httpx2.Response,
                        options=_CHAT_OPTIONS,
                    )
                self.pacer.answered(read_rate_headers(response.headers))
                completion = self._to_completion(json.loads(response.content), req)
            except Exception as exc:
                decision = should_retry(exc)
                if decision.kind == "unexpected":
                    raise
                self._pace_after_failure(ticket, exc, decision)
                outcome.rate_limited = decision.kind == "rate_limit"
                outcome.floor = self._window_floor()
                return _Failure(decision, exc)
            outcome.success = True
            completion.latency_s = time.perf_counter() - started
            self._latency_ewma += 0.1 * (completion.latency_s - self._latency_ewma)
            return completion

    def _pace_after_failure(self, ticket: Ticket, exc: Exception, decision: RetryDecision) -> None:
        headers: RateHeaders | None = None
        if isinstance(exc, openai.APIStatusError):
            headers = read_rate_headers(exc.response.headers)
        if decision.kind == "rate_limit" and headers is not None:
            self.pacer.refused(ticket, headers, decision.retry_after_s)
        elif headers is not None:
            self.pacer.answered(headers)
        else:
            self.pacer.failed()

    def _window_floor(self) -> int:
        """The fewest requests in flight that still carry the paced rate at the observed
        latency: a 429 must not shrink the window below what the rate itself needs."""
        rate = self.pacer.rate
        if rate is None:
            return 1
        return max(1, math.ceil(2 * rate * self._latency_ewma))

    def _token_estimate(self, chars: int, body: dict[str, Any]) -> float:
        """What a provider will charge this request against tokens per minute: the prompt
        (characters scaled by what `usage` has shown) plus `max_tokens`, as providers count
        it, or the completions seen so far."""
        completion = body.get("max_tokens") or self._completion_tokens
        return chars * self._tokens_per_char + float(completion)

    def _learn_tokens(self, chars: int, usage: TokenCounts) -> None:
        """Tokens per prompt character and completion tokens, as `usage` reports them."""
        if usage.prompt_tokens > 0 and chars > 0:
            self._tokens_per_char += 0.1 * (usage.prompt_tokens / chars - self._tokens_per_char)
        if usage.completion_tokens > 0:
            self._completion_tokens += 0.1 * (usage.completion_tokens - self._completion_tokens)

    def _to_completion(self, response: object, req: ChatRequest) -> Completion:
        """A `Completion` from the response JSON; a body that is not a chat completion (no
        choices, no message, content that is not text) raises `MalformedResponseError`."""
        if not isinstance(response, dict):
            raise MalformedResponseError(f"expected a JSON object, got {type(response).__name__}")
        choices = response.get("choices")
        if not isinstance(choices, list) or not choices:
            raise MalformedResponseError("the response has no choices")
        choice = choices[0]
        parsed = parse_choice(choice, req.labels)
        usage = response.get("usage")
        tokens = TokenCounts(
            prompt_tokens=_count(usage, "prompt_tokens"),
            completion_tokens=_count(usage, "completion_tokens"),
        )
        finish_reason = choice.get("finish_reason")
        model = response.get("model")
        return Completion(
            text=parsed.text,
            label=parsed.label,
            label_probs=parsed.label_probs,
            invalid=parsed.invalid,
            finish_reason=finish_reason if isinstance(finish_reason, str) else None,
            usage=tokens,
            cost_usd=self.profile.prices.cost(tokens.prompt_tokens, tokens.completion_tokens),
            model=model if isinstance(model, str) else None,
        )

    def _count_usage(self, completion: Completion) -> None:
        self.stats.prompt_tokens += completion.usage.prompt_tokens
        self.stats.completion_tokens += completion.usage.completion_tokens
        self.stats.cost_usd += completion.cost_usd

    def _failed(
        self, failure: _Failure, attempts: int, *, waited_s: float | None = None
    ) -> Completion:
        decision = failure.decision
        self.stats.errors[decision.kind] += 1
        status = f"HTTP {decision.status} " if decision.status is not None else ""
        detail = str(failure.exc) or type(failure.exc).__name__
        if self._api_key:
            detail = detail.replace(self._api_key, "***")
        verdict = "not retryable" if not decision.retry else "gave up"
        if waited_s is not None:
            verdict = (
                f"still rate-limited after waiting {waited_s:.1f} s; the next wait would pass "
                f"the {self.profile.max_wait:g} s allowed (--max-wait)"
            )
        message = (
            f"{self.profile.name}: {status}{decision.kind} ({verdict}) after {attempts} "
            f"attempt{'s' if attempts != 1 else ''}: {detail}"
        )
        return Completion(
            text=None,
            attempts=attempts,
            error=message,
            error_kind=decision.kind,
            model=self.profile.model,
        )


def _count(usage: object, name: str) -> int:
    """A token count from the `usage` object; absent or not a count counts as 0."""
    value = usage.get(name) if isinstance(usage, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0
    return int(value)


def label_response_format(labels: Sequence[str]) -> dict[str, Any]:
    """A strict JSON schema that admits exactly `{"label": <one of labels>}`."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "label",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {"label": {"type": "string", "enum": list(labels)}},
                "required": ["label"],
                "additionalProperties": False,
            },
        },
    }


def is_local_url(base_url: str) -> bool:
    return (urlsplit(base_url).hostname or "") in _LOCAL_HOSTS


def _resolve_api_key(profile: EndpointProfile, api_key: str | None) -> str:
    if api_key:
        return api_key
    from_env = os.environ.get(profile.api_key_env)
    if from_env:
        return from_env
    if profile.base_url is None or is_local_url(profile.base_url):
        return _LOCAL_DUMMY_KEY
    raise ConfigError(
        f"environment variable {profile.api_key_env} is not set (API key for {profile.base_url})",
        where=f"profile {profile.name}: api_key_env",
    )


def _default_http_client(profile: EndpointProfile) -> httpx2.AsyncClient:
    if profile.embedded:
        from promptops.local.server import create_app  # heavy: loads the local model stack

        return httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=create_app()),
            base_url=EMBEDDED_BASE_URL,
            timeout=profile.timeout,
        )
    connections = max(profile.concurrency, 1)
    return httpx2.AsyncClient(
        timeout=profile.timeout,
        limits=httpx2.Limits(max_connections=connections, max_keepalive_connections=connections),
        verify=_tls_context(profile.base_url or EMBEDDED_BASE_URL),
    )


def _tls_context(base_url: str) -> ssl.SSLContext | bool:
    """Certificate verification as usual, except for a plain-http server on this machine.

    Such a client never speaks TLS, yet the default context loads the system's CA store
    (about 30 ms at every start); it gets a context that trusts no certificate at all
    instead, so any TLS it were ever asked to do would fail closed.
    """
    if urlsplit(base_url).scheme == "http" and is_local_url(base_url):
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return True
