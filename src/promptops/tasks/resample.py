"""Intervals and paired tests for metrics built from per-case numbers (extraction, generation).

Classification metrics resample label cells (`evals.stats`); the extraction and generation
metrics are instead a function of per-case columns summed over the cases: a mean of ROUGE is
sum(rouge) / n, micro field-F1 is 2·sum(tp) / (2·sum(tp) + sum(fp) + sum(fn)), corpus BLEU is
BLEU of the summed n-gram statistics. So one routine serves them all: resample the cases
(rows) with replacement, sum the columns of each resample, apply the statistic to the sums.
The interval is the percentile interval; the paired test is the one `evals.stats` uses
(shifted bootstrap distribution, (count + 1) / (resamples + 1), never exactly 0).

Binary outcomes with few cases (an assertion's pass rate) get the Wilson score interval,
which keeps its coverage near 0 and 1 where the bootstrap collapses to a point.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from math import sqrt

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm

from promptops.evals.stats import DEFAULT_RESAMPLES, ConfidenceInterval, PairedComparison

SumStatistic = Callable[[NDArray[np.float64]], NDArray[np.float64]]
"""Maps column sums, shape (resamples, columns), to one value per resample."""

_BLOCK_VALUES = 1 << 17


def _index_blocks(n: int, n_resamples: int, seed: int) -> Iterator[NDArray[np.intp]]:
    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_VALUES // max(n, 1))
    for start in range(0, n_resamples, block):
        yield rng.integers(0, n, size=(min(block, n_resamples - start), n), dtype=np.intp)


def _columns(values: NDArray[np.float64]) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    return array[:, None] if array.ndim == 1 else array


def sums_ci(
    columns: NDArray[np.float64],
    statistic: SumStatistic,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval:
    """Percentile-bootstrap interval of `statistic(column sums)` over the cases (rows)."""
    cols = _columns(columns)
    if len(cols) == 0:
        raise ValueError("cannot bootstrap an empty set of cases")
    estimate = float(statistic(cols.sum(axis=0)[None, :])[0])
    values = np.concatenate(
        [statistic(cols[ix].sum(axis=1)) for ix in _index_blocks(len(cols), n_resamples, seed)]
    )
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return ConfidenceInterval(estimate, float(low), float(high), confidence, n_resamples)


def mean_statistic(sums: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    out: NDArray[np.float64] = sums[:, 0] / n
    return out


def paired_sums_test(
    columns_a: NDArray[np.float64],
    columns_b: NDArray[np.float64],
    statistic: SumStatistic,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedComparison:
    """`statistic` of B minus that of A on the same resampled cases: interval and p-value."""
    a, b = _columns(columns_a), _columns(columns_b)
    if len(a) != len(b):
        raise ValueError(f"paired systems need the same cases: {len(a)} and {len(b)}")
    if len(a) == 0:
        raise ValueError("cannot compare systems on an empty set of cases")
    observed = float(statistic(b.sum(axis=0)[None, :])[0] - statistic(a.sum(axis=0)[None, :])[0])
    diffs = np.concatenate(
        [
            statistic(b[ix].sum(axis=1)) - statistic(a[ix].sum(axis=1))
            for ix in _index_blocks(len(a), n_resamples, seed)
        ]
    )
    alpha = (1 - confidence) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    extreme = int(np.sum(np.abs(diffs - observed) >= abs(observed) - 1e-12))
    p_value = min(1.0, (extreme + 1) / (n_resamples + 1))
    return PairedComparison(
        observed, float(low), float(high), p_value, confidence, n_resamples, float(diffs.std())
    )


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion; (0, 1) when there are no trials."""
    if n == 0:
        return (0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError(f"{successes} successes out of {n} trials")
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))
