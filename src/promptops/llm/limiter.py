"""Bounded concurrency that adapts to rate limits (AIMD), shared by every call of one client.

A fixed concurrency either wastes a generous endpoint or hammers a strict one. Additive
increase, multiplicative decrease finds the level the endpoint tolerates: a 429 halves the
limit, and a full window of successes (as many as the current limit, one round trip's worth)
adds one back, as TCP congestion avoidance does. Waiters are served first come, first served.
Like TCP, it may begin in slow start: from a small `initial` window, every success adds one
(the window doubles each round trip) until it reaches the maximum or the first 429, so a
client that knows nothing of a provider's limit does not open with a full-width burst.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass
class Slot:
    """One held unit of concurrency; `epoch` is the limiter's cut count when it was granted."""

    epoch: int


class AdaptiveLimiter:
    """At most `limit` holders at once, with `min_limit <= limit <= max_limit`.

    Only a 429 on a request granted after the latest cut cuts again: a burst of 429s from
    requests that were all in flight together is one signal, not many, so the limit halves
    once per round trip instead of collapsing to the minimum.
    """

    def __init__(self, max_limit: int, *, min_limit: int = 1, initial: int | None = None) -> None:
        if not 1 <= min_limit <= max_limit:
            raise ValueError(f"need 1 <= min_limit <= max_limit, got {min_limit}, {max_limit}")
        self.max_limit = max_limit
        self.min_limit = min_limit
        self.limit = max_limit if initial is None else max(min_limit, min(initial, max_limit))
        self.slow_start = self.limit < max_limit
        self.in_flight = 0
        self.cuts = 0
        self.lowest_limit = max_limit
        self._successes = 0
        self._waiters: deque[asyncio.Future[int]] = deque()

    @property
    def waiting(self) -> int:
        return sum(1 for w in self._waiters if not w.done())

    async def acquire(self) -> Slot:
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            return Slot(self.cuts)
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            epoch = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.in_flight -= 1  # granted just as we were cancelled: hand it on
                self._wake()
            else:
                self._waiters.remove(waiter)
            raise
        return Slot(epoch)

    def release(
        self, slot: Slot, *, rate_limited: bool = False, success: bool = False, floor: int = 1
    ) -> None:
        """Give the slot back and feed the outcome of its request to the AIMD rule; a cut
        never goes under `floor` (the window the paced rate itself needs)."""
        self.in_flight -= 1
        if rate_limited:
            self._successes = 0
            self.slow_start = False
            if slot.epoch == self.cuts:
                self.cuts += 1
                cut = max(self.min_limit, floor, self.limit // 2)
                self.limit = min(self.limit, cut)
                self.lowest_limit = min(self.lowest_limit, self.limit)
        elif success and self.slow_start:
            self.limit += 1
            self.slow_start = self.limit < self.max_limit
        elif success:
            self._successes += 1
            if self._successes >= self.limit and self.limit < self.max_limit:
                self.limit += 1
                self._successes = 0
        self._wake()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[SlotOutcome]:
        """`async with limiter.slot() as outcome:` holds a slot; set `outcome.rate_limited` or
        `outcome.success` before leaving to adapt the limit."""
        slot = await self.acquire()
        outcome = SlotOutcome()
        try:
            yield outcome
        finally:
            self.release(
                slot,
                rate_limited=outcome.rate_limited,
                success=outcome.success,
                floor=outcome.floor,
            )

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(self.cuts)


@dataclass
class SlotOutcome:
    rate_limited: bool = False
    success: bool = False
    floor: int = 1
