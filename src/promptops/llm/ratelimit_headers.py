"""What a provider says about its rate limits, read from response headers and 429 bodies.

OpenAI sends `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` on every answer: the
per-minute limit, what is left now, and (as a Go duration such as `6m0s` or `12ms`) the time
until the bucket is full again. Not every 429 is a rate limit: `insufficient_quota` means the
account is out of credit, and "Request too large" means one request exceeds the whole
tokens-per-minute limit; waiting cannot fix either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|us|µs|ns|m|s)")
_GO_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def go_duration_seconds(text: str) -> float | None:
    """`1s`, `6m0s`, `12ms`, `1h2m3.5s` in seconds; a bare number is seconds; else None."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        return value if value >= 0 else None
    total, at = 0.0, 0
    for match in _GO_PART.finditer(text):
        if match.start() != at:
            return None
        total += float(match.group(1)) * _GO_UNIT_S[match.group(2)]
        at = match.end()
    return total if at == len(text) and at > 0 else None


@dataclass(frozen=True)
class LimitState:
    """One dimension (requests or tokens): per-minute limit, remaining now, seconds to full."""

    limit: float | None = None
    remaining: float | None = None
    reset_s: float | None = None


@dataclass(frozen=True)
class RateHeaders:
    requests: LimitState
    tokens: LimitState

    @property
    def present(self) -> bool:
        return self.requests.limit is not None or self.tokens.limit is not None


def read_rate_headers(headers: Mapping[str, str]) -> RateHeaders:
    """The six `x-ratelimit-*` headers; any absent or unreadable one is None."""
    return RateHeaders(_state(headers, "requests"), _state(headers, "tokens"))


def _state(headers: Mapping[str, str], name: str) -> LimitState:
    reset = headers.get(f"x-ratelimit-reset-{name}")
    return LimitState(
        limit=_number(headers.get(f"x-ratelimit-limit-{name}")),
        remaining=_number(headers.get(f"x-ratelimit-remaining-{name}")),
        reset_s=go_duration_seconds(reset) if reset is not None else None,
    )


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value >= 0 else None


def terminal_429_kind(code: object, kind: object, message: str) -> str | None:
    """`quota` or `too_large` for a 429 that waiting cannot cure, else None (a rate limit)."""
    if "insufficient_quota" in (code, kind):
        return "quota"
    if "request too large" in message.lower():
        return "too_large"
    return None
