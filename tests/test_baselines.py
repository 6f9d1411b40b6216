"""Baselines: fit on train only, predict the evaluated split, say plainly when they cannot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from promptops.errors import ConfigError
from promptops.evals.baselines import BASELINES, run_baselines
from promptops.evals.evalset import Case, load_evalset
from promptops.evals.metrics import classification_metrics

SHIPPED = Path(__file__).resolve().parent.parent / "evalsets" / "banking77" / "intent.jsonl"
CASES = load_evalset(SHIPPED)
LABELS = sorted({str(c.expected) for c in CASES})
TEST_TRUE = [str(c.expected) for c in CASES if c.split == "test"]


def _macro_f1(predictions: tuple[str, ...] | None) -> float:
    assert predictions is not None
    return classification_metrics(TEST_TRUE, list(predictions), LABELS).macro_f1


def test_registry_names() -> None:
    assert [name for name, _ in BASELINES] == ["majority", "tfidf_lr", "embedding_lr"]
    with pytest.raises(ConfigError, match=r"unknown baseline 'gpt' \(known: embedding_lr, "):
        run_baselines(CASES, LABELS, names=["gpt"])


def test_no_train_split_gives_could_not_fit_entries() -> None:
    test_only = [c for c in CASES if c.split == "test"]
    results = run_baselines(test_only, LABELS)
    assert [(r.name, r.error, r.predictions) for r in results] == [
        (name, "could not fit: no train split", None) for name, _ in BASELINES
    ]
    assert all(not r.ok and r.n_evaluated == len(test_only) for r in results)


def test_single_label_train_split_only_fits_majority() -> None:
    cases = [Case(f"t{i}", {"m": f"text {i}"}, "a", "train", (), i) for i in range(3)]
    cases.append(Case("x", {"m": "query"}, "b", "test", (), 9))
    results = {r.name: r for r in run_baselines(cases, ["a", "b"], names=["majority", "tfidf_lr"])}
    assert results["majority"].predictions == ("a",)
    assert results["tfidf_lr"].error == "could not fit: the train split has fewer than 2 labels"


def test_majority_uses_train_frequencies_and_label_order_for_ties() -> None:
    (result,) = run_baselines(CASES, LABELS, names=["majority"])
    assert result.predictions == (LABELS[0],) * 240  # balanced train: first label wins
    assert result.probabilities is not None
    assert np.allclose(result.probabilities, 1 / 6)
    assert _macro_f1(result.predictions) == pytest.approx((2 * 40 / (240 + 40)) / 6)
    skewed = [*CASES, Case("extra", {"message": "hi"}, "top_up_failed", "train", (), 999)]
    (result,) = run_baselines(skewed, LABELS, names=["majority"])
    assert result.predictions == ("top_up_failed",) * 240


def test_tfidf_lr_on_banking77_subset() -> None:
    (result,) = run_baselines(CASES, LABELS, names=["tfidf_lr"], seed=0)
    assert result.ok and result.n_evaluated == sum(c.split == "test" for c in CASES)
    assert result.probabilities is not None and result.probabilities.shape == (240, 6)
    assert np.allclose(result.probabilities.sum(axis=1), 1.0)
    assert result.predictions == tuple(LABELS[j] for j in result.probabilities.argmax(axis=1))
    assert _macro_f1(result.predictions) > 0.95
    (again,) = run_baselines(CASES, LABELS, names=["tfidf_lr"], seed=0)
    assert again.predictions == result.predictions


def test_labels_unseen_in_train_get_zero_probability() -> None:
    labels = [*LABELS, "card_swallowed"]
    (result,) = run_baselines(CASES, labels, names=["tfidf_lr"], eval_split="train")
    assert result.probabilities is not None and result.probabilities.shape == (300, 7)
    assert np.all(result.probabilities[:, -1] == 0.0)


@pytest.mark.slow
def test_embedding_lr_on_banking77_subset() -> None:
    (result,) = run_baselines(CASES, LABELS, names=["embedding_lr"], seed=0)
    assert result.ok and result.probabilities is not None
    assert result.probabilities.shape == (240, 6)
    assert _macro_f1(result.predictions) > 0.95


def test_a_classification_suite_names_unknown_baselines_at_its_line(tmp_path: Path) -> None:
    from promptops.errors import EvalsetError
    from promptops.evals.suite import ClassificationSuite, Suite
    from promptops.suites import load_suite

    suite = tmp_path / "s.yaml"
    suite.write_text(
        "name: s\nprompt: classify_intent\nevalset: x.jsonl\nbaselines: [majority, gpt]\n"
    )
    with pytest.raises(EvalsetError) as err:
        load_suite(str(suite), ClassificationSuite)
    assert f"{suite}:4: baselines" in str(err.value)
    assert "unknown baseline 'gpt' (known: embedding_lr, majority, tfidf_lr)" in str(err.value)
    loaded, _ = load_suite(str(suite), Suite)  # another kind's suite names its own baselines
    assert loaded.baselines == ("majority", "gpt")
