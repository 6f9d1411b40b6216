"""One way to read any run's `summary.json` back: its `kind` picks the model.

The built-in kinds are registered here; a kind added in the orchestration layer registers
its summary model when it registers itself (`promptops.lifecycle.kinds`).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ValidationError

from promptops.errors import UserInputError
from promptops.registry import Registry
from promptops.runs.comparison import ComparisonSummary
from promptops.runs.rag_summary import RagSummary
from promptops.runs.summary import ClassificationSummary

__all__ = ["SUMMARY_MODELS", "read_summary"]

SUMMARY_MODELS: Registry[type[BaseModel]] = Registry("summary kind")
SUMMARY_MODELS.register("classification", ClassificationSummary)
SUMMARY_MODELS.register("rag", RagSummary)
SUMMARY_MODELS.register("comparison", ComparisonSummary)


def read_summary(path: Path) -> BaseModel:
    """The typed summary in `path` (a summary.json or the run folder holding one)."""
    if path.is_dir():
        path = path / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserInputError(f"cannot read the run summary: {exc}", where=str(path)) from exc
    if not isinstance(data, dict):
        raise UserInputError("a run summary is a JSON object", where=str(path))
    model = SUMMARY_MODELS.get(str(data.get("kind")), where=f"{path}: kind")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UserInputError(f"not a valid {data['kind']} summary: {exc}", where=str(path)) from exc
