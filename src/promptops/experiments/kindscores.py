"""Per-case score readers for the task kinds beyond classification, each scoring a case the
way its kind does (the kinds' own functions; nothing re-implemented here):

- binary: right (1) or wrong (0) at the run's decision threshold (chosen on dev, 0.5
  without one), so pairs of binary runs get McNemar's test on the decisions they would make;
- scoring: 1 - |answer - expected| / (hi - lo) over the prompt's range; invalid scores 0;
- extraction: the case's field F1 (`score_case` with the run's normalization; a case with
  no field on either side is exact and scores 1);
- generation: the case's ROUGE-L F-measure against its references (the run's stemming).

A failed or invalid answer scores 0 in every kind.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from promptops.experiments.scores import SCORE_READERS, CaseRow, Reader, RunContext, case_row
from promptops.tasks.extraction.evaluate import ExtractionSettings
from promptops.tasks.extraction.scoring import parse_answer, prf, score_case
from promptops.tasks.generation.evaluate import GenerationSettings
from promptops.tasks.generation.textmetrics import references_of, rouge_scores
from promptops.tasks.textkinds import expected_value

S = TypeVar("S", bound=BaseModel)


def _settings(model: type[S], context: RunContext) -> S:
    """The kind's settings as the summary keeps them (with other facts beside them)."""
    kept = context.summary.get("settings") or {}
    return model.model_validate({k: v for k, v in kept.items() if k in model.model_fields})


def _answer(record: dict[str, Any]) -> float | None:
    """The number the case was scored on (None when failed or invalid)."""
    value = record.get("answer")
    return None if record.get("error") or value is None else float(value)


def binary_row(record: dict[str, Any], context: RunContext) -> CaseRow:
    positive = context.summary.get("positive_label") or context.prompt.get("positive_label")
    chosen = context.summary.get("threshold")
    threshold = 0.5 if chosen is None else float(chosen)
    expected = record.get("expected")
    answer = _answer(record)
    right = answer is not None and (answer >= threshold) == (expected == positive)
    return case_row(record, 1.0 if right else 0.0, expected, answer)


def scoring_row(record: dict[str, Any], context: RunContext) -> CaseRow:
    lo, hi = (float(x) for x in context.summary.get("score_range") or context.prompt["score_range"])
    expected = float(record["expected"])
    answer = _answer(record)
    score = 0.0 if answer is None else max(0.0, 1.0 - abs(answer - expected) / (hi - lo))
    return case_row(record, score, expected, answer)


def extraction_row(record: dict[str, Any], context: RunContext) -> CaseRow:
    settings = _settings(ExtractionSettings, context)
    raw = None if record.get("error") else record.get("raw_output")
    parsed = parse_answer(raw, context.prompt.get("output_schema"))
    gold = expected_value(record.get("expected"))
    case = score_case(parsed, gold if isinstance(gold, dict) else {}, settings.normalize)
    f1 = prf(case.tp, case.fp, case.fn)[2] if case.tp + case.fp + case.fn else 1.0
    return case_row(record, f1, record.get("expected"), raw)


def generation_row(record: dict[str, Any], context: RunContext) -> CaseRow:
    settings = _settings(GenerationSettings, context)
    refs = references_of(expected_value(record.get("expected")))
    output = None if record.get("error") else record.get("raw_output")
    score = rouge_scores(output or "", refs, stemming=settings.stemming)["rouge_l"] if refs else 0.0
    return case_row(record, score, record.get("expected"), output)


READERS: dict[str, Reader] = {
    "binary": binary_row,
    "scoring": scoring_row,
    "extraction": extraction_row,
    "generation": generation_row,
}


def register_kind_readers() -> None:
    for kind, reader in READERS.items():
        if kind not in SCORE_READERS:
            SCORE_READERS.register(kind, reader)
