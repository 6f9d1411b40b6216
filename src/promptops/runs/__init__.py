"""Run folders, result rows, summaries and the run lifecycle every kind of run shares.

    envelope   the summary envelope (`kind`, `schema_version`, thresholds, verdict)
    summary, rag_summary, comparison, monitor_summary   the summary of each kind
    read       `read_summary(path)`: any summary.json back as its typed model
    rows       `CallFacts` and the result row of each kind (results.jsonl)
    kinds      the `RunKind` protocol a kind of evalset run implements
    lifecycle  start a run folder, open the client with its cache, finish
    sending    the one send loop; `Progress`
    thresholds the one threshold check
    folder     the run folder (manifest, prompt snapshot, results, resume)

Names load on first use, so importing one summary model does not load the client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptops.runs.comparison import ComparisonSummary
    from promptops.runs.envelope import Envelope, EvalEnvelope, Header
    from promptops.runs.folder import RunFolder
    from promptops.runs.kinds import Answer, RunKind, ScoredRun
    from promptops.runs.lifecycle import Started, finish, open_client, start
    from promptops.runs.rag_summary import RagSummary
    from promptops.runs.read import SUMMARY_MODELS, read_summary
    from promptops.runs.rows import CallFacts, CaseRow, ClassificationRow, RagRow, Tally
    from promptops.runs.sending import Job, Progress, send_all
    from promptops.runs.summary import ClassificationSummary
    from promptops.runs.thresholds import check_thresholds

_HOMES = {
    "Answer": "kinds",
    "CallFacts": "rows",
    "CaseRow": "rows",
    "ClassificationRow": "rows",
    "ClassificationSummary": "summary",
    "ComparisonSummary": "comparison",
    "Envelope": "envelope",
    "EvalEnvelope": "envelope",
    "Header": "envelope",
    "Job": "sending",
    "Progress": "sending",
    "RagRow": "rows",
    "RagSummary": "rag_summary",
    "RunFolder": "folder",
    "RunKind": "kinds",
    "SUMMARY_MODELS": "read",
    "ScoredRun": "kinds",
    "Started": "lifecycle",
    "Tally": "rows",
    "check_thresholds": "thresholds",
    "finish": "lifecycle",
    "open_client": "lifecycle",
    "read_summary": "read",
    "send_all": "sending",
    "start": "lifecycle",
}

__all__ = [
    "SUMMARY_MODELS",
    "Answer",
    "CallFacts",
    "CaseRow",
    "ClassificationRow",
    "ClassificationSummary",
    "ComparisonSummary",
    "Envelope",
    "EvalEnvelope",
    "Header",
    "Job",
    "Progress",
    "RagRow",
    "RagSummary",
    "RunFolder",
    "RunKind",
    "ScoredRun",
    "Started",
    "Tally",
    "check_thresholds",
    "finish",
    "open_client",
    "read_summary",
    "send_all",
    "start",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'promptops.runs' has no attribute {name!r}")
    return getattr(importlib.import_module(f"promptops.runs.{home}"), name)
