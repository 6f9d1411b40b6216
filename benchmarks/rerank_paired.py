"""Does the minilm-fusion reranker help? Alpha chosen on dev queries, tested on the others.

Cranfield (document level, no chunking, top 100 from BM25, dense MiniLM and hybrid RRF): the
queries are split by `promptops.rag.rerank_eval.dev_split` (seeded hash of the query id); the
fusion weight alpha is chosen on the dev queries only (mean nDCG@10 over the three first
stages, grid 0.0..1.0), then each first stage is compared with itself reranked on the test
queries: mean nDCG@10 before and after, and a paired permutation test and a Wilcoxon
signed-rank test over queries (`paired_test`). Cranfield is read from the shared data folder
and never copied into the project.

    .venv/bin/python benchmarks/rerank_paired.py [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from promptops.metrics.retrieval import evaluate_retrieval
from promptops.metrics.trec import read_qrels
from promptops.rag import (
    BM25Retriever,
    DenseRetriever,
    EmbeddingFusionReranker,
    HybridRetriever,
    build_index,
    create_reranker,
    load_corpus,
    load_queries,
)
from promptops.rag.relevance import ranking_run
from promptops.rag.rerank_eval import choose_alpha, dev_split, paired_test

CRANFIELD = Path(__file__).resolve().parents[2] / "shared" / "data" / "cranfield"
METRIC = "ndcg@10"
DEPTH = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=CRANFIELD)
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    docs = load_corpus(args.data / "corpus.jsonl")
    queries = load_queries(args.data / "queries.jsonl")
    qrels = read_qrels(args.data / "qrels.trec")
    qids = [q for q in queries if q in qrels]
    texts = [queries[q] for q in qids]
    bm25 = build_index(docs, BM25Retriever(), None, cache_dir=args.cache_dir)
    dense = build_index(docs, DenseRetriever(), None, cache_dir=args.cache_dir)
    hybrid = HybridRetriever(members=[bm25.retriever, dense.retriever])
    first = {
        "bm25": bm25.retrieve(texts, DEPTH),
        "dense": dense.retrieve(texts, DEPTH),
        "hybrid": hybrid.search(texts, DEPTH),
    }
    reranker = create_reranker("minilm-fusion")
    assert isinstance(reranker, EmbeddingFusionReranker)
    lookup = bm25.chunk_texts()
    reranker.warm([*texts, *lookup.values()])
    signals = {
        name: [reranker.signals(t, h, lookup, DEPTH) for t, h in zip(texts, hits, strict=True)]
        for name, hits in first.items()
    }
    dev, test = dev_split(qids)
    dev_set = set(dev)

    def ranked(name: str, alpha: float, keep: set[str]) -> dict[str, list[str]]:
        fused = reranker.with_alpha(alpha)
        return {
            q: [cid for cid, _ in fused.fuse(*s)]
            for q, s in zip(qids, signals[name], strict=True)
            if q in keep
        }

    def dev_score(alpha: float) -> float:
        values = [
            evaluate_retrieval(
                {q: qrels[q] for q in dev}, ranking_run(ranked(n, alpha, dev_set)), [METRIC]
            ).aggregate[METRIC]
            for n in first
        ]
        return sum(values) / len(values)

    alpha = choose_alpha(dev_score)
    print(f"Cranfield: {len(dev)} dev queries, {len(test)} test queries; alpha {alpha} (dev)")
    test_set = set(test)
    test_qrels = {q: qrels[q] for q in test}
    print(
        f"{'first stage':<10}{'before':>9}{'after':>9}{'diff':>9}{'better':>8}{'worse':>7}"
        f"{'p perm':>9}{'p wilc':>9}  verdict"
    )
    for name, hits in first.items():
        before_run = {
            q: [c for c, _ in h] for q, h in zip(qids, hits, strict=True) if q in test_set
        }
        values = []
        for run in (before_run, ranked(name, alpha, test_set)):
            per_query = evaluate_retrieval(test_qrels, ranking_run(run), [METRIC], per_query=True)
            values.append({q: v[METRIC] for q, v in per_query.per_query.items()})
        r = paired_test(values[0], values[1], test)
        wilcoxon = "-" if r.p_wilcoxon is None else f"{r.p_wilcoxon:.4f}"
        print(
            f"{name:<10}{r.mean_before:>9.4f}{r.mean_after:>9.4f}{r.mean_difference:>+9.4f}"
            f"{r.better:>8}{r.worse:>7}{r.p_permutation:>9.4f}{wilcoxon:>9}  {r.verdict}"
        )


if __name__ == "__main__":
    main()
