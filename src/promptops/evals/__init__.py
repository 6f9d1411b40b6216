"""Evaluation building blocks: evalsets, pre-flight checks, metrics, statistics, baselines.

Heavy work (scikit-learn, sentence-transformers) is imported inside the functions that need
it, so importing this package stays cheap.
"""

from __future__ import annotations

from promptops.evals.baselines import BASELINES, BaselineResult, run_baselines
from promptops.evals.checks import (
    ClassBalance,
    Finding,
    LeakagePair,
    LeakageReport,
    PiiFinding,
    class_balance,
    find_leakage,
    find_pii,
    normalize_text,
    validate_cases,
)
from promptops.evals.evalset import Case, case_text, cases_in_split, evalset_hash, load_evalset
from promptops.evals.metrics import (
    ClassificationMetrics,
    ClassScores,
    ProbabilityMetrics,
    ReliabilityBin,
    classification_metrics,
)
from promptops.evals.stats import (
    ConfidenceInterval,
    McNemarResult,
    PairedComparison,
    RepeatedSampleStats,
    accuracy_ci,
    bootstrap_ci,
    macro_f1_ci,
    mcnemar_exact,
    paired_bootstrap,
    pass_hat_k,
    repeated_samples,
)

__all__ = [
    "BASELINES",
    "BaselineResult",
    "Case",
    "ClassBalance",
    "ClassScores",
    "ClassificationMetrics",
    "ConfidenceInterval",
    "Finding",
    "LeakagePair",
    "LeakageReport",
    "McNemarResult",
    "PairedComparison",
    "PiiFinding",
    "ProbabilityMetrics",
    "ReliabilityBin",
    "RepeatedSampleStats",
    "accuracy_ci",
    "bootstrap_ci",
    "case_text",
    "cases_in_split",
    "class_balance",
    "classification_metrics",
    "evalset_hash",
    "find_leakage",
    "find_pii",
    "load_evalset",
    "macro_f1_ci",
    "mcnemar_exact",
    "normalize_text",
    "paired_bootstrap",
    "pass_hat_k",
    "repeated_samples",
    "run_baselines",
    "validate_cases",
]
