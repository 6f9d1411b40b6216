"""Joint code counts (`cells.tally`) and the report's case picks, against direct computations."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

import promptops.evals.cells as cells_module
from promptops.evals.cells import code_dtype, confusion_of, tally
from promptops.evals.results import Picks


def test_tally_counts_every_combination_whatever_the_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    true = rng.integers(0, 7, 5000).astype(np.int16)
    a = rng.integers(0, 8, 5000).astype(np.uint8)
    b = rng.integers(0, 8, 5000).astype(np.uint8)
    whole = tally([true, a, b], [7, 8, 8])
    expected = Counter(zip(true.tolist(), a.tolist(), b.tolist(), strict=True))
    assert {tuple(k): int(c) for k, c in zip(whole.keys.tolist(), whole.counts, strict=True)} == (
        expected
    )
    assert whole.keys.tolist() == sorted(whole.keys.tolist()) and whole.n == 5000
    monkeypatch.setattr(cells_module, "CHUNK", 333)
    chunked = tally([true, a, b], [7, 8, 8])
    assert np.array_equal(chunked.keys, whole.keys) and np.array_equal(chunked.counts, whole.counts)
    reference = confusion_matrix(true, a, labels=range(8))[:7]
    assert np.array_equal(confusion_of(whole, 7, 0, 1), reference)
    assert tally([np.zeros(0, dtype=np.int16)], [3]).n == 0


def test_code_dtype_holds_every_label_and_the_invalid_code() -> None:
    assert code_dtype(5) == np.uint8 and code_dtype(254) == np.uint8
    assert code_dtype(255) == np.int16 and np.iinfo(np.int16).max >= 20_000


def test_picks_keep_what_sorting_every_case_would_choose() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    true = rng.integers(0, 4, n)
    pred = np.where(rng.random(n) < 0.6, true, rng.integers(0, 5, n))
    confidence = np.round(rng.random(n), 2)  # many ties: broken by evalset order
    error = rng.random(n) < 0.05
    picks = Picks(k=10, per_class=3)
    for position in rng.permutation(n).tolist():  # results land in any order
        offset = 100 * position
        if error[position]:
            picks.add_error(position, offset)
        else:
            picks.add(
                position,
                offset,
                int(true[position]),
                int(pred[position]),
                float(confidence[position]),
            )
    wrong = np.flatnonzero((pred != true) & ~error)
    by_confidence = wrong[np.argsort(-confidence[wrong], kind="stable")][:10]
    assert [p for p, _ in picks.confident_wrong()] == by_confidence.tolist()
    assert all(offset == 100 * p for p, offset in picks.confident_wrong())
    for code in range(4):
        first = wrong[true[wrong] == code][:3].tolist()
        assert [p for p, _ in picks.first_wrong(code)] == first
    assert [p for p, _ in picks.first_errors()] == np.flatnonzero(error)[:10].tolist()
