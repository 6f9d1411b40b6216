"""The real OpenAI SDK, through LLMClient, against a local HTTP server that misbehaves on cue."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx2
import pytest

from _llm_util import LABELS, ZERO_BACKOFF, labelled_case, profile_for, user_text
from promptops.errors import ConfigError
from promptops.llm.client import LLMClient, _tls_context, label_response_format
from promptops.llm.profile import EndpointProfile, Prices
from promptops.llm.types import ChatRequest, Completion
from promptops.testing import TRANSIENT_FAULTS, FakeOpenAIServer, FaultPlan, default_answer

# What each injected fault looks like from the client's side.
KIND_OF_FAULT = {
    "429": "rate_limit",
    "500": "server_error",
    "503": "server_error",
    "hang": "timeout",
    "malformed": "malformed",
    "drop": "connection",
}
HANG_TIMEOUT_S = 0.5


async def run_all(client: LLMClient, reqs: list[ChatRequest]) -> dict[int, Completion]:
    results: dict[int, Completion] = {}
    async for index, completion in client.complete_many(reqs):
        assert index not in results, f"case {index} yielded twice"
        results[index] = completion
    return results


@pytest.mark.parametrize("fault", list(TRANSIENT_FAULTS))
def test_each_fault_kind_alone_is_retried_to_the_right_answer(fault: str) -> None:
    plan = FaultPlan(rate=0.5, kinds=(fault,), seed=11)
    cases = [labelled_case(i) for i in range(24)]
    with FakeOpenAIServer(faults=plan, hang_s=5.0) as srv:
        timeout = HANG_TIMEOUT_S if fault == "hang" else 10.0
        profile = profile_for(srv, timeout=timeout, max_retries=8, concurrency=8)

        async def scenario() -> tuple[dict[int, Completion], LLMClient]:
            async with LLMClient(profile, backoff=ZERO_BACKOFF) as client:
                return await run_all(client, [req for req, _ in cases]), client

        results, client = asyncio.run(scenario())

    assert sorted(results) == list(range(len(cases)))
    injected = sum(srv.faulted.values())
    assert injected >= 8, "the plan should fault a fair share of attempts"
    assert srv.fault_counts == Counter({fault: injected})
    for i, (req, expected) in enumerate(cases):
        completion = results[i]
        assert completion.ok, completion.error
        assert (completion.label, completion.invalid) == (expected, False)
        case = user_text(req)
        assert completion.attempts == srv.attempts[case] == srv.faulted[case] + 1
    assert client.stats.retries == injected
    assert client.stats.retries_by_kind == Counter({KIND_OF_FAULT[fault]: injected})
    assert client.stats.attempts == len(cases) + injected
    assert not client.stats.errors


@pytest.mark.parametrize(
    ("headers", "expected_wait"),
    [({"retry_after": "1"}, 1.0), ({"retry_after": None, "retry_after_ms": 400}, 0.4)],
)
def test_retry_after_is_honoured(headers: dict[str, Any], expected_wait: float) -> None:
    plan = FaultPlan(rate=1.0, kinds=("429",), max_per_case=1, **headers)
    req, expected = labelled_case(0)
    with FakeOpenAIServer(faults=plan) as srv:

        async def scenario() -> tuple[Completion, float]:
            async with LLMClient(profile_for(srv), backoff=ZERO_BACKOFF) as client:
                started = time.perf_counter()
                completion = await client.complete(req)
                return completion, time.perf_counter() - started

        completion, elapsed = asyncio.run(scenario())
    assert (completion.label, completion.attempts) == (expected, 2)
    assert srv.attempts[user_text(req)] == 2
    # Zero backoff otherwise: the whole wait is the server's request.
    assert expected_wait <= elapsed < expected_wait + 1.0


@pytest.mark.slow
def test_a_thousand_cases_under_thirty_percent_mixed_faults_all_end_right() -> None:
    plan = FaultPlan(rate=0.3, kinds=TRANSIENT_FAULTS, seed=2024)
    cases = [labelled_case(i) for i in range(1000)]
    with FakeOpenAIServer(faults=plan, hang_s=5.0) as srv:
        profile = profile_for(srv, timeout=HANG_TIMEOUT_S, max_retries=10, concurrency=32)

        async def scenario() -> tuple[dict[int, Completion], LLMClient, float]:
            async with LLMClient(profile, backoff=ZERO_BACKOFF) as client:
                started = time.perf_counter()
                results = await run_all(client, [req for req, _ in cases])
                return results, client, time.perf_counter() - started

        results, client, wall_s = asyncio.run(scenario())

    assert len(results) == 1000 and sorted(results) == list(range(1000))
    wrong = [i for i, (_, expected) in enumerate(cases) if results[i].label != expected]
    assert not wrong, [results[i].error for i in wrong[:5]]
    assert all(c.ok and not c.invalid for c in results.values())
    injected = sum(srv.fault_counts.values())
    server_attempts = sum(srv.attempts.values())
    assert server_attempts == client.stats.attempts
    assert server_attempts == 1000 + injected  # every fault cost exactly one retry
    assert 0.2 < injected / server_attempts < 0.4
    assert set(srv.fault_counts) == set(TRANSIENT_FAULTS)
    expected_by_kind: Counter[str] = Counter()
    for fault, count in srv.fault_counts.items():
        expected_by_kind[KIND_OF_FAULT[fault]] += count
    assert client.stats.retries_by_kind == expected_by_kind
    figures = {
        "cases": 1000,
        "attempts": server_attempts,
        "retries": client.stats.retries,
        "faults_injected": dict(sorted(srv.fault_counts.items())),
        "retries_by_kind": dict(sorted(client.stats.retries_by_kind.items())),
        "max_attempts_one_case": max(c.attempts for c in results.values()),
        "limiter_lowest": client.limiter.lowest_limit,
        "limiter_final": client.limiter.limit,
        "server_peak_in_flight": srv.max_in_flight,
        "wall_s": round(wall_s, 2),
    }
    print("\nmixed-fault run:", json.dumps(figures))


@pytest.mark.parametrize(
    ("fault", "kind", "status"),
    [
        ("503", "server_error", 503),
        ("429", "rate_limit", 429),
        ("hang", "timeout", None),
        ("malformed", "malformed", None),
        ("drop", "connection", None),
    ],
)
def test_persistent_faults_end_in_a_recorded_error(
    fault: str, kind: str, status: int | None
) -> None:
    plan = FaultPlan(persistent=True, kinds=(fault,))
    cases = [labelled_case(i) for i in range(4)]
    with FakeOpenAIServer(faults=plan, hang_s=5.0) as srv:
        timeout = 0.3 if fault == "hang" else 10.0
        profile = profile_for(srv, timeout=timeout, max_retries=3, max_wait=1.0)

        async def scenario() -> tuple[dict[int, Completion], LLMClient]:
            async with LLMClient(profile, backoff=ZERO_BACKOFF, api_key="sk-do-not-echo") as c:
                return await run_all(c, [req for req, _ in cases]), c

        results, client = asyncio.run(scenario())
    for i, (req, _) in enumerate(cases):
        completion = results[i]
        assert not completion.ok and completion.error is not None
        assert completion.error_kind == kind
        assert completion.label is None and completion.text is None
        assert srv.attempts[user_text(req)] == completion.attempts
        assert kind in completion.error and "sk-do-not-echo" not in completion.error
        if status is not None:
            assert f"HTTP {status}" in completion.error
        if kind == "rate_limit":  # waited out until --max-wait, not counted as retries
            assert completion.attempts >= 2 and "--max-wait" in completion.error
        else:
            assert completion.attempts == 4 and "after 4 attempts" in completion.error
    assert client.stats.errors == Counter({kind: 4})
    assert client.stats.retries == sum(c.attempts - 1 for c in results.values())


@pytest.mark.parametrize(("fault", "kind"), [("400", "bad_request"), ("401", "auth")])
def test_client_errors_are_not_retried(fault: str, kind: str) -> None:
    req, _ = labelled_case(0)
    with FakeOpenAIServer(faults=FaultPlan(persistent=True, kinds=(fault,))) as srv:

        async def scenario() -> Completion:
            async with LLMClient(profile_for(srv, max_retries=5), backoff=ZERO_BACKOFF) as c:
                return await c.complete(req)

        completion = asyncio.run(scenario())
    assert (completion.error_kind, completion.attempts) == (kind, 1)
    assert srv.attempts[user_text(req)] == 1
    assert completion.error is not None and "not retryable" in completion.error


def test_concurrency_backs_off_under_429s_and_recovers_slowly() -> None:
    with FakeOpenAIServer(faults=FaultPlan(persistent=True, kinds=("429",))) as srv:
        profile = profile_for(srv, concurrency=16, max_retries=2, max_wait=0.5)

        async def scenario() -> tuple[LLMClient, int, list[int]]:
            async with LLMClient(profile, backoff=ZERO_BACKOFF) as client:
                limited = await run_all(client, [labelled_case(i)[0] for i in range(40)])
                assert all(c.error_kind == "rate_limit" for c in limited.values())
                after_429s = client.limiter.limit
                srv.plan = FaultPlan()
                srv.reset()
                limits = []
                for i in range(100, 125):  # one at a time: the limit can only creep up
                    completion = await client.complete(labelled_case(i)[0])
                    assert completion.ok
                    limits.append(client.limiter.limit)
                return client, after_429s, limits

        client, after_429s, limits = asyncio.run(scenario())
    assert after_429s <= 2 < profile.concurrency
    assert client.limiter.cuts >= 3
    # +1 per window of successes (as many as the current limit): slow, step by step.
    expected, limit, run = [], after_429s, 0
    for _ in range(25):
        run += 1
        if run == limit:
            limit, run = limit + 1, 0
        expected.append(limit)
    assert limits == expected
    assert limits[-1] < profile.concurrency


def test_server_sees_no_more_than_the_limit() -> None:
    with FakeOpenAIServer(latency_s=0.01) as srv:
        profile = profile_for(srv, concurrency=5)

        async def scenario() -> dict[int, Completion]:
            async with LLMClient(profile, backoff=ZERO_BACKOFF) as client:
                return await run_all(client, [labelled_case(i)[0] for i in range(60)])

        results = asyncio.run(scenario())
    assert len(results) == 60
    assert srv.max_in_flight == 5


def test_request_body_for_structured_logprob_and_plain_calls() -> None:
    req = ChatRequest(
        messages=(("user", "which: beta"),),
        temperature=0.3,
        max_tokens=7,
        labels=LABELS,
        top_p=0.9,
        stop=("\n",),
        seed=5,
    )
    with FakeOpenAIServer() as srv:

        async def scenario() -> list[Completion]:
            out = []
            for overrides in (
                {"structured_output": True, "logprobs": True},
                {"structured_output": False, "logprobs": False},
            ):
                async with LLMClient(profile_for(srv, **overrides)) as client:
                    out.append(await client.complete(req))
            return out

        structured, plain = asyncio.run(scenario())
    first, second = srv.requests
    assert first["response_format"] == label_response_format(LABELS)
    assert first["response_format"]["json_schema"]["schema"]["properties"]["label"]["enum"] == (
        list(LABELS)
    )
    assert (first["logprobs"], first["top_logprobs"]) == (True, 20)
    common = {"model": "fake-model", "temperature": 0.3, "max_tokens": 7, "top_p": 0.9}
    for body in (first, second):
        assert {k: body[k] for k in common} == common
        assert (body["stop"], body["seed"]) == (["\n"], 5)
        assert body["messages"] == [{"role": "user", "content": "which: beta"}]
    assert "response_format" not in second and "logprobs" not in second
    assert structured.label == "beta"
    # Without a schema the fake server echoes the question, which is not a label.
    assert (plain.label, plain.invalid, plain.text) == (None, True, "echo: which: beta")


def test_plain_text_answers_are_parsed_strictly() -> None:
    answers = {"a": " Beta. ", "b": "`gamma`", "c": "beta-ish", "d": "I think alpha"}
    with FakeOpenAIServer(answer=lambda body: answers[body["messages"][-1]["content"]]) as srv:
        profile = profile_for(srv, structured_output=False)

        async def scenario() -> dict[str, Completion]:
            async with LLMClient(profile) as client:
                return {
                    key: await client.complete(ChatRequest((("user", key),), labels=LABELS))
                    for key in answers
                }

        got = asyncio.run(scenario())
    assert (got["a"].label, got["b"].label) == ("beta", "gamma")
    for key in ("c", "d"):
        assert (got[key].label, got[key].invalid, got[key].text) == (None, True, answers[key])
        assert got[key].ok  # an invalid answer is an answer, not an endpoint error


def test_usage_cost_latency_and_free_text() -> None:
    prices = Prices(input_per_mtok=2.0, output_per_mtok=10.0)
    with FakeOpenAIServer(latency_s=0.05) as srv:
        profile = profile_for(srv, prices=prices)

        async def scenario() -> tuple[Completion, LLMClient]:
            async with LLMClient(profile) as client:
                req = ChatRequest((("system", "be brief"), ("user", "hello there world")))
                return await client.complete(req), client

        completion, client = asyncio.run(scenario())
    # The fake server counts words: 2 + 3 prompt, "echo: hello there world" = 4 completion.
    assert completion.text == "echo: hello there world"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (5, 4)
    assert completion.cost_usd == pytest.approx((5 * 2.0 + 4 * 10.0) / 1e6)
    assert (completion.label, completion.invalid, completion.finish_reason) == (None, False, "stop")
    assert 0.05 <= completion.latency_s < 2.0
    assert completion.model == "fake-model"
    stats = client.stats
    assert (stats.requests, stats.prompt_tokens, stats.completion_tokens) == (1, 5, 4)
    assert stats.cost_usd == pytest.approx(completion.cost_usd)


def test_stopping_early_cancels_the_rest() -> None:
    with FakeOpenAIServer(latency_s=0.02) as srv:

        async def scenario() -> tuple[int, int]:
            async with LLMClient(profile_for(srv, concurrency=4)) as client:
                taken = 0
                stream = client.complete_many([labelled_case(i)[0] for i in range(200)])
                async for _ in stream:
                    taken += 1
                    if taken == 5:
                        break
                await stream.aclose()
                await asyncio.sleep(0.1)
                return taken, client.limiter.in_flight

        taken, in_flight = asyncio.run(scenario())
    assert (taken, in_flight) == (5, 0)
    assert len(srv.requests) < 40


def test_api_key_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTOPS_TEST_KEY", raising=False)
    remote = EndpointProfile(
        name="remote", base_url="https://api.example.com/v1", api_key_env="PROMPTOPS_TEST_KEY"
    )
    with pytest.raises(ConfigError, match="PROMPTOPS_TEST_KEY") as err:
        LLMClient(remote)
    assert err.value.where == "profile remote: api_key_env"
    # A local endpoint needs no key; an explicit or environment key is used as given.
    local = EndpointProfile(name="local", base_url="http://localhost:8000/v1")
    asyncio.run(LLMClient(local).aclose())
    monkeypatch.setenv("PROMPTOPS_TEST_KEY", "from-env")
    asyncio.run(LLMClient(remote).aclose())


# -- the fake server itself ----------------------------------------------------------------------


def test_server_keeps_connections_alive_and_lists_models() -> None:
    with FakeOpenAIServer(model="served-model") as srv:

        async def scenario() -> None:
            async with LLMClient(profile_for(srv)) as client:
                for i in range(30):
                    assert (await client.complete(labelled_case(i)[0])).ok

        asyncio.run(scenario())
        assert srv.connections == 1  # thirty calls, one kept-alive connection
        models = httpx2.get(f"{srv.base_url}/models").json()
        assert [m["id"] for m in models["data"]] == ["served-model"]
        assert len(srv.requests) == 30 and sum(srv.attempts.values()) == 30


def test_server_routes_and_chunked_bodies() -> None:
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "ping"}]}).encode()

    async def chunks() -> Any:
        for i in range(0, len(body), 7):
            yield body[i : i + 7]

    with FakeOpenAIServer() as srv:

        async def scenario() -> list[httpx2.Response]:
            async with httpx2.AsyncClient(base_url=srv.base_url) as http:
                return [
                    await http.post("/chat/completions", content=chunks()),
                    await http.post("/chat/completions", content=b"{not json"),
                    await http.get("/nowhere"),
                ]

        chunked, invalid, missing = asyncio.run(scenario())
    data = chunked.json()
    assert data["object"] == "chat.completion"
    assert data["choices"][0]["message"] == {"role": "assistant", "content": "echo: ping"}
    assert data["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    assert (invalid.status_code, missing.status_code) == (400, 404)
    assert "error" in missing.json()


def test_default_answer_picks_the_first_label_in_the_question() -> None:
    body = {"response_format": label_response_format(("alpha", "beta", "gamma"))}
    ask = [{"role": "user", "content": "Mostly GAMMA, a bit of beta"}]
    assert json.loads(default_answer({**body, "messages": ask}))["label"] == "gamma"
    none = [{"role": "user", "content": "nothing relevant"}]
    assert json.loads(default_answer({**body, "messages": none}))["label"] == "alpha"
    assert default_answer({"messages": ask}) == "echo: Mostly GAMMA, a bit of beta"


def test_fault_plan_is_seeded_and_validated() -> None:
    plan = FaultPlan(rate=0.3, seed=5)
    draws = [plan.fault_for(f"case {i}", 1) for i in range(2000)]
    assert draws == [FaultPlan(rate=0.3, seed=5).fault_for(f"case {i}", 1) for i in range(2000)]
    assert draws != [FaultPlan(rate=0.3, seed=6).fault_for(f"case {i}", 1) for i in range(2000)]
    share = sum(d is not None for d in draws) / len(draws)
    assert 0.26 < share < 0.34
    assert set(draws) == {None, *TRANSIENT_FAULTS}
    capped = FaultPlan(rate=1.0, kinds=("500",), max_per_case=2)
    assert [capped.fault_for("c", n) for n in (1, 2, 3)] == ["500", "500", None]
    with pytest.raises(ValueError):
        FaultPlan(kinds=("teapot",))
    with pytest.raises(ValueError):
        FaultPlan(rate=1.5)


def test_server_runs_as_a_module_for_benchmarks() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    src = str(Path(__file__).resolve().parents[1] / "src")
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "promptops.testing.openai_server"),
            *("--port", str(port), "--latency-ms", "5", "--fault-rate", "0"),
        ],
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"http://127.0.0.1:{port}/v1"
        reply = httpx2.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert reply.json()["choices"][0]["message"]["content"] == "echo: hi"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_only_local_plain_http_skips_the_ca_store_and_it_fails_closed() -> None:
    local = _tls_context("http://127.0.0.1:8000/v1")
    assert isinstance(local, ssl.SSLContext)
    assert (local.verify_mode, local.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert local.cert_store_stats()["x509_ca"] == 0  # trusts nothing: TLS could never pass
    for url in ("https://127.0.0.1:8000/v1", "http://10.0.0.5/v1", "https://api.openai.com/v1"):
        assert _tls_context(url) is True
