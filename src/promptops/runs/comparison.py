"""The versioned result of `promptops compare A B`: what `comparison.json` holds.

A is the reference (a run folder or a stored baseline record), B the candidate. Every number
is computed on the cases both sides share (same id, sample 0), so a changed evalset cannot
pass for a better or worse prompt; what changed in the evalset is recorded next to the
numbers instead of being hidden. The model has nothing volatile in it: the same two inputs
always give the same JSON, Markdown and HTML.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from promptops.runs.summary import (
    ClassMetrics,
    EvalsetInfo,
    ModelInfo,
    PairedBootstrap,
    PairedDecision,
    PromptInfo,
    SignFlip,
    ThresholdResult,
)

SCHEMA_VERSION = 1

Status = Literal["regressed", "improved", "no_significant_change"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Side(_Model):
    """One side of the comparison as it was run; `metrics` are on all of its own cases."""

    source: Literal["run", "baseline"]
    path: str
    suite: str
    prompt: PromptInfo
    model: ModelInfo
    evalset: EvalsetInfo
    labels: list[str]
    n_cases: int
    primary_metric: str
    metrics: dict[str, float]
    thresholds: list[ThresholdResult]
    passed: bool


class MetricDelta(_Model):
    """A metric of A and of B on the shared cases, and a bootstrap interval of B minus A."""

    metric: str
    a: float
    b: float
    diff: float
    low: float
    high: float
    level: float
    n_boot: int
    seed: int


class McNemarFlips(_Model):
    """Exact McNemar test on paired correctness: only the flipped cases carry information."""

    broken: int  # right in A, wrong in B
    fixed: int  # wrong in A, right in B
    p_value: float  # exact
    mid_p: float | None = None


class ClassDelta(_Model):
    label: str
    support: int
    a: ClassMetrics
    b: ClassMetrics


class FlippedCase(_Model):
    """A case whose correctness changed; input and outputs are None where a side kept none
    (a baseline record stores predictions only)."""

    id: str
    expected: str
    predicted_a: str | None
    predicted_b: str | None
    input: dict[str, Any] | None
    output_a: str | None
    output_b: str | None


class Flips(_Model):
    fixed: list[FlippedCase]
    broken: list[FlippedCase]
    changed_still_wrong: int  # wrong in both, with a different answer


class PromptChange(_Model):
    changed: bool
    diff: str  # unified diff of the canonical prompt text; empty when unchanged or unknown
    note: str | None = None


class EvalsetChange(_Model):
    """Whether both sides ran on the same cases; `changed` is shown first in every report."""

    changed: bool
    same_file: bool
    n_shared: int
    only_in_a: list[str]
    only_in_b: list[str]
    relabelled: list[str]  # same id, different expected label: left out of the shared cases
    message: str


class SettingRow(_Model):
    """One line of the side-by-side setup table."""

    name: str
    a: str
    b: str
    changed: bool


class ComparisonVerdict(_Model):
    status: Status
    test: str  # the test that decides the primary metric
    p_value: float
    diff: float
    decision: PairedDecision | None = None  # with the MDE and why a non-result is one
    b_passed: bool
    fails: bool  # exit code 1: a significant regression, or B fails its own thresholds
    explanation: str


class ComparisonSummary(_Model):
    schema_version: int = SCHEMA_VERSION
    kind: Literal["comparison"] = "comparison"
    alpha: float
    primary_metric: str
    a: Side
    b: Side
    labels: list[str]
    n_shared: int
    metrics: list[MetricDelta]
    paired_bootstrap: PairedBootstrap  # macro-F1 of B minus A
    sign_flip: SignFlip | None = None  # macro-F1 of B minus A
    mcnemar: McNemarFlips
    per_class: list[ClassDelta]
    flips: Flips
    prompt: PromptChange
    evalset: EvalsetChange
    setup: list[SettingRow]
    verdict: ComparisonVerdict

    @property
    def exit_code(self) -> int:
        return 1 if self.verdict.fails else 0
