"""The comparison of two runs (`comparison.md`, `comparison.html`): for PR comments and CI.

Built from the `ComparisonSummary` alone, with no timestamps or durations, so the same two
inputs always give the same bytes. A changed evalset is stated right under the verdict,
before any number.
"""

from __future__ import annotations

from promptops.reports import fmt
from promptops.reports.common import cut, footer, threshold_table
from promptops.reports.document import (
    Banner,
    Block,
    BulletList,
    Cell,
    Chart,
    CodeBlock,
    Document,
    Heading,
    Num,
    Paragraph,
    Section,
    Strong,
    Table,
    span,
)
from promptops.reports.fmt import metric_name
from promptops.reports.words import format_input, p_words, test_reason
from promptops.runs.comparison import ComparisonSummary, FlippedCase, Side

LISTED_CASES = 25
LISTED_IDS = 20
VERDICT_WORDS = {
    "regressed": "REGRESSION",
    "improved": "IMPROVED",
    "no_significant_change": "NO SIGNIFICANT CHANGE",
}
CASE_HEADERS = ("Case", "Expected", "A predicted", "B predicted", "Input", "A output", "B output")


def side_label(side: Side) -> str:
    kind = "baseline record" if side.source == "baseline" else "run"
    return f"{kind} {side.path}"


def comparison_document(s: ComparisonSummary) -> Document:
    return Document(
        title=f"Comparison: {s.b.suite}",
        meta=(
            ("A (reference)", span(f"{s.a.prompt.identity} from {side_label(s.a)}")),
            ("B (candidate)", span(f"{s.b.prompt.identity} from {side_label(s.b)}")),
            (
                "Shared cases",
                span(
                    f"{fmt.count(s.n_shared)}; primary metric: "
                    f"{metric_name(s.primary_metric)}; alpha {s.alpha:g}"
                ),
            ),
        ),
        sections=(
            _verdict(s),
            _metrics(s),
            _per_class(s),
            _flips(s),
            _prompt(s),
            _setup(s),
            _evalset(s),
        ),
        footer=footer("comparison.json", s.schema_version),
    )


def _verdict(s: ComparisonSummary) -> Section:
    v = s.verdict
    body: list[Block] = [Paragraph(span(v.explanation))]
    if s.evalset.changed:
        warning = span(Strong("Warning: the evalset changed."), " ", s.evalset.message)
        body.append(Paragraph(warning, tone="warning"))
    headline = span(Strong(f"{'FAIL' if v.fails else 'PASS'}: {VERDICT_WORDS[v.status]}"))
    blocks: list[Block] = [Banner(not v.fails, headline, tuple(body))]
    if s.b.thresholds:
        failed = sum(not t.passed for t in s.b.thresholds)
        word = f"{failed} failed" if failed else "all passed"
        blocks += [
            Paragraph(span(f"B's own thresholds ({word}):")),
            threshold_table(s.b.thresholds, actual="B"),
        ]
    return Section("verdict", "Verdict", tuple(blocks))


def _metrics(s: ComparisonSummary) -> Section:
    rows: list[tuple[Cell, ...]] = [
        (
            span(metric_name(d.metric) + (" (primary)" if d.metric == s.primary_metric else "")),
            Num(fmt.num(d.a)),
            Num(fmt.num(d.b)),
            Num(fmt.signed(d.diff)),
            Num(f"{fmt.level(d.level)} {fmt.interval(d.low, d.high, sign=True)}"),
        )
        for d in s.metrics
    ]
    whiskers = Chart(
        "whiskers",
        "B minus A on shared cases, 95% CI",
        tuple((metric_name(d.metric), d.diff, d.low, d.high) for d in s.metrics),
        reference=0.0,
    )
    return Section(
        "metrics",
        "Metrics on shared cases",
        (
            Table(("Metric", "A", "B", "B minus A", "CI of the difference"), tuple(rows)),
            whiskers,
            Paragraph(span(tests_sentence(s)), tone="note"),
        ),
    )


def tests_sentence(s: ComparisonSummary) -> str:
    """Which test decides and why, then every other figure, said not to decide."""
    pb, mc, sf, d = s.paired_bootstrap, s.mcnemar, s.sign_flip, s.verdict.decision
    words = []
    if d is not None:
        mde = fmt.num(d.mde) if d.mde is not None else "none at this size"
        words.append(
            f"{test_reason(d)} Minimum detectable difference at {fmt.pct(d.power, 0)} power: "
            f"{mde} in {metric_name(d.metric)} ({d.mde_method})."
        )
    deciding = s.verdict.test
    others = []
    if sf is not None and deciding != "paired sign-flip permutation":
        kind = "exact" if sf.n_perm == 0 else f"{fmt.count(sf.n_perm)} swaps, seed {sf.seed}"
        others.append(f"paired sign-flip on macro-F1 ({kind}): {p_words(sf.p_value)}")
    others.append(
        f"paired bootstrap on macro-F1 ({fmt.count(pb.n_boot)} resamples, seed {pb.seed}): "
        f"{p_words(pb.p_value)}"
    )
    mid = (
        f", mid-{p_words(mc.mid_p)}" if mc.mid_p is not None and deciding != "McNemar mid-p" else ""
    )
    others.append(
        f"McNemar on correctness: {fmt.count(mc.broken)} broken, {fmt.count(mc.fixed)} fixed, "
        f"exact {p_words(mc.p_value)}{mid}"
    )
    head = "Other figures, shown only (they do not decide)" if d is not None else "Tests"
    words.append(f"{head}: " + "; ".join(others) + ".")
    same_metric = d is not None and d.metric == pb.metric
    if d is not None and same_metric and (pb.p_value < s.alpha) != (d.outcome == "significant"):
        verb = "call" if pb.p_value < s.alpha else "not call"
        words.append(
            f"The two disagree: the bootstrap alone would {verb} this significant; the "
            f"{d.test} test is the one valid at {fmt.count(d.n)} cases."
        )
    return " ".join(words)


def _per_class(s: ComparisonSummary) -> Section:
    rows: list[tuple[Cell, ...]] = []
    for d in s.per_class:
        cells: list[Cell] = [span(d.label), Num(fmt.count(d.support))]
        for name in ("precision", "recall", "f1"):
            a, b = getattr(d.a, name), getattr(d.b, name)
            cells += [Num(fmt.num(a)), Num(fmt.num(b)), Num(fmt.signed(b - a))]
        rows.append(tuple(cells))
    headers = ["Label", "Support"]
    for name in ("P", "R", "F1"):
        headers += [f"{name} A", f"{name} B", f"{name} change"]
    bars = Chart(
        "bars",
        "Per-class F1, A and B",
        tuple((d.label, d.a.f1, d.b.f1) for d in s.per_class),
        series=("F1 of A", "F1 of B"),
    )
    return Section("classes", "Per-class changes", (Table(tuple(headers), tuple(rows)), bars))


def _case_blocks(cases: list[FlippedCase]) -> list[Block]:
    rows: list[tuple[Cell, ...]] = [
        (
            span(case.id),
            span(case.expected),
            span(case.predicted_a or fmt.MISSING),
            span(case.predicted_b or fmt.MISSING),
            cut(format_input(case.input)) if case.input else span(fmt.MISSING),
            cut(case.output_a) if case.output_a is not None else span(fmt.MISSING),
            cut(case.output_b) if case.output_b is not None else span(fmt.MISSING),
        )
        for case in cases[:LISTED_CASES]
    ]
    blocks: list[Block] = [Table(CASE_HEADERS, tuple(rows))]
    if len(cases) > LISTED_CASES:
        more = f"… and {len(cases) - LISTED_CASES} more (all in comparison.json)."
        blocks.append(Paragraph(span(more), tone="note"))
    return blocks


def _flips(s: ComparisonSummary) -> Section:
    f = s.flips
    blocks: list[Block] = [
        Paragraph(
            span(
                f"{fmt.count(len(f.broken))} broken (right in A, wrong in B), "
                f"{fmt.count(len(f.fixed))} fixed (wrong in A, right in B), "
                f"{fmt.count(f.changed_still_wrong)} wrong in both with a different answer."
            )
        )
    ]
    for title, cases in (("Broken", f.broken), ("Fixed", f.fixed)):
        if cases:
            blocks += [Heading(f"{title} ({fmt.count(len(cases))})", 3), *_case_blocks(cases)]
    return Section("flips", "Flipped cases", tuple(blocks))


def _prompt(s: ComparisonSummary) -> Section:
    p = s.prompt
    body: Block
    if not p.changed:
        body = Paragraph(span(f"Same prompt content (hash {s.b.prompt.content_hash[:12]})."))
    elif not p.diff:
        body = Paragraph(span(p.note or "The prompts differ, but no diff is available."))
    else:
        body = CodeBlock(p.diff, "diff")
    return Section("prompt", "Prompt diff", (body,))


def _setup(s: ComparisonSummary) -> Section:
    rows: list[tuple[Cell, ...]] = [
        (span(r.name), cut(r.a), cut(r.b), span(Strong("changed")) if r.changed else span())
        for r in s.setup
    ]
    table = Table(("Setting", "A", "B", "Changed"), tuple(rows), tuple(r.changed for r in s.setup))
    return Section("setup", "Setup", (table,))


def _ids(ids: list[str]) -> str:
    more = f" … and {len(ids) - LISTED_IDS} more" if len(ids) > LISTED_IDS else ""
    return (", ".join(ids[:LISTED_IDS]) + more) if ids else "none"


def _evalset(s: ComparisonSummary) -> Section:
    e = s.evalset
    message = span(Strong("Changed."), " ", e.message) if e.changed else span(e.message)
    items = (("Only in A", e.only_in_a), ("Only in B", e.only_in_b), ("Relabelled", e.relabelled))
    listed = BulletList(
        tuple(span(f"{name} ({fmt.count(len(ids))}): {_ids(ids)}") for name, ids in items)
    )
    return Section("evalset", "Evalset", (Paragraph(message), listed))
