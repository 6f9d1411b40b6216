"""The one threshold check: a suite's bounds against the values a run measured."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from promptops.runs.envelope import ThresholdResult

__all__ = ["check_thresholds"]


class Bound(Protocol):
    """A suite threshold (`promptops.suites.Bound`): at least `min` and/or at most `max`."""

    @property
    def min(self) -> float | None: ...
    @property
    def max(self) -> float | None: ...


def check_thresholds(
    thresholds: Mapping[str, Bound], values: Mapping[str, float | None]
) -> tuple[list[ThresholdResult], list[str]]:
    """Pass/fail rows for measured keys (sorted by name), and the keys this run did not
    measure. A measured value that is undefined (e.g. validity when no answer cites
    anything) fails."""
    rows: list[ThresholdResult] = []
    unmeasured: list[str] = []
    for name in sorted(thresholds):
        if name not in values:
            unmeasured.append(name)
            continue
        bound, actual = thresholds[name], values[name]
        if bound.min is not None:
            ok = actual is not None and actual >= bound.min
            rows.append(
                ThresholdResult(metric=name, op=">=", value=bound.min, actual=actual, passed=ok)
            )
        if bound.max is not None:
            ok = actual is not None and actual <= bound.max
            rows.append(
                ThresholdResult(metric=name, op="<=", value=bound.max, actual=actual, passed=ok)
            )
    return rows, unmeasured
