"""The generation kind of run on the run lifecycle: `expected` is one reference, a JSON list
of references, or nothing; the answer is the text; the run is scored by
`evaluate.evaluate_generation` with the suite's `generation:` settings. The rubric judge is
a second prompt, sent here through the same client and response cache once every answer is
in (its requests are cached like any other, so a resumed run does not pay twice)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from promptops.llm.types import Completion
from promptops.prompts import Prompt, build_request, declared_variables
from promptops.reports.document import Document
from promptops.runs.kinds import Answer, ScoredRun
from promptops.runs.lifecycle import open_client
from promptops.tasks.casework import TaskRow
from promptops.tasks.generation.evaluate import GenerationSettings, evaluate_generation
from promptops.tasks.generation.judge import judge_variables, read_grade
from promptops.tasks.generation.sections import generation_sections
from promptops.tasks.generation.textmetrics import references_of
from promptops.tasks.textkinds import (
    GenerationSummary,
    TaskRowModel,
    repeat_agreement,
    resampling,
    scored_rows,
    settings_of,
    summary_fields,
    task_document,
    train_rows,
)

_PRIMARY = ("rouge1", "rouge2", "rouge_l", "bleu", "chrf")


class Generation:
    """Free text per case, scored against its references, assertions and an optional judge."""

    name = "generation"
    tasks = ("generation",)
    row_model = TaskRowModel
    summary_model = GenerationSummary

    def check_expected(self, prompt: Prompt, expected: str | None) -> str | None:
        if expected is None or not expected.lstrip().startswith("["):
            return None
        try:
            value = json.loads(expected)
        except json.JSONDecodeError:
            return None  # a reference that happens to start with "["
        if not all(isinstance(ref, str) for ref in value):
            return "a list of references must hold strings only"
        return None

    def parse(self, prompt: Prompt, completion: Completion) -> Answer:
        """The text is the answer; an empty one is an answer too (it scores 0)."""
        return Answer(value=completion.text if completion.ok else None)

    def summarize(self, run: ScoredRun) -> GenerationSummary:
        suite = run.suite
        settings = settings_of(suite, "generation", GenerationSettings)
        rows = scored_rows(run, cost_known=run.profile.embedded)
        similarity, method = None, None
        if settings.similarity or any(a.type == "similar" for a in settings.assertions):
            from promptops.tasks.generation.similarity import METHOD, Embedder

            similarity, method = Embedder().best_cosines, METHOD
        grades, raw = None, None
        if settings.judge is not None:
            judge = suite.prompt_from(settings.judge.prompt)
            raw = asyncio.run(_judge_answers(run, judge, rows))
            grades = [read_grade(text, settings.judge) for text in raw]
        primary = suite.primary_metric if suite.primary_metric in _PRIMARY else "rouge_l"
        result = evaluate_generation(
            rows,
            train_rows(run.train),
            settings,
            similarity=similarity,
            similarity_method=method,
            grades=grades,
            judge_raw=raw,
            primary=primary,
            **resampling(suite),
        )
        payload = result.payload()
        return GenerationSummary(
            **summary_fields(run, rows, payload, primary, payload["metrics"], 0.0),
            no_reference=payload["no_reference"],
            similarity_method=payload["similarity_method"],
            assertions=payload["assertions"],
            judge=payload["judge"],
            settings=settings.model_dump(mode="json", by_alias=True),
            repeats=repeat_agreement(run, lambda row: row.raw_output),
        )


async def _judge_answers(
    run: ScoredRun, judge: Prompt, rows: Sequence[TaskRow]
) -> list[str | None]:
    """The judge's raw answer per case (None: no answer to grade, or the call failed)."""
    declared = list(declared_variables(judge))
    async with open_client(run.profile) as client:

        async def one(row: TaskRow) -> str | None:
            if row.output is None:
                return None
            variables = judge_variables(
                declared, row.input, row.output, references_of(row.expected)
            )
            completion = await client.complete(build_request(judge, variables))
            return completion.text if completion.ok else None

        return list(await asyncio.gather(*(one(row) for row in rows)))


def generation_document(summary: GenerationSummary) -> Document:
    return task_document(summary, generation_sections)
