"""Embedding drift: maximum mean discrepancy between MiniLM sentence embeddings of the window's
inputs and the reference's, with a permutation-test p-value.

MMD² (the biased V-statistic) with a Gaussian kernel whose bandwidth is the median pairwise
distance of the pooled sample (the usual heuristic, fixed before permuting so the test stays
exact). Written as s·K·s with s = +1/n on one sample and -1/m on the other, so every
permutation is one matrix product. p = (1 + #{permuted >= observed}) / (1 + permutations):
under no drift it is at most alpha with probability alpha, whatever the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class MmdTest:
    mmd2: float
    p_value: float
    bandwidth: float
    n_reference: int
    n_current: int
    permutations: int


def gaussian_kernel(points: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
    """(kernel matrix, bandwidth) of pooled points by the median-distance heuristic."""
    sq = np.sum(points * points, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * points @ points.T, 0.0)
    upper = d2[np.triu_indices(points.shape[0], k=1)]
    bandwidth = float(np.sqrt(np.median(upper))) if upper.size else 1.0
    bandwidth = bandwidth if bandwidth > 0 else 1.0
    return np.exp(-d2 / (2.0 * bandwidth * bandwidth)), bandwidth


def mmd2_of(kernel: NDArray[np.float64], signs: NDArray[np.float64]) -> NDArray[np.float64]:
    """MMD² for each row of `signs` (+1/n for the first sample, -1/m for the second)."""
    return np.asarray(np.sum((signs @ kernel) * signs, axis=1), dtype=np.float64)


def mmd_test(
    reference: NDArray[np.float64], current: NDArray[np.float64], *, permutations: int, seed: int
) -> MmdTest:
    n, m = reference.shape[0], current.shape[0]
    kernel, bandwidth = gaussian_kernel(np.vstack([reference, current]).astype(np.float64))
    base = np.concatenate([np.full(n, 1.0 / n), np.full(m, -1.0 / m)])
    observed = float(mmd2_of(kernel, base[None, :])[0])
    rng = np.random.default_rng(seed)
    exceed = 0
    for start in range(0, permutations, 100):
        rows = min(100, permutations - start)
        signs = np.stack([rng.permutation(base) for _ in range(rows)])
        exceed += int(np.sum(mmd2_of(kernel, signs) >= observed - 1e-12))
    return MmdTest(
        mmd2=observed,
        p_value=(1 + exceed) / (1 + permutations),
        bandwidth=bandwidth,
        n_reference=n,
        n_current=m,
        permutations=permutations,
    )


class Embedder:
    """The bundled MiniLM, loaded on first use (only when some window has logged inputs).

    Vectors are cached by text (at most `cache_size`, oldest dropped first): served traffic
    repeats itself, and the reference's texts recur in every window drawn like it.
    """

    def __init__(self, cache_size: int = 20_000) -> None:
        self.cache_size = cache_size
        self._cache: dict[str, NDArray[np.float64]] = {}

    def __call__(self, texts: Sequence[str]) -> NDArray[np.float64]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        fresh: dict[str, NDArray[np.float64]] = {}
        if missing:
            from promptops.embeddings import bundled_model_path, embed, load_sentence_model

            model = load_sentence_model(bundled_model_path())
            fresh = dict(zip(missing, embed(model, missing).astype(np.float64), strict=True))
            for text, vector in fresh.items():
                if len(self._cache) >= self.cache_size:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[text] = vector
        return np.stack([fresh[t] if t in fresh else self._cache[t] for t in texts])
