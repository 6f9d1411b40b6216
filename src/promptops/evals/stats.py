"""How sure can we be? Confidence intervals and significance tests for evaluation scores.

A 240-case test set gives macro-F1 to within several points, so "prompt B scores 1.5 points
higher" means nothing without an interval. Choices, all seeded so a rerun prints the same
numbers:

- `bootstrap_ci`: percentile bootstrap. Resample the cases with replacement `n_resamples`
  times (2,000 by default), recompute the metric, and take the 2.5th and 97.5th percentiles.
- `paired_bootstrap`: both systems are scored on the same resampled cases, so the interval
  is on the difference (B minus A) and case difficulty cancels out. The two-sided p-value
  tests "no difference" with the shifted bootstrap distribution: the share of resampled
  differences that lie at least |observed| away from the observed difference, with add-one
  smoothing, (count + 1) / (n_resamples + 1), so it is never reported as exactly 0.
- Accuracy and macro-F1 depend on the cases only through the counts of their (expected,
  answer[, other answer]) cells (`cells.tally`), so their bootstraps redraw those counts,
  Multinomial(n, counts / n), which is what resampling the n cases does to them: the same
  distribution, with memory and time set by the number of cells, not of cases.
- `mcnemar_exact`: on paired right/wrong outcomes only the discordant cases carry
  information; b = A right and B wrong, c = A wrong and B right, and under "equally good"
  b ~ Binomial(b + c, 1/2): the exact two-sided binomial test, and its mid-p version (the
  exact p minus half the probability of the observed table, i.e. minus P(X = min(b, c))),
  which Fagerland, Lydersen & Laake (2013) found never above alpha in 9,595 scenarios while
  the exact test, conservative, cannot reject at all below 6 discordant cases.
- `paired_permutation_cells`: the paired sign-flip (approximate randomization) test for a
  metric that is not a mean over cases, such as macro-F1: under "equally good" the two
  answers of a case are exchangeable, so swapping them on any subset of cases leaves the
  distribution unchanged. Exact enumeration of the swaps while few enough, Monte Carlo with
  (count + 1) / (resamples + 1) beyond: valid at any size, unlike the bootstrap, whose
  percentile intervals under-cover below about 30 cases (Hesterberg 2015).
- `repeated_samples`: for k answers sampled per case, pass^k (as in tau-bench, Yao et al.
  2024) is the chance that k draws are all right, estimated without bias per case from c
  right answers out of n as C(c, k) / C(n, k), then averaged over cases; agreement is the
  share of a case's answers equal to its most frequent answer (invalid answers count as one
  answer "None").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from math import comb, exp, lgamma, log, sqrt

import numpy as np
from numpy.typing import NDArray

from promptops.evals.cells import Cells, confusion_of, tally
from promptops.evals.metrics import class_scores, encode

DEFAULT_RESAMPLES = 2000
_BLOCK_VALUES = 1 << 17  # resampled values drawn or expanded at once (1 MiB)


@dataclass(frozen=True)
class ConfidenceInterval:
    estimate: float
    low: float
    high: float
    confidence: float
    n_resamples: int


@dataclass(frozen=True)
class PairedComparison:
    """Metric of B minus metric of A, with its bootstrap interval and p-value."""

    difference: float
    low: float
    high: float
    p_value: float
    confidence: float
    n_resamples: int
    sd: float = 0.0  # standard deviation of the resampled differences


@dataclass(frozen=True)
class McNemarResult:
    b: int  # A right, B wrong
    c: int  # A wrong, B right
    p_value: float  # exact
    mid_p: float = 1.0

    @property
    def smallest_mid_p(self) -> float:
        """The mid-p of the most lopsided split of these b + c cases (all one way)."""
        return 1.0 if self.b + self.c == 0 else 0.5 ** (self.b + self.c)


@dataclass(frozen=True)
class PermutationTest:
    """Metric of B minus metric of A, with its sign-flip p-value; `n_resamples` is 0 when
    every swap was enumerated (an exact p-value)."""

    difference: float
    p_value: float
    null_sd: float  # spread of the difference under "equally good"
    smallest_p: float  # the smallest p-value any outcome on these cases could give
    n_discordant: int  # cases whose two answers differ
    n_resamples: int


@dataclass(frozen=True)
class RepeatedSampleStats:
    n_samples: int
    pass_hat_k: dict[int, float]
    mean_agreement: float
    per_case_agreement: tuple[float, ...]


def _resample_blocks(n_cases: int, n_resamples: int, seed: int) -> Iterator[NDArray[np.intp]]:
    """The rows of `rng.integers(0, n_cases, size=(n_resamples, n_cases))`, drawn a block of
    rows at a time: the whole matrix is 1.6 GB for 100k cases. Blocks continue the same
    random stream, so the rows are exactly those of the single call."""
    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_VALUES // max(n_cases, 1))
    for start in range(0, n_resamples, block):
        rows = min(block, n_resamples - start)
        yield rng.integers(0, n_cases, size=(rows, n_cases), dtype=np.intp)


def _interval(
    estimate: float, values: NDArray[np.float64], confidence: float, n_resamples: int
) -> ConfidenceInterval:
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return ConfidenceInterval(float(estimate), float(low), float(high), confidence, n_resamples)


def bootstrap_ci(
    statistic: Callable[[NDArray[np.intp]], float],
    n_cases: int,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval:
    """Percentile-bootstrap interval; `statistic(indices)` scores the cases at `indices`."""
    if n_cases == 0:
        raise ValueError("cannot bootstrap an empty set of cases")
    estimate = statistic(np.arange(n_cases, dtype=np.intp))
    values = np.array(
        [statistic(ix) for block in _resample_blocks(n_cases, n_resamples, seed) for ix in block]
    )
    return _interval(estimate, values, confidence, n_resamples)


def _resampled_counts(
    counts: NDArray[np.int64], n_resamples: int, seed: int, width: int
) -> Iterator[NDArray[np.int64]]:
    """The rows of `rng.multinomial(n, counts / n, size=n_resamples)`, a block at a time.

    Drawing n cases with replacement puts Multinomial(n, counts / n) cases in the cells, so
    a count statistic of a case bootstrap is exactly this: the same distribution at a cost
    set by the number of cells, not cases. A block keeps rows x max(cells, `width`, the
    values a row expands to) near _BLOCK_VALUES; blocks continue one random stream."""
    rng = np.random.default_rng(seed)
    n = int(counts.sum())
    share = counts / n
    block = max(1, _BLOCK_VALUES // max(len(counts), width, 1))
    for start in range(0, n_resamples, block):
        yield rng.multinomial(n, share, size=min(block, n_resamples - start))


def _macro_f1s(
    rows: NDArray[np.int64], true: NDArray[np.int64], pred: NDArray[np.int64], n_labels: int
) -> NDArray[np.float64]:
    """Macro-F1 of each row of cell counts, (rows, cells), whose cells hold (true, pred)."""
    width = n_labels * (n_labels + 1)
    cell = true * (n_labels + 1) + pred
    index = cell[None, :] + np.arange(len(rows), dtype=np.int64)[:, None] * width
    confusion = np.bincount(index.ravel(), weights=rows.ravel(), minlength=len(rows) * width)
    f1 = class_scores(confusion.reshape(len(rows), n_labels, n_labels + 1))[2]
    means: NDArray[np.float64] = f1.mean(axis=-1)
    return means


def _check(cells: Cells) -> None:
    if cells.n == 0:
        raise ValueError("cannot bootstrap an empty set of cases")


def macro_f1_ci(
    y_true: Sequence[str],
    y_pred: Sequence[str | None],
    labels: Sequence[str],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval:
    """Bootstrap interval of macro-F1 (invalid predictions count as wrong)."""
    true, pred = encode(y_true, y_pred, labels)
    k = len(labels)
    return macro_f1_ci_cells(
        tally([true, pred], [k, k + 1]),
        k,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )


def macro_f1_ci_cells(
    cells: Cells,
    n_labels: int,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval:
    """`macro_f1_ci` from the (true, pred) cells of the cases (see `cells.tally`)."""
    _check(cells)
    true, pred = cells.column(0), cells.column(1)
    width = n_labels * (n_labels + 1)
    values = np.concatenate(
        [
            _macro_f1s(rows, true, pred, n_labels)
            for rows in _resampled_counts(cells.counts, n_resamples, seed, width)
        ]
    )
    estimate = float(class_scores(confusion_of(cells, n_labels))[2].mean())
    return _interval(estimate, values, confidence, n_resamples)


def accuracy_ci(
    y_true: Sequence[str],
    y_pred: Sequence[str | None],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval:
    correct = np.array([t == p for t, p in zip(y_true, y_pred, strict=True)], dtype=np.int64)
    cells = tally([correct, np.ones_like(correct)], [2, 2])  # right: codes (1, 1), equal
    return accuracy_ci_cells(cells, n_resamples=n_resamples, confidence=confidence, seed=seed)


def accuracy_ci_cells(
    cells: Cells,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval:
    """Bootstrap interval of accuracy from (true, pred) cells: a case is right when its two
    codes are equal."""
    _check(cells)
    right = (cells.column(0) == cells.column(1)).astype(np.float64)
    n = cells.n
    values = np.concatenate(
        [rows @ right / n for rows in _resampled_counts(cells.counts, n_resamples, seed, 1)]
    )
    return _interval(float(cells.counts @ right / n), values, confidence, n_resamples)


def paired_bootstrap(
    y_true: Sequence[str],
    pred_a: Sequence[str | None],
    pred_b: Sequence[str | None],
    labels: Sequence[str],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedComparison:
    """Macro-F1 of B minus macro-F1 of A on the same cases, resampled together."""
    true, a = encode(y_true, pred_a, labels)
    _, b = encode(y_true, pred_b, labels)
    k = len(labels)
    return paired_bootstrap_cells(
        tally([true, a, b], [k, k + 1, k + 1]),
        k,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )


def paired_bootstrap_cells(
    cells: Cells,
    n_labels: int,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedComparison:
    """`paired_bootstrap` from the (true, A's answer, B's answer) cells of the cases."""
    if cells.n == 0:
        raise ValueError("cannot compare systems on an empty set of cases")
    k = n_labels
    true, a, b = cells.column(0), cells.column(1), cells.column(2)

    def f1(pred: int) -> float:
        return float(class_scores(confusion_of(cells, k, 0, pred))[2].mean())

    observed = f1(2) - f1(1)
    diffs = np.concatenate(
        [
            _macro_f1s(rows, true, b, k) - _macro_f1s(rows, true, a, k)
            for rows in _resampled_counts(cells.counts, n_resamples, seed, k * (k + 1))
        ]
    )
    alpha = (1 - confidence) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    extreme = int(np.sum(np.abs(diffs - observed) >= abs(observed) - 1e-12))
    p_value = min(1.0, (extreme + 1) / (n_resamples + 1))
    return PairedComparison(
        float(observed),
        float(low),
        float(high),
        p_value,
        confidence,
        n_resamples,
        float(diffs.std()),
    )


def binomial_half_pmf(k: int, n: int) -> float:
    """P(X = k) for X ~ Binomial(n, 1/2), in log space so it never underflows early."""
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    return exp(lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1) - n * log(2.0))


def binomial_half_cdf(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2) and k <= n / 2, exact to rounding for any n.

    The terms C(n, i) / 2^n underflow long before n = 10^6, so the largest one, i = k, is
    taken in log space (lgamma) and the others are summed as ratios to it, from i = k
    down, while they still add to the sum.
    """
    if not 0 <= k <= n / 2:
        raise ValueError(f"need 0 <= k <= n / 2, got k={k}, n={n}")
    log_top = lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1) - n * log(2.0)
    total, term = 0.0, 1.0
    for i in range(k, -1, -1):  # term = P(X = i) / P(X = k), falling ever faster
        total += term
        term *= i / (n - i + 1)
        if term < total * 1e-18:
            break
    return min(1.0, exp(log_top + log(total)))


def mcnemar_exact(
    correct_a: Sequence[bool] | NDArray[np.bool_], correct_b: Sequence[bool] | NDArray[np.bool_]
) -> McNemarResult:
    """Exact McNemar test on paired correctness of two systems on the same cases.

    Two-sided: twice the smaller binomial tail, capped at 1 (the distribution at 1/2 is
    symmetric, so this equals scipy's `binomtest(b, b + c).pvalue`); `mid_p` takes half of
    the observed table's own probability out of each tail.
    """
    if len(correct_a) != len(correct_b):
        raise ValueError(f"{len(correct_a)} outcomes for A but {len(correct_b)} for B")
    a_right, b_right = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    return mcnemar_counts(int(np.sum(a_right & ~b_right)), int(np.sum(b_right & ~a_right)))


def mcnemar_counts(b: int, c: int) -> McNemarResult:
    """`mcnemar_exact` from the discordant counts: b = A right and B wrong, c the reverse.

    mid-p: for b != c, the exact p minus P(X = min(b, c)); for b == c, 1 - P(X = b) / 2."""
    m = b + c
    if m == 0:
        return McNemarResult(b, c, 1.0, 1.0)
    exact = min(1.0, 2 * binomial_half_cdf(min(b, c), m))
    point = binomial_half_pmf(min(b, c), m)
    mid = 1.0 - point / 2 if b == c else exact - point
    return McNemarResult(b, c, exact, min(1.0, max(0.0, mid)))


def paired_permutation_cells(
    cells: Cells,
    n_labels: int,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    exact_limit: int | None = None,
) -> PermutationTest:
    """Sign-flip test of macro-F1 of B minus A from the (true, A, B) cells of the cases.

    A case's answers are swapped with probability 1/2, so a cell of k cases whose answers
    differ sends Binomial(k, 1/2) of them to its mirror cell (true, B, A): the whole swap
    distribution is the product of these binomials. While it has at most `exact_limit`
    count vectors (default: `n_resamples`, where enumerating costs no more than sampling)
    it is enumerated with its binomial weights, the exact p-value; otherwise
    `n_resamples` seeded draws give (count + 1) / (n_resamples + 1).
    """
    if cells.n == 0:
        raise ValueError("cannot compare systems on an empty set of cases")
    k = n_labels
    true, a, b = cells.column(0), cells.column(1), cells.column(2)
    counts = cells.counts
    differ = np.flatnonzero(a != b)
    n_discordant = int(counts[differ].sum())
    both_true = np.concatenate([true, true])
    ext_a, ext_b = np.concatenate([a, b]), np.concatenate([b, a])

    def diffs(swapped: NDArray[np.int64]) -> NDArray[np.float64]:
        rows = np.concatenate([counts[None, :] - swapped, swapped], axis=1)
        out: NDArray[np.float64] = _macro_f1s(rows, both_true, ext_b, k) - _macro_f1s(
            rows, both_true, ext_a, k
        )
        return out

    observed = float(diffs(np.zeros((1, len(counts)), dtype=np.int64))[0])
    if n_discordant == 0:
        return PermutationTest(observed, 1.0, 0.0, 1.0, 0, 0)
    sizes = counts[differ] + 1
    block = max(1, _BLOCK_VALUES // max(2 * len(counts), k * (k + 1)))
    limit = n_resamples if exact_limit is None else exact_limit
    if float(np.prod(sizes.astype(np.float64))) <= limit:
        shape = [int(size) for size in sizes]
        grid = np.indices(shape).reshape(len(differ), -1).T
        log_w = np.zeros(len(grid))
        for j, size in enumerate(shape):
            log_w += np.array([_log_half_pmf(s, size - 1) for s in range(size)])[grid[:, j]]
        weights = np.exp(log_w)
        swapped = np.zeros((len(grid), len(counts)), dtype=np.int64)
        swapped[:, differ] = grid
        values = np.concatenate(
            [diffs(swapped[i : i + block]) for i in range(0, len(swapped), block)]
        )
        far = np.abs(values) >= abs(observed) - 1e-12
        top = np.abs(values) >= np.abs(values).max() - 1e-12
        mean = float(weights @ values)
        sd = sqrt(max(0.0, float(weights @ (values - mean) ** 2)))
        p_value = min(1.0, float(weights[far].sum()))
        return PermutationTest(
            observed, p_value, sd, min(1.0, float(weights[top].sum())), n_discordant, 0
        )
    rng = np.random.default_rng(seed)
    parts = []
    for start in range(0, n_resamples, block):
        rows = min(block, n_resamples - start)
        swapped = np.zeros((rows, len(counts)), dtype=np.int64)
        swapped[:, differ] = rng.binomial(counts[differ], 0.5, size=(rows, len(differ)))
        parts.append(diffs(swapped))
    values = np.concatenate(parts)
    extreme = int(np.sum(np.abs(values) >= abs(observed) - 1e-12))
    return PermutationTest(
        observed,
        min(1.0, (extreme + 1) / (n_resamples + 1)),
        float(values.std()),
        min(1.0, 2 * 0.5**n_discordant),  # the all-one-way swap and its mirror, at least
        n_discordant,
        n_resamples,
    )


def _log_half_pmf(k: int, n: int) -> float:
    return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1) - n * log(2.0)


def pass_hat_k(n_correct: Sequence[int], n_samples: Sequence[int], k: int) -> float:
    """Mean over cases of C(c, k) / C(n, k): the chance k of the n samples are all right."""
    if not n_correct:
        raise ValueError("no cases")
    values = []
    for c, n in zip(n_correct, n_samples, strict=True):
        if not 1 <= k <= n:
            raise ValueError(f"k={k} needs 1 <= k <= samples per case ({n})")
        values.append(comb(c, k) / comb(n, k))
    return float(np.mean(values))


def repeated_samples(
    samples: Sequence[Sequence[str | None]],
    y_true: Sequence[str],
    ks: Sequence[int] | None = None,
) -> RepeatedSampleStats:
    """pass^k for each k (default 1..fewest samples per case) and per-case agreement."""
    if len(samples) != len(y_true):
        raise ValueError(f"{len(samples)} sample lists but {len(y_true)} cases")
    if not samples or min(len(s) for s in samples) == 0:
        raise ValueError("every case needs at least one sample")
    counts = [len(s) for s in samples]
    correct = [sum(1 for p in s if p == t) for s, t in zip(samples, y_true, strict=True)]
    ks = list(ks) if ks is not None else list(range(1, min(counts) + 1))
    agreement = tuple(Counter(s).most_common(1)[0][1] / len(s) for s in samples)
    return RepeatedSampleStats(
        n_samples=min(counts),
        pass_hat_k={k: pass_hat_k(correct, counts, k) for k in ks},
        mean_agreement=float(np.mean(agreement)),
        per_case_agreement=agreement,
    )
