"""The embedded model on Ray actors, reached through an HTTP transport.

Each actor loads the model once and answers OpenAI-style requests with the same ASGI app the
single-process path uses in-process. The driver keeps everything else: its `LLMClient` builds
the requests, retries, caches, calibrates and writes the run folder, and only the transport
changes. Requests go to the actor with the fewest in flight (a slow node gets less work, not a
fixed share); a lost actor surfaces as a connection error, which the client's one retry policy
retries on another actor.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx2

from promptops.distributed.cluster import RaySettings, connect, worker_count
from promptops.errors import PromptopsError
from promptops.llm.client import EMBEDDED_BASE_URL

Wire = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, body


class ModelServer:
    """A Ray actor's state: the embedded model (loaded at start) behind its ASGI app."""

    def __init__(self, threads: int) -> None:
        # Ray sets OMP_NUM_THREADS to the actor's CPUs; torch is told the same explicitly,
        # so actors sharing a node never oversubscribe its cores.
        os.environ["PROMPTOPS_THREADS"] = str(threads)
        from promptops.local.model import get_model
        from promptops.local.server import create_app

        get_model()
        self._transport = httpx2.ASGITransport(app=create_app())

    async def handle(
        self, method: str, url: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> Wire:
        request = httpx2.Request(method, url, headers=headers, content=body)
        response = await self._transport.handle_async_request(request)
        content = await response.aread()
        return response.status_code, list(response.headers.raw), content

    def ready(self) -> bool:
        return True


class RayTransport(httpx2.AsyncBaseTransport):
    """Sends each request to the least busy model actor."""

    def __init__(self, actors: list[Any]) -> None:
        self._actors = actors
        self._in_flight = [0] * len(actors)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        from ray.exceptions import RayError

        body = await request.aread()
        chosen = min(range(len(self._actors)), key=self._in_flight.__getitem__)
        self._in_flight[chosen] += 1
        try:
            status, headers, content = await self._actors[chosen].handle.remote(
                request.method, str(request.url), list(request.headers.raw), body
            )
        except RayError as exc:
            raise httpx2.ConnectError(f"model actor {chosen}: {exc}", request=request) from exc
        finally:
            self._in_flight[chosen] -= 1
        return httpx2.Response(status, headers=headers, content=content, request=request)


@dataclass(frozen=True)
class ModelActors:
    """What `ray_http_client` started: the client to send through, and how."""

    client: httpx2.AsyncClient
    count: int
    start_seconds: float  # until every actor had loaded its model


@contextmanager
def ray_http_client(settings: RaySettings, timeout: float) -> Iterator[ModelActors]:
    """An HTTP client whose requests the model actors answer; the actors are released on exit
    (the cluster keeps running)."""
    started = time.perf_counter()
    ray = connect(settings)
    count = worker_count(ray, settings)
    remote = ray.remote(ModelServer).options(
        num_cpus=settings.cpus_per_worker, max_restarts=1, max_task_retries=0
    )
    actors = [remote.remote(settings.cpus_per_worker) for _ in range(count)]
    try:
        try:
            ray.get([actor.ready.remote() for actor in actors])  # every model loaded
        except ray.exceptions.RayError as exc:
            raise PromptopsError(
                f"the Ray model actors did not start (is promptops installed on every node?): {exc}"
            ) from exc
        transport = RayTransport(actors)
        client = httpx2.AsyncClient(
            transport=transport, base_url=EMBEDDED_BASE_URL, timeout=timeout
        )
        yield ModelActors(client, count, time.perf_counter() - started)
    finally:
        for actor in actors:
            ray.kill(actor)
