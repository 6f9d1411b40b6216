"""Retrieve every question with every retriever, before and after reranking.

Each retriever gets its own cached index over the same chunks; a hybrid whose members were
already fitted in the same call is composed from them rather than fitted again. The first
stage returns the top `candidates` chunks (k without a reranker); "first_stage" keeps its top
k, "reranked" is the reranker's order of all candidates, cut to k. One reranker instance
serves every retriever, so a chunk is embedded once however many retrievers return it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from promptops.metrics.retrieval import evaluate_retrieval
from promptops.rag.chunking import Chunk, ChunkingConfig
from promptops.rag.corpus import Document, corpus_hash
from promptops.rag.index import RetrievalIndex, build_index, index_fingerprint
from promptops.rag.relevance import QAQuery, chunk_qrels, ranking_run
from promptops.rag.rerank import EmbeddingFusionReranker, Reranker, create_reranker
from promptops.rag.rerank_eval import choose_alpha, dev_split
from promptops.rag.retrievers import Hits, HybridRetriever, create_retriever
from promptops.rag.suite import RerankSettings

Stage = Literal["first_stage", "reranked"]
STAGES: tuple[Stage, ...] = ("first_stage", "reranked")


@dataclass(frozen=True)
class PipelineKey:
    """One ranking pipeline: a retriever, with or without the reranker."""

    retriever: str
    stage: Stage


@dataclass(frozen=True)
class AlphaTuning:
    """How the fusion weight was chosen: on which questions, by which measure, with what."""

    alpha: float
    metric: str
    dev: tuple[str, ...]
    test: tuple[str, ...]
    scores: dict[float, float]


@dataclass
class Rankings:
    """Chunk ids per question, best first, for every pipeline; and the chunks themselves."""

    chunks: dict[str, Chunk]
    by_pipeline: dict[PipelineKey, dict[str, list[str]]] = field(default_factory=dict)
    reranker: Reranker | None = None
    tuning: AlphaTuning | None = None

    def chunks_of(self, key: PipelineKey, qid: str) -> list[Chunk]:
        return [self.chunks[cid] for cid in self.by_pipeline[key][qid]]

    def label(self, key: PipelineKey) -> str:
        """How reports name a pipeline: `bm25`, or `bm25 + minilm-fusion` when reranked."""
        if key.stage == "reranked" and self.reranker is not None:
            return f"{key.retriever} + {self.reranker.name}"
        return key.retriever


def make_reranker(settings: RerankSettings | None) -> Reranker | None:
    """The reranker a suite asks for: one instance per settings in a process, so chunk
    embeddings it caches serve every later run (a sweep, a resumed run, tests)."""
    if settings is None:
        return None
    return _reranker(settings.name, json.dumps(settings.params, sort_keys=True))


@functools.cache
def _reranker(name: str, params: str) -> Reranker:
    return create_reranker(name, **json.loads(params))


def retrieve_all(
    docs: Sequence[Document],
    queries: Sequence[QAQuery],
    chunking: ChunkingConfig,
    retrievers: Sequence[str],
    k: int,
    reranker: Reranker | None = None,
    candidates: int | None = None,
    *,
    cache_dir: Path | None = None,
    tune_metric: str | None = None,
) -> Rankings:
    """Rankings of every question for each retriever, and reranked when there is a reranker
    (which reorders the first stage's top `candidates`, default k).

    With `tune_metric` and a fusion reranker, its alpha is first chosen on the dev half of the
    judged questions by that measure (see `promptops.rag.rerank_eval`), then used for all.
    """
    texts = [q.text for q in queries]
    qids = [q.qid for q in queries]
    depth = max(k, candidates or k) if reranker is not None else k
    rankings: Rankings | None = None
    built: dict[str, RetrievalIndex] = {}
    first_stage: dict[str, list[Hits]] = {}
    for name in retrievers:
        index = _hybrid_of_built(name, built, docs, chunking) or build_index(
            docs, create_retriever(name), chunking, cache_dir=cache_dir
        )
        built[name] = index
        if rankings is None:
            rankings = Rankings({c.chunk_id: c for c in index.chunks}, reranker=reranker)
        hits = index.retrieve(texts, depth)
        first_stage[name] = hits
        rankings.by_pipeline[PipelineKey(name, "first_stage")] = {
            qid: [cid for cid, _ in found[:k]] for qid, found in zip(qids, hits, strict=True)
        }
    if rankings is None:
        raise ValueError("retrieve_all needs at least one retriever")
    if reranker is None:
        return rankings
    lookup = next(iter(built.values())).chunk_texts()
    if isinstance(reranker, EmbeddingFusionReranker):  # batch the encodes: queries, candidates
        wanted = {cid for hits in first_stage.values() for found in hits for cid, _ in found}
        reranker.warm([*texts, *(lookup[cid] for cid in sorted(wanted))])
    if tune_metric is not None and isinstance(reranker, EmbeddingFusionReranker):
        rankings.tuning = _tune(queries, rankings, first_stage, reranker, tune_metric, depth)
        reranker = reranker.with_alpha(rankings.tuning.alpha)
        rankings.reranker = reranker
    ordered: dict[PipelineKey, dict[str, list[str]]] = {}
    for name, hits in first_stage.items():  # each retriever, then itself reranked
        ordered[PipelineKey(name, "first_stage")] = rankings.by_pipeline[
            PipelineKey(name, "first_stage")
        ]
        ordered[PipelineKey(name, "reranked")] = {
            qid: [cid for cid, _ in reranker.rerank(text, found, lookup, depth)[:k]]
            for qid, text, found in zip(qids, texts, hits, strict=True)
        }
    rankings.by_pipeline = ordered
    return rankings


def _tune(
    queries: Sequence[QAQuery],
    rankings: Rankings,
    first_stage: dict[str, list[Hits]],
    reranker: EmbeddingFusionReranker,
    metric: str,
    depth: int,
) -> AlphaTuning:
    """Choose alpha on the dev questions only: mean `metric` over every retriever."""
    qrels = chunk_qrels(queries, list(rankings.chunks.values()))
    dev, test = dev_split([q.qid for q in queries if q.qid in qrels])
    dev_set = set(dev)
    lookup = {cid: chunk.retrieval_text for cid, chunk in rankings.chunks.items()}
    dev_qrels = {qid: qrels[qid] for qid in dev}
    scores: dict[float, float] = {}

    signals = {
        name: [
            reranker.signals(q.text, found, lookup, depth)
            for q, found in zip(queries, hits, strict=True)
            if q.qid in dev_set
        ]
        for name, hits in first_stage.items()
    }
    dev_order = [q.qid for q in queries if q.qid in dev_set]

    def score(alpha: float) -> float:
        fused = reranker.with_alpha(alpha)
        values = []
        for per_query in signals.values():
            run = {
                qid: [cid for cid, _ in fused.fuse(*signal)]
                for qid, signal in zip(dev_order, per_query, strict=True)
            }
            values.append(
                evaluate_retrieval(dev_qrels, ranking_run(run), [metric]).aggregate[metric]
            )
        scores[alpha] = float(sum(values) / len(values))
        return scores[alpha]

    alpha = choose_alpha(score)
    return AlphaTuning(alpha, metric, tuple(dev), tuple(test), scores)


def _hybrid_of_built(
    name: str, built: dict[str, RetrievalIndex], docs: Sequence[Document], chunking: ChunkingConfig
) -> RetrievalIndex | None:
    """A hybrid index over members already fitted in this run, so the dense member's chunks
    are not embedded a second time; None unless its members are exactly those (same configs)."""
    wanted = create_retriever(name)
    if not isinstance(wanted, HybridRetriever):
        return None
    members = [built.get(member.name) for member in wanted.members]
    fitted = [index for index in members if index is not None]
    if len(fitted) != len(members):
        return None
    composed = HybridRetriever(
        members=[index.retriever for index in fitted],
        weights=wanted.weights,
        rrf_k=wanted.rrf_k,
        depth=wanted.depth,
    )
    if composed.config() != wanted.config():
        return None
    fingerprint = index_fingerprint(corpus_hash(docs), chunking, composed)
    return RetrievalIndex(composed, fitted[0].chunks, fingerprint, None, loaded=False)
