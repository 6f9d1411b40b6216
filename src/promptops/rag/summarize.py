"""From a RAG run's rankings and answer rows to the `RagSummary` sections and thresholds.

Retrieval measures come from `evaluate_retrieval` over the judged questions, once on the
rankings as retrieved and once on what the guard delivered. Generation figures come from the
answered questions' rows in results.jsonl: corpus BLEU, and the mean ROUGE-L, exact match and
token F1 over the questions with gold answers; a failed call scores 0 on answer quality and is
left out of grounding (there is nothing to ground).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict

import numpy as np

from promptops.metrics.generation import corpus_scores, generation_metric_names
from promptops.metrics.retrieval import evaluate_retrieval
from promptops.rag.delivery import Delivery
from promptops.rag.rankings import PipelineKey, Rankings
from promptops.rag.relevance import QAQuery, delivered_ranking, ranking_run
from promptops.rag.rerank_eval import paired_test
from promptops.runs import rag_summary as rs
from promptops.runs.rows import GroundingRecord, RagRow, Tally

RELEVANCE = (
    "a chunk is relevant to a question when its character range overlaps one of the question's "
    "gold answer spans in the same document (grade 1); a truncated chunk counts after the guard "
    "only if its kept part still overlaps a span"
)
WORST_ANSWERS = 5
GROUNDING_MEANS = ("validity", "coverage", "support", "unsupported_rate")


def guard_counts(deliveries: Iterable[Delivery], retrieved: Iterable[int]) -> rs.GuardCounts:
    items = list(deliveries)
    return rs.GuardCounts(
        questions=len(items),
        overflowed=sum(d.guard.overflowed for d in items),
        refused=sum(d.refused is not None for d in items),
        chunks_retrieved=sum(retrieved),
        chunks_delivered=sum(len(d.guard.kept) for d in items),
        chunks_dropped=sum(len(d.guard.dropped) for d in items),
        chunks_truncated=sum(d.guard.truncated is not None for d in items),
    )


def pipeline_metrics(
    rankings: Rankings,
    deliveries: Mapping[PipelineKey, Mapping[str, Delivery]],
    queries: Sequence[QAQuery],
    qrels: Mapping[str, Mapping[str, int]],
    metrics: Sequence[str],
    generating: PipelineKey,
) -> list[rs.PipelineMetrics]:
    """Every pipeline's measures on retrieved and on delivered chunks, with its guard counts."""
    judged = [q for q in queries if q.qid in qrels]
    out = []
    for key, by_query in rankings.by_pipeline.items():
        fitted = deliveries[key]
        retrieved = {q.qid: by_query[q.qid] for q in judged}
        delivered = {
            q.qid: delivered_ranking(fitted[q.qid].guard.kept, fitted[q.qid].guard.truncated, q)
            for q in judged
        }
        out.append(
            rs.PipelineMetrics(
                retriever=key.retriever,
                stage=key.stage,
                label=rankings.label(key),
                generates=key == generating,
                retrieved=evaluate_retrieval(qrels, ranking_run(retrieved), metrics).aggregate,
                delivered=evaluate_retrieval(qrels, ranking_run(delivered), metrics).aggregate,
                guard=guard_counts(
                    (fitted[q.qid] for q in queries), (len(by_query[q.qid]) for q in queries)
                ),
            )
        )
    return out


def rerank_info(rankings: Rankings, candidates: int) -> rs.RerankInfo | None:
    reranker, tuning = rankings.reranker, rankings.tuning
    if reranker is None:
        return None
    return rs.RerankInfo(
        name=reranker.name,
        candidates=candidates,
        config=reranker.config(),
        tuning=None
        if tuning is None
        else rs.AlphaTuningInfo(
            alpha=tuning.alpha,
            metric=tuning.metric,
            dev_questions=len(tuning.dev),
            test_questions=len(tuning.test),
            grid={f"{a:.1f}": v for a, v in tuning.scores.items()},
        ),
    )


def rerank_tests(
    rankings: Rankings, qrels: Mapping[str, Mapping[str, int]], metric: str
) -> list[rs.RerankTest]:
    """Per retriever: reranked vs first stage on the questions alpha was not chosen on."""
    if rankings.reranker is None:
        return []
    tuning = rankings.tuning
    qids = [q for q in (tuning.test if tuning else qrels) if q in qrels]
    if not qids:
        return []
    judged = {q: qrels[q] for q in qids}
    tests = []
    for key, by_query in rankings.by_pipeline.items():
        if key.stage != "first_stage":
            continue
        reranked = rankings.by_pipeline[PipelineKey(key.retriever, "reranked")]
        before, after = (
            evaluate_retrieval(
                judged, ranking_run({q: ranks[q] for q in qids}), [metric], per_query=True
            ).per_query
            for ranks in (by_query, reranked)
        )
        result = paired_test(
            {q: v[metric] for q, v in before.items()},
            {q: v[metric] for q, v in after.items()},
            qids,
        )
        tests.append(
            rs.RerankTest(
                retriever=key.retriever,
                metric=metric,
                questions="test" if tuning else "all",
                verdict=result.verdict,
                **asdict(result),
            )
        )
    return tests


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def grounding_figures(rows: Sequence[RagRow], threshold: float) -> rs.GroundingFigures:
    scored = [r.grounding for r in rows if r.grounding is not None]
    means = {name: _mean(getattr(g, name) for g in scored) for name in GROUNDING_MEANS}
    return rs.GroundingFigures(
        threshold=threshold,
        answers=len(scored),
        answers_citing=sum(bool(r.citations) for r in rows if r.grounding is not None),
        sentences=sum(len(g.sentences) for g in scored),
        invalid_citations=sum(len(g.invalid_citations) for g in scored),
        **means,
    )


def overflow_views(rows: Sequence[RagRow]) -> list[rs.OverflowView]:
    return [
        rs.OverflowView(
            id=r.id,
            needed=r.guard.needed,
            budget=r.guard.budget,
            delivered=r.guard.kept,
            dropped=r.guard.dropped,
            truncated=r.guard.truncated,
            refused=r.guard.refused,
        )
        for r in rows
        if r.guard.overflowed
    ]


def unsupported_claims(grounding: GroundingRecord | None) -> list[str]:
    """Each unsupported sentence with why: the claim spans its evidence does not hold."""
    lines = []
    for sentence in grounding.sentences if grounding is not None else []:
        if sentence["supported"]:
            continue
        text = " ".join(sentence["text"].split())
        start = text if len(text) <= 60 else text[:59] + "…"
        reasons = sentence.get("reasons") or ["every claim span found; few of its words are"]
        lines.append(f"#{sentence['index']} “{start}”: {'; '.join(reasons)}")
    return lines


def answer_view(r: RagRow) -> rs.AnswerView:
    grounding = r.grounding
    return rs.AnswerView(
        id=r.id,
        question=r.question,
        gold=r.gold,
        answer=r.answer,
        delivered=r.delivered,
        relevant_delivered=r.relevant_delivered,
        token_f1=r.quality.get("token_f1"),
        rouge_l=r.quality.get("rouge_l"),
        support=None if grounding is None else grounding.support,
        unsupported_rate=None if grounding is None else grounding.unsupported_rate,
        error=r.error,
        unsupported_claims=unsupported_claims(grounding),
    )


def worst_answers(rows: Sequence[RagRow], n: int = WORST_ANSWERS) -> list[rs.AnswerView]:
    """The answered questions with the lowest token F1 (then lowest support, then id)."""
    answered = [r for r in rows if r.answer is not None]

    def key(r: RagRow) -> tuple[float, float, str]:
        support = None if r.grounding is None else r.grounding.support
        return (r.quality.get("token_f1") or 0.0, 1.0 if support is None else support, r.id)

    return [answer_view(r) for r in sorted(answered, key=key)[:n]]


def generation_section(
    rows: Sequence[RagRow],
    deliveries: Sequence[Delivery],
    pipeline: str,
    threshold: float,
) -> rs.GenerationSection:
    """`rows` are the answered questions' rows in question order."""
    scored = [r for r in rows if r.gold]
    metrics: dict[str, float | None] = dict.fromkeys(generation_metric_names())
    if scored:
        answers = [r.answer or "" for r in scored]
        metrics.update(corpus_scores(answers, [r.gold for r in scored]))
    tally = Tally()
    for row in rows:
        tally.add_call(row)
    return rs.GenerationSection(
        pipeline=pipeline,
        n_questions=len(rows),
        n_errors=sum(r.error is not None for r in rows),
        metrics=metrics,
        grounding=grounding_figures(rows, threshold),
        guard=guard_counts(deliveries, (len(r.retrieved) for r in rows)),
        overflows=overflow_views(rows),
        worst=worst_answers(rows),
        errors=[answer_view(r) for r in rows if r.error is not None],
        usage=tally.usage(),
    )


def measured_values(
    generating: rs.PipelineMetrics, generation: rs.GenerationSection | None
) -> dict[str, float | None]:
    """Every value a threshold key can name (see `promptops.rag.suite`)."""
    values: dict[str, float | None] = {}
    values.update({f"retrieval.{m}": v for m, v in generating.retrieved.items()})
    values.update({f"delivered.{m}": v for m, v in generating.delivered.items()})
    if generation is not None:
        n = generation.n_questions
        values.update({f"generation.{m}": v for m, v in generation.metrics.items()})
        values["generation.error_rate"] = generation.n_errors / n if n else None
        values["generation.overflow_rate"] = generation.guard.overflowed / n if n else None
        grounding = generation.grounding
        values.update({f"grounding.{m}": getattr(grounding, m) for m in GROUNDING_MEANS})
    return values
