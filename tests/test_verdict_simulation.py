"""The verdict's error rates by simulation (issue #11).

With the prompt and the baseline equally good, the deciding test may call a difference
significant at most alpha of the time (plus Monte Carlo error) at n = 10, 30 and 100, for
accuracy (McNemar mid-p) and for macro-F1 (paired sign-flip); with a true difference its
simulated power stands beside the analytic figure. The rule under test is the library's
own `paired.compare_cells` decision. benchmarks/verdict_simulation.py prints the full table,
old rule beside new.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from promptops.evals import paired
from promptops.evals.cells import tally
from promptops.evals.stats import mcnemar_counts, paired_bootstrap_cells
from promptops.metrics import power as pw

ALPHA = 0.05
LABELS = 3


def _ceiling(reps: int) -> float:
    """alpha plus three Monte Carlo standard errors."""
    return ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / reps)


def _mid_p_rejections(draws: np.ndarray) -> np.ndarray:
    """Whether the mid-p test rejects, per row of (b, c, rest) counts."""
    pairs, where = np.unique(draws[:, :2], axis=0, return_inverse=True)
    rejects = np.array([mcnemar_counts(int(b), int(c)).mid_p < ALPHA for b, c in pairs])
    return rejects[where.ravel()]


@pytest.mark.parametrize("n", [10, 30, 100])
@pytest.mark.parametrize("psi", [0.2, 0.5])
def test_accuracy_false_positive_rate_at_most_alpha(n: int, psi: float) -> None:
    reps = 40_000
    rng = np.random.default_rng(n)
    draws = rng.multinomial(n, [psi / 2, psi / 2, 1 - psi], size=reps)
    rate = float(_mid_p_rejections(draws).mean())
    assert rate <= _ceiling(reps), f"n={n} psi={psi}: false-positive rate {rate:.4f}"


def test_accuracy_power_beside_connor() -> None:
    """n = 100, 30% discordant, a 15-point gain: simulated power of the mid-p test against
    Connor's analytic figure (0.79)."""
    n, psi, delta, reps = 100, 0.3, 0.15, 40_000
    rng = np.random.default_rng(5)
    draws = rng.multinomial(n, [(psi - delta) / 2, (psi + delta) / 2, 1 - psi], size=reps)
    simulated = float(_mid_p_rejections(draws).mean())
    analytic = pw.connor_power(delta, psi, n)
    assert simulated == pytest.approx(analytic, abs=0.04), (simulated, analytic)


def _draw(
    rng: np.random.Generator, n: int, acc_a: float, acc_b: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True labels and two independent systems' answers: right with their accuracy, else a
    uniformly drawn wrong label. Equal accuracies make the two answers exchangeable."""
    true = rng.integers(0, LABELS, n)

    def answers(acc: float) -> np.ndarray:
        wrong = (true + rng.integers(1, LABELS, n)) % LABELS
        return np.where(rng.random(n) < acc, true, wrong)

    return true, answers(acc_a), answers(acc_b)


def _results(n: int, acc_b: float, reps: int, seed: int) -> list[paired.PairedResult]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(reps):
        true, a, b = _draw(rng, n, 0.7, acc_b)
        cells = tally([true, a, b], [LABELS, LABELS + 1, LABELS + 1])
        out.append(
            paired.compare_cells(
                cells, LABELS, metric="macro_f1", alpha=ALPHA, n_resamples=200, seed=seed
            )
        )
    return out


@pytest.mark.parametrize(("n", "reps"), [(10, 3000), (30, 3000), (100, 2000)])
def test_macro_f1_false_positive_rate_at_most_alpha(n: int, reps: int) -> None:
    rate = sum(r.decision.significant for r in _results(n, 0.7, reps, seed=n)) / reps
    assert rate <= _ceiling(reps), f"n={n}: false-positive rate {rate:.4f}"


def test_the_old_bootstrap_rule_fails_the_same_check_at_ten_cases() -> None:
    """The check can fail: the paired bootstrap the verdict used before calls 'equally
    good' significant about 13% of the time at n = 10."""
    rng = np.random.default_rng(10)
    reps = 600
    rejected = 0
    for _ in range(reps):
        true, a, b = _draw(rng, 10, 0.7, 0.7)
        cells = tally([true, a, b], [LABELS, LABELS + 1, LABELS + 1])
        rejected += paired_bootstrap_cells(cells, LABELS, n_resamples=500, seed=1).p_value < ALPHA
    assert rejected / reps > _ceiling(reps)


def test_macro_f1_power_beside_the_spread_based_mde() -> None:
    """n = 100, accuracy 0.70 against 0.85: simulated power of the sign-flip test beside
    the analytic power of the construction behind its MDE, Phi((delta - z sd0) / sd1), with
    delta the mean observed gain and sd0, sd1 the mean sign-flip and bootstrap spreads."""
    results = _results(100, 0.85, 400, seed=7)
    simulated = sum(r.decision.significant and r.decision.diff > 0 for r in results) / 400
    delta = float(np.mean([r.decision.diff for r in results]))
    sd0 = float(np.mean([r.permutation.null_sd for r in results]))
    sd1 = float(np.mean([r.bootstrap.sd for r in results]))
    analytic = float(norm.cdf((delta - norm.ppf(1 - ALPHA / 2) * sd0) / sd1))
    assert simulated == pytest.approx(analytic, abs=0.1), (simulated, analytic)
