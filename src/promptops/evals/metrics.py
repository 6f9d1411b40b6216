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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from promptops.evals.cells import CHUNK, confusion_of, tally
from promptops.runs.summary import ReliabilityBin

INVALID = "invalid"
ECE_BINS = 15


@dataclass(frozen=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class ProbabilityMetrics:
    n_with_probs: int
    macro_pr_auc: float | None
    ece: float
    reliability: tuple[ReliabilityBin, ...]


@dataclass(frozen=True)
class ClassificationScores:
    """What `classification_metrics` computes; the summary keeps a view of it
    (`runs.summary.ClassificationMetrics`, built by `evals.summarize.metrics_model`)."""

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
    true: NDArray[np.integer], pred: NDArray[np.integer], n_labels: int
) -> NDArray[np.int64]:
    """(n_labels, n_labels + 1) counts; the last column is invalid predictions."""
    return confusion_of(tally([true, pred], [n_labels, n_labels + 1]), n_labels)


def _safe_div(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def class_scores(
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


def accuracy_of(confusion: NDArray[np.int64]) -> float:
    n = int(confusion.sum())
    return float(np.trace(confusion[:, : confusion.shape[0]])) / n if n else 0.0


class _BinTotals:
    """Per confidence bin: cases, summed confidence and right answers, a chunk at a time."""

    def __init__(self, n_bins: int) -> None:
        self.n_bins = n_bins
        self.count = np.zeros(n_bins, dtype=np.int64)
        self.confidence = np.zeros(n_bins)
        self.right = np.zeros(n_bins, dtype=np.int64)

    def add(self, confidence: NDArray[np.float64], correct: NDArray[np.bool_]) -> None:
        index = np.clip(np.ceil(confidence * self.n_bins).astype(np.intp) - 1, 0, self.n_bins - 1)
        self.count += np.bincount(index, minlength=self.n_bins)
        self.confidence += np.bincount(index, weights=confidence, minlength=self.n_bins)
        self.right += np.bincount(index[correct], minlength=self.n_bins)

    def bins(self) -> tuple[ReliabilityBin, ...]:
        edges = np.linspace(0.0, 1.0, self.n_bins + 1)
        return tuple(
            ReliabilityBin(
                lower=float(edges[b]),
                upper=float(edges[b + 1]),
                count=int(count),
                confidence=float(self.confidence[b] / count) if count else None,
                accuracy=float(self.right[b] / count) if count else None,
            )
            for b, count in enumerate(self.count)
        )


def reliability_bins(
    confidence: NDArray[np.float64], correct: NDArray[np.bool_], n_bins: int = ECE_BINS
) -> tuple[ReliabilityBin, ...]:
    totals = _BinTotals(n_bins)
    totals.add(confidence, correct)
    return totals.bins()


def expected_calibration_error(bins: Sequence[ReliabilityBin]) -> float:
    total = sum(b.count for b in bins)
    if total == 0:
        return 0.0
    return float(
        sum(
            b.count / total * abs(b.accuracy - b.confidence)
            for b in bins
            if b.accuracy is not None and b.confidence is not None
        )
    )


class _ScoreTable:
    """For each distinct score of one class: how many cases have it and how many of them
    are positive. Each chunk is reduced to its distinct scores as it comes and the chunks
    are merged once at the end (merging as they come would re-sort the table every chunk),
    so scores that take few values (the majority baseline gives every case the same row)
    need no per-case memory."""

    def __init__(self) -> None:
        self._parts: list[tuple[NDArray[np.float64], NDArray[Any], NDArray[Any]]] = []

    def add(self, scores: NDArray[np.float64], positive: NDArray[np.bool_]) -> None:
        self._parts.append(_distinct(scores, positive.astype(np.float64), np.ones(len(scores))))

    def average_precision(self) -> float:
        """Walking the distinct scores from high to low (tied cases enter together), each
        step adds (recall gained) x (precision at that score)."""
        _, hits, totals = _distinct(*(np.concatenate(p) for p in zip(*self._parts, strict=True)))
        hits, totals = hits[::-1], totals[::-1]
        found = np.cumsum(hits)
        precision = found / np.cumsum(totals)
        return float(np.sum(hits / found[-1] * precision))


def _distinct(
    scores: NDArray[np.float64], hits: NDArray[Any], totals: NDArray[Any]
) -> tuple[NDArray[np.float64], NDArray[Any], NDArray[Any]]:
    """The distinct scores, ascending, with the positives and cases summed per score."""
    values, where = np.unique(scores, return_inverse=True)
    size = len(values)
    return (
        values,
        np.bincount(where, weights=hits, minlength=size),
        np.bincount(where, weights=totals, minlength=size),
    )


def average_precision(positive: NDArray[np.bool_], scores: NDArray[np.float64]) -> float:
    """Scikit-learn's `average_precision_score`, without its ~0.8 s import on every eval.
    Needs at least one positive."""
    table = _ScoreTable()
    table.add(scores, positive)
    return table.average_precision()


def probability_metrics(
    true: NDArray[np.integer], probs: NDArray[np.float64]
) -> ProbabilityMetrics:
    """PR-AUC, ECE and reliability bins on the rows of `probs` that hold no NaN, a chunk of
    rows at a time: besides `probs`, memory is one class's distinct scores at most."""
    n_labels = probs.shape[1]
    bins, kept = _BinTotals(ECE_BINS), 0
    positives = np.zeros(n_labels, dtype=np.int64)
    for part, codes in _chunks(true, probs):
        kept += len(part)
        positives += np.bincount(codes, minlength=n_labels)
        bins.add(part.max(axis=1, initial=0.0), part.argmax(axis=1) == codes)
    aps = []
    for j in np.flatnonzero(positives).tolist():
        table = _ScoreTable()
        for part, codes in _chunks(true, probs):
            table.add(part[:, j], codes == j)
        aps.append(table.average_precision())
    reliability = bins.bins()
    return ProbabilityMetrics(
        n_with_probs=kept,
        macro_pr_auc=float(np.mean(aps)) if aps else None,
        ece=expected_calibration_error(reliability),
        reliability=reliability,
    )


def _chunks(
    true: NDArray[np.integer], probs: NDArray[np.float64]
) -> Iterator[tuple[NDArray[np.float64], NDArray[np.integer]]]:
    """(probability rows, true codes) a chunk at a time, rows holding NaN left out."""
    for start in range(0, len(probs), CHUNK):
        part, codes = probs[start : start + CHUNK], true[start : start + CHUNK]
        keep = ~np.isnan(part).any(axis=1)
        yield (part, codes) if keep.all() else (part[keep], codes[keep])


def classification_metrics(
    y_true: Sequence[str],
    y_pred: Sequence[str | None],
    labels: Sequence[str],
    probs: NDArray[np.float64] | None = None,
) -> ClassificationScores:
    """All classification metrics; `probs` is (n cases, n labels) in `labels` order."""
    true, pred = encode(y_true, y_pred, labels)
    return classification_metrics_codes(true, pred, labels, probs)


def classification_metrics_codes(
    true: NDArray[np.integer],
    pred: NDArray[np.integer],
    labels: Sequence[str],
    probs: NDArray[np.float64] | None = None,
) -> ClassificationScores:
    """`classification_metrics` on label codes (see `encode`)."""
    n_labels = len(labels)
    confusion = confusion_from_codes(true, pred, n_labels)
    precision, recall, f1, support = class_scores(confusion)
    n = len(true)
    n_invalid = int(confusion[:, n_labels].sum())
    prob_metrics = None
    if probs is not None:
        probs = np.asarray(probs, dtype=np.float64)
        if probs.shape != (n, n_labels):
            raise ValueError(f"probabilities have shape {probs.shape}, expected {(n, n_labels)}")
        prob_metrics = probability_metrics(true, probs)
    return ClassificationScores(
        labels=tuple(labels),
        n=n,
        accuracy=accuracy_of(confusion),
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
