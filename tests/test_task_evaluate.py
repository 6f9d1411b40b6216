"""Extraction and generation runs scored end to end on the shipped slots and e2e cases:
baselines, paired tests, slices, worst cases, thresholds and regressions against a saved run."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from promptops.tasks.casework import TaskRow
from promptops.tasks.extraction import evaluate as ex
from promptops.tasks.generation import evaluate as gen
from promptops.tasks.generation.assertions import AssertionSpec
from promptops.tasks.generation.judge import JudgeSpec, read_grade

ROOT = Path(__file__).resolve().parent.parent
N_RESAMPLES = 300


def _rows(name: str, split: str) -> list[dict[str, Any]]:
    path = ROOT / "evalsets" / name / f"{name}.jsonl"
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    return [row for row in rows if row["split"] == split]


def _task_rows(rows: list[dict[str, Any]], outputs: list[str | None]) -> list[TaskRow]:
    return [
        TaskRow(r["id"], r["input"], r["expected"], tuple(r["tags"]), out, 100.0, None)
        for r, out in zip(rows, outputs, strict=True)
    ]


SLOT_TEST, SLOT_TRAIN = _rows("slots", "test"), _rows("slots", "train")
SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "string"},
}
SETTINGS = ex.ExtractionSettings.model_validate({"normalize": {"default": ["case", "whitespace"]}})


def _slot_outputs(keep: float, seed: int) -> list[str | None]:
    rng = random.Random(seed)
    out: list[str | None] = []
    for i, row in enumerate(SLOT_TEST):
        if i % 10 == 0:
            out.append("Sure! The slots are: playlist")
        elif i % 10 == 1:
            out.append(json.dumps({"playlist": ["a", "b"]}))  # schema-invalid
        else:
            out.append(
                json.dumps({k: v for k, v in row["expected"].items() if rng.random() < keep})
            )
    return out


def test_extraction_run_has_metrics_baseline_slices_and_worst_cases() -> None:
    rows = _task_rows(SLOT_TEST, _slot_outputs(0.9, 1))
    train = _task_rows(SLOT_TRAIN, [None] * len(SLOT_TRAIN))
    run = ex.evaluate_extraction(rows, train, SCHEMA, SETTINGS, n_resamples=N_RESAMPLES)
    m = run.metrics
    n = len(rows)
    unparseable = len(range(0, n, 10))
    assert m.parse_error_rate == pytest.approx(unparseable / n)
    assert m.schema_valid_rate == pytest.approx(1 - (unparseable + len(range(1, n, 10))) / n)
    assert run.intervals["field_f1"]["low"] < m.field_f1 < run.intervals["field_f1"]["high"]
    assert run.intervals["field_precision"]["estimate"] == pytest.approx(m.field_precision)
    assert run.intervals["field_recall"]["estimate"] == pytest.approx(m.field_recall)
    gaz = run.baselines["gazetteer"]
    assert 0 < gaz["field_f1"] < m.field_f1
    [cmp] = run.comparisons
    assert cmp.a == "gazetteer" and cmp.b_better
    assert cmp.comparison.difference == pytest.approx(m.field_f1 - gaz["field_f1"])
    assert {s["tag"] for s in run.slices} >= {"intent:GetWeather", "slots:2"}
    assert run.worst[0]["raw_output"] == "Sure! The slots are: playlist"
    assert run.worst[0]["problem"].startswith("not JSON")
    assert [r["id"] for r in run.records] == [r.id for r in rows]
    assert run.records[1]["schema_errors"] and run.records[1]["answer"] == {"playlist": ["a", "b"]}


def test_extraction_regression_against_saved_answers_is_caught() -> None:
    good, bad = _slot_outputs(0.95, 2), _slot_outputs(0.5, 3)
    rows = _task_rows(SLOT_TEST, bad)
    result = ex.against_saved(rows, good, SCHEMA, SETTINGS, n_resamples=N_RESAMPLES)
    assert result.b_worse and result.comparison.difference < -0.1
    same = ex.against_saved(_task_rows(SLOT_TEST, good), good, SCHEMA, SETTINGS)
    assert same.comparison.difference == 0 and not same.significant


E2E_TEST, E2E_TRAIN = _rows("e2e", "test"), _rows("e2e", "train")
ASSERTIONS = TypeAdapter(tuple[AssertionSpec, ...]).validate_python(
    [
        {"type": "max-chars", "value": 200},
        {"type": "similar", "threshold": 0.6},
        {"type": "max-cost-usd", "value": 0.01},
    ]
)


def _similarity(texts: Any, targets: Any) -> list[float]:
    """Word-overlap stand-in for the embedder (the real one is tested on its own)."""
    out = []
    for text, group in zip(texts, targets, strict=True):
        words = set(text.lower().split())
        out.append(max(len(words & set(t.lower().split())) / max(len(words), 1) for t in group))
    return out


def _e2e_outputs(good: bool) -> list[str | None]:
    if good:
        return [r["expected"][-1] if i % 3 else None for i, r in enumerate(E2E_TEST)]
    return [" ".join(r["expected"][0].split()[:5]) for r in E2E_TEST]


def test_generation_run_with_assertions_judge_and_baseline() -> None:
    outputs = _e2e_outputs(good=True)
    rows = _task_rows(E2E_TEST, outputs)
    rows[4] = TaskRow(rows[4].id, rows[4].input, [], ("human:pass",), "text", None, None)
    train = _task_rows(E2E_TRAIN, [None] * len(E2E_TRAIN))
    spec = JudgeSpec(prompt="judge", answer="score", range=(1, 5), pass_at=4)
    raw = ["5" if i % 4 else "great!" for i in range(len(rows))]
    settings = gen.GenerationSettings(assertions=ASSERTIONS, judge=spec)
    run = gen.evaluate_generation(
        rows,
        train,
        settings,
        similarity=_similarity,
        similarity_method="word overlap",
        grades=[read_grade(r, spec) for r in raw],
        judge_raw=raw,
        n_resamples=N_RESAMPLES,
    )
    assert run.no_reference == 1 and run.records[4]["rouge_l"] is None
    assert set(run.metrics) >= {
        "rouge1",
        "rouge2",
        "rouge_l",
        "bleu",
        "chrf",
        "semantic_similarity",
    }
    assert run.intervals["bleu"]["low"] <= run.metrics["bleu"] <= run.intervals["bleu"]["high"]
    by_name = {a["name"]: a for a in run.assertions}
    assert by_name["max-cost-usd:0.01"]["errors"] == len(rows)  # cost never known
    assert by_name["max-chars:200"]["errors"] == len(range(0, len(rows), 3))  # failed calls
    judge_errors = len(range(0, len(rows), 4))
    assert run.judge is not None and run.judge["errors"] == judge_errors
    assert run.metrics["judge.error_rate"] == pytest.approx(judge_errors / len(rows))
    assert run.records[0]["judge"] == {
        "outcome": "error",
        "score": None,
        "reason": "not one number: 'great!'",
        "raw": "great!",
    }
    assert "nearest_reference" in run.baselines and run.comparisons[0].metric == "rouge_l"
    assert run.worst[0]["failed_checks"]


@pytest.mark.parametrize("primary", ["rouge_l", "bleu"])
def test_generation_regression_against_saved_answers_is_caught(primary: str) -> None:
    rows = _task_rows(E2E_TEST, _e2e_outputs(good=False))
    result = gen.against_saved(
        rows, [r["expected"][-1] for r in E2E_TEST], gen.GenerationSettings(), primary=primary
    )
    assert result.b_worse and result.metric == primary


def test_reports_render_from_the_payload_alone_and_stably() -> None:
    from promptops.reports.document import Document
    from promptops.reports.render import render_html, render_markdown
    from promptops.tasks.extraction.sections import extraction_sections
    from promptops.tasks.generation.sections import generation_sections

    rows = _task_rows(SLOT_TEST, _slot_outputs(0.9, 1))
    train = _task_rows(SLOT_TRAIN, [None] * len(SLOT_TRAIN))
    ex_payload = ex.evaluate_extraction(
        rows, train, SCHEMA, SETTINGS, n_resamples=N_RESAMPLES
    ).payload()
    rows = _task_rows(E2E_TEST, _e2e_outputs(good=True))
    train = _task_rows(E2E_TRAIN, [None] * len(E2E_TRAIN))
    spec = JudgeSpec(prompt="judge")
    raw = ["PASS" if i % 4 else "maybe" for i in range(len(rows))]
    gen_payload = gen.evaluate_generation(
        rows,
        train,
        gen.GenerationSettings(assertions=ASSERTIONS, judge=spec),
        similarity=_similarity,
        similarity_method="word overlap",
        grades=[read_grade(r, spec) for r in raw],
        judge_raw=raw,
        n_resamples=N_RESAMPLES,
    ).payload()
    for payload, build, must in (
        (ex_payload, extraction_sections, ["Field F1 (micro)", "gazetteer", "not JSON"]),
        (gen_payload, generation_sections, ["ROUGE-L F", "nearest_reference", "Rubric judge"]),
    ):
        # through JSON, as a report is rendered from summary.json
        loaded = json.loads(json.dumps(payload))
        doc = Document("run", sections=tuple(build(loaded)))
        markdown = render_markdown(doc)
        assert markdown == render_markdown(Document("run", sections=tuple(build(loaded))))
        assert all(text in markdown for text in must), markdown[:2000]
        assert "<table" in render_html(doc)
    assert "did not parse" in render_markdown(
        Document("g", sections=tuple(generation_sections(json.loads(json.dumps(gen_payload)))))
    )
