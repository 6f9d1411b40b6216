"""Contextual calibration against hand-computed values and the paper's matrix form."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptops.llm.calibration import CONTENT_FREE_INPUTS, calibrate, content_free_prior

LABELS = ["card_arrival", "change_pin", "exchange_rate"]


def test_hand_computed_two_labels() -> None:
    # p / p_cf = (0.6/0.8, 0.4/0.2) = (0.75, 2.0); normalised by 2.75
    result = calibrate({"a": 0.6, "b": 0.4}, {"a": 0.8, "b": 0.2})
    assert result == pytest.approx({"a": 0.75 / 2.75, "b": 2.0 / 2.75})
    assert max(result, key=result.__getitem__) == "b"  # the bias toward "a" is removed


def test_prior_is_the_renormalised_mean_of_content_free_samples() -> None:
    samples = [
        {"card_arrival": 0.7, "change_pin": 0.2, "exchange_rate": 0.1},
        {"card_arrival": 0.5, "change_pin": 0.3, "exchange_rate": 0.2},
        {"card_arrival": 0.6, "change_pin": 0.1, "exchange_rate": 0.3},
    ]
    prior = content_free_prior(samples)
    assert prior == pytest.approx({"card_arrival": 0.6, "change_pin": 0.2, "exchange_rate": 0.2})
    assert len(CONTENT_FREE_INPUTS) == 3


def test_content_free_input_becomes_uniform() -> None:
    prior = {"card_arrival": 0.7, "change_pin": 0.2, "exchange_rate": 0.1}
    assert calibrate(prior, prior) == pytest.approx(dict.fromkeys(LABELS, 1 / 3))


def test_uniform_prior_leaves_probabilities_unchanged() -> None:
    probs = {"card_arrival": 0.5, "change_pin": 0.3, "exchange_rate": 0.2}
    assert calibrate(probs, dict.fromkeys(LABELS, 1 / 3)) == pytest.approx(probs)


def test_key_order_does_not_matter() -> None:
    probs = {"a": 0.2, "b": 0.5, "c": 0.3}
    prior = {"c": 0.1, "a": 0.6, "b": 0.3}
    reordered = calibrate(dict(reversed(list(probs.items()))), prior)
    assert calibrate(probs, prior) == pytest.approx(reordered)


def test_zero_prior_entry_stays_finite() -> None:
    result = calibrate({"a": 0.5, "b": 0.5}, {"a": 1.0, "b": 0.0})
    assert all(np.isfinite(list(result.values())))
    assert result["b"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("probs", "prior"),
    [
        ({"a": 0.5, "b": 0.5}, {"a": 0.5, "c": 0.5}),
        ({"a": 0.5, "b": 0.5}, {"a": 1.0}),
        ({"a": -0.1, "b": 1.1}, {"a": 0.5, "b": 0.5}),
        ({"a": float("nan"), "b": 1.0}, {"a": 0.5, "b": 0.5}),
        ({"a": 0.0, "b": 0.0}, {"a": 0.5, "b": 0.5}),
    ],
)
def test_rejects_inconsistent_inputs(probs: dict[str, float], prior: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        calibrate(probs, prior)


def test_prior_needs_samples() -> None:
    with pytest.raises(ValueError):
        content_free_prior([])


def _distribution(size: int) -> st.SearchStrategy[list[float]]:
    weights = st.lists(st.floats(0.01, 1.0), min_size=size, max_size=size)
    return weights.map(lambda w: [x / sum(w) for x in w])


@settings(max_examples=200, deadline=None)
@given(data=st.data(), size=st.integers(2, 8))
def test_matches_the_papers_matrix_form(data: st.DataObject, size: int) -> None:
    labels = [f"l{i}" for i in range(size)]
    p = np.array(data.draw(_distribution(size)))
    p_cf = np.array(data.draw(_distribution(size)))
    result = calibrate(dict(zip(labels, p, strict=True)), dict(zip(labels, p_cf, strict=True)))
    got = np.array([result[label] for label in labels])

    weights = np.linalg.inv(np.diag(p_cf))  # W = diag(p_cf)^-1, b = 0
    scores = weights @ p
    assert got.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(got, scores / scores.sum(), rtol=1e-9)
    # the paper's softmax(W p) picks the same label (up to exact ties)
    paper = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
    assert got[np.argmax(paper)] == pytest.approx(got.max(), rel=1e-12)
