"""The Markdown report of a classification run: `report.md`, made to be diffed.

Everything here is a pure function of the summary, in a fixed order with fixed precision,
and nothing from `summary.volatile` is printed: two runs with the same answers give the
same bytes, so `git diff report.md` shows only real changes. Every string that came from
a prompt, a data set or a model goes through `escape`, so no output can break a table or
inject markup.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

from promptops.reports import fmt
from promptops.reports.fmt import metric_name, rule_text
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
    threshold_status,
)
from promptops.runs.summary import BaselineResult, CaseView, ClassificationSummary, Finding

LINE_BREAK = " ↵ "
CELL_LIMIT = 200
_SPECIAL = frozenset("\\`*_[]<>|~&$")


def escape(text: str, limit: int | None = None) -> str:
    """Make `text` print literally in Markdown, on one line, inside or outside a table.

    Line breaks of every kind become " ↵ ", control and bidi-override characters are
    dropped, and each Markdown-significant character gets a backslash (CommonMark lets any
    ASCII punctuation be escaped), so `|`, backticks, `<script>` or `[x](y)` stay text.
    Underscores inside words are left bare: they cannot start emphasis, and labels such
    as `card_arrival` stay readable.
    """
    lines = [_drop_controls(line).strip() for line in text.splitlines()]
    flat = LINE_BREAK.join(line for line in lines if line)
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return "".join(
        "\\" + char if char in _SPECIAL and not _inert(flat, i) else char
        for i, char in enumerate(flat)
    )


def _inert(text: str, i: int) -> bool:
    """An underscore between two letters or digits (`card_arrival`) can never be emphasis."""
    return (
        text[i] == "_" and 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()
    )


def _drop_controls(line: str) -> str:
    kept = []
    for char in line:
        if char == "\t":
            kept.append(" ")
        elif unicodedata.category(char) not in ("Cc", "Cf") or char == "\u200d":
            kept.append(char)
    return "".join(kept)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A GitHub table; cells must already be escaped or formatted numbers."""
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"table row has {len(row)} cells, header has {len(headers)}")
        out.append("| " + " | ".join(cell if cell else " " for cell in row) + " |")
    return out


def render_markdown(summary: ClassificationSummary) -> str:
    """The whole report; ends with exactly one newline and has no trailing whitespace."""
    sections = [
        _title(summary),
        _verdict(summary),
        _headline(summary),
        _baselines(summary),
        _per_class(summary),
        _confusion(summary),
        _calibration(summary),
        _slices(summary),
        _worst_cases(summary),
        _findings(summary),
        _repeats(summary),
        _errors(summary),
        _usage(summary),
    ]
    return join_sections(sections)


def _title(s: ClassificationSummary) -> list[str]:
    calibration = (
        "" if s.model.calibration == "none" else f", calibration {escape(s.model.calibration)}"
    )
    splits = ", ".join(
        f"{escape(name)} {fmt.count(n)}" for name, n in sorted(s.evalset.n_by_split.items())
    )
    return [
        f"# Eval report: {escape(s.suite)}",
        "",
        f"- Prompt: {escape(s.prompt.identity)} (content hash {escape(s.prompt.content_hash)})",
        f"- Model: {escape(s.model.model)} via profile {escape(s.model.profile)}, "
        f"temperature {fmt.num(s.model.temperature, 2)}{calibration}",
        f"- Evalset: {escape(s.evalset.path)} (sha256 {escape(s.evalset.sha256[:16])}), "
        f"{fmt.count(s.n_cases)} cases" + (f" ({splits})" if splits else ""),
    ]


def _verdict(s: ClassificationSummary) -> list[str]:
    lines = ["## Verdict", "", f"**{'PASS' if s.passed else 'FAIL'}**: {threshold_status(s)}"]
    if s.thresholds:
        rows = [
            [
                escape(metric_name(t.metric)),
                rule_text(t.op, t.value),
                fmt.num(t.actual),
                "pass" if t.passed else "**FAIL**",
            ]
            for t in s.thresholds
        ]
        lines += ["", *table(["Metric", "Rule", "Actual", "Result"], rows)]
        notes = [t for t in s.thresholds if t.note]
        if notes:
            lines += [""] + [
                f"- {escape(metric_name(t.metric))}: {escape(t.note or '')}" for t in notes
            ]
    lines += ["", escape(baseline_sentence(s))]
    if s.verdict.best_baseline is None and s.verdict.explanation:
        lines += ["", escape(s.verdict.explanation)]
    return lines


def _headline(s: ClassificationSummary) -> list[str]:
    rows = []
    for key in ordered_metrics(s):
        iv = s.intervals.get(key)
        ci = f"{fmt.level(iv.level)} {fmt.interval(iv.low, iv.high)}" if iv else fmt.MISSING
        rows.append([escape(metric_name(key)), fmt.num(headline_value(s, key)), ci])
    lines = ["## Headline metrics", "", *table(["Metric", "Estimate", "CI"], rows)]
    note = bootstrap_note(s)
    if note:
        lines += ["", note]
    power = sensitivity_sentence(s)
    if power:
        lines += ["", escape(power)]
    lines += [
        "",
        f"Cases: {fmt.count(s.n_cases)}; errors: {fmt.count(s.n_errors)}; "
        f"invalid outputs: {fmt.count(s.n_invalid)} ({fmt.pct(s.metrics.invalid_rate)}).",
    ]
    return lines


def _baselines(s: ClassificationSummary) -> list[str]:
    if not s.baselines:
        return []
    rows = [_baseline_row(s, b) for b in s.baselines]
    headers = [
        "Baseline",
        "Status",
        "Accuracy",
        "Macro-F1",
        "Prompt minus baseline",
        "Deciding test",
        "p (decides)",
        "MDE (80% power)",
        "Outcome",
        "Bootstrap 95% CI",
        "Bootstrap p",
        "McNemar p (exact / mid-p)",
        "Description",
    ]
    return ["## Baselines", "", *table(headers, rows)]


def _baseline_row(s: ClassificationSummary, b: BaselineResult) -> list[str]:
    status = "ok" if b.status == "ok" else f"not fit: {b.reason or 'no reason given'}"
    m = b.metrics
    return [
        escape(b.name) + (" (best)" if b.name == s.verdict.best_baseline else ""),
        escape(status),
        fmt.num(m.accuracy if m else None),
        fmt.num(m.macro_f1 if m else None),
        *(escape(cell) for cell in decision_cells(b)),
        escape(b.description, CELL_LIMIT),
    ]


def _per_class(s: ClassificationSummary) -> list[str]:
    rows = []
    for label in s.labels:
        c = s.metrics.per_class.get(label)
        if c is None:
            rows.append([escape(label), fmt.MISSING, fmt.MISSING, fmt.MISSING, "0"])
        else:
            rows.append(
                [
                    escape(label),
                    fmt.num(c.precision),
                    fmt.num(c.recall),
                    fmt.num(c.f1),
                    fmt.count(c.support),
                ]
            )
    return [
        "## Per-class metrics",
        "",
        *table(["Label", "Precision", "Recall", "F1", "Support"], rows),
    ]


def _confusion(s: ClassificationSummary) -> list[str]:
    cm = s.metrics.confusion
    headers = ["Expected ↓ / predicted →", *(escape(c) for c in cm.columns)]
    rows = []
    for label, counts in zip(cm.labels, cm.matrix, strict=True):
        cells = [
            f"**{n}**" if col == label else str(n)
            for col, n in zip(cm.columns, counts, strict=True)
        ]
        rows.append([escape(label), *cells])
    return [
        "## Confusion matrix",
        "",
        "Rows are expected labels, columns are predictions (bold: correct).",
        "",
        *table(headers, rows),
    ]


def _calibration(s: ClassificationSummary) -> list[str]:
    m = s.metrics
    if m.pr_auc_macro is None and m.ece is None and not m.reliability:
        return []
    lines = [
        "## Calibration",
        "",
        f"- PR-AUC (macro): {fmt.num(m.pr_auc_macro)}",
        f"- Expected calibration error: {fmt.num(m.ece)}",
    ]
    effect = calibration_sentence(s)
    if effect is not None:
        lines += [f"- {escape(effect)}"]
    if m.reliability:
        rows = [
            [
                f"{fmt.num(b.lower, 2)}–{fmt.num(b.upper, 2)}",
                fmt.count(b.count),
                fmt.num(b.confidence),
                fmt.num(b.accuracy),
                fmt.signed(b.accuracy - b.confidence)
                if b.accuracy is not None and b.confidence is not None
                else fmt.MISSING,
            ]
            for b in m.reliability
        ]
        headers = [
            "Confidence bin",
            "Cases",
            "Mean confidence",
            "Accuracy",
            "Accuracy minus confidence",
        ]
        lines += ["", *table(headers, rows)]
    return lines


def _slices(s: ClassificationSummary) -> list[str]:
    if not s.slices:
        return []
    gap = s.largest_gap
    flagged = {gap.tag_a, gap.tag_b} if gap else set()
    rows = [
        [
            escape(sl.tag),
            fmt.count(sl.n),
            fmt.num(sl.accuracy),
            fmt.num(sl.macro_f1),
            "**largest gap**" if sl.tag in flagged else "",
        ]
        for sl in sorted(s.slices, key=lambda sl: sl.tag)
    ]
    lines = ["## Slices", "", *table(["Tag", "Cases", "Accuracy", "Macro-F1", "Flag"], rows)]
    if gap:
        lines += [
            "",
            f"Largest gap: {escape(metric_name(gap.metric))} differs by "
            f"{fmt.num(gap.gap)} between {escape(gap.tag_a)} and {escape(gap.tag_b)}.",
        ]
    return lines


def case_rows(cases: Sequence[CaseView], *, expected: bool = True) -> list[str]:
    headers = [
        "Case",
        *(["Expected"] if expected else []),
        "Predicted",
        "Confidence",
        "Input",
        "Output",
    ]
    rows = [
        [
            escape(c.id),
            *([escape(c.expected or fmt.MISSING)] if expected else []),
            escape(c.predicted or fmt.MISSING),
            fmt.num(c.confidence),
            escape(format_input(c.input), CELL_LIMIT),
            escape(case_output(c), CELL_LIMIT),
        ]
        for c in cases
    ]
    return table(headers, rows)


def _worst_cases(s: ClassificationSummary) -> list[str]:
    w = s.worst_cases
    if not w.confident_wrong and not w.lowest_recall:
        return []
    lines = ["## Worst cases"]
    if w.confident_wrong:
        lines += ["", "### Confident wrong answers", "", *case_rows(w.confident_wrong)]
    if w.lowest_recall:
        lines += ["", "### Lowest-recall classes"]
        for cr in w.lowest_recall:
            lines += [
                "",
                f"**{escape(cr.label)}**: recall {fmt.num(cr.recall)} "
                f"(support {fmt.count(cr.support)})",
            ]
            if cr.examples:
                lines += ["", *case_rows(cr.examples, expected=False)]
    return lines


def _findings(s: ClassificationSummary) -> list[str]:
    return findings_section("Pre-flight findings", s.findings)


def _repeats(s: ClassificationSummary) -> list[str]:
    r = s.repeats
    if r is None:
        return []
    flaky = ", ".join(escape(case) for case in sorted(r.flaky_cases)) or "none"
    return [
        "## Repeats",
        "",
        f"Each case ran {r.k} times.",
        "",
        f"- Mean agreement: {fmt.num(r.mean_agreement)}",
        f"- pass^{r.k} (right on every repeat): {fmt.num(r.pass_hat_k)}",
        f"- Flaky cases ({fmt.count(len(r.flaky_cases))}): {flaky}",
    ]


def _errors(s: ClassificationSummary) -> list[str]:
    errors = s.worst_cases.errors
    lines = [
        "## Errors and invalid outputs",
        "",
        f"- Errors: {fmt.count(s.n_errors)} of {fmt.count(s.n_cases)} cases ({error_share(s)})"
        + resent_note(s),
        f"- Invalid outputs: {fmt.count(s.n_invalid)} ({fmt.pct(s.metrics.invalid_rate)})",
    ]
    if errors:
        rows = [
            [
                escape(c.id),
                escape(c.error or fmt.MISSING, CELL_LIMIT),
                escape(case_output(c), CELL_LIMIT),
                escape(format_input(c.input), CELL_LIMIT),
            ]
            for c in errors
        ]
        lines += ["", *table(["Case", "Error", "Output", "Input"], rows)]
    return lines


def _usage(s: ClassificationSummary) -> list[str]:
    u = s.usage
    return [
        "## Usage",
        "",
        f"- Prompt tokens: {fmt.count(u.prompt_tokens)}",
        f"- Completion tokens: {fmt.count(u.completion_tokens)}",
        f"- Cost: {fmt.money(u.cost_usd)}",
    ]


def join_sections(sections: Iterable[list[str]]) -> str:
    """Non-empty sections separated by one blank line; no trailing whitespace, one final
    newline, so the same summary always gives the same bytes."""
    lines: list[str] = []
    for section in sections:
        if section:
            if lines:
                lines.append("")
            lines.extend(section)
    return "\n".join(line.rstrip() for line in lines) + "\n"


def findings_section(title: str, findings: Sequence[Finding]) -> list[str]:
    lines = [f"## {title}", ""]
    if not findings:
        return [*lines, "No findings."]
    rows = [
        [
            escape(f.check),
            f.severity,
            escape(f.message, CELL_LIMIT),
            "; ".join(escape(d, CELL_LIMIT) for d in f.details),
        ]
        for f in findings
    ]
    return [*lines, *table(["Check", "Severity", "Message", "Details"], rows)]
