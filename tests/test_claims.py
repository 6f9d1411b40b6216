"""Claim spans: what is extracted and matched, by hand; then how well the claim check alone
separates right from hallucinated answers on the held-out halves of HaluEval QA and of the
COVID-QA set built by benchmarks/covidqa_pairs.py (AUROC by scikit-learn, no model)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from _data import SHARED_DATA
from promptops.rag.citations import split_sentences
from promptops.rag.claims import check_claims, claim_spans, normalise, prepare_evidence

ROOT = Path(__file__).resolve().parent.parent
HALUEVAL = SHARED_DATA / "halueval" / "qa_one-turn_data.json"
COVID_QA = SHARED_DATA / "covid_qa" / "200423_covidQA.json"


def _kinds(sentence: str) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in claim_spans(sentence)]


def test_spans_of_a_sentence() -> None:
    assert _kinds("The Bank of England raised rates to 5.25% in 2023.") == [
        ("entity", "Bank of England"),
        ("number", "5.25"),
        ("number", "2023"),
        ("word", "bank"),
        ("phrase", "england raised"),
        ("phrase", "raised rate"),
        ("word", "england"),
        ("word", "raised"),
        ("word", "rate"),
    ]
    # Stop words and a bare yes make no claim; digits inside a word are not a number.
    assert claim_spans("Yes, it is.") == []
    assert ("number", "5") not in _kinds("CCR5 binds HIV-1.")


def test_normalisation_accents_thousands_and_plurals() -> None:
    assert normalise("Zoë’s 1,250 cafés") == "zoe's 1250 cafes"
    evidence = prepare_evidence(["Zoe opened 1250 cafes in Malmö."])
    assert check_claims("Zoë opened 1,250 cafés in Malmo.", evidence).missing == ()
    # Adjacency matters for phrases: "1250 small cafes" does not hold "1,250 cafés".
    spread = prepare_evidence(["Zoe opened 1250 small cafes in Malmö."])
    assert check_claims("Zoë opened 1,250 cafés.", spread).reasons() == [
        'phrase "1250 cafe" not found'
    ]


def test_a_swapped_number_or_name_is_named() -> None:
    evidence = prepare_evidence(["The incubation period is 14 days, reported by the WHO."])
    right = check_claims("The incubation period is 14 days.", evidence)
    assert right.support == 1.0 and right.reasons() == []
    wrong = check_claims("The incubation period is 21 days.", evidence)
    assert wrong.reasons() == ['number "21" not found', 'phrase "21 day" not found']
    assert 0 < wrong.support < 1
    swapped = check_claims("It was reported by the CDC.", evidence)
    assert swapped.reasons() == ['entity "CDC" not found']


def test_phrases_need_adjacency_and_stop_at_brackets() -> None:
    evidence = prepare_evidence(["A health magazine and a fashion blog.", "Risk factor [10]."])
    check = check_claims("A fashion magazine.", evidence)
    assert [s.text for s in check.missing] == ["fashion magazine"]
    # A citation marker between two words does not make them a phrase.
    assert check_claims("A risk factor [10]; possibly.", evidence).reasons() == [
        'word "possibly" not found'
    ]


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _answer_claims(answer: str, passage: str) -> float:
    evidence = prepare_evidence([passage])
    values = [check_claims(s.claim, evidence).support for s in split_sentences(answer)]
    return float(np.mean(values)) if values else 1.0


def _auroc(triples: list[tuple[str, str, str]]) -> float:
    labels, scores = [], []
    for passage, right, wrong in triples:
        labels += [1, 0]
        scores += [_answer_claims(right, passage), _answer_claims(wrong, passage)]
    return float(roc_auc_score(labels, scores))


@pytest.mark.skipif(not HALUEVAL.exists(), reason="needs the HaluEval source data")
def test_claims_alone_on_halueval_held_out() -> None:
    rows = [json.loads(line) for line in HALUEVAL.read_text().splitlines() if line.strip()]
    _, held = _load("halueval_grounding").split(len(rows))
    triples = [
        (rows[i]["knowledge"], rows[i]["right_answer"], rows[i]["hallucinated_answer"])
        for i in held
    ]
    assert len(triples) == 250
    assert _auroc(triples) >= 0.95  # measured 0.968


@pytest.mark.skipif(not COVID_QA.exists(), reason="needs the COVID-QA source data")
def test_covid_qa_set_is_seeded_split_by_article_and_separated_by_claims() -> None:
    build = _load("covidqa_pairs")
    pairs = build.build_pairs(COVID_QA)
    assert pairs == build.build_pairs(COVID_QA)  # seeded: the same set every time
    assert {p.edit for p in pairs} == {"number", "entity", "swap"}
    for p in pairs:
        assert p.right.lower() in p.passage.lower()
        assert p.hallucinated.lower() not in p.passage.lower()
    dev, held = build.split_by_article(pairs)
    assert not {pairs[i].article for i in dev} & {pairs[i].article for i in held}
    assert sorted(dev + held) == list(range(len(pairs)))
    triples = [(pairs[i].passage, pairs[i].right, pairs[i].hallucinated) for i in held]
    assert _auroc(triples) >= 0.95  # measured 0.993
