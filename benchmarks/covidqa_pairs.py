"""A second grounding set: COVID-QA passages with right and hallucinated answers (seeded).

COVID-QA (deepset, Apache-2.0) gives questions on 98 scientific articles with extractive
answers and their character offsets. For each question with a usable answer:

- passage: the article text around the answer, `WINDOW` characters before its start and after
  its end, widened to whole words (a paragraph or two, like HaluEval's knowledge);
- right answer: the gold answer text, whitespace collapsed;
- hallucinated answer, one of three edits picked by a per-question seeded generator among
  those possible for that answer, each checked to be absent from the passage:
    number: every number of the answer replaced by a number taken from another article's
            answers ("14 days" -> "21 days", "40%" -> "87%");
    entity: one capitalised span replaced by a capitalised span from another article's
            answers ("MERS-CoV" -> "Zika");
    swap:   the gold answer of a question on another article (a fluent, on-topic answer that
            the passage does not hold).

Questions whose answer is shorter than 2 characters or longer than `MAX_ANSWER_WORDS` words
are skipped, and so is a question whose edit would not leave the passage. Rows are split by
article, seeded, into a dev half (for choosing weights and thresholds) and a held-out half
(for reporting), so no passage text is shared between the halves.

Right answers here are extractive, so they are copied from their passage, as HaluEval's
mostly are; the hard cases are the number and entity edits, which leave most of the words of a
grounded answer in place.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "covid_qa" / "200423_covidQA.json"
SEED = 16
WINDOW = 400
MAX_ANSWER_WORDS = 40
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
_ENTITY_RE = re.compile(r"\b[A-Z][A-Za-z0-9\-]{2,}(?:\s+[A-Z][A-Za-z0-9\-]+)*")


@dataclass(frozen=True)
class QAPair:
    """One question: its passage, the right answer and a hallucinated one, with provenance."""

    article: str
    question: str
    passage: str
    right: str
    hallucinated: str
    edit: str  # number | entity | swap


@dataclass(frozen=True)
class _Question:
    article: str
    question: str
    context: str
    answer: str
    start: int


def _questions(path: Path) -> list[_Question]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    out = []
    for article in data:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                answer = qa["answers"][0]
                out.append(
                    _Question(
                        str(paragraph.get("document_id", article.get("title", ""))),
                        qa["question"],
                        context,
                        answer["text"],
                        int(answer["answer_start"]),
                    )
                )
    return out


def _squash(text: str) -> str:
    return " ".join(text.split())


def _passage(q: _Question) -> str:
    start = max(0, q.start - WINDOW)
    end = min(len(q.context), q.start + len(q.answer) + WINDOW)
    while start > 0 and not q.context[start - 1].isspace():
        start -= 1
    while end < len(q.context) and not q.context[end].isspace():
        end += 1
    return _squash(q.context[start:end])


def _absent(text: str, passage: str) -> bool:
    return text.lower() not in passage.lower()


def _number_edit(answer: str, passage: str, pool: list[str], rng: random.Random) -> str | None:
    numbers = _NUMBER_RE.findall(answer)
    if not numbers:
        return None
    choices = [n for n in pool if n not in numbers and _absent(n, passage)]
    if not choices:
        return None
    edited = _NUMBER_RE.sub(lambda _: rng.choice(choices), answer)
    return edited if _absent(edited, passage) else None


def _entity_edit(answer: str, passage: str, pool: list[str], rng: random.Random) -> str | None:
    entities = _ENTITY_RE.findall(answer)
    if not entities:
        return None
    target = rng.choice(entities)
    choices = [e for e in pool if e != target and _absent(e, passage)]
    if not choices:
        return None
    edited = answer.replace(target, rng.choice(choices), 1)
    return edited if _absent(edited, passage) else None


def _swap_edit(
    q: _Question, passage: str, others: list[_Question], rng: random.Random
) -> str | None:
    for _ in range(20):
        other = rng.choice(others)
        if other.article != q.article and _absent(_squash(other.answer), passage):
            return _squash(other.answer)
    return None


def build_pairs(path: Path = DATA, seed: int = SEED) -> list[QAPair]:
    """Every usable question as a pair, in file order; see the module docstring."""
    questions = [
        q
        for q in _questions(path)
        if len(q.answer.strip()) >= 2 and len(q.answer.split()) <= MAX_ANSWER_WORDS
    ]
    numbers: dict[str, list[str]] = {}
    entities: dict[str, list[str]] = {}
    for q in questions:
        numbers.setdefault(q.article, []).extend(_NUMBER_RE.findall(q.answer))
        entities.setdefault(q.article, []).extend(_ENTITY_RE.findall(q.answer))
    pairs = []
    for i, q in enumerate(questions):
        rng = random.Random(f"{seed}:{i}")
        passage = _passage(q)
        right = _squash(q.answer)
        number_pool = sorted({n for a, ns in numbers.items() if a != q.article for n in ns})
        entity_pool = sorted({e for a, es in entities.items() if a != q.article for e in es})
        edits = ["number", "entity", "swap"]
        rng.shuffle(edits)
        for edit in edits:
            if edit == "number":
                wrong = _number_edit(right, passage, number_pool, rng)
            elif edit == "entity":
                wrong = _entity_edit(right, passage, entity_pool, rng)
            else:
                wrong = _swap_edit(q, passage, questions, rng)
            if wrong is not None and wrong != right:
                pairs.append(QAPair(q.article, q.question, passage, right, wrong, edit))
                break
    return pairs


def split_by_article(pairs: list[QAPair], seed: int = SEED) -> tuple[list[int], list[int]]:
    """(dev, held-out) row indices: the articles shuffled with `seed` and cut in half."""
    articles = sorted({p.article for p in pairs})
    random.Random(seed).shuffle(articles)
    dev = set(articles[: len(articles) // 2])
    return (
        [i for i, p in enumerate(pairs) if p.article in dev],
        [i for i, p in enumerate(pairs) if p.article not in dev],
    )
