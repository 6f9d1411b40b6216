"""The figures of a finished grid: per cell, the frontier, the pairwise tests and the one
recommendation, read from the cells' run folders alone (what `grid.json` holds).

Quality on the frontier is the suite's primary metric; cost is the expected business cost
per 1,000 decisions when the suite declares `costs:`, else the price of the calls per 1,000
cases. The pairwise tests and the recommendation use per-case scores (right/wrong for
classification; each kind's reader in `scores` and `kindscores`), so "not significantly
worse" is a paired statement on the shared cases, Holm-adjusted over every pair of the grid.
A primary metric where lower is better (mae, rmse) is turned around for the frontiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from promptops.business import ErrorCosts
from promptops.experiments.costing import profile_prices, scores_cost
from promptops.experiments.frontier import Point, pareto_frontier
from promptops.experiments.grid import GridRun
from promptops.experiments.pairwise import PairTest, all_pairs
from promptops.experiments.scores import CaseScores, per_case_scores
from promptops.lifecycle import run_kinds
from promptops.runs.folder import SUMMARY
from promptops.runs.read import read_summary


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CellFigures(_Model):
    id: str
    prompt: str
    prompt_hash: str
    endpoint: str
    model: str
    n_cases: int
    primary_metric: str
    quality: float
    quality_low: float
    quality_high: float
    mean_score: float  # accuracy for classification
    higher_is_better: bool = True  # of the primary metric (mae, rmse: lower)
    call_cost_per_1000: float  # USD, the price of the calls
    business_per_1000: float | None = None
    business_low: float | None = None
    business_high: float | None = None
    latency_p50_s: float | None
    latency_p95_s: float | None
    invalid_rate: float
    error_rate: float

    @property
    def ranking_cost(self) -> float:
        return self.call_cost_per_1000 if self.business_per_1000 is None else self.business_per_1000


class PairRow(_Model):
    a: str
    b: str
    n_shared: int
    diff: float  # B's mean score minus A's
    test: str
    p_value: float
    p_holm: float
    outcome: str
    significant: bool


class GridSummary(_Model):
    suite: str
    alpha: float
    primary_metric: str
    kind: str = "classification"  # the task kind of the cells (their per-case score)
    cost_basis: str  # "business cost (CUR)" or "call price (USD)"
    cells: list[CellFigures]
    cost_frontier: list[str]
    latency_frontier: list[str]
    ranking: list[str]  # cell ids, cheapest first by the ranking cost
    pairs: list[PairRow]
    best: str
    recommended: str
    recommendation: str


@dataclass(frozen=True)
class _Loaded:
    figures: CellFigures
    scores: CaseScores


def _quantile(values: list[float], q: float) -> float | None:
    return round(float(np.quantile(values, q)), 6) if values else None


def _value(x: Any) -> float:
    """An interval bound; an undefined one (a constant sample) is NaN."""
    return float("nan") if x is None else float(x)


def primary_interval(summary: BaseModel) -> tuple[str, float, float, float]:
    """(name, estimate, low, high) of a typed summary's primary metric, whatever its kind:
    every eval summary keeps `primary_metric` and its interval under `intervals`."""
    data = summary.model_dump(mode="json")
    primary = str(data["primary_metric"])
    interval = data["intervals"][primary]
    return primary, _value(interval["estimate"]), _value(interval["low"]), _value(interval["high"])


def _load(
    cell_id: str,
    endpoint: str,
    summary: BaseModel,
    scores: CaseScores,
    costs: ErrorCosts | None,
    n_boot: int,
    seed: int,
) -> CellFigures:
    primary, estimate, low, high = primary_interval(summary)
    s = summary.model_dump(mode="json")
    rows = list(scores.rows.values())
    n = max(len(rows), 1)
    latencies = [r.latency_s for r in rows if not r.error and not r.cached]
    prices = profile_prices(str(s["model"]["profile"]))
    business = (
        scores_cost(scores, costs, n_boot=n_boot, seed=seed, prices=prices) if costs else None
    )
    return CellFigures(
        id=cell_id,
        prompt=str(s["prompt"]["identity"]),
        prompt_hash=str(s["prompt"]["content_hash"])[:12],
        endpoint=endpoint,
        model=str(s["model"]["model"]),
        n_cases=len(rows),
        primary_metric=primary,
        quality=estimate,
        quality_low=low,
        quality_high=high,
        mean_score=scores.mean(),
        higher_is_better=bool(s.get("higher_is_better", True)),
        call_cost_per_1000=sum(r.price(prices) for r in rows) / n * 1000,
        business_per_1000=None if business is None else business.estimate.per_1000,
        business_low=None if business is None else business.estimate.low,
        business_high=None if business is None else business.estimate.high,
        latency_p50_s=_quantile(latencies, 0.5),
        latency_p95_s=_quantile(latencies, 0.95),
        invalid_rate=sum(r.invalid for r in rows) / n,
        error_rate=sum(r.error for r in rows) / n,
    )


def _up(c: CellFigures) -> float:
    """The primary metric with higher better, for the frontiers."""
    return c.quality if c.higher_is_better else -c.quality


def summarize_grid(
    run: GridRun,
    *,
    alpha: float,
    costs: ErrorCosts | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> GridSummary:
    run_kinds()  # every kind's summary model, for read_summary
    loaded = []
    for cell in run.cells:
        summary = read_summary(cell.folder / SUMMARY)
        scores = per_case_scores(cell.folder)
        figures = _load(cell.id, cell.endpoint.label, summary, scores, costs, n_boot, seed)
        loaded.append(_Loaded(figures, scores))
    cells = [x.figures for x in loaded]
    pairs = all_pairs([(x.figures.id, x.scores) for x in loaded], alpha=alpha, seed=seed)
    cost_front = pareto_frontier([Point(c.id, _up(c), c.ranking_cost) for c in cells])
    latency_front = pareto_frontier(
        [Point(c.id, _up(c), c.latency_p50_s or 0.0) for c in cells if c.latency_p50_s is not None]
    )
    ranking = sorted(cells, key=lambda c: (c.ranking_cost, -_up(c), c.id))
    best, recommended, sentence = recommend(cells, pairs, alpha)
    return GridSummary(
        suite=run.spec.suite,
        alpha=alpha,
        primary_metric=cells[0].primary_metric if cells else "",
        kind=loaded[0].scores.kind if loaded else "classification",
        cost_basis=f"business cost ({costs.currency})" if costs else "call price (USD)",
        cells=cells,
        cost_frontier=[p.name for p in cost_front],
        latency_frontier=[p.name for p in latency_front],
        ranking=[c.id for c in ranking],
        pairs=[
            PairRow(
                a=p.a,
                b=p.b,
                n_shared=p.n_shared,
                diff=p.diff,
                test=p.test,
                p_value=p.p_value,
                p_holm=p.p_holm,
                outcome=(
                    "not_significant_after_holm"
                    if p.outcome == "significant" and not p.significant(alpha)
                    else p.outcome
                ),
                significant=p.significant(alpha),
            )
            for p in pairs
        ],
        best=best,
        recommended=recommended,
        recommendation=sentence,
    )


def _worse_than(pairs: list[PairTest], best: str, other: str, alpha: float) -> PairTest | None:
    """The test of `other` against `best`, if it shows `other` significantly worse."""
    for p in pairs:
        if {p.a, p.b} == {best, other}:
            worse = p.diff > 0 if p.b == best else p.diff < 0
            return p if worse and p.significant(alpha) else None
    return None


def _pair(pairs: list[PairTest], x: str, y: str) -> PairTest | None:
    return next((p for p in pairs if {p.a, p.b} == {x, y}), None)


def money(value: float) -> str:
    """A cost per 1,000: to the cent from 1 up, else 4 significant digits (call prices)."""
    return f"{value:,.2f}" if value >= 1 else f"{value:.4g}"


def _caveat(pair: PairTest, alpha: float) -> str:
    """Why "not significantly worse" is weaker than it sounds, where it is."""
    if pair.outcome == "significant" and not pair.significant(alpha):
        return " (significant alone, not after Holm's adjustment for the whole grid)"
    if pair.outcome in ("too_small", "underpowered"):
        return f" (inconclusive: {pair.outcome.replace('_', ' ')})"
    return ""


def recommend(
    cells: list[CellFigures], pairs: list[PairTest], alpha: float
) -> tuple[str, str, str]:
    """The best cell by mean per-case score, and the cheapest cell not significantly worse
    than it (Holm-adjusted), with the sentence that says so."""
    if not cells:
        return "", "", "no cells"
    by_id = {c.id: c for c in cells}
    best = max(cells, key=lambda c: (c.mean_score, _up(c), -c.ranking_cost))
    fine = [c for c in cells if c.id == best.id or _worse_than(pairs, best.id, c.id, alpha) is None]
    pick = min(fine, key=lambda c: (c.ranking_cost, c.latency_p50_s or 0.0, -_up(c)))

    def name(c: CellFigures) -> str:
        return f"{c.prompt} on {c.endpoint}"

    if pick.id == best.id:
        sentence = (
            f"{name(best)} is the best cell (mean score {best.mean_score:.3f}) and also the "
            f"cheapest of those not significantly worse than it "
            f"({money(best.ranking_cost)} per 1,000)."
        )
        return best.id, pick.id, sentence
    pair = _pair(pairs, best.id, pick.id)
    detail = (
        ""
        if pair is None
        else f"; {pair.test}, Holm-adjusted p = {pair.p_holm:.3g} on {pair.n_shared} shared "
        f"cases{_caveat(pair, alpha)}"
    )
    sentence = (
        f"{name(pick)} is the cheapest cell not significantly worse than the best "
        f"({name(best)}): mean score {pick.mean_score:.3f} vs {best.mean_score:.3f}, "
        f"{money(pick.ranking_cost)} vs {money(by_id[best.id].ranking_cost)} per 1,000{detail}."
    )
    return best.id, pick.id, sentence
