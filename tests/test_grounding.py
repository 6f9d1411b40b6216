"""Grounding metrics: exact values with a transparent fake embedder, the judge path with fakes,
and the real MiniLM scorer against HaluEval (right vs hallucinated answers)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from numpy.typing import NDArray
from sklearn.metrics import roc_auc_score
from sklearn.metrics.pairwise import cosine_similarity

from _data import SHARED_DATA
from promptops.llm.types import ChatRequest, Completion
from promptops.rag.grounding import (
    CLAIM_WEIGHT,
    DEFAULT_THRESHOLD,
    LEXICAL_WEIGHT,
    GroundingResult,
    GroundingScorer,
    JudgeVerdict,
    LLMJudge,
    aggregate,
    apply_judge,
    lexical_support,
    soft_token_recall,
)

ROOT = Path(__file__).resolve().parent.parent
HALUEVAL = SHARED_DATA / "halueval" / "qa_one-turn_data.json"


class WordEmbed:
    """One-hot vector per lowercased word: soft token recall becomes exact word recall."""

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.vocab: dict[str, int] = {}
        self.calls = 0

    def __call__(self, texts: Sequence[str]) -> list[NDArray[np.float32]]:
        self.calls += 1
        out = []
        for text in texts:
            words = re.findall(r"\w+", text.lower())
            matrix = np.zeros((len(words), self.dim), dtype=np.float32)
            for row, word in enumerate(words):
                matrix[row, self.vocab.setdefault(word, len(self.vocab))] = 1.0
            out.append(matrix)
        return out


PASSAGES = [
    "Paris is the capital of France. It has about 2 million inhabitants.",
    "Berlin is the capital of Germany.",
]


def scorer(
    weight: float = 0.5, threshold: float = 0.75, claim_weight: float = 0.5
) -> GroundingScorer:
    return GroundingScorer(
        WordEmbed(), lexical_weight=weight, claim_weight=claim_weight, threshold=threshold
    )


def test_validity_coverage_and_invalid_numbers() -> None:
    answer = "Paris is the capital of France [1]. Rome is the capital of Spain [3][1]. It is."
    result = scorer().score(answer, PASSAGES)
    assert [s.citations for s in result.sentences] == [(1,), (3, 1), ()]
    assert result.invalid_citations == (3,)
    assert result.validity == pytest.approx(2 / 3)  # three cited numbers, one missing
    assert result.coverage == pytest.approx(2 / 3)  # two of three sentences cite
    assert [s.evidence for s in result.sentences] == [(1,), (1,), (1, 2)]


def test_support_uses_only_the_cited_passage() -> None:
    result = scorer().score("Berlin is the capital of Germany [1].", PASSAGES)
    sentence = result.sentences[0]
    # content words {berlin, capital, germany}; passage 1 has only "capital"
    assert sentence.lexical == pytest.approx(1 / 3)
    # word pieces berlin is the capital of germany: 4 of 6 appear in passage 1
    assert sentence.semantic == pytest.approx(4 / 6)
    # claim spans: entities Berlin and Germany, the word "capital": only the word is found
    assert sentence.claims == pytest.approx(1 / 3)
    assert [(c.kind, c.text) for c in sentence.missing_claims] == [
        ("entity", "Berlin"),
        ("entity", "Germany"),
    ]
    assert sentence.reasons == [
        'entity "Berlin" not found in [1]',
        'entity "Germany" not found in [1]',
    ]
    words = 0.5 * (1 / 3) + 0.5 * (4 / 6)
    assert sentence.support == pytest.approx(0.5 * (1 / 3) + 0.5 * words)
    uncited = scorer().score("Berlin is the capital of Germany.", PASSAGES).sentences[0]
    assert uncited.evidence == (1, 2)
    assert uncited.lexical == 1.0 and uncited.claims == 1.0 and uncited.support == 1.0
    assert uncited.reasons == []


def test_support_formula_threshold_and_rates() -> None:
    answer = "Paris has 2 million inhabitants [1]. Paris has 9 million cars [1]. It is."
    result = scorer(weight=0.8, threshold=0.75).score(answer, PASSAGES)
    first, second, third = result.sentences
    assert first.lexical == 1.0 and first.semantic == 1.0 and first.supported
    # content words {paris, 9, million, cars}: 2 found; pieces paris has 9 million cars: 3 found
    assert second.lexical == pytest.approx(2 / 4)
    assert second.semantic == pytest.approx(3 / 5)
    # spans: Paris, 9, "9 million", "million car", million, car: Paris and million found
    assert second.claims == pytest.approx(2 / 6)
    assert {c.text for c in second.missing_claims} == {"9", "9 million", "million car", "car"}
    assert first.claims == 1.0 and first.missing_claims == ()
    assert second.support == pytest.approx(0.5 * (2 / 6) + 0.5 * (0.8 * 0.5 + 0.2 * 0.6))
    assert not second.supported
    # "It is." has no content words and no claim spans: the semantic signal and claims 1.0
    assert third.lexical is None and third.claims == 1.0
    assert third.support == third.semantic == 1.0
    assert result.support == pytest.approx((1.0 + second.support + 1.0) / 3)
    assert result.unsupported_rate == pytest.approx(1 / 3)
    assert scorer(threshold=0.4).score(answer, PASSAGES).unsupported_rate == 0.0


def test_empty_answer_and_empty_context() -> None:
    empty = scorer().score("", PASSAGES)
    assert empty.sentences == ()
    assert (empty.validity, empty.coverage, empty.support, empty.unsupported_rate) == (
        None,
        None,
        None,
        None,
    )
    nothing = scorer().score("Paris is nice [1].", [])
    assert nothing.validity == 0.0 and nothing.invalid_citations == (1,)
    assert nothing.sentences[0].evidence == ()
    assert nothing.support == 0.0 and nothing.unsupported_rate == 1.0


def test_lexical_support_reference_values() -> None:
    claim = "Paris hosts the 2024 Olympics"
    assert lexical_support(claim, ["Paris will host the Olympics in 2024."]) == 0.75
    assert lexical_support(claim, ["Paris", "2024 Olympics hosts"]) == 1.0
    assert lexical_support("It is what it is.", ["anything"]) is None


def test_soft_token_recall_matches_sklearn_cosine() -> None:
    rng = np.random.default_rng(5)
    claim = rng.normal(size=(7, 16)).astype(np.float32)
    evidence = [rng.normal(size=(n, 16)).astype(np.float32) for n in (3, 5)]
    norm = [m / np.linalg.norm(m, axis=1, keepdims=True) for m in (claim, *evidence)]
    expected = cosine_similarity(claim, np.vstack(evidence)).max(axis=1).mean()
    assert soft_token_recall(norm[0], norm[1:]) == pytest.approx(
        float(np.clip(expected, 0, 1)), abs=1e-6
    )
    assert soft_token_recall(norm[0], []) == 0.0
    assert soft_token_recall(-norm[1], norm[1:2]) >= 0.0


def test_score_many_embeds_once_and_matches_score() -> None:
    embed = WordEmbed()
    many = GroundingScorer(embed).score_many(
        [("Paris is the capital [1].", PASSAGES), ("Berlin [2].", PASSAGES)]
    )
    assert embed.calls == 1
    single = GroundingScorer(WordEmbed()).score("Berlin [2].", PASSAGES)
    assert many[1] == single


def test_records_are_strict_json_and_aggregate_skips_undefined() -> None:
    results = [
        scorer().score("Paris is the capital of France [1].", PASSAGES),
        scorer().score("Berlin is big.", PASSAGES),
        scorer().score("", PASSAGES),
    ]
    for result in results:
        json.dumps(result.to_record(), allow_nan=False)
    second = results[1].to_record()["sentences"][0]
    assert second["missing_claims"] == [{"kind": "word", "text": "big"}]
    assert second["reasons"] == ['word "big" not found in [1], [2]']
    summary = aggregate(results)
    assert summary["answers"] == 3 and summary["sentences"] == 2
    assert summary["validity"] == 1.0  # only the first answer cites
    assert summary["coverage"] == pytest.approx(0.5)
    json.dumps(summary, allow_nan=False)
    with pytest.raises(ValueError, match="lexical_weight"):
        GroundingScorer(WordEmbed(), lexical_weight=1.5)
    with pytest.raises(ValueError, match="claim_weight"):
        GroundingScorer(WordEmbed(), claim_weight=-0.1)


class KeywordJudge:
    def __init__(self) -> None:
        self.seen: list[tuple[str, list[str]]] = []

    async def judge(self, sentence: str, passages: Sequence[str]) -> JudgeVerdict:
        self.seen.append((sentence, list(passages)))
        if "boom" in sentence.lower():
            raise TimeoutError("judge timed out")
        return JudgeVerdict(supported=any(sentence.split()[0] in p for p in passages))


def test_apply_judge_records_failures_as_errors_not_scores() -> None:
    answer = "Paris is the capital [1]. Rome is the capital [2]. Boom goes the judge."
    judge = KeywordJudge()
    result = asyncio.run(apply_judge(scorer().score(answer, PASSAGES), PASSAGES, judge))
    verdicts = [s.verdict for s in result.sentences]
    assert verdicts[0] == JudgeVerdict(supported=True)
    assert verdicts[1] == JudgeVerdict(supported=False)
    assert verdicts[2] is not None and verdicts[2].supported is None
    assert verdicts[2].error == "TimeoutError: judge timed out"
    assert result.judge_errors == 1
    assert result.judge_unsupported_rate == 0.5  # errors are left out, never NaN
    assert judge.seen[1][1] == [PASSAGES[1]]  # the judge sees the sentence's own evidence
    assert json.loads(json.dumps(result.to_record(), allow_nan=False))["judge_errors"] == 1


class FakeClient:
    def __init__(self, completion: Completion) -> None:
        self.completion = completion
        self.requests: list[ChatRequest] = []

    async def complete(self, request: ChatRequest) -> Completion:
        self.requests.append(request)
        return self.completion


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        (Completion(text="supported", label="supported"), JudgeVerdict(supported=True)),
        (Completion(text="unsupported", label="unsupported"), JudgeVerdict(supported=False)),
        (
            Completion(text="maybe?", label=None, invalid=True),
            JudgeVerdict(supported=None, error="unparseable judge answer: 'maybe?'"),
        ),
        (
            Completion(text=None, error="read timed out", error_kind="timeout"),
            JudgeVerdict(supported=None, error="timeout: read timed out"),
        ),
    ],
)
def test_llm_judge_maps_completions(completion: Completion, expected: JudgeVerdict) -> None:
    client = FakeClient(completion)
    verdict = asyncio.run(LLMJudge(client).judge("Paris is big.", ["Paris is big.", "More."]))
    assert verdict == expected
    request = client.requests[0]
    assert request.labels == ("supported", "unsupported")
    assert request.temperature == 0.0
    assert "[1] Paris is big.\n\n[2] More." in request.messages[-1][1]


# --- with the real embedding model ---


def _benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "halueval_grounding", ROOT / "benchmarks" / "halueval_grounding.py"
    )
    sys.path.insert(0, str(ROOT / "benchmarks"))  # it imports covidqa_pairs beside it
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_real_model_flags_the_wrong_capital() -> None:
    result = GroundingScorer().score(
        "Paris is the capital of France [1]. Berlin is the capital of Spain [2].", PASSAGES
    )
    right, wrong = result.sentences
    assert right.support > DEFAULT_THRESHOLD > wrong.support
    assert right.semantic > 0.95 and wrong.semantic < 0.9
    assert result.unsupported_rate == 0.5


@pytest.mark.slow
@pytest.mark.skipif(not HALUEVAL.exists(), reason="needs the HaluEval source data")
def test_halueval_auroc_on_held_out_questions() -> None:
    """120 held-out questions (the first of the seeded held-out half; ~30 s on a CPU).

    The benchmark measured on the whole held-out half: support 0.974, claims alone 0.968,
    the earlier word-only support 0.917. Floors are below those; the combination must beat
    the word-only score it replaced.
    """
    bench = _benchmark()
    pairs = bench.load_pairs(HALUEVAL)
    assert len(pairs) == 500
    dev_rows, held_rows = bench.split(len(pairs))
    assert not set(dev_rows) & set(held_rows) and len(held_rows) == 250
    results, labels = bench.score_pairs([pairs[i] for i in held_rows[:120]], GroundingScorer())
    assert isinstance(results[0], GroundingResult)
    support = roc_auc_score(labels, [r.support for r in results])
    words = roc_auc_score(labels, bench.answer_scores(results, LEXICAL_WEIGHT))
    claims = roc_auc_score(labels, bench.answer_scores(results, None, 1.0))
    assert support >= 0.95
    assert claims >= 0.93
    assert support > words
    assert CLAIM_WEIGHT == 0.95 and DEFAULT_THRESHOLD == 0.95  # the benchmark's fit
