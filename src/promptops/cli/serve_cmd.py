"""`promptops serve-model`: the embedded model as an OpenAI-compatible HTTP endpoint.

It binds to loopback by default: the endpoint has no authentication, so exposing it to the
network takes an explicit `--allow-remote`.
"""

from __future__ import annotations

import typer

from promptops.errors import ConfigError
from promptops.serve.config import is_loopback

__all__ = ["is_loopback", "register", "serve_model_command"]


def serve_model_command(
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
    allow_remote: bool = typer.Option(
        False, "--allow-remote", help="Allow a non-loopback --host (the API has no auth)."
    ),
) -> None:
    """Serve the embedded model at http://HOST:PORT/v1 (chat completions and models)."""
    if not is_loopback(host) and not allow_remote:
        raise ConfigError(
            f"{host} is not a loopback address; the endpoint has no authentication, "
            "pass --allow-remote to expose it anyway",
            where="--host",
        )
    import uvicorn

    from promptops.local import create_app, get_model

    loaded = get_model()
    typer.echo(f"model loaded from {loaded.path} in {loaded.load_seconds:.1f} s", err=True)
    uvicorn.run(create_app(), host=host, port=port, log_level="info")


def register(app: typer.Typer) -> None:
    app.command("serve-model")(serve_model_command)
