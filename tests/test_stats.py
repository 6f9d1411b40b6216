"""Bootstrap intervals, paired tests, McNemar and pass^k against independent computations."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import f1_score

from promptops.evals.evalset import load_evalset
from promptops.evals.stats import (
    accuracy_ci,
    binomial_half_cdf,
    bootstrap_ci,
    macro_f1_ci,
    mcnemar_exact,
    paired_bootstrap,
    pass_hat_k,
    repeated_samples,
)

SHIPPED = Path(__file__).resolve().parent.parent / "evalsets" / "banking77" / "intent.jsonl"
Y_TRUE = [str(c.expected) for c in load_evalset(SHIPPED) if c.split == "test"]
LABELS = sorted(set(Y_TRUE))


def _system(accuracy: float, seed: int, invalid: float = 0.0) -> list[str | None]:
    rng = np.random.default_rng(seed)
    out: list[str | None] = []
    for truth in Y_TRUE:
        u = rng.random()
        if u < accuracy:
            out.append(truth)
        elif u < accuracy + invalid:
            out.append(None)
        else:
            out.append(str(rng.choice([x for x in LABELS if x != truth])))
    return out


def _sk_macro_f1(pred: list[str | None], idx: np.ndarray | None = None) -> float:
    ix = np.arange(len(Y_TRUE)) if idx is None else idx
    true = [Y_TRUE[i] for i in ix]
    sk = [pred[i] if pred[i] is not None else "__invalid__" for i in ix]
    return float(f1_score(true, sk, labels=LABELS, average="macro", zero_division=0))


def test_bootstrap_ci_is_seeded_and_about_as_wide_as_theory() -> None:
    pred = _system(0.7, seed=1, invalid=0.05)
    first = accuracy_ci(Y_TRUE, pred, seed=3)
    assert first == accuracy_ci(Y_TRUE, pred, seed=3)
    assert first != accuracy_ci(Y_TRUE, pred, seed=4)
    p = first.estimate
    assert p == pytest.approx(np.mean([t == q for t, q in zip(Y_TRUE, pred, strict=True)]))
    normal_width = 2 * 1.96 * math.sqrt(p * (1 - p) / len(Y_TRUE))
    assert first.high - first.low == pytest.approx(normal_width, rel=0.15)
    assert first.low < p < first.high
    assert first.n_resamples == 2000 and first.confidence == 0.95


def _codes(pred: list[str | None]) -> np.ndarray:
    return np.array([LABELS.index(p) if p is not None else len(LABELS) for p in pred])


def _case_resamples(columns: list[np.ndarray], n_resamples: int, seed: int) -> list[np.ndarray]:
    """Resampled case indices, drawn as the cell bootstrap draws them: the multinomial
    counts of the distinct (code, code, ...) cells, each cell's count expanded back into
    that many copies of one of its cases."""
    keys = np.stack(columns, axis=1)
    _, first, counts = np.unique(keys, axis=0, return_index=True, return_counts=True)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(len(keys), counts / len(keys), size=n_resamples)
    return [np.repeat(first, draw) for draw in draws]


def test_macro_f1_ci_is_the_percentile_bootstrap_of_sklearn_f1() -> None:
    pred = _system(0.75, seed=2, invalid=0.05)
    ci = macro_f1_ci(Y_TRUE, pred, LABELS, n_resamples=300, seed=11)
    assert ci.estimate == pytest.approx(_sk_macro_f1(pred))
    resamples = _case_resamples([_codes(Y_TRUE), _codes(pred)], 300, seed=11)
    values = [_sk_macro_f1(pred, ix) for ix in resamples]
    assert (ci.low, ci.high) == pytest.approx(tuple(np.percentile(values, [2.5, 97.5])))


def test_cell_bootstrap_agrees_with_resampling_case_indices() -> None:
    """Redrawing cell counts is a case bootstrap: 2,000 index resamples scored by sklearn
    give the same interval up to Monte Carlo error."""
    pred = _system(0.75, seed=2, invalid=0.05)
    ci = macro_f1_ci(Y_TRUE, pred, LABELS, n_resamples=2000, seed=11)
    rng = np.random.default_rng(12)
    values = [_sk_macro_f1(pred, ix) for ix in rng.integers(0, len(Y_TRUE), (2000, len(Y_TRUE)))]
    low, high = np.percentile(values, [2.5, 97.5])
    assert abs(ci.low - low) < 0.01 and abs(ci.high - high) < 0.01
    acc = accuracy_ci(Y_TRUE, pred, seed=11)
    right = np.array([t == p for t, p in zip(Y_TRUE, pred, strict=True)])
    means = [right[ix].mean() for ix in rng.integers(0, len(Y_TRUE), (2000, len(Y_TRUE)))]
    assert abs(acc.low - np.percentile(means, 2.5)) < 0.01
    assert abs(acc.high - np.percentile(means, 97.5)) < 0.01


def test_bootstrap_ci_generic_statistic_and_empty() -> None:
    data = np.arange(100, dtype=np.float64)
    ci = bootstrap_ci(lambda ix: float(data[ix].mean()), 100, confidence=0.9, seed=0)
    assert ci.estimate == 49.5 and ci.low < 49.5 < ci.high and ci.confidence == 0.9
    with pytest.raises(ValueError, match="empty"):
        bootstrap_ci(lambda ix: 0.0, 0)


def test_paired_bootstrap_matches_an_explicit_loop() -> None:
    a = _system(0.70, seed=5, invalid=0.05)
    b = _system(0.78, seed=6)
    result = paired_bootstrap(Y_TRUE, a, b, LABELS, n_resamples=300, seed=9)
    observed = _sk_macro_f1(b) - _sk_macro_f1(a)
    assert result.difference == pytest.approx(observed)
    resamples = _case_resamples([_codes(Y_TRUE), _codes(a), _codes(b)], 300, seed=9)
    diffs = np.array([_sk_macro_f1(b, ix) - _sk_macro_f1(a, ix) for ix in resamples])
    assert (result.low, result.high) == pytest.approx(tuple(np.percentile(diffs, [2.5, 97.5])))
    extreme = int(np.sum(np.abs(diffs - observed) >= abs(observed) - 1e-12))
    assert result.p_value == pytest.approx((extreme + 1) / 301)


def test_paired_bootstrap_extremes() -> None:
    a = _system(0.6, seed=7)
    same = paired_bootstrap(Y_TRUE, a, a, LABELS, n_resamples=200)
    assert (same.difference, same.low, same.high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    better = paired_bootstrap(Y_TRUE, a, list(Y_TRUE), LABELS)
    assert better.low > 0.25 and better.p_value == pytest.approx(1 / 2001)


def _binomial_two_sided(b: int, c: int) -> float:
    """Exact McNemar by hand: double the smaller binomial tail at 1/2, capped at 1."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2.0**n
    return min(1.0, 2 * tail)


@pytest.mark.parametrize(("b", "c"), [(0, 0), (3, 3), (10, 2), (1, 12), (40, 25), (0, 7)])
def test_mcnemar_equals_direct_binomial_sum(b: int, c: int) -> None:
    both = 30
    correct_a = [True] * b + [False] * c + [True] * both + [False] * 5
    correct_b = [False] * b + [True] * c + [True] * both + [False] * 5
    result = mcnemar_exact(correct_a, correct_b)
    assert (result.b, result.c) == (b, c)
    assert result.p_value == pytest.approx(_binomial_two_sided(b, c), rel=1e-9)


def test_mcnemar_on_real_sized_systems() -> None:
    a = _system(0.70, seed=1)
    b = _system(0.85, seed=2)
    ca = [p == t for p, t in zip(a, Y_TRUE, strict=True)]
    cb = [p == t for p, t in zip(b, Y_TRUE, strict=True)]
    result = mcnemar_exact(ca, cb)
    assert result.b == sum(x and not y for x, y in zip(ca, cb, strict=True))
    assert result.c == sum(y and not x for x, y in zip(ca, cb, strict=True))
    assert result.p_value == pytest.approx(_binomial_two_sided(result.b, result.c))
    with pytest.raises(ValueError):
        mcnemar_exact([True], [True, False])


def _pairs(b: int, c: int) -> tuple[list[bool], list[bool]]:
    """Outcomes with b cases only A got right, c only B, and some agreement around them."""
    return [True] * b + [False] * c + [True, False], [False] * b + [True] * c + [True, False]


@pytest.mark.parametrize(
    ("b", "c"),
    [
        (0, 1),
        (1, 0),
        (7, 7),
        (9, 10),
        (120, 80),
        (5000, 5210),
        (499_999, 500_001),
        (499_000, 501_000),
        (497_000, 503_000),
        (503_000, 497_000),
        (1, 999_999),
    ],
)
def test_mcnemar_equals_scipy_binomtest_up_to_a_million_discordant(b: int, c: int) -> None:
    result = mcnemar_exact(*_pairs(b, c))
    assert (result.b, result.c) == (b, c)
    # lgamma of 10^6 carries ~1e-9 absolute error into the log of the largest term
    assert result.p_value == pytest.approx(binomtest(b, b + c, 0.5).pvalue, rel=1e-8, abs=1e-300)


def test_binomial_tail_matches_exact_integer_arithmetic() -> None:
    for n, k in [(20_000, 9_800), (20_000, 9_999), (20_001, 10_000), (3_000, 1_400)]:
        total, term = 0, math.comb(n, k)
        for i in range(k, -1, -1):  # C(n, i - 1) = C(n, i) * i / (n - i + 1), exactly
            total += term
            term = term * i // (n - i + 1)
        assert binomial_half_cdf(k, n) == pytest.approx(total / 2**n, rel=1e-10)


def test_mcnemar_edges() -> None:
    assert mcnemar_exact([], []).p_value == 1.0
    assert mcnemar_exact([True, False], [True, False]).p_value == 1.0  # b + c = 0
    assert mcnemar_exact(*_pairs(3, 3)).p_value == 1.0
    assert mcnemar_exact(*_pairs(0, 1)).p_value == 1.0
    assert mcnemar_exact(*_pairs(0, 5)).p_value == pytest.approx(2 / 32, rel=1e-14)
    assert mcnemar_exact(*_pairs(0, 10**6)).p_value == 0.0  # 2^-999999 underflows
    assert 0.0 < mcnemar_exact(*_pairs(498_000, 502_000)).p_value < 1e-4
    with pytest.raises(ValueError, match="k <= n / 2"):
        binomial_half_cdf(6, 10)


def _brute_pass_k(correct: list[bool], k: int) -> float:
    """Share of all k-subsets of the samples that are entirely correct."""
    subsets = list(itertools.combinations(correct, k))
    return sum(all(s) for s in subsets) / len(subsets)


def test_pass_hat_k_equals_enumerating_subsets() -> None:
    rng = np.random.default_rng(0)
    per_case = [list(rng.random(8) < rng.random()) for _ in range(40)]
    n_correct = [sum(c) for c in per_case]
    for k in (1, 2, 3, 5, 8):
        expected = np.mean([_brute_pass_k(c, k) for c in per_case])
        assert pass_hat_k(n_correct, [8] * 40, k) == pytest.approx(expected)
    assert pass_hat_k([2], [4], 2) == pytest.approx(1 / 6)
    with pytest.raises(ValueError, match="k=5"):
        pass_hat_k([2], [4], 5)


def test_repeated_samples_pass_k_and_agreement() -> None:
    samples: list[list[str | None]] = [
        ["a", "a", "a", "a"],
        ["a", "b", "a", None],
        [None, None, "b", "c"],
    ]
    stats = repeated_samples(samples, ["a", "a", "c"])
    assert stats.n_samples == 4
    assert stats.pass_hat_k[1] == pytest.approx((1 + 0.5 + 0.25) / 3)
    assert stats.pass_hat_k[2] == pytest.approx((1 + 1 / 6 + 0) / 3)
    assert stats.pass_hat_k[4] == pytest.approx(1 / 3)
    assert stats.per_case_agreement == (1.0, 0.5, 0.5)
    assert stats.mean_agreement == pytest.approx(2 / 3)
    assert list(repeated_samples(samples, ["a", "a", "c"], ks=[3]).pass_hat_k) == [3]
