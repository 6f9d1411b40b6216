"""Per-case scores of a finished run: the seam every paired comparison between runs reads.

`per_case_scores(run_folder)` reads `results.jsonl` (the headline sample 0 of each case) and
turns each record into a `CaseRow` with a score in [0, 1]. How a record becomes a score
depends on the task kind (the `task` of the prompt snapshot), so other task types add a
reader to `SCORE_READERS` instead of touching the comparison code:

    SCORE_READERS.register("scoring", my_reader)

A reader gets the record and the run's `RunContext` (its prompt snapshot and summary), where
it finds what the kind scored with: the decision threshold, the score range, the settings.

A reader returning only 0 and 1 (right/wrong) gets McNemar's test in pairwise comparisons;
any other score gets the paired sign-flip test on the mean.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptops.errors import UserInputError
from promptops.llm.profile import Prices
from promptops.registry import Registry
from promptops.runs.folder import PROMPT, RESULTS, SUMMARY


@dataclass(frozen=True)
class CaseRow:
    """One case's outcome: `score` in [0, 1]; `expected`/`predicted` as the task keeps them
    (labels for classification, numbers for scoring); `predicted` None means no usable
    answer."""

    id: str
    score: float
    expected: str | float | None
    predicted: str | float | None
    invalid: bool
    error: bool
    latency_s: float
    cost_usd: float  # what the call cost this run (0 for an answer replayed from the cache)
    cached: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def price(self, prices: Prices | None) -> float:
        """What the call costs at `prices`, cached or not: a grid whose cells share the
        cache still compares what each endpoint would charge."""
        if prices is None or not self.cached:
            return self.cost_usd
        return prices.cost(self.prompt_tokens, self.completion_tokens)


@dataclass(frozen=True)
class RunContext:
    """What a reader may need besides the record: the prompt snapshot and the summary, as
    the run folder keeps them (empty when absent)."""

    prompt: dict[str, Any]
    summary: dict[str, Any]


Reader = Callable[[dict[str, Any], RunContext], CaseRow]

SCORE_READERS: Registry[Reader] = Registry("per-case score reader")


@dataclass(frozen=True)
class CaseScores:
    """Every scored case of one run, keyed by case id, and whether scores are right/wrong."""

    kind: str
    rows: dict[str, CaseRow]

    @property
    def binary(self) -> bool:
        return all(r.score in (0.0, 1.0) for r in self.rows.values())

    def mean(self) -> float:
        return sum(r.score for r in self.rows.values()) / len(self.rows) if self.rows else 0.0


def case_row(
    record: dict[str, Any],
    score: float,
    expected: str | float | None,
    predicted: str | float | None,
) -> CaseRow:
    """A `CaseRow` with the call facts of `record` and the kind's score."""
    error = bool(record.get("error"))
    return CaseRow(
        id=str(record["id"]),
        score=score,
        expected=expected,
        predicted=None if error else predicted,
        invalid=bool(record.get("invalid")) and not error,
        error=error,
        latency_s=float(record.get("latency_s") or 0.0),
        cost_usd=float(record.get("cost_usd") or 0.0),
        cached=bool(record.get("cached")),
        prompt_tokens=int(record.get("prompt_tokens") or 0),
        completion_tokens=int(record.get("completion_tokens") or 0),
    )


def classification_row(record: dict[str, Any], context: RunContext) -> CaseRow:
    """Right (1) or wrong (0): the predicted label equals the expected one."""
    predicted = None if record.get("error") else record.get("predicted")
    expected = record.get("expected")
    return case_row(
        record,
        1.0 if predicted is not None and predicted == expected else 0.0,
        None if expected is None else str(expected),
        None if predicted is None else str(predicted),
    )


def register_builtins() -> None:
    """Classification here; the other kinds' readers (`kindscores`, which imports this
    module) load on first use."""
    if "classification" not in SCORE_READERS:
        SCORE_READERS.register("classification", classification_row)
    from promptops.experiments.kindscores import register_kind_readers

    register_kind_readers()


def _json_object(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def task_kind(run_folder: Path) -> str:
    """The task of the prompt the run used (its snapshot), classification when none is kept."""
    kind = _json_object(run_folder / PROMPT).get("task")
    return kind if isinstance(kind, str) else "classification"


def per_case_scores(run_folder: Path) -> CaseScores:
    """The headline answer (sample 0) of every labelled test case of a run folder, scored."""
    register_builtins()
    kind = task_kind(run_folder)
    reader = SCORE_READERS.get(kind, where=str(run_folder / PROMPT))
    context = RunContext(_json_object(run_folder / PROMPT), _json_object(run_folder / SUMMARY))
    path = run_folder / RESULTS
    if not path.is_file():
        raise UserInputError("no results file in the run folder", where=str(path))
    rows: dict[str, CaseRow] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line)
            if (
                int(record.get("sample", 0)) != 0
                or record.get("expected") is None
                or record.get("split", "test") != "test"  # binary runs keep dev answers too
            ):
                continue
            row = reader(record, context)
            rows[row.id] = row
    return CaseScores(kind=kind, rows=rows)
