"""The HTML report of a RAG run: `report.html`, one self-contained page.

Built from the classification report's helpers (escaping, tables, the page template with its
strict Content-Security-Policy) and inline SVG charts (`reports.svg`): it loads nothing and
escapes every string from the corpus, the questions or the model. It says what report.md says,
plus charts and the run's volatile details (times, latencies, cache counts).
"""

from __future__ import annotations

from collections.abc import Sequence

from promptops.reports import fmt, svg
from promptops.reports.fmt import rule_text
from promptops.reports.html import (
    Cell,
    Id,
    Num,
    Safe,
    Text,
    chart,
    clip,
    join,
    page,
    paragraph,
    section,
    table,
    tag,
)
from promptops.reports.rag_markdown import (
    ANSWER_HEADERS,
    GROUNDING_ROWS,
    LISTED,
    OVERFLOW_HEADERS,
    RERANK_TEST_HEADERS,
    grounding_value,
    guard_sentence,
    measure_name,
    pipeline_title,
    quality_items,
    quality_name,
    rerank_test_rows,
    rerank_tuning_sentence,
    setup_lines,
    sweep_labels,
    threshold_status,
)
from promptops.reports.registry import ReportWriter, register
from promptops.runs.rag_summary import AnswerView, RagSummary, SweepSection

CHART_MEASURES = ("recall", "ndcg", "mrr", "hit")
MAX_SERIES = len(svg.SERIES_COLORS)


def chart_metrics(metrics: Sequence[str]) -> list[str]:
    """The few measures drawn in the retrieval chart (the tables hold them all)."""
    chosen = [m for m in metrics if m.partition("@")[0] in CHART_MEASURES]
    return (chosen or list(metrics))[:MAX_SERIES]


def render_rag_html(s: RagSummary) -> str:
    """The whole page; the same summary always gives the same bytes."""
    sections = [
        _header(s),
        _verdict(s),
        _retrieval(s),
        _generation(s),
        _overflows(s),
        _answers(s),
        _sweep(s),
        _findings(s),
        _run_details(s),
        tag("footer", f"Rendered by promptops from summary.json (schema v{s.schema_version})."),
    ]
    return page(f"RAG report: {s.suite} ({s.prompt.identity})", [p for p in sections if p])


def _header(s: RagSummary) -> Safe:
    nav = [("verdict", "Verdict"), ("retrieval", "Retrieval")]
    if s.generation is not None:
        nav += [("generation", "Generation"), ("overflows", "Overflows"), ("answers", "Answers")]
    if s.sweep is not None:
        nav.append(("sweep", "Chunking sweep"))
    nav += [("findings", "Findings"), ("run", "Run details")]
    meta = join(join([tag("dt", k), tag("dd", v)]) for k, v in setup_lines(s))
    return tag(
        "header",
        join(
            [
                tag("h1", f"RAG report: {s.suite}"),
                *([paragraph(s.description)] if s.description else []),
                tag("dl", meta, cls="meta"),
                tag("nav", join(tag("a", title, href=f"#{a}") for a, title in nav)),
            ]
        ),
    )


def _verdict(s: RagSummary) -> Safe:
    banner = tag(
        "div",
        tag("div", f"{'PASS' if s.passed else 'FAIL'}: {threshold_status(s)}", cls="status"),
        cls=f"banner {'pass' if s.passed else 'fail'}",
        id="verdict",
    )
    if not s.thresholds:
        return banner
    rows = [
        [
            t.metric,
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
                "thresholds", "Thresholds", table(["Threshold", "Rule", "Actual", "Result"], rows)
            ),
        ]
    )


def _pipeline_rows(s: RagSummary, delivered: bool) -> list[list[Cell]]:
    rows: list[list[Cell]] = []
    for p in s.retrieval.pipelines:
        values = p.delivered if delivered else p.retrieved
        row: list[Cell] = [
            pipeline_title(p),
            *(Num(fmt.num(values.get(m))) for m in s.retrieval.metrics),
        ]
        if delivered:
            row += [
                Num(fmt.count(p.guard.overflowed)),
                Num(fmt.count(p.guard.chunks_dropped)),
                Num(fmt.count(p.guard.chunks_truncated)),
            ]
        rows.append(row)
    return rows


def _retrieval(s: RagSummary) -> Safe:
    r = s.retrieval
    names = [measure_name(m) for m in r.metrics]
    shown = chart_metrics(r.metrics)
    labels = [p.label for p in r.pipelines]
    bars = svg.grouped_bars(
        labels,
        [(measure_name(m), [p.retrieved[m] for p in r.pipelines]) for m in shown],
        title="Retrieval per pipeline (as retrieved)",
    )
    primary = shown[0]
    lost = svg.grouped_bars(
        labels,
        [
            ("retrieved", [p.retrieved[primary] for p in r.pipelines]),
            ("delivered", [p.delivered[primary] for p in r.pipelines]),
        ],
        title=f"{measure_name(primary)} before and after the context guard",
    )
    return section(
        "retrieval",
        "Retrieval",
        paragraph(
            f"Relevance: {r.relevance}. Means over {fmt.count(r.n_judged)} judged questions at "
            f"k = {r.k}; a ranking's own order is scored (MRR and MAP within the top k). "
            "The guard is applied to every pipeline's ranking of every question, as if that "
            "pipeline answered: its columns count questions and chunks over all questions.",
            cls="note",
        ),
        tag("h3", "As retrieved"),
        table(["Pipeline", *names], _pipeline_rows(s, delivered=False)),
        chart(bars),
        tag("h3", "As delivered to the model (after the context guard)"),
        table(
            ["Pipeline", *names, "Overflowed", "Dropped", "Truncated"],
            _pipeline_rows(s, delivered=True),
            flags=[p.generates for p in r.pipelines],
        ),
        chart(lost),
        *_rerank_tests(s),
    )


def _rerank_tests(s: RagSummary) -> list[Safe]:
    sentence = rerank_tuning_sentence(s)
    if sentence is None or not s.retrieval.rerank_tests:
        return []
    metric = measure_name(s.retrieval.rerank_tests[0].metric)
    rows: list[list[Cell]] = [
        [Text(row[0]), Text(row[1]), *(Num(c) for c in row[2:9]), Text(row[9])]
        for row in rerank_test_rows(s)
    ]
    return [
        tag("h3", f"Did reranking help? ({metric}, paired over questions)"),
        paragraph(sentence, cls="note"),
        table(RERANK_TEST_HEADERS, rows),
    ]


def _generation(s: RagSummary) -> Safe:
    g = s.generation
    if g is None:
        return section(
            "generation",
            "Generation",
            paragraph("Nothing was generated in this run (retrieval only)."),
        )
    quality = [[quality_name(k), Num(fmt.num(v))] for k, v in quality_items(g.metrics)]
    grounding = [[label, Num(fmt.num(grounding_value(g, key)))] for key, label in GROUNDING_ROWS]
    values = [(quality_name(k), v) for k, v in quality_items(g.metrics) if v is not None]
    values += [
        (label, v) for key, label in GROUNDING_ROWS if (v := grounding_value(g, key)) is not None
    ]
    bars = svg.grouped_bars(
        [name for name, _ in values],
        [("score", [v for _, v in values])],
        title="Answer quality and grounding",
    )
    gr = g.grounding
    return section(
        "generation",
        "Generation",
        paragraph(
            f"{fmt.count(g.n_questions)} questions answered with {g.pipeline}; "
            f"{fmt.count(g.n_errors)} failed calls (scored 0, not grounded)."
        ),
        tag("h3", "Answer quality against the gold answers"),
        table(["Metric", "Value"], quality),
        tag("h3", "Grounding in the delivered passages"),
        table(["Measure", "Value"], grounding),
        paragraph(
            f"{fmt.count(gr.answers_citing)} of {fmt.count(gr.answers)} answers cite a passage; "
            f"{fmt.count(gr.sentences)} sentences, {fmt.count(gr.invalid_citations)} invalid "
            f"citations; a sentence is supported at support ≥ {fmt.num(gr.threshold)}.",
            cls="note",
        ),
        chart(bars),
    )


def _overflows(s: RagSummary) -> Safe:
    g = s.generation
    if g is None:
        return Safe("")
    parts: list[Safe] = [paragraph(guard_sentence(g.guard, s.retrieval.context.policy))]
    if g.overflows:
        refusals = any(o.refused for o in g.overflows)
        rows: list[list[Cell]] = [
            [
                Id(o.id),
                Num(fmt.count(o.needed)),
                Num(fmt.count(o.budget)),
                Text(", ".join(o.delivered) or "none"),
                Text(", ".join(o.dropped) or "none"),
                Text(o.truncated or "none"),
                *([Text(o.refused or "")] if refusals else []),
            ]
            for o in g.overflows[:LISTED]
        ]
        parts.append(table([*OVERFLOW_HEADERS, *(["Refused"] if refusals else [])], rows))
        if len(g.overflows) > LISTED:
            parts.append(
                paragraph(f"{fmt.count(len(g.overflows) - LISTED)} more in results.jsonl.")
            )
    return section("overflows", "Context overflows", *parts)


def _answer_table(answers: Sequence[AnswerView]) -> Safe:
    rows: list[list[Cell]] = [
        [
            Id(a.id),
            Text(clip(a.question)),
            Text(clip(" / ".join(a.gold))),
            Text(clip(a.answer if a.answer is not None else fmt.MISSING)),
            Num(fmt.count(a.relevant_delivered)),
            Num(fmt.num(a.token_f1)),
            Num(fmt.num(a.support)),
            Text(clip(" | ".join(a.unsupported_claims) or "-")),
        ]
        for a in answers
    ]
    return table(ANSWER_HEADERS, rows)


def _answers(s: RagSummary) -> Safe:
    g = s.generation
    if g is None:
        return Safe("")
    parts: list[Safe] = []
    if g.worst:
        parts += [tag("h3", "Lowest-scoring answers"), _answer_table(g.worst)]
    if g.errors:
        rows: list[list[Cell]] = [[Id(a.id), Text(clip(a.error or fmt.MISSING))] for a in g.errors]
        parts += [tag("h3", "Failed calls"), table(["Question", "Error"], rows)]
    if not parts:
        return Safe("")
    return section("answers", "Answers", *parts)


def _sweep_chart(sw: SweepSection, labels: Sequence[str]) -> Safe:
    groups = [f"{p.size}/{p.overlap}" for p in sw.points]
    series = []
    for label in labels:
        by_point = [
            next((q.metrics[sw.primary_metric] for q in p.pipelines if q.label == label), 0.0)
            for p in sw.points
        ]
        series.append((label, by_point))
    return chart(
        svg.grouped_bars(
            groups,
            series,
            title=f"{measure_name(sw.primary_metric)} per chunk size/overlap",
        )
    )


def _sweep(s: RagSummary) -> Safe:
    sw = s.sweep
    if sw is None:
        return Safe("")
    labels = sweep_labels(sw)
    rows: list[list[Cell]] = []
    for point in sw.points:
        values = {p.label: p.metrics[sw.primary_metric] for p in point.pipelines}
        rows.append(
            [
                Num(fmt.count(point.size)),
                Num(fmt.count(point.overlap)),
                Num(fmt.count(point.n_chunks)),
                *(Num(fmt.num(values.get(label))) for label in labels),
            ]
        )
    full: list[list[Cell]] = [
        [
            f"{point.size}/{point.overlap}",
            p.label,
            *(Num(fmt.num(p.metrics.get(m))) for m in sw.metrics),
        ]
        for point in sw.points
        for p in point.pipelines
    ]
    stages = {p.label: p.stage for point in sw.points for p in point.pipelines}
    first = [label for label in labels if stages[label] == "first_stage"]
    reranked = [label for label in labels if stages[label] == "reranked"]
    charts = (
        [_sweep_chart(sw, labels)]
        if len(labels) <= MAX_SERIES
        else [_sweep_chart(sw, first[:MAX_SERIES]), _sweep_chart(sw, reranked[:MAX_SERIES])]
    )
    best = tag(
        "ul",
        join(
            tag("li", f"{b.label}: {fmt.num(b.value)} at size {b.size}, overlap {b.overlap}")
            for b in sw.best
        ),
    )
    return section(
        "sweep",
        "Chunking sweep (retrieval only)",
        paragraph(
            f"{measure_name(sw.primary_metric)} per chunk size and overlap (tokens), k = {sw.k}; "
            "relevance is re-derived from the answer spans for each setting.",
            cls="note",
        ),
        table(["Size", "Overlap", "Chunks", *labels], rows),
        *charts,
        tag("h3", f"Best setting per pipeline by {measure_name(sw.primary_metric)}"),
        best,
        tag("h3", "All measures"),
        table(["Size/overlap", "Pipeline", *(measure_name(m) for m in sw.metrics)], full),
    )


def _findings(s: RagSummary) -> Safe:
    if not s.findings:
        return section("findings", "Findings", paragraph("No findings."))
    rows: list[list[Cell]] = [
        [
            f.check,
            tag("span", f.severity, cls=f"badge {f.severity}"),
            Text(clip(f.message)),
            Text(clip("; ".join(f.details))),
        ]
        for f in s.findings
    ]
    return section("findings", "Findings", table(["Check", "Severity", "Message", "Details"], rows))


def _run_details(s: RagSummary) -> Safe:
    v = s.volatile
    rows: list[list[Cell]] = [
        ["Run id", v.run_id],
        ["Started", v.started_at],
        ["Finished", v.finished_at],
        ["Duration", Num(fmt.seconds(v.duration_s))],
        ["Retrieval and context fitting", Num(fmt.seconds(v.retrieval_s))],
        ["Generation and scoring", Num(fmt.seconds(v.generation_s))],
        [
            "Latency p50 / p95",
            Num(" / ".join(fmt.seconds(x) for x in (v.latency_p50_s, v.latency_p95_s))),
        ],
        ["Cache hits / misses", Num(f"{fmt.count(v.cache_hits)} / {fmt.count(v.cache_misses)}")],
        ["Retries", Num(fmt.count(v.retries))],
    ]
    if s.generation is not None:
        u = s.generation.usage
        rows += [
            [
                "Prompt / completion tokens",
                Num(f"{fmt.count(u.prompt_tokens)} / {fmt.count(u.completion_tokens)}"),
            ],
            ["Cost", Num(fmt.money(u.cost_usd))],
        ]
    return section("run", "Run details", table(["Detail", "Value"], rows))


register(
    ReportWriter[RagSummary](
        name="rag-html", kind="rag", filename="report.html", render=render_rag_html
    )
)
