"""The HTML comparison of two runs: `comparison.html`, one self-contained page.

Built with the classification report's helpers (`reports.html`: escaping, tables, the page
template with its strict Content-Security-Policy) and SVG charts (`reports.svg`), so it
loads nothing from anywhere and escapes every string that came from a prompt, a data set
or a model. Same summary in, same bytes out.
"""

from __future__ import annotations

from promptops.reports import fmt, svg
from promptops.reports.compare_markdown import (
    LISTED_CASES,
    VERDICT_WORDS,
    side_label,
    tests_sentence,
)
from promptops.reports.fmt import metric_name, rule_text
from promptops.reports.html import (
    Cell,
    Id,
    Num,
    Safe,
    Text,
    chart,
    clip,
    join,
    nice_reach,
    page,
    paragraph,
    section,
    side_by_side,
    table,
    tag,
)
from promptops.reports.registry import ReportWriter, register
from promptops.reports.words import format_input
from promptops.runs.comparison import ComparisonSummary, FlippedCase

DIFF_STYLE = (
    "margin: 8px 0; padding: 10px 12px; background: #f9fafb; border: 1px solid #e5e7eb;"
    " border-radius: 6px; overflow-x: auto; white-space: pre;"
    " font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;"
)
LINE_STYLE = {"+": "color: #15803d;", "-": "color: #b91c1c;", "@": "color: #6b7280;"}


def render_comparison_html(s: ComparisonSummary) -> str:
    sections = [
        _header(s),
        _verdict(s),
        _metrics(s),
        _per_class(s),
        _flips(s),
        _prompt(s),
        _setup(s),
        _evalset(s),
        tag("footer", f"Rendered by promptops from comparison.json (schema v{s.schema_version})."),
    ]
    return page(f"Comparison: {s.b.suite}", [part for part in sections if part])


def _header(s: ComparisonSummary) -> Safe:
    meta = [
        ("A (reference)", f"{s.a.prompt.identity} from {side_label(s.a)}"),
        ("B (candidate)", f"{s.b.prompt.identity} from {side_label(s.b)}"),
        (
            "Shared cases",
            f"{fmt.count(s.n_shared)}; primary metric {metric_name(s.primary_metric)}; "
            f"alpha {s.alpha:g}",
        ),
    ]
    nav = [
        ("verdict", "Verdict"),
        ("metrics", "Metrics"),
        ("classes", "Classes"),
        ("flips", "Flipped cases"),
        ("prompt", "Prompt diff"),
        ("setup", "Setup"),
        ("evalset", "Evalset"),
    ]
    return tag(
        "header",
        join(
            [
                tag("h1", f"Comparison: {s.b.suite}"),
                tag("dl", join(join([tag("dt", k), tag("dd", v)]) for k, v in meta), cls="meta"),
                tag("nav", join(tag("a", title, href=f"#{anchor}") for anchor, title in nav)),
            ]
        ),
    )


def _verdict(s: ComparisonSummary) -> Safe:
    v = s.verdict
    parts: list[str | Safe] = [
        tag("div", f"{'FAIL' if v.fails else 'PASS'}: {VERDICT_WORDS[v.status]}", cls="status"),
        paragraph(v.explanation),
    ]
    if s.evalset.changed:
        parts.append(paragraph(tag("strong", "Warning: the evalset changed. "), s.evalset.message))
    banner = tag("div", join(parts), cls=f"banner {'fail' if v.fails else 'pass'}", id="verdict")
    if not s.b.thresholds:
        return banner
    rows = [
        [
            metric_name(t.metric),
            rule_text(t.op, t.value),
            Num(fmt.num(t.actual)),
            tag("span", "pass", cls="ok") if t.passed else tag("span", "FAIL", cls="bad"),
        ]
        for t in s.b.thresholds
    ]
    return join(
        [
            banner,
            section(
                "thresholds", "B's own thresholds", table(["Metric", "Rule", "B", "Result"], rows)
            ),
        ]
    )


def _metrics(s: ComparisonSummary) -> Safe:
    rows = [
        [
            metric_name(d.metric) + (" (primary)" if d.metric == s.primary_metric else ""),
            Num(fmt.num(d.a)),
            Num(fmt.num(d.b)),
            Num(fmt.signed(d.diff)),
            Num(f"{fmt.level(d.level)} {fmt.interval(d.low, d.high, sign=True)}"),
        ]
        for d in s.metrics
    ]
    reach = nice_reach([x for d in s.metrics for x in (d.low, d.high, d.diff)])
    whiskers = svg.ci_whiskers(
        [(metric_name(d.metric), d.diff, d.low, d.high) for d in s.metrics],
        title="B minus A on shared cases, 95% CI",
        domain=(-reach, reach),
        reference=0.0,
        signed=True,
    )
    return section(
        "metrics",
        "Metrics on shared cases",
        side_by_side(
            table(["Metric", "A", "B", "B minus A", "CI of the difference"], rows), chart(whiskers)
        ),
        paragraph(tests_sentence(s), cls="note"),
    )


def _per_class(s: ComparisonSummary) -> Safe:
    rows: list[list[Cell]] = []
    for d in s.per_class:
        cells: list[Cell] = [d.label, Num(fmt.count(d.support))]
        for name in ("precision", "recall", "f1"):
            a, b = getattr(d.a, name), getattr(d.b, name)
            cells += [Num(fmt.num(a)), Num(fmt.num(b)), Num(fmt.signed(b - a))]
        rows.append(cells)
    headers = ["Label", "Support"]
    for name in ("P", "R", "F1"):
        headers += [f"{name} A", f"{name} B", f"{name} change"]
    bars = svg.grouped_bars(
        [d.label for d in s.per_class],
        [("F1 of A", [d.a.f1 for d in s.per_class]), ("F1 of B", [d.b.f1 for d in s.per_class])],
        title="Per-class F1, A and B",
    )
    return section("classes", "Per-class changes", table(headers, rows), chart(bars))


def _case_table(cases: list[FlippedCase]) -> Safe:
    rows = [
        [
            Id(case.id),
            case.expected,
            case.predicted_a or fmt.MISSING,
            case.predicted_b or fmt.MISSING,
            Text(clip(format_input(case.input))) if case.input else fmt.MISSING,
            Text(clip(case.output_a)) if case.output_a is not None else fmt.MISSING,
            Text(clip(case.output_b)) if case.output_b is not None else fmt.MISSING,
        ]
        for case in cases[:LISTED_CASES]
    ]
    headers = ["Case", "Expected", "A predicted", "B predicted", "Input", "A output", "B output"]
    more = (
        paragraph(f"… and {len(cases) - LISTED_CASES} more (all in comparison.json).", cls="note")
        if len(cases) > LISTED_CASES
        else Safe("")
    )
    return join([table(headers, rows), more])


def _flips(s: ComparisonSummary) -> Safe:
    f = s.flips
    parts: list[str | Safe] = [
        paragraph(
            f"{fmt.count(len(f.broken))} broken (right in A, wrong in B), "
            f"{fmt.count(len(f.fixed))} fixed (wrong in A, right in B), "
            f"{fmt.count(f.changed_still_wrong)} wrong in both with a different answer."
        )
    ]
    if f.broken:
        parts += [tag("h3", f"Broken ({fmt.count(len(f.broken))})"), _case_table(f.broken)]
    if f.fixed:
        parts += [tag("h3", f"Fixed ({fmt.count(len(f.fixed))})"), _case_table(f.fixed)]
    return section("flips", "Flipped cases", *parts)


def _diff_block(diff: str) -> Safe:
    lines = []
    for line in diff.splitlines():
        style = LINE_STYLE.get(line[:1], "") if not line.startswith(("+++", "---")) else ""
        lines.append(tag("span", line, style=style) if style else tag("span", line))
    return tag("pre", Safe("\n".join(lines)), style=DIFF_STYLE)


def _prompt(s: ComparisonSummary) -> Safe:
    p = s.prompt
    if not p.changed:
        body: Safe = paragraph(f"Same prompt content (hash {s.b.prompt.content_hash[:12]}).")
    elif not p.diff:
        body = paragraph(p.note or "The prompts differ, but no diff is available.")
    else:
        body = _diff_block(p.diff)
    return section("prompt", "Prompt diff", body)


def _setup(s: ComparisonSummary) -> Safe:
    rows = [
        [r.name, Text(r.a), Text(r.b), tag("span", "changed", cls="bad") if r.changed else ""]
        for r in s.setup
    ]
    return section(
        "setup",
        "Setup",
        table(["Setting", "A", "B", "Changed"], rows, flags=[r.changed for r in s.setup]),
    )


def _evalset(s: ComparisonSummary) -> Safe:
    e = s.evalset

    def ids(values: list[str]) -> Safe:
        return tag("span", ", ".join(values) or "none")

    items = [
        ("Only in A", e.only_in_a),
        ("Only in B", e.only_in_b),
        ("Relabelled", e.relabelled),
    ]
    return section(
        "evalset",
        "Evalset",
        paragraph(*([tag("strong", "Changed. ")] if e.changed else []), e.message),
        tag(
            "ul",
            join(tag("li", join([f"{name} ({fmt.count(len(v))}): ", ids(v)])) for name, v in items),
        ),
    )


register(
    ReportWriter[ComparisonSummary](
        name="comparison-html",
        kind="comparison",
        filename="comparison.html",
        render=render_comparison_html,
    )
)
