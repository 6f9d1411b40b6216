"""Baselines a binary or scoring prompt must beat, each fit on the train split only.

Binary (a score per case, the probability of the positive label):
- `majority`: the train split's positive rate for every case (PR-AUC = prevalence).
- `tfidf_lr`: TF-IDF word and character n-grams, logistic regression (`evals.baselines`).

Scoring (a number per case):
- `train_mean`: the train split's mean expected value for every case.
- `tfidf_ridge`: the same TF-IDF features, ridge regression (alpha 1, fixed up front).
- `minilm_cosine`: for pair inputs (two input variables), the cosine of the bundled MiniLM
  embeddings of the two texts, mapped to the range by a least-squares line fit on train.

A baseline that cannot be fit (no train split, one class, no pair inputs) says why instead
of failing the run. Predictions cover the dev split (binary baselines pick their decision
threshold there, as the prompt does) and the test split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from promptops.evals.baselines import embed_texts, fit_tfidf_lr
from promptops.evals.evalset import Case, case_text
from promptops.registry import Registry


@dataclass(frozen=True)
class Fitted:
    """A baseline's predictions on the dev and test cases (in order), or why there are none."""

    name: str
    dev: NDArray[np.float64] | None
    test: NDArray[np.float64] | None
    error: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Training:
    """What a baseline may learn from: train cases and their targets (1/0 or numbers)."""

    train: Sequence[Case]
    targets: NDArray[np.float64]


Fit = Callable[[Training, Sequence[Case], Sequence[Case]], tuple[NDArray[np.float64], ...]]

BINARY_BASELINES: Registry[Fit] = Registry("binary baseline")
SCORING_BASELINES: Registry[Fit] = Registry("scoring baseline")


class CannotFit(Exception):
    """A baseline that does not apply to this evalset; the message says why."""


def _texts(cases: Sequence[Case]) -> list[str]:
    return [case_text(c) for c in cases]


def _constant(value: float, *splits: Sequence[Case]) -> tuple[NDArray[np.float64], ...]:
    return tuple(np.full(len(cases), value, dtype=np.float64) for cases in splits)


def majority(
    t: Training, dev: Sequence[Case], test: Sequence[Case]
) -> tuple[NDArray[np.float64], ...]:
    return _constant(float(t.targets.mean()), dev, test)


def tfidf_lr(
    t: Training, dev: Sequence[Case], test: Sequence[Case]
) -> tuple[NDArray[np.float64], ...]:
    if len(set(t.targets.tolist())) < 2:
        raise CannotFit("the train split has one class only")
    labels = ["0", "1"]
    predict = fit_tfidf_lr(_texts(t.train), [str(int(v)) for v in t.targets], labels, 0)
    return tuple(predict(_texts(cases))[:, 1] if cases else np.zeros(0) for cases in (dev, test))


def train_mean(
    t: Training, dev: Sequence[Case], test: Sequence[Case]
) -> tuple[NDArray[np.float64], ...]:
    return _constant(float(t.targets.mean()), dev, test)


def tfidf_ridge(
    t: Training, dev: Sequence[Case], test: Sequence[Case]
) -> tuple[NDArray[np.float64], ...]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True),
    )
    model = make_pipeline(features, Ridge(alpha=1.0))
    model.fit(_texts(t.train), t.targets)
    return tuple(
        np.asarray(model.predict(_texts(cases)), dtype=np.float64) if cases else np.zeros(0)
        for cases in (dev, test)
    )


def _pair_cosines(cases: Sequence[Case]) -> NDArray[np.float64]:
    if not cases:
        return np.zeros(0)
    if any(len(c.input) != 2 for c in cases):
        raise CannotFit("needs pair inputs: exactly two input variables per case")
    pairs = [tuple(c.input.values()) for c in cases]
    first = embed_texts([a for a, _ in pairs])
    second = embed_texts([b for _, b in pairs])
    norms = np.linalg.norm(first, axis=1) * np.linalg.norm(second, axis=1)
    return np.asarray(np.sum(first * second, axis=1) / np.maximum(norms, 1e-12))


def minilm_cosine(
    t: Training, dev: Sequence[Case], test: Sequence[Case]
) -> tuple[NDArray[np.float64], ...]:
    cos = _pair_cosines(t.train)
    slope, intercept = np.polyfit(cos, t.targets, 1)
    return tuple(slope * _pair_cosines(cases) + intercept for cases in (dev, test))


def register_builtins() -> None:
    """Fill the baseline registries once (the package's `__init__` calls this)."""
    if len(BINARY_BASELINES):
        return
    BINARY_BASELINES.register("majority", majority)
    BINARY_BASELINES.register("tfidf_lr", tfidf_lr)
    SCORING_BASELINES.register("train_mean", train_mean)
    SCORING_BASELINES.register("tfidf_ridge", tfidf_ridge)
    SCORING_BASELINES.register("minilm_cosine", minilm_cosine)


def fit_all(
    registry: Registry[Fit],
    names: Sequence[str],
    training: Training,
    dev: Sequence[Case],
    test: Sequence[Case],
    *,
    where: str,
) -> list[Fitted]:
    out = []
    for name in names:
        fit = registry.get(name, where=where)
        if not len(training.train):
            out.append(Fitted(name, None, None, "no labelled train split"))
            continue
        try:
            dev_pred, test_pred = fit(training, dev, test)
        except CannotFit as exc:
            out.append(Fitted(name, None, None, str(exc)))
            continue
        out.append(Fitted(name, dev_pred, test_pred))
    return out
