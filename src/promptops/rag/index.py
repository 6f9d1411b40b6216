"""Retrieval indexes cached on disk, rebuilt only when something that changes results changes.

The cache key (fingerprint) is the SHA-256 of: the corpus content hash (ids, titles, texts),
the chunking settings (or none), the retriever's name and `config()` (which carries its model
id), and this module's format version. An index lives in `<cache>/<fingerprint>/` with
`meta.json`, `chunks.jsonl` and the retriever's own files under `retriever/`. It is written
into a temporary folder beside it and renamed into place, so a reader never sees a half-written
index; if two processes race, the second keeps the first one's copy.

The cache folder is `$PROMPTOPS_CACHE_DIR/indexes`, else `~/.cache/promptops/indexes`.

Querying: `RetrievalIndex.retrieve` returns chunk hits, optionally reranked, and with
`doc_level=True` turns them into document hits: a document scores the maximum of its chunks'
scores (its best passage), over the top `4 * k` chunks so that k distinct documents remain.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from promptops.errors import ConfigError
from promptops.rag.chunking import Chunk, ChunkingConfig, chunk_corpus
from promptops.rag.corpus import Document, corpus_hash
from promptops.rag.rerank import Reranker
from promptops.rag.retrievers import Hits, Retriever, load_retriever

CACHE_DIR_ENV = "PROMPTOPS_CACHE_DIR"
INDEX_FORMAT = 1
DOC_LEVEL_CHUNK_FACTOR = 4
_META = "meta.json"
_CHUNKS = "chunks.jsonl"
_RETRIEVER = "retriever"


def default_cache_dir() -> Path:
    """`$PROMPTOPS_CACHE_DIR/indexes`, else `~/.cache/promptops/indexes`."""
    root = os.environ.get(CACHE_DIR_ENV)
    return (Path(root) if root else Path.home() / ".cache" / "promptops") / "indexes"


def index_fingerprint(
    corpus_sha256: str, chunking: ChunkingConfig | None, retriever: Retriever
) -> str:
    """The cache key: changes with the corpus, the chunking, or the retriever's settings."""
    payload = {
        "format": INDEX_FORMAT,
        "corpus": corpus_sha256,
        "chunking": asdict(chunking) if chunking is not None else None,
        "retriever": retriever.name,
        "config": retriever.config(),
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def doc_level_hits(hits: Hits, chunk_doc: Mapping[str, str], k: int) -> Hits:
    """Chunk hits to document hits: each document keeps its best chunk's score."""
    best: dict[str, float] = {}
    for chunk_id, score in hits:
        doc_id = chunk_doc[chunk_id]
        if doc_id not in best or score > best[doc_id]:
            best[doc_id] = score
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))[:k]


@dataclass
class RetrievalIndex:
    """A fitted retriever with the chunks it indexed; `loaded` says it came from the cache."""

    retriever: Retriever
    chunks: list[Chunk]
    fingerprint: str
    path: Path | None
    loaded: bool

    def chunk_texts(self) -> dict[str, str]:
        """Chunk id -> the text the retriever indexed (title included), for rerankers."""
        return {c.chunk_id: c.retrieval_text for c in self.chunks}

    def retrieve(
        self,
        queries: Sequence[str],
        k: int,
        *,
        reranker: Reranker | None = None,
        doc_level: bool = False,
    ) -> list[Hits]:
        """Top-k hits per query: chunk ids, or doc ids with `doc_level` (max over chunks).

        With a reranker, all retrieved candidates are reranked before any aggregation.
        """
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}", where="k")
        depth = k * DOC_LEVEL_CHUNK_FACTOR if doc_level else k
        results = self.retriever.search(queries, depth)
        if reranker is not None:
            texts = self.chunk_texts()
            results = [
                reranker.rerank(query, hits, texts, depth)
                for query, hits in zip(queries, results, strict=True)
            ]
        if not doc_level:
            return [hits[:k] for hits in results]
        chunk_doc = {c.chunk_id: c.doc_id for c in self.chunks}
        return [doc_level_hits(hits, chunk_doc, k) for hits in results]


def _write_chunks(path: Path, chunks: Sequence[Chunk]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")


def _read_chunks(path: Path) -> list[Chunk]:
    with path.open(encoding="utf-8") as fh:
        return [Chunk(**json.loads(line)) for line in fh if line.strip()]


def _has_fingerprint(path: Path, fingerprint: str) -> bool:
    try:
        return bool(json.loads((path / _META).read_text()).get("fingerprint") == fingerprint)
    except (OSError, ValueError):
        return False


def _load(path: Path, fingerprint: str) -> RetrievalIndex | None:
    """The cached index at `path`, or None when absent, foreign or unreadable."""
    if not _has_fingerprint(path, fingerprint):
        return None
    try:
        retriever = load_retriever(path / _RETRIEVER)
        chunks = _read_chunks(path / _CHUNKS)
    except (OSError, ValueError, TypeError, KeyError, ConfigError):
        return None
    return RetrievalIndex(retriever, chunks, fingerprint, path, loaded=True)


def build_index(
    docs: Sequence[Document],
    retriever: Retriever,
    chunking: ChunkingConfig | None,
    *,
    cache_dir: Path | None = None,
    use_cache: bool = True,
) -> RetrievalIndex:
    """Chunk `docs` and fit `retriever` on them, or load the identical index from the cache.

    `retriever` is an unfitted instance that carries the settings; on a cache hit the returned
    index holds the loaded retriever instead. `use_cache=False` builds in memory only.
    """
    fingerprint = index_fingerprint(corpus_hash(docs), chunking, retriever)
    if not use_cache:
        chunks = chunk_corpus(docs, chunking)
        retriever.fit(chunks)
        return RetrievalIndex(retriever, chunks, fingerprint, None, loaded=False)

    root = cache_dir if cache_dir is not None else default_cache_dir()
    final = root / fingerprint
    cached = _load(final, fingerprint)
    if cached is not None:
        return cached
    if final.exists():  # a broken copy (it failed to load): replace it
        shutil.rmtree(final, ignore_errors=True)

    chunks = chunk_corpus(docs, chunking)
    retriever.fit(chunks)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{fingerprint[:16]}-", dir=root))
    try:
        retriever.save(tmp / _RETRIEVER)
        _write_chunks(tmp / _CHUNKS, chunks)
        meta: dict[str, Any] = {
            "fingerprint": fingerprint,
            "format": INDEX_FORMAT,
            "retriever": retriever.name,
            "config": retriever.config(),
            "chunking": asdict(chunking) if chunking is not None else None,
            "n_docs": len(docs),
            "n_chunks": len(chunks),
        }
        (tmp / _META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        try:
            tmp.rename(final)
        except OSError:  # another process finished the same index first: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return RetrievalIndex(retriever, chunks, fingerprint, final, loaded=False)
