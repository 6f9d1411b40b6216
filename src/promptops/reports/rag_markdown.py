"""The Markdown report of a RAG run: `report.md`, made to be diffed.

A pure function of the `RagSummary` in a fixed order with fixed precision; nothing from
`volatile` is printed, so two runs with the same answers give the same bytes. Every string
from the corpus, the questions or the model goes through `escape`. The sentences shared with
the HTML report (names of measures, the guard's story) are plain-text functions here.
"""

from __future__ import annotations

from promptops.reports import fmt
from promptops.reports.fmt import rule_text
from promptops.reports.markdown import (
    CELL_LIMIT,
    escape,
    findings_section,
    join_sections,
    table,
)
from promptops.reports.registry import ReportWriter, register
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
ANSWER_HEADERS = [
    "Question",
    "Text",
    "Gold",
    "Answer",
    "Relevant delivered",
    "Token F1",
    "Support",
    "Unsupported claims",
]
OVERFLOW_HEADERS = (
    "Question",
    "Context tokens needed",
    "Budget",
    "Delivered",
    "Dropped",
    "Truncated",
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


def threshold_status(s: RagSummary) -> str:
    failed = sum(not t.passed for t in s.thresholds)
    if not s.thresholds:
        return "no thresholds were set."
    if failed:
        return f"{failed} of {len(s.thresholds)} thresholds failed."
    return f"all {len(s.thresholds)} thresholds passed."


def setup_lines(s: RagSummary) -> list[tuple[str, str]]:
    """(label, text) facts about the run, in the order both reports show them."""
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


def grounding_value(s: GenerationSection, key: str) -> float | None:
    value = getattr(s.grounding, key)
    return None if value is None else float(value)


def sweep_labels(sweep: SweepSection) -> list[str]:
    return list(dict.fromkeys(p.label for point in sweep.points for p in point.pipelines))


def render_rag_markdown(s: RagSummary) -> str:
    """The whole report; ends with exactly one newline and has no trailing whitespace."""
    sections = [
        _title(s),
        _verdict(s),
        _retrieval(s),
        _generation(s),
        _overflows(s),
        _answers(s),
        _errors(s),
        _sweep(s),
        _findings(s),
        _usage(s),
    ]
    return join_sections(sections)


def _title(s: RagSummary) -> list[str]:
    lines = [f"# RAG report: {escape(s.suite)}", ""]
    if s.description:
        lines += [escape(s.description), ""]
    return lines + [f"- {label}: {escape(text)}" for label, text in setup_lines(s)]


def _verdict(s: RagSummary) -> list[str]:
    lines = ["## Verdict", "", f"**{'PASS' if s.passed else 'FAIL'}**: {threshold_status(s)}"]
    if s.thresholds:
        rows = [
            [
                escape(t.metric),
                rule_text(t.op, t.value),
                fmt.num(t.actual),
                "pass" if t.passed else "**FAIL**",
            ]
            for t in s.thresholds
        ]
        lines += ["", *table(["Threshold", "Rule", "Actual", "Result"], rows)]
    return lines


def _pipeline_table(s: RagSummary, delivered: bool) -> list[str]:
    r = s.retrieval
    headers = ["Pipeline", *(measure_name(m) for m in r.metrics)]
    if delivered:
        headers += ["Overflowed", "Dropped", "Truncated"]
    rows = []
    for p in r.pipelines:
        values = p.delivered if delivered else p.retrieved
        row = [escape(pipeline_title(p)), *(fmt.num(values.get(m)) for m in r.metrics)]
        if delivered:
            row += [
                fmt.count(p.guard.overflowed),
                fmt.count(p.guard.chunks_dropped),
                fmt.count(p.guard.chunks_truncated),
            ]
        rows.append(row)
    return table(headers, rows)


RERANK_TEST_HEADERS = [
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
]


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


def rerank_test_rows(s: RagSummary) -> list[list[str]]:
    """Per retriever, the paired test of reranked against first stage (plain text cells)."""
    return [
        [
            t.retriever,
            f"{fmt.count(t.n)} {t.questions}",
            fmt.num(t.mean_before),
            fmt.num(t.mean_after),
            fmt.num(t.mean_difference),
            f"{t.better} / {t.worse}",
            fmt.num(t.p_permutation),
            fmt.num(t.p_wilcoxon),
            fmt.num(t.mde),
            t.verdict,
        ]
        for t in s.retrieval.rerank_tests
    ]


def _rerank_tests(s: RagSummary) -> list[str]:
    sentence = rerank_tuning_sentence(s)
    if sentence is None or not s.retrieval.rerank_tests:
        return []
    metric = measure_name(s.retrieval.rerank_tests[0].metric)
    return [
        "",
        f"### Did reranking help? ({escape(metric)}, paired over questions)",
        "",
        escape(sentence),
        "",
        *table(RERANK_TEST_HEADERS, [[escape(c) for c in row] for row in rerank_test_rows(s)]),
    ]


def _retrieval(s: RagSummary) -> list[str]:
    r = s.retrieval
    return [
        "## Retrieval",
        "",
        f"Relevance: {escape(r.relevance)}. Means over {fmt.count(r.n_judged)} judged questions "
        f"at k = {r.k}; a ranking's own order is scored (MRR and MAP within the top k). "
        "The guard is applied to every pipeline's ranking of every question, as if that "
        "pipeline answered: its columns count questions and chunks over all questions.",
        "",
        "### As retrieved",
        "",
        *_pipeline_table(s, delivered=False),
        "",
        "### As delivered to the model (after the context guard)",
        "",
        *_pipeline_table(s, delivered=True),
        *_rerank_tests(s),
    ]


def _generation(s: RagSummary) -> list[str]:
    g = s.generation
    if g is None:
        return ["## Generation", "", "Nothing was generated in this run (retrieval only)."]
    quality = [[escape(quality_name(k)), fmt.num(v)] for k, v in quality_items(g.metrics)]
    grounding = [[escape(label), fmt.num(grounding_value(g, key))] for key, label in GROUNDING_ROWS]
    gr = g.grounding
    return [
        "## Generation",
        "",
        f"{fmt.count(g.n_questions)} questions answered with {escape(g.pipeline)}; "
        f"{fmt.count(g.n_errors)} failed calls (scored 0, not grounded).",
        "",
        "### Answer quality against the gold answers",
        "",
        *table(["Metric", "Value"], quality),
        "",
        "### Grounding in the delivered passages",
        "",
        *table(["Measure", "Value"], grounding),
        "",
        f"{fmt.count(gr.answers_citing)} of {fmt.count(gr.answers)} answers cite a passage; "
        f"{fmt.count(gr.sentences)} sentences, {fmt.count(gr.invalid_citations)} invalid "
        f"citations; a sentence is supported at support ≥ {fmt.num(gr.threshold)}.",
    ]


def _overflows(s: RagSummary) -> list[str]:
    g = s.generation
    if g is None:
        return []
    lines = [
        "### Context overflows",
        "",
        escape(guard_sentence(g.guard, s.retrieval.context.policy)),
    ]
    if g.overflows:
        refusals = any(o.refused for o in g.overflows)
        rows = [
            [
                escape(o.id),
                fmt.count(o.needed),
                fmt.count(o.budget),
                escape(", ".join(o.delivered) or "none", CELL_LIMIT),
                escape(", ".join(o.dropped) or "none", CELL_LIMIT),
                escape(o.truncated or "none"),
                *([escape(o.refused or "", CELL_LIMIT)] if refusals else []),
            ]
            for o in g.overflows[:LISTED]
        ]
        headers = [*OVERFLOW_HEADERS, *(["Refused"] if refusals else [])]
        lines += ["", *table(headers, rows)]
        if len(g.overflows) > LISTED:
            lines += ["", f"{fmt.count(len(g.overflows) - LISTED)} more in results.jsonl."]
    return lines


def _answer_rows(answers: list[AnswerView]) -> list[str]:
    rows = [
        [
            escape(a.id),
            escape(a.question, CELL_LIMIT),
            escape(" / ".join(a.gold), CELL_LIMIT),
            escape(a.answer if a.answer is not None else fmt.MISSING, CELL_LIMIT),
            fmt.count(a.relevant_delivered),
            fmt.num(a.token_f1),
            fmt.num(a.support),
            escape(" | ".join(a.unsupported_claims) or "-", CELL_LIMIT),
        ]
        for a in answers
    ]
    return table(ANSWER_HEADERS, rows)


def _answers(s: RagSummary) -> list[str]:
    g = s.generation
    if g is None or not g.worst:
        return []
    return ["### Lowest-scoring answers", "", *_answer_rows(g.worst)]


def _errors(s: RagSummary) -> list[str]:
    g = s.generation
    if g is None or not g.errors:
        return []
    rows = [[escape(a.id), escape(a.error or fmt.MISSING, CELL_LIMIT)] for a in g.errors]
    return ["### Failed calls", "", *table(["Question", "Error"], rows)]


def _sweep(s: RagSummary) -> list[str]:
    sw = s.sweep
    if sw is None:
        return []
    labels = sweep_labels(sw)
    rows = []
    for point in sw.points:
        values = {p.label: p.metrics[sw.primary_metric] for p in point.pipelines}
        rows.append(
            [
                fmt.count(point.size),
                fmt.count(point.overlap),
                fmt.count(point.n_chunks),
                *(fmt.num(values.get(label)) for label in labels),
            ]
        )
    best = [
        f"- {escape(b.label)}: {fmt.num(b.value)} at size {b.size}, overlap {b.overlap}"
        for b in sw.best
    ]
    full = [
        [
            f"{point.size}/{point.overlap}",
            escape(p.label),
            *(fmt.num(p.metrics.get(m)) for m in sw.metrics),
        ]
        for point in sw.points
        for p in point.pipelines
    ]
    return [
        "## Chunking sweep (retrieval only)",
        "",
        f"{escape(measure_name(sw.primary_metric))} per chunk size and overlap (tokens), "
        f"k = {sw.k}; relevance is re-derived from the answer spans for each setting.",
        "",
        *table(["Size", "Overlap", "Chunks", *(escape(label) for label in labels)], rows),
        "",
        f"Best setting per pipeline by {escape(measure_name(sw.primary_metric))}:",
        "",
        *best,
        "",
        "### All measures",
        "",
        *table(["Size/overlap", "Pipeline", *(measure_name(m) for m in sw.metrics)], full),
    ]


def _findings(s: RagSummary) -> list[str]:
    return findings_section("Findings", s.findings)


def _usage(s: RagSummary) -> list[str]:
    if s.generation is None:
        return []
    u = s.generation.usage
    return [
        "## Usage",
        "",
        f"- Prompt tokens: {fmt.count(u.prompt_tokens)}",
        f"- Completion tokens: {fmt.count(u.completion_tokens)}",
        f"- Cost: {fmt.money(u.cost_usd)}",
    ]


register(
    ReportWriter[RagSummary](
        name="rag-markdown", kind="rag", filename="report.md", render=render_rag_markdown
    )
)
