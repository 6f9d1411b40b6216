"""The `promptops` command line: a thin shell over the library, one module per command group.

Each command module exposes `register(app)`. Heavy imports (torch, transformers, faiss) stay
inside command bodies so `promptops --help` starts fast.
"""

from __future__ import annotations

import sys

import typer

from promptops.errors import PromptopsError

app = typer.Typer(
    name="promptops",
    help="Prompts and RAG pipelines as tested, versioned, monitored software.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from promptops import __version__  # read from the package metadata only when asked

        typer.echo(f"promptops {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Prompts and RAG pipelines as tested, versioned, monitored software."""


def _register_commands() -> None:
    from promptops.cli import (
        baseline_cmd,
        compare_cmd,
        eval_cmd,
        experiments_cmd,
        grounding_cmd,
        init_cmd,
        metrics_cmd,
        monitor_cmd,
        power_cmd,
        prompts_cmd,
        rag_cmd,
        retrieve_cmd,
        run_cmd,
        serve_cmd,
        serve_prompt_cmd,
    )

    for module in (
        init_cmd,
        prompts_cmd,
        run_cmd,
        eval_cmd,
        serve_cmd,
        serve_prompt_cmd,
        retrieve_cmd,
        grounding_cmd,
        rag_cmd,
        compare_cmd,
        baseline_cmd,
        power_cmd,
        metrics_cmd,
        monitor_cmd,
        experiments_cmd,
    ):
        module.register(app)


_register_commands()


def main() -> None:
    """Entry point: user errors become one clear line on stderr and exit code 2.

    Typer's standalone mode already turns usage errors (a missing argument, a bad option
    value) into a usage message and exit code 2; promptops' own errors are handled here.
    """
    try:
        app()
    except PromptopsError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
