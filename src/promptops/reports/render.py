"""Render any report `Document`: `render_markdown(doc)` for report.md, `render_html(doc)` for
report.html. Section builders produce documents; these two backends are the only renderers."""

from __future__ import annotations

from promptops.reports.backends.html import render_html
from promptops.reports.backends.markdown import escape, render_markdown

__all__ = ["escape", "render_html", "render_markdown"]
