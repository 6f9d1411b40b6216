"""Sections and cells every report kind shares: the threshold verdict, findings, usage, run
details. Each is written once, so the same fact reads the same in every report."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from promptops.reports import fmt
from promptops.reports.document import (
    Block,
    BulletList,
    Cell,
    Num,
    Paragraph,
    Section,
    Span,
    Status,
    Table,
    Text,
    span,
)
from promptops.runs.summary import Finding, ThresholdResult, Usage

CELL_LIMIT = 200  # Markdown table cells; the HTML page clips at its own, longer limit


def cut(text: str) -> Span:
    """Free text (an input, an output, a message) that a table cell shortens."""
    return (Text(text, CELL_LIMIT),)


def threshold_status(thresholds: Sequence[ThresholdResult]) -> str:
    failed = sum(not t.passed for t in thresholds)
    if not thresholds:
        return "no thresholds were set."
    if failed:
        return f"{failed} of {len(thresholds)} thresholds failed."
    return f"all {len(thresholds)} thresholds passed."


def threshold_table(
    thresholds: Sequence[ThresholdResult],
    *,
    first: str = "Metric",
    actual: str = "Actual",
    name: Callable[[str], str] = fmt.metric_name,
) -> Table:
    """One row per threshold: the metric, its rule, the value reached, pass or FAIL."""
    rows: list[tuple[Cell, ...]] = [
        (
            span(name(t.metric)),
            span(fmt.rule_text(t.op, t.value)),
            Num(fmt.num(t.actual)),
            Status(t.passed, "pass" if t.passed else "FAIL"),
        )
        for t in thresholds
    ]
    return Table((first, "Rule", actual, "Result"), tuple(rows))


def findings_section(title: str, findings: Sequence[Finding]) -> Section:
    if not findings:
        return Section("findings", title, (Paragraph(span("No findings.")),))
    rows: list[tuple[Cell, ...]] = []
    for f in findings:
        details: list[Text] = []
        for i, d in enumerate(f.details):
            details += [*([Text("; ")] if i else []), Text(d, CELL_LIMIT)]
        rows.append((span(f.check), span(f.severity), cut(f.message), tuple(details)))
    return Section(
        "findings", title, (Table(("Check", "Severity", "Message", "Details"), tuple(rows)),)
    )


def usage_list(u: Usage) -> BulletList:
    return BulletList(
        (
            span(f"Prompt tokens: {fmt.count(u.prompt_tokens)}"),
            span(f"Completion tokens: {fmt.count(u.completion_tokens)}"),
            span("Cost: ", Num(fmt.money(u.cost_usd))),
        )
    )


def usage_section(u: Usage) -> Section:
    return Section("usage", "Usage", (usage_list(u),))


def run_details(rows: Sequence[tuple[str, str]], *extra: Block) -> Section:
    """The run's volatile facts (ids, times, latencies, cache counts): HTML only."""
    table = Table(("Detail", "Value"), tuple((span(k), Num(v)) for k, v in rows))
    return Section("run", "Run details", (table, *extra), volatile=True)


def footer(source: str, schema_version: int) -> str:
    return f"Rendered by promptops from {source} (schema v{schema_version})."
