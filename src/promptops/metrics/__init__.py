"""Metrics: ranking quality (trec_eval semantics) and generated-text quality."""

from __future__ import annotations
