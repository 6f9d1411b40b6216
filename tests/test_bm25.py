"""BM25: score parity with rank_bm25 on Cranfield, ranking quality, tokenizer, persistence."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import bm25s
import numpy as np
import pytest
import rank_bm25

from _rag_util import cranfield_qrels, cranfield_queries, mean_metrics, require_cranfield
from promptops.errors import ConfigError
from promptops.rag import BM25Retriever, Chunk, chunk_corpus, load_corpus, load_retriever
from promptops.rag.retrievers import BM25Tokenizer


@cache
def cranfield_chunks() -> list[Chunk]:
    return chunk_corpus(load_corpus(require_cranfield() / "corpus.jsonl"), None)


class LuceneIdfOkapi(rank_bm25.BM25Okapi):
    """rank_bm25's Okapi scoring loop with Lucene's idf, ln(1 + (N - df + 0.5) / (df + 0.5))."""

    def _calc_idf(self, nd: dict[str, int]) -> None:
        for word, df in nd.items():
            self.idf[word] = math.log(1 + (self.corpus_size - df + 0.5) / (df + 0.5))


@pytest.mark.parametrize("method", ["lucene", "robertson"])
def test_scores_match_rank_bm25_on_cranfield(method: str) -> None:
    chunks = cranfield_chunks()
    retriever = BM25Retriever(method=method)  # type: ignore[arg-type]
    retriever.fit(chunks)
    corpus_tokens = [retriever.tokenizer(c.retrieval_text) for c in chunks]
    reference: rank_bm25.BM25Okapi = (
        LuceneIdfOkapi(corpus_tokens)
        if method == "lucene"
        else rank_bm25.BM25Okapi(corpus_tokens, epsilon=0.0)  # negative idf -> 0
    )
    queries = list(cranfield_queries().values())
    worst = 0.0
    for query in queries:
        ours = retriever.scores(query)
        theirs = reference.get_scores(retriever.tokenizer(query)) / (1 + retriever.k1)
        worst = max(worst, float(np.abs(ours - theirs).max()))
    assert worst < 1e-5
    # the ranked lists agree too (up to float32 ties)
    hits = retriever.search(queries[:20], k=10)
    ids = retriever.chunk_ids
    for query, row in zip(queries[:20], hits, strict=True):
        theirs = reference.get_scores(retriever.tokenizer(query)) / (1 + retriever.k1)
        expected = [theirs[ids.index(cid)] for cid, _ in row]
        np.testing.assert_allclose([s for _, s in row], expected, atol=1e-5)
        assert [s for _, s in row] == sorted((s for _, s in row), reverse=True)
        assert row[0][1] == pytest.approx(float(theirs.max()), abs=1e-5)


def test_cranfield_effectiveness_beats_bm25s_default() -> None:
    chunks = cranfield_chunks()
    queries = cranfield_queries()
    retriever = BM25Retriever()
    retriever.fit(chunks)
    hits = retriever.search(list(queries.values()), k=100)
    ours = mean_metrics(cranfield_qrels(), {q: dict(h) for q, h in zip(queries, hits, strict=True)})

    engine = bm25s.BM25()
    engine.index(bm25s.tokenize([c.text for c in chunks], show_progress=False), show_progress=False)
    docs, scores = engine.retrieve(
        bm25s.tokenize(list(queries.values()), show_progress=False, return_ids=False),
        k=100,
        show_progress=False,
    )
    ids = [c.chunk_id for c in chunks]
    base_run = {
        q: {ids[i]: float(s) for i, s in zip(d, sc, strict=True)}
        for q, d, sc in zip(queries, docs, scores, strict=True)
    }
    base = mean_metrics(cranfield_qrels(), base_run)
    assert ours["ndcg_cut_10"] == pytest.approx(0.3651, abs=5e-4)
    assert base["ndcg_cut_10"] == pytest.approx(0.3369, abs=5e-4)
    assert ours["ndcg_cut_10"] > base["ndcg_cut_10"]
    assert ours["map"] > base["map"]


def test_tokenizer_rules() -> None:
    tok = BM25Tokenizer()
    assert tok("The Running jets, a B-52 and 3 planes!") == ["run", "jet", "52", "plane"]
    assert BM25Tokenizer(stopwords=False, stem=False)("The Running a jets") == [
        "the",
        "running",
        "jets",
    ]
    assert tok.describe()["stemmer"] == "snowball-english"


def test_search_edge_cases_and_persistence(tmp_path: Path) -> None:
    chunks = [
        Chunk("a", "a", "supersonic flow over a wedge", 0, 29, 5),
        Chunk("b", "b", "boundary layer transition", 0, 25, 3),
        Chunk("c", "c", "supersonic boundary layer heating", 0, 33, 4),
    ]
    retriever = BM25Retriever()
    retriever.fit(chunks)
    results = retriever.search(["supersonic boundary", "the of", "unrelated words"], k=10)
    # c has both terms; b beats a on length (3 vs 4 terms after stopwords)
    assert [cid for cid, _ in results[0]] == ["c", "b", "a"]
    assert results[1] == [] and results[2] == []  # no shared term: no hits, even with k > n
    assert retriever.search([], k=3) == []

    retriever.save(tmp_path / "idx")
    loaded = load_retriever(tmp_path / "idx")
    assert isinstance(loaded, BM25Retriever)
    assert loaded.config() == retriever.config()
    assert loaded.search(["supersonic boundary"], k=2) == [results[0][:2]]

    with pytest.raises(ConfigError, match="not fitted"):
        BM25Retriever().search(["x"], k=1)
    with pytest.raises(ConfigError, match="empty corpus"):
        BM25Retriever().fit([])
