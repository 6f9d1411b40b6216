"""`promptops serve PROMPT`: the prompt as an HTTP endpoint (FastAPI under uvicorn).

Everything that can be checked before binding the port is checked here (prompts resolve,
token present for a non-loopback bind, fallback suite exists), so a bad flag is one clear
error line and exit 2, not a worker crash loop.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import typer

from promptops.cli.common import endpoint_options


def serve_command(
    prompt_ref: str = typer.Argument(..., metavar="PROMPT", help="NAME[@VERSION] or a file."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="TCP port."),
    workers: int = typer.Option(1, "--workers", min=1, help="Uvicorn worker processes."),
    profile: str | None = typer.Option(None, "--profile", help="Endpoint profile name."),
    base_url: str | None = endpoint_options.BASE_URL,
    model: str | None = endpoint_options.MODEL,
    timeout: float | None = typer.Option(
        None, "--timeout", min=0.001, help="Per-request deadline in seconds (default: profile)."
    ),
    max_retries: int | None = endpoint_options.MAX_RETRIES,
    concurrency: int | None = typer.Option(
        None,
        "--concurrency",
        min=1,
        help="Upstream calls in flight per worker (default: the profile's, sized for evals; "
        "a server needs about rate x upstream latency).",
    ),
    token_env: str | None = typer.Option(
        None, "--token-env", help="Env var holding the bearer token (required off loopback)."
    ),
    log: Path | None = typer.Option(None, "--log", help="JSON-lines request log (rotated)."),
    log_max_bytes: int = typer.Option(10_000_000, "--log-max-bytes", min=1),
    log_inputs: bool = typer.Option(
        False, "--log-inputs", help="Log raw inputs, PII redacted by Presidio (not names)."
    ),
    max_body_bytes: int = typer.Option(65_536, "--max-body-bytes", min=256),
    shadow: str | None = typer.Option(None, "--shadow", help="Candidate run in the background."),
    canary: str | None = typer.Option(None, "--canary", help="Candidate answering a share."),
    canary_share: float = typer.Option(0.1, "--canary-share", min=0.0, max=1.0),
    seed: int = typer.Option(0, "--seed", help="Seed of the canary routing hash."),
    fallback: str = typer.Option("none", "--fallback", help="none or baseline."),
    suite: str | None = typer.Option(
        None, "--suite", help="A RAG suite to serve, or the eval suite of the baseline."
    ),
    fallback_baseline: str = typer.Option("tfidf_lr", "--fallback-baseline"),
    kill_file: Path | None = typer.Option(
        None, "--kill-file", help="Candidate traffic stops while this file exists."
    ),
) -> None:
    """Serve PROMPT at POST /v1/predict, with /healthz, /readyz and /metrics. With a RAG
    suite (`--suite`, or a prompt taking `question` and `context`) a request gives the
    question; the answer comes with its citations, passages, grounding and overflow."""
    import uvicorn
    from pydantic import ValidationError

    from promptops.errors import ConfigError
    from promptops.evals.suite import resolve_suite
    from promptops.prompts import resolve_prompt
    from promptops.serve.config import CONFIG_ENV, ServeConfig
    from promptops.serve.rag_arm import rag_suite_of
    from promptops.serve.release import same_inputs, suite_for

    if workers > 1 and kill_file is None and (shadow or canary):
        # The admin switch must reach every worker: it writes this file.
        kill_file = Path(tempfile.mkdtemp(prefix="promptops-serve-")) / "candidate-off"
    try:
        config = ServeConfig(
            prompt=prompt_ref,
            host=host,
            port=port,
            workers=workers,
            profile=profile,
            base_url=base_url,
            model=model,
            timeout=timeout,
            max_retries=max_retries,
            concurrency=concurrency,
            token_env=token_env,
            log=log,
            log_max_bytes=log_max_bytes,
            log_inputs=log_inputs,
            max_body_bytes=max_body_bytes,
            shadow=shadow,
            canary=canary,
            canary_share=canary_share,
            seed=seed,
            fallback=fallback,
            suite=suite,
            fallback_baseline=fallback_baseline,
            kill_file=kill_file,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "--" + "-".join(str(p) for p in first["loc"]).replace("_", "-")
        raise ConfigError(first["msg"], where=where or "serve") from exc
    config.check_bind()
    primary = resolve_prompt(prompt_ref)
    rag_suite = rag_suite_of(config)
    if rag_suite is not None:
        typer.echo(f"serving RAG suite {rag_suite} with {primary.identity}", err=True)
    if config.candidate is not None:
        same_inputs(primary, resolve_prompt(config.candidate))
    if config.fallback == "baseline":
        resolve_suite(suite_for(primary, config.suite))
    if log_inputs:
        typer.echo(
            "note: --log-inputs redacts emails, phones, cards, IBANs, IPs and US SSNs; "
            "names and addresses are NOT detected",
            err=True,
        )
    os.environ[CONFIG_ENV] = config.model_dump_json()
    uvicorn.run(
        "promptops.serve.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
