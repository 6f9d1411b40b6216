"""Extraction scoring against seqeval (conlleval) on the shipped SNIPS cases, random answers
included; parsing, schema validity and normalisation on small cases."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from seqeval.metrics import classification_report

from promptops.tasks.extraction.gazetteer import fit_gazetteer
from promptops.tasks.extraction.normalize import FieldNormalization, normalize_value
from promptops.tasks.extraction.scoring import (
    ParsedAnswer,
    count_columns,
    extraction_metrics,
    micro_f1_of_sums,
    parse_answer,
    score_case,
)
from promptops.tasks.resample import sums_ci

ROOT = Path(__file__).resolve().parent.parent
ROWS = [
    json.loads(line)
    for line in (ROOT / "evalsets" / "slots" / "slots.jsonl").read_text("utf-8").splitlines()
]
SLOTS = sorted({name for row in ROWS for name in row["expected"]})
EXACT = FieldNormalization(default=())


def _tokens(text: str) -> list[tuple[int, int]]:
    """Character spans of word tokens and single punctuation marks."""
    return [m.span() for m in re.finditer(r"\w+|[^\w\s]", text)]


def _bio(text: str, spans: dict[tuple[int, int], str]) -> list[str]:
    """BIO tags of `text`'s whitespace tokens for labelled character spans."""
    tags = []
    for start, end in _tokens(text):
        tag = "O"
        for (s, e), label in spans.items():
            if s <= start and end <= e:
                tag = ("B-" if start == s else "I-") + label
        tags.append(tag)
    return tags


def _gold_spans(row: dict[str, Any]) -> dict[tuple[int, int], str] | None:
    """Character spans of the gold values on token boundaries, or None when a value is not
    one whole-token span of the text (then the case cannot be written as BIO tags)."""
    text, spans, used = row["input"]["utterance"], {}, set()
    bounds = _tokens(text)
    starts, ends = {s for s, _ in bounds}, {e for _, e in bounds}
    for name, value in row["expected"].items():
        at = text.find(value)
        while at >= 0 and (at not in starts or at + len(value) not in ends or at in used):
            at = text.find(value, at + 1)
        if at < 0:
            return None
        used.add(at)
        spans[(at, at + len(value))] = name
    return spans


def _random_answer(text: str, gold: dict[tuple[int, int], str], rng: random.Random) -> dict:
    """Keep, relabel or drop each gold span, and add random whole-token spans: every kind of
    error a model makes, as non-overlapping spans so seqeval can score them too."""
    spans: dict[tuple[int, int], str] = {}
    for span, name in gold.items():
        roll = rng.random()
        if roll < 0.5:
            spans[span] = name
        elif roll < 0.7:
            spans[span] = rng.choice(SLOTS)
    bounds = _tokens(text)
    for _ in range(rng.randint(0, 2)):
        i = rng.randrange(len(bounds))
        j = min(len(bounds), i + rng.randint(1, 3))
        span = (bounds[i][0], bounds[j - 1][1])
        if all(e <= span[0] or span[1] <= s for s, e in spans):
            spans[span] = rng.choice(SLOTS)
    answer: dict[str, str] = {}
    for (s, e), name in sorted(spans.items()):
        if name in answer:  # one value per slot, as the flat JSON answer holds
            continue
        answer[name] = text[s:e]
    for name, value in answer.items():  # drop spans the flat answer could not keep
        del_spans = [sp for sp, n in spans.items() if n == name and text[sp[0] : sp[1]] != value]
        for sp in del_spans:
            del spans[sp]
    return {"answer": answer, "spans": spans}


def test_field_scores_equal_seqeval_on_snips_with_random_answers() -> None:
    rng = random.Random(5)
    scores, y_true, y_pred = [], [], []
    for row in ROWS:
        gold = _gold_spans(row)
        if gold is None:
            continue
        text = row["input"]["utterance"]
        made = _random_answer(text, gold, rng)
        if len(set(made["answer"].values())) < len(made["answer"]):
            continue  # a value under two names is two spans at one place: not BIO-writable
        y_true.append(_bio(text, gold))
        y_pred.append(_bio(text, made["spans"]))
        scores.append(
            score_case(parse_answer(json.dumps(made["answer"]), None), row["expected"], EXACT)
        )
    assert len(scores) > 600
    report = classification_report(y_true, y_pred, output_dict=True, zero_division=0)
    metrics = extraction_metrics(scores)
    assert metrics.field_precision == pytest.approx(report["micro avg"]["precision"])
    assert metrics.field_recall == pytest.approx(report["micro avg"]["recall"])
    assert metrics.field_f1 == pytest.approx(report["micro avg"]["f1-score"])
    assert metrics.field_f1_macro == pytest.approx(report["macro avg"]["f1-score"])
    for name, s in metrics.fields.items():
        assert s.f1 == pytest.approx(report[name]["f1-score"]), name
        assert s.support == report[name]["support"], name
    assert 0.3 < metrics.field_f1 < 0.9  # the random answers are neither all right nor all wrong


def test_invalid_and_unparseable_answers_count_apart() -> None:
    schema = {
        "type": "object",
        "properties": {name: {"type": "string"} for name in SLOTS},
        "additionalProperties": False,
    }
    gold = ROWS[0]["expected"]
    raws = [
        json.dumps(gold),  # right
        "```json\n" + json.dumps(gold) + "\n```",  # right, fenced
        json.dumps({**gold, "colour": "red"}),  # parsed, schema-invalid extra field
        "the playlist is Classical Relaxations",  # not JSON
        json.dumps([gold]),  # JSON, not an object
        None,  # no answer (a failed call)
    ]
    parsed = [parse_answer(raw, schema) for raw in raws]
    assert [p.schema_valid for p in parsed] == [True, True, False, False, False, False]
    assert parsed[1].fenced and parsed[2].schema_errors
    assert "colour" in parsed[2].schema_errors[0]
    assert parse_answer(raws[1], schema, allow_fence=False).obj is None
    scores = [score_case(p, gold, EXACT) for p in parsed]
    metrics = extraction_metrics(scores)
    assert metrics.schema_valid_rate == pytest.approx(2 / 6)
    assert metrics.parse_error_rate == pytest.approx(3 / 6)
    assert metrics.exact_match == pytest.approx(2 / 6)
    k = len(gold)
    assert (scores[2].tp, scores[2].fp, scores[2].fn) == (k, 1, 0)
    assert (scores[3].tp, scores[3].fp, scores[3].fn) == (0, 0, k)
    assert metrics.fields["colour"].support == 0 and metrics.fields["colour"].f1 == 0.0


def test_wrong_value_is_one_false_positive_and_one_false_negative() -> None:
    gold = {"city": "Paris", "timeRange": "tomorrow"}
    score = score_case(ParsedAnswer({"city": "Lyon", "state": "", "timeRange": None}), gold, EXACT)
    assert score.fields["city"].fp == 1 and score.fields["city"].fn == 1
    assert score.fields["timeRange"].fn == 1 and "state" not in score.fields
    assert not score.exact and score.wrong_fields() == ["city", "timeRange"]


def test_normalisation_is_only_what_the_suite_declares() -> None:
    norm = FieldNormalization(
        default=("case", "whitespace"), fields={"party_size_number": ("numbers",)}
    )
    gold = {"restaurant_name": "Le  Bistro", "party_size_number": "2"}
    answer = ParsedAnswer({"restaurant_name": "le bistro", "party_size_number": "two"})
    assert score_case(answer, gold, norm).exact
    assert not score_case(answer, gold, EXACT).exact
    assert normalize_value("Rock, n' Roll!", ("punctuation",)) == "Rock n Roll"
    assert normalize_value(3, ("numbers",)) == normalize_value("3.0", ("numbers",)) == "3"
    assert normalize_value("twenty-one", ("numbers",)) == "21"
    assert normalize_value("2 people", ("numbers",)) == "2 people"
    assert normalize_value(True, ()) == "true"


def test_micro_f1_interval_brackets_the_estimate() -> None:
    rng = random.Random(1)
    scores = []
    for row in ROWS[:200]:
        answer = {k: v for k, v in row["expected"].items() if rng.random() < 0.6}
        scores.append(score_case(ParsedAnswer(answer), row["expected"], EXACT))
    ci = sums_ci(count_columns(scores), micro_f1_of_sums, n_resamples=500)
    assert ci.estimate == pytest.approx(extraction_metrics(scores).field_f1)
    assert ci.low < ci.estimate < ci.high


def test_gazetteer_finds_train_values_and_beats_nothing() -> None:
    train = [row["expected"] for row in ROWS if row["split"] == "train"]
    gazetteer = fit_gazetteer(train)
    assert gazetteer.extract("add this song to my Piano Ballads playlist")["playlist_owner"] == "my"
    test = [row for row in ROWS if row["split"] == "test"]
    scores = [
        score_case(
            parse_answer(gazetteer.answer(row["input"]["utterance"]), None), row["expected"], EXACT
        )
        for row in test
    ]
    metrics = extraction_metrics(scores)
    assert metrics.schema_valid_rate == 1.0
    assert 0.2 < metrics.field_f1 < 0.9
