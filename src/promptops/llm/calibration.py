"""Contextual calibration of label probabilities (Zhao et al. 2021, "Calibrate Before Use").

A prompt biases a model toward some labels whatever the input (a label listed first, one the
few-shot examples repeat, a short common word). Asking the same prompt about content-free
inputs such as "N/A" measures that bias as a prior `p_cf`; dividing each prediction by it
(W = diag(p_cf)^-1, b = 0) and renormalising cancels it. The paper applies a softmax to
W·p; the argmax is the same, and renormalising keeps the result a distribution proportional
to p / p_cf. Works on label probabilities from any endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

CONTENT_FREE_INPUTS: tuple[str, ...] = ("N/A", "", "[MASK]")
_FLOOR = 1e-12  # a label the prior says never occurs must not divide by zero


def content_free_prior(samples: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """p_cf: the renormalised mean of the label distributions for content-free inputs."""
    if not samples:
        raise ValueError("content_free_prior needs at least one content-free sample")
    labels = list(samples[0])
    matrix = np.array([_vector(sample, labels) for sample in samples])
    return _normalised(labels, matrix.mean(axis=0))


def calibrate(probs: Mapping[str, float], prior: Mapping[str, float]) -> dict[str, float]:
    """p_hat ∝ p / p_cf over the labels of `probs`, renormalised to sum to 1."""
    labels = list(probs)
    weights = _vector(prior, labels)
    return _normalised(labels, _vector(probs, labels) / np.maximum(weights, _FLOOR))


def _vector(probs: Mapping[str, float], labels: list[str]) -> np.ndarray:
    if set(probs) != set(labels):
        raise ValueError(f"label sets differ: {sorted(probs)} vs {sorted(labels)}")
    values = np.array([probs[label] for label in labels], dtype=np.float64)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"label probabilities must be finite and non-negative: {dict(probs)}")
    return values


def _normalised(labels: list[str], values: np.ndarray) -> dict[str, float]:
    total = float(values.sum())
    if total <= 0:
        raise ValueError("label probabilities sum to zero")
    return {label: float(value / total) for label, value in zip(labels, values, strict=True)}
