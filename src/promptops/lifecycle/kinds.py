"""The registry of run kinds: which kind scores a prompt's `task`.

Built-in kinds are registered here, one line each, when the registry is first asked for;
nothing registers itself by being imported. Registering a kind also registers its summary
model, so `promptops.runs.read_summary` reads its summary.json back.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from promptops.evals.classification import Classification
from promptops.registry import Registry
from promptops.reports.document import Document
from promptops.reports.registry import REPORT_KINDS, ReportKind
from promptops.runs.kinds import RunKind
from promptops.runs.read import SUMMARY_MODELS
from promptops.tasks.extraction.kind import Extraction, extraction_document
from promptops.tasks.generation.kind import Generation, generation_document
from promptops.tasks.report import document as score_document
from promptops.tasks.scorekinds import Binary, Scoring

__all__ = ["register_kind", "run_kinds"]


@cache
def run_kinds() -> Registry[RunKind]:
    """Every kind of run `eval` can score, by name (the summary's `kind`)."""
    kinds: Registry[RunKind] = Registry("run kind")
    register_kind(kinds, Classification())
    register_kind(kinds, Extraction())
    register_kind(kinds, Generation())
    register_kind(kinds, Binary())
    register_kind(kinds, Scoring())
    _report(Extraction.name, extraction_document)
    _report(Generation.name, generation_document)
    _report(Binary.name, score_document)
    _report(Scoring.name, score_document)
    return kinds


def _report(name: str, build: Callable[[Any], Document]) -> None:
    """The report of a task kind: its builder lives above the reports layer."""
    if name not in REPORT_KINDS.names():
        REPORT_KINDS.register(name, ReportKind(build))


def register_kind(kinds: Registry[RunKind], kind: RunKind) -> RunKind:
    """Add `kind` (a duplicate name is a ConfigError) and its summary model."""
    kinds.register(kind.name, kind)
    if kind.name not in SUMMARY_MODELS:
        SUMMARY_MODELS.register(kind.name, kind.summary_model)
    return kind
