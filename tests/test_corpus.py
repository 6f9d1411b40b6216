"""Corpus and query ingestion: BEIR JSONL, folders of text files, line-numbered errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _rag_util import require_cranfield
from promptops.errors import EvalsetError
from promptops.rag import Document, corpus_hash, load_corpus, load_queries


def _write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_beir_jsonl(tmp_path: Path) -> None:
    path = _write_jsonl(
        tmp_path / "corpus.jsonl",
        [
            {"_id": "d1", "title": "Wings", "text": "Lift and drag.", "metadata": {"x": 1}},
            {"_id": 7, "text": "No title here."},
        ],
    )
    assert load_corpus(path) == [
        Document("d1", "Wings", "Lift and drag."),
        Document("7", "", "No title here."),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "invalid JSON"),
        ('{"_id": "x"}', "text"),
        ('{"text": "no id"}', "_id"),
        ('{"_id": "a", "text": "duplicate"}', "duplicate _id 'a' \\(first on line 1\\)"),
    ],
)
def test_jsonl_errors_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"_id": "a", "text": "ok"}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(EvalsetError, match=message) as info:
        load_corpus(path)
    assert info.value.where == f"{path}:3"


def test_folder_of_text_and_markdown(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "b.md").write_text("# B\nbody b", encoding="utf-8")
    (tmp_path / "sub" / "a.txt").write_text("body a", encoding="utf-8")
    (tmp_path / "sub" / "skip.json").write_text("{}", encoding="utf-8")
    (tmp_path / ".hidden" / "c.txt").write_text("hidden", encoding="utf-8")
    docs = load_corpus(tmp_path)
    assert [(d.doc_id, d.title, d.text) for d in docs] == [
        ("b.md", "", "# B\nbody b"),
        ("sub/a.txt", "", "body a"),
    ]


def test_missing_empty_and_undecodable(tmp_path: Path) -> None:
    with pytest.raises(EvalsetError, match="not found"):
        load_corpus(tmp_path / "nope.jsonl")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvalsetError, match="no documents"):
        load_corpus(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.txt").write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(EvalsetError, match="cannot read") as info:
        load_corpus(tmp_path / "bad")
    assert info.value.where == str(tmp_path / "bad" / "x.txt")


def test_corpus_hash_tracks_every_field() -> None:
    base = [Document("a", "t", "x"), Document("b", "", "y")]
    h = corpus_hash(base)
    assert h == corpus_hash(list(base))
    assert h != corpus_hash([Document("a", "t", "x"), Document("b", "", "y!")])
    assert h != corpus_hash([Document("a", "", "tx"), Document("b", "", "y")])
    assert h != corpus_hash(list(reversed(base)))


def test_queries_jsonl_and_tsv(tmp_path: Path) -> None:
    jsonl = _write_jsonl(
        tmp_path / "q.jsonl", [{"_id": "1", "text": "a b"}, {"_id": 2, "text": "c"}]
    )
    assert load_queries(jsonl) == {"1": "a b", "2": "c"}
    tsv = tmp_path / "q.tsv"
    tsv.write_text("query-id\ttext\n1\tfirst query\n2\tsecond\n", encoding="utf-8")
    assert load_queries(tsv) == {"1": "first query", "2": "second"}
    tsv.write_text("1\tfirst\nno tab here\n", encoding="utf-8")
    with pytest.raises(EvalsetError, match="id<TAB>text") as info:
        load_queries(tsv)
    assert info.value.where == f"{tsv}:2"
    tsv.write_text("1\tfirst\n1\tagain\n", encoding="utf-8")
    with pytest.raises(EvalsetError, match="duplicate query id"):
        load_queries(tsv)


def test_cranfield_loads() -> None:
    root = require_cranfield()
    docs = load_corpus(root / "corpus.jsonl")
    assert len(docs) == 1400
    assert len({d.doc_id for d in docs}) == 1400
    assert docs[0].doc_id == "1"
    assert docs[0].text.startswith(docs[0].title)
    assert len(load_queries(root / "queries.jsonl")) == 225
