"""Evaluation building blocks: evalsets, pre-flight checks, metrics, statistics, baselines.

Heavy work (scikit-learn, sentence-transformers) is imported inside the functions that need
it, so importing this package stays cheap.
"""

from __future__ import annotations

from promptops.evals.baselines import BASELINES, BaselinePredictions, run_baselines
from promptops.evals.checks import (
    CaseProblem,
    ClassBalance,
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
    ClassificationScores,
    ClassScores,
    ProbabilityMetrics,
    classification_metrics,
)
from promptops.evals.paired import Decision, PairedResult, compare_cells
from promptops.evals.stats import (
    ConfidenceInterval,
    McNemarResult,
    PairedComparison,
    PermutationTest,
    RepeatedSampleStats,
    accuracy_ci,
    bootstrap_ci,
    macro_f1_ci,
    mcnemar_counts,
    mcnemar_exact,
    paired_bootstrap,
    paired_permutation_cells,
    pass_hat_k,
    repeated_samples,
)
from promptops.metrics.power import connor_mde, connor_n, connor_power, miettinen_n

__all__ = [
    "BASELINES",
    "BaselinePredictions",
    "Case",
    "CaseProblem",
    "ClassBalance",
    "ClassScores",
    "ClassificationScores",
    "ConfidenceInterval",
    "Decision",
    "LeakagePair",
    "LeakageReport",
    "McNemarResult",
    "PairedComparison",
    "PairedResult",
    "PermutationTest",
    "PiiFinding",
    "ProbabilityMetrics",
    "RepeatedSampleStats",
    "accuracy_ci",
    "bootstrap_ci",
    "case_text",
    "cases_in_split",
    "class_balance",
    "classification_metrics",
    "compare_cells",
    "connor_mde",
    "connor_n",
    "connor_power",
    "evalset_hash",
    "find_leakage",
    "find_pii",
    "load_evalset",
    "macro_f1_ci",
    "mcnemar_counts",
    "mcnemar_exact",
    "miettinen_n",
    "normalize_text",
    "paired_bootstrap",
    "paired_permutation_cells",
    "pass_hat_k",
    "repeated_samples",
    "run_baselines",
    "validate_cases",
]
