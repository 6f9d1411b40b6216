"""`promptops serve` of a RAG suite over real HTTP: uvicorn on 127.0.0.1, a real client, the
fake upstream citing passage [1]; four COVID-QA articles, BM25 (no MiniLM retriever load)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from _rag_eval_util import cite_first_sentence, make_rag_project
from _serve_util import serving
from promptops.errors import ConfigError
from promptops.lifecycle import RagOptions, run_rag_eval
from promptops.serve import ServeConfig
from promptops.serve.rag_arm import rag_suite_of
from promptops.testing.openai_server import FakeOpenAIServer, FaultPlan

# BM25 only; a 500-token window makes the guard drop passages for about half the questions.
SUITE = """\
name: mini
description: four COVID-QA articles, BM25
corpus: mini/corpus.jsonl
queries: mini/queries.jsonl
chunking: {size: 128, overlap: 16}
retrievers: [bm25]
generate_with: bm25
k: 3
prompt: rag_answer
context: {policy: drop, context_window: 500}
grounding: {threshold: 0.8}
"""


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(answer=cite_first_sentence, hang_s=10.0) as srv:
        yield srv


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_rag_project(tmp_path_factory.mktemp("ragserve"), SUITE)


@pytest.fixture(scope="module")
def evaluated(project: Path, upstream: FakeOpenAIServer) -> list[dict[str, Any]]:
    """rag-eval's results.jsonl for the suite, against the same fake upstream."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        mp.setenv("PROMPTOPS_CACHE_DIR", str(project / "cache"))
        out = project / "run"
        options = RagOptions(base_url=upstream.base_url, model="fake-model", out=out, no_cache=True)
        run_rag_eval("mini", options)
    lines = (out / "results.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def served(
    project: Path, upstream: FakeOpenAIServer, evaluated: list[dict[str, Any]]
) -> Iterator[tuple[str, Path]]:
    """One served app for the module (start-up loads the index and the grounding model)."""
    log = project / "serve.jsonl"
    config = ServeConfig(
        prompt="rag_answer",
        suite="mini",
        base_url=upstream.base_url,
        model="fake-model",
        timeout=2.0,
        log=log,
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        mp.setenv("PROMPTOPS_CACHE_DIR", str(project / "cache"))
        with serving(config) as url:
            yield url, log


def ask(url: str, question: str, **kw: Any) -> httpx2.Response:
    body = {"inputs": {"question": question}, **kw}
    return httpx2.post(f"{url}/v1/predict", json=body, timeout=30)


def log_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_answers_with_citations_and_the_passages_they_point_to(
    served: tuple[str, Path], evaluated: list[dict[str, Any]]
) -> None:
    url, _ = served
    question = evaluated[0]["question"]
    r = ask(url, question, request_id="rag-1")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["prompt"] == "rag_answer@1.0.0" and len(body["prompt_hash"]) == 64
    assert body["request_id"] == "rag-1" and body["model"] == "fake-model"
    assert body["latency_ms"] > 0
    assert body["citations"] == [1] and body["output"].endswith("[1]")
    passages = body["passages"]
    assert [p["n"] for p in passages] == list(range(1, len(passages) + 1))
    assert all(p["chunk_id"].startswith(p["doc_id"] + "#") for p in passages)
    # the fake model copies the first sentence of passage [1]: it must be that passage's text
    cited = body["output"].removesuffix(" [1]")
    assert cited.split()[:4] == passages[0]["text"].split()[:4]
    grounding = body["grounding"]
    assert 0.8 <= grounding["support"] <= 1 and grounding["unsupported_rate"] == 0.0
    assert grounding["unsupported"] == [] and grounding["validity"] == 1.0
    assert set(body["overflow"]) >= {"overflowed", "dropped", "truncated", "policy"}
    ready = httpx2.get(f"{url}/readyz").json()
    assert ready["ready"] and ready["suite"] == "mini"


def test_serve_answers_exactly_what_rag_eval_recorded(
    served: tuple[str, Path], evaluated: list[dict[str, Any]]
) -> None:
    url, _ = served
    assert any(row["guard"]["overflowed"] for row in evaluated)  # parity covers the guard
    assert any(not row["guard"]["overflowed"] for row in evaluated)
    for row in evaluated:
        body = ask(url, row["question"]).json()
        assert body["output"] == row["answer"], row["id"]
        assert body["citations"] == row["citations"]
        assert [p["chunk_id"] for p in body["passages"]] == row["guard"]["kept"]
        assert body["grounding"]["support"] == pytest.approx(row["grounding"]["support"])
        assert body["grounding"]["unsupported_rate"] == row["grounding"]["unsupported_rate"]
        assert body["overflow"]["overflowed"] == row["guard"]["overflowed"]
        assert body["overflow"]["dropped"] == row["guard"]["dropped"]
        assert body["overflow"]["prompt_tokens"] == row["guard"]["prompt_tokens"]


def test_log_carries_grounding_and_overflow_per_request(
    served: tuple[str, Path], evaluated: list[dict[str, Any]]
) -> None:
    url, log = served
    row = next(r for r in evaluated if r["guard"]["dropped"])
    r = ask(url, row["question"], request_id="rag-log")
    assert r.status_code == 200, r.text
    [line] = [x for x in log_lines(log) if x.get("request_id") == "rag-log"]
    assert line["status"] == 200 and line["prompt"] == "rag_answer@1.0.0"
    assert line["grounding_support"] == pytest.approx(row["grounding"]["support"])
    assert line["unsupported_rate"] == row["grounding"]["unsupported_rate"]
    assert line["overflow"]["overflowed"] is True
    assert line["overflow"]["dropped"] == row["guard"]["dropped"] != []
    assert line["retrieved"] == row["retrieved"] and line["citations"] == [1]
    assert line["input_chars"] == len(row["question"]) and "input" not in line
    assert row["question"] not in log.read_text("utf-8")  # raw input not logged


def test_bad_bodies_are_refused_naming_the_field(served: tuple[str, Path]) -> None:
    url, _ = served
    context = httpx2.post(
        f"{url}/v1/predict", json={"inputs": {"question": "q", "context": "mine"}}, timeout=10
    )
    missing = httpx2.post(f"{url}/v1/predict", json={"inputs": {}}, timeout=10)
    assert context.status_code == 422
    detail = context.json()["error"]["details"][0]
    assert detail["field"] == "inputs.context" and "declared: question)" in detail["message"]
    assert missing.status_code == 422
    assert missing.json()["error"]["details"][0]["field"] == "inputs.question"


def test_hung_upstream_gives_504_within_the_deadline(
    served: tuple[str, Path], upstream: FakeOpenAIServer, evaluated: list[dict[str, Any]]
) -> None:
    url, log = served
    upstream.plan = FaultPlan(persistent=True, kinds=("hang",))
    try:
        started = time.monotonic()
        r = ask(url, evaluated[1]["question"], request_id="rag-hang")
        elapsed = time.monotonic() - started
    finally:
        upstream.plan = FaultPlan()
    assert r.status_code == 504, r.text
    assert r.json()["error"]["kind"] == "deadline"
    assert elapsed < 2.0 + 0.5
    [line] = [x for x in log_lines(log) if x.get("request_id") == "rag-hang"]
    assert line["status"] == 504 and line["error_kind"] == "deadline"
    assert line["grounding_support"] is None and "overflowed" in line["overflow"]
    assert ask(url, evaluated[1]["question"]).status_code == 200
    metrics = httpx2.get(f"{url}/metrics").text
    assert 'promptops_upstream_errors_total{kind="deadline"} 1.0' in metrics
    assert 'promptops_requests_total{prompt="rag_answer@1.0.0",status="504"} 1.0' in metrics


def test_rag_serving_is_chosen_and_checked_before_binding(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    assert rag_suite_of(ServeConfig(prompt="rag_answer", suite="mini")) == "mini"
    with pytest.raises(ConfigError, match="not available for a RAG suite"):
        rag_suite_of(ServeConfig(prompt="rag_answer", suite="mini", fallback="baseline"))


def test_policy_fail_refuses_an_overflowing_context_before_sending(
    project: Path, upstream: FakeOpenAIServer, evaluated: list[dict[str, Any]]
) -> None:
    """Policy `fail` with the same window: the questions rag-eval saw overflow get 422 naming
    the question, are logged and counted, and cost no upstream call; the others are answered."""
    strict = SUITE.replace("name: mini", "name: strict").replace("policy: drop", "policy: fail")
    (project / "evalsets" / "strict.yaml").write_text(strict, encoding="utf-8")
    overflowing = next(r for r in evaluated if r["guard"]["overflowed"])
    fitting = next(r for r in evaluated if not r["guard"]["overflowed"])
    log = project / "strict.jsonl"
    config = ServeConfig(
        prompt="rag_answer", suite="strict", base_url=upstream.base_url, model="fake-model", log=log
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        mp.setenv("PROMPTOPS_CACHE_DIR", str(project / "cache"))
        with serving(config) as url:
            sent = len(upstream.requests)
            refused = ask(url, overflowing["question"], request_id="rag-over")
            assert len(upstream.requests) == sent
            answered = ask(url, fitting["question"])
            metrics = httpx2.get(f"{url}/metrics").text
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["kind"] == "context_overflow" and error["field"] == "inputs.question"
    assert answered.status_code == 200 and answered.json()["output"] == fitting["answer"]
    [line] = [x for x in log_lines(log) if x.get("request_id") == "rag-over"]
    assert line["status"] == 422 and line["error_kind"] == "context_overflow"
    assert 'promptops_requests_total{prompt="rag_answer@1.0.0",status="422"} 1.0' in metrics
