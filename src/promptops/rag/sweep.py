"""The chunking sweep: retrieval measures for each chunk size and overlap, nothing generated.

Relevance is re-derived from the answer spans for every setting (a chunk is relevant when it
overlaps a span), so each setting is scored on its own chunks. Larger chunks cover more text
per hit: read recall next to the context budget the chunks must fit into. `best` names, per
pipeline, the setting with the highest primary measure (nDCG@k when reported); ties go to
the setting listed first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from promptops.errors import ConfigError
from promptops.metrics.retrieval import evaluate_retrieval
from promptops.rag.chunking import ChunkingConfig
from promptops.rag.corpus import Document
from promptops.rag.rankings import Rankings, retrieve_all
from promptops.rag.relevance import QAQuery, chunk_qrels, ranking_run
from promptops.rag.rerank import Reranker
from promptops.runs.rag_summary import SweepBest, SweepPipeline, SweepPoint, SweepSection


def chunking_grid(sizes: Sequence[int], overlaps: Sequence[int]) -> list[ChunkingConfig]:
    """Every (size, overlap) pair with overlap < size; none valid is a `ConfigError`."""
    grid = [
        ChunkingConfig(size, overlap) for size in sizes for overlap in overlaps if overlap < size
    ]
    if not grid:
        raise ConfigError(
            "no chunk size is larger than any overlap: nothing to sweep", where="--overlaps"
        )
    return grid


def primary_metric(metrics: Sequence[str]) -> str:
    return next((m for m in metrics if m.startswith("ndcg")), metrics[0])


def rankings_metrics(
    rankings: Rankings, qrels: dict[str, dict[str, int]], metrics: Sequence[str]
) -> list[SweepPipeline]:
    """Each pipeline's mean measures over the judged questions."""
    out = []
    for key, by_query in rankings.by_pipeline.items():
        judged = {qid: ids for qid, ids in by_query.items() if qid in qrels}
        result = evaluate_retrieval(qrels, ranking_run(judged), metrics)
        out.append(
            SweepPipeline(
                retriever=key.retriever,
                stage=key.stage,
                label=rankings.label(key),
                metrics=result.aggregate,
            )
        )
    return out


def sweep_chunking(
    docs: Sequence[Document],
    queries: Sequence[QAQuery],
    grid: Sequence[ChunkingConfig],
    retrievers: Sequence[str],
    k: int,
    metrics: Sequence[str],
    reranker: Reranker | None,
    candidates: int | None,
    *,
    cache_dir: Path | None = None,
) -> SweepSection:
    points: list[SweepPoint] = []
    for chunking in grid:
        rankings = retrieve_all(
            docs, queries, chunking, retrievers, k, reranker, candidates, cache_dir=cache_dir
        )
        qrels = chunk_qrels(queries, list(rankings.chunks.values()))
        points.append(
            SweepPoint(
                size=chunking.size,
                overlap=chunking.overlap,
                n_chunks=len(rankings.chunks),
                pipelines=rankings_metrics(rankings, qrels, metrics),
            )
        )
    primary = primary_metric(metrics)
    best: dict[str, SweepBest] = {}
    for point in points:
        for pipe in point.pipelines:
            value = pipe.metrics[primary]
            if pipe.label not in best or value > best[pipe.label].value:
                best[pipe.label] = SweepBest(
                    label=pipe.label, size=point.size, overlap=point.overlap, value=value
                )
    return SweepSection(
        k=k,
        metrics=list(metrics),
        primary_metric=primary,
        points=points,
        best=list(best.values()),
    )
