"""Scoring prompts: the answer is one number within the prompt's range, or it is invalid.

An answer is read strictly: after trimming, it must be a single number (an optional sign,
digits, an optional decimal part; "4", "4.0", " 3.5 ") and lie within [lo, hi]. "4/5",
"about 4", "4 or 5" and 7 on a 0-5 scale are invalid: counted and shown, never clipped into
range or guessed, and left out of the error metrics (the invalid rate is reported beside
them, and a threshold can bound it).

MAE and RMSE equal scikit-learn's `mean_absolute_error` and `root_mean_squared_error`;
Pearson and Spearman equal scipy's `pearsonr` and `spearmanr`. A correlation of a constant
column is undefined (None), never 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import pearsonr, spearmanr

from promptops.tasks.stats import MetricFn

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
CALIBRATION_BINS = 5
HIGHER_IS_BETTER = {"mae": False, "rmse": False, "pearson": True, "spearman": True}


@dataclass(frozen=True)
class ParsedScore:
    value: float | None
    reason: str | None  # why the answer is invalid


def parse_score(text: str | None, lo: float, hi: float) -> ParsedScore:
    """One number within [lo, hi], or the reason it is not."""
    if text is None:
        return ParsedScore(None, "no answer")
    answer = text.strip()
    if not _NUMBER.fullmatch(answer):
        return ParsedScore(None, f"not a single number: {answer[:40]!r}")
    value = float(answer)
    if not lo <= value <= hi:
        return ParsedScore(None, f"{value:g} is outside the range [{lo:g}, {hi:g}]")
    return ParsedScore(value, None)


@dataclass(frozen=True)
class ScoringMetrics:
    n: int
    mae: float | None
    rmse: float | None
    pearson: float | None
    spearman: float | None

    def as_dict(self) -> dict[str, float | None]:
        return {
            "mae": self.mae,
            "rmse": self.rmse,
            "pearson": self.pearson,
            "spearman": self.spearman,
        }


def _constant(x: NDArray[np.float64]) -> bool:
    return bool(len(x) < 2 or np.all(x == x[0]))


def pearson(truth: NDArray[Any], pred: NDArray[np.float64]) -> float | None:
    if _constant(truth) or _constant(pred):
        return None
    return float(pearsonr(truth, pred).statistic)


def spearman(truth: NDArray[Any], pred: NDArray[np.float64]) -> float | None:
    if _constant(truth) or _constant(pred):
        return None
    return float(spearmanr(truth, pred).statistic)


def mae(truth: NDArray[Any], pred: NDArray[np.float64]) -> float | None:
    return float(np.mean(np.abs(pred - truth))) if len(truth) else None


def rmse(truth: NDArray[Any], pred: NDArray[np.float64]) -> float | None:
    return float(np.sqrt(np.mean((pred - truth) ** 2))) if len(truth) else None


METRICS: dict[str, MetricFn] = {"mae": mae, "rmse": rmse, "pearson": pearson, "spearman": spearman}


def scoring_metrics(truth: NDArray[Any], pred: NDArray[np.float64]) -> ScoringMetrics:
    truth = np.asarray(truth, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    return ScoringMetrics(
        n=len(truth),
        mae=mae(truth, pred),
        rmse=rmse(truth, pred),
        pearson=pearson(truth, pred),
        spearman=spearman(truth, pred),
    )


@dataclass(frozen=True)
class CalibrationBin:
    """Cases whose expected value falls in [low, high): their mean expected and predicted."""

    low: float
    high: float
    n: int
    mean_expected: float | None
    mean_predicted: float | None


def calibration_bins(
    truth: NDArray[Any],
    pred: NDArray[np.float64],
    lo: float,
    hi: float,
    bins: int = CALIBRATION_BINS,
) -> list[CalibrationBin]:
    """Predicted against expected in equal-width bins of the expected value (the last bin
    closed): a calibrated scorer's points lie on the diagonal."""
    edges = np.linspace(lo, hi, bins + 1)
    where = np.clip(np.searchsorted(edges, truth, side="right") - 1, 0, bins - 1)
    out = []
    for k in range(bins):
        mask = where == k
        n = int(mask.sum())
        out.append(
            CalibrationBin(
                low=float(edges[k]),
                high=float(edges[k + 1]),
                n=n,
                mean_expected=float(truth[mask].mean()) if n else None,
                mean_predicted=float(pred[mask].mean()) if n else None,
            )
        )
    return out
