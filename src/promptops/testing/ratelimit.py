"""Rate limits enforced the way hosted providers enforce them, for the fake OpenAI server.

Two token buckets, one for requests and one for tokens, refilled continuously (a quantized
per-minute limit, as OpenAI documents: 2,400 RPM is enforced as 40 a second with a small
burst). A request is charged its prompt tokens plus `max_tokens` up front, as providers
estimate it; a refused request is charged nothing. Every answer carries OpenAI's six
`x-ratelimit-*` headers (unless `headers=False`, for providers that send none); a refusal is
a 429 whose message names the dimension that tripped and whose `Retry-After` says how long
until the request would fit, either exactly (`retry-after-ms`) or rounded up to whole seconds
(`hint="long"`), or not at all (`hint=None`). `halve_after` halves both rates once that many
requests have been answered: a limit that changes mid-run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Hint = Literal["short", "long"] | None


@dataclass
class TokenBucket:
    """`capacity` units, refilled at `rate` units a second; starts full."""

    rate: float
    capacity: float
    level: float = math.nan
    stamp: float = 0.0

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.capacity <= 0:
            raise ValueError(f"rate and capacity must be > 0, got {self.rate}, {self.capacity}")
        if math.isnan(self.level):
            self.level = self.capacity

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` units are there (0 when they are); call after `refill`."""
        if amount > self.capacity:
            return math.inf
        return max(0.0, (amount - self.level) / self.rate)

    def until_full(self) -> float:
        return (self.capacity - self.level) / self.rate


@dataclass(frozen=True)
class Decision:
    """The limiter's answer to one request: `status` 200 or 429, the headers to send, and
    for a refusal the message (which names the dimension, as OpenAI's messages do)."""

    status: int
    headers: dict[str, str]
    message: str = ""
    dimension: str = ""


@dataclass
class ProviderLimits:
    """Requests per second with a burst, and optionally tokens per minute with a burst.

    `tokens_per_minute` and `token_burst` are off by default. `admitted`, `refused`, `first_at`
    and `last_answer_at` are what a benchmark reads: the server's own view of the run.
    """

    requests_per_s: float
    burst: float = 5.0
    tokens_per_minute: float | None = None
    token_burst: float | None = None
    headers: bool = True
    hint: Hint = "short"
    halve_after: int | None = None
    clock: Callable[[], float] = time.monotonic
    admitted: int = 0
    refused: int = 0
    answered: int = 0
    refused_by: dict[str, int] = field(default_factory=dict)
    first_at: float | None = None
    last_answer_at: float | None = None
    halved_at: float | None = None
    _requests: TokenBucket = field(init=False)
    _tokens: TokenBucket | None = field(init=False)

    def __post_init__(self) -> None:
        start = self.clock()
        self._requests = TokenBucket(self.requests_per_s, self.burst, stamp=start)
        self._tokens = None
        if self.tokens_per_minute is not None:
            per_s = self.tokens_per_minute / 60
            burst = self.token_burst if self.token_burst is not None else per_s
            self._tokens = TokenBucket(per_s, burst, stamp=start)

    def admit(self, charge_tokens: int) -> Decision:
        """Charge one request (and `charge_tokens` tokens) or refuse it with a 429."""
        now = self.clock()
        if self.first_at is None:
            self.first_at = now
        self._requests.refill(now)
        waits = {"requests": self._requests.wait_for(1.0)}
        if self._tokens is not None:
            self._tokens.refill(now)
            waits["tokens"] = self._tokens.wait_for(float(charge_tokens))
        dimension = max(waits, key=lambda name: waits[name])
        wait = waits[dimension]
        if wait > 0:
            self.refused += 1
            self.refused_by[dimension] = self.refused_by.get(dimension, 0) + 1
            return Decision(429, self._headers(wait), self._message(dimension, wait), dimension)
        self.admitted += 1
        self._requests.level -= 1.0
        if self._tokens is not None:
            self._tokens.level -= charge_tokens
        return Decision(200, self._headers(None))

    def answered_one(self) -> None:
        """Count an answer sent; halves the limits once `halve_after` answers went out."""
        self.answered += 1
        self.last_answer_at = self.clock()
        if self.halve_after is not None and self.answered == self.halve_after:
            self.halved_at = self.last_answer_at
            self._requests.rate /= 2
            if self._tokens is not None:
                self._tokens.rate /= 2

    def report(self) -> dict[str, object]:
        """The server's view of a run, as a benchmark reads it (`GET /_limits`)."""
        first = self.first_at or 0.0
        span = (self.last_answer_at or first) - first
        return {
            "admitted": self.admitted,
            "refused": self.refused,
            "answered": self.answered,
            "refused_by": dict(self.refused_by),
            "span_s": span,
            "halved_after_s": None if self.halved_at is None else self.halved_at - first,
            "requests_per_s": self.current_requests_per_s,
        }

    @property
    def current_requests_per_s(self) -> float:
        return self._requests.rate

    def _message(self, dimension: str, wait: float) -> str:
        unit = "requests per min (RPM)" if dimension == "requests" else "tokens per min (TPM)"
        if math.isinf(wait):
            return f"Request too large for {unit}: it can never fit the limit."
        return f"Rate limit reached on {unit}. Please try again in {wait * 1000:.0f}ms."

    def _headers(self, wait: float | None) -> dict[str, str]:
        headers: dict[str, str] = {}
        if wait is not None and not math.isinf(wait) and self.hint is not None:
            if self.hint == "short":
                headers["retry-after-ms"] = f"{wait * 1000:.0f}"
                headers["retry-after"] = str(max(1, math.ceil(wait)))
            else:
                headers["retry-after"] = str(max(1, math.ceil(wait)))
        if not self.headers:
            return headers
        headers.update(_bucket_headers("requests", self._requests))
        if self._tokens is not None:
            headers.update(_bucket_headers("tokens", self._tokens))
        return headers


def _bucket_headers(name: str, bucket: TokenBucket) -> dict[str, str]:
    """OpenAI's trio: the per-minute limit, what is left now, and the time until full again."""
    limit = bucket.rate * 60
    return {
        f"x-ratelimit-limit-{name}": f"{limit:.0f}",
        f"x-ratelimit-remaining-{name}": f"{max(0, math.floor(bucket.level))}",
        f"x-ratelimit-reset-{name}": go_duration(bucket.until_full()),
    }


def go_duration(seconds: float) -> str:
    """A duration as Go prints it and OpenAI sends it: `12ms`, `1.5s`, `6m0s`, `1h2m3.5s`."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:.3f}".rstrip("0").rstrip(".") + "s"
    if hours or minutes:
        text = f"{int(minutes)}m" + text
    return f"{int(hours)}h" + text if hours else text
