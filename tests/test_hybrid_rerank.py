"""Hybrid RRF fusion, the retriever registry, and the rerankers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import CrossEncoder, SentenceTransformer

from _rag_small import small_chunks
from promptops.embeddings import bundled_model_path
from promptops.errors import ConfigError
from promptops.rag import (
    BM25Retriever,
    CrossEncoderReranker,
    HybridRetriever,
    create_reranker,
    create_retriever,
    load_retriever,
)
from promptops.rag.rerank import RERANKERS
from promptops.rag.retrievers import RETRIEVERS, reciprocal_rank_fusion


def test_rrf_arithmetic() -> None:
    a = [("x", 9.0), ("y", 5.0), ("z", 1.0)]
    b = [("y", 0.9), ("w", 0.8)]
    fused = reciprocal_rank_fusion([a, b], [1.0, 2.0], rrf_k=60, k=10)
    expected = {
        "x": 1 / 61,
        "y": 1 / 62 + 2 / 61,
        "z": 1 / 63,
        "w": 2 / 62,
    }
    assert [cid for cid, _ in fused] == ["y", "w", "x", "z"]
    for cid, score in fused:
        assert score == pytest.approx(expected[cid])
    top2 = reciprocal_rank_fusion([a, b], [1.0, 1.0], rrf_k=60, k=2)
    assert top2 == [("y", 1 / 62 + 1 / 61), ("x", 1 / 61)]


def test_hybrid_fuses_member_rankings(tmp_path: Path) -> None:
    chunks = small_chunks()
    stemmed, plain = BM25Retriever(), BM25Retriever(stem=False, stopwords=False)
    hybrid = HybridRetriever(members=[stemmed, plain], weights=[1.0, 0.5], rrf_k=10, depth=5)
    hybrid.fit(chunks)
    queries = ["water in clouds and rivers of ice", "the planet jupiter"]
    got = hybrid.search(queries, k=4)
    for qi, query in enumerate(queries):
        first = stemmed.search([query], 5)[0]
        second = plain.search([query], 5)[0]
        scores: dict[str, float] = {}
        for rank, (cid, _) in enumerate(first, start=1):
            scores[cid] = scores.get(cid, 0.0) + 1.0 / (10 + rank)
        for rank, (cid, _) in enumerate(second, start=1):
            scores[cid] = scores.get(cid, 0.0) + 0.5 / (10 + rank)
        best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:4]
        assert [c for c, _ in got[qi]] == [c for c, _ in best]
        assert [s for _, s in got[qi]] == pytest.approx([s for _, s in best])
    hybrid.save(tmp_path / "h")
    loaded = load_retriever(tmp_path / "h")
    assert isinstance(loaded, HybridRetriever)
    assert loaded.config() == hybrid.config()
    assert loaded.search(queries, k=4) == got


def test_default_hybrid_is_bm25_plus_dense() -> None:
    hybrid = create_retriever("hybrid")
    config = hybrid.config()
    assert [m["name"] for m in config["members"]] == ["bm25", "dense"]
    assert config["rrf_k"] == 60.0 and config["weights"] == [1.0, 1.0]
    assert "model_id" in config["members"][1]["config"]


def test_registries_reject_duplicates_and_unknown_names() -> None:
    with pytest.raises(ConfigError, match=r"'bm25' is already registered \(known: bm25, dense"):
        RETRIEVERS.register("bm25", BM25Retriever)
    with pytest.raises(ConfigError, match="'cross-encoder' is already registered"):
        RERANKERS.register("cross-encoder", CrossEncoderReranker)
    with pytest.raises(ConfigError, match=r"unknown retriever 'splade' \(known: bm25, dense"):
        create_retriever("splade")
    with pytest.raises(ConfigError, match="bad parameters"):
        create_retriever("bm25", k3=1.0)
    with pytest.raises(ConfigError, match=r"unknown reranker 'colbert' \(known: cross-encoder"):
        create_reranker("colbert")
    with pytest.raises(ConfigError, match="weights"):
        HybridRetriever(members=["bm25"], weights=[1.0, 2.0])


def _minmax(x: np.ndarray) -> np.ndarray:
    return (x - x.min()) / (x.max() - x.min())


def test_minilm_fusion_reranker() -> None:
    chunks = small_chunks()
    texts = {c.chunk_id: c.retrieval_text for c in chunks}
    query = "which pet animal meows and catches rodents"
    candidates = [("coffee", 9.0), ("bread", 7.5), ("cats", 3.0), ("rain", 1.0), ("wing", 0.5)]

    model = SentenceTransformer(str(bundled_model_path()), device="cpu")
    vecs = model.encode([query] + [texts[c] for c, _ in candidates[:4]], normalize_embeddings=True)
    cosine = vecs[1:] @ vecs[0]
    first = np.array([s for _, s in candidates[:4]])

    fusion = create_reranker("minilm-fusion")
    assert fusion.config()["alpha"] == 0.3
    got = fusion.rerank(query, candidates, texts, top_n=4)
    expected = 0.3 * _minmax(first) + 0.7 * _minmax(cosine)
    assert len(got) == 4  # only the top_n candidates come back
    assert [c for c, _ in got] == [candidates[i][0] for i in np.argsort(-expected)]
    assert [s for _, s in got] == pytest.approx(sorted(expected, reverse=True), abs=1e-5)
    assert got[0][0] == "cats"

    by_first_stage = create_reranker("minilm-fusion", alpha=1.0).rerank(query, candidates, texts, 5)
    assert [c for c, _ in by_first_stage] == [c for c, _ in candidates]
    assert fusion.rerank(query, [], texts, 10) == []
    with pytest.raises(ConfigError, match="no text for candidate chunk 'ghost'"):
        fusion.rerank(query, [("ghost", 1.0)], texts, 10)


def test_cross_encoder_needs_a_local_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="never downloaded"):
        create_reranker("cross-encoder", model=str(tmp_path / "missing"))


@pytest.mark.slow
def test_cross_encoder_scores_with_the_local_model(tmp_path: Path) -> None:
    import torch

    # A real CrossEncoder folder made offline from the bundled MiniLM encoder (its scoring head
    # is freshly initialised, so only the plumbing is under test, not relevance).
    torch.manual_seed(0)
    CrossEncoder(str(bundled_model_path()), num_labels=1, device="cpu").save(str(tmp_path / "ce"))
    chunks = small_chunks()
    texts = {c.chunk_id: c.retrieval_text for c in chunks}
    query = "how do airplanes stay up in the air"
    candidates = [(c.chunk_id, 1.0) for c in chunks[:6]]

    reranker = create_reranker("cross-encoder", model=str(tmp_path / "ce"))
    got = reranker.rerank(query, candidates, texts, top_n=5)

    reference = CrossEncoder(str(tmp_path / "ce"), device="cpu")
    scores = reference.predict([(query, texts[c]) for c, _ in candidates[:5]])
    order = np.argsort(-scores)
    assert [c for c, _ in got] == [candidates[i][0] for i in order]
    assert [s for _, s in got] == pytest.approx(scores[order].tolist(), abs=1e-5)
