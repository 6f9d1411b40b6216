"""Classification metrics against scikit-learn and straightforward hand computations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from promptops.evals.evalset import load_evalset
from promptops.evals.metrics import classification_metrics

SHIPPED = Path(__file__).resolve().parent.parent / "evalsets" / "banking77" / "intent.jsonl"
SENTINEL = "__invalid__"


def _real_labels() -> list[str]:
    return [str(c.expected) for c in load_evalset(SHIPPED) if c.split == "test"]


def _noisy_predictions(
    y_true: list[str], labels: list[str], seed: int
) -> tuple[list[str | None], NDArray[np.float64]]:
    """About 70% right, 10% invalid (None or an off-list answer), the rest a wrong label;
    probabilities that favour the predicted label but not always."""
    rng = np.random.default_rng(seed)
    preds: list[str | None] = []
    probs = rng.dirichlet(np.ones(len(labels)), size=len(y_true))
    for i, truth in enumerate(y_true):
        u = rng.random()
        if u < 0.7:
            pred: str | None = truth
        elif u < 0.75:
            pred = None
        elif u < 0.8:
            pred = "Card Arrival (maybe)"
        else:
            pred = str(rng.choice([x for x in labels if x != truth]))
        preds.append(pred)
        favoured = labels.index(pred) if pred in labels else int(rng.integers(len(labels)))
        probs[i, favoured] += rng.uniform(0.0, 3.0)
    probs /= probs.sum(axis=1, keepdims=True)
    return preds, probs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_sklearn_on_real_labels_with_invalid_predictions(seed: int) -> None:
    y_true = _real_labels()
    labels = [*sorted(set(y_true)), "never_seen"]  # a label with no support or predictions
    y_pred, _ = _noisy_predictions(y_true, labels[:-1], seed)
    sk_pred = [p if p in labels else SENTINEL for p in y_pred]
    result = classification_metrics(y_true, y_pred, labels)

    n_invalid = sum(p == SENTINEL for p in sk_pred)
    assert n_invalid > 10
    assert result.n == 240
    assert result.n_invalid == n_invalid
    assert result.invalid_rate == pytest.approx(n_invalid / 240)
    assert result.accuracy == pytest.approx(accuracy_score(y_true, sk_pred))
    assert result.macro_f1 == pytest.approx(
        f1_score(y_true, sk_pred, labels=labels, average="macro", zero_division=0)
    )
    p, r, f, s = precision_recall_fscore_support(y_true, sk_pred, labels=labels, zero_division=0)
    for i, label in enumerate(labels):
        scores = result.per_class[label]
        assert (scores.precision, scores.recall, scores.f1) == pytest.approx((p[i], r[i], f[i]))
        assert scores.support == s[i]
    full = confusion_matrix(y_true, sk_pred, labels=[*labels, SENTINEL])
    assert result.confusion == full[: len(labels)].tolist()
    assert result.confusion_columns == (*labels, "invalid")
    assert result.per_class["never_seen"].f1 == 0.0


def test_perfect_and_all_invalid() -> None:
    y = ["a", "b", "b", "c"]
    perfect = classification_metrics(y, y, ["a", "b", "c"])
    assert perfect.accuracy == 1.0 and perfect.macro_f1 == 1.0 and perfect.n_invalid == 0
    invalid = classification_metrics(y, [None] * 4, ["a", "b", "c"])
    assert invalid.accuracy == 0.0 and invalid.macro_f1 == 0.0 and invalid.invalid_rate == 1.0
    assert invalid.confusion == [[0, 0, 0, 1], [0, 0, 0, 2], [0, 0, 0, 1]]


def test_input_errors() -> None:
    with pytest.raises(ValueError, match="2 true labels but 1 predictions"):
        classification_metrics(["a", "b"], ["a"], ["a", "b"])
    with pytest.raises(ValueError, match=r"not in the label set: \['z'\]"):
        classification_metrics(["z"], ["a"], ["a"])
    with pytest.raises(ValueError, match="probabilities have shape"):
        classification_metrics(["a"], ["a"], ["a", "b"], np.ones((1, 3)))


def _hand_ece(probs: NDArray[np.float64], y_idx: list[int], n_bins: int = 15) -> float:
    """Textbook ECE with explicit loops: bins (k/15, (k+1)/15], 0 goes to the first bin."""
    total = 0.0
    n = len(y_idx)
    for k in range(n_bins):
        lo, hi = k / n_bins, (k + 1) / n_bins
        members = []
        for i in range(n):
            conf = float(max(probs[i]))
            if lo < conf <= hi or (k == 0 and conf == 0.0):
                members.append(i)
        if members:
            acc = sum(int(np.argmax(probs[i]) == y_idx[i]) for i in members) / len(members)
            conf_mean = sum(float(max(probs[i])) for i in members) / len(members)
            total += len(members) / n * abs(acc - conf_mean)
    return total


def _hand_average_precision(positive: list[bool], scores: list[float]) -> float:
    """AP = mean over positives of the precision at that positive's rank (no tied scores)."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    hits, total = 0, 0.0
    for rank, i in enumerate(order, start=1):
        if positive[i]:
            hits += 1
            total += hits / rank
    return total / sum(positive)


def test_probability_metrics_against_hand_computations() -> None:
    y_true = _real_labels()
    labels = sorted(set(y_true))
    y_pred, probs = _noisy_predictions(y_true, labels, seed=7)
    y_idx = [labels.index(t) for t in y_true]
    result = classification_metrics(y_true, y_pred, labels, probs)
    assert result.probability is not None
    prob = result.probability
    assert prob.n_with_probs == 240
    assert prob.ece == pytest.approx(_hand_ece(probs, y_idx), abs=1e-12)
    assert 0.0 < prob.ece < 0.5
    expected_ap = np.mean(
        [
            _hand_average_precision([t == j for t in y_idx], probs[:, j].tolist())
            for j in range(len(labels))
        ]
    )
    assert prob.macro_pr_auc == pytest.approx(expected_ap)
    bins = prob.reliability
    assert len(bins) == 15 and sum(b.count for b in bins) == 240
    assert bins[0].lower == 0.0 and bins[-1].upper == 1.0
    for b in bins:
        if b.count:
            assert b.confidence is not None and b.lower <= b.confidence <= b.upper
        else:
            assert b.confidence is None and b.accuracy is None


def test_rows_without_probabilities_are_left_out() -> None:
    y = ["a", "b", "a", "b"]
    probs = np.array([[0.9, 0.1], [np.nan, np.nan], [0.6, 0.4], [0.3, 0.7]])
    result = classification_metrics(y, y, ["a", "b"], probs)
    assert result.probability is not None
    assert result.probability.n_with_probs == 3
    # all three arg-maxes right: ECE = mean(1 - confidence) = (0.1 + 0.4 + 0.3) / 3
    assert result.probability.ece == pytest.approx(0.8 / 3)
    assert result.probability.macro_pr_auc == pytest.approx(1.0)
