"""The extraction kind of run on the run lifecycle: `expected` checked as a JSON object, each
answer parsed and validated against the prompt's `output_schema`, the run scored by
`evaluate.evaluate_extraction` with the suite's `extraction:` settings."""

from __future__ import annotations

import json

from promptops.llm.types import Completion
from promptops.prompts import Prompt
from promptops.reports.document import Document
from promptops.runs.kinds import Answer, ScoredRun
from promptops.tasks.extraction.evaluate import ExtractionSettings, evaluate_extraction
from promptops.tasks.extraction.scoring import parse_answer
from promptops.tasks.extraction.sections import extraction_sections
from promptops.tasks.textkinds import (
    ExtractionSummary,
    TaskRowModel,
    repeat_agreement,
    resampling,
    scored_rows,
    settings_of,
    summary_fields,
    task_document,
    train_rows,
)


class Extraction:
    """A JSON object of fields per case, scored field by field against `expected`."""

    name = "extraction"
    tasks = ("extraction",)
    row_model = TaskRowModel
    summary_model = ExtractionSummary

    def check_expected(self, prompt: Prompt, expected: str | None) -> str | None:
        if expected is None:
            return None
        try:
            value = json.loads(expected)
        except json.JSONDecodeError:
            return f"expected is not a JSON object: {expected[:40]!r}"
        return None if isinstance(value, dict) else "expected must be a JSON object"

    def parse(self, prompt: Prompt, completion: Completion) -> Answer:
        if not completion.ok:
            return Answer()
        parsed = parse_answer(completion.text, prompt.output_schema)
        return Answer(
            value=parsed.obj,
            invalid=not parsed.schema_valid,
            extra={"parse_error": parsed.parse_error, "schema_errors": list(parsed.schema_errors)},
        )

    def summarize(self, run: ScoredRun) -> ExtractionSummary:
        suite = run.suite
        settings = settings_of(suite, "extraction", ExtractionSettings)
        rows = scored_rows(run, cost_known=run.profile.embedded)
        primary = suite.primary_metric if suite.primary_metric != "macro_f1" else "field_f1"
        result = evaluate_extraction(
            rows,
            train_rows(run.train),
            run.prompt.output_schema,
            settings,
            primary=primary,
            **resampling(suite),
        )
        payload = result.payload()
        metrics = payload["metrics"]
        measured = {k: v for k, v in metrics.items() if isinstance(v, float)}
        return ExtractionSummary(
            **summary_fields(
                run, rows, payload, primary, measured, 1 - metrics["schema_valid_rate"]
            ),
            normalization=payload["normalization"],
            settings={
                **settings.model_dump(mode="json"),
                "output_schema": run.prompt.output_schema,
            },
            repeats=repeat_agreement(
                run, lambda row: json.dumps(row.predicted, sort_keys=True, ensure_ascii=False)
            ),
        )


def extraction_document(summary: ExtractionSummary) -> Document:
    return task_document(summary, extraction_sections)
