"""TREC qrels and run files, the formats trec_eval reads, with line-numbered errors.

* qrels: ``qid iteration docid grade`` per line; the iteration column is ignored and the
  grade must be an integer.
* run: ``qid Q0 docid rank score tag`` per line; like trec_eval we rank by score (ties by
  docid, see `promptops.metrics.retrieval`) and ignore the Q0, rank and tag columns.

Blank lines are skipped, and so are comment lines, as trec_eval 10 does: a line whose first
character is ``#``. A ``#`` anywhere else is data (``CR93E-18#60`` is a document id, and so is
a chunk id ``429#0``); a line that starts with whitespace and then ``#`` is data too, as in
trec_eval, where it reads as a query id ``#``.

A (qid, docid) pair listed twice is an error that names both lines: in a run it means a broken
ranking, in qrels a contradictory or doubled judgment.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from promptops.errors import EvalsetError

_V = TypeVar("_V", int, float)


@dataclass(frozen=True)
class _Format(Generic[_V]):
    layout: str
    column: int  # where the grade or score is
    kind: str
    parse: Callable[[str], _V]


def _score(text: str) -> float:
    value = float(text)
    if math.isnan(value):
        raise ValueError(text)
    return value


_QRELS = _Format("qid iteration docid grade", 3, "an integer grade", int)
_RUN = _Format("qid Q0 docid rank score tag", 4, "a numeric score", _score)


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """{qid: {docid: grade}} from a TREC qrels file."""
    return _read(Path(path), _QRELS)


def read_run(path: str | Path) -> dict[str, dict[str, float]]:
    """{qid: {docid: score}} from a TREC run file."""
    return _read(Path(path), _RUN)


def write_qrels(path: str | Path, qrels: Mapping[str, Mapping[str, int]]) -> None:
    lines = [
        f"{_token(qid)} 0 {_token(doc)} {int(grade)}\n"
        for qid, grades in qrels.items()
        for doc, grade in grades.items()
    ]
    Path(path).write_text("".join(lines), encoding="utf-8")


def write_run(path: str | Path, run: Mapping[str, Mapping[str, float]], tag: str = "run") -> None:
    """Write each query's documents in trec_eval's rank order, numbered from 1.

    A query with no documents leaves no line: the format cannot say it was asked.
    """
    lines = []
    for qid, scores in run.items():
        ranked = sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)
        for rank, (doc, score) in enumerate(ranked, start=1):
            lines.append(f"{_token(qid)} Q0 {_token(doc)} {rank} {score!r} {_token(tag)}\n")
    Path(path).write_text("".join(lines), encoding="utf-8")


def _read(path: Path, fmt: _Format[_V]) -> dict[str, dict[str, _V]]:
    fields = len(fmt.layout.split())
    table: dict[str, dict[str, _V]] = {}
    for number, parts in _lines(path):
        where = f"{path}:{number}"
        if len(parts) != fields:
            raise EvalsetError(
                f"expected {fields} fields ({fmt.layout}), found {len(parts)}", where
            )
        qid, doc, text = parts[0], parts[2], parts[fmt.column]
        try:
            value = fmt.parse(text)
        except ValueError:
            raise EvalsetError(f"expected {fmt.kind}, found {text!r}", where) from None
        docs = table.setdefault(qid, {})
        if doc in docs:
            first = next(n for n, p in _lines(path) if p[0] == qid and p[2] == doc)
            raise EvalsetError(
                f"document {doc!r} is listed twice for query {qid!r} (first on line {first})",
                where,
            )
        docs[doc] = value
    return table


def _lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each line that is neither blank nor a comment."""
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.startswith("#"):
                    continue
                parts = line.split()
                if parts:
                    yield number, parts
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalsetError(f"cannot read the file: {exc}", str(path)) from None


def _token(text: str) -> str:
    """An id or tag as one whitespace-free field, or an error (it would corrupt the file)."""
    if text.split() != [text]:
        raise EvalsetError(f"ids and tags must be non-empty and without whitespace: {text!r}")
    return text
