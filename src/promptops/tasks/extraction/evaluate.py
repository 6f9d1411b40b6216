"""An extraction run scored end to end: metrics with intervals, the gazetteer baseline and
the paired test against it, slices by tag, worst cases, per-case records.

The primary metric is `field_f1` (micro) unless the suite names `exact_match` or
`schema_valid_rate`; each is a statistic of per-case count columns, so its interval, the
paired test and `--against-baseline` all resample the same columns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from promptops.errors import EvalsetError
from promptops.tasks.casework import (
    Paired,
    TaskRow,
    baseline_entries,
    interval_dict,
    paired,
    slices,
)
from promptops.tasks.extraction.gazetteer import fit_gazetteer
from promptops.tasks.extraction.normalize import FieldNormalization, declared_steps
from promptops.tasks.extraction.scoring import (
    CaseScore,
    ExtractionMetrics,
    count_columns,
    extraction_metrics,
    micro_f1_of_sums,
    parse_answer,
    score_case,
)
from promptops.tasks.resample import SumStatistic, sums_ci

GAZETTEER = "gazetteer"
_COLUMN = {"exact_match": 3, "schema_valid_rate": 4, "parse_error_rate": 5}
BASELINE_DESCRIPTIONS = {
    GAZETTEER: "train-split values found again in the input text (longest match first)"
}


class ExtractionSettings(BaseModel):
    """`extraction:` in a suite."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    normalize: FieldNormalization = Field(default_factory=FieldNormalization)


def statistic(metric: str, n: int) -> SumStatistic:
    """The sum statistic of `metric` over n cases' count columns."""
    if metric == "field_f1":
        return micro_f1_of_sums
    if metric in ("field_precision", "field_recall"):
        other = 1 if metric == "field_precision" else 2

        def ratio(sums: NDArray[np.float64]) -> NDArray[np.float64]:
            tp, denom = sums[:, 0], sums[:, 0] + sums[:, other]
            out: NDArray[np.float64] = np.divide(tp, denom, out=np.zeros_like(tp), where=denom > 0)
            return out

        return ratio
    if metric in _COLUMN:
        column = _COLUMN[metric]

        def mean(sums: NDArray[np.float64]) -> NDArray[np.float64]:
            out: NDArray[np.float64] = sums[:, column] / n
            return out

        return mean
    raise EvalsetError(
        f"unknown extraction metric {metric!r}; known: field_f1, {', '.join(_COLUMN)}",
        where="primary_metric",
    )


def gold_of(row: TaskRow) -> dict[str, Any]:
    """The row's expected object (a JSON object, or its text)."""
    gold = row.expected
    if isinstance(gold, str):
        try:
            gold = json.loads(gold)
        except json.JSONDecodeError as exc:
            raise EvalsetError(f"expected is not JSON: {exc.msg}", where=row.id) from exc
    if not isinstance(gold, dict):
        raise EvalsetError("an extraction case expects a JSON object", where=row.id)
    return gold


def score_outputs(
    rows: Sequence[TaskRow],
    outputs: Sequence[str | None],
    schema: Mapping[str, Any] | None,
    settings: ExtractionSettings,
) -> list[CaseScore]:
    return [
        score_case(parse_answer(out, schema), gold_of(row), settings.normalize)
        for row, out in zip(rows, outputs, strict=True)
    ]


def case_record(row: TaskRow, score: CaseScore) -> dict[str, Any]:
    """The results.jsonl row: id, expected, raw output, parsed answer and the counts."""
    p = score.parsed
    return {
        "id": row.id,
        "expected": row.expected,
        "raw_output": row.output,
        "answer": p.obj,
        "parse_error": p.parse_error,
        "schema_errors": list(p.schema_errors),
        "fenced": p.fenced,
        "exact": score.exact,
        "tp": score.tp,
        "fp": score.fp,
        "fn": score.fn,
        "wrong_fields": score.wrong_fields(),
        "tags": list(row.tags),
    }


@dataclass(frozen=True)
class ExtractionRun:
    primary: str
    metrics: ExtractionMetrics
    intervals: dict[str, dict[str, float]]
    baselines: dict[str, dict[str, Any]]  # name -> its metrics
    comparisons: list[Paired]
    slices: list[dict[str, Any]]
    worst: list[dict[str, Any]]
    records: list[dict[str, Any]]
    normalization: dict[str, str]

    def payload(self) -> dict[str, Any]:
        """The task's part of summary.json: everything its report sections read."""
        return {
            "primary_metric": self.primary,
            "metrics": self.metrics.flat(),
            "intervals": self.intervals,
            "normalization": self.normalization,
            "baselines": baseline_entries(self.baselines, BASELINE_DESCRIPTIONS, self.comparisons),
            "slices": self.slices,
            "worst_cases": self.worst,
        }


def evaluate_extraction(
    rows: Sequence[TaskRow],
    train: Sequence[TaskRow],
    schema: Mapping[str, Any] | None,
    settings: ExtractionSettings,
    *,
    primary: str = "field_f1",
    alpha: float = 0.05,
    n_resamples: int = 2000,
    seed: int = 0,
    worst_cases: int = 10,
) -> ExtractionRun:
    if not rows:
        raise EvalsetError("no cases to score", where="evalset")
    scores = score_outputs(rows, [r.output for r in rows], schema, settings)
    columns = count_columns(scores)
    n = len(rows)
    intervals = {
        name: interval_dict(
            sums_ci(columns, statistic(name, n), n_resamples=n_resamples, seed=seed)
        )
        for name in ("field_f1", "field_precision", "field_recall", *_COLUMN)
    }
    baselines: dict[str, dict[str, Any]] = {}
    comparisons = []
    if train:
        gazetteer = fit_gazetteer([gold_of(r) for r in train])
        base_scores = score_outputs(
            rows, [gazetteer.answer(r.text) for r in rows], schema, settings
        )
        baselines[GAZETTEER] = {**extraction_metrics(base_scores).flat(), "size": gazetteer.size}
        comparisons.append(
            paired(
                primary,
                (GAZETTEER, "prompt"),
                (count_columns(base_scores), columns),
                statistic(primary, n),
                alpha=alpha,
                n_resamples=n_resamples,
                seed=seed,
            )
        )
    names = {name for r in rows for name in gold_of(r)} | {
        name for s in scores for name in s.fields
    }
    return ExtractionRun(
        primary=primary,
        metrics=extraction_metrics(scores),
        intervals=intervals,
        baselines=baselines,
        comparisons=comparisons,
        slices=slices(rows, lambda ix: _slice(scores, ix)),
        worst=worst(rows, scores, worst_cases),
        records=[case_record(r, s) for r, s in zip(rows, scores, strict=True)],
        normalization=declared_steps(settings.normalize, dict.fromkeys(names)),
    )


def _slice(scores: Sequence[CaseScore], ix: list[int]) -> dict[str, float | None]:
    m = extraction_metrics([scores[i] for i in ix])
    return {
        "field_f1": m.field_f1,
        "exact_match": m.exact_match,
        "schema_valid_rate": m.schema_valid_rate,
    }


def worst(rows: Sequence[TaskRow], scores: Sequence[CaseScore], limit: int) -> list[dict[str, Any]]:
    """Unparseable and schema-invalid answers first (with the raw output), then the cases
    with the most wrong fields; ties in case order."""
    ranked = sorted(
        range(len(rows)),
        key=lambda i: (
            scores[i].parsed.obj is not None,
            scores[i].parsed.schema_valid,
            -(scores[i].fp + scores[i].fn),
            i,
        ),
    )
    out = []
    for i in ranked[:limit]:
        s = scores[i]
        if s.exact:
            break
        problem = (
            s.parsed.parse_error
            or "; ".join(s.parsed.schema_errors[:3])
            or f"wrong fields: {', '.join(s.wrong_fields())}"
        )
        out.append(
            {
                "id": rows[i].id,
                "input": rows[i].text,
                "expected": rows[i].expected,
                "raw_output": rows[i].output,
                "problem": problem,
                "fp": s.fp,
                "fn": s.fn,
            }
        )
    return out


def against_saved(
    rows: Sequence[TaskRow],
    saved_outputs: Sequence[str | None],
    schema: Mapping[str, Any] | None,
    settings: ExtractionSettings,
    *,
    primary: str = "field_f1",
    alpha: float = 0.05,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Paired:
    """This run (B) against a saved run's answers (A) on the same cases: a significant drop
    is a regression (`--against-baseline` exits 1)."""
    now = count_columns(score_outputs(rows, [r.output for r in rows], schema, settings))
    then = count_columns(score_outputs(rows, saved_outputs, schema, settings))
    return paired(
        primary,
        ("saved", "current"),
        (then, now),
        statistic(primary, len(rows)),
        alpha=alpha,
        n_resamples=n_resamples,
        seed=seed,
    )
