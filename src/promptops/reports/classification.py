"""The report of a classification run: its sections, built from the summary alone.

Markdown shows everything but the run's volatile details, so two runs with the same answers
give the same report.md; HTML adds those details and the charts.
"""

from __future__ import annotations

from collections.abc import Sequence

from promptops.reports import fmt
from promptops.reports.common import (
    columns,
    cut,
    eval_meta,
    findings_section,
    footer,
    run_details,
    threshold_banner,
    threshold_table,
    usage_list,
)
from promptops.reports.document import (
    Block,
    Cell,
    Chart,
    Document,
    Heading,
    Num,
    Section,
    Span,
    Strong,
    Table,
    bullets,
    para,
    span,
)
from promptops.reports.fmt import metric_name
from promptops.reports.words import (
    baseline_sentence,
    bootstrap_note,
    calibration_sentence,
    case_output,
    decision_cells,
    error_share,
    format_input,
    headline_value,
    ordered_metrics,
    resent_note,
    sensitivity_sentence,
)
from promptops.runs.summary import CaseView, ClassificationSummary

BASELINE_HEADERS = columns(
    "Baseline | Status | Accuracy | Macro-F1 | Prompt minus baseline | Deciding test"
    " | p (decides) | MDE (80% power) | Outcome | Bootstrap 95% CI | Bootstrap p"
    " | McNemar p (exact / mid-p) | Description"
)


def classification_document(s: ClassificationSummary) -> Document:
    sections = [
        _verdict(s),
        _headline(s),
        _baselines(s),
        _per_class(s),
        _confusion(s),
        _calibration(s),
        _slices(s),
        _worst_cases(s),
        findings_section("Pre-flight findings", s.findings),
        _repeats(s),
        _errors(s),
        Section("usage", "Usage", (usage_list(s.usage),)),
        _run(s),
    ]
    return Document(
        title=f"Eval report: {s.suite}",
        meta=_meta(s),
        sections=tuple(x for x in sections if x is not None),
        footer=footer("summary.json", s.schema_version),
    )


def _meta(s: ClassificationSummary) -> tuple[tuple[str, Span], ...]:
    calibration = "" if s.model.calibration == "none" else f", calibration {s.model.calibration}"
    return eval_meta(
        s,
        lambda splits: f"{fmt.count(s.n_cases)} cases" + (f" ({splits})" if splits else ""),
        calibration,
    )


def _verdict(s: ClassificationSummary) -> Section:
    blocks: list[Block] = [threshold_banner(s.passed, s.thresholds)]
    if s.thresholds:
        blocks.append(threshold_table(s.thresholds))
        notes = [span(f"{metric_name(t.metric)}: {t.note}") for t in s.thresholds if t.note]
        if notes:
            blocks.append(bullets(*notes))
    blocks.append(para(baseline_sentence(s)))
    if s.verdict.best_baseline is None and s.verdict.explanation:
        blocks.append(para(s.verdict.explanation))
    return Section("verdict", "Verdict", tuple(blocks))


def _headline(s: ClassificationSummary) -> Section:
    rows: list[tuple[Cell, ...]] = []
    whiskers = []
    for key in ordered_metrics(s):
        iv = s.intervals.get(key)
        ci = f"{fmt.level(iv.level)} {fmt.interval(iv.low, iv.high)}" if iv else fmt.MISSING
        rows.append((span(metric_name(key)), Num(fmt.num(headline_value(s, key))), Num(ci)))
        if iv is not None:
            whiskers.append((metric_name(key), iv.estimate, iv.low, iv.high))
    blocks: list[Block] = [Table(("Metric", "Estimate", "CI"), tuple(rows))]
    if whiskers:
        blocks.append(Chart("whiskers", "Headline metrics with CI", tuple(whiskers)))
    note = bootstrap_note(s)
    if note:
        blocks.append(para(note, tone="note"))
    power = sensitivity_sentence(s)
    if power:
        blocks.append(para(power, tone="note"))
    blocks.append(
        para(
            f"Cases: {fmt.count(s.n_cases)}; errors: {fmt.count(s.n_errors)}; "
            f"invalid outputs: {fmt.count(s.n_invalid)} ({fmt.pct(s.metrics.invalid_rate)})."
        )
    )
    return Section("metrics", "Headline metrics", tuple(blocks))


def _baselines(s: ClassificationSummary) -> Section | None:
    if not s.baselines:
        return None
    rows: list[tuple[Cell, ...]] = []
    for b in s.baselines:
        status = "ok" if b.status == "ok" else f"not fit: {b.reason or 'no reason given'}"
        m = b.metrics
        rows.append(
            (
                span(b.name + (" (best)" if b.name == s.verdict.best_baseline else "")),
                span(status),
                Num(fmt.num(m.accuracy if m else None)),
                Num(fmt.num(m.macro_f1 if m else None)),
                *(span(c) for c in decision_cells(b)),
                cut(b.description),
            )
        )
    flagged = tuple(b.name == s.verdict.best_baseline for b in s.baselines)
    blocks: list[Block] = [Table(BASELINE_HEADERS, tuple(rows), flagged)]
    diffs = [(b.name, pb) for b in s.baselines if (pb := b.paired_bootstrap) is not None]
    if diffs:
        title = f"Prompt minus baseline: {metric_name(diffs[0][1].metric)} difference, 95% CI"
        data = tuple((name, pb.diff, pb.low, pb.high) for name, pb in diffs)
        blocks.append(Chart("whiskers", title, data, reference=0.0))
    return Section("baselines", "Baselines", tuple(blocks))


def _per_class(s: ClassificationSummary) -> Section:
    rows: list[tuple[Cell, ...]] = []
    bars = []
    for label in s.labels:
        c = s.metrics.per_class.get(label)
        if c is None:
            rows.append((span(label), *(Num(fmt.MISSING) for _ in range(3)), Num("0")))
            bars.append((label, 0.0, 0.0, 0.0))
        else:
            values = (c.precision, c.recall, c.f1)
            rows.append(
                (span(label), *(Num(fmt.num(v)) for v in values), Num(fmt.count(c.support)))
            )
            bars.append((label, *values))
    table = Table(("Label", "Precision", "Recall", "F1", "Support"), tuple(rows))
    chart = Chart(
        "bars", "Per-class precision, recall, F1", tuple(bars), series=("Precision", "Recall", "F1")
    )
    return Section("classes", "Per-class metrics", (table, chart))


def _confusion(s: ClassificationSummary) -> Section:
    cm = s.metrics.confusion
    rows: list[tuple[Cell, ...]] = [
        (
            span(label),
            *(
                span(Strong(str(n))) if col == label else Num(str(n))
                for col, n in zip(cm.columns, counts, strict=True)
            ),
        )
        for label, counts in zip(cm.labels, cm.matrix, strict=True)
    ]
    table = Table(("Expected ↓ / predicted →", *cm.columns), tuple(rows))
    note = para("Rows are expected labels, columns are predictions (bold: correct).")
    data: tuple[tuple[float | str | None, ...], ...] = tuple(
        (label, *counts) for label, counts in zip(cm.labels, cm.matrix, strict=True)
    )
    heat = Chart(
        "heatmap", "Confusion matrix", data, fallback=(note, table), series=tuple(cm.columns)
    )
    return Section("confusion", "Confusion matrix", (heat,))


def _calibration(s: ClassificationSummary) -> Section | None:
    m = s.metrics
    if m.pr_auc_macro is None and m.ece is None and not m.reliability:
        return None
    facts = [
        span(f"PR-AUC (macro): {fmt.num(m.pr_auc_macro)}"),
        span(f"Expected calibration error: {fmt.num(m.ece)}"),
    ]
    effect = calibration_sentence(s)
    if effect is not None:
        facts.append(span(effect))
    blocks: list[Block] = [bullets(*facts)]
    if m.reliability:
        rows: list[tuple[Cell, ...]] = [
            (
                span(f"{fmt.num(b.lower, 2)}–{fmt.num(b.upper, 2)}"),
                Num(fmt.count(b.count)),
                Num(fmt.num(b.confidence)),
                Num(fmt.num(b.accuracy)),
                Num(
                    fmt.signed(b.accuracy - b.confidence)
                    if b.accuracy is not None and b.confidence is not None
                    else fmt.MISSING
                ),
            )
            for b in m.reliability
        ]
        data = tuple((b.lower, b.upper, b.count, b.confidence, b.accuracy) for b in m.reliability)
        blocks.append(Chart("reliability", "Reliability diagram", data))
        headers = (
            "Confidence bin",
            "Cases",
            "Mean confidence",
            "Accuracy",
            "Accuracy minus confidence",
        )
        blocks.append(Table(headers, tuple(rows)))
    return Section("calibration", "Calibration", tuple(blocks))


def _slices(s: ClassificationSummary) -> Section | None:
    if not s.slices:
        return None
    gap = s.largest_gap
    flagged = {gap.tag_a, gap.tag_b} if gap else set()
    ordered = sorted(s.slices, key=lambda sl: sl.tag)
    rows: list[tuple[Cell, ...]] = [
        (
            span(sl.tag),
            Num(fmt.count(sl.n)),
            Num(fmt.num(sl.accuracy)),
            Num(fmt.num(sl.macro_f1)),
            span(Strong("largest gap")) if sl.tag in flagged else span(),
        )
        for sl in ordered
    ]
    flags = tuple(sl.tag in flagged for sl in ordered)
    blocks: list[Block] = [
        Table(("Tag", "Cases", "Accuracy", "Macro-F1", "Flag"), tuple(rows), flags)
    ]
    if gap:
        blocks.append(
            para(
                f"Largest gap: {metric_name(gap.metric)} differs by {fmt.num(gap.gap)} "
                f"between {gap.tag_a} and {gap.tag_b}."
            )
        )
    return Section("slices", "Slices", tuple(blocks))


def case_table(cases: Sequence[CaseView], *, expected: bool = True) -> Table:
    headers = (
        "Case",
        *(["Expected"] if expected else []),
        "Predicted",
        "Confidence",
        "Input",
        "Output",
    )
    rows: list[tuple[Cell, ...]] = [
        (
            span(c.id),
            *([span(c.expected or fmt.MISSING)] if expected else []),
            span(c.predicted or fmt.MISSING),
            Num(fmt.num(c.confidence)),
            cut(format_input(c.input)),
            cut(case_output(c)),
        )
        for c in cases
    ]
    return Table(headers, tuple(rows))


def _worst_cases(s: ClassificationSummary) -> Section | None:
    w = s.worst_cases
    if not w.confident_wrong and not w.lowest_recall:
        return None
    blocks: list[Block] = []
    if w.confident_wrong:
        blocks += [Heading("Confident wrong answers", 3), case_table(w.confident_wrong)]
    if w.lowest_recall:
        blocks.append(Heading("Lowest-recall classes", 3))
        for cr in w.lowest_recall:
            blocks.append(
                para(
                    Strong(cr.label),
                    f": recall {fmt.num(cr.recall)} (support {fmt.count(cr.support)})",
                )
            )
            if cr.examples:
                blocks.append(case_table(cr.examples, expected=False))
    return Section("worst", "Worst cases", tuple(blocks))


def _repeats(s: ClassificationSummary) -> Section | None:
    r = s.repeats
    if r is None:
        return None
    flaky = ", ".join(sorted(r.flaky_cases)) or "none"
    facts = bullets(
        f"Mean agreement: {fmt.num(r.mean_agreement)}",
        f"pass^{r.k} (right on every repeat): {fmt.num(r.pass_hat_k)}",
        f"Flaky cases ({fmt.count(len(r.flaky_cases))}): {flaky}",
    )
    return Section("repeats", "Repeats", (para(f"Each case ran {r.k} times."), facts))


def _errors(s: ClassificationSummary) -> Section:
    facts = bullets(
        f"Errors: {fmt.count(s.n_errors)} of {fmt.count(s.n_cases)} cases "
        f"({error_share(s)}){resent_note(s)}",
        f"Invalid outputs: {fmt.count(s.n_invalid)} ({fmt.pct(s.metrics.invalid_rate)})",
    )
    blocks: list[Block] = [facts]
    if s.worst_cases.errors:
        rows: list[tuple[Cell, ...]] = [
            (
                span(c.id),
                cut(c.error or fmt.MISSING),
                cut(case_output(c)),
                cut(format_input(c.input)),
            )
            for c in s.worst_cases.errors
        ]
        blocks.append(Table(("Case", "Error", "Output", "Input"), tuple(rows)))
    return Section("errors", "Errors and invalid outputs", tuple(blocks))


def _run(s: ClassificationSummary) -> Section:
    v = s.volatile
    latency = {"p50": v.latency_p50_s, "p95": v.latency_p95_s, "p99": v.latency_p99_s}
    return run_details(v, s.usage, latency)
