"""Adaptive limiter: never over the limit, first come first served, AIMD on 429s."""

from __future__ import annotations

import asyncio
import random

import pytest

from promptops.llm.limiter import AdaptiveLimiter


def test_concurrency_never_exceeds_the_limit_and_reaches_it() -> None:
    async def scenario() -> int:
        limiter = AdaptiveLimiter(4)
        rng = random.Random(1)
        active = peak = 0

        async def work() -> None:
            nonlocal active, peak
            async with limiter.slot() as outcome:
                active += 1
                peak = max(peak, active)
                assert active <= limiter.limit
                await asyncio.sleep(rng.uniform(0, 0.003))
                active -= 1
                outcome.success = True

        await asyncio.gather(*(work() for _ in range(60)))
        assert limiter.in_flight == 0
        return peak

    assert asyncio.run(scenario()) == 4


def test_waiters_are_served_in_arrival_order_without_barging() -> None:
    async def scenario() -> list[str]:
        limiter = AdaptiveLimiter(1)
        order: list[str] = []
        holder = await limiter.acquire()

        async def waiter(name: str) -> None:
            slot = await limiter.acquire()
            order.append(name)
            await asyncio.sleep(0)
            limiter.release(slot, success=True)

        tasks = []
        for i in range(8):
            tasks.append(asyncio.create_task(waiter(f"w{i}")))
            await asyncio.sleep(0)  # let it queue before the next arrives
        assert limiter.waiting == 8
        limiter.release(holder)
        # A newcomer arriving after the release must queue behind the eight, not barge in.
        tasks.append(asyncio.create_task(waiter("late")))
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(scenario()) == [f"w{i}" for i in range(8)] + ["late"]


def test_rate_limits_halve_once_per_round_and_never_below_min() -> None:
    async def scenario() -> None:
        limiter = AdaptiveLimiter(8)
        burst = [await limiter.acquire() for _ in range(3)]
        limiter.release(burst[0], rate_limited=True)
        assert limiter.limit == 4
        # The rest of the same burst was sent before the cut: no further cut.
        limiter.release(burst[1], rate_limited=True)
        limiter.release(burst[2], rate_limited=True)
        assert limiter.limit == 4
        for expected in (2, 1, 1):
            limiter.release(await limiter.acquire(), rate_limited=True)
            assert limiter.limit == expected
        assert limiter.lowest_limit == 1

    asyncio.run(scenario())


def test_additive_increase_is_one_per_window_of_successes_and_capped() -> None:
    async def scenario() -> list[int]:
        limiter = AdaptiveLimiter(4)
        limiter.release(await limiter.acquire(), rate_limited=True)
        limiter.release(await limiter.acquire(), rate_limited=True)
        assert limiter.limit == 1
        seen = []
        for _ in range(9):
            limiter.release(await limiter.acquire(), success=True)
            seen.append(limiter.limit)
        return seen

    # A window is as many successes as the current limit: 1 -> 2 after 1, -> 3 after 2 more...
    assert asyncio.run(scenario()) == [2, 2, 3, 3, 3, 4, 4, 4, 4]


def test_a_rate_limit_resets_the_success_run() -> None:
    async def scenario() -> None:
        limiter = AdaptiveLimiter(8)
        limiter.release(await limiter.acquire(), rate_limited=True)  # 8 -> 4
        for _ in range(3):
            limiter.release(await limiter.acquire(), success=True)
        limiter.release(await limiter.acquire(), rate_limited=True)  # 4 -> 2, run reset
        limiter.release(await limiter.acquire(), success=True)
        assert limiter.limit == 2
        limiter.release(await limiter.acquire(), success=True)
        assert limiter.limit == 3

    asyncio.run(scenario())


def test_a_cut_holds_back_queued_waiters_until_in_flight_drops() -> None:
    async def scenario() -> None:
        limiter = AdaptiveLimiter(4)
        held = [await limiter.acquire() for _ in range(4)]
        queued = [asyncio.create_task(limiter.acquire()) for _ in range(4)]
        await asyncio.sleep(0)
        limiter.release(held[0], rate_limited=True)  # limit 2, in flight 3
        await asyncio.sleep(0)
        assert limiter.in_flight == 3 and not any(t.done() for t in queued)
        limiter.release(held[1])  # in flight 2: still at the limit
        await asyncio.sleep(0)
        assert not any(t.done() for t in queued)
        limiter.release(held[2])  # in flight 1: one waiter may go
        await asyncio.sleep(0)
        assert [t.done() for t in queued] == [True, False, False, False]
        assert limiter.in_flight == 2
        for task in queued[1:]:
            task.cancel()
        await asyncio.gather(*queued[1:], return_exceptions=True)
        assert limiter.waiting == 0

    asyncio.run(scenario())


def test_cancelled_waiters_do_not_leak_slots() -> None:
    async def scenario() -> None:
        limiter = AdaptiveLimiter(1)
        holder = await limiter.acquire()
        # Cancelled while queued.
        early = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        early.cancel()
        await asyncio.gather(early, return_exceptions=True)
        assert limiter.waiting == 0
        # Cancelled after being granted but before running: the slot passes on.
        granted = asyncio.create_task(limiter.acquire())
        nxt = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        limiter.release(holder)
        granted.cancel()
        await asyncio.gather(granted, return_exceptions=True)
        slot = await asyncio.wait_for(nxt, 1.0)
        assert limiter.in_flight == 1
        limiter.release(slot)
        assert limiter.in_flight == 0

    asyncio.run(scenario())


def test_invalid_bounds_are_rejected() -> None:
    with pytest.raises(ValueError):
        AdaptiveLimiter(0)
    with pytest.raises(ValueError):
        AdaptiveLimiter(4, min_limit=5)
