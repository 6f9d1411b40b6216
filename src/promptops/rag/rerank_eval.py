"""Reranking judged honestly: its weight chosen on dev questions, its effect tested on the rest.

- Split: the judged questions are cut in two by a seeded hash of their ids (`dev_split`): the
  dev half is used only to choose the fusion weight, the test half only to judge the result.
  A question keeps its half when others are added or removed.
- Weight: `choose_alpha` scores each alpha of `ALPHA_GRID` on the dev questions (mean of the
  primary measure over every retriever's reranked dev rankings) and keeps the best; ties go to
  the larger alpha (closer to the first stage). The chunk embeddings are cached by the
  reranker, so the grid costs one fusion per alpha, not one embedding.
- Test: `paired_test` compares each retriever's first-stage and reranked per-question values
  on the test questions with a paired permutation test (sign flips of the differences, exact
  up to 2^16 assignments, else `PERMUTATIONS` seeded draws; scipy's `permutation_test`) and
  scipy's Wilcoxon signed-rank test. The verdict says "helped" or "hurt" only when the
  permutation p-value is below `ALPHA_LEVEL`; otherwise "inconclusive (underpowered)" when
  the difference is under the minimum detectable one (80% power, from the differences'
  observed spread), else "no significant change"; "no question changed" when none moved.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from promptops.metrics import power as pw

ALPHA_GRID = tuple(round(a, 1) for a in np.arange(0.0, 1.0001, 0.1))
ALPHA_LEVEL = 0.05
PERMUTATIONS = 9999
SEED = 16


def dev_split(qids: Sequence[str], seed: int = SEED) -> tuple[list[str], list[str]]:
    """(dev, test) question ids: a question is dev when its seeded hash is even."""
    dev: list[str] = []
    test: list[str] = []
    for qid in qids:
        digest = hashlib.sha256(f"{seed}:{qid}".encode()).digest()
        (dev if digest[0] % 2 == 0 else test).append(qid)
    return dev, test


def choose_alpha(score: Callable[[float], float], grid: Sequence[float] = ALPHA_GRID) -> float:
    """The alpha with the best dev score (ties: the largest alpha)."""
    best_alpha, best = grid[0], -np.inf
    for alpha in grid:
        value = score(alpha)
        if value >= best:
            best_alpha, best = alpha, value
    return best_alpha


@dataclass(frozen=True)
class PairedResult:
    """Reranked minus first stage, per question, on the test questions."""

    n: int
    mean_before: float
    mean_after: float
    mean_difference: float
    better: int
    worse: int
    p_permutation: float
    p_wilcoxon: float | None
    mde: float | None = None  # smallest mean difference found with 80% power; None: no spread

    @property
    def verdict(self) -> str:
        if not self.better and not self.worse:
            return "no question changed"
        if self.p_permutation < ALPHA_LEVEL and self.mean_difference > 0:
            return "helped"
        if self.p_permutation < ALPHA_LEVEL and self.mean_difference < 0:
            return "hurt"
        if self.mde is not None and abs(self.mean_difference) < self.mde:
            return "inconclusive (underpowered)"
        return "no significant change"


def paired_test(
    before: Mapping[str, float], after: Mapping[str, float], qids: Sequence[str]
) -> PairedResult:
    """Paired permutation and Wilcoxon tests of after - before over `qids`."""
    from scipy import stats

    x = np.array([before[q] for q in qids], dtype=np.float64)
    y = np.array([after[q] for q in qids], dtype=np.float64)
    diff = y - x
    if not len(diff) or not np.any(diff):
        p_perm, p_wilcoxon = 1.0, None
    else:
        result = stats.permutation_test(
            (x, y),
            lambda a, b: np.mean(b - a),
            permutation_type="samples",
            n_resamples=PERMUTATIONS,
            alternative="two-sided",
            random_state=np.random.default_rng(SEED),
        )
        p_perm = float(result.pvalue)
        p_wilcoxon = float(stats.wilcoxon(y, x, zero_method="wilcox").pvalue)
    mde = None
    if len(diff) >= 2 and np.any(diff):
        # the mean of paired differences: its standard error from their observed spread
        mde = pw.one_sample_mde(float(diff.std(ddof=1)) / np.sqrt(len(diff)), alpha=ALPHA_LEVEL)
    return PairedResult(
        mde=mde,
        n=len(diff),
        mean_before=float(x.mean()) if len(x) else 0.0,
        mean_after=float(y.mean()) if len(y) else 0.0,
        mean_difference=float(diff.mean()) if len(diff) else 0.0,
        better=int((diff > 0).sum()),
        worse=int((diff < 0).sum()),
        p_permutation=p_perm,
        p_wilcoxon=p_wilcoxon,
    )
