"""`promptops baseline save RUN`: keep a run's outcome in the repo as the bar to clear."""

from __future__ import annotations

from pathlib import Path

import typer

baseline_app = typer.Typer(
    help="Baselines in the repo: baselines/<suite>.json records that CI compares against.",
    no_args_is_help=True,
)


@baseline_app.command("save")
def save_command(
    run: Path = typer.Argument(..., help="A finished run folder (reports/runs/<run id>)."),
    path: Path | None = typer.Option(
        None, "--path", help="Where to write the record (default baselines/<suite>.json)."
    ),
) -> None:
    """Write a small, reviewable JSON record of RUN: prompt, model, evalset hash, metrics,
    thresholds and one outcome per case. Commit it; `eval --against-baseline` and
    `compare` read it."""
    from promptops.regress.baseline import save_baseline
    from promptops.reports import fmt
    from promptops.tasks import textregress
    from promptops.tasks.regression import is_task_run, save_task_baseline

    if is_task_run(run):  # binary and scoring runs keep their answers per case
        target, task_record = save_task_baseline(run, path)
        typer.echo(
            f"baseline for {task_record['suite']} ({task_record['task']}): {task_record['metrics']}"
        )
        typer.echo(f"written: {target}")
        return

    if textregress.run_kind(run) in textregress.KINDS:  # extraction and generation runs
        written, saved = textregress.save_task_baseline(run, path)
        typer.echo(
            f"baseline for {saved['suite']}: {saved['prompt']['identity']}, "
            f"{fmt.count(len(saved['cases']))} cases, {saved['primary_metric']} "
            f"{fmt.num(saved['metrics'].get(saved['primary_metric']))}"
        )
        typer.echo(f"written: {written}")
        return
    target, record = save_baseline(run, path)
    metrics = ", ".join(
        f"{fmt.metric_name(name)} {fmt.num(value)}" for name, value in record.metrics.items()
    )
    typer.echo(
        f"baseline for {record.suite}: {record.prompt.identity} "
        f"({record.prompt.content_hash[:12]}), {fmt.count(len(record.cases))} cases, {metrics}"
    )
    typer.echo(f"written: {target}")


def register(app: typer.Typer) -> None:
    app.add_typer(baseline_app, name="baseline")
