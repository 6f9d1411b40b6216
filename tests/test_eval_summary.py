"""The summary's slices, worst cases and repeats, computed from joint counts and picks while
reading `results.jsonl`, against direct computations over every record (scikit-learn for the
scores). The results file is written here: some cases have no line, some are errors, some
answer outside the labels, and repeats disagree."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from promptops.evals import summarize as sm
from promptops.evals.columns import TestColumns as Columns
from promptops.evals.evalset import Case
from promptops.evals.metrics import classification_metrics_codes
from promptops.evals.results import read_results

LABELS = ("billing", "delivery", "account", "refund")
N, K = 400, 3


def _cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(N):
        tags = (f"channel:{'web' if i % 3 else 'app'}", f"tier:{rng.choice(['a', 'b', 'c'])}")
        label = str(rng.choice(LABELS[:3] if i % 5 == 0 else LABELS))
        cases.append(Case(f"case-{i}", {"message": f"m{i}"}, label, "test", tags, i + 1))
    return cases


def _records(rng: np.random.Generator, cases: list[Case]) -> list[dict[str, Any]]:
    """Every sample of every case but a few missing ones, in a shuffled (completion) order."""
    records = []
    for index, case in enumerate(cases):
        if index % 37 == 5:
            continue  # never answered: not evaluated
        for sample in range(K):
            u = rng.random()
            error = u < 0.04
            if error:
                predicted = None
            elif u < 0.08:
                predicted = "weather"  # outside the labels: invalid
            elif u < 0.7:
                predicted = case.expected
            else:
                predicted = str(rng.choice(LABELS))
            probs = rng.dirichlet(np.ones(len(LABELS)))
            label_probs = None if error else dict(zip(LABELS, np.round(probs, 2), strict=True))
            records.append(
                {
                    "id": case.id,
                    "index": index,
                    "sample": sample,
                    "input": case.input,
                    "expected": case.expected,
                    "predicted": predicted if predicted in LABELS else None,
                    "invalid": predicted == "weather",
                    "error": "HTTP 503" if error else None,
                    "raw_output": predicted,
                    "label_probs": label_probs,
                    "latency_s": 0.01,
                    "prompt_tokens": 10,
                    "completion_tokens": 1,
                    "cost_usd": 0.0,
                    "cached": False,
                }
            )
    order = rng.permutation(len(records))
    return [records[i] for i in order]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    rng = np.random.default_rng(42)
    cases = _cases(rng)
    records = _records(rng, cases)
    path = tmp_path_factory.mktemp("run") / "results.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    columns = Columns.of(LABELS, cases)
    outcomes, _, samples = read_results(path, columns, repeat=K, worst=7, per_class=2)
    headline = {r["index"]: r for r in records if r["sample"] == 0}
    return {
        "cases": cases,
        "records": records,
        "headline": [headline[i] for i in sorted(headline)],
        "columns": columns,
        "outcomes": outcomes,
        "samples": samples,
    }


def _answer(record: dict[str, Any]) -> str:
    return record["predicted"] if record["predicted"] is not None else "__invalid__"


def test_only_answered_cases_are_scored_and_match_sklearn(run: dict[str, Any]) -> None:
    outcomes, headline = run["outcomes"], run["headline"]
    assert len(outcomes) == len(headline) < N
    assert outcomes.positions is not None
    assert outcomes.positions.tolist() == [r["index"] for r in headline]
    got = classification_metrics_codes(outcomes.true, outcomes.pred, LABELS)
    y_true = [r["expected"] for r in headline]
    y_pred = [_answer(r) for r in headline]
    assert got.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    expected = f1_score(y_true, y_pred, labels=list(LABELS), average="macro", zero_division=0)
    assert got.macro_f1 == pytest.approx(expected)
    assert int(outcomes.errors.sum()) == sum(1 for r in headline if r["error"])


def test_slices_equal_sklearn_on_each_tags_cases(run: dict[str, Any]) -> None:
    rows, gap = sm.slices(run["outcomes"], run["columns"])
    by_tag: dict[str, list[dict[str, Any]]] = {}
    for record in run["headline"]:
        for tag in run["cases"][record["index"]].tags:
            by_tag.setdefault(tag, []).append(record)
    assert [r.tag for r in rows] == sorted(by_tag)
    for row in rows:
        members = by_tag[row.tag]
        y_true = [r["expected"] for r in members]
        y_pred = [_answer(r) for r in members]
        present = sorted(set(y_true))
        assert row.n == len(members)
        assert row.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
        reference = f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
        assert row.macro_f1 == pytest.approx(reference)
    assert gap is not None
    family = [r for r in rows if r.tag.split(":")[0] == gap.tag_a.split(":")[0]]
    assert gap.gap == pytest.approx(
        max(r.accuracy for r in family) - min(r.accuracy for r in family)
    )


def test_worst_cases_are_those_sorting_every_record_gives(run: dict[str, Any]) -> None:
    outcomes, headline = run["outcomes"], run["headline"]
    metrics = sm.metrics_model(
        classification_metrics_codes(outcomes.true, outcomes.pred, LABELS, outcomes.probs())
    )
    worst = sm.worst_cases(outcomes, metrics)
    wrong = [r for r in headline if not r["error"] and r["predicted"] != r["expected"]]

    def confidence(r: dict[str, Any]) -> float:
        return float(r["label_probs"].get(r["predicted"], 0.0)) if r["predicted"] else 0.0

    ranked = sorted(wrong, key=lambda r: (-confidence(r), r["index"]))[:7]
    assert [c.id for c in worst.confident_wrong] == [r["id"] for r in ranked]
    assert [c.id for c in worst.errors] == [r["id"] for r in headline if r["error"]][:7]
    for group in worst.lowest_recall:
        firsts = [r["id"] for r in wrong if r["expected"] == group.label][:2]
        assert [c.id for c in group.examples] == firsts
    recalls = sorted((s.recall, label) for label, s in metrics.per_class.items())[:3]
    assert [g.label for g in worst.lowest_recall] == [label for _, label in recalls]


def test_repeats_agreement_pass_k_and_flaky_ids(run: dict[str, Any]) -> None:
    outcomes, cases = run["outcomes"], run["cases"]
    samples: dict[int, dict[int, str | None]] = {}
    for r in run["records"]:
        samples.setdefault(r["index"], {})[r["sample"]] = r["predicted"]
    result = sm.repeats(outcomes, run["samples"], lambda at: [cases[i].id for i in at.tolist()])
    assert result is not None and result.k == K
    agreement, all_right, flaky = [], [], []
    for index in sorted(samples):
        answers = [samples[index][s] for s in range(K)]
        top = Counter(answers).most_common(1)[0][1] / K
        agreement.append(top)
        all_right.append(all(a == cases[index].expected for a in answers))
        if top < 1:
            flaky.append(cases[index].id)
    assert result.mean_agreement == pytest.approx(np.mean(agreement))
    assert result.pass_hat_k == pytest.approx(np.mean(all_right))
    assert result.flaky_cases == sorted(flaky) and 0 < len(flaky) < len(samples)
