"""What a monitor run found: signals per window, alerts, notes. Plain dataclasses (a 1M-line
log at 500 requests a window has 2,000 windows), written to `monitor.json` and `alerts.json`
and rendered by the reports from these alone."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Status = Literal["ok", "alert", "too_few", "unavailable"]
SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Signal:
    """One signal in one window. `direction` says which side of `threshold` alerts."""

    name: str
    status: Status
    value: float | None = None
    threshold: float | None = None
    direction: Literal["above", "below"] = "above"
    n: int = 0
    detail: str = ""
    extra: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WindowResult:
    index: int
    start: float
    end: float
    n_lines: int
    n_served: int
    n_answers: int
    n_late: int
    signals: tuple[Signal, ...]

    def signal(self, name: str) -> Signal | None:
        return next((s for s in self.signals if s.name == name), None)


@dataclass(frozen=True, slots=True)
class Alert:
    window: int
    start: str
    end: str
    signal: str
    value: float | None
    threshold: float | None
    message: str


@dataclass
class MonitorSummary:
    logs: list[str]
    reference: dict[str, Any]
    window: str
    config: dict[str, Any]
    windows: list[WindowResult] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    n_lines: int = 0
    kind: str = "monitor"
    schema_version: int = SCHEMA_VERSION

    def signal_names(self) -> list[str]:
        seen: dict[str, None] = {}
        for w in self.windows:
            for s in w.signals:
                seen.setdefault(s.name, None)
        return list(seen)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def iso(seconds: float) -> str:
    """A UTC time as serve writes it: ISO 8601 with milliseconds."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
