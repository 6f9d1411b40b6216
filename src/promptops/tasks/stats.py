"""Intervals and paired tests for metrics that are functions of (truth, prediction) columns.

Binary and scoring metrics (PR-AUC, ROC-AUC, MAE, Pearson, ...) are not all means over cases,
so both the interval and the paired test resample whole cases: a percentile bootstrap for the
interval, and for "does the prompt beat this baseline" the paired bootstrap (both systems
scored on the same resampled cases; the p-value from the shifted distribution, (count + 1) /
(n_resamples + 1)). The decision word (significant, too small, underpowered...) comes from
`evals.paired.decide`, the one rule every comparison in promptops uses. A binary task's right
or wrong answers at the decision threshold are also tested with McNemar's mid-p.

A resample on which a metric is undefined (one class only, a constant column) is left out and
counted, never scored as zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from promptops.evals import paired, stats
from promptops.metrics import power

MetricFn = Callable[[NDArray[Any], NDArray[np.float64]], float | None]
PAIRED_BOOTSTRAP = "paired bootstrap"


@dataclass(frozen=True)
class Interval:
    estimate: float | None
    low: float | None
    high: float | None
    n_resamples: int
    undefined: int  # resamples on which the metric was undefined


def _draws(n: int, n_resamples: int, seed: int) -> NDArray[np.intp]:
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n), dtype=np.intp)


def bootstrap_interval(
    metric: MetricFn,
    truth: NDArray[Any],
    pred: NDArray[np.float64],
    *,
    n_resamples: int = stats.DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = 0.95,
) -> Interval:
    n = len(truth)
    estimate = metric(truth, pred) if n else None
    if estimate is None:
        return Interval(None, None, None, n_resamples, n_resamples)
    values = [metric(truth[ix], pred[ix]) for ix in _draws(n, n_resamples, seed)]
    kept = np.array([v for v in values if v is not None], dtype=np.float64)
    if not len(kept):
        return Interval(estimate, None, None, n_resamples, n_resamples)
    tail = (1 - confidence) / 2
    low, high = np.quantile(kept, [tail, 1 - tail])
    return Interval(estimate, float(low), float(high), n_resamples, n_resamples - len(kept))


@dataclass(frozen=True)
class PairedTest:
    """B (the prompt) against A (a baseline) on one metric; `gain` is signed so that a
    positive gain is better for B whatever the metric's direction."""

    metric: str
    a: float | None
    b: float | None
    diff: float  # B minus A, in the metric's units
    gain: float  # diff for higher-is-better metrics, -diff for errors
    low: float  # interval on diff
    high: float
    decision: paired.Decision
    mcnemar: stats.McNemarResult | None = None

    @property
    def b_better(self) -> bool:
        return self.decision.significant and self.gain > 0

    @property
    def b_worse(self) -> bool:
        return self.decision.significant and self.gain < 0


def paired_test(
    name: str,
    metric: MetricFn,
    truth: NDArray[Any],
    pred_a: NDArray[np.float64],
    pred_b: NDArray[np.float64],
    *,
    higher_is_better: bool,
    alpha: float,
    n_resamples: int = stats.DEFAULT_RESAMPLES,
    seed: int = 0,
    correct: tuple[NDArray[np.bool_], NDArray[np.bool_]] | None = None,
) -> PairedTest:
    """Paired bootstrap of B minus A; with `correct` (right/wrong per case for A and B) the
    McNemar mid-p figures come along for binary outcomes."""
    n = len(truth)
    a, b = metric(truth, pred_a), metric(truth, pred_b)
    diffs = []
    for ix in _draws(n, n_resamples, seed) if n else ():
        va, vb = metric(truth[ix], pred_a[ix]), metric(truth[ix], pred_b[ix])
        if va is not None and vb is not None:
            diffs.append(vb - va)
    observed = (b - a) if a is not None and b is not None else 0.0
    spread = np.array(diffs, dtype=np.float64)
    discordant = int(np.sum(pred_a != pred_b))
    if len(spread) and discordant:
        low, high = (float(x) for x in np.quantile(spread, [alpha / 2, 1 - alpha / 2]))
        extreme = np.abs(spread - observed) >= abs(observed)
        p_value = (int(extreme.sum()) + 1) / (len(spread) + 1)
        sd = float(spread.std(ddof=1)) if len(spread) > 1 else 0.0
        mde: float | None = power.normal_mde(sd, sd, alpha=alpha) if sd > 0 else None
    else:
        low = high = observed
        p_value, mde = 1.0, None
    decision = paired.decide(
        name,
        PAIRED_BOOTSTRAP,
        observed,
        p_value,
        1 / (n_resamples + 1),
        discordant,
        n,
        mde,
        "paired bootstrap spread",
        alpha,
        power.DEFAULT_POWER,
    )
    mc = None
    if correct is not None:
        ra, rb = correct
        mc = stats.mcnemar_counts(int((ra & ~rb).sum()), int((rb & ~ra).sum()))
    gain = observed if higher_is_better else -observed
    return PairedTest(name, a, b, observed, gain, low, high, decision, mc)
