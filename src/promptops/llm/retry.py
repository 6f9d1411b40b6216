"""Which failures are worth another attempt, and how long to wait before it.

Our loop in `client.py` is the only retry loop (the SDK's is switched off), so this module is
the single place that decides. Classification is a pure function of the exception or status,
which keeps it testable without a network.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import openai
import pydantic

from promptops.llm.ratelimit_headers import terminal_429_kind

DEFAULT_BASE_S = 0.5
DEFAULT_CAP_S = 30.0
DEFAULT_MAX_RETRY_AFTER_S = 60.0

_TRANSIENT_STATUS = {408: "timeout", 409: "conflict", 429: "rate_limit"}
# Failures that say nothing about the case: a resumed run sends such cases again.
TRANSIENT_KINDS = frozenset(
    {"rate_limit", "timeout", "server_error", "connection", "malformed", "conflict"}
)
_PERMANENT_STATUS = {
    400: "bad_request",
    401: "auth",
    403: "permission",
    404: "not_found",
    422: "unprocessable",
}


class MalformedResponseError(ValueError):
    """The endpoint answered 200 with a body that is not a usable chat completion."""


@dataclass(frozen=True)
class RetryDecision:
    """`kind` names the failure class (rate_limit, server_error, timeout, connection, malformed,
    bad_request, auth, ...); `retry_after_s` is the server's requested wait, when it sent one."""

    retry: bool
    kind: str
    status: int | None = None
    retry_after_s: float | None = None


def classify_status(status: int) -> RetryDecision:
    if status in _TRANSIENT_STATUS:
        return RetryDecision(True, _TRANSIENT_STATUS[status], status)
    if status >= 500:
        return RetryDecision(True, "server_error", status)
    return RetryDecision(False, _PERMANENT_STATUS.get(status, "client_error"), status)


def should_retry(exc_or_status: BaseException | int) -> RetryDecision:
    """Classify an HTTP status or an exception raised by one attempt.

    Timeouts, dropped connections, 408/409/429/5xx and malformed 200 bodies are transient;
    other 4xx statuses and other SDK errors are not (retrying cannot fix them). Any other
    exception is "unexpected": a bug on our side, which the client lets propagate.
    """
    if isinstance(exc_or_status, int):
        return classify_status(exc_or_status)
    exc = exc_or_status
    if isinstance(exc, openai.APIStatusError):
        terminal = terminal_429_kind(exc.code, exc.type, exc.message)
        if exc.status_code == 429 and terminal is not None:
            return RetryDecision(False, terminal, 429)
        decision = classify_status(exc.status_code)
        return RetryDecision(
            decision.retry,
            decision.kind,
            decision.status,
            retry_after_seconds(exc.response.headers),
        )
    if isinstance(exc, openai.APITimeoutError | TimeoutError):
        return RetryDecision(True, "timeout")
    if isinstance(exc, openai.APIConnectionError):
        return RetryDecision(True, "connection")
    if isinstance(
        exc,
        json.JSONDecodeError
        | UnicodeDecodeError
        | pydantic.ValidationError
        | openai.APIResponseValidationError
        | MalformedResponseError,
    ):
        return RetryDecision(True, "malformed")
    if isinstance(exc, openai.OpenAIError):
        return RetryDecision(False, "api_error")
    return RetryDecision(False, "unexpected")


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait a server asked for: `retry-after-ms`, else `Retry-After` in seconds or as an
    HTTP date. Negative or unparseable values count as absent."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000
        except ValueError:
            value = -1.0
        if value >= 0:
            return value
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
        return max(seconds, 0.0)
    return seconds if seconds >= 0 else None


@dataclass(frozen=True)
class BackoffPolicy:
    """Exponential backoff with full jitter: wait uniform(0, min(cap, base * 2**retry)).

    A server's Retry-After wins over the jittered wait (up to `max_retry_after_s`, so one odd
    header cannot stall a run). Set `base_s=0` in tests to retry at once.
    """

    base_s: float = DEFAULT_BASE_S
    cap_s: float = DEFAULT_CAP_S
    max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, retry: int, retry_after_s: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (0 for the first retry)."""
        if retry_after_s is not None:
            return min(retry_after_s, self.max_retry_after_s)
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(retry, 62))
        return self.rng.uniform(0.0, ceiling) if ceiling > 0 else 0.0

    def rate_limit_delay(self, retry: int, retry_after_s: float | None) -> float:
        """The wait after a 429: never under the server's hint, plus up to 20% of it at
        random, so the requests refused together do not all come back together."""
        if retry_after_s is not None:
            return retry_after_s * (1.0 + 0.2 * self.rng.random())
        return self.delay(retry)
