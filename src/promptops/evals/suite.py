"""An eval suite: `evalsets/NAME.yaml` names the prompt, the evalset, the endpoint, the
thresholds and the baselines. Command-line options override it field by field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from promptops.business import ErrorCosts
from promptops.errors import ConfigError
from promptops.llm.profile import EndpointOverrides
from promptops.runs.monitor_config import MonitorConfig
from promptops.suites import Bound, SuiteFile, load_suite


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LeakagePolicy(_Strict):
    allow: bool = False
    near_duplicate_threshold: float = Field(0.9, gt=0, le=1)


class PiiPolicy(_Strict):
    allow: bool = False
    justification: str | None = None

    @model_validator(mode="after")
    def _justified(self) -> PiiPolicy:
        if self.allow and not (self.justification and self.justification.strip()):
            raise ValueError("allowing PII needs a written justification")
        return self


class SplitFractionsModel(_Strict):
    """`split: auto`: the shares of rows for train and dev (the rest is test)."""

    train: float = Field(0.6, gt=0, lt=1)
    dev: float = Field(0.2, ge=0, lt=1)

    @model_validator(mode="after")
    def _room_for_test(self) -> SplitFractionsModel:
        if self.train + self.dev >= 1:
            raise ValueError("train + dev must leave a share for test")
        return self


PrimaryMetric = Literal[
    "macro_f1",
    "accuracy",
    # extraction (promptops.tasks.extraction)
    "field_f1",
    "exact_match",
    "schema_valid_rate",
    # generation (promptops.tasks.generation)
    "rouge1",
    "rouge2",
    "rouge_l",
    "bleu",
    "chrf",
]
ThresholdMetric = Literal[
    "macro_f1",
    "accuracy",
    "invalid_rate",
    "error_rate",
    "field_f1",
    "field_precision",
    "field_recall",
    "field_f1_macro",
    "exact_match",
    "schema_valid_rate",
    "parse_error_rate",
    "rouge1",
    "rouge2",
    "rouge_l",
    "bleu",
    "chrf",
    "semantic_similarity",
    "judge.pass_rate",
    "judge.error_rate",
    "judge.kappa",
]


class PromptSuite(SuiteFile):
    """What every suite over an evalset names first: the prompt, the evalset, the endpoint."""

    name: str
    description: str = ""
    prompt: str
    evalset: str
    profile: str = "embedded"
    endpoint: EndpointOverrides = Field(default_factory=EndpointOverrides)


class Suite(PromptSuite):
    primary_metric: PrimaryMetric = "macro_f1"
    thresholds: dict[ThresholdMetric, Bound] = Field(default_factory=dict)
    must_beat: Literal["none", "majority", "best"] = Field(
        "majority",
        description="which baseline the prompt must beat significantly for the run to pass",
    )
    baselines: tuple[str, ...] = ("majority", "tfidf_lr", "embedding_lr")
    leakage: LeakagePolicy = Field(default_factory=LeakagePolicy)
    pii: PiiPolicy = Field(default_factory=PiiPolicy)
    split: Literal["given", "auto"] = Field(
        "given", description="auto: assign splits by time (every row has one), else by id hash"
    )
    split_fractions: SplitFractionsModel = Field(default_factory=SplitFractionsModel)
    temporal_leakage: Literal["fail", "warn"] = "fail"
    repeat: int = Field(1, ge=1)
    seed: int = 13
    bootstrap_samples: int = Field(2000, ge=100)
    alpha: float = Field(0.05, gt=0, lt=1)
    worst_cases: int = Field(10, ge=0)
    monitor: MonitorConfig | None = None  # `promptops monitor` thresholds (None: defaults)
    costs: ErrorCosts | None = None  # what errors cost the business (`business.py`)
    # `--against-baseline`: pass when the CI of (run - baseline) lies above -margin
    non_inferiority_margin: float | None = Field(None, gt=0, lt=1)
    # task settings, validated by their run kind (promptops.tasks): a lower layer cannot
    # import the models, so they stay mappings here
    extraction: dict[str, Any] | None = None
    generation: dict[str, Any] | None = None


class ClassificationSuite(Suite):
    """A classification suite: its baselines are classification baselines, checked by name
    when the file loads (the other kinds name their own, e.g. `gazetteer`)."""

    @field_validator("baselines")
    @classmethod
    def _known_baselines(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from promptops.evals.baselines import BASELINES

        try:
            for name in value:
                BASELINES.get(name)
        except ConfigError as exc:
            raise ValueError(exc.reason) from None
        return value


def resolve_suite(ref: str) -> tuple[Suite, Path]:
    """`intent` -> evalsets/intent.yaml; a path is read as is."""
    return load_suite(ref, Suite)
