"""Binary and scoring metrics against scikit-learn and scipy on the shipped real data:
scores derived from the texts (so with many ties), random scores, one-class sets."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    mean_absolute_error,
    precision_recall_curve,
    roc_auc_score,
    root_mean_squared_error,
)

from promptops.tasks import binary as b
from promptops.tasks import scoring as sc
from promptops.tasks.stats import bootstrap_interval, paired_test

ROOT = Path(__file__).resolve().parents[1]


def _rows(path: str) -> list[dict[str, object]]:
    text = (ROOT / path).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def halueval() -> tuple[np.ndarray, np.ndarray]:
    """Truth: the answer is unsupported. Score: the share of answer words missing from the
    passage, rounded to tenths (a real, weak detector with many tied scores)."""
    truth, scores = [], []
    for row in _rows("evalsets/halueval/halueval.jsonl"):
        inp = row["input"]
        assert isinstance(inp, dict)
        words = str(inp["answer"]).lower().split()
        passage = str(inp["passage"]).lower()
        missing = sum(w not in passage for w in words) / max(len(words), 1)
        truth.append(row["expected"] == "unsupported")
        scores.append(round(missing, 1))
    return np.array(truth), np.array(scores, dtype=np.float64)


def sts() -> tuple[np.ndarray, np.ndarray]:
    """Truth: the gold 0-5 score. Prediction: 5 x word Jaccard, rounded to halves."""
    truth, pred = [], []
    for row in _rows("evalsets/sts/sts.jsonl"):
        inp = row["input"]
        assert isinstance(inp, dict)
        a = set(str(inp["sentence1"]).lower().split())
        c = set(str(inp["sentence2"]).lower().split())
        truth.append(float(str(row["expected"])))
        pred.append(round(2 * 5 * len(a & c) / len(a | c)) / 2)
    return np.array(truth), np.array(pred)


def test_binary_metrics_equal_sklearn_on_real_data_with_ties() -> None:
    truth, scores = halueval()
    assert len(np.unique(scores)) < 12  # ties everywhere
    assert b.pr_auc(truth, scores) == pytest.approx(average_precision_score(truth, scores))
    assert b.roc_auc(truth, scores) == pytest.approx(roc_auc_score(truth, scores))
    for threshold in (0.0, 0.3, 0.5, 1.0):
        _, _, f1, _ = b.at_threshold(truth, scores, threshold)
        assert f1 == pytest.approx(f1_score(truth, scores >= threshold, zero_division=0))
    precision, recall, _ = precision_recall_curve(truth, scores)
    for target in (0.2, 0.3, 0.5, 0.9):
        ok = precision >= target
        expected = float(recall[ok].max()) if ok.any() else 0.0
        assert b.recall_at_precision(truth, scores, target) == pytest.approx(expected)


def test_binary_metrics_equal_sklearn_on_random_scores() -> None:
    rng = np.random.default_rng(4)
    for n in (5, 40, 300):
        truth = rng.random(n) < 0.2
        truth[0] = True
        truth[1] = False
        scores = rng.random(n)
        assert b.pr_auc(truth, scores) == pytest.approx(average_precision_score(truth, scores))
        assert b.roc_auc(truth, scores) == pytest.approx(roc_auc_score(truth, scores))


def test_one_class_sets_are_undefined_not_zero() -> None:
    scores = np.array([0.1, 0.4, 0.4, 0.9])
    negatives = np.zeros(4, dtype=bool)
    positives = np.ones(4, dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(roc_auc_score(positives, scores))  # scikit-learn: NaN
        assert average_precision_score(negatives, scores) == 0.0  # scikit-learn: 0 + warning
    assert b.roc_auc(positives, scores) is None
    assert b.pr_auc(negatives, scores) is None
    assert b.recall_at_precision(negatives, scores, 0.5) is None
    assert b.pr_auc(positives, scores) == pytest.approx(average_precision_score(positives, scores))


def test_threshold_maximises_dev_f1_and_defaults_without_positives() -> None:
    truth, scores = halueval()
    t = b.choose_threshold(truth, scores)
    best = max(f1_score(truth, scores >= u, zero_division=0) for u in np.unique(scores))
    assert f1_score(truth, scores >= t) == pytest.approx(best)
    assert b.choose_threshold(np.zeros(3, dtype=bool), np.array([0.2, 0.3, 0.9])) == 0.5


def test_scoring_metrics_equal_sklearn_and_scipy_on_real_data() -> None:
    truth, pred = sts()
    m = sc.scoring_metrics(truth, pred)
    assert m.mae == pytest.approx(mean_absolute_error(truth, pred))
    assert m.rmse == pytest.approx(root_mean_squared_error(truth, pred))
    assert m.pearson == pytest.approx(pearsonr(truth, pred).statistic)
    assert m.spearman == pytest.approx(spearmanr(truth, pred).statistic)
    constant = sc.scoring_metrics(truth, np.full(len(truth), 2.5))
    assert constant.pearson is None and constant.spearman is None
    assert constant.mae == pytest.approx(mean_absolute_error(truth, np.full(len(truth), 2.5)))


@pytest.mark.parametrize(
    ("text", "value"),
    [("4", 4.0), (" 3.5 ", 3.5), ("0", 0.0), ("5.0", 5.0), (".5", 0.5)],
)
def test_a_number_within_range_parses(text: str, value: float) -> None:
    assert sc.parse_score(text, 0, 5).value == value


@pytest.mark.parametrize("text", ["7", "-1", "4/5", "about 4", "4 or 5", "", "four", None])
def test_anything_else_is_invalid_never_clipped(text: str | None) -> None:
    parsed = sc.parse_score(text, 0, 5)
    assert parsed.value is None and parsed.reason


def test_calibration_bins_hold_every_case() -> None:
    truth, pred = sts()
    bins = sc.calibration_bins(truth, pred, 0, 5)
    assert sum(x.n for x in bins) == len(truth)
    top = [x for x in bins if x.n][-1]
    assert top.mean_expected is not None and top.mean_expected <= 5


def test_interval_covers_estimate_and_paired_test_sees_a_real_gap() -> None:
    truth, pred = sts()
    ci = bootstrap_interval(sc.mae, truth, pred, n_resamples=200, seed=1)
    assert ci.low is not None and ci.high is not None and ci.estimate is not None
    assert ci.low <= ci.estimate <= ci.high
    mean = np.full(len(truth), truth.mean())
    worse = paired_test(
        "mae", sc.mae, truth, pred, mean, higher_is_better=False, alpha=0.05, n_resamples=200
    )
    same = paired_test(
        "mae", sc.mae, truth, pred, pred.copy(), higher_is_better=False, alpha=0.05, n_resamples=200
    )
    assert same.decision.outcome == "identical"
    assert (worse.b_better or worse.b_worse) == worse.decision.significant
