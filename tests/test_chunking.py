"""Token chunking: exact character spans (property-tested), coverage, ids, titles."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptops.errors import ConfigError
from promptops.rag import Chunk, ChunkingConfig, Document, chunk_corpus, chunk_document
from promptops.tokens import get_encoding

# Mixed scripts, emoji and combining marks: BPE tokens often end inside a multi-byte character.
TEXT = st.lists(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(["🙂", "👩\u200d🔬", "é", "e\u0301", "日本語", " ", "\n", "the "]),
    ),
    max_size=120,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    text=TEXT,
    size=st.integers(min_value=1, max_value=40),
    overlap_share=st.floats(min_value=0.0, max_value=0.95),
    encoding=st.sampled_from(["o200k_base", "cl100k_base"]),
)
def test_chunks_are_exact_spans(text: str, size: int, overlap_share: float, encoding: str) -> None:
    overlap = min(int(size * overlap_share), size - 1)
    config = ChunkingConfig(size=size, overlap=overlap, encoding=encoding)
    doc = Document("doc", "Title", text)
    chunks = chunk_document(doc, config)
    n_tokens = len(get_encoding(encoding).encode_ordinary(text))
    if n_tokens == 0:
        assert chunks == []
        return
    for i, chunk in enumerate(chunks):
        assert chunk.text == text[chunk.start_char : chunk.end_char]
        assert chunk.end_char > chunk.start_char
        assert chunk.chunk_id == f"doc#{i}"
        assert chunk.doc_id == "doc"
        assert 1 <= chunk.token_count <= size
    # the chunks cover the whole body, in order
    assert chunks[0].start_char == 0
    assert chunks[-1].end_char == len(text)
    for prev, nxt in itertools.pairwise(chunks):
        # in order and gap-free (a window starting inside a character skips that character)
        assert prev.start_char <= nxt.start_char <= prev.end_char <= nxt.end_char
        if overlap == 0:
            assert nxt.start_char == prev.end_char  # no overlap: an exact tiling
    assert chunk_document(doc, config) == chunks  # deterministic


def test_window_arithmetic_on_plain_text() -> None:
    # "word " is one token per word in o200k: 1000 words -> 1000 tokens.
    text = "word " * 999 + "word"
    assert len(get_encoding("o200k_base").encode_ordinary(text)) == 1000
    chunks = chunk_document(Document("d", "", text), ChunkingConfig(size=256, overlap=32))
    # windows start at 0, 224, 448, 672; the fourth ends at 928 < 1000, so a fifth at 896
    assert [c.token_count for c in chunks] == [256, 256, 256, 256, 104]
    assert [c.start_char for c in chunks] == [0, 224 * 5 - 1, 448 * 5 - 1, 672 * 5 - 1, 896 * 5 - 1]
    assert chunks[-1].end_char == len(text)


def test_overlapping_chunks_share_text() -> None:
    text = " ".join(f"w{i}" for i in range(200))
    a, b, *_ = chunk_document(Document("d", "", text), ChunkingConfig(size=50, overlap=10))
    shared = text[b.start_char : a.end_char]
    assert shared and a.text.endswith(shared) and b.text.startswith(shared)


def test_invalid_settings() -> None:
    with pytest.raises(ConfigError, match="overlap"):
        ChunkingConfig(size=10, overlap=10)
    with pytest.raises(ConfigError, match="at least 1"):
        ChunkingConfig(size=0, overlap=0)
    with pytest.raises(ConfigError, match="not bundled"):
        chunk_document(Document("d", "", "x"), ChunkingConfig(encoding="r50k_base"))


def test_title_is_prepended_for_retrieval_only_when_missing() -> None:
    # Cranfield-style: the body starts with the title, so only later chunks get it prepended
    doc = Document("d", "jet noise", "jet noise . measured levels " * 40)
    first, second, *_ = chunk_document(doc, ChunkingConfig(size=32, overlap=0))
    assert first.retrieval_text == first.text
    assert second.retrieval_text == f"jet noise\n{second.text}"
    assert second.text == doc.text[second.start_char : second.end_char]  # spans: body only
    assert Chunk("x#0", "x", "body", 0, 4, 1, title="T").retrieval_text == "T\nbody"
    assert Chunk("x#0", "x", "body", 0, 4, 1).retrieval_text == "body"


def test_corpus_with_and_without_chunking() -> None:
    docs = [
        Document("a", "T", ("alpha beta gamma " * 100).strip()),
        Document("b", "", ""),
        Document("c", "", "x"),
    ]
    whole = chunk_corpus(docs, None)
    assert [c.chunk_id for c in whole] == ["a", "b", "c"]
    assert [c.token_count for c in whole] == [300, 0, 1]
    assert all(
        c.text == d.text and c.end_char == len(d.text) for c, d in zip(whole, docs, strict=True)
    )
    chunked = chunk_corpus(docs, ChunkingConfig(size=100, overlap=20))
    assert [c.chunk_id for c in chunked] == ["a#0", "a#1", "a#2", "a#3", "c#0"]
    assert chunked == chunk_corpus(docs, ChunkingConfig(size=100, overlap=20))
