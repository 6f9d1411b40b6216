"""Options shared by every command that talks to an endpoint, spelled the same everywhere."""

from __future__ import annotations

from types import SimpleNamespace

import typer

endpoint_options = SimpleNamespace(
    BASE_URL=typer.Option(
        None, "--base-url", help="OpenAI-compatible endpoint URL (default: the embedded model)."
    ),
    MODEL=typer.Option(None, "--model", help="Model name sent to the endpoint."),
    CONCURRENCY=typer.Option(None, "--concurrency", min=1, help="Most requests in flight."),
    TIMEOUT=typer.Option(None, "--timeout", min=0.001, help="Seconds per attempt."),
    MAX_RETRIES=typer.Option(None, "--max-retries", min=0, help="Retries after the first try."),
    NO_CACHE=typer.Option(False, "--no-cache", help="Bypass the response cache."),
)
