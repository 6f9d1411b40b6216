"""A binary or scoring suite: `evalsets/NAME.yaml`, like a classification suite, with the
task's own metrics for `primary_metric` and `thresholds` (the run kinds' `suite_model`).

A threshold is written `{metric: ">= 0.6"}` or `{metric: {min: 0.6}}`; the metric must be one
the task reports (or `invalid_rate`, `error_rate`).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from promptops.evals.suite import LeakagePolicy, PiiPolicy, PromptSuite, SplitFractionsModel
from promptops.suites import Bound
from promptops.tasks.binary import DEFAULT_TARGET_PRECISION

_BOUND = re.compile(r"^\s*(>=|<=)\s*([-+]?\d+(?:\.\d*)?)\s*$")


class TaskSuite(PromptSuite):
    primary_metric: str | None = None  # None: the task's (pr_auc, mae)
    thresholds: dict[str, Bound] = Field(default_factory=dict)
    must_beat: Literal["none", "first", "best"] = Field(
        "none",
        description="first: the first listed baseline; best: every baseline, significantly",
    )
    baselines: tuple[str, ...] | None = None  # None: the task's defaults
    target_precision: float = Field(DEFAULT_TARGET_PRECISION, gt=0, le=1)
    leakage: LeakagePolicy = Field(default_factory=LeakagePolicy)
    pii: PiiPolicy = Field(default_factory=PiiPolicy)
    split: Literal["given", "auto"] = "given"
    split_fractions: SplitFractionsModel = Field(default_factory=SplitFractionsModel)
    temporal_leakage: Literal["fail", "warn"] = "fail"
    repeat: int = Field(1, ge=1)
    seed: int = 13
    bootstrap_samples: int = Field(1000, ge=100)
    alpha: float = Field(0.05, gt=0, lt=1)
    worst_cases: int = Field(10, ge=0)

    @field_validator("thresholds", mode="before")
    @classmethod
    def _bounds(cls, value: object) -> object:
        """`">= 0.6"` is `{min: 0.6}`, `"<= 0.8"` is `{max: 0.8}`."""
        if not isinstance(value, dict):
            return value
        out: dict[object, object] = {}
        for key, bound in value.items():
            if isinstance(bound, str):
                match = _BOUND.match(bound)
                if match is None:
                    raise ValueError(f"{key}: write a bound as '>= 0.6' or '<= 0.2', got {bound!r}")
                op, number = match.groups()
                bound = {"min" if op == ">=" else "max": float(number)}
            out[key] = bound
        return out
