"""Golden reports: each fixed summary under `tests/golden/<case>/summary.json` renders to the
committed Markdown exactly, byte for byte, so a change to any report's wording, numbers or
layout shows up here and is made on purpose.

To update the goldens after an intended change, run

    PROMPTOPS_UPDATE_GOLDEN=1 pytest tests/test_golden_reports.py

and review `git diff tests/golden` before committing. Only the Markdown is committed; the HTML
page rendered from the same document is checked for its structure (every section, no external
loads).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from promptops.lifecycle import run_kinds
from promptops.reports import document, write_reports
from promptops.reports.document import Chart
from promptops.reports.registry import REPORT_KINDS
from promptops.runs.monitor_summary import Alert, MonitorSummary, Signal, WindowResult
from promptops.runs.read import read_summary

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("PROMPTOPS_UPDATE_GOLDEN") == "1"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "summary.json").is_file())


def monitor_summary(data: dict[str, Any]) -> MonitorSummary:
    """monitor.json back into its dataclasses (the monitor writes it with `asdict`)."""
    windows = [
        WindowResult(**{**w, "signals": tuple(Signal(**sig) for sig in w["signals"])})
        for w in data.pop("windows")
    ]
    alerts = [Alert(**a) for a in data.pop("alerts")]
    return MonitorSummary(**data, windows=windows, alerts=alerts)


def load(path: Path) -> Any:
    """The summary back as its kind's model: `read_summary` for every run kind; the monitor
    writes its dataclasses with `asdict`."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if data["kind"] == "monitor":
        return monitor_summary(data)
    run_kinds()  # registers the summary models of every run kind
    return read_summary(path)


def test_every_kind_has_a_golden() -> None:
    kinds = {json.loads((GOLDEN / c / "summary.json").read_text())["kind"] for c in CASES}
    run_kinds()
    assert kinds == set(REPORT_KINDS.names())


@pytest.mark.parametrize("case", CASES)
def test_summary_renders_to_the_committed_markdown(case: str, tmp_path: Path) -> None:
    folder = GOLDEN / case
    written = write_reports(load(folder / "summary.json"), tmp_path)
    names = sorted(p.name for p in written)
    assert len(names) == 2 and {Path(n).suffix for n in names} == {".md", ".html"}
    md = next(p for p in written if p.suffix == ".md")
    if UPDATE:
        (folder / md.name).write_bytes(md.read_bytes())
    assert md.read_bytes() == (folder / md.name).read_bytes(), (
        f"{case}/{md.name} changed; if on purpose, rerun with PROMPTOPS_UPDATE_GOLDEN=1"
    )
    page = next(p for p in written if p.suffix == ".html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in page
    markdown = md.read_text(encoding="utf-8")
    for section in document(load(folder / "summary.json")).sections:
        assert f'<section id="{section.anchor}">' in page and f'href="#{section.anchor}"' in page
        says = [b for b in section.blocks if not isinstance(b, Chart) or b.fallback]
        shown = not section.volatile and (says or not section.blocks)  # charts alone: HTML only
        assert (f"# {section.title}\n" in markdown) == bool(shown), section.title
