"""The statistics behind the signals, as pure functions of counts and codes.

- PSI: sum over bins of (cur - ref) * ln(cur / ref), on shares with empty bins set to
  `PSI_FLOOR` (1e-4, Evidently's choice), bins fitted on the reference only (quantiles).
- L-infinity: the largest absolute change of any class's share.
- Binomial: an exact one-sided test of "the rate is at most r0"; the smallest count a window
  of n can flag; the window size that flags a given true rate with a given power.
- Macro-F1, an invalid answer always wrong (as `evals.metrics`), averaged over the classes
  the window's labelled requests hold, with
  percentile bootstrap intervals, plain, paired (same resamples for both systems) and
  unpaired (independent resamples).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps

PSI_FLOOR = 1e-4


def quantile_edges(values: Sequence[float] | NDArray[np.float64], bins: int) -> NDArray[np.float64]:
    """Inner bin edges at the reference's quantiles (ties merged): `len + 1` bins."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return np.empty(0, dtype=np.float64)
    inner = np.quantile(arr, np.linspace(0.0, 1.0, bins + 1)[1:-1], method="inverted_cdf")
    return np.unique(inner)


def bin_of(edges: NDArray[np.float64], value: float) -> int:
    """Bin i holds edges[i-1] < value <= edges[i] (the first bin everything up to edges[0])."""
    return int(np.searchsorted(edges, value, side="left"))


def bin_counts(edges: NDArray[np.float64], values: Sequence[float]) -> NDArray[np.int64]:
    idx = np.searchsorted(edges, np.asarray(values, dtype=np.float64), side="left")
    return np.bincount(idx, minlength=edges.size + 1).astype(np.int64)


def psi(reference: Sequence[float] | NDArray[np.int64], current: Sequence[float]) -> float:
    """Population stability index of two histograms over the same bins (counts or shares)."""
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    ref = np.clip(ref / ref.sum(), PSI_FLOOR, None)
    cur = np.clip(cur / cur.sum(), PSI_FLOOR, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def linf(reference: dict[str, float], current: dict[str, int]) -> tuple[float, str]:
    """(largest |share change|, the class that moved most) over the union of classes."""
    total = sum(current.values())
    best, which = 0.0, ""
    for label in sorted(set(reference) | set(current)):
        change = abs(current.get(label, 0) / total - reference.get(label, 0.0))
        if change > best:
            best, which = change, label
    return best, which


def binomial_p(k: int, n: int, rate: float) -> float:
    """P(X >= k) for X ~ Binomial(n, rate): the one-sided p-value of k events in n."""
    return float(sps.binom.sf(k - 1, n, rate)) if k > 0 else 1.0


def smallest_flagged(n: int, rate: float, alpha: float) -> int:
    """The fewest events among n whose p-value against `rate` is below alpha."""
    return int(sps.binom.isf(alpha, n, rate)) + 1


def window_needed(rate: float, true_rate: float, alpha: float, power: float = 0.8) -> int:
    """The smallest window that flags `true_rate` (> rate) with `power` (a doubling search,
    then bisection; power is nearly monotone in n)."""

    def detects(n: int) -> bool:
        return float(sps.binom.sf(smallest_flagged(n, rate, alpha) - 1, n, true_rate)) >= power

    hi = 16
    while not detects(hi):
        hi *= 2
    lo = hi // 2
    while hi - lo > max(1, lo // 100):
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if detects(mid) else (mid, hi)
    return hi


def macro_f1_counts(
    confusion: NDArray[np.int64], n_labels: int, over: NDArray[np.bool_] | None = None
) -> NDArray[np.float64]:
    """Macro-F1 of confusion matrices (..., K+1, K+1): rows true, columns predicted, the last
    column the invalid answers; F1 averaged over the classes in `over` (default: the first
    `n_labels`), zero division 0."""
    diag = np.diagonal(confusion, axis1=-2, axis2=-1)[..., :n_labels].astype(np.float64)
    predicted = confusion.sum(axis=-2)[..., :n_labels].astype(np.float64)
    actual = confusion.sum(axis=-1)[..., :n_labels].astype(np.float64)
    denom = predicted + actual
    f1 = np.divide(2 * diag, denom, out=np.zeros_like(diag), where=denom > 0)
    if over is not None:
        f1 = f1[..., over]
    return np.asarray(f1.mean(axis=-1), dtype=np.float64)


def _confusions(true: NDArray[np.int64], pred: NDArray[np.int64], k: int) -> NDArray[np.int64]:
    """Confusion matrices of rows of codes: (B, m) -> (B, k, k)."""
    b = true.shape[0]
    flat = (np.arange(b)[:, None] * k * k + true * k + pred).ravel()
    return np.bincount(flat, minlength=b * k * k).reshape(b, k, k).astype(np.int64)


def supported(true: NDArray[np.int64], n_labels: int) -> NDArray[np.bool_]:
    """The classes with at least one true case: a window's macro-F1 averages over these, so
    traffic that lacks some classes is not scored 0 on them (a class shift alone is not a
    quality drop; scikit-learn's `labels=` those classes)."""
    return np.bincount(true, minlength=n_labels)[:n_labels] > 0


def macro_f1(
    true: NDArray[np.int64],
    pred: NDArray[np.int64],
    n_labels: int,
    over: NDArray[np.bool_] | None = None,
) -> float:
    """Codes 0..n_labels-1 are labels; n_labels is the invalid answer (never a true code)."""
    k = n_labels + 1
    return float(macro_f1_counts(_confusions(true[None, :], pred[None, :], k), n_labels, over)[0])


def _percentiles(draws: NDArray[np.float64], level: float) -> tuple[float, float]:
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_f1(
    true: NDArray[np.int64],
    pred: NDArray[np.int64],
    n_labels: int,
    *,
    n_boot: int,
    level: float,
    seed: int,
) -> tuple[float, float, float]:
    """(macro-F1, low, high): a percentile bootstrap interval over requests."""
    over = supported(true, n_labels)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, true.size, size=(n_boot, true.size))
    draws = macro_f1_counts(_confusions(true[idx], pred[idx], n_labels + 1), n_labels, over)
    return (macro_f1(true, pred, n_labels, over), *_percentiles(draws, level))


def paired_f1_difference(
    true: NDArray[np.int64],
    a: NDArray[np.int64],
    b: NDArray[np.int64],
    n_labels: int,
    *,
    n_boot: int,
    level: float,
    seed: int,
) -> tuple[float, float, float]:
    """(F1(b) - F1(a), low, high) on the same requests, both resampled together."""
    over = supported(true, n_labels)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, true.size, size=(n_boot, true.size))
    k = n_labels + 1
    diff = macro_f1_counts(_confusions(true[idx], b[idx], k), n_labels, over) - macro_f1_counts(
        _confusions(true[idx], a[idx], k), n_labels, over
    )
    point = macro_f1(true, b, n_labels, over) - macro_f1(true, a, n_labels, over)
    return (point, *_percentiles(diff, level))


def unpaired_f1_difference(
    true_a: NDArray[np.int64],
    a: NDArray[np.int64],
    true_b: NDArray[np.int64],
    b: NDArray[np.int64],
    n_labels: int,
    *,
    n_boot: int,
    level: float,
    seed: int,
) -> tuple[float, float, float]:
    """(F1(b) - F1(a), low, high) on different requests (canary vs primary), resampled apart."""
    over = supported(np.concatenate([true_a, true_b]), n_labels)
    rng = np.random.default_rng(seed)
    k = n_labels + 1
    ia = rng.integers(0, true_a.size, size=(n_boot, true_a.size))
    ib = rng.integers(0, true_b.size, size=(n_boot, true_b.size))
    diff = macro_f1_counts(_confusions(true_b[ib], b[ib], k), n_labels, over) - macro_f1_counts(
        _confusions(true_a[ia], a[ia], k), n_labels, over
    )
    point = macro_f1(true_b, b, n_labels, over) - macro_f1(true_a, a, n_labels, over)
    return (point, *_percentiles(diff, level))


def exact_quantiles(values: NDArray[np.float64], qs: Sequence[float]) -> list[float]:
    """Nearest-rank quantiles: the smallest observed value with at least q of the values at or
    below it (what an SLO "99% of requests within X ms" means); no interpolation."""
    return [float(v) for v in np.quantile(values, list(qs), method="inverted_cdf")]
