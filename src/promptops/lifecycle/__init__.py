"""The orchestration layer: every kind of run goes start -> send -> summarize -> finish
through the same steps, and its reports are rendered here, above the domain packages.

    run_eval(suite, options)       any evalset kind (classification, ...), by `prompt.task`
    run_rag_eval(suite, options)   a RAG suite (`is_rag_suite` tells one from the other)
    run_kinds()                    the registry of evalset kinds (`runs.kinds.RunKind`)

The RAG names (`RagOptions`, `RagOutcome`, `run_rag_eval`) load the RAG stack (scikit-learn,
tiktoken, ...) on first use only, so an `eval` run does not carry it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import httpx2

from promptops.errors import UserInputError
from promptops.evals.runner import EvalOptions, EvalOutcome
from promptops.evals.runner import run_eval as _run_eval
from promptops.lifecycle.kinds import register_kind, run_kinds
from promptops.reports import write_reports
from promptops.suites import SUITES_DIR
from promptops.yamlio import read_yaml

if TYPE_CHECKING:
    from promptops.rag.runner import RagOptions, RagOutcome

__all__ = [
    "EvalOptions",
    "EvalOutcome",
    "RagOptions",
    "RagOutcome",
    "is_rag_suite",
    "register_kind",
    "run_eval",
    "run_kinds",
    "run_rag_eval",
]


def run_eval(
    suite_ref: str,
    options: EvalOptions,
    *,
    http_client: httpx2.AsyncClient | None = None,
    stream: TextIO | None = None,
) -> EvalOutcome:
    """`promptops eval`: the suite's prompt scored by its kind; summary.json and reports."""
    outcome = _run_eval(
        suite_ref, options, run_kinds(), http_client=http_client, stream=stream or sys.stderr
    )
    write_reports(outcome.summary, outcome.out_dir)
    return outcome


def run_rag_eval(
    suite_ref: str | None,
    options: RagOptions,
    *,
    http_client: httpx2.AsyncClient | None = None,
    stream: TextIO | None = None,
) -> RagOutcome:
    """`promptops rag-eval`: retrieval, generation and grounding; summary.json and reports."""
    from promptops.rag.runner import run_rag_eval as run

    outcome = run(suite_ref, options, http_client=http_client, stream=stream)
    write_reports(outcome.summary, outcome.out_dir)
    return outcome


def is_rag_suite(ref: str) -> bool:
    """Whether the suite `ref` names (a name in evalsets/ or a .yaml path) is a RAG suite,
    i.e. has a `corpus`; a missing or unreadable file is left to the runner to report."""
    path = Path(ref)
    if path.suffix not in {".yaml", ".yml"}:
        path = SUITES_DIR / f"{ref}.yaml"
    if not path.is_file():
        return False
    try:
        data = read_yaml(path, UserInputError).data
    except UserInputError:
        return False
    return isinstance(data, dict) and "corpus" in data


def __getattr__(name: str) -> Any:
    if name in ("RagOptions", "RagOutcome"):
        from promptops.rag import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'promptops.lifecycle' has no attribute {name!r}")
