"""Joint counts of per-case label codes: the sufficient statistics of every count metric.

Accuracy, per-class scores, macro-F1, McNemar and their bootstraps depend on a run only
through how many cases share each combination of (expected, predicted[, other system's
prediction]). That table has at most labels^3 rows however many cases there are, so scoring
100,000 cases needs no more memory than scoring 1,000, and a bootstrap that resamples cases
can resample the table's counts instead (see `stats`). Codes are counted a chunk of cases at
a time, so no temporary grows with the number of cases either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

CHUNK = 1 << 14  # cases encoded at once (bounds every per-chunk temporary to ~1 MiB)


def code_dtype(n_labels: int) -> type[np.unsignedinteger[Any] | np.signedinteger[Any]]:
    """The narrowest type for label codes 0..n_labels (n_labels: no valid label)."""
    return np.uint8 if n_labels < 255 else np.int16


@dataclass(frozen=True)
class Cells:
    """The distinct code combinations present (`keys`, one column per code array, sorted)
    and how many cases have each (`counts`)."""

    keys: NDArray[np.int64]  # (cells, columns)
    counts: NDArray[np.int64]  # (cells,)

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def column(self, i: int) -> NDArray[np.int64]:
        return self.keys[:, i]


def tally(columns: Sequence[NDArray[np.integer]], sizes: Sequence[int]) -> Cells:
    """Count the cases of each combination of codes; column i holds codes below sizes[i]."""
    n = len(columns[0])
    if any(len(c) != n for c in columns):
        raise ValueError("code columns of different lengths")
    flat_keys = np.zeros(0, dtype=np.int64)
    flat_counts = np.zeros(0, dtype=np.int64)
    for start in range(0, n, CHUNK):
        cell = np.zeros(min(CHUNK, n - start), dtype=np.int64)
        for column, size in zip(columns, sizes, strict=True):
            cell *= size
            cell += column[start : start + CHUNK]
        keys, counts = np.unique(cell, return_counts=True)
        if len(flat_keys):
            keys, where = np.unique(np.concatenate([flat_keys, keys]), return_inverse=True)
            merged = np.zeros(len(keys), dtype=np.int64)
            np.add.at(merged, where, np.concatenate([flat_counts, counts]))
            counts = merged
        flat_keys, flat_counts = keys, counts.astype(np.int64)
    keys_2d = np.stack(np.unravel_index(flat_keys, tuple(sizes)), axis=1).astype(np.int64)
    return Cells(keys_2d, flat_counts)


def confusion_of(cells: Cells, n_labels: int, true: int = 0, pred: int = 1) -> NDArray[np.int64]:
    """(n_labels, n_labels + 1) confusion matrix of columns `true` and `pred`; the last
    column counts invalid answers (code n_labels)."""
    out = np.zeros((n_labels, n_labels + 1), dtype=np.int64)
    np.add.at(out, (cells.column(true), cells.column(pred)), cells.counts)
    return out
