"""Reranking: a second stage that reorders a retriever's top candidates for one query.

`rerank(query, candidates, chunk_text_lookup, top_n)` takes the first `top_n` candidates
(chunk id, first-stage score), best first, and returns exactly those, reordered by the
reranker's score (best first, ties by chunk id). Candidates past `top_n` are dropped.

Rerankers (registry `RERANKERS`, built-ins registered at the end of this module;
`create_reranker(name, **params)` builds one):

- `minilm-fusion` (default, works with what ships): score =
  alpha * minmax(first-stage score) + (1 - alpha) * minmax(cosine(query, chunk)), with
  all-MiniLM-L6-v2 embeddings and min-max taken over the candidate list. The default alpha =
  0.3; `rag-eval` chooses alpha on a dev half of its questions instead, unless the suite
  fixes it, and tests the result on the other half (`promptops.rag.rerank_eval`). Chunk
  embeddings are cached per reranker by text, so the same chunk is embedded once across
  queries, and `with_alpha` shares that cache.
- `cross-encoder`: a sentence-transformers CrossEncoder from a local folder (`model=PATH`);
  the score is the model's relevance output. Nothing is downloaded: a missing folder is a
  `ConfigError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from promptops.embeddings import (
    embed,
    force_offline,
    load_sentence_model,
    model_id,
    resolve_model_path,
)
from promptops.errors import ConfigError
from promptops.extras import SENTENCE_STACK, require_local
from promptops.registry import Registry

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

Hits = list[tuple[str, float]]
DEFAULT_RERANKER = "minilm-fusion"


@runtime_checkable
class Reranker(Protocol):
    """Reorders the top candidates of one query (see the module docstring)."""

    name: str

    def config(self) -> dict[str, Any]:
        """Parameters that change results, model ids included (JSON-ready)."""
        ...

    def rerank(
        self,
        query: str,
        candidates: Sequence[tuple[str, float]],
        chunk_text_lookup: Mapping[str, str],
        top_n: int,
    ) -> Hits:
        """The first `top_n` candidates, reordered best first."""
        ...


RERANKERS: Registry[type[Reranker]] = Registry("reranker")
"""Reranker classes by name; the built-ins are registered at the end of this module."""


def create_reranker(name: str = DEFAULT_RERANKER, **params: Any) -> Reranker:
    """A reranker by registered name; unknown names or bad parameters are a `ConfigError`."""
    cls = RERANKERS.get(name, where="rerank")
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for reranker {name!r}: {exc}", where=name) from exc


def _texts(ids: Sequence[str], lookup: Mapping[str, str]) -> list[str]:
    try:
        return [lookup[i] for i in ids]
    except KeyError as exc:
        raise ConfigError(f"no text for candidate chunk {exc.args[0]!r}", where="rerank") from None


def _ordered(ids: Sequence[str], scores: np.ndarray) -> Hits:
    pairs = zip(ids, (float(s) for s in scores), strict=True)
    return sorted(pairs, key=lambda item: (-item[1], item[0]))


def minmax(values: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; a constant vector becomes all zeros."""
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros_like(values, dtype=np.float64)
    return (values.astype(np.float64) - low) / (high - low)


class EmbeddingFusionReranker:
    """First-stage score fused with bi-encoder cosine similarity (see module docstring)."""

    name = "minilm-fusion"

    def __init__(self, model: str | None = None, alpha: float = 0.3, batch_size: int = 32) -> None:
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"alpha must be in [0, 1], got {alpha}", where="alpha")
        self.model = model
        self.model_path = resolve_model_path(model)
        self.alpha = alpha
        self.batch_size = batch_size
        self._cache: dict[str, np.ndarray] = {}

    def config(self) -> dict[str, Any]:
        return {"model_id": model_id(self.model), "alpha": self.alpha}

    def with_alpha(self, alpha: float) -> EmbeddingFusionReranker:
        """The same reranker with another fusion weight, sharing the chunk embeddings cache."""
        other = EmbeddingFusionReranker(self.model, alpha=alpha, batch_size=self.batch_size)
        other._cache = self._cache
        return other

    def warm(self, texts: Sequence[str]) -> None:
        """Embed `texts` (queries, chunks) into the cache in batches, ahead of reranking."""
        if texts:
            self._embeddings(texts)

    def _embeddings(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vectors = embed(load_sentence_model(self.model_path), missing, self.batch_size)
            self._cache.update(zip(missing, vectors, strict=True))
        return np.stack([self._cache[t] for t in texts])

    def rerank(
        self,
        query: str,
        candidates: Sequence[tuple[str, float]],
        chunk_text_lookup: Mapping[str, str],
        top_n: int,
    ) -> Hits:
        return self.fuse(*self.signals(query, candidates, chunk_text_lookup, top_n))

    def signals(
        self,
        query: str,
        candidates: Sequence[tuple[str, float]],
        chunk_text_lookup: Mapping[str, str],
        top_n: int,
    ) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(ids, first-stage scores, cosines) of the first `top_n` candidates: what `fuse`
        mixes, computed once so that many alphas can be tried on them."""
        head = list(candidates[:top_n])
        ids = [cid for cid, _ in head]
        if not head:
            return ids, np.zeros(0), np.zeros(0)
        chunk_vecs = self._embeddings(_texts(ids, chunk_text_lookup))
        query_vec = self._embeddings([query])[0]  # cached too: one encode per query text
        first = np.array([score for _, score in head], dtype=np.float64)
        return ids, first, chunk_vecs @ query_vec

    def fuse(self, ids: list[str], first: np.ndarray, cosine: np.ndarray) -> Hits:
        if not ids:
            return []
        fused = self.alpha * minmax(first) + (1.0 - self.alpha) * minmax(cosine)
        return _ordered(ids, fused)


class CrossEncoderReranker:
    """Scores (query, chunk) pairs with a local sentence-transformers CrossEncoder."""

    name = "cross-encoder"

    def __init__(self, model: str, batch_size: int = 32) -> None:
        path = Path(model).expanduser()
        if not path.is_dir():
            raise ConfigError(
                "cross-encoder model folder not found (models are never downloaded)",
                where=str(path),
            )
        self.model = model
        self.model_path = path.resolve()
        self.batch_size = batch_size
        self._encoder: CrossEncoder | None = None

    def config(self) -> dict[str, Any]:
        return {"model_id": model_id(self.model)}

    def _load(self) -> CrossEncoder:
        if self._encoder is None:
            require_local("the cross-encoder reranker", SENTENCE_STACK)
            force_offline()
            from sentence_transformers import CrossEncoder

            self._encoder = CrossEncoder(str(self.model_path), device="cpu", local_files_only=True)
        return self._encoder

    def rerank(
        self,
        query: str,
        candidates: Sequence[tuple[str, float]],
        chunk_text_lookup: Mapping[str, str],
        top_n: int,
    ) -> Hits:
        head = list(candidates[:top_n])
        if not head:
            return []
        ids = [cid for cid, _ in head]
        pairs = [(query, text) for text in _texts(ids, chunk_text_lookup)]
        scores = self._load().predict(
            pairs, batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True
        )
        return _ordered(ids, np.asarray(scores, dtype=np.float64).reshape(len(ids)))


RERANKERS.register("minilm-fusion", EmbeddingFusionReranker)
RERANKERS.register("cross-encoder", CrossEncoderReranker)
