"""`promptops monitor`: a served prompt's request log against its reference, window by window.

    run_monitor(logs, reference, spec, config)   one streaming pass -> MonitorSummary
    write_outputs(summary, out_dir)              monitor.json, alerts.json, report.md/.html
    parse_window("1h" | "500")                   time or request-count windows

Modules: `logread` (validated log lines), `feedback` (true labels by request id),
`reference` (eval run or log), `window` (bounded per-window state) with `sample` (its input
sample), `stats` and `mmd` (the tests), `signals` and `candidates` (per window), `runner`
(the pass). Thresholds (a suite's `monitor:` block) and what is written live in
`runs/monitor_config.py` and `runs/monitor_summary.py`, below the reports that read them.
"""

from promptops.monitor.logread import LogError, LogLine, parse_record, read_logs
from promptops.monitor.runner import run_monitor, write_outputs
from promptops.monitor.window import WindowSpec, parse_window
from promptops.runs.monitor_config import MonitorConfig
from promptops.runs.monitor_summary import Alert, MonitorSummary, Signal, WindowResult

__all__ = [
    "Alert",
    "LogError",
    "LogLine",
    "MonitorConfig",
    "MonitorSummary",
    "Signal",
    "WindowResult",
    "WindowSpec",
    "parse_record",
    "parse_window",
    "read_logs",
    "run_monitor",
    "write_outputs",
]
