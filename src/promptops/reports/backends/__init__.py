"""The two renderers of a report `Document`: Markdown (`report.md`) and HTML (`report.html`)."""
