"""Binary and scoring evals end to end against the real local OpenAI-compatible server, the
regression check against a saved baseline, and `promptops init --task`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, mean_absolute_error, roc_auc_score

import promptops
from _regress_util import cli
from promptops.errors import EvalsetError
from promptops.lifecycle import EvalOptions, run_eval
from promptops.prompts import load_prompt
from promptops.prompts.model import TASK_NAMES
from promptops.tasks.starter import NAMES, starter_files
from promptops.tasks.summary import TaskSummary
from promptops.testing.openai_server import FakeOpenAIServer, last_user_message


def _unit(text: str) -> float:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 16**8


def leaning(shift: float) -> Any:
    """label_probs for "yes": a hash of the message, plus `shift` when it is a complaint."""

    def extra(body: dict[str, Any], text: str) -> dict[str, Any]:
        message = last_user_message(body)
        p = min(0.99, 0.5 * _unit(message) + (shift if "complaint" in message else 0.0))
        return {"label_probs": {"yes": p, "no": 1 - p}}

    return extra


def yes_no(body: dict[str, Any]) -> str:
    return json.dumps({"label": "yes" if "complaint" in last_user_message(body) else "no"})


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def _binary_project(root: Path, n: int = 30) -> None:
    (root / "prompts").mkdir()
    (root / "evalsets").mkdir()
    (root / "prompts" / "flag.yaml").write_text(
        "name: flag\nversion: 1.0.0\ntask: binary\nlabels: ['yes', 'no']\npositive_label: 'yes'\n"
        "messages:\n  - role: user\n    content: 'Complaint? {{ message }}'\n"
    )
    rows = []
    for split, count in (("train", n), ("dev", n // 2), ("test", n)):
        for i in range(count):
            bad = i % 4 == 0
            words = "complaint about the late order" if bad else "question about opening hours"
            rows.append(
                {
                    "id": f"{split}-{i}",
                    "input": {"message": f"{words} {split} {i}"},
                    "expected": "yes" if bad else "no",
                    "split": split,
                    "tags": ["odd" if i % 2 else "even"],
                }
            )
    (root / "evalsets" / "flag.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "evalsets" / "flag.yaml").write_text(
        "name: flag\nprompt: flag\nevalset: flag.jsonl\nthresholds:\n  pr_auc: '>= 0.6'\n"
        "  error_rate: '<= 0'\nbootstrap_samples: 200\nbaselines: [majority, tfidf_lr]\n"
    )


def _results(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_binary_run_scores_from_label_probabilities(project: Path) -> None:
    _binary_project(project)
    with FakeOpenAIServer(answer=yes_no, choice_extra=leaning(0.3)) as srv:
        outcome = run_eval(
            "flag", EvalOptions(base_url=srv.base_url, model="m", out=project / "run")
        )
    summary = outcome.summary
    assert isinstance(summary, TaskSummary)
    assert summary.kind == "binary" and summary.n_cases == 30
    rows = [r for r in _results(project / "run") if r["split"] == "test"]
    assert {"id", "expected", "raw_output", "answer"} <= set(rows[0])
    truth = np.array([r["expected"] == "yes" for r in rows])
    scores = np.array([r["answer"] for r in rows])
    assert summary.metrics["pr_auc"] == pytest.approx(average_precision_score(truth, scores))
    assert summary.metrics["roc_auc"] == pytest.approx(roc_auc_score(truth, scores))
    assert (
        summary.threshold_source is not None and "dev split (15 cases)" in summary.threshold_source
    )
    assert {b.name for b in summary.baselines} == {"majority", "tfidf_lr"}
    majority = next(b for b in summary.baselines if b.name == "majority")
    assert majority.comparison is not None and majority.comparison.prompt_better
    assert summary.passed and outcome.exit_code == 0
    assert {s.tag for s in summary.slices} == {"odd", "even"}
    report = (project / "run" / "report.md").read_text()
    assert "pr_auc (primary)" in report and (project / "run" / "report.html").is_file()
    saved = json.loads((project / "run" / "summary.json").read_text())
    assert saved["kind"] == "binary" and "pr_auc" in saved["metrics"]


def test_a_binary_run_resumes_dev_and_test_answers_apart(project: Path) -> None:
    """Dev rows and test rows carry their split and their index within it: a resumed run
    sends only the missing ones of each split and scores the same."""
    _binary_project(project)
    run = project / "run"
    with FakeOpenAIServer(answer=yes_no, choice_extra=leaning(0.3)) as srv:
        options = EvalOptions(base_url=srv.base_url, model="m", out=run, no_cache=True)
        first = run_eval("flag", options).summary
        lines = (run / "results.jsonl").read_text().splitlines()
        assert sorted({json.loads(line)["split"] for line in lines}) == ["dev", "test"]
        kept = [line for line in lines if json.loads(line)["id"] not in {"dev-3", "test-7"}]
        (run / "results.jsonl").write_text("".join(line + "\n" for line in kept))
        srv.reset()
        again = run_eval("flag", options).summary
        assert len(srv.requests) == 2
    rows = _results(run)
    assert len(rows) == 45 and len({(r["split"], r["index"]) for r in rows}) == 45
    assert isinstance(first, TaskSummary) and isinstance(again, TaskSummary)
    assert again.metrics == first.metrics and again.threshold == first.threshold


def test_a_binary_test_input_seen_in_dev_is_leakage(project: Path) -> None:
    """The threshold is tuned on dev answers, so dev counts as seen data for binary runs."""
    _binary_project(project)
    path = project / "evalsets" / "flag.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    test0 = next(r for r in rows if r["id"] == "test-0")
    next(r for r in rows if r["id"] == "dev-1")["input"] = dict(test0["input"])
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    options = EvalOptions(base_url="http://127.0.0.1:9/v1", model="m", out=project / "run")
    with pytest.raises(EvalsetError, match="leakage") as info:
        run_eval("flag", options)
    assert "test-0 ~ train:dev-1" in str(info.value) and not (project / "run").exists()


def test_without_dev_split_threshold_is_half_and_said(project: Path) -> None:
    _binary_project(project)
    path = project / "evalsets" / "flag.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows if r["split"] != "dev"))
    with FakeOpenAIServer(answer=yes_no, choice_extra=leaning(0.3)) as srv:
        done = promptops.run_suite("flag", base_url=srv.base_url, model="m", out="run")
    summary = done.summary  # the Python API runs a binary suite through the same lifecycle
    assert isinstance(summary, TaskSummary) and done.folder == Path("run")
    assert summary.threshold == 0.5
    assert summary.threshold_source == "default 0.5: no dev split"
    assert "default 0.5: no dev split" in (project / "run" / "report.md").read_text()


def test_scoring_counts_invalid_answers_and_never_clips(project: Path) -> None:
    (project / "prompts").mkdir()
    (project / "evalsets").mkdir()
    (project / "prompts" / "rate.yaml").write_text(
        "name: rate\nversion: 1.0.0\ntask: scoring\nrange: [0, 5]\n"
        "messages:\n  - role: user\n    content: 'Rate {{ text }}'\n"
    )
    rows = []
    for split, count in (("train", 12), ("dev", 4), ("test", 12)):
        for i in range(count):
            rows.append(
                {
                    "id": f"{split}-{i}",
                    "input": {"text": f"item {i % 6} of {split}"},
                    "expected": i % 6 * 0.9,
                    "split": split,
                }
            )
    (project / "evalsets" / "rate.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (project / "evalsets" / "rate.yaml").write_text(
        "name: rate\nprompt: rate\nevalset: rate.jsonl\nthresholds: {invalid_rate: '<= 0.5'}\n"
        "baselines: [train_mean, tfidf_ridge]\nbootstrap_samples: 200\n"
    )

    def answer(body: dict[str, Any]) -> str:
        i = int(last_user_message(body).split()[2])
        return {0: "7", 1: "about 1"}.get(i, str(i - 0.5))

    with FakeOpenAIServer(answer=answer) as srv:
        outcome = run_eval(
            "rate", EvalOptions(base_url=srv.base_url, model="m", out=project / "run", repeat=2)
        )
    summary = outcome.summary
    assert isinstance(summary, TaskSummary)
    assert summary.kind == "scoring" and summary.n_invalid == 4
    reasons = {c.reason for c in summary.invalid_cases}
    assert any("outside the range" in (r or "") for r in reasons)
    valid = [
        r for r in _results(project / "run") if r["split"] == "test" and r["answer"] is not None
    ]
    assert all(r["answer"] <= 5 for r in valid)
    truth = [float(r["expected"]) for r in valid]
    assert summary.metrics["mae"] == pytest.approx(
        mean_absolute_error(truth, [r["answer"] for r in valid])
    )
    assert summary.metrics["invalid_rate"] == pytest.approx(4 / 12)
    assert sum(p.n for p in summary.calibration) == 8
    assert summary.repeats is not None and summary.repeats.samples == 2
    assert summary.repeats.mean_agreement == 1.0  # the fake server answers alike


def test_a_regression_against_the_saved_baseline_exits_1(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _binary_project(project, n=60)
    with FakeOpenAIServer(answer=yes_no, choice_extra=leaning(0.3)) as srv:
        code, out, err = cli(
            ["eval", "flag", "--base-url", srv.base_url, "--model", "m", "--out", "good"],
            monkeypatch,
            capsys,
        )
    assert code == 0, err
    code, out, err = cli(["baseline", "save", "good"], monkeypatch, capsys)
    assert code == 0 and (project / "baselines" / "flag.json").is_file(), err
    with FakeOpenAIServer(answer=yes_no, choice_extra=leaning(0.3)) as srv:
        code, out, _ = cli(
            [
                "eval",
                "flag",
                "--base-url",
                srv.base_url,
                "--model",
                "m",
                "--out",
                "same",
                "--against-baseline",
                "--no-cache",
            ],
            monkeypatch,
            capsys,
        )
    assert code == 0 and "identical" in out
    with FakeOpenAIServer(answer=yes_no, choice_extra=leaning(0.0)) as srv:
        code, out, _ = cli(
            [
                "eval",
                "flag",
                "--base-url",
                srv.base_url,
                "--model",
                "m",
                "--out",
                "worse",
                "--against-baseline",
                "--no-cache",
            ],
            monkeypatch,
            capsys,
        )
    assert code == 1 and "REGRESSION" in out


def test_classification_refuses_temporal_leakage(project: Path) -> None:
    from _eval_util import make_project
    from promptops.lifecycle import EvalOptions, run_eval

    make_project(project)
    path = project / "evalsets" / "router.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for i, r in enumerate(rows):
        r["time"] = f"2026-0{1 + (i % 2)}-01" if r["split"] == "train" else "2026-01-15"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(EvalsetError, match="temporal leakage"):
        run_eval(
            "router", EvalOptions(base_url="http://127.0.0.1:9/v1", model="m", out=project / "run")
        )


@pytest.mark.parametrize("task", TASK_NAMES)
def test_init_writes_a_starter_that_loads(
    task: str, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = cli(["init", "--task", task], monkeypatch, capsys)
    assert code == 0
    files = starter_files(task)
    assert all((project / rel).is_file() for rel in files)
    assert load_prompt(project / "prompts" / f"{NAMES[task]}.yaml").task == task
    splits = {
        json.loads(line)["split"]
        for line in (project / "evalsets" / NAMES[task] / "cases.jsonl").read_text().splitlines()
    }
    assert splits == {"train", "dev", "test"}
    assert any(str(rel).startswith(".github/workflows/") for rel in files)
    code, _, err = cli(["init", "--task", task], monkeypatch, capsys)
    assert code == 2 and f"prompts/{NAMES[task]}.yaml" in err


def test_init_binary_project_runs_as_it_is(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["init", "--task", "binary"], monkeypatch, capsys)[0] == 0
    with FakeOpenAIServer(answer=yes_no, choice_extra=leaning(0.3)) as srv:
        code, out, err = cli(
            ["eval", NAMES["binary"], "--base-url", srv.base_url, "--model", "m", "--out", "run"],
            monkeypatch,
            capsys,
        )
    assert code == 0, out + err
    assert (project / "run" / "report.md").is_file()
