"""`promptops monitor`: stream the logs window by window, compute every signal, collect alerts.

One pass over the logs; each window's signals are computed when it closes and only the
window's small result is kept. Embeddings are computed only for windows with logged inputs
(the reference's once, on first need).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from promptops.monitor.candidates import candidate_signals
from promptops.monitor.feedback import read_feedback
from promptops.monitor.logread import read_logs
from promptops.monitor.mmd import Embedder
from promptops.monitor.reference import Reference, load_reference
from promptops.monitor.signals import (
    embeddings,
    errors,
    feedback_f1,
    input_psi,
    invalid,
    latency,
    predictions,
    rag,
    usage,
)
from promptops.monitor.stats import window_needed
from promptops.monitor.window import Window, WindowFactory, WindowSpec, windows
from promptops.runs.folder import write_atomic, write_json
from promptops.runs.monitor_config import MonitorConfig
from promptops.runs.monitor_summary import Alert, MonitorSummary, Signal, WindowResult, iso

Embed = Callable[[list[str]], NDArray[np.float64]]


class ReferenceVectors:
    """The reference's embeddings, computed once, on the first window that needs them."""

    def __init__(self, ref: Reference, embed: Embed) -> None:
        self.ref = ref
        self.embed = embed
        self._vectors: NDArray[np.float64] | None = None

    def __call__(self) -> NDArray[np.float64]:
        if self._vectors is None:
            self._vectors = self.embed(self.ref.texts)
        return self._vectors


def window_signals(
    w: Window,
    ref: Reference,
    c: MonitorConfig,
    embed: Embed,
    ref_vectors: Callable[[], NDArray[np.float64]],
    *,
    has_feedback: bool,
) -> list[Signal]:
    return [
        predictions(w, ref, c),
        input_psi("psi:input_chars", w.chars, w.n_chars, ref.chars, ref.chars_edges, c),
        input_psi("psi:input_tokens", w.tokens, w.n_tokens, ref.tokens, ref.tokens_edges, c),
        embeddings(w, ref, c, embed, ref_vectors),
        latency(w, c),
        *errors(w, c),
        invalid(w, ref, c),
        usage(w, ref),
        feedback_f1(w, ref, c, has_feedback=has_feedback),
        *rag(w),
        *candidate_signals(w, ref, c),
    ]


def run_monitor(
    logs: Sequence[Path],
    reference: Path,
    spec: WindowSpec,
    config: MonitorConfig,
    *,
    feedback_path: Path | None = None,
    embed: Embed | None = None,
) -> MonitorSummary:
    feedback = read_feedback(feedback_path) if feedback_path is not None else {}
    ref = load_reference(reference, config, feedback)
    embed = embed or Embedder()
    ref_vectors = ReferenceVectors(ref, embed)
    summary = MonitorSummary(
        logs=[str(p) for p in logs],
        reference=_reference_info(ref),
        window=str(spec),
        config=config.model_dump(mode="json"),
    )
    make = WindowFactory(
        [float(x) for x in ref.chars_edges],
        [float(x) for x in ref.tokens_edges],
        config.embedding_sample,
        config.seed,
    )
    for w in windows(read_logs(logs), spec, make, feedback):
        signals = window_signals(w, ref, config, embed, ref_vectors, has_feedback=bool(feedback))
        end = w.start + spec.seconds if spec.seconds is not None else w.end
        result = WindowResult(
            w.index, w.start, end, w.n_lines, w.n_served, w.n_answers, w.n_late, tuple(signals)
        )
        summary.windows.append(result)
        summary.n_lines += w.n_lines
        summary.alerts.extend(_alerts(result))
    summary.notes = _notes(summary, config)
    return summary


def _alerts(w: WindowResult) -> list[Alert]:
    out = []
    for s in w.signals:
        if s.status != "alert":
            continue
        side = ">" if s.direction == "above" else "<"
        value = f"{s.value:.4g}" if s.value is not None else "n/a"
        bar = f"{s.threshold:.4g}" if s.threshold is not None else "n/a"
        out.append(
            Alert(
                w.index,
                iso(w.start),
                iso(w.end),
                s.name,
                s.value,
                s.threshold,
                f"{s.name} {value} {side} {bar}: {s.detail}",
            )
        )
    return out


def _reference_info(ref: Reference) -> dict[str, object]:
    return {
        "source": ref.source,
        "kind": ref.kind,
        "labels": ref.labels,
        "shares": ref.shares,
        "n_predictions": ref.n_predictions,
        "n_inputs": int(ref.chars.size),
        "n_texts": len(ref.texts),
        "invalid_rate": ref.invalid_rate,
        "macro_f1": ref.macro_f1,
        "prompt_tokens": ref.prompt_tokens,
        "cost_usd": ref.cost_usd,
    }


def _notes(s: MonitorSummary, c: MonitorConfig) -> list[str]:
    notes = []
    if not s.windows:
        return ["the log holds no requests"]
    sizes = [w.n_served for w in s.windows]
    needed = window_needed(c.error_rate, 2 * c.error_rate, c.alpha)
    notes.append(
        f"error rates: flagging a true rate of {2 * c.error_rate:.2%} (twice the "
        f"{c.error_rate:.2%} bar) with 80% power needs windows of at least {needed:,} "
        f"requests; these windows hold a median of {statistics.median(sizes):,.0f}"
    )
    statuses = {sig.status for w in s.windows for sig in w.signals if sig.name == "embeddings"}
    if statuses <= {"unavailable"}:
        notes.append("embedding drift: unavailable (inputs are not logged; serve --log-inputs)")
    late = sum(w.n_late for w in s.windows)
    if late:
        notes.append(f"{late:,} lines were older than their window's start (counted in it)")
    return notes


def write_outputs(summary: MonitorSummary, out_dir: Path) -> list[Path]:
    """monitor.json, alerts.json, report.md and report.html in `out_dir`."""
    from promptops.reports.registry import write_all

    write_json(out_dir / "monitor.json", summary.to_json())
    alerts = [asdict(a) for a in summary.alerts]
    write_atomic(out_dir / "alerts.json", json.dumps(alerts, indent=2, ensure_ascii=False) + "\n")
    return [out_dir / "monitor.json", out_dir / "alerts.json", *write_all(summary, out_dir)]
