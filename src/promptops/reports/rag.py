"""The report of a RAG run: retrieval per pipeline (as retrieved and as delivered after the
context guard), generation quality and grounding, overflows, the worst answers, the chunking
sweep. Built from the `RagSummary` alone; nothing volatile reaches report.md."""

from __future__ import annotations

from promptops.reports import fmt
from promptops.reports.common import (
    cut,
    findings_section,
    footer,
    run_details,
    threshold_status,
    threshold_table,
    usage_section,
)
from promptops.reports.document import (
    Banner,
    Block,
    BulletList,
    Cell,
    Chart,
    Document,
    Heading,
    Num,
    Paragraph,
    Section,
    Strong,
    Table,
    span,
)
from promptops.reports.svg import SERIES_COLORS
from promptops.runs.rag_summary import (
    AnswerView,
    GenerationSection,
    GuardCounts,
    PipelineMetrics,
    RagSummary,
    SweepSection,
)

MEASURE_NAMES = {
    "recall": "Recall",
    "p": "Precision",
    "hit": "Hit",
    "mrr": "MRR",
    "ndcg": "nDCG",
    "map": "MAP",
}
QUALITY_NAMES = {
    "rouge_l": "ROUGE-L F1",
    "bleu": "BLEU (corpus)",
    "exact_match": "Exact match",
    "token_f1": "Token F1",
}
GROUNDING_ROWS = (
    ("support", "Support (mean per answer)"),
    ("validity", "Citation validity"),
    ("coverage", "Citation coverage (sentences citing)"),
    ("unsupported_rate", "Unsupported-sentence rate"),
)
LISTED = 50
CHART_MEASURES = ("recall", "ndcg", "mrr", "hit")
MAX_SERIES = len(SERIES_COLORS)
ANSWER_HEADERS = (
    "Question",
    "Text",
    "Gold",
    "Answer",
    "Relevant delivered",
    "Token F1",
    "Support",
    "Unsupported claims",
)
OVERFLOW_HEADERS = (
    "Question",
    "Context tokens needed",
    "Budget",
    "Delivered",
    "Dropped",
    "Truncated",
)
RERANK_TEST_HEADERS = (
    "Retriever",
    "Questions",
    "Before",
    "After",
    "Difference",
    "Better / worse",
    "p (permutation)",
    "p (Wilcoxon)",
    "MDE (80% power)",
    "Verdict",
)


def measure_name(metric: str) -> str:
    """`ndcg@5` -> `nDCG@5`, `p@5` -> `Precision@5`; unknown names print as they are."""
    base, at, cutoff = metric.partition("@")
    return MEASURE_NAMES.get(base, base) + (f"@{cutoff}" if at else "")


def quality_name(key: str) -> str:
    return QUALITY_NAMES.get(key, key)


def quality_items(metrics: dict[str, float | None]) -> list[tuple[str, float | None]]:
    """Answer-quality figures in a fixed order (summary.json stores its keys sorted)."""
    known = [key for key in QUALITY_NAMES if key in metrics]
    return [(key, metrics[key]) for key in [*known, *sorted(set(metrics) - set(known))]]


def pipeline_title(p: PipelineMetrics) -> str:
    return p.label + (" (generates)" if p.generates else "")


def chart_metrics(metrics: list[str]) -> list[str]:
    """The few measures drawn in the retrieval chart (the tables hold them all)."""
    chosen = [m for m in metrics if m.partition("@")[0] in CHART_MEASURES]
    return (chosen or list(metrics))[:MAX_SERIES]


def setup_lines(s: RagSummary) -> list[tuple[str, str]]:
    """(label, text) facts about the run."""
    r, c = s.retrieval, s.retrieval.context
    rerank = f"{r.reranker.name} over the top {r.reranker.candidates}" if r.reranker else "none"
    generating = next((p.label for p in r.pipelines if p.generates), fmt.MISSING)
    return [
        ("Prompt", f"{s.prompt.identity} (content hash {s.prompt.content_hash})"),
        (
            "Model",
            f"{s.model.model} via profile {s.model.profile}, temperature "
            f"{fmt.num(s.model.temperature, 2)}, max_tokens {s.model.max_tokens}",
        ),
        (
            "Corpus",
            f"{s.corpus.path} (sha256 {s.corpus.sha256[:16]}), {fmt.count(s.corpus.n_docs)} "
            f"documents, {fmt.count(s.corpus.n_chunks)} chunks of {s.chunking.size} tokens "
            f"(overlap {s.chunking.overlap}, {s.chunking.encoding})",
        ),
        (
            "Questions",
            f"{s.questions.path} (sha256 {s.questions.sha256[:16]}), "
            f"{fmt.count(s.questions.n_questions)} ({fmt.count(s.questions.n_judged)} judged), "
            f"{fmt.count(s.questions.n_generated)} answered",
        ),
        ("Retrieval", f"k = {r.k}; reranker: {rerank}; answers use {generating}"),
        (
            "Context",
            f"policy {c.policy}, window {fmt.count(c.context_window)} tokens of which "
            f"{fmt.count(c.max_tokens)} are kept for the reply; counted with {c.counter}",
        ),
    ]


def guard_sentence(g: GuardCounts, policy: str) -> str:
    """What the context guard did, in one sentence (never silent about it)."""
    if not g.overflowed:
        return (
            f"Every question's {fmt.count(g.chunks_retrieved)} retrieved chunks fit the context "
            f"(policy {policy}): nothing was dropped or truncated."
        )
    refused = f"; {fmt.count(g.refused)} refused outright" if g.refused else ""
    return (
        f"{fmt.count(g.overflowed)} of {fmt.count(g.questions)} questions overflowed the context "
        f"(policy {policy}){refused}: {fmt.count(g.chunks_dropped)} of "
        f"{fmt.count(g.chunks_retrieved)} retrieved chunks were dropped and "
        f"{fmt.count(g.chunks_truncated)} truncated; {fmt.count(g.chunks_delivered)} reached "
        "the model."
    )


def rerank_tuning_sentence(s: RagSummary) -> str | None:
    """How the fusion weight was chosen, in one sentence (None when nothing was tuned)."""
    reranker = s.retrieval.reranker
    if reranker is None:
        return None
    t = reranker.tuning
    if t is None:
        return (
            f"The reranker's settings are fixed by the suite; the tests below use all "
            f"{fmt.count(s.retrieval.n_judged)} judged questions."
        )
    return (
        f"Fusion weight alpha = {fmt.num(t.alpha, 1)} chosen on {fmt.count(t.dev_questions)} "
        f"dev questions by mean {measure_name(t.metric)} over the retrievers (grid "
        f"{', '.join(f'{a}: {fmt.num(v)}' for a, v in t.grid.items())}); the tests below use "
        f"only the other {fmt.count(t.test_questions)} questions. The retrieval tables above "
        "cover all questions, dev ones included."
    )


def rag_document(s: RagSummary) -> Document:
    sections = [
        _verdict(s),
        _retrieval(s),
        _generation(s),
        *_answers(s.generation, s.retrieval.context.policy),
        _sweep(s.sweep),
        findings_section("Findings", s.findings),
        usage_section(s.generation.usage) if s.generation is not None else None,
        _run(s),
    ]
    return Document(
        title=f"RAG report: {s.suite}",
        intro=(Paragraph(span(s.description)),) if s.description else (),
        meta=tuple((label, span(text)) for label, text in setup_lines(s)),
        sections=tuple(x for x in sections if x is not None),
        footer=footer("summary.json", s.schema_version),
    )


def _verdict(s: RagSummary) -> Section:
    status = span(Strong("PASS" if s.passed else "FAIL"), f": {threshold_status(s.thresholds)}")
    blocks: list[Block] = [Banner(s.passed, status)]
    if s.thresholds:
        blocks.append(threshold_table(s.thresholds, first="Threshold", name=str))
    return Section("verdict", "Verdict", tuple(blocks))


def _pipeline_table(s: RagSummary, delivered: bool) -> Table:
    r = s.retrieval
    headers = ["Pipeline", *(measure_name(m) for m in r.metrics)]
    if delivered:
        headers += ["Overflowed", "Dropped", "Truncated"]
    rows: list[tuple[Cell, ...]] = []
    for p in r.pipelines:
        values = p.delivered if delivered else p.retrieved
        row: list[Cell] = [
            span(pipeline_title(p)),
            *(Num(fmt.num(values.get(m))) for m in r.metrics),
        ]
        if delivered:
            g = p.guard
            row += [Num(fmt.count(n)) for n in (g.overflowed, g.chunks_dropped, g.chunks_truncated)]
        rows.append(tuple(row))
    flags = tuple(p.generates for p in r.pipelines) if delivered else ()
    return Table(tuple(headers), tuple(rows), flags)


def _retrieval(s: RagSummary) -> Section:
    r = s.retrieval
    shown = chart_metrics(r.metrics)
    primary = shown[0]
    bars = Chart(
        "bars",
        "Retrieval per pipeline (as retrieved)",
        tuple((p.label, *(p.retrieved[m] for m in shown)) for p in r.pipelines),
        series=tuple(measure_name(m) for m in shown),
    )
    lost = Chart(
        "bars",
        f"{measure_name(primary)} before and after the context guard",
        tuple((p.label, p.retrieved[primary], p.delivered[primary]) for p in r.pipelines),
        series=("retrieved", "delivered"),
    )
    intro = (
        f"Relevance: {r.relevance}. Means over {fmt.count(r.n_judged)} judged questions "
        f"at k = {r.k}; a ranking's own order is scored (MRR and MAP within the top k). "
        "The guard is applied to every pipeline's ranking of every question, as if that "
        "pipeline answered: its columns count questions and chunks over all questions."
    )
    blocks: list[Block] = [
        Paragraph(span(intro), tone="note"),
        Heading("As retrieved", 3),
        _pipeline_table(s, delivered=False),
        bars,
        Heading("As delivered to the model (after the context guard)", 3),
        _pipeline_table(s, delivered=True),
        lost,
    ]
    sentence = rerank_tuning_sentence(s)
    if sentence is not None and r.rerank_tests:
        metric = measure_name(r.rerank_tests[0].metric)
        rows: list[tuple[Cell, ...]] = [
            (
                span(t.retriever),
                span(f"{fmt.count(t.n)} {t.questions}"),
                *(Num(fmt.num(v)) for v in (t.mean_before, t.mean_after, t.mean_difference)),
                Num(f"{t.better} / {t.worse}"),
                *(Num(fmt.num(v)) for v in (t.p_permutation, t.p_wilcoxon, t.mde)),
                span(t.verdict),
            )
            for t in r.rerank_tests
        ]
        blocks += [
            Heading(f"Did reranking help? ({metric}, paired over questions)", 3),
            Paragraph(span(sentence), tone="note"),
            Table(RERANK_TEST_HEADERS, tuple(rows)),
        ]
    return Section("retrieval", "Retrieval", tuple(blocks))


def _grounding_value(g: GenerationSection, key: str) -> float | None:
    value = getattr(g.grounding, key)
    return None if value is None else float(value)


def _generation(s: RagSummary) -> Section:
    g = s.generation
    if g is None:
        nothing = Paragraph(span("Nothing was generated in this run (retrieval only)."))
        return Section("generation", "Generation", (nothing,))
    quality = quality_items(g.metrics)
    grounding = [(label, _grounding_value(g, key)) for key, label in GROUNDING_ROWS]
    gr = g.grounding
    drawn = [(quality_name(k), v) for k, v in quality if v is not None]
    drawn += [(label, v) for label, v in grounding if v is not None]
    return Section(
        "generation",
        "Generation",
        (
            Paragraph(
                span(
                    f"{fmt.count(g.n_questions)} questions answered with {g.pipeline}; "
                    f"{fmt.count(g.n_errors)} failed calls (scored 0, not grounded)."
                )
            ),
            Heading("Answer quality against the gold answers", 3),
            Table(
                ("Metric", "Value"),
                tuple((span(quality_name(k)), Num(fmt.num(v))) for k, v in quality),
            ),
            Heading("Grounding in the delivered passages", 3),
            Table(
                ("Measure", "Value"),
                tuple((span(label), Num(fmt.num(v))) for label, v in grounding),
            ),
            Paragraph(
                span(
                    f"{fmt.count(gr.answers_citing)} of {fmt.count(gr.answers)} answers cite a "
                    f"passage; {fmt.count(gr.sentences)} sentences, "
                    f"{fmt.count(gr.invalid_citations)} invalid citations; a sentence is "
                    f"supported at support ≥ {fmt.num(gr.threshold)}."
                ),
                tone="note",
            ),
            Chart("bars", "Answer quality and grounding", tuple(drawn), series=("score",)),
        ),
    )


def _answers(g: GenerationSection | None, policy: str) -> list[Section]:
    """Context overflows, the lowest-scoring answers and the failed calls: sub-parts of the
    generation section in report.md, each with its own card in HTML."""
    if g is None:
        return []
    overflow: list[Block] = [Paragraph(span(guard_sentence(g.guard, policy)))]
    if g.overflows:
        refusals = any(o.refused for o in g.overflows)
        rows: list[tuple[Cell, ...]] = [
            (
                span(o.id),
                Num(fmt.count(o.needed)),
                Num(fmt.count(o.budget)),
                cut(", ".join(o.delivered) or "none"),
                cut(", ".join(o.dropped) or "none"),
                span(o.truncated or "none"),
                *([cut(o.refused or "")] if refusals else []),
            )
            for o in g.overflows[:LISTED]
        ]
        overflow.append(Table((*OVERFLOW_HEADERS, *(["Refused"] if refusals else [])), tuple(rows)))
        if len(g.overflows) > LISTED:
            more = f"{fmt.count(len(g.overflows) - LISTED)} more in results.jsonl."
            overflow.append(Paragraph(span(more)))
    sections = [Section("overflows", "Context overflows", tuple(overflow), level=3)]
    if g.worst:
        table = _answer_table(g.worst)
        sections.append(Section("answers", "Lowest-scoring answers", (table,), level=3))
    if g.errors:
        rows = [(span(a.id), cut(a.error or fmt.MISSING)) for a in g.errors]
        failed = Table(("Question", "Error"), tuple(rows))
        sections.append(Section("failed", "Failed calls", (failed,), level=3))
    return sections


def _answer_table(answers: list[AnswerView]) -> Table:
    rows: list[tuple[Cell, ...]] = [
        (
            span(a.id),
            cut(a.question),
            cut(" / ".join(a.gold)),
            cut(a.answer if a.answer is not None else fmt.MISSING),
            Num(fmt.count(a.relevant_delivered)),
            Num(fmt.num(a.token_f1)),
            Num(fmt.num(a.support)),
            cut(" | ".join(a.unsupported_claims) or "-"),
        )
        for a in answers
    ]
    return Table(ANSWER_HEADERS, tuple(rows))


def _sweep_chart(sw: SweepSection, labels: list[str]) -> Chart:
    data: tuple[tuple[float | str | None, ...], ...] = tuple(
        (
            f"{p.size}/{p.overlap}",
            *(
                next((q.metrics[sw.primary_metric] for q in p.pipelines if q.label == label), 0.0)
                for label in labels
            ),
        )
        for p in sw.points
    )
    title = f"{measure_name(sw.primary_metric)} per chunk size/overlap"
    return Chart("bars", title, data, series=tuple(labels))


def _sweep(sw: SweepSection | None) -> Section | None:
    if sw is None:
        return None
    labels = list(dict.fromkeys(p.label for point in sw.points for p in point.pipelines))
    primary = measure_name(sw.primary_metric)
    rows: list[tuple[Cell, ...]] = []
    for point in sw.points:
        values = {p.label: p.metrics[sw.primary_metric] for p in point.pipelines}
        rows.append(
            (
                Num(fmt.count(point.size)),
                Num(fmt.count(point.overlap)),
                Num(fmt.count(point.n_chunks)),
                *(Num(fmt.num(values.get(label))) for label in labels),
            )
        )
    full: list[tuple[Cell, ...]] = [
        (
            span(f"{point.size}/{point.overlap}"),
            span(p.label),
            *(Num(fmt.num(p.metrics.get(m))) for m in sw.metrics),
        )
        for point in sw.points
        for p in point.pipelines
    ]
    stages = {p.label: p.stage for point in sw.points for p in point.pipelines}
    if len(labels) <= MAX_SERIES:
        charts = [_sweep_chart(sw, labels)]
    else:
        charts = [
            _sweep_chart(sw, [label for label in labels if stages[label] == stage][:MAX_SERIES])
            for stage in ("first_stage", "reranked")
        ]
    best = BulletList(
        tuple(
            span(f"{b.label}: {fmt.num(b.value)} at size {b.size}, overlap {b.overlap}")
            for b in sw.best
        )
    )
    blocks: list[Block] = [
        Paragraph(
            span(
                f"{primary} per chunk size and overlap (tokens), k = {sw.k}; relevance is "
                "re-derived from the answer spans for each setting."
            ),
            tone="note",
        ),
        Table(("Size", "Overlap", "Chunks", *labels), tuple(rows)),
        *charts,
        Paragraph(span(f"Best setting per pipeline by {primary}:")),
        best,
        Heading("All measures", 3),
        Table(("Size/overlap", "Pipeline", *(measure_name(m) for m in sw.metrics)), tuple(full)),
    ]
    return Section("sweep", "Chunking sweep (retrieval only)", tuple(blocks))


def _run(s: RagSummary) -> Section:
    v = s.volatile
    rows = [
        ("Run id", v.run_id),
        ("Started", v.started_at),
        ("Finished", v.finished_at),
        ("Duration", fmt.seconds(v.duration_s)),
        ("Retrieval and context fitting", fmt.seconds(v.retrieval_s)),
        ("Generation and scoring", fmt.seconds(v.generation_s)),
        (
            "Latency p50 / p95",
            " / ".join(fmt.seconds(x) for x in (v.latency_p50_s, v.latency_p95_s)),
        ),
        ("Cache hits / misses", f"{fmt.count(v.cache_hits)} / {fmt.count(v.cache_misses)}"),
        ("Retries", fmt.count(v.retries)),
    ]
    if s.generation is not None:
        u = s.generation.usage
        rows += [
            (
                "Prompt / completion tokens",
                f"{fmt.count(u.prompt_tokens)} / {fmt.count(u.completion_tokens)}",
            ),
            ("Cost", fmt.money(u.cost_usd)),
        ]
    return run_details(rows)
