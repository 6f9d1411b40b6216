"""`promptops monitor LOG --reference RUN_OR_LOG`: drift, latency, errors, invalid outputs and
feedback of a served prompt, window by window, with alerts that are rarely false."""

from __future__ import annotations

from pathlib import Path

import typer


def monitor_command(
    logs: list[Path] = typer.Argument(
        ..., help="Request log(s) written by `promptops serve --log` (one per worker: merged)."
    ),
    reference: Path = typer.Option(
        ..., "--reference", help="An eval run folder (reports/runs/<id>) or a reference log."
    ),
    window: str = typer.Option(
        "500", "--window", help="Requests per window (500) or a time window (30m, 1h, 1d)."
    ),
    slo_p99_ms: float | None = typer.Option(
        None, "--slo-p99-ms", min=0.001, help="Alert when a window's p99 latency exceeds it."
    ),
    feedback: Path | None = typer.Option(
        None, "--feedback", help="JSONL of {request_id, label}: macro-F1 per window."
    ),
    suite: str | None = typer.Option(
        None, "--suite", help="A suite whose `monitor:` block sets the thresholds."
    ),
    out: Path = typer.Option(
        Path("reports/monitor"),
        "--out",
        help="Where to write monitor.json, alerts.json and reports.",
    ),
) -> None:
    """Compare each window of the log with the reference and write alerts.json, report.md
    and report.html. Exit code 0 with no alert, 1 with any alert, 2 for bad input (a log line
    that does not parse is reported with its file and line)."""
    from promptops.monitor import MonitorConfig, parse_window, run_monitor, write_outputs

    config = MonitorConfig()
    if suite is not None:
        from promptops.evals.suite import resolve_suite

        loaded, _ = resolve_suite(suite)
        config = loaded.monitor or config
    if slo_p99_ms is not None:
        config = config.model_copy(update={"slo_p99_ms": slo_p99_ms})
    summary = run_monitor(logs, reference, parse_window(window), config, feedback_path=feedback)
    files = write_outputs(summary, out)
    status = "ALERT" if summary.alerts else "OK"
    alerted = len({a.window for a in summary.alerts})
    typer.echo(
        f"{status}: {len(summary.alerts)} alerts in {alerted} of {len(summary.windows)} windows "
        f"({summary.n_lines:,} lines, windows of {summary.window})"
    )
    for alert in summary.alerts[:10]:
        typer.echo(f"  window {alert.window} ({alert.start}): {alert.message}")
    typer.echo("written: " + "  ".join(str(p) for p in files))
    raise typer.Exit(1 if summary.alerts else 0)


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor_command)
