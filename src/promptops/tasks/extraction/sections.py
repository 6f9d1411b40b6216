"""The report sections of an extraction run, from its summary payload alone
(`ExtractionRun.payload()`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptops.reports import fmt
from promptops.reports.common import cut
from promptops.reports.document import (
    Block,
    Cell,
    Details,
    Num,
    Paragraph,
    Section,
    Table,
    span,
)
from promptops.tasks.sectionparts import baselines_section, metric_table, shown, slices_section

HEADLINE = (
    ("field_f1", "Field F1 (micro)"),
    ("field_precision", "Field precision (micro)"),
    ("field_recall", "Field recall (micro)"),
    ("field_f1_macro", "Field F1 (macro)"),
    ("exact_match", "Exact match (every field right)"),
    ("schema_valid_rate", "Schema-valid rate"),
    ("parse_error_rate", "Parse-error rate"),
)
_BASELINE_COLUMNS = (("field_f1", "Field F1"), ("exact_match", "Exact match"))


def extraction_sections(payload: Mapping[str, Any]) -> list[Section]:
    sections = [_headline(payload), _fields(payload)]
    for extra in (
        baselines_section(payload, (*_BASELINE_COLUMNS, ("schema_valid_rate", "Schema-valid"))),
        slices_section(payload["slices"], (*_BASELINE_COLUMNS, ("schema_valid_rate", "Valid"))),
        _worst(payload),
    ):
        if extra is not None:
            sections.append(extra)
    return sections


def _headline(payload: Mapping[str, Any]) -> Section:
    m = payload["metrics"]
    blocks = metric_table(HEADLINE, m, payload["intervals"])
    blocks.append(
        Paragraph(
            span(
                "Fields are counted as in conlleval: a wrong value is one false positive and "
                "one false negative, a missing field a false negative, an extra field a false "
                "positive. Unparseable answers extract nothing; schema-invalid answers keep "
                "their field counts but are never an exact match. Intervals: bootstrap "
                "percentiles over cases."
            ),
            tone="note",
        )
    )
    steps = payload.get("normalization") or {}
    if steps:
        rows: tuple[tuple[Cell, ...], ...] = tuple(
            (span(name), span(text)) for name, text in steps.items()
        )
        blocks.append(
            Details(
                "Value normalisation per field (declared in the suite)",
                (Table(("Field", "Steps"), rows),),
            )
        )
    return Section("metrics", "Headline metrics", tuple(blocks))


def _fields(payload: Mapping[str, Any]) -> Section:
    fields = payload["metrics"]["fields"]
    ordered = sorted(fields.items(), key=lambda item: (-item[1]["support"], item[0]))
    rows: list[tuple[Cell, ...]] = [
        (
            span(name),
            Num(fmt.count(s["support"])),
            Num(fmt.num(s["precision"])),
            Num(fmt.num(s["recall"])),
            Num(fmt.num(s["f1"])),
        )
        for name, s in ordered
    ]
    blocks: list[Block] = [
        Table(("Field", "Support", "Precision", "Recall", "F1"), tuple(rows)),
        Paragraph(
            span(
                "Support counts gold values; a field with support 0 was only ever predicted "
                "(a hallucinated name), and counts in the macro average."
            ),
            tone="note",
        ),
    ]
    return Section("fields", "Per-field scores", tuple(blocks))


def _worst(payload: Mapping[str, Any]) -> Section | None:
    worst = payload.get("worst_cases") or []
    if not worst:
        return None
    rows: list[tuple[Cell, ...]] = [
        (
            span(w["id"]),
            cut(w["problem"]),
            cut(w["input"]),
            cut(shown(w["expected"])),
            cut("(no answer)" if w["raw_output"] is None else w["raw_output"]),
        )
        for w in worst
    ]
    table = Table(("Case", "Problem", "Input", "Expected", "Raw output"), tuple(rows))
    note = Paragraph(
        span("Unparseable and schema-invalid answers first, then the most wrong fields.")
    )
    return Section("worst", "Worst cases", (note, table))
