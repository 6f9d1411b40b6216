"""Paired comparisons between the cells of a grid, on the cases both cells answered.

Right/wrong scores go through the eval verdict's own rule (`evals.paired.compare_cells` with
metric accuracy: McNemar's mid-p test, valid at every size, with its minimum detectable
difference); other per-case scores through a paired sign-flip test of the mean difference,
exact by enumeration up to 2^16 sign patterns, else 20,000 seeded draws. Holm's procedure
then adjusts the p-values of the whole family of pairs (`multiple.holm`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from promptops.evals import paired
from promptops.evals.cells import tally
from promptops.experiments.multiple import holm
from promptops.experiments.scores import CaseScores

SIGN_FLIP_MEAN = "paired sign-flip permutation of the mean score"
_EXACT_BITS = 16
_DRAWS = 20_000


@dataclass(frozen=True)
class PairTest:
    """B against A on their shared cases; `diff` is B's mean score minus A's."""

    a: str
    b: str
    n_shared: int
    diff: float
    test: str
    p_value: float
    outcome: str  # paired.Outcome for right/wrong scores, else significant/not_significant
    p_holm: float = 1.0

    def significant(self, alpha: float) -> bool:
        return self.p_holm < alpha and self.diff != 0


def compare_pair(
    name_a: str, a: CaseScores, name_b: str, b: CaseScores, *, alpha: float, seed: int = 0
) -> PairTest:
    shared = sorted(set(a.rows) & set(b.rows))
    sa = np.array([a.rows[i].score for i in shared], dtype=np.float64)
    sb = np.array([b.rows[i].score for i in shared], dtype=np.float64)
    if not shared:
        return PairTest(name_a, name_b, 0, 0.0, "none (no shared case)", 1.0, "identical")
    if a.binary and b.binary:
        wrong_a, wrong_b = (sa < 1).astype(np.int64), (sb < 1).astype(np.int64)
        cells = tally([np.zeros(len(shared), dtype=np.int64), wrong_a, wrong_b], [2, 3, 3])
        result = paired.compare_cells(cells, 2, metric="accuracy", alpha=alpha, seed=seed)
        d = result.decision
        return PairTest(name_a, name_b, len(shared), d.diff, d.test, d.p_value, d.outcome)
    diff, p = sign_flip_mean(sb - sa, seed=seed)
    outcome = "significant" if p < alpha and diff != 0 else "not_significant"
    return PairTest(name_a, name_b, len(shared), diff, SIGN_FLIP_MEAN, p, outcome)


def sign_flip_mean(d: NDArray[np.float64], *, seed: int = 0) -> tuple[float, float]:
    """Two-sided p-value of the mean paired difference under random sign flips."""
    observed = float(d.mean())
    nonzero = d[d != 0]
    if not len(nonzero):
        return observed, 1.0
    n = len(d)
    if len(nonzero) <= _EXACT_BITS:
        signs = 1 - 2 * ((np.arange(2 ** len(nonzero))[:, None] >> np.arange(len(nonzero))) & 1)
        means = (signs * nonzero).sum(axis=1) / n
        return observed, float(np.mean(np.abs(means) >= abs(observed) - 1e-12))
    rng = np.random.default_rng(seed)
    extreme = 0
    for start in range(0, _DRAWS, 1000):
        size = min(1000, _DRAWS - start)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(size, len(nonzero)))
        means = (signs * nonzero).sum(axis=1) / n
        extreme += int(np.sum(np.abs(means) >= abs(observed) - 1e-12))
    return observed, min(1.0, (extreme + 1) / (_DRAWS + 1))


def all_pairs(
    cells: Sequence[tuple[str, CaseScores]], *, alpha: float, seed: int = 0
) -> list[PairTest]:
    """Every pair of cells compared once (B after A in grid order), Holm-adjusted together."""
    tests = [
        compare_pair(na, sa, nb, sb, alpha=alpha, seed=seed)
        for (na, sa), (nb, sb) in itertools.combinations(cells, 2)
    ]
    adjusted = holm([t.p_value for t in tests])
    return [
        PairTest(t.a, t.b, t.n_shared, t.diff, t.test, t.p_value, t.outcome, p)
        for t, p in zip(tests, adjusted, strict=True)
    ]
