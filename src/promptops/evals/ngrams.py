"""Character n-gram TF-IDF and sparse cosine similarity, in numpy alone.

The leakage check runs before every eval; importing scikit-learn (and the scipy it pulls
in) for one vectoriser costs about a second per run, more than the check itself. These
are the same definitions as scikit-learn's `TfidfVectorizer(analyzer="char_wb",
ngram_range=(3, 5), sublinear_tf=True)`, so a score here equals the score there:

- n-grams of each whitespace-separated word padded with one space on each side; a padded
  word no longer than n gives itself once and no longer n-grams;
- term weight (1 + ln tf) * idf with the smoothed idf ln((1 + n_docs) / (1 + df)) + 1;
- every row scaled to unit L2 norm, so the cosine of two rows is their dot product.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

_PRODUCTS_PER_BLOCK = 1 << 22  # partial products materialised at once (~130 MiB)
_CELLS_PER_BLOCK = 1 << 22  # cosines returned at once (32 MiB)


@dataclass(frozen=True)
class SparseRows:
    """A CSR matrix: row i holds `data[indptr[i]:indptr[i+1]]` in columns `indices[...]`."""

    indptr: NDArray[np.int64]
    indices: NDArray[np.int32]
    data: NDArray[np.float64]
    n_columns: int

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    def rows(self, start: int, stop: int) -> SparseRows:
        """Rows `start:stop` as their own matrix (views, no copy of the entries)."""
        lo, hi = int(self.indptr[start]), int(self.indptr[stop])
        return SparseRows(
            self.indptr[start : stop + 1] - lo,
            self.indices[lo:hi],
            self.data[lo:hi],
            self.n_columns,
        )

    def row_ids(self) -> NDArray[np.int64]:
        """The row of each entry."""
        return np.repeat(np.arange(self.n_rows, dtype=np.int64), np.diff(self.indptr))

    def transposed(self) -> SparseRows:
        """The same matrix stored by column (CSC), i.e. the CSR of the transpose."""
        order = np.argsort(self.indices, kind="stable")
        indptr = np.zeros(self.n_columns + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.indices, minlength=self.n_columns), out=indptr[1:])
        rows = self.row_ids()[order].astype(np.int32)
        return SparseRows(indptr, rows, self.data[order], self.n_rows)


def char_wb_ngrams(text: str, low: int = 3, high: int = 5) -> list[str]:
    """The character n-grams, low <= n <= high, of each space-padded word of `text`."""
    grams: list[str] = []
    for word in text.split():
        padded = f" {word} "
        size = len(padded)
        for n in range(low, high + 1):
            if size <= n:
                grams.append(padded)
                break
            grams.extend([padded[i : i + n] for i in range(size - n + 1)])
    return grams


def tfidf_char_wb(texts: Sequence[str], low: int = 3, high: int = 5) -> SparseRows:
    """Fit the vocabulary and idf on `texts` and return their unit-norm TF-IDF rows.

    Texts are lowercased first, as the scikit-learn vectoriser does by default. A text
    with no n-gram (empty) gives an all-zero row.
    """
    vocabulary: dict[str, int] = {}
    indptr = np.zeros(len(texts) + 1, dtype=np.int64)
    columns = array("i")  # 4 bytes an entry: 100k texts make ~15M entries
    counts = array("i")
    for i, text in enumerate(texts):
        tf = Counter(char_wb_ngrams(text.lower(), low, high))
        columns.extend([vocabulary.setdefault(g, len(vocabulary)) for g in tf])
        counts.extend(tf.values())
        indptr[i + 1] = len(columns)
    indices = np.frombuffer(columns, dtype=np.int32)
    df = np.bincount(indices, minlength=len(vocabulary))
    idf = np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0
    data = np.log(np.frombuffer(counts, dtype=np.int32), dtype=np.float64)
    del counts
    data += 1.0
    data *= idf[indices]
    lengths = np.diff(indptr)
    squares = np.zeros(len(texts))
    filled = lengths > 0  # reduceat needs the start of every summed row to differ
    squares[filled] = np.add.reduceat(data * data, indptr[:-1][filled])
    data /= np.repeat(np.sqrt(squares), lengths)
    return SparseRows(indptr, indices, data, len(vocabulary))


def _products(left: SparseRows, right_by_column: SparseRows) -> NDArray[np.float64]:
    """Dense `left @ right.T` from the partial products of shared columns, summed by cell."""
    n_right = right_by_column.n_columns
    starts = right_by_column.indptr[left.indices]
    lengths = right_by_column.indptr[left.indices + 1] - starts
    total = int(lengths.sum())
    # position k of the expansion reads entry starts[e] + (k - first k of entry e)
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    at = offsets + np.arange(total, dtype=np.int64)
    cells = np.repeat(left.row_ids() * n_right, lengths) + right_by_column.indices[at]
    weights = np.repeat(left.data, lengths) * right_by_column.data[at]
    sums = np.bincount(cells, weights=weights, minlength=left.n_rows * n_right)
    # bincount answers integers when nothing is shared at all
    return sums.astype(np.float64, copy=False).reshape(left.n_rows, n_right)


def cosine_blocks(
    left: SparseRows, right: SparseRows, max_rows: int = 512
) -> Iterator[tuple[int, NDArray[np.float64]]]:
    """(first row, dense cosines of those left rows against every right row), by blocks.

    A block has at most `max_rows` rows, about 4M cells and, unless one row alone makes
    more, about 4M partial products, so memory stays bounded however many texts there
    are. Each cell is summed in the order of its left row's entries, so a row's values do
    not depend on how rows are blocked. Rows must have unit norm for the products to be
    cosines.
    """
    by_column = right.transposed()
    per_column = np.diff(by_column.indptr)  # partial products per left entry in a column
    rows = max(1, min(max_rows, _CELLS_PER_BLOCK // max(1, right.n_rows)))
    start = 0
    while start < left.n_rows:
        block = left.rows(start, min(left.n_rows, start + rows))
        done = np.zeros(len(block.indices) + 1, dtype=np.int64)
        np.cumsum(per_column[block.indices], out=done[1:])
        fits = int(np.searchsorted(done[block.indptr], _PRODUCTS_PER_BLOCK, "right")) - 1
        block = block.rows(0, max(1, min(block.n_rows, fits)))
        yield start, _products(block, by_column)
        start += block.n_rows
