"""The report of a monitor run (`report.md`, `report.html` in the monitor's output folder).

A verdict, the reference and settings, one row per signal (windows evaluated, alerts, too
few), the alerts, notes on what the windows can detect, and the windows themselves (the
first `WINDOW_ROWS`, then every alerted one); HTML adds a time series per signal with its
threshold and alerted windows in red.
"""

from __future__ import annotations

from collections.abc import Sequence

from promptops.reports import fmt
from promptops.reports.common import footer
from promptops.reports.document import (
    Banner,
    Block,
    BulletList,
    Cell,
    Chart,
    Document,
    Num,
    Paragraph,
    Section,
    Strong,
    Table,
    span,
)
from promptops.runs.monitor_summary import MonitorSummary, Signal, WindowResult, iso

ALERT_ROWS = 50
WINDOW_ROWS = 40

SIGNAL_NAMES = {
    "predictions": "Prediction shares (L∞ change)",
    "psi:input_chars": "Input length (PSI)",
    "psi:input_tokens": "Input tokens (PSI)",
    "embeddings": "Input embeddings (MMD p-value)",
    "latency_p99_ms": "Latency p99 (ms)",
    "error_rate:server_error": "5xx rate",
    "error_rate:timeout": "Timeout rate",
    "error_rate:validation": "Validation-rejection rate",
    "invalid_rate": "Invalid-output rate",
    "usage": "Input tokens per request",
    "feedback_macro_f1": "Macro-F1 on feedback",
    "agreement:shadow": "Shadow agreement",
    "f1_difference:shadow": "Shadow − primary macro-F1",
    "predictions:canary": "Canary vs primary shares (L∞)",
    "f1_difference:canary": "Canary − primary macro-F1",
    "rag_grounding_support": "RAG grounding support",
    "rag_overflow_rate": "RAG context-overflow rate",
}


def signal_name(key: str) -> str:
    return SIGNAL_NAMES.get(key, key)


def value_text(s: Signal) -> str:
    if s.value is None:
        return fmt.MISSING
    if s.name.startswith(("error_rate", "invalid_rate", "agreement", "rag_overflow")):
        return fmt.pct(s.value, 2)
    if s.name == "embeddings":
        return fmt.pvalue(s.value)
    if s.name.startswith("latency") or s.name == "usage":
        return fmt.num(s.value, 1)
    if s.name.startswith("f1_difference"):
        return fmt.signed(s.value)
    return fmt.num(s.value)


def threshold_text(s: Signal) -> str:
    if s.threshold is None:
        return "none"
    side = ">" if s.direction == "above" else "<"
    probe = Signal(s.name, s.status, s.threshold)
    tested = s.name.startswith(("error_rate", "invalid_rate"))
    return f"{'significantly ' if tested else ''}{side} {value_text(probe)}"


def verdict_line(s: MonitorSummary) -> str:
    if not s.alerts:
        return f"OK: no alert in {fmt.count(len(s.windows))} windows"
    alerted = len({a.window for a in s.alerts})
    return (
        f"ALERT: {fmt.count(len(s.alerts))} alerts in {fmt.count(alerted)} of "
        f"{fmt.count(len(s.windows))} windows"
    )


def signal_rows(s: MonitorSummary) -> list[tuple[Cell, ...]]:
    """Per signal: rule, windows evaluated, alerts, too few, unavailable, worst value."""
    rows: list[tuple[Cell, ...]] = []
    for name in s.signal_names():
        sigs = [sig for w in s.windows for sig in w.signals if sig.name == name]
        measured = [sig for sig in sigs if sig.status in ("ok", "alert")]
        rule = next((threshold_text(sig) for sig in measured if sig.threshold is not None), "none")
        worst = _worst(measured)
        counts = (
            len(measured),
            sum(sig.status == "alert" for sig in sigs),
            sum(sig.status == "too_few" for sig in sigs),
            sum(sig.status == "unavailable" for sig in sigs),
        )
        rows.append(
            (
                span(signal_name(name)),
                span(rule),
                *(Num(fmt.count(n)) for n in counts),
                span(value_text(worst) if worst is not None else fmt.MISSING),
            )
        )
    return rows


def _worst(sigs: Sequence[Signal]) -> Signal | None:
    valued = [sig for sig in sigs if sig.value is not None]
    if not valued:
        return None
    pick = max if valued[0].direction == "above" else min
    return pick(valued, key=lambda sig: sig.value or 0.0)


SIGNAL_HEADERS = (
    "Signal",
    "Alert when",
    "Windows measured",
    "Alerts",
    "Too few",
    "Unavailable",
    "Worst value",
)
WINDOW_SIGNALS = (
    "predictions",
    "psi:input_chars",
    "embeddings",
    "latency_p99_ms",
    "error_rate:server_error",
    "invalid_rate",
    "feedback_macro_f1",
)


def window_label(w: WindowResult) -> str:
    return iso(w.start)[:19].replace("T", " ")


def shown_windows(s: MonitorSummary) -> list[WindowResult]:
    alerted = {a.window for a in s.alerts}
    return [w for w in s.windows if w.index < WINDOW_ROWS or w.index in alerted]


def window_cells(w: WindowResult) -> tuple[Cell, ...]:
    cells: list[Cell] = [Num(str(w.index)), span(window_label(w)), Num(fmt.count(w.n_served))]
    for name in WINDOW_SIGNALS:
        sig = w.signal(name)
        if sig is None or sig.status == "unavailable":
            cells.append(span("–"))
        elif sig.status == "too_few":
            cells.append(span("too few"))
        else:
            cells.append(span(value_text(sig) + (" ⚠" if sig.status == "alert" else "")))
    return tuple(cells)


WINDOW_HEADERS = (
    "#",
    "Start (UTC)",
    "Requests",
    "L∞",
    "PSI length",
    "Embeddings p",
    "p99 ms",
    "5xx",
    "Invalid",
    "F1",
)


def reference_lines(s: MonitorSummary) -> list[str]:
    r = s.reference
    f1 = fmt.num(r["macro_f1"]) if r.get("macro_f1") is not None else fmt.MISSING
    inv = fmt.pct(r["invalid_rate"], 2) if r.get("invalid_rate") is not None else fmt.MISSING
    return [
        f"Reference: {r['kind']} {r['source']}",
        f"{fmt.count(r['n_predictions'])} predictions over {len(r['labels'])} labels, "
        f"{fmt.count(r['n_inputs'])} inputs measured, {fmt.count(r['n_texts'])} texts for "
        f"embeddings; macro-F1 {f1}; invalid-output rate {inv}",
        f"Logs: {', '.join(s.logs)}; {fmt.count(s.n_lines)} lines in "
        f"{fmt.count(len(s.windows))} windows of {s.window}",
    ]


PERCENT_SIGNALS = ("error_rate", "invalid_rate", "agreement", "rag_overflow")


def monitor_document(s: MonitorSummary) -> Document:
    verdict = Banner(
        not s.alerts,
        span(Strong(verdict_line(s))),
        (BulletList(tuple(span(x) for x in reference_lines(s))),),
    )
    alerts: list[Block] = [Paragraph(span("None."))] if not s.alerts else []
    listed = [span(f"window {a.window} ({a.start}): {a.message}") for a in s.alerts[:ALERT_ROWS]]
    if len(s.alerts) > ALERT_ROWS:
        listed.append(span(f"… and {fmt.count(len(s.alerts) - ALERT_ROWS)} more in alerts.json"))
    if listed:
        alerts.append(BulletList(tuple(listed)))
    shown = shown_windows(s)
    windows: list[Block] = [
        Table(
            WINDOW_HEADERS,
            tuple(window_cells(w) for w in shown),
            tuple(any(sig.status == "alert" for sig in w.signals) for w in shown),
        )
    ]
    if len(shown) < len(s.windows):
        hidden = fmt.count(len(s.windows) - len(shown))
        more = f"{hidden} more windows without alerts are in monitor.json."
        windows.append(Paragraph(span(more)))
    return Document(
        title=f"Monitor report: {', '.join(s.logs)}",
        intro=(verdict,),
        sections=(
            Section("signals", "Signals", (Table(SIGNAL_HEADERS, tuple(signal_rows(s))),)),
            Section("alerts", "Alerts", tuple(alerts)),
            Section("series", "Signals over time", tuple(_charts(s))),
            Section(
                "notes", "Notes", (BulletList(tuple(span(n) for n in s.notes)),) if s.notes else ()
            ),
            Section("windows", "Windows", tuple(windows)),
        ),
        footer=footer("monitor.json", s.schema_version),
    )


def _charts(s: MonitorSummary) -> list[Chart]:
    """One time series per signal that has a value somewhere: HTML only."""
    labels = [window_label(w) for w in s.windows]
    out = []
    for name in s.signal_names():
        sigs = [w.signal(name) for w in s.windows]
        if all(sig is None or sig.value is None for sig in sigs):
            continue
        scale = 100.0 if name.startswith(PERCENT_SIGNALS) else 1.0
        columns: list[tuple[str, list[float | None]]] = [
            (
                signal_name(name) + (" (%)" if scale != 1.0 else ""),
                [
                    sig.value * scale if sig is not None and sig.value is not None else None
                    for sig in sigs
                ],
            )
        ]
        if name == "latency_p99_ms":
            for q in ("p50", "p95"):
                columns.append((q, [sig.extra.get(q) if sig is not None else None for sig in sigs]))
        bar = next(
            (sig.threshold for sig in sigs if sig is not None and sig.threshold is not None), None
        )
        data: tuple[tuple[float | str | None, ...], ...] = tuple(
            (label, *(values[i] for _, values in columns)) for i, label in enumerate(labels)
        )
        out.append(
            Chart(
                "series",
                signal_name(name),
                data,
                series=tuple(n for n, _ in columns),
                reference=bar * scale if bar is not None else None,
                marks=tuple(
                    i for i, sig in enumerate(sigs) if sig is not None and sig.status == "alert"
                ),
            )
        )
    return out
