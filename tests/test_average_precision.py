"""The numpy average precision used for PR-AUC equals scikit-learn's, ties included."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from promptops.evals.metrics import average_precision


@pytest.mark.parametrize("seed", range(6))
def test_average_precision_equals_sklearn_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    positive = rng.random(n) < rng.uniform(0.05, 0.9)
    positive[0] = True
    # coarse scores make many ties; informative ones make the curve non-trivial
    scores = np.round(0.3 * positive + rng.random(n), int(rng.integers(1, 3)))
    assert average_precision(positive, scores) == pytest.approx(
        average_precision_score(positive, scores), abs=1e-12
    )


def test_average_precision_edge_cases() -> None:
    constant = np.full(10, 0.2)  # a majority baseline: AP is the prevalence
    positive = np.array([True] * 3 + [False] * 7)
    assert average_precision(positive, constant) == pytest.approx(0.3, abs=1e-15)
    assert average_precision(np.ones(4, dtype=bool), np.array([0.1, 0.5, 0.5, 0.9])) == 1.0
    perfect = np.array([0.9, 0.8, 0.1, 0.2])
    assert average_precision(np.array([True, True, False, False]), perfect) == 1.0
    worst = average_precision(np.array([False, False, True, True]), perfect)
    assert worst == pytest.approx(average_precision_score([0, 0, 1, 1], perfect), abs=1e-15)


def test_probability_metrics_do_not_depend_on_the_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """PR-AUC tables and reliability bins merged over chunks equal one pass over all rows,
    with ties across chunks (a rounded score) and NaN rows left out."""
    import promptops.evals.metrics as m

    rng = np.random.default_rng(7)
    n, k = 3000, 4
    true = rng.integers(0, k, n)
    probs = np.round(rng.dirichlet(np.ones(k), n), 2)
    probs[rng.random(n) < 0.02] = np.nan
    whole = m.probability_metrics(true, probs)
    monkeypatch.setattr(m, "CHUNK", 97)
    chunked = m.probability_metrics(true, probs)
    assert chunked.n_with_probs == whole.n_with_probs == int((~np.isnan(probs[:, 0])).sum())
    assert chunked.macro_pr_auc == pytest.approx(whole.macro_pr_auc, abs=1e-12)
    assert chunked.ece == pytest.approx(whole.ece, abs=1e-12)
    keep = ~np.isnan(probs[:, 0])
    reference = np.mean(
        [average_precision_score(true[keep] == j, probs[keep, j]) for j in range(k)]
    )
    assert chunked.macro_pr_auc == pytest.approx(reference, abs=1e-12)
