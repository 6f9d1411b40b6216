"""The Markdown report of a monitor run: `report.md` in the monitor's output folder.

A verdict, the reference and settings, one row per signal (windows evaluated, alerts, too
few), the alerts, notes on what the windows can detect, and the windows themselves (the
first `WINDOW_ROWS`, then every alerted one). Every string from a log goes through `escape`.
"""

from __future__ import annotations

from collections.abc import Sequence

from promptops.reports import fmt
from promptops.reports.markdown import escape
from promptops.reports.registry import ReportWriter, register
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


def signal_rows(s: MonitorSummary) -> list[list[str]]:
    """Per signal: rule, windows evaluated, alerts, too few, unavailable, worst value."""
    rows = []
    for name in s.signal_names():
        sigs = [sig for w in s.windows for sig in w.signals if sig.name == name]
        measured = [sig for sig in sigs if sig.status in ("ok", "alert")]
        rule = next((threshold_text(sig) for sig in measured if sig.threshold is not None), "none")
        worst = _worst(measured)
        rows.append(
            [
                signal_name(name),
                rule,
                fmt.count(len(measured)),
                fmt.count(sum(sig.status == "alert" for sig in sigs)),
                fmt.count(sum(sig.status == "too_few" for sig in sigs)),
                fmt.count(sum(sig.status == "unavailable" for sig in sigs)),
                value_text(worst) if worst is not None else fmt.MISSING,
            ]
        )
    return rows


def _worst(sigs: Sequence[Signal]) -> Signal | None:
    valued = [sig for sig in sigs if sig.value is not None]
    if not valued:
        return None
    pick = max if valued[0].direction == "above" else min
    return pick(valued, key=lambda sig: sig.value or 0.0)


SIGNAL_HEADERS = [
    "Signal",
    "Alert when",
    "Windows measured",
    "Alerts",
    "Too few",
    "Unavailable",
    "Worst value",
]
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


def window_cells(w: WindowResult) -> list[str]:
    cells = [str(w.index), window_label(w), fmt.count(w.n_served)]
    for name in WINDOW_SIGNALS:
        sig = w.signal(name)
        if sig is None or sig.status == "unavailable":
            cells.append("–")
        elif sig.status == "too_few":
            cells.append("too few")
        else:
            cells.append(value_text(sig) + (" ⚠" if sig.status == "alert" else ""))
    return cells


WINDOW_HEADERS = [
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
]


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


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return out


def render_monitor_markdown(s: MonitorSummary) -> str:
    lines = [f"# Monitor report: {escape(', '.join(s.logs))}", "", f"**{verdict_line(s)}**", ""]
    lines += [f"- {escape(x)}" for x in reference_lines(s)]
    lines += ["", "## Signals", "", *_table(SIGNAL_HEADERS, signal_rows(s)), ""]
    lines += ["## Alerts", ""]
    if not s.alerts:
        lines.append("None.")
    for a in s.alerts[:ALERT_ROWS]:
        lines.append(f"- window {a.window} ({escape(a.start)}): {escape(a.message)}")
    if len(s.alerts) > ALERT_ROWS:
        lines.append(f"- … and {fmt.count(len(s.alerts) - ALERT_ROWS)} more in alerts.json")
    lines += ["", "## Notes", "", *[f"- {escape(n)}" for n in s.notes]]
    lines += ["", "## Windows", ""]
    shown = shown_windows(s)
    lines += _table(WINDOW_HEADERS, [window_cells(w) for w in shown])
    if len(shown) < len(s.windows):
        lines += [
            "",
            f"{fmt.count(len(s.windows) - len(shown))} more windows without alerts "
            "are in monitor.json.",
        ]
    return "\n".join(lines) + "\n"


register(
    ReportWriter[MonitorSummary](
        name="monitor-markdown",
        kind="monitor",
        filename="report.md",
        render=render_monitor_markdown,
    )
)
