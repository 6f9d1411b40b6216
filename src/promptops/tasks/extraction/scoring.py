"""Extraction answers scored field by field, with the conlleval counting convention.

An answer is first parsed: the whole output must be one JSON object (a single ```json code
fence around the whole of it is accepted and recorded as `fenced`; nothing else is
repaired). It is then checked against the prompt's `output_schema` with jsonschema. The
two failures are counted apart: `parse_error_rate` (not a JSON object at all) and
`schema_valid_rate` (parsed and valid).

Fields: an answer is flattened to (field, value) items: nested objects give dotted names
(`address.city`), a list gives one item per element (a slot that occurs twice), null and ""
mean "not extracted". Against the gold items, per field, after the suite's normalisation:

- true positive: a predicted item equal to a gold item of the same field;
- false positive: a predicted item with no equal gold item (a wrong value or an extra field);
- false negative: a gold item with no equal predicted item (a wrong value or a missing field).

So a wrong value is one FP and one FN, as in conlleval. An unparseable answer extracts
nothing (all its gold items are FNs). A parsed answer that fails the schema keeps its field
counts (its extra or wrong fields already cost FPs) but is never an exact match.
`exact_match` (SNIPS's sentence accuracy) needs a valid answer with no FP and no FN.
Micro scores sum the counts over fields; macro-F1 averages per-field F1 over every field that
occurs in the gold or the answers (seqeval's label set). 0/0 scores 0, as in scikit-learn.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from promptops.tasks.extraction.normalize import FieldNormalization, normalized_fields

_FENCE = re.compile(r"^```(?:json|JSON)?[ \t]*\n(.*)\n```$", re.DOTALL)


@dataclass(frozen=True)
class ParsedAnswer:
    """One raw output read as a JSON object; `obj` is None when it is not one."""

    obj: dict[str, Any] | None
    parse_error: str | None = None
    schema_errors: tuple[str, ...] = ()
    fenced: bool = False

    @property
    def schema_valid(self) -> bool:
        return self.obj is not None and not self.schema_errors


def parse_answer(
    raw: str | None, schema: Mapping[str, Any] | None, *, allow_fence: bool = True
) -> ParsedAnswer:
    """Parse `raw` as one JSON object and validate it against `schema` (None: any object)."""
    if raw is None:
        return ParsedAnswer(None, "no answer")
    text, fenced = raw.strip(), False
    match = _FENCE.match(text)
    if allow_fence and match:
        text, fenced = match.group(1).strip(), True
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return ParsedAnswer(None, f"not JSON: {exc.msg} (char {exc.pos})", fenced=fenced)
    if not isinstance(obj, dict):
        return ParsedAnswer(None, f"JSON {type(obj).__name__}, not an object", fenced=fenced)
    return ParsedAnswer(obj, None, schema_problems(obj, schema), fenced)


def schema_problems(obj: Any, schema: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Every jsonschema violation of `obj`, as "path: message" lines (sorted, stable)."""
    if schema is None:
        return ()
    from jsonschema import validators

    cls = validators.validator_for(schema)
    errors = cls(schema).iter_errors(obj)
    return tuple(
        sorted(f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors)
    )


def flatten(obj: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(field, value) items of an answer or gold object; see the module docstring."""
    items: list[tuple[str, Any]] = []
    for key, value in obj.items():
        name = f"{prefix}{key}"
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, dict):
                items.extend(flatten(item, f"{name}."))
            elif item is not None and item != "":
                items.append((name, item))
    return items


@dataclass(frozen=True)
class FieldCounts:
    tp: int = 0
    fp: int = 0
    fn: int = 0


@dataclass(frozen=True)
class CaseScore:
    """One case: counts per field, and whether everything was right."""

    fields: dict[str, FieldCounts]
    exact: bool
    parsed: ParsedAnswer

    @property
    def tp(self) -> int:
        return sum(c.tp for c in self.fields.values())

    @property
    def fp(self) -> int:
        return sum(c.fp for c in self.fields.values())

    @property
    def fn(self) -> int:
        return sum(c.fn for c in self.fields.values())

    def wrong_fields(self) -> list[str]:
        return sorted(name for name, c in self.fields.items() if c.fp or c.fn)


def score_case(
    parsed: ParsedAnswer, gold: Mapping[str, Any], norm: FieldNormalization
) -> CaseScore:
    gold_items = Counter(normalized_fields(flatten(gold), norm))
    pred_items = Counter(
        normalized_fields(flatten(parsed.obj), norm) if parsed.obj is not None else []
    )
    matched = gold_items & pred_items
    names = {name for name, _ in gold_items} | {name for name, _ in pred_items}
    counts = {}
    for name in sorted(names):
        tp = sum(n for (f, _), n in matched.items() if f == name)
        counts[name] = FieldCounts(
            tp=tp,
            fp=sum(n for (f, _), n in pred_items.items() if f == name) - tp,
            fn=sum(n for (f, _), n in gold_items.items() if f == name) - tp,
        )
    exact = parsed.schema_valid and all(c.fp == 0 and c.fn == 0 for c in counts.values())
    return CaseScore(counts, exact, parsed)


def prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    """Precision, recall and F1 from counts; 0/0 is 0."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return precision, recall, f1


@dataclass(frozen=True)
class FieldScores:
    precision: float
    recall: float
    f1: float
    support: int  # gold items of this field


@dataclass(frozen=True)
class ExtractionMetrics:
    n: int
    schema_valid_rate: float
    parse_error_rate: float
    field_precision: float
    field_recall: float
    field_f1: float
    field_f1_macro: float
    exact_match: float
    fields: dict[str, FieldScores] = field(default_factory=dict)

    def flat(self) -> dict[str, Any]:
        """`metrics` as summary.json names them, `fields` nested."""
        return {
            "n": self.n,
            "schema_valid_rate": self.schema_valid_rate,
            "parse_error_rate": self.parse_error_rate,
            "field_precision": self.field_precision,
            "field_recall": self.field_recall,
            "field_f1": self.field_f1,
            "field_f1_macro": self.field_f1_macro,
            "exact_match": self.exact_match,
            "fields": {
                name: {
                    "precision": s.precision,
                    "recall": s.recall,
                    "f1": s.f1,
                    "support": s.support,
                }
                for name, s in self.fields.items()
            },
        }


def extraction_metrics(scores: Sequence[CaseScore]) -> ExtractionMetrics:
    if not scores:
        raise ValueError("no cases to score")
    totals: dict[str, list[int]] = {}
    for score in scores:
        for name, c in score.fields.items():
            row = totals.setdefault(name, [0, 0, 0])
            row[0] += c.tp
            row[1] += c.fp
            row[2] += c.fn
    per_field = {}
    for name in sorted(totals):
        tp, fp, fn = totals[name]
        p, r, f = prf(tp, fp, fn)
        per_field[name] = FieldScores(p, r, f, tp + fn)
    tp, fp, fn = (sum(row[i] for row in totals.values()) for i in range(3))
    precision, recall, f1 = prf(tp, fp, fn)
    n = len(scores)
    return ExtractionMetrics(
        n=n,
        schema_valid_rate=sum(s.parsed.schema_valid for s in scores) / n,
        parse_error_rate=sum(s.parsed.obj is None for s in scores) / n,
        field_precision=precision,
        field_recall=recall,
        field_f1=f1,
        field_f1_macro=float(np.mean([s.f1 for s in per_field.values()])) if per_field else 0.0,
        exact_match=sum(s.exact for s in scores) / n,
        fields=per_field,
    )


def count_columns(scores: Sequence[CaseScore]) -> NDArray[np.float64]:
    """Per case (tp, fp, fn, exact, valid, parse error): the columns the resampled metrics
    are sums of (see `resample.sums_ci`)."""
    return np.array(
        [(s.tp, s.fp, s.fn, s.exact, s.parsed.schema_valid, s.parsed.obj is None) for s in scores],
        dtype=np.float64,
    ).reshape(len(scores), 6)


def micro_f1_of_sums(sums: NDArray[np.float64]) -> NDArray[np.float64]:
    """Micro field-F1 from summed (tp, fp, fn, ...) columns, one value per row."""
    tp, fp, fn = sums[:, 0], sums[:, 1], sums[:, 2]
    denom = 2 * tp + fp + fn
    out: NDArray[np.float64] = np.divide(
        2 * tp, denom, out=np.zeros_like(tp, dtype=np.float64), where=denom > 0
    )
    return out
