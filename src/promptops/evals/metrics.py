"""Classification metrics that count invalid answers instead of dropping them.

A model that answers outside the label set (or not at all) on hard cases would look better
if those cases were skipped, so an invalid prediction (`None`, or any string not in
`labels`) is always wrong: it lowers accuracy and the true class's recall, adds no false
positive to any class, and is shown in its own "invalid" confusion-matrix column and rate.
Everything is derived from one confusion matrix; macro-F1 over the given labels is the
primary metric (labels without support still count, with F1 0, as scikit-learn does with
`labels=` and `zero_division=0`).

Probability metrics use only the rows given (rows containing NaN, for cases whose endpoint
gave no probabilities, are left out and counted in `n_with_probs`):

- macro PR-AUC: one-vs-rest average precision (scikit-learn's definition) per label,
  averaged over the labels that have at least one positive case;
- expected calibration error: top-label confidence (the largest probability) against whether
  the arg-max label is right, in 15 equal-width bins over [0, 1] (bin i holds confidences in
  (i/15, (i+1)/15], the first bin also holds 0); ECE = sum over bins of
  (bin count / n) * |bin accuracy - bin mean confidence|.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

INVALID = "invalid"
ECE_BINS = 15


@dataclass(frozen=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class ReliabilityBin:
    """One bar of a reliability diagram; mean_confidence and accuracy are None when empty."""

    lower: float
    upper: float
    count: int
    mean_confidence: float | None
    accuracy: float | None


@dataclass(frozen=True)
class ProbabilityMetrics:
    n_with_probs: int
    macro_pr_auc: float | None
    ece: float
    reliability: tuple[ReliabilityBin, ...]


@dataclass(frozen=True)
class ClassificationMetrics:
    labels: tuple[str, ...]
    n: int
    accuracy: float
    macro_f1: float
    per_class: dict[str, ClassScores]
    confusion: list[list[int]]  # rows: true labels; columns: labels then "invalid"
    confusion_columns: tuple[str, ...]
    n_invalid: int
    invalid_rate: float
    probability: ProbabilityMetrics | None


def encode(
    y_true: Sequence[str], y_pred: Sequence[str | None], labels: Sequence[str]
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Label indices; an invalid prediction becomes `len(labels)`. Unknown true labels raise
    ValueError (the evalset checks reject them before this point)."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({t for t in y_true if t not in index})
    if unknown:
        raise ValueError(f"true labels not in the label set: {unknown}")
    true = np.array([index[t] for t in y_true], dtype=np.intp)
    pred = np.array(
        [index.get(p, len(labels)) if p is not None else len(labels) for p in y_pred],
        dtype=np.intp,
    )
    return true, pred


def confusion_from_codes(
    true: NDArray[np.intp], pred: NDArray[np.intp], n_labels: int
) -> NDArray[np.int64]:
    """(n_labels, n_labels + 1) counts; the last column is invalid predictions."""
    flat = np.bincount(true * (n_labels + 1) + pred, minlength=n_labels * (n_labels + 1))
    return flat.reshape(n_labels, n_labels + 1).astype(np.int64)


def _safe_div(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _prf(
    confusion: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Per-class scores of a (n_labels, n_labels + 1) confusion matrix, or of a stack of
    them (..., n_labels, n_labels + 1) with the scores stacked the same way."""
    n_labels = confusion.shape[-2]
    labelled = confusion[..., :n_labels]
    tp = np.diagonal(labelled, axis1=-2, axis2=-1).astype(np.float64)
    predicted = labelled.sum(axis=-2).astype(np.float64)
    support = confusion.sum(axis=-1)
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support.astype(np.float64))
    f1 = _safe_div(2 * tp, predicted + support)  # = 2PR/(P+R), 0 where undefined
    return precision, recall, f1, support


def macro_f1_from_codes(true: NDArray[np.intp], pred: NDArray[np.intp], n_labels: int) -> float:
    """Macro-F1 from encoded labels: fast enough to call inside a bootstrap loop."""
    return float(_prf(confusion_from_codes(true, pred, n_labels))[2].mean())


def macro_f1_rows(
    true: NDArray[np.intp], pred: NDArray[np.intp], n_labels: int
) -> NDArray[np.float64]:
    """`macro_f1_from_codes` of each row of a (rows, cases) block of codes, with one
    bincount for the whole block (the bootstrap scores thousands of resamples)."""
    rows, width = true.shape[0], n_labels * (n_labels + 1)
    cells = true * (n_labels + 1)
    cells += pred
    cells += np.arange(rows, dtype=np.intp)[:, None] * width
    confusion = np.bincount(cells.ravel(), minlength=rows * width)
    f1 = _prf(confusion.reshape(rows, n_labels, n_labels + 1))[2]
    means: NDArray[np.float64] = f1.mean(axis=-1)
    return means


def accuracy_from_codes(true: NDArray[np.intp], pred: NDArray[np.intp]) -> float:
    return float(np.mean(true == pred)) if len(true) else 0.0


def reliability_bins(
    confidence: NDArray[np.float64], correct: NDArray[np.bool_], n_bins: int = ECE_BINS
) -> tuple[ReliabilityBin, ...]:
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.ceil(confidence * n_bins).astype(np.intp) - 1, 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        mask = index == b
        count = int(mask.sum())
        bins.append(
            ReliabilityBin(
                lower=float(edges[b]),
                upper=float(edges[b + 1]),
                count=count,
                mean_confidence=float(confidence[mask].mean()) if count else None,
                accuracy=float(correct[mask].mean()) if count else None,
            )
        )
    return tuple(bins)


def expected_calibration_error(bins: Sequence[ReliabilityBin]) -> float:
    total = sum(b.count for b in bins)
    if total == 0:
        return 0.0
    return float(
        sum(
            b.count / total * abs(b.accuracy - b.mean_confidence)
            for b in bins
            if b.accuracy is not None and b.mean_confidence is not None
        )
    )


def average_precision(positive: NDArray[np.bool_], scores: NDArray[np.float64]) -> float:
    """Scikit-learn's `average_precision_score`, without its ~0.8 s import on every eval.

    Walking the distinct scores from high to low (tied cases enter together), each step
    adds (recall gained) x (precision at that score). Needs at least one positive.
    """
    order = np.argsort(scores, kind="mergesort")[::-1]
    ranked = scores[order]
    ends = np.append(np.flatnonzero(np.diff(ranked)), len(ranked) - 1)  # last of each tie
    hits = np.cumsum(positive[order])[ends]
    precision = hits / (ends + 1)
    return float(np.sum(np.diff(hits, prepend=0) / hits[-1] * precision))


def probability_metrics(true: NDArray[np.intp], probs: NDArray[np.float64]) -> ProbabilityMetrics:
    """PR-AUC, ECE and reliability bins on the rows of `probs` that hold no NaN."""
    keep = ~np.isnan(probs).any(axis=1)
    if not keep.all():
        true, probs = true[keep], probs[keep]
    aps = [
        average_precision(true == j, probs[:, j])
        for j in range(probs.shape[1])
        if np.any(true == j)
    ]
    confidence = probs.max(axis=1) if len(probs) else np.zeros(0)
    correct = probs.argmax(axis=1) == true if len(probs) else np.zeros(0, dtype=bool)
    bins = reliability_bins(confidence, correct)
    return ProbabilityMetrics(
        n_with_probs=int(keep.sum()),
        macro_pr_auc=float(np.mean(aps)) if aps else None,
        ece=expected_calibration_error(bins),
        reliability=bins,
    )


def classification_metrics(
    y_true: Sequence[str],
    y_pred: Sequence[str | None],
    labels: Sequence[str],
    probs: NDArray[np.float64] | None = None,
) -> ClassificationMetrics:
    """All classification metrics; `probs` is (n cases, n labels) in `labels` order."""
    true, pred = encode(y_true, y_pred, labels)
    return classification_metrics_codes(true, pred, labels, probs)


def classification_metrics_codes(
    true: NDArray[np.intp],
    pred: NDArray[np.intp],
    labels: Sequence[str],
    probs: NDArray[np.float64] | None = None,
) -> ClassificationMetrics:
    """`classification_metrics` on label codes (see `encode`)."""
    n_labels = len(labels)
    confusion = confusion_from_codes(true, pred, n_labels)
    precision, recall, f1, support = _prf(confusion)
    n = len(true)
    n_invalid = int(confusion[:, n_labels].sum())
    prob_metrics = None
    if probs is not None:
        probs = np.asarray(probs, dtype=np.float64)
        if probs.shape != (n, n_labels):
            raise ValueError(f"probabilities have shape {probs.shape}, expected {(n, n_labels)}")
        prob_metrics = probability_metrics(true, probs)
    return ClassificationMetrics(
        labels=tuple(labels),
        n=n,
        accuracy=accuracy_from_codes(true, pred),
        macro_f1=float(f1.mean()) if n_labels else 0.0,
        per_class={
            label: ClassScores(float(precision[i]), float(recall[i]), float(f1[i]), int(support[i]))
            for i, label in enumerate(labels)
        },
        confusion=confusion.tolist(),
        confusion_columns=(*labels, INVALID),
        n_invalid=n_invalid,
        invalid_rate=n_invalid / n if n else 0.0,
        probability=prob_metrics,
    )
