"""Reports: a run's summary becomes one `Document` (section builders), rendered twice.

    write_reports(summary, out_dir)   report.md and report.html (comparison.* for `compare`)
    render_markdown(summary)          report.md of any summary: stable, no volatile data
    render_html(summary)              report.html: one self-contained page with SVG charts
    document(summary)                 the document itself, for other renderers

The backends that turn any document into Markdown or HTML are `promptops.reports.render`.
A new kind of run registers its document builder in `registry.register_builtins`.
"""

from __future__ import annotations

from pathlib import Path

from promptops.reports.registry import (
    REPORT_KINDS,
    ReportKind,
    Summary,
    document,
    report_html,
    report_markdown,
    write_all,
)

render_markdown = report_markdown  # the names callers used before the document existed
render_html = report_html

__all__ = [
    "REPORT_KINDS",
    "ReportKind",
    "document",
    "render_html",
    "render_markdown",
    "report_html",
    "report_markdown",
    "write_reports",
]


def write_reports(summary: Summary, out_dir: Path) -> list[Path]:
    """Write the summary's report files (Markdown, HTML) atomically; returns their paths."""
    return write_all(summary, out_dir)
