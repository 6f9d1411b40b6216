"""The HTML report of a classification run: `report.html`, one self-contained page.

No scripts, stylesheets, fonts or images are loaded: CSS is inline, charts are inline SVG,
and a Content-Security-Policy forbids everything else, so the file opens offline and a
hostile model output cannot run code even if it slipped past escaping. Every string from
a prompt, data set or model passes through `esc` (html.escape); only fragments this module
builds itself are marked `Safe`. Unlike report.md it shows the run's volatile details.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence

from promptops.reports import fmt, svg
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
from promptops.runs.summary import BaselineResult, CaseView, ClassificationSummary

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: #1f2937;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 48px; }
h1 { font-size: 26px; margin: 0 0 6px; }
h2 { font-size: 19px; margin: 0 0 12px; }
h3 { font-size: 16px; margin: 18px 0 8px; }
section { background: #fff; border: 1px solid #e5e7eb; border-radius: 10px;
  padding: 18px 22px; margin: 16px 0; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 10px 0 0;
  color: #374151; }
.meta dt { color: #6b7280; }
.meta dd { margin: 0; overflow-wrap: anywhere; }
nav { margin: 14px 0 0; font-size: 14px; }
nav a { color: #2563eb; text-decoration: none; margin-right: 14px; }
.banner { border-radius: 10px; padding: 16px 22px; margin: 18px 0; border: 1px solid; }
.banner.pass { background: #ecfdf3; border-color: #86efac; color: #14532d; }
.banner.fail { background: #fef2f2; border-color: #fca5a5; color: #7f1d1d; }
.banner .status { font-size: 22px; font-weight: 700; letter-spacing: 0.02em; }
.banner p { margin: 6px 0 0; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 14px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e5e7eb;
  vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; }
tbody tr:nth-child(even) { background: #f9fafb; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.id { white-space: nowrap; }
td.text { white-space: pre-wrap; overflow-wrap: anywhere; min-width: 16ch; max-width: 420px;
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
tr.flag td { background: #fff7ed; }
.ok { color: #15803d; font-weight: 600; }
.bad { color: #b91c1c; font-weight: 600; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px;
  font-weight: 600; }
.badge.info { background: #e0f2fe; color: #075985; }
.badge.warning { background: #fef3c7; color: #92400e; }
.badge.error { background: #fee2e2; color: #991b1b; }
.chart { overflow-x: auto; margin: 10px 0; }
.scroll { overflow-x: auto; max-width: 100%; }
.chart svg { max-width: 100%; height: auto; }
.row { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.row > * { flex: 1 1 auto; max-width: 100%; }
.note { color: #6b7280; font-size: 13px; }
footer { color: #9ca3af; font-size: 12px; text-align: center; margin-top: 24px; }
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'"
TEXT_LIMIT = 600


class Safe(str):
    """HTML this module built itself; anything else is escaped before it is placed."""


def esc(value: str) -> Safe:
    return Safe(html.escape(svg.xml_safe(value), quote=True))


def clip(value: str, limit: int = TEXT_LIMIT) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def join(parts: Iterable[str | Safe]) -> Safe:
    return Safe("".join(p if isinstance(p, Safe) else esc(p) for p in parts))


def tag(name: str, content: str | Safe = "", *, cls: str = "", **attrs: str) -> Safe:
    """`<name class=...>content</name>`, escaping content and attribute values."""
    pairs = ([("class", cls)] if cls else []) + sorted(attrs.items())
    attr_text = "".join(f' {key}="{esc(value)}"' for key, value in pairs)
    return Safe(f"<{name}{attr_text}>{join([content])}</{name}>")


class Num(str):
    """A formatted number: right-aligned in tables."""


class Text(str):
    """A free text (input, output): wrapped and set in monospace in tables."""


class Id(str):
    """A case id: never wrapped."""


Cell = str | Safe


def table(
    headers: Sequence[str], rows: Iterable[Sequence[Cell]], *, flags: Sequence[bool] = ()
) -> Safe:
    """A table; `Num` cells align right, `Text` cells wrap, rows with a flag are highlighted."""
    head = join(tag("th", h) for h in headers)
    body = []
    for i, row in enumerate(rows):
        cells = join(tag("td", c, cls=_cell_class(c)) for c in row)
        flagged = i < len(flags) and flags[i]
        body.append(tag("tr", cells, cls="flag" if flagged else ""))
    # A wide table (the baselines' many test columns) scrolls inside its card, never past it.
    grid = tag("table", join([tag("thead", tag("tr", head)), tag("tbody", join(body))]))
    return tag("div", grid, cls="scroll")


def _cell_class(cell: Cell) -> str:
    classes = {Num: "num", Text: "text", Id: "id"}
    return next((name for kind, name in classes.items() if isinstance(cell, kind)), "")


def section(anchor: str, title: str, *body: str | Safe) -> Safe:
    return tag("section", join([tag("h2", title), *body]), id=anchor)


def paragraph(*parts: str | Safe, cls: str = "") -> Safe:
    return tag("p", join(parts), cls=cls)


def side_by_side(left: Safe, right: Safe) -> Safe:
    """Two blocks in a row that wraps to a column on narrow screens."""
    return tag("div", join([tag("div", left), tag("div", right)]), cls="row")


def chart(svg_markup: str) -> Safe:
    """Wrap an SVG string from `svg`, whose functions escape every label they place."""
    return Safe(f'<div class="chart">{svg_markup}</div>')


def page(title: str, body: Sequence[Safe]) -> str:
    """The one page template: inline CSS, a strict CSP, no external resources."""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            f"<title>{esc(title)}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            "<main>",
            *body,
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )


def page_title(s: ClassificationSummary) -> str:
    return f"Eval report: {s.suite} ({s.prompt.identity})"


def render_html(summary: ClassificationSummary) -> str:
    """The whole page; the same summary always gives the same bytes."""
    sections = [
        _header(summary),
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
        _run_details(summary),
        tag(
            "footer", f"Rendered by promptops from summary.json (schema v{summary.schema_version})."
        ),
    ]
    return page(page_title(summary), [part for part in sections if part])


NAV = (
    ("verdict", "Verdict"),
    ("metrics", "Metrics"),
    ("baselines", "Baselines"),
    ("classes", "Classes"),
    ("confusion", "Confusion"),
    ("calibration", "Calibration"),
    ("slices", "Slices"),
    ("worst", "Worst cases"),
    ("findings", "Findings"),
    ("repeats", "Repeats"),
    ("errors", "Errors"),
    ("run", "Run details"),
)


def _header(s: ClassificationSummary) -> Safe:
    meta = [
        ("Prompt", f"{s.prompt.identity} (content hash {s.prompt.content_hash})"),
        ("Model", f"{s.model.model} via profile {s.model.profile}"),
        (
            "Settings",
            f"temperature {fmt.num(s.model.temperature, 2)}, calibration {s.model.calibration}",
        ),
        ("Evalset", f"{s.evalset.path} (sha256 {s.evalset.sha256[:16]})"),
        (
            "Cases",
            ", ".join(
                [fmt.count(s.n_cases)]
                + [f"{name} {fmt.count(n)}" for name, n in sorted(s.evalset.n_by_split.items())]
            ),
        ),
    ]
    present = _present_sections(s)
    links = join(tag("a", title, href=f"#{anchor}") for anchor, title in NAV if anchor in present)
    return tag(
        "header",
        join(
            [
                tag("h1", f"Eval report: {s.suite}"),
                tag("dl", join(join([tag("dt", k), tag("dd", v)]) for k, v in meta), cls="meta"),
                tag("nav", links),
            ]
        ),
    )


def _present_sections(s: ClassificationSummary) -> set[str]:
    present = {"verdict", "metrics", "classes", "confusion", "findings", "errors", "run"}
    m, w = s.metrics, s.worst_cases
    optional = {
        "baselines": bool(s.baselines),
        "calibration": m.pr_auc_macro is not None or m.ece is not None or bool(m.reliability),
        "slices": bool(s.slices),
        "worst": bool(w.confident_wrong or w.lowest_recall),
        "repeats": s.repeats is not None,
    }
    return present | {name for name, shown in optional.items() if shown}


def _verdict(s: ClassificationSummary) -> Safe:
    banner = tag(
        "div",
        join(
            [
                tag(
                    "div", f"{'PASS' if s.passed else 'FAIL'}: {threshold_status(s)}", cls="status"
                ),
                paragraph(baseline_sentence(s)),
                *(
                    [paragraph(s.verdict.explanation)]
                    if s.verdict.best_baseline is None and s.verdict.explanation
                    else []
                ),
            ]
        ),
        cls=f"banner {'pass' if s.passed else 'fail'}",
        id="verdict",
    )
    if not s.thresholds:
        return banner
    rows = [
        [
            metric_name(t.metric),
            rule_text(t.op, t.value),
            Num(fmt.num(t.actual)),
            tag("span", "pass", cls="ok") if t.passed else tag("span", "FAIL", cls="bad"),
        ]
        for t in s.thresholds
    ]
    return join(
        [
            banner,
            section(
                "thresholds",
                "Thresholds",
                table(["Metric", "Rule", "Actual", "Result"], rows),
                *(
                    paragraph(f"{metric_name(t.metric)}: {t.note}", cls="note")
                    for t in s.thresholds
                    if t.note
                ),
            ),
        ]
    )


def _headline(s: ClassificationSummary) -> Safe:
    keys = ordered_metrics(s)
    rows = []
    for key in keys:
        iv = s.intervals.get(key)
        ci = f"{fmt.level(iv.level)} {fmt.interval(iv.low, iv.high)}" if iv else fmt.MISSING
        rows.append([metric_name(key), Num(fmt.num(headline_value(s, key))), Num(ci)])
    whiskers = [
        (metric_name(k), iv.estimate, iv.low, iv.high)
        for k in keys
        if (iv := s.intervals.get(k)) is not None
    ]
    note = bootstrap_note(s)
    power = sensitivity_sentence(s)
    return section(
        "metrics",
        "Headline metrics",
        side_by_side(
            table(["Metric", "Estimate", "CI"], rows),
            chart(svg.ci_whiskers(whiskers, title="Headline metrics with CI"))
            if whiskers
            else Safe(""),
        ),
        paragraph(
            f"Cases: {fmt.count(s.n_cases)}; errors: {fmt.count(s.n_errors)}; invalid outputs: "
            f"{fmt.count(s.n_invalid)} ({fmt.pct(s.metrics.invalid_rate)}). {note or ''}",
            cls="note",
        ),
        paragraph(power, cls="note") if power else Safe(""),
    )


def _baselines(s: ClassificationSummary) -> Safe:
    if not s.baselines:
        return Safe("")
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
    ]
    rows = [_baseline_row(s, b) for b in s.baselines]
    parts: list[str | Safe] = [
        table(headers, rows, flags=[b.name == s.verdict.best_baseline for b in s.baselines]),
        tag(
            "ul",
            join(
                tag("li", join([tag("strong", b.name), f": {clip(b.description)}"]))
                for b in s.baselines
            ),
            cls="note",
        ),
    ]
    diffs = [(b, pb) for b in s.baselines if (pb := b.paired_bootstrap) is not None]
    if diffs:
        reach = nice_reach([x for _, pb in diffs for x in (pb.low, pb.high, pb.diff)])
        whiskers = [(b.name, pb.diff, pb.low, pb.high) for b, pb in diffs]
        title = f"Prompt minus baseline: {metric_name(diffs[0][1].metric)} difference, 95% CI"
        parts.append(tag("h3", title))
        parts.append(
            chart(
                svg.ci_whiskers(
                    whiskers, title=title, domain=(-reach, reach), reference=0.0, signed=True
                )
            )
        )
    return section("baselines", "Baselines", *parts)


def nice_reach(values: Sequence[float]) -> float:
    """A symmetric axis half-width that holds every value: a multiple of 0.05 or 0.1."""
    biggest = max((abs(v) for v in values), default=0.0) * 1.1
    step = 0.05 if biggest <= 0.3 else 0.1
    return max(step, math.ceil(biggest / step - 1e-9) * step)


def _baseline_row(s: ClassificationSummary, b: BaselineResult) -> list[Cell]:
    m = b.metrics
    status = "ok" if b.status == "ok" else f"not fit: {b.reason or 'no reason given'}"
    diff, test, p, mde, outcome, ci, boot_p, mcnemar = decision_cells(b)
    return [
        b.name + (" (best)" if b.name == s.verdict.best_baseline else ""),
        status,
        Num(fmt.num(m.accuracy if m else None)),
        Num(fmt.num(m.macro_f1 if m else None)),
        Num(diff),
        test,
        Num(p),
        Num(mde),
        outcome,
        Num(ci),
        Num(boot_p),
        Num(mcnemar),
    ]


def _per_class(s: ClassificationSummary) -> Safe:
    rows: list[list[Cell]] = []
    series: dict[str, list[float]] = {"Precision": [], "Recall": [], "F1": []}
    for label in s.labels:
        c = s.metrics.per_class.get(label)
        values = (c.precision, c.recall, c.f1) if c else (0.0, 0.0, 0.0)
        for name, value in zip(series, values, strict=True):
            series[name].append(value)
        rows.append(
            [
                label,
                *(Num(fmt.num(v) if c else fmt.MISSING) for v in values),
                Num(fmt.count(c.support if c else 0)),
            ]
        )
    bars = svg.grouped_bars(s.labels, list(series.items()), title="Per-class precision, recall, F1")
    return section(
        "classes",
        "Per-class metrics",
        side_by_side(table(["Label", "Precision", "Recall", "F1", "Support"], rows), chart(bars)),
    )


def _confusion(s: ClassificationSummary) -> Safe:
    cm = s.metrics.confusion
    heat = svg.confusion_heatmap(cm.labels, cm.columns, cm.matrix)
    return section(
        "confusion",
        "Confusion matrix",
        paragraph(
            "Rows are expected labels, columns are predictions (the last column counts "
            "invalid outputs). Blue cells are correct, orange cells are mistakes; shade is "
            "the share of the row. Hover a cell for its exact count.",
            cls="note",
        ),
        chart(heat),
    )


def _calibration(s: ClassificationSummary) -> Safe:
    m = s.metrics
    if m.pr_auc_macro is None and m.ece is None and not m.reliability:
        return Safe("")
    effect = calibration_sentence(s)
    facts = paragraph(
        f"PR-AUC (macro): {fmt.num(m.pr_auc_macro)}. Expected calibration error: {fmt.num(m.ece)}."
        + (f" {effect}" if effect else "")
    )
    if not m.reliability:
        return section("calibration", "Calibration", facts)
    rows = [
        [
            f"{fmt.num(b.lower, 2)}–{fmt.num(b.upper, 2)}",
            Num(fmt.count(b.count)),
            Num(fmt.num(b.confidence)),
            Num(fmt.num(b.accuracy)),
            Num(
                fmt.signed(b.accuracy - b.confidence)
                if b.accuracy is not None and b.confidence is not None
                else fmt.MISSING
            ),
        ]
        for b in m.reliability
    ]
    headers = ["Confidence bin", "Cases", "Mean confidence", "Accuracy", "Accuracy minus conf."]
    return section(
        "calibration",
        "Calibration",
        facts,
        side_by_side(chart(svg.reliability_diagram(m.reliability)), table(headers, rows)),
    )


def _slices(s: ClassificationSummary) -> Safe:
    if not s.slices:
        return Safe("")
    gap = s.largest_gap
    flagged = {gap.tag_a, gap.tag_b} if gap else set()
    ordered = sorted(s.slices, key=lambda sl: sl.tag)
    rows = [
        [
            sl.tag,
            Num(fmt.count(sl.n)),
            Num(fmt.num(sl.accuracy)),
            Num(fmt.num(sl.macro_f1)),
            "largest gap" if sl.tag in flagged else "",
        ]
        for sl in ordered
    ]
    parts: list[str | Safe] = [
        table(
            ["Tag", "Cases", "Accuracy", "Macro-F1", "Flag"],
            rows,
            flags=[sl.tag in flagged for sl in ordered],
        )
    ]
    if gap:
        parts.append(
            paragraph(
                f"Largest gap: {metric_name(gap.metric)} differs by "
                f"{fmt.num(gap.gap)} between {gap.tag_a} and {gap.tag_b}."
            )
        )
    return section("slices", "Slices", *parts)


def case_table(cases: Sequence[CaseView], *, expected: bool = True) -> Safe:
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
            Id(c.id),
            *([c.expected or fmt.MISSING] if expected else []),
            c.predicted or fmt.MISSING,
            Num(fmt.num(c.confidence)),
            Text(clip(format_input(c.input))),
            Text(clip(case_output(c))),
        ]
        for c in cases
    ]
    return table(headers, rows)


def _worst_cases(s: ClassificationSummary) -> Safe:
    w = s.worst_cases
    if not w.confident_wrong and not w.lowest_recall:
        return Safe("")
    parts: list[str | Safe] = []
    if w.confident_wrong:
        parts += [tag("h3", "Confident wrong answers"), case_table(w.confident_wrong)]
    if w.lowest_recall:
        parts.append(tag("h3", "Lowest-recall classes"))
        for cr in w.lowest_recall:
            parts.append(
                paragraph(
                    tag("strong", cr.label),
                    f": recall {fmt.num(cr.recall)} (support {fmt.count(cr.support)})",
                )
            )
            if cr.examples:
                parts.append(case_table(cr.examples, expected=False))
    return section("worst", "Worst cases", *parts)


def _findings(s: ClassificationSummary) -> Safe:
    if not s.findings:
        return section("findings", "Pre-flight findings", paragraph("No findings."))
    rows = [
        [
            f.check,
            tag("span", f.severity, cls=f"badge {f.severity}"),
            clip(f.message),
            Text("\n".join(clip(d) for d in f.details)),
        ]
        for f in s.findings
    ]
    return section(
        "findings", "Pre-flight findings", table(["Check", "Severity", "Message", "Details"], rows)
    )


def _repeats(s: ClassificationSummary) -> Safe:
    r = s.repeats
    if r is None:
        return Safe("")
    rows = [
        ["Mean agreement", Num(fmt.num(r.mean_agreement))],
        [f"pass^{r.k} (right on every repeat)", Num(fmt.num(r.pass_hat_k))],
        ["Flaky cases", Num(fmt.count(len(r.flaky_cases)))],
    ]
    flaky = ", ".join(sorted(r.flaky_cases)) or "none"
    return section(
        "repeats",
        "Repeats",
        paragraph(f"Each case ran {r.k} times."),
        table(["Measure", "Value"], rows),
        paragraph(f"Flaky cases: {flaky}", cls="note"),
    )


def _errors(s: ClassificationSummary) -> Safe:
    parts: list[str | Safe] = [
        paragraph(
            f"Errors: {fmt.count(s.n_errors)} of {fmt.count(s.n_cases)} cases ({error_share(s)})"
            f"{resent_note(s)}. "
            f"Invalid outputs: {fmt.count(s.n_invalid)} ({fmt.pct(s.metrics.invalid_rate)})."
        )
    ]
    if s.worst_cases.errors:
        rows = [
            [
                Id(c.id),
                Text(clip(c.error or fmt.MISSING)),
                Text(clip(case_output(c))),
                Text(clip(format_input(c.input))),
            ]
            for c in s.worst_cases.errors
        ]
        parts.append(table(["Case", "Error", "Output", "Input"], rows))
    return section("errors", "Errors and invalid outputs", *parts)


def _run_details(s: ClassificationSummary) -> Safe:
    v, u = s.volatile, s.usage
    rows: list[list[Cell]] = [
        ["Run id", v.run_id],
        ["Started", v.started_at],
        ["Finished", v.finished_at],
        ["Duration", Num(fmt.seconds(v.duration_s))],
        [
            "Latency p50 / p95 / p99",
            Num(
                " / ".join(
                    fmt.seconds(x) for x in (v.latency_p50_s, v.latency_p95_s, v.latency_p99_s)
                )
            ),
        ],
        ["Cache hits / misses", Num(f"{fmt.count(v.cache_hits)} / {fmt.count(v.cache_misses)}")],
        ["Retries", Num(fmt.count(v.retries))],
        [
            "Prompt / completion tokens",
            Num(f"{fmt.count(u.prompt_tokens)} / {fmt.count(u.completion_tokens)}"),
        ],
        ["Cost", Num(fmt.money(u.cost_usd))],
    ]
    return section("run", "Run details", table(["Detail", "Value"], rows))
