"""Non-inferiority against the baseline: `--against-baseline` with `non_inferiority_margin`
in the suite, the decision a cost-cutting model swap needs ("no worse than the current one
by more than 0.02"), instead of "not significantly different", which a small suite grants
to anything.

It passes when the 95% interval of the difference (run minus baseline, on the shared cases)
lies above minus the margin; the lower end of a two-sided 95% interval is the usual
convention, a one-sided test at 2.5%. The interval is chosen by the metric, as every verdict
is (`evals.paired`), valid at every size:

- accuracy: Tango's (1998) score interval for a difference of paired proportions, which is
  McNemar's test at a difference of 0 and holds its coverage at small n (Fagerland, Lydersen
  & Laake 2014 recommend it); degenerate counts (no discordant case) stay well defined.
- macro-F1 (not a mean over cases): the paired bootstrap interval the comparison already
  computes, with the verdict's size rule on top: when no outcome on these shared cases could
  be significant (`too_small`), non-inferiority is "not demonstrated", never granted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from scipy.stats import norm

from promptops.runs.comparison import ComparisonSummary

TANGO = "Tango score interval (paired proportions)"
BOOTSTRAP = "paired bootstrap interval, with the sign-flip size rule"

Outcome = Literal["non_inferior", "not_demonstrated", "too_small"]


@dataclass(frozen=True)
class NonInferiority:
    metric: str
    margin: float
    diff: float
    low: float
    high: float
    level: float
    method: str
    outcome: Outcome

    @property
    def passed(self) -> bool:
        return self.outcome == "non_inferior"

    def sentence(self) -> str:
        interval = f"{self.level:.0%} CI [{self.low:+.3f}, {self.high:+.3f}]"
        head = {
            "non_inferior": "non-inferior",
            "not_demonstrated": "non-inferiority not demonstrated",
            "too_small": "non-inferiority not demonstrated (too few differing cases to decide)",
        }[self.outcome]
        side = "above" if self.passed else "not above"
        return (
            f"{head}: {self.metric} difference {self.diff:+.3f}, {interval} ({self.method}), "
            f"lower end {side} -{self.margin:g}"
        )


def tango_restricted_p21(b: int, c: int, n: int, delta: float) -> float:
    """Restricted maximum-likelihood estimate of P(A right, B wrong) when the difference
    P(B right) - P(A right) is `delta`; b and c count A-only and B-only right cases."""
    pa = 2 * n
    pb = -b - c + (2 * n - c + b) * delta
    pc = -b * delta * (1 - delta)
    return (math.sqrt(max(0.0, pb * pb - 4 * pa * pc)) - pb) / (2 * pa)


def tango_z(b: int, c: int, n: int, delta: float) -> float:
    """Tango's score statistic for H0: difference = delta (McNemar's z at delta 0)."""
    q = tango_restricted_p21(b, c, n, delta)
    var = (2 * q + delta * (1 - delta)) / n
    observed = (c - b) / n
    if var <= 0:
        return 0.0 if observed == delta else math.copysign(math.inf, observed - delta)
    return (observed - delta) / math.sqrt(var)


def tango_interval(b: int, c: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The score interval: every difference the two-sided test at 1 - level keeps."""
    z = float(norm.ppf(1 - (1 - level) / 2))
    observed = (c - b) / n

    def edge(lo: float, hi: float, inside_high: bool) -> float:
        for _ in range(100):
            mid = (lo + hi) / 2
            keeps = abs(tango_z(b, c, n, mid)) <= z
            if keeps == inside_high:
                hi = mid
            else:
                lo = mid
        return (lo + hi) / 2

    low = -1.0 if abs(tango_z(b, c, n, -1.0 + 1e-12)) <= z else edge(-1.0, observed, True)
    high = 1.0 if abs(tango_z(b, c, n, 1.0 - 1e-12)) <= z else edge(observed, 1.0, False)
    return low, high


def decide(comparison: ComparisonSummary, margin: float, level: float = 0.95) -> NonInferiority:
    """Non-inferiority of B (the run) against A (the baseline) within `margin`."""
    primary = comparison.primary_metric
    n = comparison.n_shared
    if primary == "accuracy":
        b, c = comparison.mcnemar.broken, comparison.mcnemar.fixed
        low, high = tango_interval(b, c, n, level)
        diff, method = (c - b) / n, TANGO
        outcome: Outcome = "non_inferior" if low > -margin else "not_demonstrated"
    else:
        delta = next(d for d in comparison.metrics if d.metric == primary)
        diff, low, high, method = delta.diff, delta.low, delta.high, BOOTSTRAP
        level = delta.level
        if comparison.verdict.decision is not None and (
            comparison.verdict.decision.outcome == "too_small"
        ):
            outcome = "too_small"
        else:
            outcome = "non_inferior" if low > -margin else "not_demonstrated"
    return NonInferiority(primary, margin, diff, low, high, level, method, outcome)
