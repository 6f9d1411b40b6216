"""One pass over a run's `results.jsonl` into compact columns for the summary.

Scoring 100,000 cases must not hold 100,000 record dicts (inputs, raw outputs, probabilities
of every sample). Per evaluated case the summary needs only the predicted label, the error and
invalid flags and the label probabilities; the case itself (id, expected label, tags, input)
is already in memory. The few records a report shows in full are read back from disk by
their byte offset, so memory stays flat however many cases a run has.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from promptops.evals.evalset import Case


@dataclass
class Outcomes:
    """The headline sample (sample 0) of every evaluated case, in case order."""

    labels: list[str]
    cases: list[Case]
    y_pred: list[str | None]
    raw_pred: list[str | None]  # the uncalibrated answer (= y_pred without calibration)
    errors: list[bool]
    invalid: list[bool]
    confidence: list[float]  # probability of the predicted label, 0 without one
    prob_rows: NDArray[np.float64] | None  # (cases, labels) when every case has probabilities
    path: Path
    offsets: list[int]  # where each case's record starts in `path`

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.cases]

    @property
    def y_true(self) -> list[str]:
        return [str(c.expected) for c in self.cases]

    def probs(self) -> NDArray[np.float64] | None:
        """(n, labels) probabilities when every case has them, else None."""
        return self.prob_rows if self.cases else None

    def correct(self) -> list[bool]:
        return [p == c.expected for p, c in zip(self.y_pred, self.cases, strict=True)]

    def records(self, indices: Iterable[int]) -> list[dict[str, Any]]:
        """The full records of the cases at `indices`, read back from disk."""
        out = []
        with self.path.open("rb") as handle:
            for i in indices:
                handle.seek(self.offsets[i])
                out.append(json.loads(handle.readline()))
        return out


@dataclass
class Totals:
    """Sums over every sample of every evaluated case (repeats included)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latencies: list[float] = field(default_factory=list)  # calls made, not cache hits
    samples: dict[str, list[tuple[int, str | None]]] = field(default_factory=dict)


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(byte offset, record) for every non-blank line."""
    if not path.exists():
        return
    offset = 0
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield offset, json.loads(line)
            offset += len(line)


def read_results(
    path: Path, cases: Sequence[Case], labels: Sequence[str], *, keep_samples: bool = False
) -> tuple[Outcomes, Totals]:
    """Outcomes of `cases` (records of other ids are skipped) and the totals; with
    `keep_samples`, every sample's prediction per case id, in sample order."""
    labels = list(labels)
    canonical = {label: label for label in labels}  # one string per label, not one per record
    order = {c.id: i for i, c in enumerate(cases)}
    n = len(cases)
    y_pred: list[str | None] = [None] * n
    raw_pred: list[str | None] = [None] * n
    errors, invalid, present = [False] * n, [False] * n, [False] * n
    confidence, offsets = [0.0] * n, [0] * n
    probs: NDArray[np.float64] | None = None
    all_probs = True
    totals = Totals()
    for offset, record in _lines(path):
        index = order.get(record["id"])
        if index is None:
            continue
        totals.prompt_tokens += int(record["prompt_tokens"])
        totals.completion_tokens += int(record["completion_tokens"])
        totals.cost_usd += float(record["cost_usd"])
        if not record.get("cached"):
            totals.latencies.append(float(record["latency_s"]))
        predicted = record["predicted"]
        predicted = canonical.get(predicted, predicted) if predicted is not None else None
        if keep_samples:
            totals.samples.setdefault(cases[index].id, []).append(
                (int(record["sample"]), predicted)
            )
        if record["sample"] != 0:
            continue
        present[index] = True
        y_pred[index] = predicted
        raw = record.get("raw_label_probs")
        raw_pred[index] = canonical.get(max(raw, key=raw.__getitem__)) if raw else predicted
        errors[index] = bool(record.get("error"))
        invalid[index] = bool(record.get("invalid"))
        offsets[index] = offset
        label_probs = record.get("label_probs")
        confidence[index] = float((label_probs or {}).get(predicted, 0.0)) if predicted else 0.0
        if not label_probs:
            all_probs, probs = False, None
        elif all_probs:
            if probs is None:
                probs = np.zeros((n, len(labels)), dtype=np.float64)
            probs[index] = [float(label_probs.get(label, 0.0)) for label in labels]
    for predictions in totals.samples.values():
        predictions.sort(key=lambda pair: pair[0])
    kept = [i for i in range(n) if present[i]]
    outcomes = Outcomes(
        labels=labels,
        cases=[cases[i] for i in kept],
        y_pred=[y_pred[i] for i in kept],
        raw_pred=[raw_pred[i] for i in kept],
        errors=[errors[i] for i in kept],
        invalid=[invalid[i] for i in kept],
        confidence=[confidence[i] for i in kept],
        prob_rows=probs[kept] if probs is not None and all_probs and kept else None,
        path=path,
        offsets=[offsets[i] for i in kept],
    )
    return outcomes, totals
