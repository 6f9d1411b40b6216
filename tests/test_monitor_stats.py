"""The monitor's statistics against direct computations, scipy and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import f1_score

from promptops.monitor import stats
from promptops.monitor.mmd import gaussian_kernel, mmd_test


def test_psi_equals_the_direct_sum_and_scipy_symmetric_kl() -> None:
    ref = np.array([30, 25, 20, 15, 10])
    cur = np.array([10, 20, 20, 25, 25])
    r, c = ref / ref.sum(), cur / cur.sum()
    direct = sum((ci - ri) * math.log(ci / ri) for ri, ci in zip(r, c, strict=True))
    assert stats.psi(ref, cur) == pytest.approx(direct, abs=1e-12)
    assert stats.psi(ref, cur) == pytest.approx(sps.entropy(c, r) + sps.entropy(r, c), abs=1e-12)
    assert stats.psi(ref, ref * 3) == pytest.approx(0.0, abs=1e-15)


def test_psi_floors_empty_bins() -> None:
    value = stats.psi([50, 50, 0], [40, 40, 20])
    r = np.array([0.5, 0.5, stats.PSI_FLOOR])
    c = np.array([0.4, 0.4, 0.2])
    assert value == pytest.approx(float(np.sum((c - r) * np.log(c / r))), abs=1e-12)


def test_bins_are_fitted_on_the_reference_quantiles() -> None:
    rng = np.random.default_rng(0)
    ref = rng.integers(5, 200, size=5000).astype(float)
    edges = stats.quantile_edges(ref, 10)
    counts = stats.bin_counts(edges, ref)
    assert counts.sum() == ref.size and len(counts) == len(edges) + 1
    assert counts.min() > 0.07 * ref.size and counts.max() < 0.13 * ref.size
    # bin i holds edges[i-1] < x <= edges[i]: numpy's digitize with right=True
    assert np.array_equal(counts, np.bincount(np.digitize(ref, edges, right=True)))
    assert all(stats.bin_of(edges, x) == np.digitize(x, edges, right=True) for x in ref[:200])


def test_linf_is_the_largest_share_change() -> None:
    ref = {"a": 0.5, "b": 0.3, "c": 0.2}
    value, label = stats.linf(ref, {"a": 20, "b": 30, "c": 40, "d": 10})
    assert label == "a" and value == pytest.approx(0.3)
    assert stats.linf(ref, {"a": 50, "b": 30, "c": 20}) == (0.0, "")


def test_binomial_helpers_match_scipy() -> None:
    for k, n in [(0, 500), (1, 500), (3, 500), (12, 5000)]:
        expected = sps.binomtest(k, n, 0.001, alternative="greater").pvalue
        assert stats.binomial_p(k, n, 0.001) == pytest.approx(expected, rel=1e-9)
    for n in (200, 500, 5000, 20000):
        k = stats.smallest_flagged(n, 0.001, 0.05)
        assert stats.binomial_p(k, n, 0.001) < 0.05 <= stats.binomial_p(k - 1, n, 0.001)
    n = stats.window_needed(0.001, 0.002, 0.05)
    power = sps.binom.sf(stats.smallest_flagged(n, 0.001, 0.05) - 1, n, 0.002)
    assert power >= 0.8 and 5_000 < n < 50_000


def test_exact_quantiles_are_nearest_rank() -> None:
    values = np.random.default_rng(1).lognormal(5, 1, size=1234)
    ordered = np.sort(values)
    qs = (0.5, 0.95, 0.99)
    for q, got in zip(qs, stats.exact_quantiles(values, qs), strict=True):
        assert got == ordered[math.ceil(q * values.size) - 1]
        assert np.mean(values <= got) >= q


def test_macro_f1_equals_scikit_learn_with_invalid_answers() -> None:
    rng = np.random.default_rng(2)
    k = 5
    for _ in range(20):
        true = rng.integers(0, k, size=300)
        pred = np.where(rng.random(300) < 0.7, true, rng.integers(0, k + 1, size=300))
        expected = f1_score(true, pred, labels=list(range(k)), average="macro", zero_division=0)
        assert stats.macro_f1(true, pred, k) == pytest.approx(expected, abs=1e-12)
        # a window averages over the classes it holds (scikit-learn's labels= those classes)
        few = true % 2
        over = stats.supported(few, k)
        expected = f1_score(few, pred, labels=[0, 1], average="macro", zero_division=0)
        assert stats.macro_f1(few, pred, k, over) == pytest.approx(expected, abs=1e-12)


def test_bootstrap_f1_equals_a_plain_loop_over_the_same_resamples() -> None:
    rng = np.random.default_rng(3)
    true = rng.integers(0, 4, size=200)
    pred = np.where(rng.random(200) < 0.8, true, rng.integers(0, 5, size=200))
    f1, low, high = stats.bootstrap_f1(true, pred, 4, n_boot=300, level=0.95, seed=7)
    idx = np.random.default_rng(7).integers(0, 200, size=(300, 200))
    draws = [
        f1_score(true[i], pred[i], labels=list(range(4)), average="macro", zero_division=0)
        for i in idx
    ]
    assert (low, high) == pytest.approx(tuple(np.percentile(draws, [2.5, 97.5])), abs=1e-12)
    assert low < f1 < high


def test_paired_difference_of_identical_systems_is_zero() -> None:
    rng = np.random.default_rng(4)
    true = rng.integers(0, 3, size=150)
    pred = np.where(rng.random(150) < 0.8, true, 3)
    assert stats.paired_f1_difference(true, pred, pred, 3, n_boot=200, level=0.95, seed=1) == (
        0.0,
        0.0,
        0.0,
    )
    better = true.copy()
    diff, low, high = stats.paired_f1_difference(
        true, pred, better, 3, n_boot=500, level=0.95, seed=1
    )
    assert diff > 0 and 0 < low < diff < high


def test_mmd_statistic_equals_the_double_sum() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(12, 3)), rng.normal(0.5, 1, size=(9, 3))
    kernel, h = gaussian_kernel(np.vstack([x, y]))

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return math.exp(-float(np.sum((a - b) ** 2)) / (2 * h * h))

    direct = (
        sum(k(a, b) for a in x for b in x) / 144
        + sum(k(a, b) for a in y for b in y) / 81
        - 2 * sum(k(a, b) for a in x for b in y) / 108
    )
    assert mmd_test(x, y, permutations=50, seed=0).mmd2 == pytest.approx(direct, rel=1e-9)
    assert kernel.shape == (21, 21)


def test_mmd_permutation_p_value_agrees_with_scipy() -> None:
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(30, 4)), rng.normal(0.35, 1, size=(25, 4))
    pooled = np.vstack([x, y])
    kernel, _ = gaussian_kernel(pooled)
    index = np.arange(55)

    def statistic(a: np.ndarray, b: np.ndarray) -> float:
        signs = np.zeros(55)
        signs[a.astype(int)] = 1 / a.size
        signs[b.astype(int)] = -1 / b.size
        return float(signs @ kernel @ signs)

    ref = sps.permutation_test(
        (index[:30].astype(float), index[30:].astype(float)),
        statistic,
        permutation_type="independent",
        n_resamples=4000,
        alternative="greater",
        random_state=1,
    )
    ours = mmd_test(x, y, permutations=4000, seed=2)
    assert ours.p_value == pytest.approx(ref.pvalue, abs=0.02)


def test_mmd_test_holds_its_size_under_no_drift() -> None:
    rng = np.random.default_rng(7)
    pool = rng.normal(size=(400, 5))
    p = [
        mmd_test(
            pool[rng.choice(400, 40)], pool[rng.choice(400, 30)], permutations=99, seed=s
        ).p_value
        for s in range(200)
    ]
    assert np.mean(np.array(p) < 0.05) <= 0.08
