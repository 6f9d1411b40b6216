"""Task plumbing: prompt `task:` validation, per-task `expected` checks, suite thresholds,
evalset `time`, temporal leakage and `split: auto`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from promptops.errors import EvalsetError, UserInputError
from promptops.evals.evalset import load_evalset
from promptops.evals.temporal import assign_splits, temporal_findings
from promptops.prompts import Prompt
from promptops.prompts.model import TASK_NAMES
from promptops.tasks.suite import TaskSuite
from promptops.tasks.types import TASK_TYPES, check_expected

USER = [{"role": "user", "content": "{{ text }}"}]


def prompt(**fields: object) -> Prompt:
    return Prompt.model_validate({"name": "p", "version": "1.0.0", "messages": USER, **fields})


def test_the_five_task_types_classification_first() -> None:
    assert TASK_NAMES[0] == "classification"
    assert tuple(name for name, _ in TASK_TYPES) == TASK_NAMES
    with pytest.raises(ValidationError) as err:
        prompt(task="ranking")
    assert all(name in str(err.value) for name in TASK_NAMES)


def test_binary_needs_two_labels_and_a_positive_one() -> None:
    ok = prompt(task="binary", labels=["yes", "no"], positive_label="yes")
    assert ok.positive_label == "yes"
    with pytest.raises(ValidationError, match="positive_label"):
        prompt(task="binary", labels=["yes", "no"])
    with pytest.raises(ValidationError, match="exactly two labels"):
        prompt(task="binary", labels=["a", "b", "c"], positive_label="a")
    with pytest.raises(ValidationError, match="only for binary"):
        prompt(task="classification", labels=["a", "b"], positive_label="a")


def test_scoring_needs_a_range_and_number_labels_inside_it() -> None:
    ok = prompt(task="scoring", range=[0, 5], labels=["0", "5"])
    assert ok.score_range == (0, 5)
    with pytest.raises(ValidationError, match="range"):
        prompt(task="scoring")
    with pytest.raises(ValidationError, match="lo must be below hi"):
        prompt(task="scoring", range=[5, 0])
    with pytest.raises(ValidationError, match="not a number within"):
        prompt(task="scoring", range=[0, 5], labels=["0", "9"])


def test_new_fields_leave_old_content_hashes_alone() -> None:
    old = prompt(task="classification", labels=["a", "b"])
    assert "positive_label" not in old.canonical_content()
    assert "score_range" not in old.canonical_content()
    binary = prompt(task="binary", labels=["a", "b"], positive_label="a")
    other = prompt(task="binary", labels=["a", "b"], positive_label="b")
    assert binary.content_hash != other.content_hash


def _write(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_expected_is_checked_per_task_naming_file_and_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            {"input": {"text": "a"}, "expected": "4.5"},
            {"input": {"text": "b"}, "expected": "five"},
            {"input": {"text": "c"}, "expected": 7},
        ],
    )
    scoring = prompt(task="scoring", range=[0, 5])
    with pytest.raises(EvalsetError) as err:
        check_expected(load_evalset(path), scoring, str(path))
    text = str(err.value)
    assert f"{path}:2" in text and "not a number" in text
    assert f"{path}:3" in text and "outside the prompt's range" in text
    assert f"{path}:1" not in text
    binary = prompt(task="binary", labels=["yes", "no"], positive_label="yes")
    with pytest.raises(EvalsetError, match="not one of the labels"):
        check_expected(load_evalset(path), binary, str(path))


def test_thresholds_read_as_bounds() -> None:
    suite = TaskSuite.model_validate(
        {
            "name": "s",
            "prompt": "p",
            "evalset": "e.jsonl",
            "thresholds": {"pr_auc": ">= 0.6", "mae": "<= 0.8", "f1": {"min": 0.5}},
        }
    )
    assert suite.thresholds["pr_auc"].min == 0.6
    assert suite.thresholds["mae"].max == 0.8
    with pytest.raises(ValidationError, match="write a bound"):
        TaskSuite.model_validate(
            {"name": "s", "prompt": "p", "evalset": "e", "thresholds": {"f1": "> 1"}}
        )


def _timed(tmp_path: Path) -> Path:
    rows = []
    for i in range(10):
        rows.append(
            {
                "id": f"c{i}",
                "input": {"text": f"t{i}"},
                "expected": "a",
                "split": "auto",
                "time": f"2026-01-{i + 1:02d}T00:00:00Z",
            }
        )
    return _write(tmp_path, rows)


def test_time_is_iso_8601_and_a_bad_one_names_the_line(tmp_path: Path) -> None:
    cases = load_evalset(_timed(tmp_path))
    assert cases[0].time is not None and cases[0].time.year == 2026
    bad = _write(
        tmp_path,
        [
            {"input": {"text": "x"}, "time": "yesterday"},
            {"input": {"text": "y"}, "time": 1700000000},
        ],
    )
    with pytest.raises(EvalsetError) as err:
        load_evalset(bad)
    assert f"{bad}:1" in str(err.value) and "ISO 8601" in str(err.value)
    assert f"{bad}:2" in str(err.value)


def test_split_auto_splits_by_time_earliest_train_latest_test(tmp_path: Path) -> None:
    cases = load_evalset(_timed(tmp_path))
    assignment = assign_splits(cases, all_rows=False)
    assert assignment.by == "time"
    assert [assignment.splits[f"c{i}"] for i in range(10)] == ["train"] * 6 + ["dev"] * 2 + [
        "test"
    ] * 2
    again = assign_splits(cases, all_rows=False)
    assert again.splits == assignment.splits
    untimed = load_evalset(
        _write(tmp_path, [{"id": f"u{i}", "input": {"text": "x"}} for i in range(200)])
    )
    hashed = assign_splits(untimed, all_rows=True)
    assert hashed.by == "hash"
    shares = {s: list(hashed.splits.values()).count(s) / 200 for s in ("train", "dev", "test")}
    assert 0.45 < shares["train"] < 0.75 and 0.1 < shares["dev"] < 0.3


def test_temporal_leakage_fails_or_warns_as_the_suite_says(tmp_path: Path) -> None:
    rows = [
        {"id": "old-test", "input": {"text": "a"}, "split": "test", "time": "2026-01-01"},
        {"id": "new-train", "input": {"text": "b"}, "split": "train", "time": "2026-02-01"},
        {"id": "old-train", "input": {"text": "c"}, "split": "train", "time": "2025-12-01"},
        {"id": "no-time", "input": {"text": "d"}, "split": "dev"},
    ]
    cases = load_evalset(_write(tmp_path, rows))
    with pytest.raises(UserInputError, match="temporal leakage: 1 train/dev row"):
        temporal_findings(cases, fail=True, path="x.jsonl")
    found = temporal_findings(cases, fail=False, path="x.jsonl")
    assert found[0].severity == "warning" and found[0].details[0].startswith("new-train")
    clean = [c for c in cases if c.id != "new-train"]
    assert temporal_findings(clean, fail=True, path="x.jsonl")[0].severity == "info"
