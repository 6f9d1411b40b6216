"""Character n-gram TF-IDF and sparse cosine similarity, in numpy alone.

The leakage check runs before every eval; importing scikit-learn (and the scipy it pulls
in) for one vectoriser costs about a second per run, more than the check itself. A
`Vocabulary` fitted on some texts and applied to the same texts gives what scikit-learn's
`TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True).fit_transform`
gives, so a score here equals the score there:

- n-grams of each whitespace-separated word padded with one space on each side; a padded
  word no longer than n gives itself once and no longer n-grams;
- term weight (1 + ln tf) * idf with the smoothed idf ln((1 + n_docs) / (1 + df)) + 1,
  n_docs and df counted over the fitted texts only;
- every row scaled to unit L2 norm, so the cosine of two rows is their dot product.

Applied to other texts (the leakage check fits the train and few-shot side and applies it
to test texts), an n-gram the fitted texts lack weighs as if its df were 0 and counts in
the row's norm, though it has no column; scikit-learn's `transform` would drop it.
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
    """TF-IDF rows stored as raw n-gram counts and row norms, about 5 bytes an entry instead
    of 12; `weights` computes rows a block at a time when asked. A norm also covers the
    row's n-grams that have no column (see `Vocabulary.transform`), so such a row's stored
    weights have a norm below 1."""

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


def _word_ngrams(word: str, low: int, high: int) -> list[str]:
    padded = f" {word} "
    size = len(padded)
    grams: list[str] = []
    for n in range(low, high + 1):
        if size <= n:
            grams.append(padded)
            break
        grams.extend([padded[i : i + n] for i in range(size - n + 1)])
    return grams


def char_wb_ngrams(text: str, low: int = 3, high: int = 5) -> list[str]:
    """The character n-grams, low <= n <= high, of each space-padded word of `text`."""
    grams: list[str] = []
    for word in text.split():
        grams += _word_ngrams(word, low, high)
    return grams


def _ngram_counts(texts: Iterable[str], low: int, high: int) -> Iterator[Counter[str]]:
    """The n-gram counts of each lowercased text (as scikit-learn lowercases). A word's
    n-grams are cut once per call and reused: words repeat across texts, and a reused
    string keeps its cached hash, which halves the cost of a text."""
    cut: dict[str, list[str]] = {}
    for text in texts:
        grams: list[str] = []
        for word in text.lower().split():
            if (word_grams := cut.get(word)) is None:
                word_grams = cut[word] = _word_ngrams(word, low, high)
            grams += word_grams
        yield Counter(grams)


class Vocabulary:
    """The n-gram columns and their document frequencies, fitted one text at a time.

    The leakage check fits it on the train and few-shot texts only, so its size does not
    depend on how many test texts are then `transform`ed. N-grams are kept as 64-bit
    hashes (Python's string hash, fixed within a process) in a sorted array beside their
    counts, about 16 bytes an n-gram where a dict of strings takes ~100: texts full of ids
    and numbers bring hundreds of thousands of distinct n-grams. Column j is the j-th
    smallest hash; cosines do not depend on the column order. Two distinct n-grams sharing
    a 64-bit hash (odds ~1e-8 for a million n-grams) would count as one.
    """

    def __init__(self, low: int = 3, high: int = 5) -> None:
        self.low, self.high = low, high
        self.n_texts = 0
        self._keys = np.zeros(0, dtype=np.int64)  # sorted n-gram hashes: the columns
        self._df = np.zeros(0, dtype=np.int64)
        self._pending = array("q")  # hashes seen since the last `_flush`, once per text

    def add(self, text: str) -> None:
        """Count the text's distinct n-grams (lowercased, as scikit-learn does)."""
        self._pending.extend(set(map(hash, char_wb_ngrams(text.lower(), self.low, self.high))))
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

    def _columns(self, hashes: NDArray[np.int64]) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
        """The column of each hash, and whether it has one (else its column is meaningless)."""
        at = np.searchsorted(self._keys, hashes)
        known = np.zeros(len(hashes), dtype=bool)
        inside = at < len(self._keys)
        known[inside] = self._keys[at[inside]] == hashes[inside]
        return at, known

    def transform(self, texts: Iterable[str], idf: NDArray[np.float64]) -> Tfidf:
        """TF-IDF rows of `texts` (with `idf()`), all in memory at once: pass a chunk.

        An n-gram no added text had weighs with the idf of df = 0, the largest, and
        counts in the row's norm but keeps no entry (it adds 0 to any dot product with a
        fitted row). Leaving it out of the norm, as scikit-learn's `transform` does,
        would make a text that shares a few n-grams with a fitted text and has many new
        ones look nearly identical to it. A text with no n-gram (empty) gives an
        all-zero row.
        """
        indptr, hashes, counts = _term_counts(texts, self.low, self.high)
        at, known = self._columns(hashes)
        entry_idf = np.full(len(counts), np.log(1.0 + self.n_texts) + 1.0)
        entry_idf[known] = idf[at[known]]
        weights = np.log(counts, dtype=np.float64)
        weights += 1.0
        weights *= entry_idf
        row_ids = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
        norms = np.sqrt(np.bincount(row_ids, weights=weights**2, minlength=len(indptr) - 1))
        kept = np.zeros(len(counts) + 1, dtype=np.int64)  # known entries before each entry
        np.cumsum(known, out=kept[1:])
        counts = counts[known]
        small = counts.astype(np.min_scalar_type(int(counts.max(initial=1))))
        return Tfidf(kept[indptr], at[known].astype(np.int32), small, idf, norms)


def _term_counts(
    texts: Iterable[str], low: int, high: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int32]]:
    """(row bounds, n-gram hashes, counts) of the texts' distinct n-grams, row by row."""
    bounds = array("q", [0])
    hashes = array("q")
    counts = array("i")
    for tf in _ngram_counts(texts, low, high):
        hashes.extend(map(hash, tf))
        counts.extend(tf.values())
        bounds.append(len(hashes))
    return (
        np.array(bounds, dtype=np.int64),
        np.frombuffer(hashes, dtype=np.int64),
        np.frombuffer(counts, dtype=np.int32),
    )


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
