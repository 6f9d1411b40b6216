"""Retrievers: one module per kind, all in the registry of `base` under their names.

Importing this package registers `bm25`, `dense` and `hybrid`; heavy libraries (torch,
sentence-transformers, faiss) load only when a dense retriever is used.
"""

from __future__ import annotations

from promptops.rag.retrievers.base import (
    Hits,
    Retriever,
    create_retriever,
    load_retriever,
    register_retriever,
    retriever_class,
    retriever_names,
)
from promptops.rag.retrievers.bm25 import BM25Retriever, BM25Tokenizer
from promptops.rag.retrievers.dense import DenseRetriever
from promptops.rag.retrievers.hybrid import HybridRetriever, reciprocal_rank_fusion

__all__ = [
    "BM25Retriever",
    "BM25Tokenizer",
    "DenseRetriever",
    "Hits",
    "HybridRetriever",
    "Retriever",
    "create_retriever",
    "load_retriever",
    "reciprocal_rank_fusion",
    "register_retriever",
    "retriever_class",
    "retriever_names",
]
