"""Metrics: ranking quality with trec_eval's semantics, and generated text against gold answers.

`evaluate_retrieval` scores a run (``{qid: {docid: score}}``) against qrels
(``{qid: {docid: grade}}``); `promptops.metrics.trec` reads and writes the TREC files.
The generation metrics score an answer against one or more gold answers, all in [0, 1];
`promptops.metrics.power` sizes paired tests (minimum detectable differences).
"""

from __future__ import annotations

from promptops.metrics.generation import (
    GENERATION_METRICS,
    bleu,
    corpus_bleu,
    corpus_scores,
    exact_match,
    generation_metric_names,
    generation_scores,
    normalize_answer,
    rouge_l,
    token_f1,
)
from promptops.metrics.retrieval import (
    Metric,
    RankedRelevance,
    RetrievalResult,
    aggregate,
    evaluate_retrieval,
    measure_names,
    parse_metrics,
    register_measure,
)
from promptops.metrics.trec import read_qrels, read_run, write_qrels, write_run

__all__ = [
    "GENERATION_METRICS",
    "Metric",
    "RankedRelevance",
    "RetrievalResult",
    "aggregate",
    "bleu",
    "corpus_bleu",
    "corpus_scores",
    "evaluate_retrieval",
    "exact_match",
    "generation_metric_names",
    "generation_scores",
    "measure_names",
    "normalize_answer",
    "parse_metrics",
    "read_qrels",
    "read_run",
    "register_measure",
    "rouge_l",
    "token_f1",
    "write_qrels",
    "write_run",
]
