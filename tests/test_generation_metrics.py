"""Generation metrics against rouge-score and sacrebleu on real COVID-QA answers.

Gold answers come from ../shared/data/covid_qa (read in place); predictions are the same
answers perturbed the way model output drifts: words dropped, reordered, inflected or added.
"""

from __future__ import annotations

import json
import os
import random
from functools import cache
from pathlib import Path

import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score.rouge_scorer import RougeScorer

from promptops.errors import ConfigError, EvalsetError
from promptops.metrics import (
    bleu,
    corpus_bleu,
    corpus_scores,
    exact_match,
    generation_scores,
    normalize_answer,
    rouge_l,
    token_f1,
)

DATA = Path(os.environ.get("PROMPTOPS_DATA_DIR", Path(__file__).parents[2] / "shared" / "data"))
COVID_QA = DATA / "covid_qa" / "200423_covidQA.json"


@cache
def answers() -> list[str]:
    if not COVID_QA.is_file():
        pytest.skip(f"COVID-QA is not under {COVID_QA.parent}")
    data = json.loads(COVID_QA.read_text(encoding="utf-8"))
    texts = [
        answer["text"].strip()
        for article in data["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
        for answer in qa["answers"]
    ]
    return texts[::7][:150]  # spread over the articles


def perturb(text: str, rng: random.Random) -> str:
    words = text.split()
    choice = rng.randrange(5)
    if choice == 0 and len(words) > 2:
        del words[rng.randrange(len(words))]
    elif choice == 1 and len(words) > 3:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    elif choice == 2:
        words = [w + "s" if rng.random() < 0.3 else w for w in words]
    elif choice == 3:
        words = ["The", "answer", "is", *words]
    else:
        words = words[: max(1, len(words) // 2)]
    return " ".join(words)


@cache
def pairs() -> list[tuple[str, str]]:
    rng = random.Random(13)
    return [(perturb(gold, rng), gold) for gold in answers()]


def test_rouge_l_is_rouge_score_with_stemming() -> None:
    scorer = RougeScorer(["rougeL"], use_stemmer=True)
    values = []
    for prediction, gold in pairs():
        expected = scorer.score(gold, prediction)["rougeL"].fmeasure
        assert rouge_l(prediction, gold) == pytest.approx(expected, abs=1e-12)
        values.append(expected)
    assert max(values) == 1.0 and sum(v < 0.9 for v in values) > 20  # a real spread of scores


def test_rouge_l_stems() -> None:
    assert rouge_l("infections spreading", "infection spread") == 1.0


def test_bleu_is_sacrebleu_divided_by_100() -> None:
    for prediction, gold in pairs():
        expected = sacrebleu.sentence_bleu(prediction, [gold]).score / 100
        assert bleu(prediction, gold) == pytest.approx(expected, abs=1e-12)
    predictions, golds = zip(*pairs(), strict=True)
    expected = sacrebleu.corpus_bleu(list(predictions), [list(golds)]).score / 100
    assert corpus_bleu(predictions, golds) == pytest.approx(expected, abs=1e-12)
    assert 0.2 < expected < 0.95


def test_several_gold_answers_score_the_best_match() -> None:
    (p1, g1), (p2, g2) = pairs()[:2]
    scorer = RougeScorer(["rougeL"], use_stemmer=True)
    best = max(scorer.score(g, p1)["rougeL"].fmeasure for g in (g1, g2))
    assert rouge_l(p1, [g2, g1]) == pytest.approx(best)
    assert bleu(p1, [g2, g1]) == pytest.approx(sacrebleu.sentence_bleu(p1, [g2, g1]).score / 100)
    assert token_f1(p1, [g2, g1]) == max(token_f1(p1, g1), token_f1(p1, g2))
    # Corpus BLEU with a varying number of golds: sacrebleu takes one stream per gold slot.
    expected = sacrebleu.corpus_bleu([p1, p2], [[g1, g1], [g2, None]]).score / 100
    assert corpus_bleu([p1, p2], [[g1, g2], [g1]]) == pytest.approx(expected, abs=1e-12)
    assert corpus_bleu([p1, p2], [[g1, g2], [g1]]) >= corpus_bleu([p1, p2], [g1, g1])


@pytest.mark.parametrize(
    ("prediction", "gold", "em", "f1"),
    [
        ("The Cat!", "cat", 1.0, 1.0),
        ("an apple, a pear", "apple pear", 1.0, 1.0),
        ("the quick brown fox", "quick fox jumps", 0.0, 2 / 3),
        ("fox fox", "fox", 0.0, 2 / 3),
        ("", "", 1.0, 1.0),
        ("the", "", 1.0, 1.0),  # both normalise to nothing
        ("", "cat", 0.0, 0.0),
        ("dog", "cat", 0.0, 0.0),
    ],
)
def test_exact_match_and_f1_by_hand(prediction: str, gold: str, em: float, f1: float) -> None:
    assert exact_match(prediction, gold) == em
    assert token_f1(prediction, gold) == pytest.approx(f1)


def test_squad_normalisation() -> None:
    assert normalize_answer("  The  (MTCT) route, an  Example. ") == "mtct route example"


text = st.text(alphabet="abcde ,.THE", max_size=30)


@settings(max_examples=200, deadline=None)
@given(text, text)
def test_em_and_f1_properties(a: str, b: str) -> None:
    em, f1 = exact_match(a, b), token_f1(a, b)
    assert em in (0.0, 1.0) and 0.0 <= f1 <= 1.0
    assert f1 == pytest.approx(token_f1(b, a))
    assert exact_match(a, a) == 1.0 and token_f1(a, a) == 1.0
    if em == 1.0:
        assert f1 == 1.0


@settings(max_examples=50, deadline=None)
@given(text.filter(lambda s: any(c.isalpha() for c in s)), text)
def test_rouge_and_bleu_stay_in_the_unit_interval(a: str, b: str) -> None:
    assert 0.0 <= rouge_l(a, b) <= 1.0
    assert 0.0 <= bleu(a, b) <= 1.0
    assert rouge_l(a, a) == 1.0


def test_corpus_scores_average_examples_and_use_corpus_bleu() -> None:
    predictions, golds = zip(*pairs()[:40], strict=True)
    scores = corpus_scores(predictions, golds)
    assert set(scores) == {"rouge_l", "bleu", "exact_match", "token_f1"}
    assert scores["bleu"] == corpus_bleu(predictions, golds)
    mean_f1 = sum(token_f1(p, g) for p, g in zip(predictions, golds, strict=True)) / 40
    assert scores["token_f1"] == pytest.approx(mean_f1)
    assert generation_scores(predictions[0], golds[0], ["exact_match"]) == {
        "exact_match": exact_match(predictions[0], golds[0])
    }


def test_bad_inputs_are_user_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        corpus_scores(["a"], ["a"], ["rouge_l", "meteor", "bertscore"])
    assert "'meteor'" in str(caught.value) and "'bertscore'" in str(caught.value)
    with pytest.raises(EvalsetError, match="2 predictions but 1"):
        corpus_scores(["a", "b"], ["a"])
    with pytest.raises(EvalsetError, match="at least one gold"):
        token_f1("a", [])
    with pytest.raises(EvalsetError, match="no examples"):
        corpus_bleu([], [])
