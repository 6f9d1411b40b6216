"""`promptops eval NAME`: run the suite `evalsets/NAME.yaml` and report."""

from __future__ import annotations

from pathlib import Path

import typer

from promptops.cli.common import endpoint_options, executor_options, ray_settings, settle_imports
from promptops.cli.experiments_cmd import experiment_options


def eval_command(
    name: str = typer.Argument(..., help="Suite name (evalsets/NAME.yaml) or a suite file."),
    prompt: list[str] | None = typer.Option(
        None, "--prompt", help="Prompt NAME[@VERSION] or file; repeat for a grid of cells."
    ),
    evalset: Path | None = typer.Option(None, "--evalset", help="Evalset file (JSONL/CSV/YAML)."),
    base_url: str | None = endpoint_options.BASE_URL,
    model: list[str] | None = typer.Option(
        None, "--model", help="Model name sent to the endpoint; repeat for a grid of cells."
    ),
    profile: list[str] | None = experiment_options.PROFILE,
    mlflow: bool = experiment_options.MLFLOW,
    mlflow_uri: str = experiment_options.MLFLOW_URI,
    concurrency: int | None = endpoint_options.CONCURRENCY,
    timeout: float | None = endpoint_options.TIMEOUT,
    max_retries: int | None = endpoint_options.MAX_RETRIES,
    max_wait: float | None = endpoint_options.MAX_WAIT,
    no_cache: bool = endpoint_options.NO_CACHE,
    no_retry_errors: bool = endpoint_options.NO_RETRY_ERRORS,
    repeat: int | None = typer.Option(
        None, "--repeat", min=1, help="Samples per case (independent, for flakiness)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Run folder (default reports/runs/<run id>); reuse it to resume."
    ),
    against_baseline: bool = typer.Option(
        False,
        "--against-baseline",
        help="After the run, compare with the stored baseline (baselines/<suite>.json).",
    ),
    baseline: Path | None = typer.Option(
        None, "--baseline", help="Baseline record to compare with (implies --against-baseline)."
    ),
    executor: str = executor_options.EXECUTOR,
    ray_address: str | None = executor_options.RAY_ADDRESS,
    workers: int | None = executor_options.WORKERS,
) -> None:
    """Score a prompt (any task type) on golden cases beside baselines it must beat.

    Exit code 0 when the suite's thresholds hold, 1 when one fails (or, with
    --against-baseline, when the run is significantly worse than the baseline), 2 for bad
    input.
    """
    from promptops.api import run_suite
    from promptops.cli.task_eval import print_task_headline
    from promptops.distributed.cluster import RaySettings
    from promptops.errors import ConfigError
    from promptops.experiments.grid import is_grid
    from promptops.lifecycle import EvalOptions
    from promptops.runs.summary import ClassificationSummary
    from promptops.tasks.summary import TaskSummary

    ray = ray_settings(executor, ray_address, workers)
    settle_imports()
    reference: tuple[Path, float, int] | None = None
    if against_baseline or baseline is not None:
        from promptops.regress.compare import baseline_for

        reference = baseline_for(name, baseline)

    options = EvalOptions(
        prompt=prompt[0] if prompt else None,
        evalset=evalset,
        base_url=base_url,
        model=model[0] if model else None,
        concurrency=concurrency,
        timeout=timeout,
        max_retries=max_retries,
        max_wait=max_wait,
        repeat=repeat,
        no_cache=no_cache,
        retry_errors=not no_retry_errors,
        out=out,
        executor="ray" if ray is not None else "local",
        ray=ray or RaySettings(),
        endpoint_profile=profile[0] if profile else None,
    )
    if is_grid(prompt or [], profile or [], model or []):
        if reference is not None:
            reason = "compares one run with the baseline; run the chosen cell alone"
            raise ConfigError(reason, where="--against-baseline")
        from promptops.cli.experiments_cmd import grid_command

        tracking = mlflow_uri if mlflow else None
        grid = grid_command(name, prompt or [], profile or [], model or [], options, tracking)
        raise typer.Exit(grid)
    outcome = run_suite(name, options=options)
    summary = outcome.summary
    typer.echo(f"{summary.prompt.identity} on {summary.suite}: {summary.n_cases} cases")
    if isinstance(summary, ClassificationSummary):
        metrics = summary.metrics
        ci = summary.intervals["macro_f1"]
        typer.echo(
            f"macro-F1 {metrics.macro_f1:.3f} [{ci.low:.3f}, {ci.high:.3f}]  "
            f"accuracy {metrics.accuracy:.3f}  invalid {metrics.invalid_rate:.1%}  "
            f"errors {summary.n_errors}"
        )
        typer.echo(summary.verdict.explanation)
        if summary.sensitivity is not None:
            from promptops.reports.words import sensitivity_sentence

            typer.echo(sensitivity_sentence(summary) or "")
    elif isinstance(summary, TaskSummary):  # binary and scoring
        print_task_headline(summary)
    else:
        primary = getattr(summary, "primary_metric", None)
        shown = getattr(summary, "intervals", {}).get(primary) if primary else None
        if isinstance(shown, dict):
            typer.echo(
                f"{primary} {shown['estimate']:.3f} [{shown['low']:.3f}, {shown['high']:.3f}]"
            )
        typer.echo(f"errors {summary.n_errors}  invalid {summary.n_invalid}")
    for check in summary.thresholds:
        mark = "PASS" if check.passed else "FAIL"
        actual = "n/a" if check.actual is None else f"{check.actual:.3f}"
        typer.echo(f"  {mark} {check.metric} {check.op} {check.value:g} (actual {actual})")
    typer.echo(f"reports: {outcome.folder / 'report.md'}  {outcome.folder / 'report.html'}")
    exit_code = outcome.exit_code
    if reference is not None:
        from promptops.cli.compare_cmd import print_verdict
        from promptops.regress.compare import compare_with_baseline

        path, alpha, seed = reference
        typer.echo(f"against baseline {path}:")
        if summary.kind in ("binary", "scoring"):
            from promptops.tasks.regression import check_against

            checked = check_against(path, outcome.folder, alpha=alpha, seed=seed)
            for line in checked.lines():
                typer.echo(f"  {line}")
            exit_code = max(exit_code, checked.exit_code)
        elif summary.kind in ("extraction", "generation"):
            from promptops.tasks.textregress import against_task_baseline

            regression = against_task_baseline(path, outcome.folder, alpha)
            for line in regression.lines():
                typer.echo(f"  {line}")
            exit_code = max(exit_code, regression.exit_code)
        else:
            comparison, files = compare_with_baseline(path, outcome.folder, alpha=alpha)
            print_verdict(comparison, files)
            from promptops.cli.experiments_cmd import against_baseline_code

            exit_code = max(exit_code, against_baseline_code(name, comparison))
    from promptops.cli.experiments_cmd import after_run

    tracking_uri = mlflow_uri if mlflow else None
    raise typer.Exit(max(exit_code, after_run(name, outcome.folder, tracking_uri)))


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
