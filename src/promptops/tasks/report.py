"""Report sections of a binary or scoring run, as blocks of the report Document; the
Markdown and HTML backends (`promptops.reports.render`) draw them. Nothing volatile (times,
cache counts) goes into the document, so report.md is byte-stable for identical answers."""

from __future__ import annotations

from promptops.reports.document import (
    Banner,
    BulletList,
    Cell,
    Chart,
    Details,
    Document,
    Num,
    Paragraph,
    Section,
    Status,
    Table,
    Text,
    span,
)
from promptops.tasks import summary as ts


def _n(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _ci(iv: ts.TaskInterval | None) -> str:
    if iv is None or iv.low is None or iv.high is None:
        return "n/a"
    return f"[{iv.low:.3f}, {iv.high:.3f}]"


def _resamples(summary: ts.TaskSummary) -> int:
    return next(iter(summary.intervals.values())).n_resamples if summary.intervals else 0


def verdict_section(summary: ts.TaskSummary) -> Section:
    checks: tuple[tuple[Cell, ...], ...] = tuple(
        (
            span(t.metric),
            Num(f"{t.op} {t.value:g}"),
            Num(_n(t.actual)),
            Status(t.passed, "pass" if t.passed else "FAIL"),
        )
        for t in summary.thresholds
    )
    body: list[Paragraph | Table] = [Paragraph(span(summary.verdict))]
    if checks:
        body.append(Table(("check", "bound", "actual", "result"), checks))
    else:
        body.append(Paragraph(span("No thresholds are set: the run passes whatever its numbers.")))
    headline = span(
        f"{summary.kind} suite {summary.suite}: ", "passed" if summary.passed else "FAILED"
    )
    return Section("verdict", "Verdict", (Banner(summary.passed, headline, tuple(body)),))


def metrics_section(summary: ts.TaskSummary) -> Section:
    rows: list[tuple[Cell, ...]] = []
    for name, iv in summary.intervals.items():
        marker = " (primary)" if name == summary.primary_metric else ""
        rows.append((span(name + marker), Num(_n(summary.metrics.get(name))), Num(_ci(iv))))
    notes = [
        span(
            f"{summary.n_cases} test cases; {summary.n_invalid} invalid answers "
            f"({_n(summary.metrics.get('invalid_rate'))}), {summary.n_errors} request errors; "
            "metrics are over the valid answers, invalid ones are never clipped or guessed."
        ),
        span(f"95% percentile-bootstrap intervals over cases ({_resamples(summary)} resamples)."),
    ]
    if summary.kind == "binary":
        notes.append(
            span(
                f"Score: P({summary.positive_label}) from the endpoint's label probabilities. "
                f"Decision threshold {_n(summary.threshold)} ({summary.threshold_source}); "
                f"recall at precision >= {summary.target_precision:g}."
            )
        )
    if summary.kind == "scoring" and summary.score_range is not None:
        lo, hi = summary.score_range
        notes.append(
            span(
                f"An answer must be one number within [{lo:g}, {hi:g}]; with number labels "
                "and their probabilities, the score is the probability-weighted mean."
            )
        )
    return Section(
        "metrics",
        "Metrics",
        (Table(("metric", "value", "95% CI"), tuple(rows)), BulletList(tuple(notes))),
    )


def baselines_section(summary: ts.TaskSummary) -> Section:
    names = [n for n in summary.intervals if n != "precision" and n != "recall"]
    rows: list[tuple[Cell, ...]] = [
        (
            span("prompt"),
            *(Num(_n(summary.metrics.get(n))) for n in names),
            Num(""),
            Num(""),
            span(""),
        )
    ]
    for b in summary.baselines:
        if b.comparison is None:
            rows.append(
                (
                    span(b.name),
                    *(Num("") for _ in names),
                    Num(""),
                    Num(""),
                    span(f"not fit: {b.reason}"),
                )
            )
            continue
        c = b.comparison
        word = (
            "prompt better"
            if c.prompt_better
            else "prompt worse"
            if c.prompt_worse
            else c.decision.outcome.replace("_", " ")
        )
        rows.append(
            (
                span(b.name),
                *(Num(_n(b.metrics.get(n))) for n in names),
                Num(f"{c.diff:+.3f} [{c.low:+.3f}, {c.high:+.3f}]"),
                Num(f"{c.decision.p_value:.3g}"),
                span(word),
            )
        )
    headers = (
        "system",
        *names,
        f"prompt - baseline ({summary.primary_metric})",
        "p",
        "paired bootstrap",
    )
    return Section(
        "baselines",
        "Baselines",
        (
            Paragraph(
                span(
                    "Every baseline is fit on the train split only and scored on the same "
                    "test cases the prompt answered validly."
                )
            ),
            Table(headers, tuple(rows)),
        ),
    )


def calibration_section(summary: ts.TaskSummary) -> Section | None:
    if not summary.calibration:
        return None
    rows: tuple[tuple[Cell, ...], ...] = tuple(
        (
            span(f"[{p.low:g}, {p.high:g}{']' if i == len(summary.calibration) - 1 else ')'}"),
            Num(str(p.n)),
            Num(_n(p.mean_expected)),
            Num(_n(p.mean_predicted)),
        )
        for i, p in enumerate(summary.calibration)
    )
    table = Table(("expected in", "cases", "mean expected", "mean predicted"), rows)
    data = tuple(
        (f"{p.low:g}-{p.high:g}", p.mean_expected, p.mean_predicted)
        for p in summary.calibration
        if p.n
    )
    chart = Chart(
        "bars",
        "Mean predicted and mean expected per bin of the expected value (equal when calibrated)",
        data,
        (table,),
        series=("mean expected", "mean predicted"),
    )
    return Section("calibration", "Calibration", (chart,))


def slices_section(summary: ts.TaskSummary) -> Section | None:
    if not summary.slices:
        return None
    p = summary.primary_metric
    rows: tuple[tuple[Cell, ...], ...] = tuple(
        (span(x.tag), Num(str(x.n)), Num(_n(x.metrics.get(p)))) for x in summary.slices
    )
    return Section("slices", "Slices by tag", (Table(("tag", "cases", p), rows),))


def cases_section(summary: ts.TaskSummary) -> Section:
    def row(c: ts.TaskCase) -> tuple[Cell, ...]:
        text = " | ".join(c.input.values())
        return (
            span(c.id),
            span(c.expected or ""),
            Num(_n(c.answer)),
            Num(_n(c.error)),
            (Text(c.raw_output or "", 80),),
            (Text(text, 120),),
        )

    blocks: list[Table | Details | Paragraph] = []
    if summary.worst_cases:
        blocks.append(
            Table(
                ("id", "expected", "answer", "error", "raw output", "input"),
                tuple(row(c) for c in summary.worst_cases),
            )
        )
    if summary.invalid_cases:
        rows = tuple(
            (
                span(c.id),
                span(c.expected or ""),
                (Text(c.raw_output or "", 80),),
                span(c.reason or ""),
            )
            for c in summary.invalid_cases
        )
        blocks.append(
            Details(
                f"Invalid answers ({summary.n_invalid})",
                (Table(("id", "expected", "raw output", "why"), rows),),
            )
        )
    if summary.repeats is not None:
        r = summary.repeats
        blocks.append(
            Paragraph(
                span(
                    f"{r.samples} samples per case: mean agreement {r.mean_agreement:.3f}, "
                    f"{r.unanimous_cases} of {r.n_cases} cases unanimous."
                )
            )
        )
    if not blocks:
        blocks.append(Paragraph(span("No case to show.")))
    return Section("cases", "Worst cases", tuple(blocks))


def findings_section(summary: ts.TaskSummary) -> Section:
    items = tuple(span(f"{f.severity}: {f.check}: {f.message}") for f in summary.findings)
    return Section("findings", "Checks before sending", (BulletList(items or (span("none"),)),))


def document(summary: ts.TaskSummary) -> Document:
    sections = [
        verdict_section(summary),
        metrics_section(summary),
        baselines_section(summary),
        calibration_section(summary),
        slices_section(summary),
        cases_section(summary),
        findings_section(summary),
    ]
    meta = (
        ("prompt", span(f"{summary.prompt.identity} ({summary.prompt.content_hash[:12]})")),
        ("model", span(f"{summary.model.model} via {summary.model.profile}")),
        ("evalset", span(f"{summary.evalset.path} ({summary.evalset.sha256[:12]})")),
    )
    return Document(
        title=f"{summary.kind} eval: {summary.suite}",
        meta=meta,
        sections=tuple(x for x in sections if x is not None),
        footer="promptops",
    )
