"""Shared helpers for the retrieval tests: the Cranfield collection (read in place, never copied
into the project) and pytrec_eval scoring."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pytest

DATA = Path(
    os.environ.get("PROMPTOPS_DATA_DIR", Path(__file__).resolve().parents[2] / "shared/data")
)
CRANFIELD = DATA / "cranfield"


def require_cranfield() -> Path:
    if not (CRANFIELD / "corpus.jsonl").is_file():
        pytest.skip(f"Cranfield not found under {CRANFIELD}")
    return CRANFIELD


@cache
def cranfield_queries() -> dict[str, str]:
    path = require_cranfield() / "queries.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {row["_id"]: row["text"] for row in rows}


@cache
def cranfield_qrels() -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in (require_cranfield() / "qrels.trec").read_text().splitlines():
        qid, _, doc_id, grade = line.split()
        qrels.setdefault(qid, {})[doc_id] = int(grade)
    return qrels


def mean_metrics(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    measures: Sequence[str] = ("ndcg_cut_10", "map", "recall_100", "recip_rank"),
) -> dict[str, float]:
    """Means over judged queries by pytrec_eval (trec_eval); unranked judged queries count 0."""
    import pytrec_eval

    evaluator = pytrec_eval.RelevanceEvaluator(dict(qrels), set(measures))
    full_run = {qid: dict(run.get(qid, {})) or {"__none__": 0.0} for qid in qrels}
    per_query = evaluator.evaluate(full_run)
    return {m: float(np.mean([per_query[q][m] for q in qrels])) for m in measures}
