"""The report sections of a generation run, from its summary payload alone
(`GenerationRun.payload()`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptops.reports import fmt
from promptops.reports.common import cut
from promptops.reports.document import Block, Cell, Num, Paragraph, Section, Table, span
from promptops.tasks.sectionparts import baselines_section, metric_table, shown, slices_section

HEADLINE = (
    ("rouge1", "ROUGE-1 F (best reference, mean)"),
    ("rouge2", "ROUGE-2 F (best reference, mean)"),
    ("rouge_l", "ROUGE-L F (best reference, mean)"),
    ("bleu", "BLEU (sacrebleu corpus, all references)"),
    ("chrf", "chrF (sacrebleu corpus, all references)"),
    ("semantic_similarity", "Semantic similarity"),
)
_COLUMNS = (("rouge_l", "ROUGE-L"), ("bleu", "BLEU"), ("semantic_similarity", "Similarity"))


def generation_sections(payload: Mapping[str, Any]) -> list[Section]:
    sections = [_headline(payload)]
    for extra in (
        _assertions(payload),
        _judge(payload),
        baselines_section(payload, (*_COLUMNS, ("chrf", "chrF"))),
        slices_section(
            payload["slices"], (("rouge_l", "ROUGE-L"), ("assertion_pass_rate", "Checks passed"))
        ),
        _worst(payload),
    ):
        if extra is not None:
            sections.append(extra)
    return sections


def _headline(payload: Mapping[str, Any]) -> Section:
    blocks = metric_table(HEADLINE, payload["metrics"], payload["intervals"])
    notes = [
        "ROUGE by rouge-score, BLEU and chrF by sacrebleu (0-100 scale divided by 100); "
        "intervals are bootstrap percentiles over cases (corpus metrics recomputed from the "
        "resampled n-gram statistics)."
    ]
    method = payload.get("similarity_method")
    if method:
        notes.append(f"Semantic similarity is {method}, best reference per case, mean.")
    if payload.get("no_reference"):
        notes.append(
            f"{fmt.count(payload['no_reference'])} cases have no reference and are left out "
            "of the reference metrics (not scored 0)."
        )
    blocks += [Paragraph(span(text), tone="note") for text in notes]
    return Section("metrics", "Headline metrics", tuple(blocks))


def _assertions(payload: Mapping[str, Any]) -> Section | None:
    rows_in = payload.get("assertions") or []
    if not rows_in:
        return None
    rows: list[tuple[Cell, ...]] = [
        (
            span(a["name"]),
            Num(fmt.count(a["passed"])),
            Num(fmt.count(a["failed"])),
            Num(fmt.count(a["errors"])),
            Num(fmt.pct(a["pass_rate"]) if a["passed"] + a["failed"] else fmt.MISSING),
            Num(fmt.interval(a["low"], a["high"])),
        )
        for a in rows_in
    ]
    blocks: list[Block] = [
        Table(("Assertion", "Pass", "Fail", "Error", "Pass rate", "Wilson 95% CI"), tuple(rows)),
        Paragraph(
            span(
                "An error is a check that could not be made (no answer, no latency for a "
                "cached answer, unknown cost, no reference): counted apart, never a fail."
            ),
            tone="note",
        ),
    ]
    return Section("assertions", "Assertions", tuple(blocks))


def _judge(payload: Mapping[str, Any]) -> Section | None:
    j = payload.get("judge")
    if not j:
        return None
    total = j["graded"] + j["errors"]
    lines = [
        f"Graded {fmt.count(j['graded'])} of {fmt.count(total)} answers; "
        f"{fmt.count(j['errors'])} judge answers did not parse (errors, left out of the "
        "rates below and listed with the worst cases).",
        f"Pass rate {fmt.pct(j['pass_rate'])} (Wilson 95% CI {fmt.interval(j['low'], j['high'])})."
        if j["graded"]
        else "Pass rate: not measured (no judge answer could be read).",
    ]
    if j.get("mean_score") is not None:
        lines.append(f"Mean score {fmt.num(j['mean_score'])}.")
    a = j.get("agreement")
    if a is None:
        lines.append("No row carries a human label (`human:pass|fail` tag): agreement unknown.")
    elif a["n"] == 0:
        lines.append("Every human-labelled row got a judge error: agreement unknown.")
    else:
        lines.append(
            f"Agreement with human labels on {fmt.count(a['n'])} rows: Cohen's kappa "
            f"{fmt.num(a['kappa'])} (bootstrap 95% CI {fmt.interval(a['low'], a['high'])}), "
            f"raw agreement {fmt.pct(a['raw_agreement'])}; {fmt.count(a['judge_errors'])} "
            "labelled rows had a judge error."
        )
    return Section("judge", "Rubric judge", tuple(Paragraph(span(t)) for t in lines))


def _worst(payload: Mapping[str, Any]) -> Section | None:
    worst = payload.get("worst_cases") or []
    if not worst:
        return None
    rows: list[tuple[Cell, ...]] = []
    for w in worst:
        judge = w.get("judge") or {}
        judged = judge.get("outcome", "")
        if judged == "error":
            judged = f"error: {judge.get('reason', '')}"
        rows.append(
            (
                span(w["id"]),
                Num(fmt.num(w["rouge_l"])),
                cut(", ".join(w["failed_checks"]) or "none"),
                cut(judged or fmt.MISSING),
                cut("(no answer)" if w["raw_output"] is None else w["raw_output"]),
                cut(shown(w["expected"])),
            )
        )
    table = Table(
        ("Case", "ROUGE-L", "Checks not passed", "Judge", "Output", "References"), tuple(rows)
    )
    note = Paragraph(span("Failed checks and judge errors first, then the lowest ROUGE-L."))
    return Section("worst", "Worst cases", (note, table))
