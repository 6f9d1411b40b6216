"""What `promptops eval NAME` prints for a binary or scoring run."""

from __future__ import annotations

import typer

from promptops.tasks.summary import TaskSummary


def print_task_headline(summary: TaskSummary) -> None:
    """Each metric with its interval, the invalid and error counts, each baseline with the
    paired test on the primary metric, and the verdict."""
    shown = []
    for metric, iv in summary.intervals.items():
        value = summary.metrics.get(metric)
        if value is None:
            shown.append(f"{metric} n/a")
        elif iv.low is None or iv.high is None:
            shown.append(f"{metric} {value:.3f}")
        else:
            shown.append(f"{metric} {value:.3f} [{iv.low:.3f}, {iv.high:.3f}]")
    typer.echo("  ".join(shown))
    typer.echo(f"invalid {summary.n_invalid}  errors {summary.n_errors}")
    for b in summary.baselines:
        if b.comparison is None:
            typer.echo(f"  baseline {b.name}: not fit ({b.reason})")
            continue
        c = b.comparison
        typer.echo(
            f"  baseline {b.name}: {summary.primary_metric} {c.baseline:.3f}; prompt - baseline "
            f"{c.diff:+.3f} [{c.low:+.3f}, {c.high:+.3f}], "
            f"p {c.decision.p_value:.3g} ({c.decision.outcome})"
            if c.baseline is not None
            else f"  baseline {b.name}: {summary.primary_metric} undefined"
        )
    typer.echo(summary.verdict)
