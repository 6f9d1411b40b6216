"""Reranking judged honestly: the fusion weight is chosen on dev questions only, and the
paired tests match exact enumeration (permutation) and scipy (Wilcoxon)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from _rag_eval_util import make_rag_project, mini_rows
from promptops.metrics.retrieval import evaluate_retrieval
from promptops.rag import Document, build_index, create_reranker, create_retriever
from promptops.rag.chunking import ChunkingConfig
from promptops.rag.rankings import PipelineKey, retrieve_all
from promptops.rag.relevance import chunk_qrels, load_qa_queries, ranking_run
from promptops.rag.rerank import EmbeddingFusionReranker
from promptops.rag.rerank_eval import ALPHA_GRID, choose_alpha, dev_split, paired_test


def test_dev_split_is_seeded_disjoint_and_stable() -> None:
    qids = [f"q{i}" for i in range(200)]
    dev, test = dev_split(qids)
    assert not set(dev) & set(test) and sorted(dev + test) == sorted(qids)
    assert 70 < len(dev) < 130
    assert dev_split(qids) == (dev, test)
    more_dev, _ = dev_split([*qids, "extra-1", "extra-2"])
    assert set(dev) <= set(more_dev)  # a question keeps its half when others are added
    assert dev_split(qids, seed=1) != (dev, test)


def test_choose_alpha_takes_the_best_and_ties_go_to_the_first_stage() -> None:
    assert choose_alpha(lambda a: -((a - 0.4) ** 2)) == 0.4
    assert choose_alpha(lambda a: 1.0 if a in (0.2, 0.7) else 0.0) == 0.7
    assert ALPHA_GRID[0] == 0.0 and ALPHA_GRID[-1] == 1.0 and len(ALPHA_GRID) == 11


def _exact_permutation_p(diff: np.ndarray) -> float:
    observed = abs(diff.mean())
    flips = [
        abs((diff * np.array(signs)).mean()) >= observed - 1e-12
        for signs in itertools.product((1, -1), repeat=len(diff))
    ]
    return float(np.mean(flips))


def test_paired_test_matches_exact_enumeration_and_scipy() -> None:
    rng = np.random.default_rng(3)
    before = rng.uniform(0, 1, 12)
    after = np.clip(before + rng.normal(0.15, 0.2, 12), 0, 1)
    qids = [f"q{i}" for i in range(12)]
    result = paired_test(
        dict(zip(qids, before, strict=True)), dict(zip(qids, after, strict=True)), qids
    )
    assert result.p_permutation == pytest.approx(_exact_permutation_p(after - before), abs=1e-12)
    assert result.p_wilcoxon == pytest.approx(stats.wilcoxon(after, before).pvalue, abs=1e-12)
    assert result.mean_difference == pytest.approx(float(np.mean(after - before)))
    assert result.better + result.worse == 12 - int(np.sum(after == before))
    expected = "helped" if result.p_permutation < 0.05 else "no significant change"
    assert result.verdict == expected
    worse = paired_test(
        dict(zip(qids, after, strict=True)), dict(zip(qids, before, strict=True)), qids
    )
    assert worse.p_permutation == pytest.approx(result.p_permutation)
    assert worse.verdict == ("hurt" if result.p_permutation < 0.05 else "no significant change")
    same = paired_test({"a": 0.5, "b": 0.2}, {"a": 0.5, "b": 0.2}, ["a", "b"])
    assert same.p_permutation == 1.0 and same.p_wilcoxon is None
    assert same.verdict == "no question changed"


def test_alpha_is_chosen_on_dev_questions_only(tmp_path: Path) -> None:
    root = make_rag_project(tmp_path)
    docs_rows, _ = mini_rows()
    docs = [Document(d["_id"], d.get("title", ""), d["text"]) for d in docs_rows]
    queries = load_qa_queries(root / "evalsets" / "mini" / "queries.jsonl", docs)
    chunking = ChunkingConfig(128, 16)
    reranker = create_reranker("minilm-fusion")
    cache = tmp_path / "cache"
    rankings = retrieve_all(
        docs, queries, chunking, ["bm25"], 3, reranker, 8, cache_dir=cache, tune_metric="ndcg@3"
    )
    tuning = rankings.tuning
    assert tuning is not None and tuning.metric == "ndcg@3"
    assert not set(tuning.dev) & set(tuning.test) and tuning.dev and tuning.test
    assert rankings.reranker is not None and rankings.reranker.config()["alpha"] == tuning.alpha

    # Independently: rerank the dev questions at each alpha and score them with the library.
    qrels = chunk_qrels(queries, list(rankings.chunks.values()))
    dev_qrels = {q: qrels[q] for q in tuning.dev}
    index = build_index(docs, create_retriever("bm25"), chunking, cache_dir=cache)
    dev_queries = [q for q in queries if q.qid in set(tuning.dev)]
    hits = index.retrieve([q.text for q in dev_queries], 8)
    lookup = index.chunk_texts()
    tuned = rankings.reranker
    assert isinstance(tuned, EmbeddingFusionReranker)
    for alpha in (0.0, 0.5, 1.0):
        fused = tuned.with_alpha(alpha)  # shares the chunk embeddings already computed
        run = {
            q.qid: [cid for cid, _ in fused.rerank(q.text, found, lookup, 8)]
            for q, found in zip(dev_queries, hits, strict=True)
        }
        value = evaluate_retrieval(dev_qrels, ranking_run(run), ["ndcg@3"]).aggregate["ndcg@3"]
        assert tuning.scores[alpha] == pytest.approx(value, abs=1e-9)
    assert tuning.scores[tuning.alpha] == max(tuning.scores.values())
    # The test questions' judgments play no part: the reranked ranking uses the chosen alpha.
    chosen = tuned.with_alpha(tuning.alpha)
    test_query = next(q for q in queries if q.qid == tuning.test[0])
    found = index.retrieve([test_query.text], 8)[0]
    expected = [cid for cid, _ in chosen.rerank(test_query.text, found, lookup, 8)[:3]]
    assert rankings.by_pipeline[PipelineKey("bm25", "reranked")][test_query.qid] == expected


def test_paired_test_states_its_minimum_detectable_difference() -> None:
    from scipy import stats as sps

    from promptops.rag.rerank_eval import paired_test

    rng = np.random.default_rng(3)
    qids = [f"q{i}" for i in range(12)]
    before = {q: float(v) for q, v in zip(qids, rng.uniform(0.2, 0.8, 12), strict=True)}
    after = {q: before[q] + float(d) for q, d in zip(qids, rng.normal(0.01, 0.2, 12), strict=True)}
    result = paired_test(before, after, qids)
    diff = np.array([after[q] - before[q] for q in qids])
    expected = (sps.norm.ppf(0.975) + sps.norm.ppf(0.8)) * diff.std(ddof=1) / np.sqrt(12)
    assert result.mde == pytest.approx(expected)
    assert result.p_permutation >= 0.05 and abs(result.mean_difference) < expected
    assert result.verdict == "inconclusive (underpowered)"
    same = paired_test(before, before, qids)
    assert same.mde is None and same.verdict == "no question changed"
