"""Release guardrails over real HTTP: shadow, canary, fallback and the kill switch."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from scipy.stats import binomtest

from _serve_util import fake_server, make_serve_project, serving
from promptops.evals.baselines import fit_tfidf_lr
from promptops.evals.evalset import EvalsetFile, case_text
from promptops.serve import ServeConfig
from promptops.serve.release import routed_to_canary
from promptops.testing.openai_server import FakeOpenAIServer, FaultPlan


@pytest.fixture
def fast() -> Iterator[FakeOpenAIServer]:
    with fake_server(hang_s=10.0) as srv:
        yield srv


@pytest.fixture
def slow() -> Iterator[FakeOpenAIServer]:
    with fake_server(hang_s=10.0) as srv:
        yield srv


@pytest.fixture
def project(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fast: FakeOpenAIServer,
    slow: FakeOpenAIServer,
) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    return make_serve_project(tmp_path, fast.base_url, slow.base_url)


def post(url: str, message: str, request_id: str | None = None) -> httpx2.Response:
    body: dict[str, object] = {"inputs": {"message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return httpx2.post(f"{url}/v1/predict", json=body, timeout=30)


def log_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def wait_for(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_shadow_never_touches_the_response_or_its_latency(
    project: Path, fast: FakeOpenAIServer, slow: FakeOpenAIServer
) -> None:
    log = project / "serve.jsonl"
    config = ServeConfig(prompt="router", shadow="router_v2", timeout=2.0, log=log)
    with serving(config) as url:
        slow.plan = FaultPlan(persistent=True, kinds=("hang",))  # the candidate's upstream hangs
        shadow_calls = len(slow.requests)
        timings, bodies = [], []
        for i in range(5):
            started = time.monotonic()
            r = post(url, f"delivery: where is parcel {i}", request_id=f"s-{i}")
            timings.append(time.monotonic() - started)
            assert r.status_code == 200
            bodies.append(r.json())
        wait_for(lambda: len(slow.requests) >= shadow_calls + 5)
        wait_for(lambda: sum(line["arm"] == "shadow" for line in log_lines(log)) == 5)
        slow.plan = FaultPlan()
    # Every answer came from the primary, each far below the 2 s the shadow spent hanging.
    assert all(b["arm"] == "primary" and b["label"] == "delivery" for b in bodies)
    assert max(timings) < 1.0
    lines = log_lines(log)
    primary = [line for line in lines if line["arm"] == "primary"]
    shadow = [line for line in lines if line["arm"] == "shadow"]
    assert [line["request_id"] for line in primary] == [f"s-{i}" for i in range(5)]
    assert {line["request_id"] for line in shadow} == {f"s-{i}" for i in range(5)}
    assert all(line["status"] == 504 and line["prompt"] == "router_v2@1.1.0" for line in shadow)


def test_canary_share_is_within_its_binomial_interval(project: Path) -> None:
    n, share = 1000, 0.1
    config = ServeConfig(prompt="router", canary="router_v2", canary_share=share, seed=7)

    async def send_all(url: str) -> list[dict[str, object]]:
        limit = asyncio.Semaphore(16)
        async with httpx2.AsyncClient(timeout=30) as client:

            async def one(i: int) -> dict[str, object]:
                async with limit:
                    body = {"inputs": {"message": "refund: my coat"}, "request_id": f"req-{i}"}
                    r = await client.post(f"{url}/v1/predict", json=body)
                    assert r.status_code == 200
                    return dict(r.json())

            return await asyncio.gather(*(one(i) for i in range(n)))

    with serving(config) as url:
        answers = asyncio.run(send_all(url))
        again = post(url, "refund: my coat", request_id="req-3").json()
    arms = Counter(str(a["arm"]) for a in answers)
    k = arms["canary"]
    assert arms["primary"] + k == n
    low, high = binomtest(k, n, share).proportion_ci(confidence_level=0.99)
    assert low <= share <= high, (k, low, high)
    canary = [a for a in answers if a["arm"] == "canary"]
    assert all(a["prompt"] == "router_v2@1.1.0" for a in canary)
    # Routing is a function of the request id: the same id lands on the same arm again.
    assert again["arm"] == answers[3]["arm"]
    assert all(
        (a["arm"] == "canary") == routed_to_canary(f"req-{i}", share, 7)
        for i, a in enumerate(answers)
    )


def test_fallback_baseline_answers_when_the_upstream_hangs(
    project: Path, fast: FakeOpenAIServer
) -> None:
    log = project / "serve.jsonl"
    config = ServeConfig(prompt="router", fallback="baseline", suite="router", timeout=1.0, log=log)
    message = "please refund the lamp I bought"
    with serving(config) as url:
        assert post(url, message).json()["fallback"] is False
        fast.plan = FaultPlan(persistent=True, kinds=("hang",))
        started = time.monotonic()
        r = post(url, message, request_id="fb-1")
        elapsed = time.monotonic() - started
        fast.plan = FaultPlan()
    assert r.status_code == 200 and elapsed < 1.5
    body = r.json()
    assert body["fallback"] is True and body["fallback_reason"] == "deadline"
    assert body["model"] == "baseline:tfidf_lr"
    # The same baseline fitted independently on the suite's train split gives that answer.
    train = [c for c in EvalsetFile(project / "evalsets" / "router.jsonl") if c.split == "train"]
    labels = ("refund", "delivery", "password")
    predict = fit_tfidf_lr(
        [case_text(c) for c in train], [str(c.expected) for c in train], labels, 13
    )
    proba = predict([message])[0]
    assert body["label"] == labels[int(proba.argmax())]
    assert body["confidence"] == pytest.approx(float(proba.max()))
    line = next(x for x in log_lines(log) if x["request_id"] == "fb-1")
    assert line["fallback"] is True and line["error_kind"] == "deadline"


def test_kill_switch_stops_shadow_traffic_at_once(project: Path, slow: FakeOpenAIServer) -> None:
    config = ServeConfig(prompt="router", shadow="router_v2")
    with serving(config) as url:
        before = len(slow.requests)
        assert post(url, "refund: my book").status_code == 200
        wait_for(lambda: len(slow.requests) == before + 1)
        assert httpx2.post(f"{url}/admin/candidate/off").json() == {"candidate_off": True}
        for i in range(5):
            assert post(url, f"refund: my book {i}").status_code == 200
        time.sleep(0.3)
        assert len(slow.requests) == before + 1
        assert httpx2.get(f"{url}/readyz").json()["candidate_off"] is True


def test_flag_file_stops_canary_traffic(project: Path) -> None:
    flag = project / "candidate-off"
    config = ServeConfig(prompt="router", canary="router_v2", canary_share=1.0, kill_file=flag)
    with serving(config) as url:
        assert post(url, "refund: my chair").json()["arm"] == "canary"
        flag.touch()
        assert post(url, "refund: my chair").json()["arm"] == "primary"
        flag.unlink()
        assert post(url, "refund: my chair").json()["arm"] == "canary"
