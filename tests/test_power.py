"""Sample size, power and MDE for paired proportions, and the two deciding tests, against
independent computations: the published table in the small-samples note, exact binomial
enumeration and Monte Carlo with scipy, statsmodels' McNemar, and brute-force enumeration
of every swap scored by scikit-learn."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import binom, norm
from sklearn.metrics import f1_score

from promptops.evals.cells import tally
from promptops.evals.stats import mcnemar_counts, paired_permutation_cells
from promptops.metrics import power as pw

# Connor (1987) n at alpha 0.05 two-sided and 80% power, from the table of
# shared/notes/rate_limits_and_small_samples.md (B3), which rounds to the nearest case;
# connor_n rounds up, so it may be one more.
TABLE = [
    (0.01, 0.05, 3922),
    (0.01, 0.10, 7847),
    (0.01, 0.20, 15695),
    (0.02, 0.05, 979),
    (0.02, 0.10, 1960),
    (0.02, 0.20, 3922),
    (0.05, 0.10, 312),
    (0.05, 0.20, 626),
]


@pytest.mark.parametrize(("delta", "psi", "n"), TABLE)
def test_connor_n_matches_the_published_table(delta: float, psi: float, n: int) -> None:
    assert pw.connor_n(delta, psi) in (n, n + 1)
    assert pw.connor_n(-delta, psi) == pw.connor_n(delta, psi)
    assert pw.connor_power(delta, psi, pw.connor_n(delta, psi)) >= 0.8
    assert pw.connor_power(delta, psi, pw.connor_n(delta, psi) - 1) < 0.8
    # Miettinen asks 1-10% fewer cases (note B3)
    assert 0.89 * n <= pw.miettinen_n(delta, psi) <= n


def test_the_two_anchor_figures_exactly() -> None:
    assert pw.connor_n(0.02, 0.10) == 1960
    assert pw.connor_n(0.05, 0.10) == 312


def _z_test_power(n: int, p10: float, p01: float, alpha: float) -> float:
    """Exact power of the uncorrected McNemar z-test (the test Connor's formula is built
    for), summing the trinomial: m ~ Bin(n, psi) discordant, c ~ Bin(m, p01 / psi)."""
    psi = p10 + p01
    z = norm.ppf(1 - alpha / 2)
    m = np.arange(1, n + 1)
    w = binom.pmf(m, n, psi)
    total = 0.0
    for mi, wi in zip(m, w, strict=True):
        if wi < 1e-14:
            continue
        c = np.arange(mi + 1)
        reject = np.abs(2 * c - mi) / math.sqrt(mi) > z
        total += wi * binom.pmf(c[reject], mi, p01 / psi).sum()
    return float(total)


def _mid_p_power(n: int, p10: float, p01: float, alpha: float) -> float:
    """Exact power of the mid-p test by the same enumeration, mid-p from scipy's pmf/cdf."""
    psi = p10 + p01
    total = 0.0
    for mi in range(1, n + 1):
        wi = binom.pmf(mi, n, psi)
        if wi < 1e-14:
            continue
        c = np.arange(mi + 1)
        low = np.minimum(c, mi - c)
        exact = np.minimum(1.0, 2 * binom.cdf(low, mi, 0.5))
        mid = np.where(2 * c == mi, 1 - binom.pmf(c, mi, 0.5) / 2, exact - binom.pmf(low, mi, 0.5))
        total += wi * binom.pmf(c[mid < alpha], mi, p01 / psi).sum()
    return float(total)


@pytest.mark.parametrize(("delta", "psi"), [(0.05, 0.10), (0.05, 0.20), (0.10, 0.30), (0.02, 0.10)])
def test_connor_n_gives_80_percent_power_by_exact_enumeration(delta: float, psi: float) -> None:
    n = pw.connor_n(delta, psi)
    p10, p01 = (psi - delta) / 2, (psi + delta) / 2
    # the z-test is a little liberal at small discordant counts: 0.826 at n = 312
    assert _z_test_power(n, p10, p01, 0.05) == pytest.approx(0.80, abs=0.03)
    assert _mid_p_power(n, p10, p01, 0.05) == pytest.approx(0.80, abs=0.03)


def test_connor_power_against_monte_carlo_of_the_mid_p_test() -> None:
    rng = np.random.default_rng(7)
    n, psi, delta = 312, 0.10, 0.05
    draws = rng.multinomial(n, [(psi - delta) / 2, (psi + delta) / 2, 1 - psi], size=20000)
    pairs, counts = np.unique(draws[:, :2], axis=0, return_counts=True)
    rejected = sum(
        int(k)
        for (b, c), k in zip(pairs.tolist(), counts, strict=True)
        if mcnemar_counts(b, c).mid_p < 0.05
    )
    rate = rejected / len(draws)
    assert rate == pytest.approx(pw.connor_power(delta, psi, n), abs=0.025)


@pytest.mark.parametrize(("n", "expected"), [(100, 0.125), (500, 0.056), (1000, 0.040)])
def test_mde_matches_the_notes_rule_of_thumb(n: int, expected: float) -> None:
    """Note B3: MDE ~ 2.80 sqrt(psi / n); at psi = 0.2: 12.5, 5.6 and 4.0 points."""
    mde = pw.connor_mde(0.2, n)
    assert mde is not None and mde == pytest.approx(expected, abs=0.002)
    assert pw.connor_power(mde, 0.2, n) == pytest.approx(0.8, abs=1e-6)


def test_mde_is_none_when_no_gain_up_to_psi_is_detectable() -> None:
    assert pw.connor_mde(0.05, 20) is None  # one discordant case expected
    assert pw.connor_mde(0.0, 100) is None
    assert pw.connor_mde(0.5, 1000) is not None


def test_cases_for_scales_an_mde_by_one_over_root_n() -> None:
    mde = pw.connor_mde(0.1, 240)
    assert mde is not None
    needed = pw.cases_for(0.02, mde, 240)
    assert needed == pytest.approx(pw.connor_n(0.02, 0.1), rel=0.05)
    with pytest.raises(ValueError):
        pw.cases_for(0.0, mde, 240)
    with pytest.raises(ValueError, match="discordant"):
        pw.connor_n(0.2, 0.1)


@pytest.mark.parametrize(("b", "c"), [(0, 4), (1, 3), (3, 3), (0, 5), (12, 30), (400, 460)])
def test_mid_p_equals_its_definition(b: int, c: int) -> None:
    m, k = b + c, min(b, c)
    exact = min(1.0, 2 * binom.cdf(k, m, 0.5))
    mid = 1 - binom.pmf(k, m, 0.5) / 2 if b == c else exact - binom.pmf(k, m, 0.5)
    result = mcnemar_counts(b, c)
    assert result.p_value == pytest.approx(exact, rel=1e-9)
    assert result.mid_p == pytest.approx(mid, rel=1e-9)


def test_exact_mcnemar_equals_statsmodels() -> None:
    tables = pytest.importorskip("statsmodels.stats.contingency_tables")
    for b, c in [(0, 4), (1, 3), (5, 0), (12, 30), (70, 41)]:
        expected = tables.mcnemar([[10, b], [c, 10]], exact=True).pvalue
        assert mcnemar_counts(b, c).p_value == pytest.approx(expected, rel=1e-9)


def test_the_note_figures_for_small_discordance() -> None:
    """Note B1: exact cannot reject with 5 or fewer discordant pairs; mid-p rejects 5:0."""
    assert mcnemar_counts(0, 5).p_value > 0.05 and mcnemar_counts(0, 6).p_value < 0.05
    assert mcnemar_counts(0, 5).mid_p == pytest.approx(0.03125)
    assert mcnemar_counts(0, 4).mid_p == pytest.approx(0.0625)


def _systems(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true = rng.integers(0, 3, n)
    a = np.where(rng.random(n) < 0.6, true, rng.integers(0, 4, n))  # 3 = invalid answer
    b = np.where(rng.random(n) < 0.75, true, rng.integers(0, 4, n))
    return true, a, b


def _sk_f1(true: np.ndarray, pred: np.ndarray) -> float:
    return float(f1_score(true, pred, labels=[0, 1, 2], average="macro", zero_division=0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sign_flip_exact_p_equals_enumerating_every_swap(seed: int) -> None:
    true, a, b = _systems(14, seed)
    differ = np.flatnonzero(a != b)
    observed = _sk_f1(true, b) - _sk_f1(true, a)
    extreme = 0
    for swaps in itertools.product([False, True], repeat=len(differ)):
        aa, bb = a.copy(), b.copy()
        where = differ[list(swaps)]
        aa[where], bb[where] = b[where], a[where]
        extreme += abs(_sk_f1(true, bb) - _sk_f1(true, aa)) >= abs(observed) - 1e-12
    result = paired_permutation_cells(tally([true, a, b], [3, 4, 4]), 3, exact_limit=1 << 16)
    assert result.n_resamples == 0 and result.n_discordant == len(differ)
    assert result.difference == pytest.approx(observed)
    assert result.p_value == pytest.approx(extreme / 2 ** len(differ))
    sampled = paired_permutation_cells(
        tally([true, a, b], [3, 4, 4]), 3, exact_limit=0, n_resamples=4000, seed=3
    )
    assert sampled.n_resamples == 4000
    assert sampled.p_value == pytest.approx(result.p_value, abs=0.03)
    assert sampled.null_sd == pytest.approx(result.null_sd, rel=0.1)


def test_sign_flip_with_nothing_to_swap() -> None:
    true, a, _ = _systems(20, 4)
    result = paired_permutation_cells(tally([true, a, a], [3, 4, 4]), 3)
    assert (result.p_value, result.n_discordant, result.difference) == (1.0, 0, 0.0)


@pytest.mark.parametrize("n", [10, 30, 100])
def test_mid_p_size_by_exact_enumeration(n: int) -> None:
    """Unconditional size of the mid-p test with no Monte Carlo error: at most alpha for
    discordant rates up to 0.9 (it passes alpha only as every case turns discordant, where
    the conditional size at m = n rules: 0.057 at n = 100, psi = 1)."""
    sizes = [_mid_p_power(n, psi / 2, psi / 2, 0.05) for psi in np.linspace(0.05, 0.9, 18)]
    assert max(sizes) <= 0.05 + 5e-4, sizes


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_sign_flip_is_symmetric_in_its_two_systems(seed: int) -> None:
    """Swapping which system is A negates the difference and keeps every p-value, exact or
    sampled (the swap distribution is symmetric)."""
    true, a, b = _systems(24, seed)
    for limit in (1 << 20, 0):
        ab = paired_permutation_cells(tally([true, a, b], [3, 4, 4]), 3, exact_limit=limit)
        ba = paired_permutation_cells(tally([true, b, a], [3, 4, 4]), 3, exact_limit=limit)
        assert ab.difference == pytest.approx(-ba.difference)
        assert 0 < ab.p_value <= 1 and ab.smallest_p <= ab.p_value + 1e-12
        if limit:
            assert ab.n_resamples == 0 and ab.p_value == pytest.approx(ba.p_value)
        else:
            assert ab.p_value == pytest.approx(ba.p_value, abs=0.04)


@pytest.mark.parametrize(("m", "size"), [(10, 0.021), (20, 0.041), (50, 0.033), (100, 0.035)])
def test_exact_conditional_size_matches_the_note(m: int, size: float) -> None:
    """Note B1: the exact test's size given m discordant pairs; mid-p's is closer to alpha."""
    exact = sum(
        binom.pmf(c, m, 0.5) for c in range(m + 1) if mcnemar_counts(c, m - c).p_value < 0.05
    )
    mid = sum(binom.pmf(c, m, 0.5) for c in range(m + 1) if mcnemar_counts(c, m - c).mid_p < 0.05)
    assert exact == pytest.approx(size, abs=0.0005)
    assert exact <= mid
