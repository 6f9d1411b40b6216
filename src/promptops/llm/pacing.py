"""Pacing requests to a provider's rate limit, so that 429s stay rare and nothing is lost.

A concurrency window alone cannot respect a rate limit: against a fast endpoint even one
request in flight can exceed 40 a second. So every attempt (retries included) also takes a
ticket from this pacer, which spaces dispatches at a rate it learns from three sources:

- the `x-ratelimit-*` headers (or a profile's `rpm`/`tpm`), which state the limit outright,
  so the client paces before it is ever refused; the first request goes alone to read them;
- a 429's `Retry-After`: while a bucket is empty the wait it names is at most one refill
  interval, so the longest recent wait bounds the rate from above (`1 / wait`);
- otherwise the rate the endpoint actually admitted over the last seconds.

A 429 cuts the rate once per episode (only 429s on requests sent after the latest cut count,
as in `limiter.py`), and a minute of no 429s is not needed to grow back: the rate creeps up
by 3% a second while there is work waiting, so a raised limit is found again (by 50% a
second after a cut that had only a too-short stretch of admissions to go on, or while the
rate is under half of what the endpoint has already admitted, as after an outage). Tokens per
minute are a second bucket, charged an estimate of each request's tokens (prompt plus
`max_tokens`, as providers charge) and taken together with the request ticket, never one
after the other.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from promptops.llm.ratelimit_headers import RateHeaders

HEADROOM = 0.97  # pace a little under a stated limit: clocks and networks jitter
HINT_MARGIN = 0.95
CUT = 0.85
GROWTH_PER_S = 0.03
SLOW_START_GROWTH_PER_S = 0.5  # after a cut measured on too short a stretch (no hint)
PROBE_WAIT_S = 2.0
_RECENT_S = 3.0
# A learned rate never falls under this: a provider whose limit is lower says so in its
# headers, or the profile states it (`rpm`); an outage of 429s must not leave a crawl behind.
_MIN_RATE = 0.5


@dataclass(frozen=True)
class Ticket:
    """A dispatch permit: the pacer's cut count when granted (a 429 on an older ticket does
    not cut again)."""

    epoch: int


class _Bucket:
    """A local token bucket with a changeable rate; starts with one dispatch's worth."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.level = min(capacity, 1.0)
        self.stamp = now

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for(self, amount: float) -> float:
        need = min(amount, self.capacity)  # an oversize request waits for a full bucket
        return max(0.0, (need - self.level) / self.rate)


class RatePacer:
    """Spaces attempts to the learned request and token rates; `None` rates mean unpaced."""

    def __init__(
        self,
        *,
        rpm: float | None = None,
        tpm: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.stated_rps = rpm / 60 if rpm else None  # from the profile or the headers
        self.stated_tps = tpm / 60 if tpm else None
        self.learned_rps: float | None = None  # from 429s
        self.epoch = 0
        self.cuts = 0
        self.paced_s = 0.0
        self._requests: _Bucket | None = None
        self._tokens: _Bucket | None = None
        self._lock = asyncio.Lock()
        self._hints: deque[tuple[float, float]] = deque()
        self._admitted: deque[float] = deque()
        self._peak_rps = 0.0  # the most admitted over any recent stretch
        self._started: float | None = None
        self._last_growth = 0.0
        self._growth = GROWTH_PER_S
        self._probe: asyncio.Event | None = None
        self._saw_answer = False

    @property
    def rate(self) -> float | None:
        """Requests a second the pacer now allows, or None when it does not pace."""
        rates = [r for r in (self.stated_rps, self.learned_rps) if r is not None]
        return min(rates) * (HEADROOM if self.learned_rps is None else 1.0) if rates else None

    async def acquire(self, tokens: float) -> Ticket:
        """Wait for a dispatch slot in the learned rate; first come, first served."""
        now = self.clock()
        if self._started is None:
            self._started = now
            self._probe = asyncio.Event()
            return Ticket(self.epoch)  # the first request goes alone, to read limits
        if not self._saw_answer and self._probe is not None:
            try:
                async with asyncio.timeout(PROBE_WAIT_S):
                    await self._probe.wait()
            except TimeoutError:
                self._saw_answer = True
        if self.rate is None and self.stated_tps is None:
            return Ticket(self.epoch)
        async with self._lock:
            while True:
                now = self.clock()
                self._sync(now)
                wait = self._wait(tokens)
                if wait <= 0:
                    break
                self.paced_s += wait
                await asyncio.sleep(wait)
            if self._requests is not None:
                self._requests.level -= 1.0
            if self._tokens is not None:
                self._tokens.level -= tokens
            return Ticket(self.epoch)

    def answered(self, headers: RateHeaders) -> None:
        """An attempt was admitted (any status but 429): learn from its headers."""
        now = self.clock()
        self._admitted.append(now)
        self._trim(now)
        self._peak_rps = max(self._peak_rps, len(self._admitted) / _RECENT_S)
        self._read(headers)
        self._grow(now)
        self._first_answer()

    def refused(self, ticket: Ticket, headers: RateHeaders, hint_s: float | None) -> None:
        """A 429 on an attempt granted with `ticket`: cut once per episode, hold new
        dispatches until the server's hint has passed."""
        now = self.clock()
        self._read(headers)
        precise = hint_s is not None and hint_s < 1.0  # whole seconds are rounded up
        if precise and hint_s:
            self._hints.append((now, hint_s))
        self._trim(now)
        cut = self._cut_rate(now, precise) if ticket.epoch == self.epoch else None
        if cut is not None:
            self.epoch += 1
            self.cuts += 1
            self.learned_rps = max(_MIN_RATE, cut)
            self._last_growth = now
        if precise and hint_s is not None and self._requests is not None:
            # Hold every dispatch until the bucket has a token again; a rounded-up hint
            # would hold them far longer than the bucket needs, so only the refused waits.
            self._sync(now)
            self._requests.level = min(self._requests.level, 1.0 - hint_s * self._requests.rate)
        self._first_answer()

    def failed(self) -> None:
        """An attempt ended without an answer (timeout, connection): lets the probe end."""
        self._first_answer()

    # -- internals ---------------------------------------------------------------------------

    def _first_answer(self) -> None:
        if not self._saw_answer:
            self._saw_answer = True
            if self._probe is not None:
                self._probe.set()

    def _cut_rate(self, now: float, precise: bool) -> float | None:
        """The rate after a 429: under the hint's bound, and under what we were sending;
        None for an unpaced client told to retry at once (`Retry-After: 0`)."""
        current = self.rate
        candidates = [] if current is None else [current * CUT]
        self._growth = GROWTH_PER_S
        if self._hints:
            candidates.append(HINT_MARGIN / max(h for _, h in self._hints))
        elif current is None and precise:
            return None
        elif current is None:
            # What was admitted over the last seconds; at the start of a run that stretch is
            # short and the figure low, so the rate then grows fast until the next 429.
            span = max(1.0, min(_RECENT_S, now - (self._started or now)))
            candidates.append(max(len(self._admitted), 1) / span * 0.9)
            self._growth = SLOW_START_GROWTH_PER_S
        return min(candidates)

    def _grow(self, now: float) -> None:
        """Creep the learned rate up while work waits on it, to find a raised limit."""
        if self.learned_rps is None or not self._lock.locked():
            self._last_growth = now
            return
        elapsed = now - self._last_growth
        if elapsed >= 0.25:
            far_below = self.learned_rps < 0.5 * self._peak_rps  # e.g. after an outage
            growth = SLOW_START_GROWTH_PER_S if far_below else self._growth
            self.learned_rps *= (1 + growth) ** elapsed
            self._last_growth = now

    def _read(self, headers: RateHeaders) -> None:
        if headers.requests.limit:
            self.stated_rps = headers.requests.limit / 60
        if headers.tokens.limit:
            self.stated_tps = headers.tokens.limit / 60
        now = self.clock()
        self._sync(now)
        remaining = headers.requests.remaining
        if remaining is not None and remaining < 1 and self._requests is not None:
            self._requests.level = min(self._requests.level, 0.0)
        left = headers.tokens.remaining
        if left is not None and self._tokens is not None:
            self._tokens.level = min(self._tokens.level, left)

    def _sync(self, now: float) -> None:
        """Keep the local buckets at the current rates, refilled to `now`."""
        rate = self.rate
        if rate is not None:
            if self._requests is None:
                self._requests = _Bucket(rate, 2.0, now)
            self._requests.refill(now)
            self._requests.rate = rate
        if self.stated_tps is not None:
            tps = self.stated_tps * HEADROOM
            if self._tokens is None:
                self._tokens = _Bucket(tps, max(tps, 1.0), now)
            self._tokens.refill(now)
            self._tokens.rate = tps
            self._tokens.capacity = max(tps, 1.0)

    def _wait(self, tokens: float) -> float:
        waits = [0.0]
        if self._requests is not None:
            waits.append(self._requests.wait_for(1.0))
        if self._tokens is not None:
            waits.append(self._tokens.wait_for(tokens))
        return max(waits)

    def _trim(self, now: float) -> None:
        while self._admitted and now - self._admitted[0] > _RECENT_S:
            self._admitted.popleft()
        while self._hints and now - self._hints[0][0] > _RECENT_S:
            self._hints.popleft()
