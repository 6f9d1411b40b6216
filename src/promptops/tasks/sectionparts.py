"""Report parts both extraction and generation sections use, built from their summary
payloads alone: the metric table with intervals, the baselines with their paired test, the
slice table. Payload dicts, not run objects, so a report renders from summary.json."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from promptops.reports import fmt
from promptops.reports.common import cut
from promptops.reports.document import (
    Block,
    Cell,
    Chart,
    Num,
    Paragraph,
    Section,
    Table,
    span,
)


def metric_table(
    names: Sequence[tuple[str, str]],
    metrics: Mapping[str, Any],
    intervals: Mapping[str, Mapping[str, float]],
) -> list[Block]:
    """(key, label) rows: estimate and 95% interval; a whiskers chart of those with one."""
    rows: list[tuple[Cell, ...]] = []
    whiskers = []
    for key, label in names:
        if key not in metrics:
            continue
        iv = intervals.get(key)
        ci = f"{fmt.level(iv['confidence'])} {fmt.interval(iv['low'], iv['high'])}" if iv else "—"
        rows.append((span(label), Num(fmt.num(metrics[key])), Num(ci)))
        if iv is not None:
            whiskers.append((label, iv["estimate"], iv["low"], iv["high"]))
    blocks: list[Block] = [Table(("Metric", "Estimate", "CI"), tuple(rows))]
    if whiskers:
        blocks.append(Chart("whiskers", "Headline metrics with CI", tuple(whiskers)))
    return blocks


def baselines_section(
    payload: Mapping[str, Any], columns: Sequence[tuple[str, str]]
) -> Section | None:
    """Each baseline's metrics, and the prompt minus the baseline on the primary metric."""
    baselines = payload.get("baselines") or []
    if not baselines:
        return None
    primary = payload["primary_metric"]
    headers = (
        "Baseline",
        *(label for _, label in columns),
        f"Prompt minus baseline ({primary})",
        "95% CI",
        "p (paired bootstrap)",
        "Outcome",
        "Description",
    )
    rows: list[tuple[Cell, ...]] = []
    sentences = []
    for b in baselines:
        pr = b.get("paired")
        rows.append(
            (
                span(b["name"]),
                *(Num(fmt.num(b["metrics"].get(key))) for key, _ in columns),
                Num(fmt.signed(pr["diff"]) if pr else fmt.MISSING),
                Num(fmt.interval(pr["low"], pr["high"], sign=True) if pr else fmt.MISSING),
                Num(fmt.pvalue(pr["p_value"]) if pr else fmt.MISSING),
                span(_outcome(pr)),
                cut(b["description"]),
            )
        )
        if pr:
            sentences.append(
                f"The prompt {_verdict_words(pr)} the {b['name']} baseline on {primary} "
                f"({fmt.signed(pr['diff'])}, p {fmt.pvalue(pr['p_value'])}, "
                f"{fmt.count(pr['n'])} paired cases)."
            )
    blocks: list[Block] = [Table(headers, tuple(rows))]
    blocks += [Paragraph(span(text)) for text in sentences]
    return Section("baselines", "Baselines", tuple(blocks))


def _outcome(pr: Mapping[str, Any] | None) -> str:
    if pr is None:
        return fmt.MISSING
    return {"better": "prompt better", "worse": "prompt worse"}.get(
        pr["outcome"], "no significant difference"
    )


def _verdict_words(pr: Mapping[str, Any]) -> str:
    return {
        "better": "significantly beats",
        "worse": "is significantly worse than",
    }.get(pr["outcome"], "does not significantly differ from")


def slices_section(
    slices: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]
) -> Section | None:
    if not slices:
        return None
    rows: list[tuple[Cell, ...]] = [
        (
            span(sl["tag"]),
            Num(fmt.count(sl["n"])),
            *(Num(fmt.num(sl.get(key))) for key, _ in columns),
        )
        for sl in slices
    ]
    table = Table(("Tag", "Cases", *(label for _, label in columns)), tuple(rows))
    return Section("slices", "Slices", (table,))


def shown(value: Any) -> str:
    """An expected value as the report prints it: text as is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
