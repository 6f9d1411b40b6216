"""BM25 speed on 100,000 synthetic passages, and retrieval quality on Cranfield.

Speed: a reproducible Zipfian corpus (seeded; 50,000 pronounceable made-up words, word ranks
drawn with exponent 1.07, passages of 30-90 words) and 1,000 queries of 2-6 words drawn from
ranks 100 and below (content words, not the stopword-like head). Top-10 per query, timed end to
end from query strings (tokenizing included), best of `--repeats` runs:
  - ours: promptops BM25Retriever (bm25s engine, our tokenizer with stemming);
  - bm25s used directly: bm25s.tokenize (English stopwords) + BM25().retrieve;
  - rank-bm25 (BM25Okapi.get_top_n): only `--rank-bm25-queries` queries are timed and the rate
    is extrapolated (it scores every passage in Python).
Threads: each engine runs sequentially (n_threads=0) and with bm25s's thread pool.

Quality: Cranfield (1,400 documents, 225 queries, graded qrels), document level without
chunking, k=100: nDCG@10, MAP, Recall@100, MRR for our BM25, bm25s with its default
tokenizer, dense (all-MiniLM-L6-v2 + faiss), hybrid (RRF), and the minilm-fusion reranker
over BM25 and hybrid candidates (with an alpha sweep). Cranfield is read from the shared data
folder and never copied into the project.

    .venv/bin/python benchmarks/bm25.py [--passages 100000] [--skip-quality]
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import bm25s
import numpy as np
import rank_bm25

from promptops.metrics.retrieval import evaluate_retrieval
from promptops.rag import (
    BM25Retriever,
    Chunk,
    DenseRetriever,
    HybridRetriever,
    Retriever,
    build_index,
    chunk_corpus,
    create_reranker,
    load_corpus,
    load_queries,
)
from promptops.rag.rerank import EmbeddingFusionReranker

SEED = 20240601
CRANFIELD = (
    Path(os.environ.get("PROMPTOPS_DATA_DIR", Path(__file__).resolve().parents[2] / "shared/data"))
    / "cranfield"
)
METRICS = ("ndcg@10", "map", "recall@100", "mrr")
_SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["qua", "xi", "tho"]


def synthetic_collection(
    n_passages: int, n_queries: int, vocab_size: int = 50_000
) -> tuple[list[str], list[str]]:
    """Zipfian passages and queries, identical for a given seed and size."""
    rng = np.random.default_rng(SEED)
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < vocab_size:
        word = "".join(rng.choice(_SYLLABLES, size=int(rng.integers(2, 5))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    vocab = np.array(words)
    weights = 1.0 / np.arange(1, vocab_size + 1) ** 1.07
    probs = weights / weights.sum()
    lengths = rng.integers(30, 91, size=n_passages)
    tokens = vocab[rng.choice(vocab_size, size=int(lengths.sum()), p=probs)]
    bounds = np.concatenate(([0], np.cumsum(lengths)))
    passages = [" ".join(tokens[bounds[i] : bounds[i + 1]]) for i in range(n_passages)]
    tail = probs[100:] / probs[100:].sum()
    queries = [
        " ".join(vocab[100 + rng.choice(vocab_size - 100, size=int(rng.integers(2, 7)), p=tail)])
        for _ in range(n_queries)
    ]
    return passages, queries


def best_time(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def speed(n_passages: int, n_queries: int, repeats: int, rank_bm25_queries: int) -> None:
    print(f"== speed: {n_passages:,} passages, {n_queries:,} queries, top-10 ==")
    t0 = time.perf_counter()
    passages, queries = synthetic_collection(n_passages, n_queries)
    chunks = [Chunk(str(i), str(i), p, 0, len(p), 0) for i, p in enumerate(passages)]
    print(f"generated in {time.perf_counter() - t0:.1f}s")

    ours = BM25Retriever()
    start = time.perf_counter()
    ours.fit(chunks)
    print(f"index  ours (tokenize+stem+bm25s): {time.perf_counter() - start:6.1f}s")
    engine = bm25s.BM25()
    start = time.perf_counter()
    engine.index(bm25s.tokenize(passages, stopwords="en", show_progress=False), show_progress=False)
    print(f"index  bm25s direct:               {time.perf_counter() - start:6.1f}s")

    def run_bm25s(threads: int) -> object:
        tokens = bm25s.tokenize(queries, stopwords="en", show_progress=False, return_ids=False)
        return engine.retrieve(tokens, k=10, show_progress=False, n_threads=threads)

    rates: dict[str, float] = {}
    for threads in (0, 2):
        ours.n_threads = threads
        rates[f"ours n_threads={threads}"] = n_queries / best_time(
            lambda: ours.search(queries, 10), repeats
        )
        rates[f"bm25s n_threads={threads}"] = n_queries / best_time(
            functools.partial(run_bm25s, threads), repeats
        )

    okapi = rank_bm25.BM25Okapi([p.split() for p in passages])
    subset = queries[:rank_bm25_queries]
    elapsed = best_time(lambda: [okapi.get_top_n(q.split(), passages, 10) for q in subset], 1)
    rates[f"rank-bm25 (extrapolated from {len(subset)} queries)"] = len(subset) / elapsed

    base = rates["bm25s n_threads=0"]
    for name, rate in rates.items():
        print(f"{name:45s} {rate:10.1f} q/s   x{rate / base:6.3f} vs bm25s sequential")
    best_ours = max(v for k, v in rates.items() if k.startswith("ours"))
    best_bm25s = max(v for k, v in rates.items() if k.startswith("bm25s"))
    print(f"best ours / best bm25s: {best_ours / best_bm25s:.3f}")


Run = dict[str, dict[str, float]]


def _run(qids: Sequence[str], hits: Sequence[Sequence[tuple[str, float]]]) -> Run:
    return {q: dict(h) for q, h in zip(qids, hits, strict=True)}


def quality(cache_dir: Path | None) -> None:
    print("\n== quality: Cranfield, document level, no chunking, k=100 ==")
    docs = load_corpus(CRANFIELD / "corpus.jsonl")
    query_map = load_queries(CRANFIELD / "queries.jsonl")
    qrels: dict[str, dict[str, int]] = {}
    for line in (CRANFIELD / "qrels.trec").read_text().splitlines():
        qid, _, doc_id, grade = line.split()
        qrels.setdefault(qid, {})[doc_id] = int(grade)
    qids = list(query_map)
    texts = [query_map[q] for q in qids]
    runs: dict[str, Run] = {}

    chunks: list[Chunk] = chunk_corpus(docs, None)
    engine = bm25s.BM25()
    engine.index(bm25s.tokenize([c.text for c in chunks], show_progress=False), show_progress=False)
    found, scores = engine.retrieve(
        bm25s.tokenize(texts, show_progress=False, return_ids=False), k=100, show_progress=False
    )
    runs["bm25s default (its tokenizer)"] = {
        q: {chunks[i].chunk_id: float(s) for i, s in zip(row, srow, strict=True)}
        for q, row, srow in zip(qids, found, scores, strict=True)
    }
    for label, params in (
        ("ours bm25, no stemming", {"stem": False}),
        ("ours bm25, robertson idf", {"method": "robertson"}),
    ):
        variant = BM25Retriever(**params)
        variant.fit(chunks)
        runs[label] = _run(qids, variant.search(texts, 100))

    start = time.perf_counter()
    bm25_index = build_index(docs, BM25Retriever(), None, cache_dir=cache_dir)
    dense_index = build_index(docs, DenseRetriever(), None, cache_dir=cache_dir)
    elapsed = time.perf_counter() - start
    print(f"indexes ready in {elapsed:.1f}s (dense index from cache: {dense_index.loaded})")
    members: list[Retriever] = [bm25_index.retriever, dense_index.retriever]
    hybrid = HybridRetriever(members=members)
    bm25_hits = bm25_index.retrieve(texts, 100)
    hybrid_hits = hybrid.search(texts, 100)
    runs["ours bm25 (default)"] = _run(qids, bm25_hits)
    runs["dense minilm (flat)"] = _run(qids, dense_index.retrieve(texts, 100))
    runs["hybrid rrf bm25+dense"] = _run(qids, hybrid_hits)

    reranker = create_reranker("minilm-fusion")
    assert isinstance(reranker, EmbeddingFusionReranker)
    lookup = bm25_index.chunk_texts()
    start = time.perf_counter()
    for alpha in (0.0, 0.3, 0.5, 1.0):
        reranker.alpha = alpha
        for first, hits in (("bm25", bm25_hits), ("hybrid", hybrid_hits)):
            reranked = [
                reranker.rerank(q, h, lookup, 100) for q, h in zip(texts, hits, strict=True)
            ]
            default = " (default)" if alpha == 0.3 else ""
            runs[f"{first} + minilm-fusion a={alpha}{default}"] = _run(qids, reranked)
    print(f"reranking done in {time.perf_counter() - start:.1f}s")

    print(f"\n{'run':42s}" + "".join(f"{m:>11s}" for m in METRICS))
    for name, run in runs.items():
        agg = evaluate_retrieval(qrels, run, METRICS).aggregate
        print(f"{name:42s}" + "".join(f"{agg[m]:11.4f}" for m in METRICS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rank-bm25-queries", type=int, default=20)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    if not args.skip_speed:
        speed(args.passages, args.queries, args.repeats, args.rank_bm25_queries)
    if not args.skip_quality:
        quality(args.cache_dir)


if __name__ == "__main__":
    main()
