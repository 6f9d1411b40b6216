"""The versioned results model of a classification run: what `summary.json` holds.

Reports (Markdown, HTML) and `compare` render from this model alone and never re-run
anything. Fields that change between two runs with the same answers (run id, timestamps,
latencies, durations, cache counts) are grouped under `volatile`, so the Markdown report can
leave them out and stay byte-identical.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from promptops.runs.envelope import (
    SCHEMA_VERSION,
    EvalEnvelope,
    EvalsetInfo,
    Finding,
    ModelInfo,
    PromptInfo,
    ThresholdResult,
    Usage,
    Volatile,
)

__all__ = [
    "SCHEMA_VERSION",
    "BaselineResult",
    "CalibrationEffect",
    "CaseView",
    "ClassMetrics",
    "ClassRecall",
    "ClassificationMetrics",
    "ClassificationSummary",
    "Confusion",
    "EvalsetInfo",
    "Finding",
    "Interval",
    "McNemar",
    "ModelInfo",
    "PairedBootstrap",
    "PairedDecision",
    "PromptInfo",
    "ReliabilityBin",
    "Repeats",
    "Sensitivity",
    "SignFlip",
    "SliceGap",
    "SliceMetrics",
    "ThresholdResult",
    "Usage",
    "Verdict",
    "Volatile",
    "WorstCases",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClassMetrics(_Model):
    precision: float
    recall: float
    f1: float
    support: int


class ReliabilityBin(_Model):
    lower: float
    upper: float
    count: int
    confidence: float | None
    accuracy: float | None


class Confusion(_Model):
    """Rows are expected labels; columns are predicted labels plus a final `invalid` column."""

    labels: list[str]
    columns: list[str]
    matrix: list[list[int]]


class Interval(_Model):
    estimate: float
    low: float
    high: float
    level: float = 0.95
    n_boot: int
    seed: int


class ClassificationMetrics(_Model):
    accuracy: float
    macro_f1: float
    invalid_rate: float
    per_class: dict[str, ClassMetrics]
    confusion: Confusion
    pr_auc_macro: float | None = None
    ece: float | None = None
    reliability: list[ReliabilityBin] | None = None


class McNemar(_Model):
    b: int = Field(description="cases the prompt got right and the baseline wrong")
    c: int = Field(description="cases the baseline got right and the prompt wrong")
    p_value: float  # exact
    mid_p: float | None = None


class SignFlip(_Model):
    """The paired sign-flip permutation test of a metric (prompt minus baseline)."""

    metric: str
    diff: float
    p_value: float
    n_perm: int  # 0: every swap enumerated, an exact p-value
    seed: int


class PairedDecision(_Model):
    """The test that decides a paired comparison on the primary metric, what it found and
    what the sample could have detected (see `evals.paired`)."""

    metric: str
    test: str
    diff: float  # prompt (or B) minus baseline (or A)
    p_value: float
    alpha: float
    outcome: Literal["significant", "not_significant", "underpowered", "too_small", "identical"]
    n: int
    discordant: int
    smallest_p: float
    mde: float | None
    power: float
    mde_method: str


class Sensitivity(_Model):
    """The minimum detectable difference of the primary metric at this suite's size."""

    metric: str
    n: int
    alpha: float
    power: float
    mde: float | None
    method: str
    against: str | None  # the baseline it is paired with; None: the metric alone


class PairedBootstrap(_Model):
    metric: str
    diff: float  # prompt minus baseline
    low: float
    high: float
    p_value: float
    n_boot: int
    seed: int


class BaselineResult(_Model):
    name: str
    description: str
    status: Literal["ok", "not_fit"]
    reason: str | None = None
    metrics: ClassificationMetrics | None = None
    mcnemar: McNemar | None = None
    paired_bootstrap: PairedBootstrap | None = None
    sign_flip: SignFlip | None = None
    decision: PairedDecision | None = None
    prompt_significantly_better: bool | None = None


class Verdict(_Model):
    best_baseline: str | None
    beats_best_baseline: bool | None
    explanation: str


class SliceMetrics(_Model):
    tag: str
    n: int
    accuracy: float
    macro_f1: float


class SliceGap(_Model):
    tag_a: str
    tag_b: str
    metric: str
    gap: float


class CaseView(_Model):
    """One case shown in a report: its input and the model's answer."""

    id: str
    input: dict[str, Any]
    expected: str | None
    predicted: str | None
    confidence: float | None = None
    raw_output: str | None = None
    error: str | None = None


class ClassRecall(_Model):
    label: str
    recall: float
    support: int
    examples: list[CaseView]


class WorstCases(_Model):
    confident_wrong: list[CaseView]
    lowest_recall: list[ClassRecall]
    errors: list[CaseView] = Field(default_factory=list)


class Repeats(_Model):
    k: int
    mean_agreement: float
    pass_hat_k: float
    flaky_cases: list[str]


class CalibrationEffect(_Model):
    """What contextual calibration did on this run: the headline metrics are calibrated;
    these are the same answers decided by the model's own probabilities."""

    method: str
    prior: dict[str, float]
    uncalibrated_accuracy: float
    uncalibrated_macro_f1: float
    changed_answers: int


class ClassificationSummary(EvalEnvelope):
    kind: Literal["classification"] = "classification"
    labels: list[str]
    primary_metric: str = "macro_f1"
    metrics: ClassificationMetrics
    intervals: dict[str, Interval]
    sensitivity: Sensitivity | None = None
    baselines: list[BaselineResult]
    verdict: Verdict
    slices: list[SliceMetrics]
    largest_gap: SliceGap | None
    worst_cases: WorstCases
    repeats: Repeats | None = None
    calibration: CalibrationEffect | None = None
