"""Load a document collection into `Document`s: BEIR-style JSONL or a folder of text files.

JSONL follows BEIR's corpus layout, one object per line with `_id`, `text` and an optional
`title` (other keys are ignored). A folder is read recursively for `.txt` and `.md` files; the
document id is the path relative to the folder (always with `/`), the title is empty and the text
is the file content decoded as UTF-8. Errors name the file and, for JSONL, the line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from promptops.errors import EvalsetError
from promptops.jsonl import first_problem, read_records

FOLDER_SUFFIXES: tuple[str, ...] = (".txt", ".md")


@dataclass(frozen=True)
class Document:
    """One retrievable unit of the corpus before chunking."""

    doc_id: str
    title: str
    text: str


class _BeirRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id: str = Field(alias="_id", min_length=1)
    title: str = ""
    text: str


def load_jsonl_corpus(path: Path) -> list[Document]:
    """Documents from a BEIR corpus.jsonl; blank lines are skipped, ids must be unique."""
    docs: list[Document] = []
    seen: dict[str, int] = {}
    for lineno, record in read_records(path, _BeirRecord):
        if record.id in seen:
            raise EvalsetError(
                f"duplicate _id {record.id!r} (first on line {seen[record.id]})",
                where=f"{path}:{lineno}",
            )
        seen[record.id] = lineno
        docs.append(Document(doc_id=record.id, title=record.title, text=record.text))
    return docs


def load_folder_corpus(folder: Path, suffixes: Sequence[str] = FOLDER_SUFFIXES) -> list[Document]:
    """Documents from every matching file under `folder`, sorted by relative path.

    Hidden files and folders (a name starting with `.`) are skipped.
    """
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in suffixes
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    docs: list[Document] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise EvalsetError(f"cannot read document: {exc}", where=str(file)) from exc
        docs.append(Document(doc_id=file.relative_to(folder).as_posix(), title="", text=text))
    return docs


def load_corpus(path: Path) -> list[Document]:
    """A corpus from a folder of .txt/.md files or a .jsonl file; it must not be empty."""
    if path.is_dir():
        docs = load_folder_corpus(path)
    elif path.is_file():
        docs = load_jsonl_corpus(path)
    else:
        raise EvalsetError("corpus not found", where=str(path))
    if not docs:
        raise EvalsetError("corpus has no documents", where=str(path))
    return docs


def corpus_hash(docs: Iterable[Document]) -> str:
    """SHA-256 over ids, titles and texts in order: changes whenever any document changes."""
    digest = hashlib.sha256()
    for doc in docs:
        for part in (doc.doc_id, doc.title, doc.text):
            data = part.encode("utf-8")
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
    return digest.hexdigest()


class _BeirQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id: str = Field(alias="_id", min_length=1)
    text: str


_TSV_HEADER_IDS = frozenset({"_id", "id", "qid", "query-id", "query_id"})


def load_queries(path: Path) -> dict[str, str]:
    """Queries by id from BEIR JSONL (`_id`, `text`) or TSV (`id<TAB>text`, optional header).

    The format follows the suffix: `.tsv` is TSV, anything else JSONL. Ids must be unique.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalsetError(f"cannot read queries: {exc}", where=str(path)) from exc
    is_tsv = path.suffix.lower() == ".tsv"
    queries: dict[str, str] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        if is_tsv:
            qid, sep, text = line.partition("\t")
            if not sep or not qid.strip():
                raise EvalsetError("expected `id<TAB>text`", where=where)
            if not queries and qid.strip().lower() in _TSV_HEADER_IDS:
                continue
            qid = qid.strip()
        else:
            try:
                record = _BeirQuery.model_validate(json.loads(line))
            except json.JSONDecodeError as exc:
                raise EvalsetError(f"invalid JSON: {exc.msg}", where=where) from exc
            except ValidationError as exc:
                raise EvalsetError(first_problem(exc), where=where) from exc
            qid, text = record.id, record.text
        if qid in queries:
            raise EvalsetError(f"duplicate query id {qid!r}", where=where)
        queries[qid] = text
    if not queries:
        raise EvalsetError("no queries", where=str(path))
    return queries
