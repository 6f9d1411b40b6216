"""The one send loop: every kind of run sends its requests through here and writes each
result row to the run folder as it lands.

Requests are built lazily and at most a small window of them is in flight (the client's
`complete_many`), so memory stays flat however many cases there are; each finished job is one
line appended to `results.jsonl` before the next is counted done. Lines are written in job
order whatever order answers arrive in (concurrent requests, Ray actors), so two runs of one
evalset give the same file order; a bounded number of early answers wait for a slow one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TextIO, TypeVar

from promptops.llm.client import LLMClient
from promptops.llm.types import ChatRequest, Completion
from promptops.runs.folder import RunFolder

__all__ = ["InOrder", "Job", "Progress", "send_all"]

T = TypeVar("T")


@dataclass(frozen=True)
class Job(Generic[T]):
    """One request to send and what its row is built from (`item`: the kind's own)."""

    request: ChatRequest
    item: T


MAX_HELD = 4096  # early answers kept waiting for a slow one; beyond, order yields to memory


class InOrder:
    """Hands records to `write` in sequence order. Past `limit` held records the lowest is
    written early (and skipped when its turn comes), so one stuck request costs no memory."""

    def __init__(self, write: Callable[[dict[str, Any]], None], limit: int = MAX_HELD) -> None:
        self._write = write
        self._limit = limit
        self._next = 0
        self._held: dict[int, dict[str, Any]] = {}
        self._written_early: set[int] = set()

    def add(self, seq: int, record: dict[str, Any]) -> None:
        self._held[seq] = record
        while True:
            if self._next in self._written_early:
                self._written_early.discard(self._next)
            elif self._next in self._held:
                self._write(self._held.pop(self._next))
            else:
                break
            self._next += 1
        while len(self._held) > self._limit:
            early = min(self._held)
            self._write(self._held.pop(early))
            self._written_early.add(early)

    def flush(self) -> None:
        """Write whatever still waits (a run stopped early): answers already paid for are
        kept for the resume, which reads results by case index, not by line order."""
        for seq in sorted(self._held):
            self._write(self._held.pop(seq))


class Progress:
    """A progress bar on a terminal; a quiet line every 10% (or 30 s) otherwise."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.errors = 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._started = time.monotonic()
        self._last_line = self._started
        self._last_decile = -1

    def update(self, ok: bool) -> None:
        self.done += 1
        self.errors += 0 if ok else 1
        now = time.monotonic()
        if self.tty:
            width = 30
            filled = int(width * self.done / max(self.total, 1))
            bar = "#" * filled + "-" * (width - filled)
            elapsed = now - self._started
            self.stream.write(
                f"\r[{bar}] {self.done}/{self.total} errors {self.errors} {elapsed:.0f}s"
            )
            if self.done == self.total:
                self.stream.write("\n")
            self.stream.flush()
            return
        decile = 10 * self.done // max(self.total, 1)
        if decile != self._last_decile or now - self._last_line > 30 or self.done == self.total:
            self._last_decile = decile
            self._last_line = now
            self.stream.write(
                f"progress {self.done}/{self.total} errors={self.errors} "
                f"elapsed={now - self._started:.1f}s\n"
            )
            self.stream.flush()


async def send_all(
    client: LLMClient,
    folder: RunFolder,
    work: Iterator[Job[T]],
    row: Callable[[Job[T], Completion], Awaitable[dict[str, Any]]],
    progress: Progress,
) -> None:
    """Send every job through the client's bounded window and append `row(job, completion)`
    for each, in job order, as it completes. Rows held for order are written when the loop
    stops early (Ctrl-C, a crash), so answers already paid for are kept for the resume."""
    in_flight: dict[int, Job[T]] = {}
    ordered = InOrder(folder.append)

    def requests() -> Iterator[ChatRequest]:
        for index, job in enumerate(work):
            in_flight[index] = job
            yield job.request

    try:
        async for index, completion in client.complete_many(requests()):
            job = in_flight.pop(index)
            ordered.add(index, await row(job, completion))
            progress.update(completion.ok)
    finally:
        ordered.flush()
