"""The Markdown comparison of two runs: `comparison.md`, for PR comments and CI summaries.

A pure function of the `ComparisonSummary` in a fixed order with fixed precision and no
timestamps or durations, so the same two inputs always give the same bytes. A changed
evalset is stated right under the verdict, before any number. Every string from a prompt,
a data set or a model goes through `escape`.
"""

from __future__ import annotations

from promptops.reports import fmt
from promptops.reports.fmt import metric_name, rule_text
from promptops.reports.markdown import CELL_LIMIT, escape, join_sections, table
from promptops.reports.registry import ReportWriter, register
from promptops.reports.words import format_input, p_words, test_reason
from promptops.runs.comparison import ComparisonSummary, FlippedCase, Side

LISTED_CASES = 25
LISTED_IDS = 20
VERDICT_WORDS = {
    "regressed": "REGRESSION",
    "improved": "IMPROVED",
    "no_significant_change": "NO SIGNIFICANT CHANGE",
}


def render_comparison_markdown(s: ComparisonSummary) -> str:
    """The whole comparison; ends with exactly one newline and has no trailing whitespace."""
    sections = [
        _title(s),
        _verdict(s),
        _metrics(s),
        _per_class(s),
        _flips(s),
        _prompt(s),
        _setup(s),
        _evalset(s),
    ]
    return join_sections(sections)


def side_label(side: Side) -> str:
    kind = "baseline record" if side.source == "baseline" else "run"
    return f"{kind} {side.path}"


def _title(s: ComparisonSummary) -> list[str]:
    return [
        f"# Comparison: {escape(s.b.suite)}",
        "",
        f"- A (reference): {escape(s.a.prompt.identity)} from {escape(side_label(s.a))}",
        f"- B (candidate): {escape(s.b.prompt.identity)} from {escape(side_label(s.b))}",
        f"- Shared cases: {fmt.count(s.n_shared)}; primary metric: "
        f"{escape(metric_name(s.primary_metric))}; alpha {s.alpha:g}",
    ]


def _verdict(s: ComparisonSummary) -> list[str]:
    v = s.verdict
    status = "FAIL" if v.fails else "PASS"
    lines = [
        "## Verdict",
        "",
        f"**{status}: {VERDICT_WORDS[v.status]}**",
        "",
        escape(v.explanation),
    ]
    if s.evalset.changed:
        lines += ["", f"> **Warning: the evalset changed.** {escape(s.evalset.message)}"]
    failed = [t for t in s.b.thresholds if not t.passed]
    if s.b.thresholds:
        rows = [
            [
                escape(metric_name(t.metric)),
                rule_text(t.op, t.value),
                fmt.num(t.actual),
                "pass" if t.passed else "**FAIL**",
            ]
            for t in s.b.thresholds
        ]
        word = f"{len(failed)} failed" if failed else "all passed"
        lines += [
            "",
            f"B's own thresholds ({word}):",
            "",
            *table(["Metric", "Rule", "B", "Result"], rows),
        ]
    return lines


def _metrics(s: ComparisonSummary) -> list[str]:
    rows = [
        [
            escape(metric_name(d.metric)) + (" (primary)" if d.metric == s.primary_metric else ""),
            fmt.num(d.a),
            fmt.num(d.b),
            fmt.signed(d.diff),
            f"{fmt.level(d.level)} {fmt.interval(d.low, d.high, sign=True)}",
        ]
        for d in s.metrics
    ]
    return [
        "## Metrics on shared cases",
        "",
        *table(["Metric", "A", "B", "B minus A", "CI of the difference"], rows),
        "",
        escape(tests_sentence(s)),
    ]


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


def _per_class(s: ComparisonSummary) -> list[str]:
    rows = []
    for d in s.per_class:
        cells = [escape(d.label), fmt.count(d.support)]
        for name in ("precision", "recall", "f1"):
            a, b = getattr(d.a, name), getattr(d.b, name)
            cells += [fmt.num(a), fmt.num(b), fmt.signed(b - a)]
        rows.append(cells)
    headers = ["Label", "Support"]
    for name in ("P", "R", "F1"):
        headers += [f"{name} A", f"{name} B", f"{name} change"]
    return ["## Per-class changes", "", *table(headers, rows)]


def _case_table(cases: list[FlippedCase]) -> list[str]:
    rows = [
        [
            escape(case.id),
            escape(case.expected),
            escape(case.predicted_a or fmt.MISSING),
            escape(case.predicted_b or fmt.MISSING),
            escape(format_input(case.input), CELL_LIMIT) if case.input else fmt.MISSING,
            escape(case.output_a, CELL_LIMIT) if case.output_a is not None else fmt.MISSING,
            escape(case.output_b, CELL_LIMIT) if case.output_b is not None else fmt.MISSING,
        ]
        for case in cases[:LISTED_CASES]
    ]
    headers = ["Case", "Expected", "A predicted", "B predicted", "Input", "A output", "B output"]
    lines = table(headers, rows)
    if len(cases) > LISTED_CASES:
        lines += ["", f"… and {len(cases) - LISTED_CASES} more (all in comparison.json)."]
    return lines


def _flips(s: ComparisonSummary) -> list[str]:
    f = s.flips
    lines = [
        "## Flipped cases",
        "",
        f"{fmt.count(len(f.broken))} broken (right in A, wrong in B), {fmt.count(len(f.fixed))} "
        f"fixed (wrong in A, right in B), {fmt.count(f.changed_still_wrong)} wrong in both "
        "with a different answer.",
    ]
    if f.broken:
        lines += ["", f"### Broken ({fmt.count(len(f.broken))})", "", *_case_table(f.broken)]
    if f.fixed:
        lines += ["", f"### Fixed ({fmt.count(len(f.fixed))})", "", *_case_table(f.fixed)]
    return lines


def fence_for(text: str) -> str:
    """A code fence longer than any backtick run inside `text`, so it cannot be closed early."""
    longest, run = 0, 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def _prompt(s: ComparisonSummary) -> list[str]:
    p = s.prompt
    lines = ["## Prompt diff", ""]
    if not p.changed:
        return [*lines, f"Same prompt content (hash {escape(s.b.prompt.content_hash[:12])})."]
    if not p.diff:
        return [*lines, escape(p.note or "The prompts differ, but no diff is available.")]
    fence = fence_for(p.diff)
    return [*lines, f"{fence}diff", p.diff, fence]


def _setup(s: ComparisonSummary) -> list[str]:
    rows = [
        [
            escape(r.name),
            escape(r.a, CELL_LIMIT),
            escape(r.b, CELL_LIMIT),
            "**changed**" if r.changed else "",
        ]
        for r in s.setup
    ]
    return ["## Setup", "", *table(["Setting", "A", "B", "Changed"], rows)]


def _ids(ids: list[str]) -> str:
    shown = ", ".join(escape(i) for i in ids[:LISTED_IDS])
    more = f" … and {len(ids) - LISTED_IDS} more" if len(ids) > LISTED_IDS else ""
    return (shown + more) if ids else "none"


def _evalset(s: ComparisonSummary) -> list[str]:
    e = s.evalset
    lines = [
        "## Evalset",
        "",
        ("**Changed.** " if e.changed else "") + escape(e.message),
        "",
        f"- Only in A ({fmt.count(len(e.only_in_a))}): {_ids(e.only_in_a)}",
        f"- Only in B ({fmt.count(len(e.only_in_b))}): {_ids(e.only_in_b)}",
        f"- Relabelled ({fmt.count(len(e.relabelled))}): {_ids(e.relabelled)}",
    ]
    return lines


register(
    ReportWriter[ComparisonSummary](
        name="comparison-markdown",
        kind="comparison",
        filename="comparison.md",
        render=render_comparison_markdown,
    )
)
