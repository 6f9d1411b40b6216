"""A small RAG project on disk for rag-eval tests: four short COVID-QA articles with their 16
questions, the shipped answer prompt and a suite; plus a fake model that cites passage 1."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path
from typing import Any

from promptops.rag import Chunk, Document, chunk_corpus
from promptops.rag.chunking import ChunkingConfig
from promptops.testing.openai_server import last_user_message

REPO = Path(__file__).resolve().parents[1]
COVID = REPO / "evalsets" / "covid_qa"
DOC_IDS = ("1545", "1546", "1549", "1550")

SUITE = """\
name: mini
description: four COVID-QA articles
corpus: mini/corpus.jsonl
queries: mini/queries.jsonl
chunking: {size: 128, overlap: 16}
retrievers: [bm25, dense]
generate_with: bm25
k: 3
rerank: {name: minilm-fusion, candidates: 8}
prompt: rag_answer
context: {policy: drop}
grounding: {threshold: 0.8}
thresholds:
  retrieval.recall@3: {min: 0.3}
  generation.error_rate: {max: 0.0}
"""


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def mini_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(corpus rows, question rows) of the four articles."""
    docs = [d for d in _rows(COVID / "corpus.jsonl") if d["_id"] in DOC_IDS]
    questions = [
        q for q in _rows(COVID / "queries.jsonl") if q["answer_spans"][0]["doc_id"] in DOC_IDS
    ]
    return docs, questions


def make_rag_project(root: Path, suite: str = SUITE) -> Path:
    docs, questions = mini_rows()
    (root / "prompts").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "prompts" / "rag_answer.yaml", root / "prompts" / "rag_answer.yaml")
    data = root / "evalsets" / "mini"
    data.mkdir(parents=True, exist_ok=True)
    (data / "corpus.jsonl").write_text(
        "".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8"
    )
    (data / "queries.jsonl").write_text(
        "".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8"
    )
    (root / "evalsets" / "mini.yaml").write_text(textwrap.dedent(suite), encoding="utf-8")
    return root


def mini_chunks(size: int = 128, overlap: int = 16) -> list[Chunk]:
    docs, _ = mini_rows()
    documents = [Document(d["_id"], d.get("title", ""), d["text"]) for d in docs]
    return chunk_corpus(documents, ChunkingConfig(size, overlap))


def reference_qrels(chunks: list[Chunk]) -> dict[str, dict[str, int]]:
    """Relevance written out independently: chunk and span share characters of one document."""
    _, questions = mini_rows()
    qrels: dict[str, dict[str, int]] = {}
    for q in questions:
        judged: dict[str, int] = {}
        for span in q["answer_spans"]:
            for c in chunks:
                shared = set(range(c.start_char, c.end_char)) & set(
                    range(span["start"], span["end"])
                )
                if c.doc_id == span["doc_id"] and shared:
                    judged[c.chunk_id] = 1
        qrels[q["_id"]] = judged
    return qrels


_FIRST_PASSAGE = re.compile(r"\[1\] (.+?[.!?])(?=\s|$)", re.S)


def cite_first_sentence(body: dict[str, Any]) -> str:
    """A model that copies the first sentence of passage [1] and cites it."""
    found = _FIRST_PASSAGE.search(last_user_message(body))
    if found is None:
        return "The context does not say."
    return " ".join(found.group(1).split()) + " [1]"
