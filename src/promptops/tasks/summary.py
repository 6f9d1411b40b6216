"""`summary.json` of a binary or scoring run: `kind` is the task, every headline number is
under `metrics` by its name, with an interval in `intervals`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from promptops.runs import summary as s
from promptops.runs.envelope import EvalEnvelope


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskInterval(_Model):
    estimate: float | None
    low: float | None
    high: float | None
    n_resamples: int
    undefined: int = 0


class TaskComparison(_Model):
    """The prompt against one baseline on the primary metric (paired over the test cases
    the prompt answered validly)."""

    metric: str
    prompt: float | None
    baseline: float | None
    diff: float  # prompt minus baseline
    low: float
    high: float
    decision: s.PairedDecision
    mcnemar_mid_p: float | None = None  # binary: right/wrong at each side's threshold
    prompt_better: bool
    prompt_worse: bool


class TaskBaseline(_Model):
    name: str
    status: Literal["fit", "not_fit"]
    reason: str | None = None
    metrics: dict[str, float | None] = {}
    threshold: float | None = None
    comparison: TaskComparison | None = None


class TaskSlice(_Model):
    tag: str
    n: int
    metrics: dict[str, float | None]


class TaskCase(_Model):
    id: str
    expected: str | None
    answer: float | None
    error: float | None  # |answer - expected| (binary: |score - truth|)
    raw_output: str | None
    reason: str | None = None  # why the answer is invalid
    input: dict[str, str]


class CalibrationPoint(_Model):
    low: float
    high: float
    n: int
    mean_expected: float | None
    mean_predicted: float | None


class Agreement(_Model):
    samples: int
    mean_agreement: float  # share of a case's samples equal to its most frequent answer
    unanimous_cases: int
    n_cases: int


class TaskSummary(EvalEnvelope):
    """The envelope (`kind` is the task) and the binary or scoring payload."""

    kind: Literal["binary", "scoring"]
    primary_metric: str
    higher_is_better: bool
    metrics: dict[str, float | None]
    intervals: dict[str, TaskInterval]
    positive_label: str | None = None
    threshold: float | None = None
    threshold_source: str | None = None  # max F1 on the dev split, or the default and why
    target_precision: float | None = None
    score_range: tuple[float, float] | None = None
    baselines: list[TaskBaseline]
    verdict: str
    slices: list[TaskSlice]
    worst_cases: list[TaskCase]
    invalid_cases: list[TaskCase]
    calibration: list[CalibrationPoint] = Field(default_factory=list)
    repeats: Agreement | None = None
