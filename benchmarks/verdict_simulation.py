"""Rejection rates of the old and the new verdict rule, by simulation (issue #11).

    PYTHONPATH=src python benchmarks/verdict_simulation.py [--reps 2000] [--seed 0]

Two systems answer the same n cases. With a true difference of 0 every rejection is a false
positive (it should be at most alpha = 0.05); with a true difference the rate is the power.

- accuracy-like: each case is discordant with probability psi (0.3, and 0.6 for two systems
  that disagree a lot), split between the two sides by the true gain delta. Old rule: the
  paired bootstrap of the accuracy difference as promptops computed it (shifted bootstrap
  p, 1,000 resamples); new rule: McNemar mid-p; exact McNemar beside them; analytic:
  Connor's (1987) power.
- macro-F1: three balanced labels, A right with probability 0.70, B with 0.70/0.80/0.90,
  independent, a wrong answer uniform over the other labels. Old rule: the paired bootstrap
  of macro-F1 (`stats.paired_bootstrap_cells`, 1,000 resamples), the test the verdict used;
  new rule: the paired sign-flip test (`stats.paired_permutation_cells`, exact when the
  swaps are few, else 1,000 draws); analytic: Phi((delta - z sd0) / sd1) from the mean
  spreads, the construction behind the reported MDE, both tails. `delta` is the mean
  observed gain.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import norm

from promptops.evals.cells import tally
from promptops.evals.stats import (
    mcnemar_counts,
    paired_bootstrap_cells,
    paired_permutation_cells,
)
from promptops.metrics import power as pw

ALPHA = 0.05
RESAMPLES = 1000
LABELS = 3


def accuracy_rows(
    n: int, psi: float, delta: float, reps: int, rng: np.random.Generator
) -> list[str]:
    p10, p01 = (psi - delta) / 2, (psi + delta) / 2
    draws = rng.multinomial(n, [p10, p01, 1 - psi], size=reps)
    old = new = exact = 0
    cache: dict[tuple[int, int], tuple[bool, bool]] = {}
    for b, c, rest in draws.tolist():
        observed = (c - b) / n
        boot = rng.multinomial(n, np.array([b, c, rest]) / n, size=RESAMPLES)
        diffs = (boot[:, 1] - boot[:, 0]) / n
        extreme = int(np.sum(np.abs(diffs - observed) >= abs(observed) - 1e-12))
        old += (extreme + 1) / (RESAMPLES + 1) < ALPHA
        if (b, c) not in cache:
            result = mcnemar_counts(b, c)
            cache[b, c] = (result.mid_p < ALPHA, result.p_value < ALPHA)
        new += cache[b, c][0]
        exact += cache[b, c][1]
    analytic = pw.connor_power(delta, psi, n) if delta else ALPHA
    return [
        f"| accuracy (psi {psi:.1f}) | {n} | {delta:+.2f} | {old / reps:.3f} | {new / reps:.3f} | "
        f"{exact / reps:.3f} | {analytic:.3f} |"
    ]


def _answers(rng: np.random.Generator, true: np.ndarray, acc: float) -> np.ndarray:
    wrong = (true + rng.integers(1, LABELS, len(true))) % LABELS
    return np.where(rng.random(len(true)) < acc, true, wrong)


def macro_f1_rows(n: int, acc_b: float, reps: int, rng: np.random.Generator) -> list[str]:
    old = new = 0
    gains, sd0s, sd1s = [], [], []
    for i in range(reps):
        true = rng.integers(0, LABELS, n)
        cells = tally(
            [true, _answers(rng, true, 0.7), _answers(rng, true, acc_b)],
            [LABELS, LABELS + 1, LABELS + 1],
        )
        boot = paired_bootstrap_cells(cells, LABELS, n_resamples=RESAMPLES, seed=i)
        perm = paired_permutation_cells(cells, LABELS, n_resamples=RESAMPLES, seed=i)
        old += boot.p_value < ALPHA
        new += perm.p_value < ALPHA
        gains.append(perm.difference)
        sd0s.append(perm.null_sd)
        sd1s.append(boot.sd)
    delta = float(np.mean(gains))
    z = norm.ppf(1 - ALPHA / 2)
    analytic = (
        float(norm.cdf((abs(delta) - z * np.mean(sd0s)) / np.mean(sd1s))) if acc_b != 0.7 else ALPHA
    )
    return [
        f"| macro-F1 | {n} | {delta:+.3f} (acc {acc_b - 0.7:+.2f}) | {old / reps:.3f} | "
        f"{new / reps:.3f} | n/a | {analytic:.3f} |"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=2000, help="simulated suites per row")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    print(f"alpha {ALPHA}; {args.reps} simulated suites per row; seed {args.seed}")
    print(
        "| metric | n | true difference | old rule (paired bootstrap) | new rule | "
        "exact McNemar | analytic |"
    )
    print("|---|---|---|---|---|---|---|")
    for psi in (0.3, 0.6):
        for n in (10, 30, 100):
            for delta in (0.0, 0.1, 0.2):
                for line in accuracy_rows(n, psi, delta, args.reps, rng):
                    print(line, flush=True)
    for n in (10, 30, 100):
        for acc_b in (0.7, 0.8, 0.9):
            for line in macro_f1_rows(n, acc_b, args.reps // 2, rng):
                print(line, flush=True)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
