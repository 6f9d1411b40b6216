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


@dataclass
class _Tally:
    """What both kinds of reference count, one case or request at a time."""

    texts: Reservoir[str]
    predicted: Counter[str] = field(default_factory=Counter)
    chars: list[float] = field(default_factory=list)
    tokens: list[float] = field(default_factory=list)
    prompt_tokens: list[float] = field(default_factory=list)
    costs: list[float] = field(default_factory=list)
    pairs: list[tuple[str, str | None]] = field(default_factory=list)
    n_answers: int = 0
    n_invalid: int = 0

    def answer(self, label: str | None, invalid: bool) -> None:
        self.n_answers += 1
        if invalid:
            self.n_invalid += 1
        elif label is not None:
            self.predicted[label] += 1

    def usage(self, prompt_tokens: float | None, cost: float | None) -> None:
        if prompt_tokens is not None:
            self.prompt_tokens.append(prompt_tokens)
        if cost is not None:
            self.costs.append(cost)

    def reference(
        self, source: str, kind: str, labels: list[str], invalid_rate: float | None
    ) -> Reference:
        return Reference(
            source=source,
            kind=kind,
            labels=labels,
            shares=_shares(self.predicted),
            n_predictions=sum(self.predicted.values()),
            chars=np.asarray(self.chars),
            tokens=np.asarray(self.tokens),
            texts=self.texts.items,
            invalid_rate=invalid_rate,
            n_answers=self.n_answers,
            prompt_tokens=float(np.mean(self.prompt_tokens)) if self.prompt_tokens else None,
            cost_usd=float(np.mean(self.costs)) if self.costs else None,
        )


def _from_run(path: Path, config: MonitorConfig) -> Reference:
    summary_path = path / "summary.json"
    summary: dict[str, Any] = (
        json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else {}
    )
    tally = _Tally(Reservoir(config.reference_sample, config.seed))
    for where, r in _results(path):
        if r.get("sample", 0) not in (0, None):
            continue  # repeats: the first sample stands for the case
        text = input_text(r["input"])
        tally.chars.append(len(text))
        tally.tokens.append(count_tokens(text))
        tally.texts.add(text)
        if r.get("error"):
            continue
        predicted = r.get("predicted")
        tally.answer(predicted if isinstance(predicted, str) else None, bool(r.get("invalid")))
        if "expected" not in r:
            raise LogError("expected: missing", where=where)
        tally.pairs.append((str(r["expected"]), predicted if not r.get("invalid") else None))
        prompt_tokens, cost = r.get("prompt_tokens"), r.get("cost_usd")
        tally.usage(
            prompt_tokens if isinstance(prompt_tokens, int) else None,
            float(cost) if isinstance(cost, int | float) else None,
        )
    if not tally.chars:
        raise LogError("the eval run holds no results", where=str(path / "results.jsonl"))
    labels = list(summary.get("labels") or sorted({e for e, _ in tally.pairs}))
    n = tally.n_answers
    ref = tally.reference(str(path), "eval run", labels, tally.n_invalid / n if n else None)
    metrics = summary.get("metrics") or {}
    if isinstance(metrics.get("macro_f1"), int | float):
        ref.macro_f1 = float(metrics["macro_f1"])
    elif tally.pairs:
        ref.macro_f1 = _f1(ref, tally.pairs)
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
    tally = _Tally(Reservoir(config.reference_sample, config.seed))
    for line in read_logs([path]):
        if line.arm == "shadow":
            continue
        if line.input_chars is not None:
            tally.chars.append(line.input_chars)
        if line.input_tokens is not None:
            tally.tokens.append(line.input_tokens)
        if line.text is not None:
            tally.texts.add(line.text)
        tally.usage(line.prompt_tokens, line.cost_usd)
        if line.arm != "primary" or line.status != 200 or line.fallback:
            continue
        tally.answer(line.label, line.label is None)
        if line.request_id is not None and line.request_id in feedback:
            tally.pairs.append((feedback[line.request_id], line.label))
    if tally.n_answers == 0:
        raise LogError("the reference log holds no answered primary requests", where=str(path))
    # no labels at all: not a classifier, so no invalid-output rate
    invalid_rate = tally.n_invalid / tally.n_answers if tally.predicted else None
    ref = tally.reference(str(path), "log", sorted(tally.predicted), invalid_rate)
    if tally.pairs:
        ref.labels = sorted(set(ref.labels) | {t for t, _ in tally.pairs})
        ref.macro_f1 = _f1(ref, tally.pairs)
    return ref
