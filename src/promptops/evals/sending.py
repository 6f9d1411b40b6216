"""Sending an evalset's cases through the client and writing each result as it lands.

Requests are built lazily and at most a small window of them is in flight, so memory stays
flat however many cases there are; each finished case is one line appended to the run
folder's `results.jsonl` before the next is counted done. Lines are written in case order
whatever order answers arrive in (concurrent requests, Ray actors), so two runs of one evalset
give the same file order; a bounded number of early answers wait for a slow one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from promptops.evals.evalset import Case
from promptops.llm.client import LLMClient
from promptops.llm.types import ChatRequest, Completion
from promptops.prompts import Prompt, build_request
from promptops.prompts.calibrator import Calibrator
from promptops.runs.folder import RunFolder


@dataclass(frozen=True)
class Job:
    index: int  # the case's position in the test split
    case: Case
    sample: int
    request: ChatRequest


def finished(records: Iterable[dict[str, Any]], n_cases: int, repeat: int) -> bytearray:
    """One byte per (case, sample), 1 where `results.jsonl` already holds the result: a
    resumed run sends only the rest, with a byte (not a set entry) per case."""
    done = bytearray(n_cases * repeat)
    for record in records:
        index, sample = int(record["index"]), int(record["sample"])
        if 0 <= index < n_cases and 0 <= sample < repeat:
            done[index * repeat + sample] = 1
    return done


def jobs(prompt: Prompt, cases: Iterable[Case], repeat: int, done: bytearray) -> Iterator[Job]:
    """The requests still to send, built one at a time as the window asks for them."""
    for index, case in enumerate(cases):
        for sample in range(repeat):
            if not done[index * repeat + sample]:
                request = build_request(prompt, case.input, sample_index=sample)
                yield Job(index, case, sample, request)


def result_record(job: Job, completion: Completion, *, resent: bool = False) -> dict[str, Any]:
    """One line of results.jsonl. With calibration, `predicted` is the calibrated label and
    the model's own probabilities are in `raw_label_probs`; `resent` marks a case sent again
    after an earlier run ended it with a transient error."""
    probs = completion.label_probs
    predicted = completion.label
    extra = {"resent": True} if resent else {}
    return {
        **extra,
        "id": job.case.id,
        "index": job.index,
        "sample": job.sample,
        "split": job.case.split,
        "tags": list(job.case.tags),
        "input": job.case.input,
        "expected": job.case.expected,
        "predicted": predicted if completion.ok else None,
        "error": completion.error,
        "error_kind": completion.error_kind,
        "invalid": completion.invalid,
        "raw_output": completion.text,
        "label_probs": probs,
        "raw_label_probs": completion.raw_label_probs,
        "latency_s": round(completion.latency_s, 6),
        "prompt_tokens": completion.usage.prompt_tokens,
        "completion_tokens": completion.usage.completion_tokens,
        "cost_usd": completion.cost_usd,
        "cached": completion.cached,
        "attempts": completion.attempts,
    }


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
    work: Iterator[Job],
    calibrator: Calibrator,
    progress: Progress,
    resent: set[tuple[str, int]] | None = None,
) -> None:
    """Send every job through the client's bounded window, appending each result in job
    order as it completes (calibrated the way the prompt says); `resent` holds the (id,
    sample) keys sent again after a transient error, which their records say."""
    again = resent or set()
    in_flight: dict[int, Job] = {}
    ordered = InOrder(folder.append)

    def requests() -> Iterator[ChatRequest]:
        for index, job in enumerate(work):
            in_flight[index] = job
            yield job.request

    try:
        async for index, raw in client.complete_many(requests()):
            completion = calibrator.apply(raw)
            job = in_flight.pop(index)
            key = (job.case.id, job.sample)
            ordered.add(index, result_record(job, completion, resent=key in again))
            progress.update(completion.ok)
    finally:
        ordered.flush()
