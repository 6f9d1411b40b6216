"""Reading serve request logs one line at a time, validated, with file:line in every error.

A log line is one JSON object (see `serve/requestlog.py`). `time`, `status` and `latency_ms`
are required (`latency_ms` may be absent from a 4xx line: serve logs a request it refused
before any model call without one); every other known field is optional and type-checked;
unknown fields are ignored. A line that is not JSON or breaks these rules stops the read with
`file:line: field: reason` (exit 2): a monitor that skipped lines silently could miss the very
requests that went wrong. Several files (one per serve worker) are merged by time, streaming.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from promptops.errors import UserInputError

ARMS = frozenset({"primary", "canary", "shadow"})


class LogError(UserInputError):
    """A request log (or feedback file) cannot be read or holds an invalid line."""


@dataclass(frozen=True, slots=True)
class LogLine:
    time: float  # seconds since the epoch (UTC)
    status: int
    latency_ms: float | None  # None only for a request refused with a 4xx
    arm: str = "primary"
    request_id: str | None = None
    label: str | None = None
    error_kind: str | None = None
    fallback: bool = False
    input_chars: int | None = None
    input_tokens: int | None = None
    text: str | None = None  # the logged (redacted) input variables, joined as serve counts them
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    grounding_support: float | None = None  # RAG: share of answer sentences supported
    overflowed: bool | None = None  # RAG: the context guard dropped or cut passages


def parse_time(value: object) -> float:
    if not isinstance(value, str):
        raise ValueError("time: expected an ISO 8601 string")
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"time: not an ISO 8601 time: {value!r}") from None
    if stamp.tzinfo is None:
        raise ValueError(f"time: no time zone in {value!r} (serve writes UTC with +00:00)")
    return stamp.timestamp()


def _number(data: dict[str, Any], key: str, *, required: bool = False) -> float | None:
    value = data.get(key)
    if value is None:
        if required:
            raise ValueError(f"{key}: missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key}: expected a number, got {type(value).__name__}")
    return float(value)


def _integer(data: dict[str, Any], key: str, *, required: bool = False) -> int | None:
    value = _number(data, key, required=required)
    if value is None:
        return None
    if value != int(value) or value < 0:
        raise ValueError(f"{key}: expected a non-negative integer, got {data[key]!r}")
    return int(value)


def _string(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{key}: expected a string, got {type(value).__name__}")


def input_text(inputs: dict[str, Any]) -> str:
    """The variables' values joined as serve measures them (`input_chars`, `input_tokens`)."""
    return "\n".join(str(v) for v in inputs.values())


def parse_record(data: object) -> LogLine:
    """One decoded log line as a `LogLine`; `ValueError("field: reason")` if it is invalid."""
    if not isinstance(data, dict):
        raise ValueError("record: expected a JSON object")
    arm = _string(data, "arm") or "primary"
    if arm not in ARMS:
        raise ValueError(f"arm: expected one of {', '.join(sorted(ARMS))}, got {arm!r}")
    status = _integer(data, "status", required=True)
    assert status is not None
    latency = _number(data, "latency_ms", required=not 400 <= status < 500)
    inputs = data.get("input")
    if inputs is not None and not isinstance(inputs, dict):
        raise ValueError("input: expected an object of variable -> text")
    fallback = data.get("fallback", False)
    if not isinstance(fallback, bool):
        raise ValueError("fallback: expected true or false")
    overflow = data.get("overflow")
    if overflow is not None and not isinstance(overflow, dict):
        raise ValueError("overflow: expected an object")
    overflowed = overflow.get("overflowed") if overflow is not None else None
    if overflowed is not None and not isinstance(overflowed, bool):
        raise ValueError("overflow.overflowed: expected true or false")
    return LogLine(
        time=parse_time(data.get("time")),
        status=status,
        latency_ms=latency,
        arm=arm,
        request_id=_string(data, "request_id"),
        label=_string(data, "label"),
        error_kind=_string(data, "error_kind"),
        fallback=fallback,
        input_chars=_integer(data, "input_chars"),
        input_tokens=_integer(data, "input_tokens"),
        text=input_text(inputs) if inputs is not None else None,
        prompt_tokens=_integer(data, "prompt_tokens"),
        completion_tokens=_integer(data, "completion_tokens"),
        cost_usd=_number(data, "cost_usd"),
        grounding_support=_number(data, "grounding_support"),
        overflowed=overflowed,
    )


def read_log(path: Path) -> Iterator[LogLine]:
    """Every non-blank line of one log file, in file order."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise LogError(f"cannot read log: {exc.strerror}", where=str(path)) from exc
    with handle:
        lineno = 0
        try:
            for lineno, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    data = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise LogError(f"invalid JSON: {exc.msg}", where=f"{path}:{lineno}") from exc
                try:
                    yield parse_record(data)
                except ValueError as exc:
                    raise LogError(str(exc), where=f"{path}:{lineno}") from exc
        except UnicodeDecodeError as exc:
            raise LogError("not valid UTF-8", where=f"{path}:{lineno + 1}") from exc


def read_logs(paths: Iterable[Path]) -> Iterator[LogLine]:
    """Lines of several logs merged by time (each file is in time order as serve writes it)."""
    streams = [read_log(p) for p in paths]
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=lambda line: line.time)
