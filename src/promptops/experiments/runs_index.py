"""`promptops runs list|show`: every finished run under `reports/runs/`, read from the
summary each run wrote (grid cells included, each once: a run is one folder with one
`summary.json`). Nothing is re-scored; a summary that is not JSON is skipped with a note."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptops.errors import UserInputError
from promptops.runs.folder import SUMMARY

RUNS_DIR = Path("reports") / "runs"


@dataclass(frozen=True)
class RunEntry:
    """What one line of `runs list` shows."""

    folder: Path
    name: str  # the folder under the runs root (grid cells: grid/cell)
    run_id: str
    started_at: str
    suite: str
    prompt: str  # name@version+hash
    model: str
    evalset_sha256: str
    metric: str
    estimate: float | None
    low: float | None
    high: float | None
    cost_usd: float | None
    passed: bool | None


def entry_from(folder: Path, summary: dict[str, Any], root: Path | None = None) -> RunEntry:
    """The listed fields of any kind of run summary (classification, RAG, later kinds)."""
    volatile = summary.get("volatile") or {}
    prompt = summary.get("prompt") or {}
    model = summary.get("model") or {}
    evalset = summary.get("evalset") or {}
    metric = str(summary.get("primary_metric") or "")
    interval = (summary.get("intervals") or {}).get(metric) or {}
    estimate = interval.get("estimate")
    if estimate is None and metric:
        estimate = (summary.get("metrics") or {}).get(metric)
    usage = summary.get("usage") or {}
    return RunEntry(
        folder=folder,
        name=folder.relative_to(root).as_posix() if root else folder.name,
        run_id=str(volatile.get("run_id") or folder.name),
        started_at=str(volatile.get("started_at") or ""),
        suite=str(summary.get("suite") or ""),
        prompt=f"{prompt.get('identity', '?')}+{str(prompt.get('content_hash', ''))[:8]}",
        model=str(model.get("model") or ""),
        evalset_sha256=str(evalset.get("sha256") or "")[:12],
        metric=metric,
        estimate=None if estimate is None else float(estimate),
        low=None if interval.get("low") is None else float(interval["low"]),
        high=None if interval.get("high") is None else float(interval["high"]),
        cost_usd=None if usage.get("cost_usd") is None else float(usage["cost_usd"]),
        passed=summary.get("passed"),
    )


def list_runs(root: Path = RUNS_DIR, *, suite: str | None = None) -> list[RunEntry]:
    """Every run folder under `root`, oldest first; `suite` keeps one suite's runs."""
    entries = []
    for path in sorted(root.rglob(SUMMARY)) if root.is_dir() else []:
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(summary, dict):
            continue
        entry = entry_from(path.parent, summary, root)
        if suite is None or entry.suite == suite:
            entries.append(entry)
    return sorted(entries, key=lambda e: (e.started_at, str(e.folder)))


def find_run(ref: str, root: Path = RUNS_DIR) -> Path:
    """A run by folder path, or by run id / folder name under `root`."""
    path = Path(ref)
    if (path / SUMMARY).is_file():
        return path
    hits = [e.folder for e in list_runs(root) if ref in (e.run_id, e.name, e.folder.name)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise UserInputError(f"no finished run named {ref!r} under {root}", where="RUN")
    raise UserInputError(
        f"{len(hits)} runs are named {ref!r}: {', '.join(map(str, hits))}; give the folder",
        where="RUN",
    )


def format_entry(e: RunEntry) -> list[str]:
    """The columns of one `runs list` line."""
    figure = "n/a" if e.estimate is None else f"{e.estimate:.3f}"
    if e.low is not None and e.high is not None:
        figure += f" [{e.low:.3f}, {e.high:.3f}]"
    cost = "n/a" if e.cost_usd is None else f"${e.cost_usd:.4f}"
    return [
        e.started_at or "?",
        e.name,
        e.prompt,
        e.model,
        e.evalset_sha256,
        f"{e.metric} {figure}".strip(),
        cost,
    ]


HEADERS = ["time", "run", "prompt", "model", "evalset", "primary metric [95% CI]", "cost"]
