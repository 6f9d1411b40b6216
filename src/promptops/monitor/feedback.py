"""Feedback labels: `{"request_id": ..., "label": ...}` per line, the true answer to a served
request, joined to the log by request id. Held in memory (one entry per labelled request)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from promptops.errors import EvalsetError
from promptops.jsonl import read_records
from promptops.monitor.logread import LogError


class FeedbackLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    request_id: str
    label: str


def read_feedback(path: Path) -> dict[str, str]:
    """request id -> true label; a request labelled twice with different labels is an error."""
    labels: dict[str, str] = {}
    try:
        for lineno, record in read_records(path, FeedbackLine):
            old = labels.setdefault(record.request_id, record.label)
            if old != record.label:
                raise LogError(
                    f"request {record.request_id!r} labelled both {old!r} and {record.label!r}",
                    where=f"{path}:{lineno}",
                )
    except EvalsetError as exc:
        raise LogError(exc.reason, where=exc.where) from exc
    return labels
