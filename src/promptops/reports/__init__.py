"""Report writers: render a run's summary to report files, never re-running anything.

    write_reports(summary, out_dir)   every registered writer of the summary's kind
    render_markdown(summary)          report.md: stable, diff-friendly, no volatile data
    render_html(summary)              report.html: one self-contained page with SVG charts

New formats (RAG runs, `compare`) register a `ReportWriter` under a unique name.
"""

from __future__ import annotations

from pathlib import Path

from promptops.reports.html import render_html
from promptops.reports.markdown import render_markdown
from promptops.reports.registry import (
    DuplicateWriterError,
    ReportWriter,
    UnknownWriterError,
    get_writer,
    register,
    write_all,
    writer_names,
    writers_for,
)
from promptops.runs.summary import ClassificationSummary

__all__ = [
    "DuplicateWriterError",
    "ReportWriter",
    "UnknownWriterError",
    "get_writer",
    "register",
    "render_html",
    "render_markdown",
    "write_reports",
    "writer_names",
    "writers_for",
]

register(
    ReportWriter[ClassificationSummary](
        name="classification-markdown",
        kind="classification",
        filename="report.md",
        render=render_markdown,
    )
)
register(
    ReportWriter[ClassificationSummary](
        name="classification-html",
        kind="classification",
        filename="report.html",
        render=render_html,
    )
)


def write_reports(summary: ClassificationSummary, out_dir: Path) -> list[Path]:
    """Write every report of the summary's kind (report.md, report.html) atomically."""
    return write_all(summary, out_dir)
