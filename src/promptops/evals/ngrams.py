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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

_PRODUCTS_PER_BLOCK = 1 << 18  # partial products materialised at once (~10 MiB)
_CELLS_PER_BLOCK = 1 << 22  # cosines returned at once (32 MiB)
_NORM_ROWS = 4096  # rows weighted at once while computing the row norms
_PENDING_HASHES = 1 << 18  # n-gram hashes buffered before they are added to the counts


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


@dataclass(frozen=True)
class Tfidf:
    """Unit-norm TF-IDF rows stored as raw n-gram counts, about 5 bytes an entry instead
    of 12: 100,000 texts hold some 15M entries. `weights` computes rows when asked."""

    indptr: NDArray[np.int64]
    indices: NDArray[np.int32]
    counts: NDArray[np.unsignedinteger[Any]]
    idf: NDArray[np.float64]
    norms: NDArray[np.float64]

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    def rows(self, start: int, stop: int) -> Tfidf:
        """Rows `start:stop` as their own matrix (views, no copy of the entries)."""
        lo, hi = int(self.indptr[start]), int(self.indptr[stop])
        return Tfidf(
            self.indptr[start : stop + 1] - lo,
            self.indices[lo:hi],
            self.counts[lo:hi],
            self.idf,
            self.norms[start:stop],
        )

    def weights(self, start: int = 0, stop: int | None = None) -> SparseRows:
        """The weighted, unit-norm rows `start:stop` (all by default)."""
        part = self.rows(start, self.n_rows if stop is None else stop)
        data = np.log(part.counts, dtype=np.float64)
        data += 1.0
        data *= self.idf[part.indices]
        data /= np.repeat(part.norms, np.diff(part.indptr))
        return SparseRows(part.indptr, part.indices, data, len(self.idf))


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


class Vocabulary:
    """The n-gram columns and their document frequencies, fitted one text at a time.

    Fitting needs no text kept: the leakage check streams 100,000 test texts through
    `add` and then `transform`s them a chunk at a time. N-grams are kept as 64-bit hashes
    (Python's string hash, fixed within a process) in a sorted array beside their counts,
    about 16 bytes an n-gram where a dict of strings takes ~100: test texts full of ids and
    numbers bring hundreds of thousands of distinct n-grams. Column j is the j-th smallest
    hash; cosines do not depend on the column order. Two distinct n-grams sharing a 64-bit
    hash (odds ~1e-8 for a million n-grams) would count as one.
    """

    def __init__(self, low: int = 3, high: int = 5) -> None:
        self.low, self.high = low, high
        self.n_texts = 0
        self._keys = np.zeros(0, dtype=np.int64)  # sorted n-gram hashes: the columns
        self._df = np.zeros(0, dtype=np.int64)
        self._pending = array("q")  # hashes seen since the last `_flush`, once per text

    def _hashes(self, text: str) -> list[int]:
        return [hash(g) for g in char_wb_ngrams(text.lower(), self.low, self.high)]

    def add(self, text: str) -> None:
        """Count the text's distinct n-grams (lowercased, as scikit-learn does)."""
        self._pending.extend(set(self._hashes(text)))
        self.n_texts += 1
        if len(self._pending) >= _PENDING_HASHES:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        new, counts = np.unique(np.frombuffer(self._pending, dtype=np.int64), return_counts=True)
        keys, where = np.unique(np.concatenate([self._keys, new]), return_inverse=True)
        df = np.zeros(len(keys), dtype=np.int64)
        np.add.at(df, where, np.concatenate([self._df, counts]))
        self._keys, self._df = keys, df
        self._pending = array("q")

    def idf(self) -> NDArray[np.float64]:
        """The smoothed idf of every column over the texts added so far."""
        self._flush()
        idf: NDArray[np.float64] = np.log((1.0 + self.n_texts) / (1.0 + self._df)) + 1.0
        return idf

    def transform(self, texts: Iterable[str], idf: NDArray[np.float64]) -> Tfidf:
        """TF-IDF rows of `texts`, each of which must have been added. A text with no
        n-gram (empty) gives an all-zero row."""
        bounds = array("q", [0])
        hashes = array("q")
        counts = array("i")
        for text in texts:
            tf = Counter(self._hashes(text))
            hashes.extend(tf)
            counts.extend(tf.values())
            bounds.append(len(hashes))
        indptr = np.array(bounds, dtype=np.int64)
        found = np.searchsorted(self._keys, np.frombuffer(hashes, dtype=np.int64))
        indices: NDArray[np.int32] = found.astype(np.int32)
        raw = np.frombuffer(counts, dtype=np.int32)
        small = raw.astype(np.min_scalar_type(int(raw.max(initial=1))))
        del raw, counts, hashes
        n_rows = len(indptr) - 1
        unscaled = Tfidf(indptr, indices, small, idf, np.ones(n_rows))
        norms = np.empty(n_rows)
        for start in range(0, n_rows, _NORM_ROWS):
            part = unscaled.weights(start, min(n_rows, start + _NORM_ROWS))
            squares = np.bincount(part.row_ids(), weights=part.data**2, minlength=part.n_rows)
            norms[start : start + part.n_rows] = np.sqrt(squares)
        return Tfidf(indptr, indices, small, idf, norms)


def tfidf_char_wb(texts: Sequence[str], low: int = 3, high: int = 5) -> Tfidf:
    """Fit the vocabulary and idf on `texts` and return their TF-IDF rows."""
    vocabulary = Vocabulary(low, high)
    for text in texts:
        vocabulary.add(text)
    return vocabulary.transform(texts, vocabulary.idf())


def _products(left: SparseRows, right_by_column: SparseRows) -> NDArray[np.float64]:
    """Dense `left @ right.T` from the partial products of shared columns, summed by cell."""
    n_right = right_by_column.n_columns
    starts = right_by_column.indptr[left.indices]
    lengths = right_by_column.indptr[left.indices + 1] - starts
    # product k of left entry e reads right entry starts[e] + (k - first product of e)
    at = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    at += np.arange(len(at), dtype=np.int64)
    weights = right_by_column.data[at]
    weights *= np.repeat(left.data, lengths)
    cells = np.repeat(left.row_ids() * n_right, lengths)
    cells += right_by_column.indices[at]
    del at
    sums = np.bincount(cells, weights=weights, minlength=left.n_rows * n_right)
    # bincount answers integers when nothing is shared at all
    return sums.astype(np.float64, copy=False).reshape(left.n_rows, n_right)


def cosine_blocks(
    left: Tfidf, right: SparseRows, max_rows: int = 512
) -> Iterator[tuple[int, NDArray[np.float64]]]:
    """(first row, cosines of those left rows against every right row), by blocks.

    `right` holds unit-norm rows (`Tfidf.weights()`); `left` is weighted a block at a
    time. A block has at most `max_rows` rows, about 4M cells and, unless one row alone
    makes more, about 1M partial products, so memory stays bounded however many texts
    there are. Each cell is summed in the order of its left row's entries, so a row's
    values do not depend on how rows are blocked.
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
        stop = max(1, min(block.n_rows, fits))
        yield start, _products(block.weights(0, stop), by_column)
        start += stop
