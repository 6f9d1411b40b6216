"""What the extraction and generation run kinds share on the run lifecycle: their summary
models, their report documents, and reading the scored rows back as `TaskRow`s.

The summary is the common envelope plus the task's payload (`ExtractionRun.payload()`,
`GenerationRun.payload()`), so report.md renders from summary.json alone and stays
byte-stable (volatile facts only in the HTML run details).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from pydantic import Field

from promptops.errors import EvalsetError
from promptops.reports import fmt
from promptops.reports.common import (
    eval_meta,
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
    Document,
    Paragraph,
    Section,
    Span,
    Strong,
    span,
)
from promptops.runs.envelope import EvalEnvelope, ThresholdResult
from promptops.runs.kinds import ScoredRun
from promptops.runs.rows import CaseRow, Tally
from promptops.tasks.casework import TaskRow


class TaskSummary(EvalEnvelope):
    """An extraction or generation summary: the envelope and the task's payload."""

    primary_metric: str
    metrics: dict[str, Any]
    intervals: dict[str, dict[str, float]]
    baselines: list[dict[str, Any]]
    slices: list[dict[str, Any]]
    worst_cases: list[dict[str, Any]]
    settings: dict[str, Any]
    repeats: dict[str, Any] | None = None  # `--repeat N`: how often a case's answers agree


class ExtractionSummary(TaskSummary):
    kind: Literal["extraction"] = "extraction"
    normalization: dict[str, str]


class GenerationSummary(TaskSummary):
    kind: Literal["generation"] = "generation"
    no_reference: int
    similarity_method: str | None
    assertions: list[dict[str, Any]]
    judge: dict[str, Any] | None


class TaskRowModel(CaseRow):
    """A result row whose `predicted` is any JSON value (the parsed object, or the text)."""

    predicted: Any = None
    parse_error: str | None = None
    schema_errors: list[str] = Field(default_factory=list)


def expected_value(text: str | None) -> Any:
    """An evalset `expected` as written: objects and lists are stored as JSON text."""
    if text is None:
        return None
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


def scored_rows(run: ScoredRun, cost_known: bool) -> list[TaskRow]:
    """The headline answer of every test case (sample 0), in case order."""
    rows = sorted((r for r in run.rows() if r.sample == 0), key=lambda r: r.index)
    return [
        TaskRow(
            id=r.id,
            input=dict(r.input),
            expected=expected_value(r.expected),
            tags=tuple(r.tags),
            output=None if r.error else r.raw_output,
            latency_ms=None if r.cached or r.error else r.latency_s * 1000,
            cost_usd=r.cost_usd if cost_known and not r.error else None,
        )
        for r in rows
    ]


MAX_FLAKY = 20


def repeat_agreement(
    run: ScoredRun, canonical: Callable[[CaseRow], str | None]
) -> dict[str, Any] | None:
    """With `--repeat N`: per case, the share of its N answers equal to its most frequent
    one (`canonical` says when two answers are equal; a failed call is the answer None);
    the mean over cases and the cases that did not always agree. None for one sample."""
    answers: dict[str, list[str | None]] = {}
    for row in run.rows():
        answers.setdefault(row.id, []).append(None if row.error else canonical(row))
    if not answers or max(map(len, answers.values())) < 2:
        return None
    agreement = {
        case: Counter(found).most_common(1)[0][1] / len(found) for case, found in answers.items()
    }
    flaky = sorted(case for case, share in agreement.items() if share < 1)
    return {
        "k": min(map(len, answers.values())),
        "mean_agreement": sum(agreement.values()) / len(agreement),
        "n_flaky": len(flaky),
        "flaky_cases": flaky[:MAX_FLAKY],
    }


def train_rows(cases: Iterable[Any]) -> list[TaskRow]:
    return [
        TaskRow(c.id, dict(c.input), expected_value(c.expected), tuple(c.tags), None) for c in cases
    ]


def settings_of(suite: Any, key: str, model: Any) -> Any:
    """The suite's `extraction:` / `generation:` mapping validated as `model`."""
    from pydantic import ValidationError

    raw = getattr(suite, key, None) or {}
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in (key, *first["loc"]))
        raise EvalsetError(f"{first['msg']}", where=f"evalsets/{suite.name}.yaml: {where}") from exc


def resampling(suite: Any) -> dict[str, Any]:
    """The suite's statistics settings, as the text kinds' evaluate functions take them."""
    return {
        "alpha": suite.alpha,
        "n_resamples": suite.bootstrap_samples,
        "seed": suite.seed,
        "worst_cases": suite.worst_cases,
    }


def verdict_checks(
    run: ScoredRun, measured: Mapping[str, float | None], baselines: list[dict[str, Any]]
) -> list[ThresholdResult]:
    """The suite's thresholds, then its `must_beat` rule: with any rule but `none`, the prompt
    must be significantly better than every baseline on the primary metric (one row each)."""
    checks = run.check_thresholds(measured)
    if run.suite.must_beat == "none":
        return checks
    for b in baselines:
        paired = b.get("paired")
        better = paired is not None and paired["outcome"] == "better"
        checks.append(
            ThresholdResult(
                metric=f"beats_{b['name']}_baseline",
                op=">=",
                value=1,
                actual=1.0 if better else 0.0,
                passed=better,
                note=None if better else "not demonstrated (no significant improvement)",
            )
        )
    return checks


def summary_fields(
    run: ScoredRun,
    rows: list[TaskRow],
    payload: Mapping[str, Any],
    primary: str,
    measured: Mapping[str, float | None],
    invalid_rate: float,
) -> dict[str, Any]:
    """The fields every text kind's summary shares: header, tally, the payload's headline parts
    and the verdict (thresholds on `measured` plus error and invalid rates, then `must_beat`)."""
    n = len(rows)
    checked = {
        **measured,
        "error_rate": sum(r.output is None for r in rows) / n if n else 0.0,
        "invalid_rate": invalid_rate,
    }
    checks = verdict_checks(run, checked, payload["baselines"])
    tally = Tally()
    for r in run.rows():
        tally.add(r)
    return {
        **run.header.fields(),
        **tally.fields(run.stats),
        "primary_metric": primary,
        "metrics": payload["metrics"],
        "intervals": payload["intervals"],
        "baselines": payload["baselines"],
        "slices": payload["slices"],
        "worst_cases": payload["worst_cases"],
        "thresholds": checks,
        "passed": all(t.passed for t in checks),
    }


def task_document(
    s: TaskSummary, sections: Callable[[Mapping[str, Any]], list[Section]]
) -> Document:
    payload = s.model_dump(mode="json")
    blocks: list[Block] = [
        Banner(
            s.passed,
            span(Strong("PASS" if s.passed else "FAIL"), f": {threshold_status(s.thresholds)}"),
        )
    ]
    if s.thresholds:
        blocks.append(threshold_table(s.thresholds))
    v = s.volatile
    body = [
        Section("verdict", "Verdict", tuple(blocks)),
        *sections(payload),
        *_repeats(s),
        findings_section("Pre-flight findings", s.findings),
        usage_section(s.usage),
        run_details(
            v, s.usage, {"p50": v.latency_p50_s, "p95": v.latency_p95_s, "p99": v.latency_p99_s}
        ),
    ]
    return Document(
        title=f"Eval report: {s.suite} ({s.kind})",
        meta=_meta(s),
        sections=tuple(body),
        footer=footer("summary.json", s.schema_version),
    )


def _repeats(s: TaskSummary) -> list[Section]:
    r = s.repeats
    if r is None:
        return []
    text = (
        f"{r['k']} answers per case: mean agreement {fmt.pct(r['mean_agreement'])} (share of a "
        f"case's answers equal to its most frequent one); {fmt.count(r['n_flaky'])} cases did "
        "not always agree. Headline metrics score the first answer of each case."
    )
    blocks: list[Block] = [Paragraph(span(text))]
    if r["flaky_cases"]:
        blocks.append(Paragraph(span("Cases that changed: " + ", ".join(r["flaky_cases"]))))
    return [Section("repeats", "Repeated answers", tuple(blocks))]


def _meta(s: TaskSummary) -> tuple[tuple[str, Span], ...]:
    return eval_meta(
        s,
        lambda splits: (
            f"{fmt.count(s.n_cases)} test cases scored ({splits}); errors "
            f"{fmt.count(s.n_errors)}, invalid {fmt.count(s.n_invalid)}"
        ),
    )
