"""One pass over a run's `results.jsonl` into what the summary needs, and no more.

Scoring 100,000 cases must not hold 100,000 record dicts nor 100,000 cases. Each result line
carries its case's position in the test split (`index`). Per test case the summary keeps about five
bytes: the answer's label code, the uncalibrated one, and answered/error/invalid flags (plus
the label probabilities when the endpoint gives them: PR-AUC ranks every case, so those grow
with the run). The cases a report shows in full (the most confident wrong answers, the
first wrong answers of each class, the first errors) are chosen while reading, and only
their lines are read back from disk, so memory stays flat however many cases a run has.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import ValidationError

from promptops.errors import UserInputError
from promptops.evals.cells import code_dtype
from promptops.evals.columns import TestColumns, id_digest
from promptops.runs.rows import ClassificationRow, Tally

MISSING = -2  # a repeat sample with no result line (in the samples array)


@dataclass
class Picks:
    """The cases a report shows in full, as (position in the test split, byte offset of the
    line), chosen among headline answers while the results are read: the `k` wrong answers
    with the highest confidence (ties: evalset order), the first `per_class` wrong answers
    of each expected class, and the first `k` errors. Errors are not wrong answers here."""

    k: int
    per_class: int
    _confident: list[tuple[float, int, int]] = field(default_factory=list)
    _wrong: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    _errors: list[tuple[int, int]] = field(default_factory=list)

    def add(self, position: int, offset: int, true: int, pred: int, confidence: float) -> None:
        if pred == true:
            return
        # min-heaps: the weakest kept entry is popped first (lower confidence, later case)
        _keep(self._confident, (confidence, -position, offset), self.k)
        _keep(self._wrong.setdefault(true, []), (-position, offset), self.per_class)

    def add_error(self, position: int, offset: int) -> None:
        _keep(self._errors, (-position, offset), self.k)

    def confident_wrong(self) -> list[tuple[int, int]]:
        ranked = sorted(self._confident, reverse=True)
        return [(-minus, offset) for _, minus, offset in ranked]

    def first_wrong(self, code: int) -> list[tuple[int, int]]:
        return _in_order(self._wrong.get(code, []))

    def first_errors(self) -> list[tuple[int, int]]:
        return _in_order(self._errors)


def _keep(heap: list[Any], item: Any, size: int) -> None:
    if size <= 0:
        return
    if len(heap) < size:
        heapq.heappush(heap, item)
    elif item > heap[0]:
        heapq.heapreplace(heap, item)


def _in_order(heap: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return sorted((-minus, offset) for minus, offset in heap)


@dataclass
class Outcomes:
    """The headline sample (sample 0) of every evaluated case, in evalset order. Label codes
    index `labels`; `len(labels)` means no valid label."""

    labels: list[str]
    positions: NDArray[np.int64] | None  # the evaluated cases' positions; None: all, in order
    true: NDArray[Any]
    pred: NDArray[Any]
    raw_pred: NDArray[Any]  # the uncalibrated answer (= pred without calibration)
    errors: NDArray[np.bool_]
    invalid: NDArray[np.bool_]
    prob_rows: NDArray[np.float64] | None  # (cases, labels) when every case has probabilities
    picks: Picks
    path: Path

    def __len__(self) -> int:
        return len(self.true)

    def probs(self) -> NDArray[np.float64] | None:
        """(n, labels) probabilities when every case has them, else None."""
        return self.prob_rows if len(self) else None

    def at(self, positions: NDArray[Any]) -> NDArray[Any]:
        """Indices into these columns of the evaluated cases among test `positions`."""
        if self.positions is None:
            return positions
        if not len(self.positions):
            return np.zeros(0, dtype=np.int64)
        found: NDArray[np.int64] = np.searchsorted(self.positions, positions)
        found = np.minimum(found, len(self.positions) - 1)
        kept: NDArray[np.int64] = found[self.positions[found] == positions]
        return kept

    def rows(self, picked: list[tuple[int, int]]) -> list[ClassificationRow]:
        """The full rows of picked (position, offset) cases, read back from disk."""
        out = []
        with self.path.open("rb") as handle:
            for _, offset in picked:
                handle.seek(offset)
                out.append(ClassificationRow.model_validate_json(handle.readline()))
        return out


def _rows(path: Path) -> Iterator[tuple[int, ClassificationRow]]:
    """(byte offset, row) for every non-blank line; a line that is no classification row
    means the folder holds something else: that is an error."""
    if not path.exists():
        return
    offset = 0
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                try:
                    yield offset, ClassificationRow.model_validate_json(line)
                except ValidationError as exc:
                    raise UserInputError(
                        f"result line at byte {offset} is not a classification result "
                        f"({exc.error_count()} problem(s)); use another --out",
                        where=str(path),
                    ) from exc
            offset += len(line)


def read_results(
    path: Path, columns: TestColumns, *, repeat: int = 1, worst: int = 10, per_class: int = 3
) -> tuple[Outcomes, Tally, NDArray[np.int16] | None]:
    """Outcomes of the test cases in `columns`, the totals and, with `repeat` >= 2, every
    sample's label code per case (test cases x repeats, MISSING where a sample has no
    line); `worst` and `per_class` size the `Picks`. A line
    whose index or id does not match the evalset means the folder holds another evalset's
    results: that is an error."""
    labels = list(columns.labels)
    code = {label: i for i, label in enumerate(labels)}
    none = len(labels)
    n = len(columns)
    codes = code_dtype(none)
    pred = np.full(n, none, dtype=codes)
    raw_pred = np.full(n, none, dtype=codes)
    errors, invalid, present = (np.zeros(n, dtype=bool) for _ in range(3))
    true = columns.expected_codes()
    picks = Picks(worst, per_class)
    probs: NDArray[np.float64] | None = None
    all_probs = True
    tally = Tally()
    samples = np.full((n, repeat), MISSING, dtype=np.int16) if repeat >= 2 else None
    for offset, row in _rows(path):
        index = row.index
        if not 0 <= index < n or id_digest(row.id) != columns.digests[index]:
            raise UserInputError(
                f"result line at byte {offset} (id {row.id!r}) is not a case of "
                "this evalset; use another --out",
                where=str(path),
            )
        tally.add_call(row)
        predicted = row.predicted
        label = code.get(predicted, none) if predicted is not None else none
        if samples is not None and 0 <= row.sample < repeat:
            samples[index, row.sample] = label
        if row.sample != 0:
            continue
        present[index] = True
        pred[index] = label
        raw = row.raw_label_probs
        raw_pred[index] = code.get(max(raw, key=raw.__getitem__), none) if raw else label
        label_probs = row.label_probs
        if row.error:
            errors[index] = True
            picks.add_error(index, offset)
        else:
            confidence = float((label_probs or {}).get(predicted, 0.0)) if predicted else 0.0
            picks.add(index, offset, int(true[index]), label, confidence)
        invalid[index] = row.invalid
        if not label_probs:
            all_probs, probs = False, None
        elif all_probs:
            if probs is None:
                probs = np.zeros((n, len(labels)), dtype=np.float64)
            probs[index] = [float(label_probs.get(name, 0.0)) for name in labels]
    every = bool(present.all())  # the usual case: no index array, no copies
    kept = None if every else np.flatnonzero(present)

    def evaluated(column: NDArray[Any]) -> NDArray[Any]:
        return column if kept is None else column[kept]

    outcomes = Outcomes(
        labels=labels,
        positions=kept,
        true=evaluated(true),
        pred=evaluated(pred),
        raw_pred=evaluated(raw_pred),
        errors=evaluated(errors),
        invalid=evaluated(invalid),
        prob_rows=evaluated(probs) if probs is not None and all_probs and present.any() else None,
        picks=picks,
        path=path,
    )
    tally.n_cases = len(outcomes)
    tally.n_errors = int(outcomes.errors.sum())
    tally.n_invalid = int((outcomes.invalid & ~outcomes.errors).sum())
    return outcomes, tally, samples
