"""`promptops init --task TYPE`: a starter prompt, evalset, suite and CI workflow."""

from __future__ import annotations

from pathlib import Path

import typer


def init_command(
    task: str = typer.Option(
        ...,
        "--task",
        help="classification, binary, scoring, extraction or generation.",
    ),
    directory: Path = typer.Option(Path("."), "--dir", help="Project folder (default: here)."),
) -> None:
    """Write a starter project for one task type that runs as it is:
    `promptops eval <name>` on the embedded model, offline. Never overwrites a file (exit 2,
    naming it)."""
    from promptops.tasks.starter import NAMES, write_starter

    for path in write_starter(task, directory):
        typer.echo(f"written: {path}")
    typer.echo(f"next: promptops eval {NAMES[task]}")


def register(app: typer.Typer) -> None:
    app.command("init")(init_command)
