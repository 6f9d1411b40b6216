"""`promptops compare A B`: is run B significantly worse than run (or baseline) A?"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from promptops.errors import UserInputError

if TYPE_CHECKING:
    from promptops.runs.comparison import ComparisonSummary


def print_verdict(summary: ComparisonSummary, files: list[Path]) -> None:
    """The short verdict shared by `compare` and `eval --against-baseline`."""
    v = summary.verdict
    typer.echo(f"{'FAIL' if v.fails else 'PASS'}: {v.explanation}")
    if summary.evalset.changed:
        typer.echo(f"WARNING: {summary.evalset.message}")
    if summary.prompt.changed:
        typer.echo(
            f"prompt changed: {summary.a.prompt.identity} ({summary.a.prompt.content_hash[:12]})"
            f" → {summary.b.prompt.identity} ({summary.b.prompt.content_hash[:12]})"
        )
    typer.echo("comparison: " + "  ".join(str(path) for path in files))


def compare_command(
    a: Path = typer.Argument(..., help="Reference: a run folder or a baseline record (JSON)."),
    b: Path = typer.Argument(..., help="Candidate: a run folder (or a baseline record)."),
    out: Path | None = typer.Option(
        None, "--out", help="Where to write comparison.{json,md,html} (default: B's run folder)."
    ),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level of the tests."),
) -> None:
    """Compare run B with run (or baseline) A on the cases they share.

    Shows metric deltas with CIs, paired tests, flipped cases, the prompt diff, and what
    changed in model, parameters and evalset. Exit code 1 when B is significantly worse on
    the primary metric or fails one of its own thresholds, 0 otherwise, 2 for bad input.
    """
    from promptops.regress.compare import compare_paths, write_comparison
    from promptops.tasks import textregress

    if b.is_dir() and textregress.run_kind(b) in textregress.KINDS:
        regression = textregress.against_task_baseline(a, b, alpha)
        for line in regression.lines():
            typer.echo(line)
        failed = regression.exit_code or not regression.passed
        typer.echo(f"{'FAIL' if failed else 'PASS'}: B {'fails' if failed else 'holds'}")
        raise typer.Exit(1 if failed else 0)
    summary = compare_paths(a, b, alpha=alpha)
    if out is None and not b.is_dir():
        raise UserInputError("B is not a run folder: give --out for the comparison files", "--out")
    files = write_comparison(summary, out or b)
    print_verdict(summary, files)
    raise typer.Exit(summary.exit_code)


def register(app: typer.Typer) -> None:
    app.command("compare")(compare_command)
