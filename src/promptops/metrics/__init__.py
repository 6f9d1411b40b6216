"""Metrics: ranking quality (trec_eval semantics) and generated-text quality."""

from __future__ import annotations

from promptops.metrics.retrieval import RetrievalResult, aggregate, evaluate_retrieval

__all__ = ["RetrievalResult", "aggregate", "evaluate_retrieval"]
