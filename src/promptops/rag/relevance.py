"""Which chunks answer a question: decided after chunking, from gold answer spans.

A question file (BEIR-style JSONL) carries, besides `_id` and `text`, its gold `answers` and
`answer_spans` (`doc_id`, `start`, `end`: character offsets into that document's text). A chunk
is relevant to a question when its character range overlaps one of the question's spans:

    chunk.doc_id == span.doc_id  and  chunk.start_char < span.end  and  span.start < chunk.end_char

so relevance follows any chunk size and overlap, and no chunk id is stored with the data. Every
relevant chunk has grade 1. A question without spans is judged by nobody: it is left out of the
retrieval metrics (and counted), but still answered.

A chunk the context guard truncated reached the model only in part: it counts as relevant after
the guard only when its kept prefix still overlaps a span (`delivered_ranking`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from promptops.errors import EvalsetError
from promptops.jsonl import read_records
from promptops.rag.chunking import Chunk
from promptops.rag.corpus import Document

TRUNCATED_SUFFIX = "~truncated"
"""Marks, in a delivered ranking, a truncated chunk whose kept part answers nothing."""


@dataclass(frozen=True)
class AnswerSpan:
    doc_id: str
    start: int
    end: int

    def overlaps(self, chunk: Chunk) -> bool:
        return (
            chunk.doc_id == self.doc_id
            and chunk.start_char < self.end
            and self.start < chunk.end_char
        )


@dataclass(frozen=True)
class QAQuery:
    """A question with its gold answers and where they are written in the corpus."""

    qid: str
    text: str
    answers: tuple[str, ...]
    spans: tuple[AnswerSpan, ...]


class _Span(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    doc_id: str = Field(min_length=1)
    start: int = Field(ge=0)
    end: int

    @model_validator(mode="after")
    def _ordered(self) -> _Span:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id: str = Field(alias="_id", min_length=1)
    text: str = Field(min_length=1)
    answers: list[str] = Field(default_factory=list)
    answer_spans: list[_Span] = Field(default_factory=list)


def load_qa_queries(path: Path, docs: Sequence[Document]) -> list[QAQuery]:
    """Questions in file order; every span must lie inside a document of `docs`."""
    lengths = {doc.doc_id: len(doc.text) for doc in docs}
    queries: list[QAQuery] = []
    seen: set[str] = set()
    for lineno, record in read_records(path, _Record):
        where = f"{path}:{lineno}"
        if record.id in seen:
            raise EvalsetError(f"duplicate question id {record.id!r}", where=where)
        seen.add(record.id)
        for span in record.answer_spans:
            if span.doc_id not in lengths:
                raise EvalsetError(
                    f"answer span names unknown document {span.doc_id!r}", where=where
                )
            if span.end > lengths[span.doc_id]:
                raise EvalsetError(
                    f"answer span ends at {span.end}, past the end of document "
                    f"{span.doc_id!r} ({lengths[span.doc_id]} characters)",
                    where=where,
                )
        queries.append(
            QAQuery(
                qid=record.id,
                text=record.text,
                answers=tuple(record.answers),
                spans=tuple(AnswerSpan(s.doc_id, s.start, s.end) for s in record.answer_spans),
            )
        )
    if not queries:
        raise EvalsetError("no questions", where=str(path))
    return queries


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def chunk_qrels(queries: Iterable[QAQuery], chunks: Sequence[Chunk]) -> dict[str, dict[str, int]]:
    """`{qid: {chunk_id: 1}}` for every question with spans (see the module docstring)."""
    by_doc: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk.doc_id, []).append(chunk)
    qrels: dict[str, dict[str, int]] = {}
    for query in queries:
        if not query.spans:
            continue
        qrels[query.qid] = {
            chunk.chunk_id: 1
            for span in query.spans
            for chunk in by_doc.get(span.doc_id, [])
            if span.overlaps(chunk)
        }
    return qrels


def delivered_ranking(kept: Sequence[Chunk], truncated: str | None, query: QAQuery) -> list[str]:
    """The ids of the chunks that reached the model, in context order.

    A truncated chunk keeps its id only while its kept prefix still overlaps an answer span;
    otherwise it gets `TRUNCATED_SUFFIX`, an id no question judges relevant.
    """
    ids = []
    for chunk in kept:
        if chunk.chunk_id == truncated and not any(s.overlaps(chunk) for s in query.spans):
            ids.append(chunk.chunk_id + TRUNCATED_SUFFIX)
        else:
            ids.append(chunk.chunk_id)
    return ids


def ranking_run(rankings: Mapping[str, Sequence[str]]) -> dict[str, dict[str, float]]:
    """A run for `evaluate_retrieval` that keeps each ranking's order exactly.

    Scores are `n - rank` (distinct, best highest) rather than the retrievers' own scores, so
    trec_eval's tie-break on equal scores can never reorder what was retrieved or delivered.
    """
    return {
        qid: {chunk_id: float(len(ids) - rank) for rank, chunk_id in enumerate(ids)}
        for qid, ids in rankings.items()
    }
