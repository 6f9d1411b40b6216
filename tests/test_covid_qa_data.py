"""The shipped COVID-QA suite subset: consistent spans, true to its source, rebuildable."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from _data import SHARED_DATA
from promptops.rag.chunking import ChunkingConfig, chunk_corpus
from promptops.rag.corpus import load_jsonl_corpus

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "evalsets" / "covid_qa"
SOURCE = SHARED_DATA / "covid_qa" / "200423_covidQA.json"
needs_source = pytest.mark.skipif(not SOURCE.exists(), reason="needs the COVID-QA source file")

DOCS = {doc.doc_id: doc for doc in load_jsonl_corpus(FOLDER / "corpus.jsonl")}
QUERIES = [
    json.loads(line)
    for line in (FOLDER / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]
MANIFEST = json.loads((FOLDER / "MANIFEST.json").read_text(encoding="utf-8"))


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_covid_qa_suite", ROOT / "scripts" / "make_covid_qa_suite.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_sizes_and_files() -> None:
    assert len(DOCS) == 20
    assert len(QUERIES) == 80
    assert len({q["_id"] for q in QUERIES}) == 80
    per_doc = Counter(span["doc_id"] for q in QUERIES for span in q["answer_spans"])
    assert set(per_doc) == set(DOCS) and set(per_doc.values()) == {4}
    assert (FOLDER / "corpus.jsonl").stat().st_size < 1_000_000
    for name in ("LICENSE", "NOTICE", "README.md"):
        assert (FOLDER / name).is_file()
    assert "Apache License" in (FOLDER / "LICENSE").read_text(encoding="utf-8")
    assert "deepset-ai/COVID-QA @ fb2eb5e2" in (FOLDER / "NOTICE").read_text(encoding="utf-8")
    assert MANIFEST["counts"]["queries"] == 80 and MANIFEST["counts"]["corpus_docs"] == 20


def test_every_answer_span_is_the_article_substring() -> None:
    for query in QUERIES:
        assert query["text"] and query["answers"]
        assert len(query["answers"]) == len(query["answer_spans"])
        for answer, span in zip(query["answers"], query["answer_spans"], strict=True):
            text = DOCS[span["doc_id"]].text
            assert 0 <= span["start"] < span["end"] <= len(text)
            assert text[span["start"] : span["end"]] == answer
            assert answer == answer.strip()


def test_titles_are_first_lines_and_spans_hit_chunks() -> None:
    for doc in DOCS.values():
        assert doc.title == doc.text.split("\n", 1)[0].strip() != ""
    chunks = chunk_corpus(DOCS.values(), ChunkingConfig(size=256, overlap=32))
    by_doc: dict[str, list[Any]] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk.doc_id, []).append(chunk)
    for query in QUERIES:
        for span in query["answer_spans"]:
            relevant = [
                c
                for c in by_doc[span["doc_id"]]
                if c.start_char < span["end"] and span["start"] < c.end_char
            ]
            assert 1 <= len(relevant) <= 4  # answers are at most a few hundred characters


@needs_source
def test_subset_matches_the_source() -> None:
    raw = SOURCE.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == MANIFEST["source_sha256"]
    source: dict[str, dict[str, Any]] = {}
    for entry in json.loads(raw)["data"]:
        for paragraph in entry["paragraphs"]:
            source[str(paragraph["document_id"])] = paragraph
    for doc_id, doc in DOCS.items():
        assert doc.text == source[doc_id]["context"]
    for query in QUERIES:
        span = query["answer_spans"][0]
        qas = {str(qa["id"]): qa for qa in source[span["doc_id"]]["qas"]}
        original = qas[query["_id"]]
        assert query["text"] == original["question"].strip()
        answer = original["answers"][0]
        assert query["answers"] == [answer["text"].strip()]
        assert abs(span["start"] - answer["answer_start"]) <= MANIFEST["max_span_shift"]


@needs_source
def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    _script().build(SOURCE, tmp_path)
    for name in ("corpus.jsonl", "queries.jsonl", "MANIFEST.json", "LICENSE", "NOTICE"):
        assert (tmp_path / name).read_bytes() == (FOLDER / name).read_bytes(), name
