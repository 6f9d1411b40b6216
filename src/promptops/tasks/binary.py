"""Binary metrics from a per-case score (the probability of the positive label).

PR-AUC is scikit-learn's `average_precision_score` (a step sum over distinct scores, tied
cases entering together; no trapezoid, which scikit-learn warns can be too optimistic) and
ROC-AUC its `roc_auc_score` (the Mann-Whitney U statistic, ties counted half). Where a metric
is undefined on the cases at hand (no positive case, or only one class) it is None, never a
number that looks like a result: scikit-learn returns 0.0 with a warning for the first and
NaN for the second.

F1, precision and recall are read at a decision threshold chosen on the dev split only
(`choose_threshold`), so the test split never tunes what it measures; without a dev split the
threshold is 0.5 and the summary says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import rankdata

from promptops.evals.metrics import average_precision
from promptops.tasks.stats import MetricFn

DEFAULT_THRESHOLD = 0.5
DEFAULT_TARGET_PRECISION = 0.8


@dataclass(frozen=True)
class BinaryMetrics:
    n: int
    n_positive: int
    pr_auc: float | None
    roc_auc: float | None
    recall_at_precision: float | None  # best recall at precision >= target
    target_precision: float
    threshold: float
    precision: float
    recall: float
    f1: float
    accuracy: float

    def as_dict(self) -> dict[str, float | None]:
        return {
            "pr_auc": self.pr_auc,
            "roc_auc": self.roc_auc,
            "recall_at_precision": self.recall_at_precision,
            "f1": self.f1,
            "precision": self.precision,
            "recall": self.recall,
            "accuracy": self.accuracy,
        }


def pr_auc(positive: NDArray[np.bool_], scores: NDArray[np.float64]) -> float | None:
    """Average precision; None without a positive case."""
    if not positive.any():
        return None
    return average_precision(positive, scores)


def roc_auc(positive: NDArray[np.bool_], scores: NDArray[np.float64]) -> float | None:
    """P(score of a random positive > score of a random negative), ties half: midranks of
    the scores, the positives' rank sum less its minimum, over n_pos x n_neg. None with one
    class."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(scores)
    u = float(ranks[positive].sum()) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def _curve(
    positive: NDArray[np.bool_], scores: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """(thresholds descending, precision, recall) at each distinct score, as scikit-learn's
    `precision_recall_curve` has them: predicting positive when score >= threshold."""
    order = np.argsort(-scores, kind="mergesort")
    s, p = scores[order], positive[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # end of each tied run
    tp = np.cumsum(p)[last].astype(np.float64)
    predicted = (last + 1).astype(np.float64)
    total = max(int(positive.sum()), 1)
    return s[last], tp / predicted, tp / total


def recall_at_precision(
    positive: NDArray[np.bool_], scores: NDArray[np.float64], target: float
) -> float | None:
    """The highest recall of any threshold whose precision is at least `target` (0.0 when
    none reaches it); None without a positive case."""
    if not positive.any():
        return None
    _, precision, recall = _curve(positive, scores)
    ok = precision >= target
    return float(recall[ok].max()) if ok.any() else 0.0


def at_threshold(
    positive: NDArray[np.bool_], scores: NDArray[np.float64], threshold: float
) -> tuple[float, float, float, float]:
    """(precision, recall, F1, accuracy) predicting positive when score >= threshold;
    0/0 is 0, as scikit-learn's `zero_division=0`."""
    pred = scores >= threshold
    tp = int((pred & positive).sum())
    fp = int((pred & ~positive).sum())
    fn = int((~pred & positive).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    accuracy = float((pred == positive).mean()) if len(pred) else 0.0
    return precision, recall, f1, accuracy


def choose_threshold(positive: NDArray[np.bool_], scores: NDArray[np.float64]) -> float:
    """The dev-split threshold that maximises F1 (the highest such score, so ties keep
    fewer false positives); 0.5 when the dev split has no positive case."""
    if not positive.any():
        return DEFAULT_THRESHOLD
    thresholds, precision, recall = _curve(positive, scores)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    return float(thresholds[int(np.argmax(f1))])


def binary_metrics(
    positive: NDArray[np.bool_],
    scores: NDArray[np.float64],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    target_precision: float = DEFAULT_TARGET_PRECISION,
) -> BinaryMetrics:
    positive = np.asarray(positive, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    precision, recall, f1, accuracy = at_threshold(positive, scores, threshold)
    return BinaryMetrics(
        n=len(positive),
        n_positive=int(positive.sum()),
        pr_auc=pr_auc(positive, scores),
        roc_auc=roc_auc(positive, scores),
        recall_at_precision=recall_at_precision(positive, scores, target_precision),
        target_precision=target_precision,
        threshold=threshold,
        precision=precision,
        recall=recall,
        f1=f1,
        accuracy=accuracy,
    )


def metric_of(name: str, threshold: float, target_precision: float) -> MetricFn:
    """A function (truth, scores) -> the named metric, for bootstraps and paired tests."""

    def value(truth: NDArray[Any], scores: NDArray[np.float64]) -> float | None:
        positive = truth.astype(bool)
        if name == "pr_auc":
            return pr_auc(positive, scores)
        if name == "roc_auc":
            return roc_auc(positive, scores)
        if name == "recall_at_precision":
            return recall_at_precision(positive, scores, target_precision)
        m = binary_metrics(positive, scores, threshold=threshold, target_precision=target_precision)
        return m.as_dict()[name]

    return value
