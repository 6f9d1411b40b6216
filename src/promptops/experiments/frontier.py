"""The Pareto frontier of a grid: the cells no other cell beats on both quality and cost.

A cell is dominated when another is at least as good and at most as costly, and strictly
better on one of the two; the frontier is every cell that is not dominated, listed from the
cheapest up. Everything off it is a cell someone would pay more for and get less.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Point:
    name: str
    quality: float  # higher is better
    cost: float  # lower is better (money, seconds)


def dominates(a: Point, b: Point) -> bool:
    return (
        a.quality >= b.quality and a.cost <= b.cost and (a.quality > b.quality or a.cost < b.cost)
    )


def pareto_frontier(points: Sequence[Point]) -> list[Point]:
    """The non-dominated points, by cost then by quality (best first)."""
    front = [p for p in points if not any(dominates(q, p) for q in points if q is not p)]
    return sorted(front, key=lambda p: (p.cost, -p.quality, p.name))
