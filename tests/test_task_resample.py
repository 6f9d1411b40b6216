"""The column-sum bootstrap of the task metrics against `evals.stats` (same resamples) and
the paired test's behaviour under no difference and a real one."""

from __future__ import annotations

import numpy as np
import pytest

from promptops.evals.stats import bootstrap_ci
from promptops.tasks.resample import mean_statistic, paired_sums_test, sums_ci


def test_sums_interval_equals_the_case_bootstrap_of_evals_stats() -> None:
    values = np.random.default_rng(4).random(73)
    ours = sums_ci(values, lambda s: mean_statistic(s, 73), n_resamples=500, seed=9)
    theirs = bootstrap_ci(lambda ix: float(values[ix].mean()), 73, n_resamples=500, seed=9)
    assert (ours.estimate, ours.low, ours.high) == pytest.approx(
        (theirs.estimate, theirs.low, theirs.high)
    )


def test_paired_test_sees_a_shift_and_not_noise() -> None:
    rng = np.random.default_rng(2)
    a = rng.random(60)
    same = paired_sums_test(a, a, lambda s: mean_statistic(s, 60), n_resamples=500)
    assert same.difference == 0 and same.p_value == 1.0
    shifted = paired_sums_test(
        a, a + 0.05 + rng.normal(0, 0.02, 60), lambda s: mean_statistic(s, 60), n_resamples=500
    )
    assert shifted.difference == pytest.approx(0.05, abs=0.01)
    assert shifted.p_value < 0.01 and shifted.low > 0
    with pytest.raises(ValueError):
        paired_sums_test(a, a[:-1], lambda s: mean_statistic(s, 60))
