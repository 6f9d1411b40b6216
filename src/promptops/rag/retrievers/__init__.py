"""Retrievers: one module per kind, registered below under their names in `RETRIEVERS`.

Heavy libraries (torch, sentence-transformers, faiss) load only when a dense retriever is
used. A new retriever is one module and one `RETRIEVERS.register` line, here or in the
caller's own code.
"""

from __future__ import annotations

from promptops.rag.retrievers.base import (
    RETRIEVERS,
    Hits,
    Retriever,
    create_retriever,
    load_retriever,
)
from promptops.rag.retrievers.bm25 import BM25Retriever, BM25Tokenizer
from promptops.rag.retrievers.dense import DenseRetriever
from promptops.rag.retrievers.hybrid import HybridRetriever, reciprocal_rank_fusion

RETRIEVERS.register("bm25", BM25Retriever)
RETRIEVERS.register("dense", DenseRetriever)
RETRIEVERS.register("hybrid", HybridRetriever)

__all__ = [
    "RETRIEVERS",
    "BM25Retriever",
    "BM25Tokenizer",
    "DenseRetriever",
    "Hits",
    "HybridRetriever",
    "Retriever",
    "create_retriever",
    "load_retriever",
    "reciprocal_rank_fusion",
]
