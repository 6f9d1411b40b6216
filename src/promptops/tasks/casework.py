"""What the extraction and generation evaluations share: the case rows they score, paired
comparisons on the primary metric, slices by tag.

Both task types reduce a run to per-case columns whose sums give each metric (see
`resample`), so comparing two systems on the same cases, prompt vs baseline or this run vs
a saved one (`--against-baseline`), is one paired bootstrap on those columns, and a slice is
the same statistic on the rows with a tag.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from promptops.evals.stats import ConfidenceInterval, PairedComparison
from promptops.tasks.resample import SumStatistic, paired_sums_test

MIN_SLICE = 5  # a tag on fewer cases says nothing; it is left out of the slice table


@dataclass(frozen=True)
class TaskRow:
    """One case as the task scorers see it: the evalset row and the answer it got."""

    id: str
    input: dict[str, str]
    expected: Any
    tags: tuple[str, ...]
    output: str | None  # the raw answer; None when the call failed
    latency_ms: float | None = None
    cost_usd: float | None = None

    @property
    def text(self) -> str:
        """The input values joined by newlines (what baselines read)."""
        return "\n".join(self.input.values())


def interval_dict(ci: ConfidenceInterval) -> dict[str, float]:
    return {"estimate": ci.estimate, "low": ci.low, "high": ci.high, "confidence": ci.confidence}


@dataclass(frozen=True)
class Paired:
    """B (the prompt, or this run) against A (a baseline, or the saved run) on `metric`."""

    metric: str
    a: str
    b: str
    n: int
    comparison: PairedComparison
    alpha: float

    @property
    def significant(self) -> bool:
        return self.comparison.p_value < self.alpha and self.comparison.difference != 0

    @property
    def b_better(self) -> bool:
        return self.significant and self.comparison.difference > 0

    @property
    def b_worse(self) -> bool:
        return self.significant and self.comparison.difference < 0

    def to_dict(self) -> dict[str, Any]:
        c = self.comparison
        return {
            "metric": self.metric,
            "a": self.a,
            "b": self.b,
            "n": self.n,
            "diff": c.difference,
            "low": c.low,
            "high": c.high,
            "p_value": c.p_value,
            "alpha": self.alpha,
            "test": "paired bootstrap",
            "outcome": "better" if self.b_better else "worse" if self.b_worse else "no difference",
        }


def baseline_entries(
    baselines: Mapping[str, Mapping[str, Any]],
    descriptions: Mapping[str, str],
    comparisons: Sequence[Paired],
) -> list[dict[str, Any]]:
    """The summary's baseline list: each baseline's metrics and its paired test against the
    prompt (None where it had none)."""
    return [
        {
            "name": name,
            "description": descriptions[name],
            "metrics": metrics,
            "paired": next((c.to_dict() for c in comparisons if c.a == name), None),
        }
        for name, metrics in baselines.items()
    ]


def paired(
    metric: str,
    names: tuple[str, str],
    columns: tuple[NDArray[np.float64], NDArray[np.float64]],
    statistic: SumStatistic,
    *,
    alpha: float = 0.05,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Paired:
    a, b = columns
    result = paired_sums_test(a, b, statistic, n_resamples=n_resamples, seed=seed)
    return Paired(metric, names[0], names[1], len(a), result, alpha)


def tag_groups(rows: Sequence[TaskRow], min_cases: int = MIN_SLICE) -> dict[str, list[int]]:
    """Tag -> indices of its rows, for tags on at least `min_cases` rows, sorted by tag."""
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        for tag in row.tags:
            groups.setdefault(tag, []).append(i)
    return {tag: ix for tag, ix in sorted(groups.items()) if len(ix) >= min_cases}


def slices(
    rows: Sequence[TaskRow],
    score: Callable[[list[int]], Mapping[str, float | None]],
    min_cases: int = MIN_SLICE,
) -> list[dict[str, Any]]:
    """One row per tag: its case count and `score` of its cases."""
    return [
        {"tag": tag, "n": len(ix), **score(ix)} for tag, ix in tag_groups(rows, min_cases).items()
    ]
