"""One decision rule for every paired comparison: the verdict, `must_beat`, `compare` and
`eval --against-baseline` all call `decide`, so they can never disagree on the same answers.

The test that decides depends on the metric, and is valid at every sample size:

- accuracy (a mean of right/wrong per case): McNemar's mid-p test. Fagerland, Lydersen &
  Laake (2013, BMC Med Res Methodol 13:91) found it never above alpha in 9,595 scenarios
  and nearly as powerful as the asymptotic test, while the exact test is conservative
  (it cannot reject below 6 discordant cases, and holds its size near 0.03 at 100).
- macro-F1 (not a mean over cases): the paired sign-flip permutation test, exact by
  enumeration while the swaps are few. The paired bootstrap is still computed for its
  interval, but never decides: its percentile intervals under-cover at small n, and its
  false-positive rate shows it (benchmarks/verdict_simulation.py).

A result that is not significant says why, in one of four words:

- `identical`: the two agree on every case; nothing to test.
- `too_small`: even the most lopsided outcome on these discordant cases could not reach
  p < alpha (for McNemar mid-p, fewer than 5 discordant cases at alpha 0.05).
- `underpowered`: the difference is smaller than the minimum detectable difference (MDE) at
  80% power, or no difference is detectable at this size: inconclusive, not "no effect".
- `not_significant`: the suite could detect the MDE and saw less than that.

The MDE: Connor (1987) at the observed discordance for accuracy; for macro-F1 the same
construction with the sign-flip null spread and the paired bootstrap spread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from promptops.evals import stats
from promptops.evals.cells import Cells
from promptops.metrics import power as pw

Metric = Literal["macro_f1", "accuracy"]
Outcome = Literal["significant", "not_significant", "underpowered", "too_small", "identical"]

MCNEMAR_MID_P = "McNemar mid-p"
SIGN_FLIP = "paired sign-flip permutation"
CONNOR = "Connor (1987) at the observed discordance"
SPREADS = "sign-flip null and paired bootstrap spreads"


@dataclass(frozen=True)
class Decision:
    """Whether B differs from A on `metric`, by the test valid at this size."""

    metric: str  # a task type's metric name (pr_auc, mae, ...) as well as these two
    test: str
    diff: float  # B minus A
    p_value: float
    alpha: float
    outcome: Outcome
    n: int
    discordant: int  # cases that differ (right/wrong for accuracy, answers for macro-F1)
    smallest_p: float  # the smallest p-value any outcome on these discordant cases gives
    mde: float | None  # at `power`; None when no difference is detectable at this size
    power: float
    mde_method: str

    @property
    def significant(self) -> bool:
        return self.outcome == "significant"


@dataclass(frozen=True)
class PairedResult:
    """Every figure of one paired comparison; `decision` is the one that decides."""

    mcnemar: stats.McNemarResult
    permutation: stats.PermutationTest
    bootstrap: stats.PairedComparison  # macro-F1 interval, shown, never deciding
    accuracy_diff: float
    decision: Decision


def compare_cells(
    cells: Cells,
    n_labels: int,
    *,
    metric: Metric,
    alpha: float,
    n_resamples: int = stats.DEFAULT_RESAMPLES,
    seed: int = 0,
    power: float = pw.DEFAULT_POWER,
) -> PairedResult:
    """B against A from the (true, A's answer, B's answer) cells of the shared cases."""
    true, a, b = cells.column(0), cells.column(1), cells.column(2)
    a_right, b_right = true == a, true == b
    mc = stats.mcnemar_counts(
        int(cells.counts[a_right & ~b_right].sum()), int(cells.counts[b_right & ~a_right].sum())
    )
    perm = stats.paired_permutation_cells(cells, n_labels, n_resamples=n_resamples, seed=seed)
    boot = stats.paired_bootstrap_cells(cells, n_labels, n_resamples=n_resamples, seed=seed)
    n = cells.n
    accuracy_diff = (mc.c - mc.b) / n
    if metric == "accuracy":
        decision = decide(
            metric,
            MCNEMAR_MID_P,
            accuracy_diff,
            mc.mid_p,
            mc.smallest_mid_p,
            mc.b + mc.c,
            n,
            pw.connor_mde((mc.b + mc.c) / n, n, alpha=alpha, power=power),
            CONNOR,
            alpha,
            power,
        )
    else:
        mde = (
            pw.normal_mde(perm.null_sd, boot.sd, alpha=alpha, power=power)
            if perm.n_discordant
            else None
        )
        decision = decide(
            metric,
            SIGN_FLIP,
            perm.difference,
            perm.p_value,
            perm.smallest_p,
            perm.n_discordant,
            n,
            mde,
            SPREADS,
            alpha,
            power,
        )
    return PairedResult(mc, perm, boot, accuracy_diff, decision)


def decide(
    metric: str,
    test: str,
    diff: float,
    p_value: float,
    smallest_p: float,
    discordant: int,
    n: int,
    mde: float | None,
    mde_method: str,
    alpha: float,
    power: float,
) -> Decision:
    """The outcome word for one test's figures: every task type's comparisons use it."""
    outcome: Outcome
    if discordant == 0:
        outcome = "identical"
    elif p_value < alpha and diff != 0:
        outcome = "significant"
    elif smallest_p >= alpha:
        outcome = "too_small"
    elif mde is None or abs(diff) < mde:
        outcome = "underpowered"
    else:
        outcome = "not_significant"
    return Decision(
        metric=metric,
        test=test,
        diff=float(diff),
        p_value=float(p_value),
        alpha=alpha,
        outcome=outcome,
        n=n,
        discordant=discordant,
        smallest_p=float(smallest_p),
        mde=None if mde is None else float(mde),
        power=power,
        mde_method=mde_method,
    )


def one_sample_mde(
    metric: Metric, estimate: float, low: float, high: float, n: int, *, alpha: float
) -> float:
    """The change of the metric a suite of n cases can detect before any pairing: from the
    binomial standard error for accuracy, from the bootstrap interval's width otherwise
    (a 95% percentile interval spans about 2 x 1.96 standard errors)."""
    if metric == "accuracy":
        sd = float(np.sqrt(estimate * (1 - estimate) / n)) if n else 0.0
    else:
        sd = (high - low) / (2 * 1.959964)
    return pw.one_sample_mde(sd, alpha=alpha)
