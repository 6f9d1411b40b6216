"""`promptops prompts list|show|diff`: look at the prompts a project ships."""

from __future__ import annotations

import json
from pathlib import Path

import typer

# The prompts package (pydantic, YAML, Jinja2) is imported inside each command, not here, so
# that `promptops --help` does not pay for it.

DirOption = typer.Option(
    None, "--dir", help="Prompts folder (default: $PROMPTOPS_PROMPTS_DIR or ./prompts)."
)

group = typer.Typer(help="List, show and diff versioned prompt files.", no_args_is_help=True)


@group.command("list")
def list_prompts(directory: Path | None = DirOption) -> None:
    """Every prompt with its version, task and content hash; bad files are listed as errors."""
    from promptops.prompts import PromptStore, prompts_dir

    store = PromptStore.scan(prompts_dir(directory))
    rows = [
        (p.name, p.version, p.task, str(len(p.labels or ())), p.short_hash, p.source or "")
        for p in store.prompts
    ]
    header = ("NAME", "VERSION", "TASK", "LABELS", "HASH", "FILE")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for err in store.errors:
        typer.echo(f"error: {err}", err=True)
    if store.errors:
        raise typer.Exit(2)


@group.command("show")
def show(
    ref: str = typer.Argument(..., help="NAME, NAME@VERSION or a file path"),
    directory: Path | None = DirOption,
    as_json: bool = typer.Option(False, "--json", help="Print the parsed prompt as JSON."),
) -> None:
    """One prompt: identity, content hash, parameters, variables and messages."""
    from promptops.prompts import canonical_lines, declared_variables, resolve_prompt

    prompt = resolve_prompt(ref, directory)
    if as_json:
        payload = {
            "identity": prompt.identity,
            "content_hash": prompt.content_hash,
            "source": prompt.source,
            **prompt.model_dump(mode="json"),
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    typer.echo(f"{prompt.identity}  hash {prompt.short_hash}  ({prompt.source})")
    if prompt.description:
        typer.echo(prompt.description)
    variables = ", ".join(
        f"{name}: {spec.type}" + (f" (max {spec.max_chars} chars)" if spec.max_chars else "")
        for name, spec in declared_variables(prompt).items()
    )
    typer.echo(f"variables: {variables or 'none'}")
    for line in canonical_lines(prompt):
        typer.echo(line)


@group.command("diff")
def diff(
    a: str = typer.Argument(..., help="NAME@VERSION or file"),
    b: str = typer.Argument(..., help="NAME@VERSION or file"),
    directory: Path | None = DirOption,
) -> None:
    """A unified diff of messages and parameters between two prompt versions or files."""
    from promptops.prompts import diff_prompts, resolve_prompt

    left, right = resolve_prompt(a, directory), resolve_prompt(b, directory)
    text = diff_prompts(left, right)
    if not text:
        typer.echo(f"identical content ({left.short_hash})")
        return
    typer.echo(text)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="prompts")
