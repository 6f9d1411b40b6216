"""`promptops eval NAME` when the suite's prompt is a binary or scoring prompt."""

from __future__ import annotations

from pathlib import Path

import typer

from promptops.tasks.runner import TaskOptions


def run_task_suite(name: str, options: TaskOptions, *, against: Path | None, compare: bool) -> int:
    """Run, print the headline, and with --against-baseline check the stored record; the
    exit code: 0 thresholds hold, 1 a threshold failed or the run regressed."""
    from promptops.tasks.regression import check_against, default_path
    from promptops.tasks.runner import run_task
    from promptops.tasks.suite import resolve_task_suite

    record = None
    if compare or against is not None:
        suite, _ = resolve_task_suite(name)
        record = against or default_path(suite.name)
        if not record.is_file():
            from promptops.errors import UserInputError

            raise UserInputError(
                "no baseline record; run the suite once and save it with "
                "`promptops baseline save <run folder>`",
                where=str(record),
            )
    outcome = run_task(name, options)
    summary = outcome.summary
    typer.echo(
        f"{summary.prompt.identity} on {summary.suite} ({summary.kind}): "
        f"{summary.n_cases} test cases"
    )
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
    for check in summary.thresholds:
        mark = "PASS" if check.passed else "FAIL"
        actual = "n/a" if check.actual is None else f"{check.actual:.3f}"
        typer.echo(f"  {mark} {check.metric} {check.op} {check.value:g} (actual {actual})")
    typer.echo(f"reports: {outcome.out_dir / 'report.md'}  {outcome.out_dir / 'report.html'}")
    code = outcome.exit_code
    if record is not None:
        from promptops.tasks.suite import resolve_task_suite

        suite, _ = resolve_task_suite(name)
        result = check_against(record, outcome.out_dir, alpha=suite.alpha, seed=suite.seed)
        typer.echo(f"against baseline {record}:")
        for line in result.lines():
            typer.echo(f"  {line}")
        code = max(code, result.exit_code)
    return code
