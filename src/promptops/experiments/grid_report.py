"""The grid report as a Document: section builders only, no markup (the report backends
render Markdown and HTML from it)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, cast

from promptops.experiments.grid import GridRun
from promptops.experiments.grid_summary import CellFigures, GridSummary
from promptops.reports.document import (
    Banner,
    Block,
    BulletList,
    Cell,
    Chart,
    Document,
    Num,
    Paragraph,
    Section,
    Table,
    span,
)
from promptops.reports.document import Code as CodeText


def _num(value: float | None, digits: int = 3) -> Num:
    return Num("n/a" if value is None else f"{value:,.{digits}f}")


def _pct(value: float) -> Num:
    return Num(f"{value:.1%}")


def _money(value: float | None) -> Num:
    return Num("n/a" if value is None else f"{value:,.4g}")


def _ci(low: float | None, high: float | None, digits: int = 3) -> Num:
    if low is None or high is None:
        return Num("n/a")
    return Num(f"[{low:,.{digits}f}, {high:,.{digits}f}]")


# what a cell's mean score is, per task kind (classification: accuracy)
MEAN_SCORE = {
    "binary": "accuracy at each run's decision threshold",
    "scoring": "1 - |error| / width of the range, invalid 0",
    "extraction": "field F1 per case",
    "generation": "ROUGE-L F-measure per case",
}


def cells_section(g: GridSummary) -> Section:
    business = any(c.business_per_1000 is not None for c in g.cells)
    headers = [
        "Cell",
        "Prompt",
        "Endpoint",
        g.primary_metric,
        "95% CI",
        "Mean score",
        "Call cost / 1k (USD)",
    ]
    if business:
        headers += ["Business cost / 1k", "95% CI (cost)"]
    headers += ["p50 s", "p95 s", "Invalid", "Errors", "Frontier"]
    rows: list[tuple[Cell, ...]] = []
    for c in g.cells:
        row: list[Cell] = [
            span(c.id),
            span(c.prompt),
            span(c.endpoint),
            _num(c.quality),
            _ci(c.quality_low, c.quality_high),
            _num(c.mean_score),
            _money(c.call_cost_per_1000),
        ]
        if business:
            row += [_num(c.business_per_1000, 2), _ci(c.business_low, c.business_high, 2)]
        row += [
            _num(c.latency_p50_s),
            _num(c.latency_p95_s),
            _pct(c.invalid_rate),
            _pct(c.error_rate),
            span("yes" if c.id in g.cost_frontier else "no"),
        ]
        rows.append(tuple(row))
    return Section(
        "cells",
        "Cells",
        (
            Paragraph(
                span(
                    f"{len(g.cells)} cells of suite {g.suite}; cost basis: {g.cost_basis}. "
                    "Mean score is the per-case score the pairwise tests compare "
                    f"({MEAN_SCORE.get(g.kind, 'accuracy for classification')})."
                )
            ),
            Table(tuple(headers), tuple(rows)),
        ),
    )


def ranking_section(g: GridSummary) -> Section:
    by_id = {c.id: c for c in g.cells}
    rows = tuple(
        (
            Num(str(rank)),
            span(cell_id),
            _num(by_id[cell_id].ranking_cost, 2 if by_id[cell_id].business_per_1000 else 6),
            _ci(by_id[cell_id].business_low, by_id[cell_id].business_high, 2),
            _num(by_id[cell_id].quality),
        )
        for rank, cell_id in enumerate(g.ranking, 1)
    )
    return Section(
        "ranking",
        "Cost ranking",
        (
            Paragraph(span(f"Cells from the cheapest, by {g.cost_basis} per 1,000 decisions.")),
            Table(("Rank", "Cell", "Cost / 1k", "95% CI", g.primary_metric), rows),
        ),
    )


def _frontier(g: GridSummary, title: str, front: list[str], x_of: str) -> tuple[Block, ...]:
    """The named frontier's chart (HTML) and its cells listed (both backends)."""

    def x(c: CellFigures) -> float | None:
        return c.ranking_cost if x_of == "cost" else c.latency_p50_s

    data = tuple((c.id, x(c), c.quality) for c in g.cells if x(c) is not None)
    axis = f"{g.cost_basis} per 1,000" if x_of == "cost" else "p50 latency (s)"
    listing = tuple(span(f"{i}. ", CodeText(name)) for i, name in enumerate(front, 1))
    return (
        Chart("scatter", title, data, series=(axis, g.primary_metric)),
        Paragraph(span(f"Frontier, {title}:")),
        BulletList(listing),
    )


def frontier_section(g: GridSummary) -> Section:
    return Section(
        "frontier",
        "Pareto frontier",
        (
            Paragraph(
                span(
                    f"Cells that no other cell beats on both {g.primary_metric} and cost "
                    "(or latency), cheapest first."
                )
            ),
            *_frontier(g, f"{g.primary_metric} against cost", g.cost_frontier, "cost"),
            *_frontier(g, f"{g.primary_metric} against latency", g.latency_frontier, "latency"),
        ),
    )


def pairs_section(g: GridSummary) -> Section:
    rows = tuple(
        (
            span(p.a),
            span(p.b),
            Num(str(p.n_shared)),
            Num(f"{p.diff:+.3f}"),
            span(p.test),
            Num(f"{p.p_value:.3g}"),
            Num(f"{p.p_holm:.3g}"),
            span(p.outcome.replace("_", " ").replace("holm", "Holm")),
        )
        for p in g.pairs
    )
    return Section(
        "pairs",
        "Pairwise comparisons",
        (
            Paragraph(
                span(
                    f"Every pair on its shared cases; B minus A in mean score; p-values "
                    f"Holm-adjusted over {len(g.pairs)} comparisons (alpha {g.alpha:g})."
                )
            ),
            Table(("A", "B", "Shared", "B - A", "Test", "p", "p (Holm)", "Outcome"), rows),
        ),
    )


def recommendation_section(g: GridSummary) -> Section:
    return Section(
        "recommendation",
        "Recommendation",
        (Banner(True, span(g.recommendation)),),
    )


def grid_document(g: GridSummary) -> Document:
    sections = [recommendation_section(g), cells_section(g)]
    if any(c.business_per_1000 is not None for c in g.cells):
        sections.append(ranking_section(g))
    sections += [frontier_section(g), pairs_section(g)]
    return Document(
        title=f"Grid: {g.suite}",
        meta=(("Cells", span(str(len(g.cells)))), ("Cost basis", span(g.cost_basis))),
        sections=tuple(sections),
    )


def write_grid_report(g: GridSummary, folder: Path) -> list[Path]:
    from promptops.reports.render import render_html, render_markdown

    doc = grid_document(g)
    md, html = folder / "report.md", folder / "report.html"
    md.write_text(render_markdown(doc), encoding="utf-8")
    html.write_text(render_html(doc), encoding="utf-8")
    return [md, html]


class _GridSettings(Protocol):
    alpha: float
    bootstrap_samples: int
    seed: int


def finish_grid(run: GridRun) -> GridSummary:
    """Summarize a finished grid with its suite's alpha, costs and resampling settings;
    write grid.json (spec and figures) and the Markdown and HTML reports."""
    from promptops.evals.runner import load_run_suite
    from promptops.experiments.grid import GRID_JSON, spec_json
    from promptops.experiments.grid_summary import summarize_grid
    from promptops.lifecycle import run_kinds
    from promptops.runs.folder import write_json

    # with its kind's suite model; every kind's suite keeps these settings
    suite = cast(_GridSettings, load_run_suite(run.spec.suite, run_kinds()))
    summary = summarize_grid(
        run,
        alpha=suite.alpha,
        costs=getattr(suite, "costs", None),  # error costs: classification suites only
        n_boot=suite.bootstrap_samples,
        seed=suite.seed,
    )
    write_json(
        run.folder / GRID_JSON,
        {"spec": spec_json(run.spec), "summary": summary.model_dump(mode="json")},
    )
    write_grid_report(summary, run.folder)
    return summary
