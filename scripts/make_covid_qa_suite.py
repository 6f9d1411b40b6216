"""Build evalsets/covid_qa/, the shipped RAG suite subset of COVID-QA.

Usage: python scripts/make_covid_qa_suite.py [SOURCE_JSON] [OUT_DIR]
(defaults: ../shared/data/covid_qa/200423_covidQA.json and evalsets/covid_qa next to this
script).

How the subset is made, so anyone can rebuild it byte for byte from the official file:

1. Read the SQuAD-style JSON: 98 articles, one paragraph each (`context`, `document_id`,
   `qas`). Every question has exactly one extractive answer with a character offset.
2. Repair each answer span: in the source, 234 of 1,380 `context[start:start+len(answer)]`
   differ from the answer. The answer text is stripped of surrounding whitespace (most of the
   mismatches are answers starting with a space), then the span is the occurrence of the
   stripped text nearest to the given offset within `MAX_SHIFT` characters (38 offsets move by
   1-3 characters). Answers with no occurrence that close are dropped. MANIFEST.json counts
   all three. Article texts are never changed.
3. Candidate articles: at most `MAX_ARTICLE_CHARS` characters (the corpus stays small enough
   to chunk and embed on a CPU in seconds) and at least `PER_ARTICLE` usable questions.
4. `random.Random(SEED)`: sample `ARTICLES` candidates (candidates ordered by document id),
   then, with the same generator, `PER_ARTICLE` questions of each chosen article in document
   id order. Files are written in document id / question id order.

Outputs (BEIR-style JSON Lines):
- corpus.jsonl: `{"_id", "title", "text"}`; `text` is the article context unchanged (so spans
  index into it), `title` its first line.
- queries.jsonl: `{"_id", "text", "answers": [str], "answer_spans": [{"doc_id", "start",
  "end"}]}` with `text[start:end] == answers[i]` in the article `doc_id`. Relevance is decided
  at evaluation time at chunk level (chunks overlapping a span), so no chunk ids are stored.
- MANIFEST.json (source sha256, seed, sizes, counts), LICENSE (Apache-2.0, copied), NOTICE.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOURCE = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "covid_qa" / "200423_covidQA.json"
)
SOURCE_NAME = "deepset-ai/COVID-QA @ fb2eb5e2, data/question-answering/200423_covidQA.json"
SEED = 2020
ARTICLES = 20
PER_ARTICLE = 4
MAX_ARTICLE_CHARS = 20_000
MAX_SHIFT = 8

NOTICE = f"""This folder contains a subset of the COVID-QA dataset.

COVID-QA: Möller et al. 2020, "COVID-QA: A Question Answering Dataset for COVID-19",
Proceedings of the 1st Workshop on NLP for COVID-19 at ACL 2020,
https://aclanthology.org/2020.nlpcovid19-acl.18/
Source: {SOURCE_NAME}
Copyright deepset GmbH and the COVID-QA contributors, licensed under the Apache License,
Version 2.0; see LICENSE in this folder. The articles are from the CORD-19 / PubMed Central
open-access collection; see the source repository for their terms.

Modified by the promptops authors: articles and questions sampled, answer offsets re-aligned
to the stripped answer text, and the data rewritten as BEIR-style corpus.jsonl and
queries.jsonl. See README.md and scripts/make_covid_qa_suite.py.
"""


@dataclass(frozen=True)
class Question:
    qid: str
    text: str
    answer: str
    start: int


@dataclass(frozen=True)
class Article:
    doc_id: str
    text: str
    questions: tuple[Question, ...]


def align_span(context: str, answer: str, offset: int) -> tuple[str, int] | None:
    """(stripped answer, its start) nearest to `offset` within MAX_SHIFT chars, or None."""
    stripped = answer.strip()
    if not stripped:
        return None
    starts = []
    position = context.find(stripped, max(0, offset - MAX_SHIFT))
    while 0 <= position <= offset + MAX_SHIFT:
        starts.append(position)
        position = context.find(stripped, position + 1)
    if not starts:
        return None
    return stripped, min(starts, key=lambda s: (abs(s - offset), s))


def read_articles(source: Path) -> tuple[list[Article], dict[str, int]]:
    raw = json.loads(source.read_text(encoding="utf-8"))
    articles = []
    counts = dict.fromkeys(
        (
            "source_articles",
            "source_questions",
            "answers_stripped",
            "spans_shifted",
            "spans_dropped",
        ),
        0,
    )
    for entry in raw["data"]:
        for paragraph in entry["paragraphs"]:
            counts["source_articles"] += 1
            context = paragraph["context"]
            questions = []
            for qa in paragraph["qas"]:
                counts["source_questions"] += 1
                answer = qa["answers"][0]
                aligned = (
                    None
                    if qa["is_impossible"]
                    else align_span(context, answer["text"], answer["answer_start"])
                )
                if aligned is None:
                    counts["spans_dropped"] += 1
                    continue
                text, start = aligned
                counts["answers_stripped"] += text != answer["text"]
                counts["spans_shifted"] += start != answer["answer_start"]
                questions.append(Question(str(qa["id"]), qa["question"].strip(), text, start))
            articles.append(Article(str(paragraph["document_id"]), context, tuple(questions)))
    return articles, counts


def select(articles: list[Article]) -> list[Article]:
    candidates = sorted(
        (
            a
            for a in articles
            if len(a.text) <= MAX_ARTICLE_CHARS and len(a.questions) >= PER_ARTICLE
        ),
        key=lambda a: int(a.doc_id),
    )
    rng = random.Random(SEED)
    chosen = sorted(rng.sample(candidates, ARTICLES), key=lambda a: int(a.doc_id))
    subset = []
    for article in chosen:
        questions = sorted(rng.sample(article.questions, PER_ARTICLE), key=lambda q: int(q.qid))
        subset.append(Article(article.doc_id, article.text, tuple(questions)))
    return subset


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def build(source: Path, out: Path) -> dict[str, Any]:
    articles, counts = read_articles(source)
    candidates = sum(
        1 for a in articles if len(a.text) <= MAX_ARTICLE_CHARS and len(a.questions) >= PER_ARTICLE
    )
    subset = select(articles)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(
        out / "corpus.jsonl",
        [
            {"_id": a.doc_id, "title": a.text.split("\n", 1)[0].strip(), "text": a.text}
            for a in subset
        ],
    )
    write_jsonl(
        out / "queries.jsonl",
        [
            {
                "_id": q.qid,
                "text": q.text,
                "answers": [q.answer],
                "answer_spans": [
                    {"doc_id": a.doc_id, "start": q.start, "end": q.start + len(q.answer)}
                ],
            }
            for a in subset
            for q in a.questions
        ],
    )
    shutil.copyfile(source.parent / "LICENSE", out / "LICENSE")
    (out / "NOTICE").write_text(NOTICE, encoding="utf-8")
    manifest = {
        "source": SOURCE_NAME,
        "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "seed": SEED,
        "articles": ARTICLES,
        "questions_per_article": PER_ARTICLE,
        "max_article_chars": MAX_ARTICLE_CHARS,
        "max_span_shift": MAX_SHIFT,
        "counts": {
            **counts,
            "candidate_articles": candidates,
            "corpus_docs": len(subset),
            "queries": sum(len(a.questions) for a in subset),
            "corpus_chars": sum(len(a.text) for a in subset),
        },
    }
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    out = (
        Path(sys.argv[2])
        if len(sys.argv) > 2
        else Path(__file__).resolve().parent.parent / "evalsets" / "covid_qa"
    )
    manifest = build(source, out)
    print(json.dumps(manifest["counts"], indent=2))


if __name__ == "__main__":
    main()
