"""What a decision costs the business, not only whether it was right.

A suite may declare what its errors cost (`costs:` in the suite file): a cost matrix for
classification and binary tasks (expected label -> predicted label -> cost, other mistakes at
`wrong`), a cost per unit of absolute error for scoring tasks, and a cost per invalid answer
(no usable answer: unparseable output or a failed call). The price of the model call is added
per case, so a cheap model that errs often and a dear one that rarely errs are ranked on one
scale: the expected cost per 1,000 decisions, with a bootstrap interval over the cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from promptops.errors import ConfigError

PER = 1000  # decisions the expected cost is quoted for
_CHUNK = 256  # bootstrap resamples drawn at once


class ErrorCosts(BaseModel):
    """The `costs:` block of a suite file; amounts are in `currency` per decision."""

    model_config = ConfigDict(extra="forbid")

    currency: str = "USD"
    wrong: float = Field(0.0, ge=0, description="a mistake the matrix does not list")
    matrix: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="expected label -> predicted label -> cost"
    )
    invalid: float = Field(0.0, ge=0, description="no usable answer (invalid or failed call)")
    per_abs_error: float | None = Field(
        None, ge=0, description="scoring tasks: cost per unit of |predicted - expected|"
    )
    include_call_price: bool = True

    @model_validator(mode="after")
    def _non_negative(self) -> ErrorCosts:
        for expected, row in self.matrix.items():
            for predicted, cost in row.items():
                if cost < 0:
                    raise ValueError(f"matrix[{expected}][{predicted}] is negative ({cost})")
        return self

    def check_labels(self, labels: Sequence[str], where: str) -> None:
        """Refuse a matrix naming a label the prompt cannot answer (a typo costs nothing)."""
        known = set(labels)
        named = set(self.matrix) | {p for row in self.matrix.values() for p in row}
        unknown = sorted(named - known)
        if unknown:
            raise ConfigError(
                f"costs.matrix names unknown label(s) {', '.join(unknown)} "
                f"(labels: {', '.join(labels)})",
                where=where,
            )

    def mistake(self, expected: str, predicted: str) -> float:
        if expected == predicted:
            return 0.0
        return self.matrix.get(expected, {}).get(predicted, self.wrong)


def label_costs(
    costs: ErrorCosts,
    expected: Sequence[str],
    predicted: Sequence[str | None],
    call_prices: Sequence[float] | None = None,
) -> NDArray[np.float64]:
    """Each case's cost for classification or binary answers; None is an invalid answer."""
    out = np.array(
        [
            costs.invalid if p is None else costs.mistake(e, p)
            for e, p in zip(expected, predicted, strict=True)
        ],
        dtype=np.float64,
    )
    return _with_price(costs, out, call_prices)


def score_costs(
    costs: ErrorCosts,
    expected: Sequence[float],
    predicted: Sequence[float | None],
    call_prices: Sequence[float] | None = None,
) -> NDArray[np.float64]:
    """Each case's cost for scoring answers: `per_abs_error` x |error|, or `invalid`."""
    if costs.per_abs_error is None:
        raise ConfigError("a scoring suite's costs need per_abs_error", where="costs")
    unit = costs.per_abs_error
    out = np.array(
        [
            costs.invalid if p is None else unit * abs(float(p) - float(e))
            for e, p in zip(expected, predicted, strict=True)
        ],
        dtype=np.float64,
    )
    return _with_price(costs, out, call_prices)


def _with_price(
    costs: ErrorCosts, out: NDArray[np.float64], prices: Sequence[float] | None
) -> NDArray[np.float64]:
    if prices is None or not costs.include_call_price:
        return out
    return out + np.asarray(prices, dtype=np.float64)


@dataclass(frozen=True)
class CostEstimate:
    """Expected cost per `PER` decisions with its percentile bootstrap interval."""

    per_1000: float
    low: float
    high: float
    level: float
    n: int
    n_boot: int
    seed: int


def per_1000(
    case_costs: NDArray[np.float64], *, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> CostEstimate:
    """The mean case cost x 1,000 and a bootstrap interval over the cases (drawn in chunks,
    so memory stays at `_CHUNK` x n whatever `n_boot` is)."""
    n = len(case_costs)
    if n == 0:
        return CostEstimate(0.0, 0.0, 0.0, level, 0, n_boot, seed)
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot, dtype=np.float64)
    for start in range(0, n_boot, _CHUNK):
        size = min(_CHUNK, n_boot - start)
        draws = rng.integers(0, n, size=(size, n))
        means[start : start + size] = case_costs[draws].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return CostEstimate(
        per_1000=float(case_costs.mean()) * PER,
        low=float(low) * PER,
        high=float(high) * PER,
        level=level,
        n=n,
        n_boot=n_boot,
        seed=seed,
    )
