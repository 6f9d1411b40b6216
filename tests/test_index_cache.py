"""On-disk index cache: a second build loads, any relevant change rebuilds, writes are atomic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptops.errors import ConfigError
from promptops.rag import (
    BM25Retriever,
    ChunkingConfig,
    Document,
    build_index,
    default_cache_dir,
    doc_level_hits,
)

DOCS = [
    Document("d1", "Flutter", "Flutter of wings at transonic speeds. " * 30),
    Document("d2", "Heat", "Heat transfer in laminar boundary layers. " * 30),
    Document("d3", "", "Buckling of thin cylindrical shells under axial load. " * 30),
]
QUERIES = ["wing flutter transonic", "laminar heat transfer", "shell buckling"]


def _build(cache: Path, docs: list[Document] = DOCS, size: int = 64, **bm25: object):
    return build_index(
        docs, BM25Retriever(**bm25), ChunkingConfig(size=size, overlap=8), cache_dir=cache
    )


def test_second_build_is_a_load_with_identical_results(tmp_path: Path) -> None:
    first = _build(tmp_path)
    assert not first.loaded and first.path == tmp_path / first.fingerprint
    second = _build(tmp_path)
    assert second.loaded
    assert second.fingerprint == first.fingerprint
    assert second.chunks == first.chunks
    assert second.retrieve(QUERIES, k=5) == first.retrieve(QUERIES, k=5)
    assert [p.name for p in tmp_path.iterdir()] == [first.fingerprint]  # no temp leftovers
    meta = json.loads((tmp_path / first.fingerprint / "meta.json").read_text())
    assert meta["n_chunks"] == len(first.chunks) and meta["retriever"] == "bm25"


@pytest.mark.parametrize(
    "change",
    [
        {"size": 32},  # chunking
        {"k1": 1.2},  # retriever parameter
        {"stem": False},  # tokenizer
        {"docs": [*DOCS[:2], Document("d3", "", "Buckling of thin shells.")]},  # corpus text
    ],
)
def test_relevant_changes_rebuild(tmp_path: Path, change: dict[str, object]) -> None:
    base = _build(tmp_path)
    changed = _build(tmp_path, **change)  # type: ignore[arg-type]
    assert not changed.loaded
    assert changed.fingerprint != base.fingerprint
    assert _build(tmp_path, **change).loaded  # type: ignore[arg-type]
    assert _build(tmp_path).loaded  # the first one is still cached


def test_broken_cache_entry_is_rebuilt(tmp_path: Path) -> None:
    first = _build(tmp_path)
    assert first.path is not None
    (first.path / "chunks.jsonl").unlink()
    again = _build(tmp_path)
    assert not again.loaded
    assert _build(tmp_path).loaded


def test_no_cache_and_env_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "root"))
    assert default_cache_dir() == tmp_path / "root" / "indexes"
    built = build_index(DOCS, BM25Retriever(), None)
    assert built.path is not None and built.path.parent == tmp_path / "root" / "indexes"
    memory = build_index(DOCS, BM25Retriever(), None, use_cache=False)
    assert memory.path is None and not memory.loaded
    assert memory.fingerprint == built.fingerprint


def test_doc_level_takes_the_best_chunk() -> None:
    chunk_doc = {"a#0": "a", "a#1": "a", "b#0": "b", "c#0": "c"}
    hits = [("a#1", 5.0), ("b#0", 4.0), ("a#0", 3.0), ("c#0", 3.0)]
    assert doc_level_hits(hits, chunk_doc, k=10) == [("a", 5.0), ("b", 4.0), ("c", 3.0)]
    assert doc_level_hits(hits, chunk_doc, k=2) == [("a", 5.0), ("b", 4.0)]


def test_retrieve_chunk_and_doc_level(tmp_path: Path) -> None:
    index = _build(tmp_path, size=16)
    chunk_hits = index.retrieve(["shell buckling"], k=3)[0]
    assert len(chunk_hits) == 3 and all(cid.startswith("d3#") for cid, _ in chunk_hits)
    doc_hits = index.retrieve(["shell buckling"], k=3, doc_level=True)[0]
    assert [d for d, _ in doc_hits] == ["d3"]  # other documents share no term
    assert doc_hits[0][1] == pytest.approx(chunk_hits[0][1])
    with pytest.raises(ConfigError, match="at least 1"):
        index.retrieve(["x"], k=0)
