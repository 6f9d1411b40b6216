"""What every command that talks to an endpoint shares: its options, spelled the same
everywhere, and one start-up step."""

from __future__ import annotations

import gc
from types import SimpleNamespace

import typer

from promptops.distributed.cluster import EXECUTORS, RaySettings
from promptops.errors import ConfigError

endpoint_options = SimpleNamespace(
    BASE_URL=typer.Option(
        None, "--base-url", help="OpenAI-compatible endpoint URL (default: the embedded model)."
    ),
    MODEL=typer.Option(None, "--model", help="Model name sent to the endpoint."),
    CONCURRENCY=typer.Option(None, "--concurrency", min=1, help="Most requests in flight."),
    TIMEOUT=typer.Option(None, "--timeout", min=0.001, help="Seconds per attempt."),
    MAX_RETRIES=typer.Option(None, "--max-retries", min=0, help="Retries after the first try."),
    MAX_WAIT=typer.Option(
        None,
        "--max-wait",
        min=0.001,
        help="Seconds a case may wait out rate limits (429s) before it fails; 429s never "
        "spend --max-retries.",
    ),
    NO_CACHE=typer.Option(False, "--no-cache", help="Bypass the response cache."),
    NO_RETRY_ERRORS=typer.Option(
        False,
        "--no-retry-errors",
        help="On resume, keep results that ended in a transient error (rate limit, timeout, "
        "5xx, connection) instead of sending those cases again.",
    ),
)

executor_options = SimpleNamespace(
    EXECUTOR=typer.Option(
        "local",
        "--executor",
        help="Where local-model work runs: this process, or Ray actors (pip install "
        "'promptops[ray]').",
        case_sensitive=False,
    ),
    RAY_ADDRESS=typer.Option(
        None, "--ray-address", help="Ray cluster to join (default RAY_ADDRESS, else start one)."
    ),
    WORKERS=typer.Option(
        None, "--workers", min=1, help="Ray actors, one model each (default: one per CPU)."
    ),
)


def ray_settings(executor: str, address: str | None, workers: int | None) -> RaySettings | None:
    """The executor name checked, and its Ray settings (None for the local executor)."""
    name = executor.lower()
    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; use local or ray", where="--executor")
    return RaySettings(address=address, workers=workers) if name == "ray" else None


def embed_corpora_on(settings: RaySettings | None) -> None:
    """With `--executor ray`, dense indexes embed their corpus on Ray Data."""
    if settings is None:
        return
    import functools

    from promptops.distributed.cluster import require_ray
    from promptops.distributed.embedding import ray_embed
    from promptops.embeddings import use_corpus_embedder

    require_ray()
    use_corpus_embedder(functools.partial(ray_embed, settings=settings))


def settle_imports() -> None:
    """Call once a command's heavy imports are done, before it starts sending.

    Modules, classes and the OpenAI SDK's ~2,000 response types (about 100,000 objects) live
    until exit; `gc.freeze` takes them out of the collector's sweeps, which would otherwise
    traverse them all on every full collection during the run (about 40 ms each) and in the
    interpreter's collections at shutdown (about 0.2 s). Objects made later, the run's own
    files among them, are collected and finalised as usual.
    """
    gc.freeze()
