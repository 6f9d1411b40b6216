"""Dense retrieval with the bundled all-MiniLM-L6-v2 and faiss, exact and approximate."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from _rag_small import SMALL_QUERIES, small_chunks
from promptops.embeddings import bundled_model_path, model_id
from promptops.errors import ConfigError
from promptops.rag import DenseRetriever, create_retriever, load_retriever


@pytest.fixture(scope="module")
def fitted() -> DenseRetriever:
    retriever = DenseRetriever()
    retriever.fit(small_chunks())
    return retriever


def test_bundled_model_is_local_and_offline(fitted: DenseRetriever) -> None:
    path = bundled_model_path()
    assert (path / "model.safetensors").is_file()
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert fitted.config() == {"model_id": model_id(None), "index": "flat"}
    assert model_id(None).startswith("sentence-transformers/all-MiniLM-L6-v2@")


def test_exact_search_matches_brute_force_cosine(fitted: DenseRetriever) -> None:
    chunks = small_chunks()
    model = SentenceTransformer(str(bundled_model_path()), device="cpu")
    doc_vecs = model.encode([c.retrieval_text for c in chunks])
    doc_vecs /= np.linalg.norm(doc_vecs, axis=1, keepdims=True)
    queries = list(SMALL_QUERIES)
    query_vecs = model.encode(queries)
    query_vecs /= np.linalg.norm(query_vecs, axis=1, keepdims=True)
    expected = query_vecs @ doc_vecs.T

    results = fitted.search(queries, k=5)
    for qi, hits in enumerate(results):
        order = np.argsort(-expected[qi])[:5]
        assert [cid for cid, _ in hits] == [chunks[i].chunk_id for i in order]
        np.testing.assert_allclose([s for _, s in hits], expected[qi][order], atol=1e-4)
    # every paraphrase finds its document first
    assert [hits[0][0] for hits in results] == list(SMALL_QUERIES.values())


def test_self_similarity_is_one(fitted: DenseRetriever) -> None:
    chunk = small_chunks()[3]
    (top, score), *_ = fitted.search([chunk.retrieval_text], k=1)[0]
    assert top == chunk.chunk_id
    assert score == pytest.approx(1.0, abs=1e-4)


def test_hnsw_agrees_with_flat_and_persists(fitted: DenseRetriever, tmp_path: Path) -> None:
    approx = create_retriever("dense", index="hnsw", hnsw_m=8, ef_search=32)
    approx.fit(small_chunks())
    queries = list(SMALL_QUERIES)
    exact_top = [[c for c, _ in h] for h in fitted.search(queries, k=3)]
    approx_hits = approx.search(queries, k=3)
    assert [[c for c, _ in h] for h in approx_hits] == exact_top  # tiny corpus: HNSW is exact
    assert approx.config()["index"] == "hnsw"

    approx.save(tmp_path / "hnsw")
    loaded = load_retriever(tmp_path / "hnsw")
    assert isinstance(loaded, DenseRetriever)
    assert loaded.config() == approx.config()
    assert loaded.search(queries, k=3) == approx_hits


def test_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="never downloaded"):
        DenseRetriever(model=str(tmp_path / "no-such-model"))
    with pytest.raises(ConfigError, match="unknown faiss index"):
        DenseRetriever(index="ivf")  # type: ignore[arg-type]
