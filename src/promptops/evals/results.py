"""One pass over a run's `results.jsonl` into compact columns for the summary.

Scoring 100,000 cases must not hold 100,000 record dicts (inputs, raw outputs, probabilities
of every sample) nor 100,000 cases. Each result line carries its case's position in the test
split (`index`); per evaluated case the summary keeps label codes, flags, the confidence, the
label probabilities and where the line starts in the file. The few records a report shows
in full are read back from disk by that offset, so memory stays flat however many cases a
run has.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from promptops.errors import UserInputError
from promptops.evals.columns import TestColumns, id_digest

MISSING = -2  # a repeat sample with no result line (in `Totals.samples`)


@dataclass
class Outcomes:
    """The headline sample (sample 0) of every evaluated case, in evalset order. Label codes
    index `labels`; `len(labels)` means no valid label."""

    labels: list[str]
    positions: NDArray[np.intp]  # the evaluated cases' positions in the test split
    true: NDArray[np.intp]
    pred: NDArray[np.intp]
    raw_pred: NDArray[np.intp]  # the uncalibrated answer (= pred without calibration)
    errors: NDArray[np.bool_]
    invalid: NDArray[np.bool_]
    confidence: NDArray[np.float64]  # probability of the predicted label, 0 without one
    prob_rows: NDArray[np.float64] | None  # (cases, labels) when every case has probabilities
    path: Path
    offsets: NDArray[np.int64]  # where each case's record starts in `path`

    def __len__(self) -> int:
        return len(self.positions)

    def probs(self) -> NDArray[np.float64] | None:
        """(n, labels) probabilities when every case has them, else None."""
        return self.prob_rows if len(self) else None

    def correct(self) -> NDArray[np.bool_]:
        return np.asarray(self.pred == self.true)

    def records(self, indices: Iterable[int]) -> list[dict[str, Any]]:
        """The full records of the cases at `indices`, read back from disk."""
        out = []
        with self.path.open("rb") as handle:
            for i in indices:
                handle.seek(int(self.offsets[i]))
                out.append(json.loads(handle.readline()))
        return out


@dataclass
class Totals:
    """Sums over every sample of every evaluated case (repeats included)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latencies: array[float] = field(default_factory=lambda: array("d"))  # calls, not cache hits
    samples: NDArray[np.int16] | None = None  # (test cases, repeats) label codes, or MISSING


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


def read_results(path: Path, columns: TestColumns, *, repeat: int = 1) -> tuple[Outcomes, Totals]:
    """Outcomes of the test cases in `columns` and the totals; with `repeat` >= 2, every
    sample's prediction per case as well. A line whose index or id does not match the
    evalset means the folder holds another evalset's results: that is an error."""
    labels = list(columns.labels)
    code = {label: i for i, label in enumerate(labels)}
    none = len(labels)
    n = len(columns)
    pred = np.full(n, none, dtype=np.intp)
    raw_pred = np.full(n, none, dtype=np.intp)
    errors, invalid, present = (np.zeros(n, dtype=bool) for _ in range(3))
    confidence = np.zeros(n)
    offsets = np.zeros(n, dtype=np.int64)
    probs: NDArray[np.float64] | None = None
    all_probs = True
    totals = Totals()
    if repeat >= 2:
        totals.samples = np.full((n, repeat), MISSING, dtype=np.int16)
    for offset, record in _lines(path):
        index = record.get("index")
        if (
            not isinstance(index, int)
            or not 0 <= index < n
            or (id_digest(str(record["id"])) != columns.digests[index])
        ):
            raise UserInputError(
                f"result line at byte {offset} (id {record.get('id')!r}) is not a case of "
                "this evalset; use another --out",
                where=str(path),
            )
        totals.prompt_tokens += int(record["prompt_tokens"])
        totals.completion_tokens += int(record["completion_tokens"])
        totals.cost_usd += float(record["cost_usd"])
        if not record.get("cached"):
            totals.latencies.append(float(record["latency_s"]))
        predicted = record["predicted"]
        label = code.get(predicted, none) if predicted is not None else none
        sample = int(record["sample"])
        if totals.samples is not None and 0 <= sample < repeat:
            totals.samples[index, sample] = label
        if sample != 0:
            continue
        present[index] = True
        pred[index] = label
        raw = record.get("raw_label_probs")
        raw_pred[index] = code.get(max(raw, key=raw.__getitem__), none) if raw else label
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
            probs[index] = [float(label_probs.get(name, 0.0)) for name in labels]
    kept = np.flatnonzero(present)
    every = len(kept) == n  # the usual case: no copies

    def evaluated(column: NDArray[Any]) -> NDArray[Any]:
        return column if every else column[kept]

    outcomes = Outcomes(
        labels=labels,
        positions=kept,
        true=evaluated(columns.expected_codes()),
        pred=evaluated(pred),
        raw_pred=evaluated(raw_pred),
        errors=evaluated(errors),
        invalid=evaluated(invalid),
        confidence=evaluated(confidence),
        prob_rows=evaluated(probs) if probs is not None and all_probs and len(kept) else None,
        path=path,
        offsets=evaluated(offsets),
    )
    return outcomes, totals
