"""Semantic similarity of answers to references: cosine of bundled MiniLM embeddings.

Named in reports as "embedding cosine (all-MiniLM-L6-v2, mean pooled, L2-normalised)", not
BERTScore: one sentence vector per text, and a case scores its best reference. Chosen over
BERTScore with the same model because it needs no extra package and one forward pass per
text; the two are not comparable numbers, so the report says which was used.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
from numpy.typing import NDArray

from promptops.embeddings import bundled_model_path, embed, load_sentence_model

METHOD = "embedding cosine (all-MiniLM-L6-v2, mean pooled, L2-normalised)"


class Embedder:
    """Embeds texts with the bundled MiniLM, each distinct text once per process."""

    def __init__(self) -> None:
        self._vectors: dict[str, NDArray[np.float32]] = {}

    def vectors(self, texts: Sequence[str]) -> NDArray[np.float32]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            for text, vector in zip(missing, embed(_model(), missing), strict=True):
                self._vectors[text] = vector
        return (
            np.stack([self._vectors[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)
        )

    def best_cosine(self, text: str, targets: Sequence[str]) -> float:
        """The highest cosine of `text` against `targets` (needs at least one target)."""
        if not targets:
            raise ValueError("no text to compare with")
        vectors = self.vectors([text, *targets])
        return float(np.max(vectors[1:] @ vectors[0]))

    def best_cosines(self, texts: Sequence[str], targets: Sequence[Sequence[str]]) -> list[float]:
        self.vectors([*texts, *(t for group in targets for t in group)])  # one batch
        return [self.best_cosine(t, g) for t, g in zip(texts, targets, strict=True)]


@cache
def _model():  # type: ignore[no-untyped-def]
    return load_sentence_model(bundled_model_path())
