"""Multiple-comparison control for the pairwise tests of a grid.

A grid of k cells makes k(k-1)/2 comparisons; at alpha 0.05 each, a 4-cell grid would call
some pair "significant" by chance one time in four. Holm's step-down procedure keeps the
family-wise error rate at alpha under any dependence between the tests, and is uniformly
more powerful than Bonferroni: sort the p-values, multiply the i-th smallest (0-based) by
m - i, and carry the running maximum so adjusted p-values keep the order of the raw ones.
"""

from __future__ import annotations

from collections.abc import Sequence


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given (each capped at 1)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
