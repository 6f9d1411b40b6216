"""Split documents into token windows that map back to exact character spans.

A document body is encoded once with a tiktoken encoding; windows of `size` tokens advance by
`size - overlap` tokens, the last window ending at the last token. Each window's token range is
turned into a character span of the body (`doc.text[start_char:end_char] == chunk.text`). A
token boundary that falls inside a multi-byte character is moved forward to the next character
boundary, so with `overlap=0` the chunks tile the body exactly; a window too small to hold one
whole character yields no chunk. `token_count` is the number of document tokens in the window
(re-encoding the span on its own can differ by a token at the edges).

Titles are not part of any span: spans always refer to the body. A chunk keeps its document's
title and `Chunk.retrieval_text` puts it in front of the body text (for BM25 and embeddings)
unless that text already starts with it, as Cranfield's bodies do, so the title is never counted
twice. Chunk ids are `<doc_id>#<index>` (index from 0 within the document), stable for the same
corpus and settings. Without chunking each document is one chunk whose id is the doc id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from promptops.errors import ConfigError
from promptops.rag.corpus import Document
from promptops.tokens import DEFAULT_ENCODING, get_encoding

DENSE_CHUNK_SIZE = 160
"""Default chunk size (tiktoken tokens) when a dense model reads the chunks: all-MiniLM-L6-v2
reads 256 word pieces, and 256 tiktoken tokens of COVID-QA are about 280 pieces (213 of 229
chunks were cut); 160 tokens plus the title stay under 256 pieces there (longest 241). The
RAG report counts chunks over the limit in the model's own tokenizer whatever the size."""


@dataclass(frozen=True)
class ChunkingConfig:
    """Window size and overlap in tokens of `encoding`."""

    size: int = 256
    overlap: int = 32
    encoding: str = DEFAULT_ENCODING

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ConfigError(f"chunk size must be at least 1, got {self.size}", where="size")
        if not 0 <= self.overlap < self.size:
            raise ConfigError(
                f"overlap must be in [0, size), got {self.overlap} with size {self.size}",
                where="overlap",
            )


@dataclass(frozen=True)
class Chunk:
    """A span of one document's body; `text == doc.text[start_char:end_char]`."""

    chunk_id: str
    doc_id: str
    text: str
    start_char: int
    end_char: int
    token_count: int
    title: str = ""

    @property
    def retrieval_text(self) -> str:
        """What retrievers index: the title, then the text, unless the text starts with it."""
        if not self.title or self.text.lstrip().startswith(self.title):
            return self.text
        return f"{self.title}\n{self.text}"


def _char_starts_in_bytes(text: str) -> np.ndarray:
    """Byte offset where each character of `text` starts in its UTF-8 encoding."""
    raw = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    return np.flatnonzero((raw & 0xC0) != 0x80)


def chunk_document(doc: Document, config: ChunkingConfig) -> list[Chunk]:
    """The token windows of one document body (none for a body without tokens)."""
    enc = get_encoding(config.encoding)
    tokens = enc.encode_ordinary(doc.text)
    n_tokens = len(tokens)
    if n_tokens == 0:
        return []
    byte_lengths = np.fromiter(
        (len(b) for b in enc.decode_tokens_bytes(tokens)), dtype=np.int64, count=n_tokens
    )
    token_bytes = np.concatenate(([0], np.cumsum(byte_lengths)))
    # Token boundary (in bytes) -> first character starting at or after it.
    token_chars = np.searchsorted(_char_starts_in_bytes(doc.text), token_bytes, side="left")
    step = config.size - config.overlap
    chunks: list[Chunk] = []
    for first in range(0, n_tokens, step):
        last = min(first + config.size, n_tokens)
        start, end = int(token_chars[first]), int(token_chars[last])
        if end > start:
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.doc_id}#{len(chunks)}",
                    doc_id=doc.doc_id,
                    text=doc.text[start:end],
                    start_char=start,
                    end_char=end,
                    token_count=last - first,
                    title=doc.title,
                )
            )
        if last == n_tokens:
            break
    return chunks


def chunk_corpus(docs: Iterable[Document], config: ChunkingConfig | None) -> list[Chunk]:
    """Chunks of every document in order.

    `config=None` keeps each document whole: one chunk per document, id = doc id, token count in
    the default encoding.
    """
    if config is not None:
        return [chunk for doc in docs for chunk in chunk_document(doc, config)]
    doc_list = list(docs)
    encoded = get_encoding(DEFAULT_ENCODING).encode_ordinary_batch([d.text for d in doc_list])
    return [
        Chunk(
            chunk_id=doc.doc_id,
            doc_id=doc.doc_id,
            text=doc.text,
            start_char=0,
            end_char=len(doc.text),
            token_count=len(tokens),
            title=doc.title,
        )
        for doc, tokens in zip(doc_list, encoded, strict=True)
    ]
