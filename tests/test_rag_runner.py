"""`promptops rag-eval` end to end against a real local OpenAI-compatible server, on four
COVID-QA articles: retrieval scored independently, the context guard's overflows, resume,
byte-stable reports, user errors; and the shipped suite on the embedded model (slow)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from _rag_eval_util import (
    REPO,
    SUITE,
    cite_first_sentence,
    make_rag_project,
    mini_chunks,
    reference_qrels,
)
from promptops.cli import main
from promptops.errors import ContextOverflowError
from promptops.lifecycle import RagOptions, run_rag_eval
from promptops.metrics.retrieval import evaluate_retrieval
from promptops.rag.relevance import ranking_run
from promptops.testing.openai_server import FakeOpenAIServer

MEASURES = {
    "ndcg@3": "ndcg_cut_3",
    "recall@3": "recall_3",
    "p@3": "P_3",
    "mrr": "recip_rank",
    "map": "map",
}


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One index and response cache for the module: indexes are built once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_cache: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(shared_cache))
    return make_rag_project(tmp_path)


@pytest.fixture(scope="module")
def server() -> Any:
    with FakeOpenAIServer(answer=cite_first_sentence) as srv:
        yield srv


def options(server: FakeOpenAIServer, out: Path, **kw: Any) -> RagOptions:
    return RagOptions(base_url=server.base_url, model="fake-model", out=out, **kw)


def rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def rankings(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "rankings.jsonl").read_text().splitlines()]


def pytrec_means(
    qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]
) -> dict[str, float]:
    import pytrec_eval

    evaluator = pytrec_eval.RelevanceEvaluator(qrels, set(MEASURES.values()))
    full = {qid: run.get(qid) or {"__none__": 0.0} for qid in qrels}
    per_query = evaluator.evaluate(full)
    return {
        ours: float(np.mean([per_query[q][theirs] for q in qrels]))
        for ours, theirs in MEASURES.items()
    }


def test_retrieval_metrics_equal_independent_scoring_of_the_run(
    project: Path, server: FakeOpenAIServer
) -> None:
    out = project / "run"
    before = len(server.requests)
    outcome = run_rag_eval("mini", options(server, out))
    s = outcome.summary
    assert outcome.exit_code == 0 and s.passed
    assert len(server.requests) - before == 16
    qrels = reference_qrels(mini_chunks())
    assert json.loads((out / "qrels.json").read_text()) == qrels
    assert s.corpus.n_chunks == len(mini_chunks())
    labels = [p.label for p in s.retrieval.pipelines]
    assert labels == ["bm25", "bm25 + minilm-fusion", "dense", "dense + minilm-fusion"]
    ranked = rankings(out)
    for p in s.retrieval.pipelines:
        name = f"{p.retriever}/{p.stage}"
        for scope, values in (("retrieved", p.retrieved), ("delivered", p.delivered)):
            run = ranking_run({r["id"]: r[scope][name] for r in ranked})
            assert values == evaluate_retrieval(qrels, run, s.retrieval.metrics).aggregate
            reference = pytrec_means(qrels, run)
            for measure, value in reference.items():
                assert values[measure] == pytest.approx(value, abs=1e-9), (name, scope, measure)
        assert all(len(r["retrieved"][name]) == 3 for r in ranked)
        assert p.delivered == p.retrieved  # an 8k window holds three 128-token chunks
        assert p.guard.overflowed == 0 and p.guard.chunks_delivered == 48
    # the dense ranking is not the BM25 one, and reranking changed something
    assert ranked[0]["retrieved"]["bm25/first_stage"] != ranked[0]["retrieved"]["dense/first_stage"]
    assert any(
        r["retrieved"]["bm25/first_stage"] != r["retrieved"]["bm25/reranked"] for r in ranked
    )
    # alpha was chosen on dev questions; each retriever is tested on the others, and the test
    # means are recomputed from the written rankings.
    reranker = s.retrieval.reranker
    assert reranker is not None and reranker.tuning is not None
    assert reranker.config["alpha"] == reranker.tuning.alpha
    tests = {t.retriever: t for t in s.retrieval.rerank_tests}
    assert set(tests) == {"bm25", "dense"}
    dev_n, test_n = reranker.tuning.dev_questions, reranker.tuning.test_questions
    assert dev_n + test_n == len(qrels) and all(t.n == test_n for t in tests.values())
    from promptops.rag.rerank_eval import dev_split

    _, test_ids = dev_split([r["id"] for r in ranked if r["id"] in qrels])
    judged = {q: qrels[q] for q in test_ids}
    for retriever, result in tests.items():
        means = [
            evaluate_retrieval(
                judged,
                ranking_run({r["id"]: r["retrieved"][f"{retriever}/{stage}"] for r in ranked}),
                ["ndcg@3"],
            ).aggregate["ndcg@3"]
            for stage in ("first_stage", "reranked")
        ]
        assert (result.mean_before, result.mean_after) == pytest.approx(means, abs=1e-12)
    # the embedding model's checks ran for the dense retriever
    checks = {f.check for f in s.findings}
    assert {"embedding_sequence_limit", "embedding_language"} <= checks


def test_answers_are_grounded_scored_and_reported(project: Path, server: FakeOpenAIServer) -> None:
    out = project / "run"
    s = run_rag_eval("mini", options(server, out)).summary
    g = s.generation
    assert g is not None and g.n_questions == 16 and g.n_errors == 0
    assert g.pipeline == "bm25 + minilm-fusion"
    ranked = {r["id"]: r for r in rankings(out)}
    for row in rows(out):
        assert row["retrieved"] == ranked[row["id"]]["retrieved"]["bm25/reranked"]
        assert row["citations"] == [1] and row["answer"].endswith("[1]")
        assert row["grounding"]["validity"] == 1.0 and row["grounding"]["coverage"] == 1.0
        # copied from passage 1: every content word is found there
        assert row["grounding"]["sentences"][0]["lexical"] == 1.0
        assert set(row["quality"]) >= {"rouge_l", "exact_match", "token_f1"}
    # answer quality, recomputed with rouge-score and sacrebleu themselves
    from rouge_score.rouge_scorer import RougeScorer
    from sacrebleu import corpus_bleu

    answers, golds = [r["answer"] for r in rows(out)], [r["gold"][0] for r in rows(out)]
    rouge = RougeScorer(["rougeL"], use_stemmer=True)
    pairs = zip(answers, golds, strict=True)
    expected = np.mean([rouge.score(gold, a)["rougeL"].fmeasure for a, gold in pairs])
    assert g.metrics["rouge_l"] == pytest.approx(expected)
    assert g.metrics["bleu"] == pytest.approx(corpus_bleu(answers, [golds]).score / 100)
    assert 0 < g.metrics["token_f1"] < 1 and g.metrics["exact_match"] == 0.0
    gr = g.grounding
    assert gr.answers == 16 and gr.answers_citing == 16 and gr.validity == 1.0
    assert gr.unsupported_rate == 0.0 and gr.invalid_citations == 0
    assert (
        g.guard.overflowed == 0
        and "nothing was dropped or truncated" in (out / "report.md").read_text()
    )
    html = (out / "report.html").read_text()
    assert html.count("<svg") >= 3 and "bm25 + minilm-fusion" in html


@pytest.mark.parametrize("policy", ["drop", "truncate"])
def test_overflow_is_recorded_per_row_and_counted(
    project: Path, server: FakeOpenAIServer, policy: str
) -> None:
    make_rag_project(
        project, SUITE.replace("{policy: drop}", f"{{policy: {policy}, context_window: 420}}")
    )
    out = project / "run"
    s = run_rag_eval("mini", options(server, out)).summary
    g = s.generation
    assert g is not None
    records = rows(out)
    overflowed = [r for r in records if r["guard"]["overflowed"]]
    assert len(overflowed) >= 8
    assert g.guard.overflowed == len(overflowed) == len(g.overflows)
    assert g.guard.chunks_dropped == sum(len(r["guard"]["dropped"]) for r in records)
    truncated = [r for r in records if r["guard"]["truncated"]]
    assert g.guard.chunks_truncated == len(truncated)
    assert (len(truncated) > 0) == (policy == "truncate")
    for r in records:
        guard = r["guard"]
        assert (
            guard["kept"] + [c for c in guard["dropped"] if c not in guard["kept"]]
            == r["retrieved"]
        )
        assert guard["prompt_tokens"] <= guard["limit"] == 420 - 64
    request = server.requests[-1]["messages"][-1]["content"]
    assert "[4]" not in request
    generating = next(p for p in s.retrieval.pipelines if p.generates)
    assert generating.guard.overflowed == g.guard.overflowed
    assert generating.delivered["recall@3"] <= generating.retrieved["recall@3"]
    report = (out / "report.md").read_text()
    assert f"questions overflowed the context (policy {policy})" in report
    assert all(f"| {o.id} |" in report for o in g.overflows)


def run_cli(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: Any) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["promptops", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = 0 if exc.code is None else int(exc.code)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_fail_policy_exits_2_before_sending_anything(
    project: Path, server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    make_rag_project(
        project, SUITE.replace("{policy: drop}", "{policy: fail, context_window: 420}")
    )
    before = len(server.requests)
    with pytest.raises(
        ContextOverflowError,
        match=r"question \d+: the context needs \d+ tokens but the budget is \d+",
    ):
        run_rag_eval("mini", options(server, project / "run"))
    args = [
        "rag-eval",
        "mini",
        "--base-url",
        server.base_url,
        "--model",
        "fake-model",
        "--out",
        "cli",
    ]
    code, _, err = run_cli(args, monkeypatch, capsys)
    assert code == 2 and "budget" in err and "Traceback" not in err
    assert len(server.requests) == before
    assert not (project / "run").exists() and not (project / "cli").exists()


def test_resume_sends_only_what_is_missing(project: Path, server: FakeOpenAIServer) -> None:
    out = project / "run"
    first = run_rag_eval("mini", options(server, out, no_cache=True)).summary
    lines = (out / "results.jsonl").read_text().splitlines(keepends=True)
    (out / "results.jsonl").write_text("".join(lines[:5]) + lines[5][:40])  # a torn last line
    before = len(server.requests)
    second = run_rag_eval("mini", options(server, out, no_cache=True)).summary
    assert len(server.requests) - before == 11
    sent = {m["messages"][-1]["content"] for m in server.requests[before:]}
    kept_questions = {json.loads(line)["question"] for line in lines[:5]}
    assert not any(q in text for q in kept_questions for text in sent)
    again = rows(out)
    assert len(again) == 16 and len({r["id"] for r in again}) == 16
    assert second.generation == first.generation
    before = len(server.requests)
    run_rag_eval("mini", options(server, out, no_cache=True))
    assert len(server.requests) == before


def test_report_md_is_byte_identical_across_runs_with_the_same_answers(
    project: Path, server: FakeOpenAIServer
) -> None:
    run_rag_eval("mini", options(server, project / "a"))
    before = len(server.requests)
    second = run_rag_eval("mini", options(server, project / "b"))
    assert len(server.requests) == before and second.summary.volatile.cache_hits == 16
    assert (project / "a" / "report.md").read_bytes() == (project / "b" / "report.md").read_bytes()
    saved = json.loads((project / "b" / "summary.json").read_text())
    assert saved["kind"] == "rag" and saved["volatile"]["cache_hits"] == 16


def test_failing_threshold_exits_1(project: Path, server: FakeOpenAIServer) -> None:
    make_rag_project(
        project, SUITE.replace("retrieval.recall@3: {min: 0.3}", "delivered.ndcg@3: {min: 0.99}")
    )
    outcome = run_rag_eval("mini", options(server, project / "run"))
    assert outcome.exit_code == 1
    assert [t.metric for t in outcome.summary.thresholds if not t.passed] == ["delivered.ndcg@3"]


@pytest.mark.parametrize(
    ("change", "where", "reason"),
    [
        (("[bm25, dense]", "[bm25, sparse]"), "mini.yaml:6", "unknown retriever(s) 'sparse'"),
        (
            ("generate_with: bm25", "generate_with: hybrid"),
            "mini.yaml",
            "must be one of the retrievers",
        ),
        (("mini/corpus.jsonl", "mini/nope.jsonl"), "nope.jsonl", "corpus not found"),
        (
            ("retrieval.recall@3", "retrieval.recall@10"),
            "mini.yaml",
            "unknown threshold(s) 'retrieval.recall@10'",
        ),
        (("{name: minilm-fusion", "{name: colbert"), "mini.yaml:9", "unknown reranker 'colbert'"),
        (("prompt: rag_answer", "prompt: nope"), "nope", "no prompt named 'nope'"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    project: Path,
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    change: tuple[str, str],
    where: str,
    reason: str,
) -> None:
    make_rag_project(project, SUITE.replace(*change))
    before = len(server.requests)
    code, _, err = run_cli(
        ["rag-eval", "mini", "--base-url", server.base_url, "--out", "run"], monkeypatch, capsys
    )
    assert code == 2 and where in err and reason in err, err
    assert "Traceback" not in err and len(server.requests) == before
    assert not (project / "run").exists()


def test_missing_suite_and_bad_sweep_option_exit_2(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    code, _, err = run_cli(["rag-eval", "nosuch"], monkeypatch, capsys)
    assert code == 2 and "evalsets/nosuch.yaml: no suite file" in err and "mini" in err
    code, _, err = run_cli(["rag-eval", "mini", "--chunk-sizes", "128,x"], monkeypatch, capsys)
    assert code == 2 and "--chunk-sizes" in err


def test_chunking_sweep_scores_every_setting_and_sends_nothing(
    project: Path, server: FakeOpenAIServer
) -> None:
    suite = SUITE.replace("[bm25, dense]", "[bm25]").replace(
        "{policy: drop}", "{policy: fail, context_window: 420}"
    )
    make_rag_project(project, suite.replace("rerank: {name: minilm-fusion, candidates: 8}\n", ""))
    before = len(server.requests)
    out = project / "sweep"
    opts = options(server, out, chunk_sizes=(64, 128), overlaps=(0, 16))
    outcome = run_rag_eval("mini", opts)
    s = outcome.summary
    assert len(server.requests) == before and s.generation is None and rows(out) == []
    assert s.sweep is not None and [(p.size, p.overlap) for p in s.sweep.points] == [
        (64, 0),
        (64, 16),
        (128, 0),
        (128, 16),
    ]
    assert s.sweep.primary_metric == "ndcg@3"
    point = next(p for p in s.sweep.points if (p.size, p.overlap) == (128, 16))
    assert point.n_chunks == len(mini_chunks(128, 16))
    bm25 = s.retrieval.pipelines[0]
    assert point.pipelines[0].metrics == bm25.retrieved
    small = next(p for p in s.sweep.points if (p.size, p.overlap) == (64, 0))
    assert small.n_chunks == len(mini_chunks(64, 0)) > point.n_chunks
    best = s.sweep.best[0]
    assert best.value == max(p.pipelines[0].metrics["ndcg@3"] for p in s.sweep.points)
    skipped = next(f for f in s.findings if f.check == "thresholds")
    assert skipped.details == ["generation.error_rate"]
    assert "## Chunking sweep (retrieval only)" in (out / "report.md").read_text()
    # Policy fail refuses contexts that do not fit; with nothing sent, that is measured, not fatal.
    assert bm25.guard.overflowed == bm25.guard.refused > 0
    assert bm25.delivered["recall@3"] < bm25.retrieved["recall@3"]
    refused = [r["delivered"]["bm25/first_stage"] for r in rankings(out)]
    assert refused.count([]) == bm25.guard.refused


def test_hybrid_from_fitted_members_ranks_like_a_hybrid_fitted_alone(
    project: Path, shared_cache: Path
) -> None:
    from promptops.rag import load_corpus
    from promptops.rag.chunking import ChunkingConfig
    from promptops.rag.rankings import PipelineKey, retrieve_all
    from promptops.rag.relevance import load_qa_queries

    docs = load_corpus(project / "evalsets" / "mini" / "corpus.jsonl")
    queries = load_qa_queries(project / "evalsets" / "mini" / "queries.jsonl", docs)
    chunking = ChunkingConfig(128, 16)
    together = retrieve_all(docs, queries, chunking, ["bm25", "dense", "hybrid"], 5)
    alone = retrieve_all(docs, queries, chunking, ["hybrid"], 5)
    key = PipelineKey("hybrid", "first_stage")
    assert together.by_pipeline[key] == alone.by_pipeline[key]
    assert any(
        together.by_pipeline[key][q.qid]
        != together.by_pipeline[PipelineKey("bm25", "first_stage")][q.qid]
        for q in queries
    )


@pytest.mark.slow
def test_shipped_suite_on_the_embedded_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three questions of evalsets/covid_qa.yaml answered by the embedded model, for real."""
    monkeypatch.chdir(REPO)
    out = tmp_path / "run"
    outcome = run_rag_eval(None, RagOptions(questions=3, no_cache=True, out=out))
    s = outcome.summary
    assert s.suite == "covid_qa" and s.model.base_url is None
    assert s.questions.n_questions == 80 and s.questions.n_generated == 3
    assert {p.retriever for p in s.retrieval.pipelines} == {"bm25", "dense", "hybrid"}
    assert s.retrieval.context.counter.endswith("tokenizer and chat template")
    g = s.generation
    assert g is not None and g.n_errors == 0 and g.usage.completion_tokens > 0
    records = rows(out)
    assert len(records) == 3 and all(r["answer"] for r in records)
    assert all(r["completion_tokens"] <= s.model.max_tokens for r in records)
    assert all(r["guard"]["prompt_tokens"] <= r["guard"]["limit"] for r in records)
    assert (out / "report.html").stat().st_size > 0
