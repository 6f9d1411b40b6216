"""The HTML report of a monitor run: `report.html`, one self-contained page.

The Markdown report's content on the shared page template (strict CSP, inline CSS, escaped
text), plus a time series per signal with its threshold and alerted windows in red.
"""

from __future__ import annotations

from promptops.reports.html import Num, Safe, chart, join, page, paragraph, section, table, tag
from promptops.reports.monitor_markdown import (
    ALERT_ROWS,
    SIGNAL_HEADERS,
    WINDOW_HEADERS,
    reference_lines,
    shown_windows,
    signal_name,
    signal_rows,
    verdict_line,
    window_cells,
    window_label,
)
from promptops.reports.registry import ReportWriter, register
from promptops.reports.series_svg import time_series
from promptops.runs.monitor_summary import MonitorSummary

PERCENT_SIGNALS = ("error_rate", "invalid_rate", "agreement", "rag_overflow")


def _charts(s: MonitorSummary) -> list[Safe]:
    labels = [window_label(w) for w in s.windows]
    out = []
    for name in s.signal_names():
        sigs = [w.signal(name) for w in s.windows]
        if all(sig is None or sig.value is None for sig in sigs):
            continue
        scale = 100.0 if name.startswith(PERCENT_SIGNALS) else 1.0
        values = [
            sig.value * scale if sig is not None and sig.value is not None else None for sig in sigs
        ]
        series = [(signal_name(name) + (" (%)" if scale != 1.0 else ""), values)]
        if name == "latency_p99_ms":
            for q in ("p50", "p95"):
                series.append((q, [sig.extra.get(q) if sig is not None else None for sig in sigs]))
        bar = next(
            (sig.threshold for sig in sigs if sig is not None and sig.threshold is not None), None
        )
        alerts = [i for i, sig in enumerate(sigs) if sig is not None and sig.status == "alert"]
        out.append(tag("h3", signal_name(name)))
        out.append(
            chart(
                time_series(
                    labels,
                    series,
                    title=signal_name(name),
                    threshold=bar * scale if bar is not None else None,
                    alerts=alerts,
                )
            )
        )
    return out


def render_monitor_html(s: MonitorSummary) -> str:
    ok = not s.alerts
    banner = tag(
        "div",
        join(
            [tag("div", verdict_line(s), cls="status"), *[paragraph(x) for x in reference_lines(s)]]
        ),
        cls=f"banner {'pass' if ok else 'fail'}",
        id="verdict",
    )
    rows = [[c if i < 2 else Num(c) for i, c in enumerate(row)] for row in signal_rows(s)]
    alerts = [
        paragraph(f"window {a.window} ({a.start}): {a.message}") for a in s.alerts[:ALERT_ROWS]
    ]
    if len(s.alerts) > ALERT_ROWS:
        alerts.append(
            paragraph(f"… and {len(s.alerts) - ALERT_ROWS:,} more in alerts.json", cls="note")
        )
    windows = shown_windows(s)
    flags = [any(sig.status == "alert" for sig in w.signals) for w in windows]
    body = [
        tag("header", tag("h1", f"Monitor report: {', '.join(s.logs)}")),
        banner,
        section("signals", "Signals", table(SIGNAL_HEADERS, rows)),
        section("alerts", "Alerts", *(alerts or [paragraph("None.")])),
        section("series", "Signals over time", *_charts(s)),
        section("notes", "Notes", *[paragraph(n) for n in s.notes]),
        section(
            "windows",
            "Windows",
            table(WINDOW_HEADERS, [window_cells(w) for w in windows], flags=flags),
        ),
        tag("footer", f"Rendered by promptops from monitor.json (schema v{s.schema_version})."),
    ]
    return page(f"Monitor report: {', '.join(s.logs)}", body)


register(
    ReportWriter[MonitorSummary](
        name="monitor-html", kind="monitor", filename="report.html", render=render_monitor_html
    )
)
