"""The generation baseline: answer with the reference of the most similar train input.

Fit a word TF-IDF (scikit-learn, unigrams and bigrams, sublinear tf) on the train split's
inputs; for a test input, take the train case with the highest cosine and answer with its
first reference. A prompt that writes worse text than this retrieval of a stored answer
has not earned its cost; on E2E, where inputs differ by a few attribute values, it is a
strong baseline for BLEU and ROUGE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class NearestReference:
    vectorizer: Any
    matrix: Any  # train inputs, L2-normalised TF-IDF rows
    answers: tuple[str, ...]

    def neighbours(self, texts: Sequence[str]) -> list[int]:
        """Index of the nearest train input for each text (ties: the first)."""
        scores = (self.vectorizer.transform(list(texts)) @ self.matrix.T).toarray()
        return [int(i) for i in np.argmax(scores, axis=1)]

    def answer_all(self, texts: Sequence[str]) -> list[str]:
        return [self.answers[i] for i in self.neighbours(texts)]


def fit_nearest(inputs: Sequence[str], references: Sequence[Sequence[str]]) -> NearestReference:
    """`references[i]` are train case i's references; cases without one are skipped."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    kept = [(text, refs[0]) for text, refs in zip(inputs, references, strict=True) if refs]
    if not kept:
        raise ValueError("the nearest-reference baseline needs train cases with references")
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    matrix = vectorizer.fit_transform([text for text, _ in kept])
    return NearestReference(vectorizer, matrix, tuple(answer for _, answer in kept))
