"""Evidently's default drift tests on the very windows `monitor_alarms.py` uses.

Evidently is not a promptops dependency: run this with a Python that has it, on a file
written by `monitor_alarms.py --dump-windows`:

    python -m venv /tmp/ev && /tmp/ev/bin/pip install evidently==0.7.23 "pandas<3"
    .venv/bin/python benchmarks/monitor_alarms.py --dump-windows /tmp/windows.jsonl \\
        --trials 50 --sizes 500,2000
    /tmp/ev/bin/python benchmarks/monitor_evidently.py /tmp/windows.jsonl [--text]

Each column gets `ValueDrift` with no method given, so Evidently picks its default for the
column's type and the reference size (540 rows here: chi-square p < 0.05 for the predicted
label, Kolmogorov-Smirnov p < 0.05 for the numeric input length and token count, and with
`--text` its text-drift default for the message). A window counts as an alert for a column
when Evidently calls it drifted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.metrics import ValueDrift

COLUMNS = ("prediction", "input_chars", "input_tokens")


def drifted(metric: dict[str, object]) -> bool:
    """Evidently's rule: a p-value method drifts below its threshold, a distance at or above."""
    config = metric["config"]
    assert isinstance(config, dict)
    value, threshold = float(metric["value"]), float(config["threshold"])  # type: ignore[arg-type]
    return value < threshold if "p_value" in str(config["method"]) else value >= threshold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("windows", type=Path)
    parser.add_argument("--text", action="store_true", help="also test the message text")
    args = parser.parse_args()
    columns = (*COLUMNS, "text") if args.text else COLUMNS
    definition = DataDefinition(
        categorical_columns=["prediction"],
        numerical_columns=["input_chars", "input_tokens"],
        text_columns=["text"] if args.text else [],
    )
    alerts: dict[tuple[str, int, str], list[bool]] = defaultdict(list)
    methods: dict[str, str] = {}
    reference = None
    started = time.perf_counter()
    with args.windows.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            frame = pd.DataFrame({c: record["columns"][c] for c in columns})
            data = Dataset.from_pandas(frame, data_definition=definition)
            if record["scenario"] == "__reference__":
                reference = data
                continue
            report = Report([ValueDrift(column=c) for c in columns])
            snapshot = report.run(data, reference)
            for column, metric in zip(columns, snapshot.dict()["metrics"], strict=True):
                methods[column] = f"{metric['config']['method']} ({metric['config']['threshold']})"
                key = (record["scenario"], record["window"], column)
                alerts[key].append(drifted(metric))
    sizes = sorted({n for _, n, _ in alerts})
    print(
        f"Evidently {__import__('evidently').__version__} default tests: "
        + "; ".join(f"{c}: {m}" for c, m in methods.items())
    )
    print()
    print("| scenario | column | " + " | ".join(f"alerts, n={n}" for n in sizes) + " |")
    print("|---|---|" + "---|" * len(sizes))
    for scenario in dict.fromkeys(s for s, _, _ in alerts):
        for column in columns:
            cells = []
            for n in sizes:
                got = alerts.get((scenario, n, column), [])
                cells.append(f"{100 * sum(got) / len(got):.1f}% of {len(got)}" if got else "n/a")
            print(f"| {scenario} | {column} | " + " | ".join(cells) + " |")
    print(f"\n({time.perf_counter() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
