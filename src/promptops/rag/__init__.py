"""Retrieval-augmented generation: corpus loading, chunking, retrieval, reranking, indexes,
the context-overflow guard and citation grounding (`promptops.rag.runner` runs it all).

The pipeline, each stage usable on its own:

    docs = load_corpus(Path("corpus.jsonl"))                  # BEIR JSONL or a folder
    retriever = create_retriever("bm25")                      # or "dense", "hybrid"
    index = build_index(docs, retriever, ChunkingConfig(size=256, overlap=32))  # cached
    hits = index.retrieve(["what is x?"], k=10, reranker=create_reranker("minilm-fusion"))

`hits[i]` is a list of (chunk_id, score), best first; `doc_level=True` gives doc ids instead.
Chunk ids are `<doc_id>#<n>` and each chunk maps back to an exact span of its document.
"""

from __future__ import annotations

from promptops.rag.chunking import (
    DENSE_CHUNK_SIZE,
    Chunk,
    ChunkingConfig,
    chunk_corpus,
    chunk_document,
)
from promptops.rag.citations import number_passages, parse_citations, split_sentences
from promptops.rag.corpus import (
    Document,
    corpus_hash,
    load_corpus,
    load_folder_corpus,
    load_jsonl_corpus,
    load_queries,
)
from promptops.rag.grounding import GroundingResult, GroundingScorer, Judge, LLMJudge
from promptops.rag.guard import GuardResult, fit_context
from promptops.rag.index import (
    RetrievalIndex,
    build_index,
    default_cache_dir,
    doc_level_hits,
    index_fingerprint,
)
from promptops.rag.rerank import (
    RERANKERS,
    CrossEncoderReranker,
    EmbeddingFusionReranker,
    Reranker,
    create_reranker,
)
from promptops.rag.retrievers import (
    RETRIEVERS,
    BM25Retriever,
    DenseRetriever,
    Hits,
    HybridRetriever,
    Retriever,
    create_retriever,
    load_retriever,
)

__all__ = [
    "DENSE_CHUNK_SIZE",
    "RERANKERS",
    "RETRIEVERS",
    "BM25Retriever",
    "Chunk",
    "ChunkingConfig",
    "CrossEncoderReranker",
    "DenseRetriever",
    "Document",
    "EmbeddingFusionReranker",
    "GroundingResult",
    "GroundingScorer",
    "GuardResult",
    "Hits",
    "HybridRetriever",
    "Judge",
    "LLMJudge",
    "Reranker",
    "RetrievalIndex",
    "Retriever",
    "build_index",
    "chunk_corpus",
    "chunk_document",
    "corpus_hash",
    "create_reranker",
    "create_retriever",
    "default_cache_dir",
    "doc_level_hits",
    "fit_context",
    "index_fingerprint",
    "load_corpus",
    "load_folder_corpus",
    "load_jsonl_corpus",
    "load_queries",
    "load_retriever",
    "number_passages",
    "parse_citations",
    "split_sentences",
]
