"""Experiment options of `promptops eval` (grids, MLflow, non-inferiority) and the
`promptops runs list|show` commands. Heavy imports stay inside the functions."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from promptops.evals.runner import EvalOptions
    from promptops.runs.comparison import ComparisonSummary

experiment_options = SimpleNamespace(
    PROFILE=typer.Option(
        None, "--profile", help="Endpoint profile (profiles.yaml); repeat for a grid of cells."
    ),
    MLFLOW=typer.Option(
        False,
        "--mlflow",
        help="Log the run (each cell of a grid) to MLflow; pip install 'promptops[mlflow]'.",
    ),
    MLFLOW_URI=typer.Option(
        "mlruns",
        "--mlflow-uri",
        help="MLflow tracking URI for --mlflow: a folder (file store, default ./mlruns), "
        "a database or a server URL.",
    ),
)


def grid_command(
    suite: str,
    prompts: list[str],
    profiles: list[str],
    models: list[str],
    base: EvalOptions,
    mlflow: str | None,
) -> int:
    """Run the grid, write its report; exit 0 (a grid ranks, it does not pass or fail)."""
    from promptops.experiments.grid import GridSpec, endpoints_from, run_grid
    from promptops.experiments.grid_report import finish_grid
    from promptops.experiments.grid_summary import money

    spec = GridSpec(
        suite=suite,
        prompts=tuple(prompts) or (None,),
        endpoints=endpoints_from(profiles, models),
        evalset=None if base.evalset is None else str(base.evalset),
    )
    run = run_grid(spec, base, out=base.out)
    summary = finish_grid(run)
    by_id = {c.id: c for c in summary.cells}
    typer.echo(f"grid of {len(summary.cells)} cells on {suite}: {run.folder}")
    for cell_id in summary.ranking:
        c = by_id[cell_id]
        typer.echo(
            f"  {c.id}: {c.primary_metric} {c.quality:.3f} [{c.quality_low:.3f}, "
            f"{c.quality_high:.3f}]  cost/1k {money(c.ranking_cost)}  invalid {c.invalid_rate:.1%}"
        )
    typer.echo(summary.recommendation)
    typer.echo(f"reports: {run.folder / 'report.md'}  {run.folder / 'report.html'}")
    if mlflow is not None:
        from promptops.experiments.tracking import log_run

        for cell in run.cells:
            typer.echo(f"mlflow run {log_run(cell.folder, mlflow)} ({cell.id})")
    return 0


def _run_suite(suite_ref: str) -> object:
    """The suite as its run kind validates it (a binary suite is not a classification one)."""
    from promptops.evals.runner import load_run_suite
    from promptops.lifecycle import run_kinds

    return load_run_suite(suite_ref, run_kinds())


def against_baseline_code(suite_ref: str, comparison: ComparisonSummary) -> int:
    """The exit code of `--against-baseline`: with `non_inferiority_margin` in the suite,
    non-inferiority decides; else "significantly worse" fails, as before."""
    margin = getattr(_run_suite(suite_ref), "non_inferiority_margin", None)
    if margin is None:
        return comparison.exit_code
    from promptops.experiments.noninferiority import decide

    result = decide(comparison, margin)
    mark = "PASS" if result.passed else "FAIL"
    typer.echo(f"  {mark} {result.sentence()}")
    return 0 if result.passed and comparison.verdict.b_passed else 1


def after_run(suite_ref: str, run_folder: Path, mlflow: str | None) -> int:
    """Business cost (when the suite declares costs) and MLflow logging of a finished run."""
    from promptops.evals.suite import Suite

    suite = _run_suite(suite_ref)
    if isinstance(suite, Suite) and suite.costs is not None:
        from promptops.experiments.costing import profile_prices, run_business_cost
        from promptops.runs.folder import SUMMARY
        from promptops.runs.summary import ClassificationSummary

        summary = ClassificationSummary.model_validate_json((run_folder / SUMMARY).read_text())
        prices = profile_prices(summary.model.profile)
        cost = run_business_cost(
            run_folder, suite, Path(summary.evalset.path), summary.labels, prices
        )
        for row in cost.rows:
            e = row.estimate
            typer.echo(
                f"business cost {row.name}: {e.per_1000:,.2f} {cost.currency} per 1,000 "
                f"decisions [{e.low:,.2f}, {e.high:,.2f}]"
            )
    if mlflow is not None:
        from promptops.experiments.tracking import log_run

        typer.echo(f"mlflow run {log_run(run_folder, mlflow)} ({mlflow})")
    return 0


runs_app = typer.Typer(help="Finished runs under reports/runs/.", no_args_is_help=True)


@runs_app.command("list")
def runs_list(
    suite: str | None = typer.Option(None, "--suite", help="Only this suite's runs."),
    root: Path = typer.Option(Path("reports/runs"), "--root", help="Where runs are kept."),
) -> None:
    """Every finished run: time, prompt, model, evalset, primary metric with CI, cost."""
    from promptops.experiments.runs_index import HEADERS, format_entry, list_runs

    rows = [format_entry(e) for e in list_runs(root, suite=suite)]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(HEADERS)]
    for line in [HEADERS, *rows]:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    typer.echo(f"{len(rows)} run(s)")


@runs_app.command("show")
def runs_show(
    run: str = typer.Argument(..., help="Run folder, or run id / folder name under --root."),
    root: Path = typer.Option(Path("reports/runs"), "--root", help="Where runs are kept."),
) -> None:
    """One run's figures and files."""
    import json

    from promptops.experiments.runs_index import entry_from, find_run, format_entry
    from promptops.runs.folder import SUMMARY

    folder = find_run(run, root)
    summary = json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
    entry = entry_from(folder, summary)
    typer.echo(f"run id: {entry.run_id}")
    names = ["time", "run", "prompt", "model", "evalset sha256", "primary metric", "cost"]
    for name, value in zip(names, format_entry(entry), strict=True):
        typer.echo(f"{name}: {value}")
    typer.echo(f"suite: {entry.suite}")
    typer.echo(f"passed: {entry.passed}")
    typer.echo(f"folder: {folder}")
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        typer.echo(f"  {path.name}")


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
