"""`promptops run PROMPT --var k=v`: the quickest way to try a prompt on one input."""

from __future__ import annotations

import json

import typer

from promptops.cli.common import endpoint_options, settle_imports
from promptops.errors import UserInputError


def parse_vars(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserInputError("expected NAME=VALUE", where=f"--var {pair}")
        if key.strip() in values:
            raise UserInputError("given twice", where=f"--var {key.strip()}")
        values[key.strip()] = value
    return values


def run_command(
    prompt_ref: str = typer.Argument(..., metavar="PROMPT", help="NAME[@VERSION] or a file."),
    var: list[str] = typer.Option([], "--var", help="Input variable NAME=VALUE (repeatable)."),
    profile: str | None = typer.Option(None, "--profile", help="Endpoint profile name."),
    base_url: str | None = endpoint_options.BASE_URL,
    model: str | None = endpoint_options.MODEL,
    timeout: float | None = endpoint_options.TIMEOUT,
    max_retries: int | None = endpoint_options.MAX_RETRIES,
    no_cache: bool = endpoint_options.NO_CACHE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Render PROMPT with the given variables, send it, and print the answer."""
    from promptops.api import Client, load_prompt

    settle_imports()
    prompt = load_prompt(prompt_ref)
    variables = parse_vars(var)
    client = Client(
        base_url,
        model or prompt.model.name,
        profile=profile or prompt.model.profile or "embedded",
        timeout=timeout,
        max_retries=max_retries,
        cache=not no_cache,
    )
    endpoint = client.profile
    completion = client.complete_sync(prompt, variables)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "prompt": prompt.identity,
                    "content_hash": prompt.content_hash,
                    **completion.to_record(),
                },
                indent=2,
            )
        )
    else:
        typer.echo(f"{prompt.identity} ({prompt.short_hash}) -> {endpoint.model}")
        if completion.error:
            typer.echo(f"error: {completion.error}", err=True)
        elif prompt.task == "classification":
            shown = completion.label if completion.label is not None else "(invalid)"
            typer.echo(f"label: {shown}")
            typer.echo(f"raw output: {completion.text!r}")
        else:
            typer.echo(completion.text or "")
        if completion.label_probs:
            ranked = sorted(completion.label_probs.items(), key=lambda kv: -kv[1])
            typer.echo("probabilities: " + ", ".join(f"{k} {v:.3f}" for k, v in ranked))
        if completion.raw_label_probs:
            raw = max(completion.raw_label_probs, key=completion.raw_label_probs.__getitem__)
            typer.echo(f"calibration: contextual (uncalibrated answer: {raw})")
        usage = completion.usage
        typer.echo(
            f"tokens: {usage.prompt_tokens} in, {usage.completion_tokens} out"
            f"  latency: {completion.latency_s * 1000:.0f} ms"
            f"  cache: {'hit' if completion.cached else 'miss'}"
            f"  attempts: {completion.attempts}  cost: ${completion.cost_usd:.6f}"
        )
    if completion.error:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
