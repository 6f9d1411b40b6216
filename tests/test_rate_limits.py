"""Rate limits: the real OpenAI SDK, through LLMClient, against a local server that enforces
token buckets the way hosted providers do. Nothing may be lost, 429s must stay rare, and
waiting for a rate limit must never spend the retry budget that is there for faults."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from _eval_util import make_project
from _llm_util import labelled_case, profile_for
from promptops.lifecycle import EvalOptions, run_eval
from promptops.llm.client import LLMClient
from promptops.llm.pacing import RatePacer
from promptops.llm.ratelimit_headers import go_duration_seconds, read_rate_headers
from promptops.llm.types import Completion
from promptops.testing import FakeOpenAIServer, FaultPlan, ProviderLimits
from promptops.testing.ratelimit import go_duration


def send(srv: FakeOpenAIServer, n: int, **profile: object) -> tuple[list[Completion], LLMClient]:
    """n distinct labelled requests through one client; results in request order."""
    reqs = [labelled_case(i)[0] for i in range(n)]
    fields: dict[str, object] = {"max_retries": 0, "concurrency": 32}
    fields.update(profile)

    async def scenario() -> tuple[list[Completion], LLMClient]:
        async with LLMClient(profile_for(srv, **fields)) as client:
            out: dict[int, Completion] = {}
            async for index, completion in client.complete_many(reqs):
                out[index] = completion
            return [out[i] for i in range(n)], client

    return asyncio.run(scenario())


def refused_share(limits: ProviderLimits) -> float:
    return limits.refused / (limits.refused + limits.admitted)


# -- the fake provider's buckets and headers --------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_provider_bucket_admits_its_burst_then_refuses_with_the_time_to_the_next_token() -> None:
    clock = Clock()
    limits = ProviderLimits(40.0, burst=5, clock=clock)
    assert [limits.admit(10).status for _ in range(6)] == [200] * 5 + [429]
    refusal = limits.admit(10)
    assert refusal.dimension == "requests" and "requests per min" in refusal.message
    assert float(refusal.headers["retry-after-ms"]) == pytest.approx(25, abs=1)
    assert refusal.headers["x-ratelimit-limit-requests"] == "2400"
    assert refusal.headers["x-ratelimit-remaining-requests"] == "0"
    assert go_duration_seconds(refusal.headers["x-ratelimit-reset-requests"]) == pytest.approx(
        0.125, abs=0.001
    )
    clock.now += 0.025
    assert limits.admit(10).status == 200
    assert (limits.admitted, limits.refused) == (6, 2)


def test_provider_token_bucket_names_tokens_and_refuses_a_request_that_can_never_fit() -> None:
    clock = Clock()
    limits = ProviderLimits(100.0, burst=50, tokens_per_minute=6000, token_burst=100, clock=clock)
    assert limits.admit(60).status == 200
    refusal = limits.admit(60)
    assert refusal.dimension == "tokens" and "tokens per min (TPM)" in refusal.message
    assert float(refusal.headers["retry-after-ms"]) == pytest.approx(200, abs=1)  # 20 tokens
    never = limits.admit(500)
    assert "Request too large" in never.message and "retry-after" not in never.headers


def test_provider_long_hint_missing_hint_and_no_headers() -> None:
    clock = Clock()
    long = ProviderLimits(40.0, burst=1, hint="long", clock=clock)
    long.admit(1)
    assert long.admit(1).headers["retry-after"] == "1"
    bare = ProviderLimits(40.0, burst=1, hint=None, headers=False, clock=clock)
    bare.admit(1)
    assert bare.admit(1).headers == {}


def test_provider_limit_halves_after_the_stated_number_of_answers() -> None:
    limits = ProviderLimits(40.0, halve_after=3, clock=Clock())
    for _ in range(3):
        limits.answered_one()
    assert limits.current_requests_per_s == 20.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("12ms", 0.012), ("1h2m3.5s", 3723.5), ("0.5", 0.5)],
)
def test_go_durations_as_openai_sends_them(text: str, seconds: float) -> None:
    assert go_duration_seconds(text) == pytest.approx(seconds)
    assert go_duration_seconds(go_duration(seconds)) == pytest.approx(seconds, abs=0.001)


@pytest.mark.parametrize("text", ["", "abc", "5x", "-1", "1s2"])
def test_unreadable_durations_are_none(text: str) -> None:
    assert go_duration_seconds(text) is None


def test_rate_headers_read_with_absent_and_broken_values() -> None:
    headers = read_rate_headers(
        {"x-ratelimit-limit-requests": "600", "x-ratelimit-remaining-requests": "x"}
    )
    assert headers.present and headers.requests.limit == 600
    assert headers.requests.remaining is None and headers.tokens.limit is None


# -- the client against the limited server ----------------------------------------------------


@pytest.mark.parametrize("concurrency", [4, 48])
def test_with_headers_the_client_paces_before_it_is_ever_refused(concurrency: int) -> None:
    limits = ProviderLimits(60.0, burst=5)
    with FakeOpenAIServer(limits=limits) as srv:
        results, client = send(srv, 150, concurrency=concurrency)
    assert all(c.ok for c in results)
    assert limits.refused == 0, "the first answer's headers should pace every later request"
    assert client.pacer.stated_rps == pytest.approx(60.0)
    achieved = limits.admitted / (limits.last_answer_at - limits.first_at)
    assert achieved >= 0.85 * 60


@pytest.mark.parametrize("hint", ["short", "long", None])
def test_without_headers_nothing_is_lost_and_429s_never_spend_the_retry_budget(
    hint: str | None,
) -> None:
    limits = ProviderLimits(60.0, burst=5, headers=False, hint=hint)  # type: ignore[arg-type]
    with FakeOpenAIServer(limits=limits) as srv:
        results, client = send(srv, 80 if hint is None or hint == "long" else 150, max_retries=0)
    assert all(c.ok for c in results), [c.error for c in results if not c.ok][:3]
    assert limits.refused >= 1, "the limit should have been met at least once"
    assert client.stats.rate_limited == limits.refused
    assert client.stats.retries_by_kind["rate_limit"] == limits.refused
    assert client.pacer.cuts >= 1 and client.pacer.rate is not None
    if hint == "short":
        assert refused_share(limits) < 0.25


def test_tokens_per_minute_bind_and_nothing_is_lost() -> None:
    # About 19 tokens a request (words + 16 for the unset max_tokens): 2,280 TPM is 2 a second.
    limits = ProviderLimits(100.0, burst=20, tokens_per_minute=60 * 20 * 19, token_burst=60)
    with FakeOpenAIServer(limits=limits) as srv:
        results, client = send(srv, 80, concurrency=16)
    assert all(c.ok for c in results)
    assert client.pacer.stated_tps == pytest.approx(20 * 19)
    assert refused_share(limits) < 0.2
    assert limits.refused_by.get("requests", 0) == 0


def test_a_limit_halved_mid_run_is_followed_without_loss() -> None:
    limits = ProviderLimits(80.0, burst=5, headers=False, halve_after=80)
    with FakeOpenAIServer(limits=limits) as srv:
        results, client = send(srv, 160, concurrency=32)
    assert all(c.ok for c in results)
    assert client.pacer.rate is not None and client.pacer.rate < 45
    assert refused_share(limits) < 0.25


def test_a_profile_rpm_paces_a_provider_that_sends_no_headers() -> None:
    limits = ProviderLimits(50.0, burst=3, headers=False)
    with FakeOpenAIServer(limits=limits) as srv:
        results, _ = send(srv, 100, concurrency=32, rpm=50 * 60)
    assert all(c.ok for c in results)
    assert limits.refused <= 1


def test_rate_limit_gives_up_only_after_max_wait_and_says_so() -> None:
    limits = ProviderLimits(0.5, burst=1, headers=False, hint="long")
    with FakeOpenAIServer(limits=limits) as srv:
        results, _client = send(srv, 4, concurrency=4, max_wait=3.0)
    failed = [c for c in results if not c.ok]
    assert failed and sum(c.ok for c in results) >= 2
    for completion in failed:
        assert completion.error_kind == "rate_limit"
        assert "--max-wait" in (completion.error or "")
        assert completion.attempts >= 2


def test_insufficient_quota_is_terminal_not_a_rate_limit() -> None:
    plan = FaultPlan(kinds=("quota",), persistent=True)
    with FakeOpenAIServer(faults=plan) as srv:
        results, client = send(srv, 3, max_retries=5)
    assert all(c.error_kind == "quota" and c.attempts == 1 for c in results)
    assert client.stats.rate_limited == 0


def test_faults_mixed_with_rate_limits_lose_nothing() -> None:
    plan = FaultPlan(rate=0.3, kinds=("500", "503", "malformed", "drop"), seed=5)
    limits = ProviderLimits(80.0, burst=5, headers=False)
    with FakeOpenAIServer(faults=plan, limits=limits) as srv:
        results, _client = send(srv, 120, max_retries=10, concurrency=16)
    assert all(c.ok for c in results)
    assert sum(srv.fault_counts.values()) > 10


def test_pacer_waits_do_not_block_the_event_loop_when_unpaced() -> None:
    pacer = RatePacer()

    async def many() -> int:
        tickets = [await pacer.acquire(1.0)]
        pacer.failed()  # the probe ended
        tickets += [await pacer.acquire(1.0) for _ in range(100)]
        return len(tickets)

    assert asyncio.run(many()) == 101 and pacer.paced_s == 0.0


# -- resume fills the gaps --------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    return make_project(tmp_path)


def _run(srv: FakeOpenAIServer, out: Path, **kw: object) -> object:
    options = EvalOptions(
        base_url=srv.base_url,
        model="fake-model",
        out=out,
        no_cache=True,
        **kw,  # type: ignore[arg-type]
    )
    return run_eval("router", options)


def _rows(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_resume_resends_transient_errors_and_the_report_counts_them(project: Path) -> None:
    out = project / "run"
    with FakeOpenAIServer(faults=FaultPlan(rate=0.3, kinds=("503",), seed=3)) as srv:
        first = _run(srv, out, max_retries=0).summary  # type: ignore[attr-defined]
        errors = {str(r["id"]) for r in _rows(out) if r["error"]}
        assert first.n_errors == len(errors) > 0

        srv.plan = FaultPlan()  # the provider is healthy again
        srv.reset()
        kept = _run(srv, out, max_retries=0, retry_errors=False).summary  # type: ignore[attr-defined]
        assert len(srv.requests) == 0 and kept.n_errors == first.n_errors
        second = _run(srv, out, max_retries=0).summary  # type: ignore[attr-defined]
        assert len(srv.requests) == len(errors)
    rows = _rows(out)
    assert len(rows) == 30 and len({r["id"] for r in rows}) == 30
    assert {str(r["id"]) for r in rows if r.get("resent")} == errors
    assert second.n_errors == 0 and second.n_resent == len(errors)
    assert f"{len(errors)} re-sent on resume" in (out / "report.md").read_text()


def test_resume_keeps_permanent_errors(project: Path) -> None:
    out = project / "run"
    with FakeOpenAIServer(faults=FaultPlan(rate=0.3, kinds=("400",), seed=3)) as srv:
        first = _run(srv, out).summary  # type: ignore[attr-defined]
        assert first.n_errors > 0
        srv.plan = FaultPlan()
        srv.reset()
        again = _run(srv, out).summary  # type: ignore[attr-defined]
        assert len(srv.requests) == 0
    assert again.n_errors == first.n_errors and again.n_resent == 0


def test_window_slow_start_doubles_per_round_trip_until_the_first_429() -> None:
    from promptops.llm.limiter import AdaptiveLimiter

    limiter = AdaptiveLimiter(64, initial=8)
    assert (limiter.limit, limiter.slow_start) == (8, True)

    async def grow() -> list[int]:
        seen = []
        for _ in range(8):  # one round trip of 8 answers: the window doubles
            slot = await limiter.acquire()
            limiter.release(slot, success=True)
        seen.append(limiter.limit)
        slot = await limiter.acquire()
        limiter.release(slot, rate_limited=True)
        seen.append(limiter.limit)
        for _ in range(3):
            slot = await limiter.acquire()
            limiter.release(slot, success=True)
        seen.append(limiter.limit)  # additive again: a full window of successes per step
        return seen

    assert asyncio.run(grow()) == [16, 8, 8]
    assert not limiter.slow_start
