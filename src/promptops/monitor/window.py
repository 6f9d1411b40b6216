"""Windows over a request log: `1h` (time, aligned to the clock) or `500` (served requests).

A window keeps only what its signals need: label counts, histogram counts on the
reference's bins, its own latencies (for exact quantiles; a window is bounded), error counts,
a fixed-size sample of logged inputs and the labelled requests it served. Memory is one
window's worth whatever the log's length.

Which lines feed what: latency, errors, input drift and usage are measured on every request a
client was served (primary and canary); predictions, invalid outputs and feedback on the
primary arm; the canary and shadow arms are compared with it in the candidate signals.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from promptops.errors import ConfigError
from promptops.monitor.logread import LogLine
from promptops.monitor.sample import Reservoir

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SPAN = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


@dataclass(frozen=True)
class WindowSpec:
    seconds: float | None = None
    requests: int | None = None

    def __str__(self) -> str:
        return f"{self.requests} requests" if self.requests else f"{self.seconds:g} s"


def parse_window(text: str) -> WindowSpec:
    """`500` -> 500 served requests per window; `1h`, `30m`, `90s`, `1d` -> a time window."""
    text = text.strip()
    if text.isdigit() and int(text) > 0:
        return WindowSpec(requests=int(text))
    match = _SPAN.match(text)
    if match and float(match.group(1)) > 0:
        return WindowSpec(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    raise ConfigError(
        f"expected a request count (500) or a duration (90s, 30m, 1h, 1d), got {text!r}",
        where="--window",
    )


ERROR_KINDS = ("server_error", "timeout", "validation")


def error_class(line: LogLine) -> str | None:
    """What the client saw: a timeout (504 or an upstream timeout not answered), another 5xx,
    a validation rejection (422 or 400), or None for an answer."""
    if line.status == 504 or (line.status >= 500 and line.error_kind == "timeout"):
        return "timeout"
    if line.status >= 500:
        return "server_error"
    if line.status in (400, 422):
        return "validation"
    return None


@dataclass
class Candidate:
    """One candidate arm's window: its labels, its labelled requests, pairs with the primary."""

    n: int = 0
    n_errors: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    feedback: list[tuple[str, str | None]] = field(default_factory=list)
    pairs: list[tuple[str | None, str | None, str | None]] = field(default_factory=list)


@dataclass
class Window:
    index: int
    start: float
    end: float
    chars_edges: list[float]
    tokens_edges: list[float]
    sample_size: int
    seed: int
    n_lines: int = 0
    n_served: int = 0
    n_late: int = 0
    n_answers: int = 0  # primary answers from the model (200, no fallback)
    n_invalid: int = 0
    n_fallback: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    chars: list[int] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    n_chars: int = 0
    n_tokens: int = 0
    token_sum: int = 0
    latencies: array[float] = field(default_factory=lambda: array("d"))
    errors: Counter[str] = field(default_factory=Counter)
    prompt_tokens: list[float] = field(default_factory=lambda: [0.0, 0.0])  # sum, count
    cost: list[float] = field(default_factory=lambda: [0.0, 0.0])
    support: list[float] = field(default_factory=lambda: [0.0, 0.0])  # RAG grounding: sum, n
    overflow: list[int] = field(default_factory=lambda: [0, 0])  # RAG: overflowed, answers
    feedback: list[tuple[str, str | None]] = field(default_factory=list)
    candidates: dict[str, Candidate] = field(default_factory=dict)
    texts: Reservoir[str] = field(init=False)

    def __post_init__(self) -> None:
        self.chars = [0] * (len(self.chars_edges) + 1)
        self.tokens = [0] * (len(self.tokens_edges) + 1)
        self.texts = Reservoir(self.sample_size, self.seed + self.index)

    def candidate(self, arm: str) -> Candidate:
        return self.candidates.setdefault(arm, Candidate())

    def add(self, line: LogLine, truth: str | None) -> None:
        self.n_lines += 1
        if line.time < self.start:
            self.n_late += 1
        self.end = max(self.end, line.time)
        if line.arm == "shadow":
            cand = self.candidate("shadow")
            cand.n += 1
            cand.n_errors += line.status != 200
            if line.status == 200:
                cand.labels[line.label or ""] += 1
            return
        self._served(line)
        if line.arm == "canary":
            cand = self.candidate("canary")
            cand.n += 1
            cand.n_errors += line.status != 200
            if line.status == 200 and not line.fallback:
                cand.labels[line.label or ""] += 1
                if truth is not None:
                    cand.feedback.append((truth, line.label))
            return
        if line.status != 200:
            return
        if line.fallback:
            self.n_fallback += 1
            return
        self.n_answers += 1
        if line.label is None:
            self.n_invalid += 1
        else:
            self.labels[line.label] += 1
        if truth is not None:
            self.feedback.append((truth, line.label))

    def _served(self, line: LogLine) -> None:
        self.n_served += 1
        if line.latency_ms is not None:
            self.latencies.append(line.latency_ms)
        kind = error_class(line)
        if kind is not None:
            self.errors[kind] += 1
        if line.input_chars is not None:
            self.chars[bisect_left(self.chars_edges, line.input_chars)] += 1
            self.n_chars += 1
        if line.input_tokens is not None:
            self.tokens[bisect_left(self.tokens_edges, line.input_tokens)] += 1
            self.n_tokens += 1
            self.token_sum += line.input_tokens
        if line.text is not None:
            self.texts.add(line.text)
        if line.prompt_tokens is not None:
            self.prompt_tokens[0] += line.prompt_tokens
            self.prompt_tokens[1] += 1
        if line.cost_usd is not None:
            self.cost[0] += line.cost_usd
            self.cost[1] += 1
        if line.grounding_support is not None:
            self.support[0] += line.grounding_support
            self.support[1] += 1
        if line.overflowed is not None:
            self.overflow[0] += line.overflowed
            self.overflow[1] += 1


class Pairer:
    """Joins shadow lines to their primary by request id. Either may be logged first (the
    shadow runs while the primary's line is written); unmatched ids are kept for the current
    and the previous window only, so memory stays bounded."""

    def __init__(self) -> None:
        self._open: list[dict[tuple[str, str], str | None]] = [{}, {}]

    def rotate(self) -> None:
        self._open = [{}, self._open[0]]

    def add(self, line: LogLine) -> tuple[str | None, str | None] | None:
        """(primary label, shadow label) once both sides of a request are seen."""
        if line.request_id is None or line.arm == "canary":
            return None
        side = "shadow" if line.arm == "shadow" else "primary"
        other = "primary" if side == "shadow" else "shadow"
        label = line.label if line.status == 200 and not line.fallback else None
        for pending in self._open:
            key = (other, line.request_id)
            if key in pending:
                theirs = pending.pop(key)
                return (label, theirs) if side == "primary" else (theirs, label)
        self._open[0][(side, line.request_id)] = label
        return None


def windows(
    lines: Iterable[LogLine],
    spec: WindowSpec,
    make: WindowFactory,
    feedback: dict[str, str],
) -> Iterator[Window]:
    """Group a time-ordered stream into windows; each is yielded once it is complete."""
    pairer = Pairer()
    current: Window | None = None
    index = 0
    for line in lines:
        if current is not None and _closes(current, line, spec):
            yield current
            pairer.rotate()
            index += 1
            current = None
        if current is None:
            start = line.time if spec.seconds is None else line.time - line.time % spec.seconds
            current = make(index, start)
        truth = feedback.get(line.request_id) if line.request_id is not None else None
        current.add(line, truth)
        pair = pairer.add(line)
        if pair is not None:
            truth_of = feedback.get(line.request_id or "")
            current.candidate("shadow").pairs.append((*pair, truth_of))
    if current is not None:
        yield current


def _closes(window: Window, line: LogLine, spec: WindowSpec) -> bool:
    if spec.seconds is not None:
        return line.time >= window.start + spec.seconds
    assert spec.requests is not None
    return window.n_served >= spec.requests and line.arm != "shadow"


class WindowFactory:
    """Makes empty windows sized to the reference's bins."""

    def __init__(self, chars_edges: list[float], tokens_edges: list[float], sample: int, seed: int):
        self.chars_edges = chars_edges
        self.tokens_edges = tokens_edges
        self.sample = sample
        self.seed = seed

    def __call__(self, index: int, start: float) -> Window:
        return Window(
            index=index,
            start=start,
            end=start,
            chars_edges=self.chars_edges,
            tokens_edges=self.tokens_edges,
            sample_size=self.sample,
            seed=self.seed,
        )
