"""The run lifecycle every kind of run shares: start a run folder, open the client with its
response cache, resume what an earlier run left, and finish (volatile fields stamped,
summary.json written). The send loop is `runs.sending`; the reports are rendered one layer
up (`promptops.lifecycle`), so that domain code never imports the report writers.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TextIO

import httpx2

from promptops.llm.cache import ResponseCache
from promptops.llm.client import LLMClient
from promptops.llm.profile import EndpointProfile
from promptops.llm.retry import TRANSIENT_KINDS
from promptops.prompts import Prompt
from promptops.runs.envelope import PromptInfo, Volatile
from promptops.runs.folder import SUMMARY, RunFolder, write_json

__all__ = [
    "Started",
    "finish",
    "open_client",
    "prompt_info",
    "resend_transient",
    "say_resumed",
    "start",
]


@dataclass
class Started:
    """A run under way: its id, its open folder, when it started (`clock`: perf_counter)."""

    run_id: str
    folder: RunFolder
    started: datetime
    clock: float = field(default_factory=time.perf_counter)

    @property
    def out_dir(self) -> Path:
        return self.folder.path


def start(
    name: str,
    prompt: Prompt,
    fingerprint: dict[str, object],
    out: Path | None,
    *,
    started: datetime | None = None,
) -> Started:
    """Open (or resume) the run folder: `<out>` or reports/runs/<run id>, its manifest (a
    folder holding another run's manifest is refused) and the prompt snapshot."""
    started = started or datetime.now(UTC)
    run_id = f"{name}-{started:%Y%m%dT%H%M%SZ}-{prompt.short_hash[:8]}"
    folder = RunFolder(out or Path("reports") / "runs" / run_id)
    folder.open(fingerprint)
    folder.save_prompt(prompt)
    return Started(run_id, folder, started)


def prompt_info(prompt: Prompt) -> PromptInfo:
    """The prompt as a summary names it."""
    return PromptInfo(
        name=prompt.name,
        version=prompt.version,
        identity=prompt.identity,
        content_hash=prompt.content_hash,
        source=prompt.source,
    )


class _Summary(Protocol):
    @property
    def volatile(self) -> Volatile: ...

    def model_dump(self, *, mode: str) -> dict[str, object]: ...


def finish(summary: _Summary, run: Started, *, clock: float | None = None) -> None:
    """Stamp the volatile fields (run id, times, duration since `clock`, default the
    run's) and write summary.json atomically."""
    volatile = summary.volatile
    volatile.run_id = run.run_id
    volatile.started_at = run.started.isoformat(timespec="seconds")
    volatile.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    volatile.duration_s = round(time.perf_counter() - (clock or run.clock), 3)
    write_json(run.out_dir / SUMMARY, summary.model_dump(mode="json"))


@asynccontextmanager
async def open_client(
    profile: EndpointProfile,
    *,
    cache: bool = True,
    http_client: httpx2.AsyncClient | None = None,
    api_key: str | None = None,
) -> AsyncIterator[LLMClient]:
    """The client every command sends through, with the shared response cache (unless
    `cache` is off), closed with it."""
    responses = ResponseCache() if cache else None
    try:
        async with LLMClient(
            profile, cache=responses, http_client=http_client, api_key=api_key
        ) as client:
            yield client
    finally:
        if responses is not None:
            responses.close()


def resend_transient(folder: RunFolder, retry: bool) -> set[tuple[str, int]]:
    """On resume, drop the results that ended in a transient error (rate limit, timeout,
    5xx), so they are sent again; returns their (id, sample) keys."""
    return folder.forget_errors(TRANSIENT_KINDS) if retry else set()


def say_resumed(stream: TextIO, folder: RunFolder, n_done: int, n_resent: int) -> None:
    if n_done or n_resent:
        stream.write(
            f"resuming: {n_done} result(s) already in {folder.path}; "
            f"{n_resent} sent again after a transient error\n"
        )
