"""One side of a comparison, read from a finished run folder.

`compare` needs the same few facts from a run folder and from a stored baseline record:
what was run (prompt, model, evalset), how it scored, and each case's outcome. A `RunSide`
holds exactly that, so the comparison code never cares where a side came from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from promptops.errors import UserInputError
from promptops.prompts.model import Prompt
from promptops.runs.comparison import Side
from promptops.runs.folder import PROMPT, RESULTS, SUMMARY, RunFolder
from promptops.runs.read import read_summary
from promptops.runs.rows import ClassificationRow
from promptops.runs.summary import ClassificationSummary

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0


@dataclass(frozen=True)
class CaseOutcome:
    """The headline answer (sample 0) to one case; `input` and `output` are None where the
    source did not keep them."""

    id: str
    expected: str
    predicted: str | None
    input: dict[str, Any] | None = None
    output: str | None = None

    @property
    def correct(self) -> bool:
        return self.predicted == self.expected


@dataclass(frozen=True)
class RunSide:
    info: Side
    prompt: Prompt | None
    cases: dict[str, CaseOutcome]
    n_boot: int
    seed: int


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserInputError("file not found", where=str(path)) from None
    except json.JSONDecodeError as exc:
        raise UserInputError(f"not valid JSON: {exc.msg}", where=f"{path}:{exc.lineno}") from None


def load_prompt_snapshot(payload: dict[str, Any], where: str) -> Prompt:
    """A prompt saved as `identity`, `content_hash` plus its model dump (prompt.json)."""
    fields = {k: v for k, v in payload.items() if k not in ("identity", "content_hash")}
    try:
        prompt = Prompt.model_validate(fields)
    except ValidationError as exc:
        raise UserInputError(
            f"not a valid prompt snapshot: {exc.errors()[0]['msg']}", where
        ) from None
    prompt._source = where
    return prompt


def load_run(path: Path) -> RunSide:
    """A finished run folder: summary.json, prompt.json (if kept) and results.jsonl."""
    if not (path / SUMMARY).is_file():
        raise UserInputError(
            f"no {SUMMARY}: not a finished run folder (runs write it when they end)",
            where=str(path),
        )
    summary = read_summary(path / SUMMARY)
    if not isinstance(summary, ClassificationSummary):
        kind = getattr(summary, "kind", "?")
        raise UserInputError(f"a {kind} run; compare reads classification runs", str(path))
    prompt_file = path / PROMPT
    prompt = (
        load_prompt_snapshot(read_json(prompt_file), str(prompt_file))
        if prompt_file.is_file()
        else None
    )
    interval = summary.intervals.get("macro_f1")
    return RunSide(
        info=Side(
            source="run",
            path=str(path),
            suite=summary.suite,
            prompt=summary.prompt,
            model=summary.model,
            evalset=summary.evalset,
            labels=summary.labels,
            n_cases=summary.n_cases,
            primary_metric=summary.primary_metric,
            metrics={
                "accuracy": summary.metrics.accuracy,
                "macro_f1": summary.metrics.macro_f1,
                "invalid_rate": summary.metrics.invalid_rate,
            },
            thresholds=summary.thresholds,
            passed=summary.passed,
        ),
        prompt=prompt,
        cases=_outcomes(path / RESULTS),
        n_boot=interval.n_boot if interval else DEFAULT_RESAMPLES,
        seed=interval.seed if interval else DEFAULT_SEED,
    )


def _outcomes(path: Path) -> dict[str, CaseOutcome]:
    if not path.is_file():
        raise UserInputError("no results file in the run folder", where=str(path))
    out: dict[str, CaseOutcome] = {}
    for row in RunFolder(path.parent).rows(ClassificationRow):
        if row.sample != 0 or row.expected is None:
            continue
        output = row.raw_output
        if output is None and row.error:
            output = f"error: {row.error}"
        out[row.id] = CaseOutcome(
            id=row.id,
            expected=row.expected,
            predicted=row.predicted,
            input=row.input,
            output=output,
        )
    return out
