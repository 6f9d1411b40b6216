"""`promptops rag-eval`: retrieve, fit the context, answer, score (the reports are rendered
by `promptops.lifecycle`).

Order matters, as in `eval`: the suite, prompt, corpus and questions are checked, every
question is retrieved with every pipeline and its context fitted before anything is sent, so a
bad suite or a context the policy refuses costs nothing and writes nothing. Answers are then
written to results.jsonl one by one (a restart with the same --out sends only what is missing),
and summary.json is built from the rankings and those rows alone.

With a chunking sweep (`chunk_sizes` / `overlaps`) the run is retrieval only: the suite's own
chunking is measured as usual (retrieved and delivered), the grid is added, nothing is sent.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx2

from promptops.llm.client import ClientStats
from promptops.llm.profile import EndpointProfile
from promptops.llm.types import Completion
from promptops.prompts import Prompt
from promptops.rag import summarize
from promptops.rag.answering import AnswerJob, scored_row
from promptops.rag.chunking import ChunkingConfig
from promptops.rag.corpus import Document, corpus_hash, load_corpus
from promptops.rag.delivery import ContextFitter, Delivery
from promptops.rag.embedding_checks import embedding_findings
from promptops.rag.grounding import GroundingScorer
from promptops.rag.question import (
    context_fitter,
    generating_key,
    question_job,
    rag_prompt,
    tune_metric,
)
from promptops.rag.rankings import PipelineKey, Rankings, make_reranker, retrieve_all
from promptops.rag.relevance import (
    QAQuery,
    chunk_qrels,
    delivered_ranking,
    file_sha256,
    load_qa_queries,
)
from promptops.rag.suite import RagSuite, resolve_rag_suite
from promptops.rag.sweep import chunking_grid, sweep_chunking
from promptops.runs import lifecycle
from promptops.runs import rag_summary as rs
from promptops.runs.envelope import Finding
from promptops.runs.folder import RunFolder, write_atomic, write_json
from promptops.runs.rows import RagRow, Tally
from promptops.runs.sending import Job, Progress, send_all
from promptops.runs.thresholds import check_thresholds
from promptops.suites import RunFlags, RunOutcome

QRELS = "qrels.json"
RANKINGS = "rankings.jsonl"
MAX_LISTED = 10


@dataclass
class RagOptions(RunFlags):
    """`promptops rag-eval` options; None keeps the suite's value."""

    questions: int | None = None
    chunk_sizes: tuple[int, ...] | None = None
    overlaps: tuple[int, ...] | None = None

    @property
    def sweeping(self) -> bool:
        return self.chunk_sizes is not None or self.overlaps is not None


RagOutcome = RunOutcome[rs.RagSummary]


@dataclass
class Prepared:
    suite: RagSuite
    prompt: Prompt
    profile: EndpointProfile
    corpus_path: Path
    queries_path: Path
    docs: list[Document]
    queries: list[QAQuery]
    chunking: ChunkingConfig
    rankings: Rankings
    qrels: dict[str, dict[str, int]]
    fitter: ContextFitter
    deliveries: dict[PipelineKey, dict[str, Delivery]]
    generating: PipelineKey
    to_answer: list[QAQuery]
    grid: list[ChunkingConfig]
    findings: list[Finding] = field(default_factory=list)


def prepare(suite_ref: str | None, options: RagOptions) -> Prepared:
    """Load, retrieve and fit everything; raises a UserInputError before anything is sent."""
    suite, _ = resolve_rag_suite(suite_ref)
    prompt = rag_prompt(suite, options.prompt)
    profile = options.profile(suite.profile, suite.endpoint)
    corpus_path, queries_path = suite.path_of(suite.corpus), suite.path_of(suite.queries)
    docs = load_corpus(corpus_path)
    queries = load_qa_queries(queries_path, docs)
    grid = (
        chunking_grid(
            options.chunk_sizes or (suite.chunking.size,),
            options.overlaps or (suite.chunking.overlap,),
        )
        if options.sweeping
        else []
    )
    chunking = ChunkingConfig(suite.chunking.size, suite.chunking.overlap)
    candidates = suite.rerank.candidates if suite.rerank else None
    rankings = retrieve_all(
        docs,
        queries,
        chunking,
        suite.retrievers,
        suite.k,
        make_reranker(suite.rerank),
        candidates,
        tune_metric=tune_metric(suite),
    )
    qrels = chunk_qrels(queries, list(rankings.chunks.values()))
    fitter = context_fitter(suite, prompt, profile)
    n_answer = 0 if options.sweeping else (options.questions or suite.questions or len(queries))
    to_answer = queries[:n_answer]
    generating = generating_key(suite)
    deliveries: dict[PipelineKey, dict[str, Delivery]] = {key: {} for key in rankings.by_pipeline}
    for q in to_answer:  # first: a context the policy refuses stops the run right here
        chunks = rankings.chunks_of(generating, q.qid)
        deliveries[generating][q.qid] = fitter.fit(q, chunks, strict=True)
    for key, fitted in deliveries.items():
        for q in queries:
            if q.qid not in fitted:
                fitted[q.qid] = fitter.fit(q, rankings.chunks_of(key, q.qid), strict=False)
    findings = _findings(queries, qrels)
    if {"dense", "hybrid"} & set(suite.retrievers):
        findings += embedding_findings(
            list(rankings.chunks.values()),
            [d.text for d in docs],
            [q.text for q in queries],
            model=None,
        )
    return Prepared(
        suite=suite,
        prompt=prompt,
        profile=profile,
        corpus_path=corpus_path,
        queries_path=queries_path,
        docs=docs,
        queries=queries,
        chunking=chunking,
        rankings=rankings,
        qrels=qrels,
        fitter=fitter,
        deliveries=deliveries,
        generating=generating,
        to_answer=to_answer,
        grid=grid,
        findings=findings,
    )


def _findings(queries: list[QAQuery], qrels: dict[str, dict[str, int]]) -> list[Finding]:
    findings = []
    unjudged = [q.qid for q in queries if q.qid not in qrels]
    if unjudged:
        findings.append(
            Finding(
                check="relevance",
                severity="warning",
                message=f"{len(unjudged)} question(s) have no answer span and are left out of "
                "the retrieval metrics",
                details=unjudged[:MAX_LISTED],
            )
        )
    return findings


def _fingerprint(prep: Prepared) -> dict[str, object]:
    suite = prep.suite
    return {
        "suite": suite.name,
        "prompt": prep.prompt.identity,
        "prompt_hash": prep.prompt.content_hash,
        "corpus_sha256": corpus_hash(prep.docs),
        "questions_sha256": file_sha256(prep.queries_path),
        "chunking": [prep.chunking.size, prep.chunking.overlap],
        "retrievers": list(suite.retrievers),
        "generate_with": suite.generate_with,
        "k": suite.k,
        "rerank": suite.rerank.model_dump(mode="json") if suite.rerank else None,
        "context": [prep.fitter.policy, prep.fitter.context_window],
        "model": prep.profile.model,
        "base_url": prep.profile.base_url,
        "questions": len(prep.to_answer),
        "grounding_threshold": suite.grounding.threshold,
        "sweep": [[c.size, c.overlap] for c in prep.grid],
    }


def _write_rankings(prep: Prepared, out_dir: Path) -> None:
    """qrels.json and rankings.jsonl: the judgments and every ranking the metrics score, so
    anyone can re-score the run (`evaluate_retrieval(qrels, ranking_run(...))`)."""
    write_json(out_dir / QRELS, prep.qrels)
    lines = []
    for q in prep.queries:
        row: dict[str, Any] = {"id": q.qid, "retrieved": {}, "delivered": {}}
        for key, by_query in prep.rankings.by_pipeline.items():
            name = f"{key.retriever}/{key.stage}"
            guard = prep.deliveries[key][q.qid].guard
            row["retrieved"][name] = by_query[q.qid]
            row["delivered"][name] = delivered_ranking(guard.kept, guard.truncated, q)
        lines.append(json.dumps(row, ensure_ascii=False, sort_keys=True))
    write_atomic(out_dir / RANKINGS, "\n".join(lines) + "\n")


def _jobs(prep: Prepared, done: set[tuple[str, int]]) -> Iterator[Job[AnswerJob]]:
    for q in prep.to_answer:
        if (q.qid, 0) in done:
            continue
        job = question_job(  # the fit prepare() made, from the fitter's memo
            q,
            prep.rankings.by_pipeline[prep.generating][q.qid],
            prep.rankings.chunks,
            prep.fitter,
            relevant=frozenset(prep.qrels.get(q.qid, {})),
        )
        yield Job(job.request, job)


async def _send(
    prep: Prepared,
    folder: RunFolder,
    options: RagOptions,
    http_client: httpx2.AsyncClient | None,
    stream: TextIO,
) -> ClientStats:
    scorer = GroundingScorer(threshold=prep.suite.grounding.threshold)
    async with lifecycle.open_client(
        prep.profile, cache=not options.no_cache, http_client=http_client
    ) as client:
        resent = lifecycle.resend_transient(folder, options.retry_errors)
        done = folder.done_keys()
        lifecycle.say_resumed(stream, folder, len(done), len(resent))
        todo = sum((q.qid, 0) not in done for q in prep.to_answer)

        async def row(job: Job[AnswerJob], completion: Completion) -> dict[str, object]:
            return (await scored_row(job.item, completion, scorer)).line()

        await send_all(client, folder, _jobs(prep, done), row, Progress(todo, stream))
        return client.stats


def run_rag_eval(
    suite_ref: str | None,
    options: RagOptions,
    *,
    http_client: httpx2.AsyncClient | None = None,
    stream: TextIO | None = None,
) -> RagOutcome:
    """Run a RAG suite to its summary.json (the reports are the caller's:
    `promptops.lifecycle`)."""
    stream = stream or sys.stderr
    started = datetime.now(UTC)
    clock = time.perf_counter()
    prep = prepare(suite_ref, options)
    sweep = None
    if prep.grid:
        suite = prep.suite
        sweep = sweep_chunking(
            prep.docs,
            prep.queries,
            prep.grid,
            suite.retrievers,
            suite.k,
            suite.metric_names,
            prep.rankings.reranker,
            suite.rerank.candidates if suite.rerank else None,
        )
    retrieval_s = time.perf_counter() - clock
    run = lifecycle.start(
        prep.suite.name, prep.prompt, _fingerprint(prep), options.out, started=started
    )
    _write_rankings(prep, run.out_dir)
    stats = ClientStats()
    generation_clock = time.perf_counter()
    try:
        if prep.to_answer:
            stats = asyncio.run(_send(prep, run.folder, options, http_client, stream))
    finally:
        run.folder.close()
    generation_s = time.perf_counter() - generation_clock
    summary = build_summary(prep, run.folder, sweep, stats)
    summary.volatile.retrieval_s = round(retrieval_s, 3)
    summary.volatile.generation_s = round(generation_s, 3)
    lifecycle.finish(summary, run, clock=clock)
    return RagOutcome(summary, run.out_dir)


def build_summary(
    prep: Prepared, folder: RunFolder, sweep: rs.SweepSection | None, stats: ClientStats
) -> rs.RagSummary:
    suite, prompt, profile = prep.suite, prep.prompt, prep.profile
    pipelines = summarize.pipeline_metrics(
        prep.rankings,
        prep.deliveries,
        prep.queries,
        prep.qrels,
        suite.metric_names,
        prep.generating,
    )
    generating = next(p for p in pipelines if p.generates)
    wanted = {q.qid: i for i, q in enumerate(prep.to_answer)}
    rows = sorted((r for r in folder.rows(RagRow) if r.id in wanted), key=lambda r: wanted[r.id])
    generation = None
    if prep.to_answer:
        generation = summarize.generation_section(
            rows,
            [prep.deliveries[prep.generating][r.id] for r in rows],
            generating.label,
            suite.grounding.threshold,
        )
    checks, unmeasured = check_thresholds(
        suite.thresholds, summarize.measured_values(generating, generation)
    )
    findings = list(prep.findings)
    if unmeasured:
        findings.append(
            Finding(
                check="thresholds",
                severity="warning",
                message=f"{len(unmeasured)} threshold(s) not checked: this run generated nothing",
                details=unmeasured,
            )
        )
    tally = Tally()
    for row in rows:
        tally.add_call(row)
    return rs.RagSummary(
        suite=suite.name,
        description=suite.description,
        prompt=lifecycle.prompt_info(prompt),
        model=rs.RagModelInfo(
            profile=profile.name,
            model=profile.model,
            base_url=profile.base_url,
            temperature=prompt.model.temperature,
            max_tokens=prep.fitter.max_tokens,
        ),
        corpus=rs.CorpusInfo(
            path=str(prep.corpus_path),
            sha256=corpus_hash(prep.docs),
            n_docs=len(prep.docs),
            n_chunks=len(prep.rankings.chunks),
        ),
        questions=rs.QuestionsInfo(
            path=str(prep.queries_path),
            sha256=file_sha256(prep.queries_path),
            n_questions=len(prep.queries),
            n_judged=len(prep.qrels),
            n_generated=len(rows),
        ),
        chunking=rs.ChunkingInfo(
            size=prep.chunking.size, overlap=prep.chunking.overlap, encoding=prep.chunking.encoding
        ),
        retrieval=rs.RetrievalSection(
            relevance=summarize.RELEVANCE,
            k=suite.k,
            metrics=list(suite.metric_names),
            n_judged=len(prep.qrels),
            unjudged=[q.qid for q in prep.queries if q.qid not in prep.qrels],
            reranker=summarize.rerank_info(
                prep.rankings, suite.rerank.candidates if suite.rerank else suite.k
            ),
            context=rs.ContextInfo(
                policy=prep.fitter.policy,
                context_window=prep.fitter.context_window,
                max_tokens=prep.fitter.max_tokens,
                counter=_counter_name(prep),
            ),
            pipelines=pipelines,
            rerank_tests=summarize.rerank_tests(prep.rankings, prep.qrels, f"ndcg@{suite.k}"),
        ),
        generation=generation,
        sweep=sweep,
        findings=findings,
        thresholds=checks,
        passed=all(t.passed for t in checks),
        volatile=rs.RagVolatile(
            **tally.volatile(stats).model_dump(), retrieval_s=0.0, generation_s=0.0
        ),
    )


def _counter_name(prep: Prepared) -> str:
    if prep.fitter.count_tokens is not None:
        return f"{prep.profile.model} tokenizer and chat template"
    from promptops.tokens import encoding_name_for_model

    return f"tiktoken {encoding_name_for_model(prep.profile.model)} with OpenAI chat framing"
