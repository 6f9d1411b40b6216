"""Monitor thresholds: the `monitor:` block of a suite file, or these defaults.

The defaults follow what keeps alarms rare without drift (see `benchmarks/monitor_alarms.py`):
effect sizes with a minimum window (L-infinity 0.15 on 100+ predictions, PSI 0.2 on 200+
inputs), and tests that hold their false-alarm rate by construction (a permutation test for
embeddings, exact binomial tests for error and invalid rates, a bootstrap CI for F1).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MonitorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    class_shift: float = Field(
        0.15, gt=0, le=1, description="alert when any class's share moves more than this"
    )
    min_predictions: int = Field(100, ge=1, description="fewer predictions: 'too few'")
    psi: float = Field(0.2, gt=0, description="alert when PSI of input length/tokens exceeds it")
    psi_bins: int = Field(10, ge=2, le=100, description="quantile bins fitted on the reference")
    min_inputs: int = Field(200, ge=2, description="fewer inputs: 'too few' for input drift")
    embedding_alpha: float = Field(
        0.01, gt=0, lt=1, description="MMD permutation-test p-value below which embeddings drift"
    )
    embedding_sample: int = Field(200, ge=10, description="texts embedded per window (sampled)")
    reference_sample: int = Field(1000, ge=10, description="reference texts embedded (sampled)")
    permutations: int = Field(500, ge=50, description="permutations of the MMD test")
    error_rate: float = Field(0.001, gt=0, lt=1, description="tolerated rate of each error kind")
    invalid_margin: float = Field(
        0.01, ge=0, lt=1, description="tolerated invalid-output rate above the reference's"
    )
    alpha: float = Field(0.05, gt=0, lt=1, description="level of the binomial tests and CIs")
    f1_drop: float = Field(
        0.05, gt=0, lt=1, description="alert when macro-F1 is significantly this share below"
    )
    min_feedback: int = Field(100, ge=10, description="fewer labelled requests: 'too few'")
    bootstrap: int = Field(1000, ge=100, description="bootstrap resamples for F1 intervals")
    slo_p99_ms: float | None = Field(None, gt=0, description="alert when p99 latency exceeds it")
    seed: int = 13
