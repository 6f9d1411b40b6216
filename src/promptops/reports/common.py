"""Sections and cells every report kind shares: the threshold verdict, findings, usage, run
details. Each is written once, so the same fact reads the same in every report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from promptops.reports import fmt
from promptops.reports.document import (
    Banner,
    BulletList,
    Cell,
    Num,
    Section,
    Span,
    Status,
    Strong,
    Table,
    Text,
    bullets,
    para,
    span,
)
from promptops.runs.envelope import EvalEnvelope
from promptops.runs.summary import Finding, ThresholdResult, Usage

CELL_LIMIT = 200  # Markdown table cells; the HTML page clips at its own, longer limit


def columns(headers: str) -> tuple[str, ...]:
    """Table headers written as one line: `columns("Case | Input | Output")`."""
    return tuple(h.strip() for h in headers.split("|"))


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


def threshold_banner(passed: bool, thresholds: Sequence[ThresholdResult]) -> Banner:
    """ "PASS: all 2 thresholds passed." or "FAIL: 1 of 2 thresholds failed."."""
    return Banner(
        passed, span(Strong("PASS" if passed else "FAIL"), f": {threshold_status(thresholds)}")
    )


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
        return Section("findings", title, (para("No findings."),))
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
    return bullets(
        f"Prompt tokens: {fmt.count(u.prompt_tokens)}",
        f"Completion tokens: {fmt.count(u.completion_tokens)}",
        span("Cost: ", Num(fmt.money(u.cost_usd))),
    )


def usage_section(u: Usage) -> Section:
    return Section("usage", "Usage", (usage_list(u),))


class RunFacts(Protocol):
    """The volatile facts every run records (`Volatile`, `RagVolatile`)."""

    run_id: str
    started_at: str
    finished_at: str
    duration_s: float
    cache_hits: int
    cache_misses: int
    retries: int


def run_details(
    v: RunFacts,
    usage: Usage | None,
    latency: dict[str, float | None],
    steps: Sequence[tuple[str, float | None]] = (),
) -> Section:
    """The run's volatile facts (ids, times, latencies, cache counts): HTML only."""
    rows = [
        ("Run id", v.run_id),
        ("Started", v.started_at),
        ("Finished", v.finished_at),
        ("Duration", fmt.seconds(v.duration_s)),
        *((name, fmt.seconds(seconds)) for name, seconds in steps),
        ("Latency " + " / ".join(latency), " / ".join(map(fmt.seconds, latency.values()))),
        ("Cache hits / misses", f"{fmt.count(v.cache_hits)} / {fmt.count(v.cache_misses)}"),
        ("Retries", fmt.count(v.retries)),
    ]
    if usage is not None:
        tokens = f"{fmt.count(usage.prompt_tokens)} / {fmt.count(usage.completion_tokens)}"
        rows += [("Prompt / completion tokens", tokens), ("Cost", fmt.money(usage.cost_usd))]
    table = Table(("Detail", "Value"), tuple((span(k), Num(x)) for k, x in rows))
    return Section("run", "Run details", (table,), volatile=True)


def eval_meta(
    s: EvalEnvelope, cases: Callable[[str], str], model_note: str = ""
) -> tuple[tuple[str, Span], ...]:
    """The header lines of an evalset run's report: prompt, model, evalset. `cases` words the
    case counts from the per-split counts ("" when the evalset has no splits)."""
    splits = ", ".join(f"{name} {fmt.count(n)}" for name, n in sorted(s.evalset.n_by_split.items()))
    return (
        ("Prompt", span(f"{s.prompt.identity} (content hash {s.prompt.content_hash})")),
        (
            "Model",
            span(
                f"{s.model.model} via profile {s.model.profile}, "
                f"temperature {fmt.num(s.model.temperature, 2)}{model_note}"
            ),
        ),
        ("Evalset", span(f"{s.evalset.path} (sha256 {s.evalset.sha256[:16]}), {cases(splits)}")),
    )


def footer(source: str, schema_version: int) -> str:
    return f"Rendered by promptops from {source} (schema v{schema_version})."
