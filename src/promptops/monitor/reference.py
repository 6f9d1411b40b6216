"""The reference a window is compared with: an eval run folder or a reference period of logs.

From an eval run (`results.jsonl`, `summary.json`): the predicted-label shares, input lengths
and token counts measured from each case's `input` exactly as serve measures a request (the
variables joined by newlines, tokens with `tokens.count_tokens`), the invalid-output rate,
macro-F1, tokens and cost per case, and a sample of input texts for the embedding test.
From a log: the same, measured on its primary answers, with macro-F1 when feedback labels
cover it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from promptops.monitor.logread import LogError, input_text, read_logs
from promptops.monitor.sample import Reservoir
from promptops.monitor.stats import macro_f1, quantile_edges, supported
from promptops.runs.monitor_config import MonitorConfig
from promptops.tokens import count_tokens


@dataclass
class Reference:
    source: str
    kind: str  # "eval run" or "log"
    labels: list[str]
    shares: dict[str, float]
    n_predictions: int
    chars: NDArray[np.float64]
    tokens: NDArray[np.float64]
    texts: list[str]
    invalid_rate: float | None
    n_answers: int
    macro_f1: float | None = None
    prompt_tokens: float | None = None  # mean per request
    cost_usd: float | None = None  # mean per request
    chars_edges: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    tokens_edges: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))

    def fit_bins(self, bins: int) -> None:
        self.chars_edges = quantile_edges(self.chars, bins)
        self.tokens_edges = quantile_edges(self.tokens, bins)

    def code_of(self, label: str | None) -> int:
        """A label's index; anything outside the label set is the invalid code."""
        try:
            return self.labels.index(label) if label is not None else len(self.labels)
        except ValueError:
            return len(self.labels)


def load_reference(
    path: Path, config: MonitorConfig, feedback: dict[str, str] | None = None
) -> Reference:
    """An eval run folder (holding results.jsonl) or a log file as the reference."""
    if path.is_dir():
        ref = _from_run(path, config)
    elif path.is_file():
        ref = _from_log(path, config, feedback or {})
    else:
        raise LogError("no such eval run folder or log file", where=str(path))
    ref.fit_bins(config.psi_bins)
    return ref


def _results(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    results = path / "results.jsonl"
    if not results.is_file():
        raise LogError("not an eval run folder (no results.jsonl)", where=str(path))
    with results.open(encoding="utf-8") as handle:
        for lineno, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"{results}:{lineno}"
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise LogError(f"invalid JSON: {exc.msg}", where=where) from exc
            if not isinstance(record, dict) or not isinstance(record.get("input"), dict):
                raise LogError("input: expected an object of variables", where=where)
            yield where, record


def _from_run(path: Path, config: MonitorConfig) -> Reference:
    summary_path = path / "summary.json"
    summary: dict[str, Any] = (
        json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else {}
    )
    predicted: Counter[str] = Counter()
    chars: list[float] = []
    tokens: list[float] = []
    texts: Reservoir[str] = Reservoir(config.reference_sample, config.seed)
    pairs: list[tuple[str, str | None]] = []
    n_answers = n_invalid = 0
    prompt_tokens: list[float] = []
    costs: list[float] = []
    for where, r in _results(path):
        if r.get("sample", 0) not in (0, None):
            continue  # repeats: the first sample stands for the case
        text = input_text(r["input"])
        chars.append(len(text))
        tokens.append(count_tokens(text))
        texts.add(text)
        if r.get("error"):
            continue
        n_answers += 1
        if r.get("invalid"):
            n_invalid += 1
        elif isinstance(r.get("predicted"), str):
            predicted[r["predicted"]] += 1
        if "expected" not in r:
            raise LogError("expected: missing", where=where)
        pairs.append((str(r["expected"]), r.get("predicted") if not r.get("invalid") else None))
        if isinstance(r.get("prompt_tokens"), int):
            prompt_tokens.append(r["prompt_tokens"])
        if isinstance(r.get("cost_usd"), int | float):
            costs.append(float(r["cost_usd"]))
    if not chars:
        raise LogError("the eval run holds no results", where=str(path / "results.jsonl"))
    labels = list(summary.get("labels") or sorted({e for e, _ in pairs}))
    ref = Reference(
        source=str(path),
        kind="eval run",
        labels=labels,
        shares=_shares(predicted),
        n_predictions=sum(predicted.values()),
        chars=np.asarray(chars),
        tokens=np.asarray(tokens),
        texts=texts.items,
        invalid_rate=n_invalid / n_answers if n_answers else None,
        n_answers=n_answers,
        prompt_tokens=float(np.mean(prompt_tokens)) if prompt_tokens else None,
        cost_usd=float(np.mean(costs)) if costs else None,
    )
    metrics = summary.get("metrics") or {}
    if isinstance(metrics.get("macro_f1"), int | float):
        ref.macro_f1 = float(metrics["macro_f1"])
    elif pairs:
        ref.macro_f1 = _f1(ref, pairs)
    return ref


def _shares(counts: Counter[str]) -> dict[str, float]:
    total = sum(counts.values())
    return {label: n / total for label, n in sorted(counts.items())} if total else {}


def _f1(ref: Reference, pairs: list[tuple[str, str | None]]) -> float:
    true = np.asarray([ref.code_of(t) for t, _ in pairs], dtype=np.int64)
    pred = np.asarray([ref.code_of(p) for _, p in pairs], dtype=np.int64)
    keep = true < len(ref.labels)
    return macro_f1(true[keep], pred[keep], len(ref.labels), supported(true[keep], len(ref.labels)))


def _from_log(path: Path, config: MonitorConfig, feedback: dict[str, str]) -> Reference:
    predicted: Counter[str] = Counter()
    chars: list[float] = []
    tokens: list[float] = []
    texts: Reservoir[str] = Reservoir(config.reference_sample, config.seed)
    pairs: list[tuple[str, str | None]] = []
    n_answers = n_invalid = 0
    prompt_tokens: list[float] = []
    costs: list[float] = []
    for line in read_logs([path]):
        if line.arm == "shadow":
            continue
        if line.input_chars is not None:
            chars.append(line.input_chars)
        if line.input_tokens is not None:
            tokens.append(line.input_tokens)
        if line.text is not None:
            texts.add(line.text)
        if line.prompt_tokens is not None:
            prompt_tokens.append(line.prompt_tokens)
        if line.cost_usd is not None:
            costs.append(line.cost_usd)
        if line.arm != "primary" or line.status != 200 or line.fallback:
            continue
        n_answers += 1
        if line.label is None:
            n_invalid += 1
        else:
            predicted[line.label] += 1
        if line.request_id is not None and line.request_id in feedback:
            pairs.append((feedback[line.request_id], line.label))
    if n_answers == 0:
        raise LogError("the reference log holds no answered primary requests", where=str(path))
    ref = Reference(
        source=str(path),
        kind="log",
        labels=sorted(predicted),
        shares=_shares(predicted),
        n_predictions=sum(predicted.values()),
        chars=np.asarray(chars),
        tokens=np.asarray(tokens),
        texts=texts.items,
        invalid_rate=n_invalid / n_answers if predicted else None,  # no labels: not a classifier
        n_answers=n_answers,
        prompt_tokens=float(np.mean(prompt_tokens)) if prompt_tokens else None,
        cost_usd=float(np.mean(costs)) if costs else None,
    )
    if pairs:
        ref.labels = sorted(set(ref.labels) | {t for t, _ in pairs})
        ref.macro_f1 = _f1(ref, pairs)
    return ref
