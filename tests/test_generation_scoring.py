"""Generation metrics against rouge-score and sacrebleu called directly on the shipped E2E
cases (empty outputs and empty references included), assertions, judge and baseline."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from pydantic import TypeAdapter
from rouge_score.rouge_scorer import RougeScorer
from sacrebleu import corpus_bleu, corpus_chrf
from sklearn.metrics import cohen_kappa_score

from promptops.tasks.generation.assertions import (
    Answer,
    AssertionSpec,
    run_checks,
    summarize_checks,
)
from promptops.tasks.generation.judge import (
    Grade,
    JudgeSpec,
    agreement,
    cohen_kappa,
    human_label,
    read_grade,
    summarize_grades,
)
from promptops.tasks.generation.nearest import fit_nearest
from promptops.tasks.generation.textmetrics import corpus_stats, reference_scores
from promptops.tasks.resample import sums_ci, wilson

ROOT = Path(__file__).resolve().parent.parent
ROWS = [
    json.loads(line)
    for line in (ROOT / "evalsets" / "e2e" / "e2e.jsonl").read_text("utf-8").splitlines()
]
TEST = [row for row in ROWS if row["split"] == "test"]
TRAIN = [row for row in ROWS if row["split"] == "train"]


def _outputs(seed: int) -> list[str]:
    """Plausible, bad and empty answers: another case's reference, a shuffled reference, a
    truncated one, and the empty string."""
    rng = random.Random(seed)
    out = []
    for i, row in enumerate(TEST):
        ref = row["expected"][0]
        kind = i % 4
        if kind == 0:
            out.append(TEST[(i + 7) % len(TEST)]["expected"][-1])
        elif kind == 1:
            words = ref.split()
            rng.shuffle(words)
            out.append(" ".join(words))
        elif kind == 2:
            out.append(" ".join(ref.split()[: rng.randint(1, 8)]))
        else:
            out.append("" if i % 8 == 3 else ref.lower())
    return out


@pytest.mark.parametrize("stemming", [False, True])
def test_rouge_equals_rouge_score_best_over_references(stemming: bool) -> None:
    outputs = _outputs(1)
    expected = [row["expected"] for row in TEST]
    expected[5] = []  # no reference: left out, not scored 0
    expected[6] = ["", "   "]
    scores = reference_scores(outputs, expected, stemming=stemming)
    assert scores.no_reference == 2 and 5 not in scores.scored and 6 not in scores.scored
    scorer = RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=stemming)
    for name, kind in (("rouge1", "rouge1"), ("rouge2", "rouge2"), ("rouge_l", "rougeL")):
        direct = [
            max(scorer.score(ref, outputs[i])[kind].fmeasure for ref in expected[i])
            for i in scores.scored
        ]
        assert scores.per_case[name] == pytest.approx(direct)
        assert scores.means()[name] == pytest.approx(np.mean(direct))
    assert min(scores.per_case["rouge1"]) == 0.0  # the empty outputs


def test_bleu_and_chrf_equal_sacrebleu_with_all_references() -> None:
    outputs = _outputs(2)
    refs = [row["expected"] for row in TEST]
    scores = reference_scores(outputs, refs, stemming=False)
    depth = max(map(len, refs))
    streams = [[r[i] if i < len(r) else None for r in refs] for i in range(depth)]
    assert scores.corpus["bleu"] == pytest.approx(corpus_bleu(outputs, streams).score / 100)
    assert scores.corpus["chrf"] == pytest.approx(corpus_chrf(outputs, streams).score / 100)
    for name in ("bleu", "chrf"):
        stats = corpus_stats(name, outputs, refs)
        ci = sums_ci(stats.rows, stats.score_of_sums, n_resamples=200)
        assert ci.estimate == pytest.approx(scores.corpus[name])
        assert ci.low < ci.estimate < ci.high


def test_assertions_three_outcomes_and_wilson_rates() -> None:
    specs = TypeAdapter(list[AssertionSpec]).validate_python(
        [
            {"type": "contains", "value": "restaurant", "ignore_case": True},
            {"type": "not-contains", "value": "As an AI"},
            {"type": "regex", "value": r"^[A-Z]"},
            {"type": "is-json", "schema": {"type": "object"}},
            {"type": "max-chars", "value": 40, "cases": ["b"]},
            {"type": "similar", "threshold": 0.5},
            {"type": "max-latency-ms", "value": 1000},
            {"type": "max-cost-usd", "value": 0.001, "tags": ["paid"]},
        ]
    )
    answers = [
        Answer("a", "The Mill is a restaurant.", ("The Mill restaurant",), (), 500.0, None),
        Answer("b", '{"name": "The Mill"} is what As an AI I answer', (), ("paid",), None, 0.002),
        Answer("c", None, ("x",), ("paid",), 10.0, 0.0),
        Answer("d", '{"name": "x"}', ("y",), (), 2000.0, None),
    ]
    checks = run_checks(specs, answers, lambda text, refs: 0.9 if "Mill" in text else 0.1)
    by_case = {a.id: {c.name: c.outcome for c in cs} for a, cs in zip(answers, checks, strict=True)}
    assert by_case["a"] == {
        "contains:restaurant": "pass",
        "not-contains:As an AI": "pass",
        "regex:^[A-Z]": "pass",
        "is-json:schema": "fail",
        "similar>=0.5": "pass",
        "max-latency-ms:1000": "pass",
    }
    assert by_case["b"]["max-chars:40"] == "fail" and by_case["b"]["similar>=0.5"] == "error"
    assert by_case["b"]["max-latency-ms:1000"] == "error"
    assert by_case["b"]["max-cost-usd:0.001"] == "fail"
    assert set(by_case["c"].values()) == {"error"}
    assert by_case["d"]["is-json:schema"] == "pass" and by_case["d"]["similar>=0.5"] == "fail"
    summary = {s.name: s for s in summarize_checks(checks)}
    sim = summary["similar>=0.5"]
    assert (sim.passed, sim.failed, sim.errors) == (1, 1, 2) and sim.pass_rate == 0.5
    assert (sim.low, sim.high) == pytest.approx(wilson(1, 2))


def test_wilson_matches_statsmodels() -> None:
    from statsmodels.stats.proportion import proportion_confint

    for k, n in ((0, 10), (3, 10), (10, 10), (57, 60)):
        assert wilson(k, n) == pytest.approx(proportion_confint(k, n, method="wilson"))


def test_judge_grades_are_strict_and_errors_are_not_fails() -> None:
    pf = JudgeSpec(prompt="j")
    assert read_grade("PASS", pf).outcome == "pass"
    assert read_grade(" no.", pf).outcome == "fail"
    assert read_grade('{"pass": false, "reason": "x"}', pf).outcome == "fail"
    assert read_grade("It passes, mostly", pf).outcome == "error"
    assert read_grade(None, pf).outcome == "error"
    score = JudgeSpec(prompt="j", answer="score", range=(1, 5), pass_at=4)
    assert read_grade("4", score) == Grade("pass", 4.0)
    assert read_grade('{"score": 2}', score) == Grade("fail", 2.0)
    assert read_grade("7", score).outcome == "error"
    assert read_grade("3 or 4", score).outcome == "error"
    with pytest.raises(ValueError):
        JudgeSpec(prompt="j", answer="score")
    grades = [read_grade(x, score) for x in ("5", "1", "banana", "4")]
    summary = summarize_grades(grades)
    assert (summary.graded, summary.errors, summary.passed) == (3, 1, 2)
    assert summary.mean_score == pytest.approx(10 / 3) and summary.error_rate == 0.25


def test_kappa_equals_scikit_learn_and_excludes_judge_errors() -> None:
    rng = np.random.default_rng(3)
    human = rng.random(120) < 0.6
    judge = np.where(rng.random(120) < 0.8, human, ~human)
    grades = [Grade("pass" if j else "fail", None) for j in judge]
    grades[0] = Grade("error", None, "x")
    humans: list[bool | None] = [bool(h) for h in human]
    humans[1] = None
    result = agreement(grades, humans, n_resamples=300)
    assert result is not None and result.n == 118 and result.judge_errors == 1
    keep = [i for i in range(120) if i not in (0, 1)]
    assert result.kappa == pytest.approx(cohen_kappa_score(human[keep], judge[keep]))
    assert result.low < result.kappa < result.high
    assert cohen_kappa([True, True], [True, True]) == 1.0
    assert human_label(("refs:multi", "human:fail")) is False
    assert agreement(grades, [None] * 120) is None


def test_nearest_reference_baseline_retrieves_similar_inputs() -> None:
    baseline = fit_nearest([r["input"]["mr"] for r in TRAIN], [r["expected"] for r in TRAIN])
    assert baseline.answer_all([TRAIN[3]["input"]["mr"]]) == [TRAIN[3]["expected"][0]]
    answers = baseline.answer_all([r["input"]["mr"] for r in TEST])
    scores = reference_scores(answers, [r["expected"] for r in TEST], stemming=True)
    assert 0.3 < scores.means()["rouge_l"] < 0.8


def test_worst_cases_name_an_errored_check_as_an_error_and_rank_failures_first() -> None:
    from promptops.tasks.generation.evaluate import _worst

    def record(case: str, outcomes: dict[str, str], rouge: float) -> dict[str, object]:
        checks = [{"name": n, "outcome": o} for n, o in outcomes.items()]
        return {
            "id": case,
            "raw_output": "x",
            "expected": ["y"],
            "rouge_l": rouge,
            "checks": checks,
        }

    cached = record("cached", {"max-latency-ms:60000": "error", "contains:a": "pass"}, 0.1)
    failed = record("failed", {"max-latency-ms:60000": "pass", "contains:a": "fail"}, 0.9)
    worst = _worst([cached, failed], limit=2)
    assert [w["id"] for w in worst] == ["failed", "cached"]
    assert worst[0]["failed_checks"] == ["contains:a"]
    assert worst[1]["failed_checks"] == ["max-latency-ms:60000 (error)"]
