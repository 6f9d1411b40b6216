"""Report kinds: a summary's `kind` names the builder of its document and the files it goes to.

`write_reports` looks the kind up and renders the one document twice (Markdown and HTML), so
a new kind of run adds one builder and one `register` line in `register_builtins`; no caller
changes. Files are written atomically: a reader never sees half a report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from promptops.registry import Registry
from promptops.reports.classification import classification_document
from promptops.reports.compare import comparison_document
from promptops.reports.document import Document
from promptops.reports.monitor import monitor_document
from promptops.reports.rag import rag_document
from promptops.reports.render import render_html, render_markdown
from promptops.runs.folder import write_atomic

S = TypeVar("S")


class Summary(Protocol):
    """What a summary needs for the registry to route it: its `kind`."""

    @property
    def kind(self) -> str: ...


@dataclass(frozen=True)
class ReportKind(Generic[S]):
    """Builds the document of one kind of summary; names the two files it is written to."""

    build: Callable[[S], Document]
    markdown: str = "report.md"
    html: str = "report.html"


REPORT_KINDS: Registry[ReportKind[Any]] = Registry("report kind")


def register_builtins(registry: Registry[ReportKind[Any]]) -> None:
    """The report kinds promptops ships, in one place."""
    registry.register("classification", ReportKind(classification_document))
    registry.register("rag", ReportKind(rag_document))
    registry.register(
        "comparison", ReportKind(comparison_document, "comparison.md", "comparison.html")
    )
    registry.register("monitor", ReportKind(monitor_document))


register_builtins(REPORT_KINDS)


def document(summary: Summary) -> Document:
    """The report document of any summary; an unknown kind is a ConfigError naming the known."""
    return REPORT_KINDS.get(summary.kind, where="summary kind").build(summary)


def report_markdown(summary: Summary) -> str:
    return render_markdown(document(summary))


def report_html(summary: Summary) -> str:
    return render_html(document(summary))


def write_all(summary: Summary, out_dir: Path) -> list[Path]:
    """Render `summary`'s document to its Markdown and HTML files in `out_dir`."""
    kind = REPORT_KINDS.get(summary.kind, where="summary kind")
    doc = kind.build(summary)
    paths = [out_dir / kind.markdown, out_dir / kind.html]
    for path, text in zip(paths, (render_markdown(doc), render_html(doc)), strict=True):
        write_atomic(path, text)
    return paths
