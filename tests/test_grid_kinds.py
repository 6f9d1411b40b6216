"""Grids beyond classification: 2 extraction prompts x 1 endpoint against the fake server,
the cells' primary metric read from their typed summaries and the pairs tested on per-case
field F1 (the extraction kind's own `score_case`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from _regress_util import cli
from promptops.testing.openai_server import FakeOpenAIServer
from test_task_kinds_run import _answer, project  # noqa: F401  (the fixture)

TERSE = "Answer with the first slot only."


def _two_prompts(body: dict[str, Any]) -> str:
    """The shipped prompt's answers; the terse prompt keeps the first slot of each."""
    answer = _answer(body)
    if TERSE not in json.dumps(body):
        return answer
    try:
        obj = json.loads(answer)
    except json.JSONDecodeError:
        return answer
    return json.dumps(dict(list(obj.items())[:1]))


def test_extraction_grid_reports_field_f1_and_pairwise_tests(
    project: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from promptops.experiments.scores import per_case_scores
    from promptops.tasks.extraction.scoring import parse_answer

    text = (project / "prompts" / "extract_slots.yaml").read_text("utf-8")
    terse = text.replace("name: extract_slots", "name: extract_slots_terse").replace(
        "Leave out slots the request does not mention.", TERSE
    )
    (project / "prompts" / "extract_slots_terse.yaml").write_text(terse, "utf-8")
    with FakeOpenAIServer(answer=_two_prompts) as server:
        args = ["eval", "slots", "--prompt", "extract_slots", "--prompt", "extract_slots_terse"]
        args += ["--base-url", server.base_url, "--model", "fake-model", "--out", "grid"]
        code, out, err = cli(args, monkeypatch, capsys)
    assert code == 0, err
    grid = project / "grid"
    summary = json.loads((grid / "grid.json").read_text())["summary"]
    assert summary["primary_metric"] == "field_f1"
    cells = {c["id"]: c for c in summary["cells"]}
    assert len(cells) == 2
    for cell_id, cell in cells.items():
        run = json.loads((grid / cell_id / "summary.json").read_text())
        interval = run["intervals"]["field_f1"]
        assert (cell["quality"], cell["quality_low"], cell["quality_high"]) == (
            interval["estimate"],
            interval["low"],
            interval["high"],
        )
        # per-case score: the field F1 of each answer, checked by hand on sets of pairs
        scores = per_case_scores(grid / cell_id)
        assert scores.kind == "extraction" and len(scores.rows) == 12
        for row in scores.rows.values():
            gold = set(json.loads(str(row.expected)).items())
            got = parse_answer(None if row.predicted is None else str(row.predicted), None).obj
            pred = set((got or {}).items())
            tp = len(gold & pred)
            f1 = 2 * tp / (len(gold) + len(pred)) if gold or pred else 1.0
            assert row.score == pytest.approx(f1)
    full, short = cells["extract_slots__fake-model"], cells["extract_slots_terse__fake-model"]
    assert full["quality"] > short["quality"] and full["mean_score"] > short["mean_score"]
    (pair,) = summary["pairs"]
    assert pair["n_shared"] == 12
    assert pair["diff"] == pytest.approx(
        (short["mean_score"] - full["mean_score"]) * (1 if pair["b"] == short["id"] else -1)
    )
    report = (grid / "report.md").read_text()
    assert "| Cell | Prompt | Endpoint | field_f1 |" in report
    assert "(field F1 per case)" in report and summary["kind"] == "extraction"
    assert summary["recommendation"] in out


ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("kind", ["binary", "scoring", "extraction", "generation"])
def test_every_kind_reads_its_primary_interval_from_the_typed_summary(kind: str) -> None:
    from promptops.experiments.grid_summary import primary_interval
    from promptops.lifecycle import run_kinds
    from promptops.runs.read import read_summary

    run_kinds()
    path = ROOT / "tests" / "golden" / kind / "summary.json"
    data = json.loads(path.read_text())
    name, estimate, low, high = primary_interval(read_summary(path))
    interval = data["intervals"][data["primary_metric"]]
    assert name == data["primary_metric"]
    assert (estimate, low, high) == (interval["estimate"], interval["low"], interval["high"])
    assert low <= estimate <= high


def _folder(tmp_path: Path, task: str, summary: dict[str, Any], rows: list[dict[str, Any]]) -> Path:
    folder = tmp_path / task
    folder.mkdir()
    (folder / "prompt.json").write_text(json.dumps({"task": task}))
    (folder / "summary.json").write_text(json.dumps(summary))
    lines = [json.dumps({"sample": 0, **r}) + "\n" for r in rows]
    (folder / "results.jsonl").write_text("".join(lines))
    return folder


def test_binary_is_right_or_wrong_at_the_runs_threshold(tmp_path: Path) -> None:
    from promptops.experiments.scores import per_case_scores

    rows = [
        {"id": "a", "expected": "spam", "answer": 0.31},  # positive at 0.3: right
        {"id": "b", "expected": "ham", "answer": 0.31},  # positive at 0.3: wrong
        {"id": "c", "expected": "ham", "answer": 0.29},  # negative: right
        {"id": "d", "expected": "spam", "answer": None, "invalid": True},  # invalid: wrong
        {"id": "e", "expected": "spam", "answer": 0.9, "error": "boom"},  # failed: wrong
    ]
    summary = {"positive_label": "spam", "threshold": 0.3}
    scores = per_case_scores(_folder(tmp_path, "binary", summary, rows))
    assert {i: r.score for i, r in scores.rows.items()} == {
        "a": 1.0, "b": 0.0, "c": 1.0, "d": 0.0, "e": 0.0,
    }  # fmt: skip
    assert scores.binary and scores.rows["d"].invalid and scores.rows["e"].error


def test_scoring_is_one_minus_the_error_over_the_range(tmp_path: Path) -> None:
    from promptops.experiments.scores import per_case_scores

    rows = [
        {"id": "a", "expected": "3", "answer": 3.0},
        {"id": "b", "expected": "1", "answer": 4.0},
        {"id": "c", "expected": "5", "answer": None, "invalid": True},
    ]
    scores = per_case_scores(_folder(tmp_path, "scoring", {"score_range": [1, 5]}, rows))
    assert [scores.rows[i].score for i in "abc"] == pytest.approx([1.0, 0.25, 0.0])
    assert not scores.binary


def test_generation_is_rouge_l_against_the_best_reference(tmp_path: Path) -> None:
    from rouge_score.rouge_scorer import RougeScorer

    from promptops.experiments.scores import per_case_scores

    refs = ["The Eagle is a cheap pub near the river.", "A cheap pub, The Eagle, by the river."]
    rows = [
        {"id": "a", "expected": json.dumps(refs), "raw_output": "The Eagle pub is cheap."},
        {"id": "b", "expected": "Blue Spice serves Italian food.", "raw_output": ""},
        {"id": "c", "expected": "x y", "raw_output": "x y", "error": "timeout"},
    ]
    summary = {"settings": {"stemming": False, "similarity": False, "output_schema": None}}
    scores = per_case_scores(_folder(tmp_path, "generation", summary, rows))
    direct = RougeScorer(["rougeL"], use_stemmer=False).score_multi(refs, rows[0]["raw_output"])
    assert scores.rows["a"].score == pytest.approx(direct["rougeL"].fmeasure)
    assert 0 < scores.rows["a"].score < 1
    assert scores.rows["b"].score == 0.0 and scores.rows["c"].score == 0.0


def test_binary_grid_over_two_models_tests_decisions_at_each_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """1 prompt x 2 models: right/wrong at each cell's own dev-chosen threshold, so McNemar."""
    from sklearn.metrics import f1_score

    from promptops.experiments.scores import per_case_scores
    from test_task_eval import _binary_project, leaning, yes_no

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    _binary_project(tmp_path, n=20)
    sharp, blunt = leaning(0.5), leaning(0.0)

    def extra(body: dict[str, Any], text: str) -> dict[str, Any]:
        return (sharp if body["model"] == "sharp" else blunt)(body, text)  # type: ignore[no-any-return]

    with FakeOpenAIServer(answer=yes_no, choice_extra=extra) as server:
        args = ["eval", "flag", "--model", "sharp", "--model", "blunt", "--out", "grid"]
        code, _, err = cli([*args, "--base-url", server.base_url], monkeypatch, capsys)
    assert code == 0, err
    summary = json.loads((tmp_path / "grid" / "grid.json").read_text())["summary"]
    assert summary["primary_metric"] == "pr_auc" and summary["kind"] == "binary"
    (pair,) = summary["pairs"]
    assert pair["test"].startswith("McNemar") and pair["n_shared"] == 20
    for cell in summary["cells"]:
        run = json.loads((tmp_path / "grid" / cell["id"] / "summary.json").read_text())
        assert cell["quality"] == run["intervals"]["pr_auc"]["estimate"]
        rows = per_case_scores(tmp_path / "grid" / cell["id"]).rows
        # the decisions the reader scores are the ones behind the run's own F1 (scikit-learn)
        truth = [rows[i].expected == "yes" for i in sorted(rows)]
        right = [rows[i].score == 1.0 for i in sorted(rows)]
        decided = [t == r for t, r in zip(truth, right, strict=True)]
        assert f1_score(truth, decided) == pytest.approx(run["metrics"]["f1"])
        assert cell["mean_score"] == pytest.approx(sum(right) / 20)


def test_scoring_grid_turns_mae_around_on_the_frontier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """1 prompt x 2 models on a scoring suite: MAE is lower-better, so the close model is
    the best cell and alone on the frontier; per-case scores are 1 - |err| / 5."""
    from promptops.testing.openai_server import last_user_message

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "prompts").mkdir()
    (tmp_path / "evalsets").mkdir()
    (tmp_path / "prompts" / "rate.yaml").write_text(
        "name: rate\nversion: 1.0.0\ntask: scoring\nrange: [0, 5]\n"
        "messages:\n  - role: user\n    content: 'Rate {{ text }}'\n"
    )
    rows = [
        {"id": f"{s}-{i}", "input": {"text": f"item {i % 5} of {s}"}, "expected": i % 5, "split": s}
        for s, n in (("train", 10), ("test", 10))
        for i in range(n)
    ]
    (tmp_path / "evalsets" / "rate.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "evalsets" / "rate.yaml").write_text(
        "name: rate\nprompt: rate\nevalset: rate.jsonl\nbaselines: [train_mean]\n"
        "bootstrap_samples: 200\n"
    )

    def answer(body: dict[str, Any]) -> str:
        i = int(last_user_message(body).split()[2])
        return str(i if body["model"] == "close" else min(5, i + 2))

    with FakeOpenAIServer(answer=answer) as server:
        args = ["eval", "rate", "--model", "close", "--model", "far", "--out", "grid"]
        code, _, err = cli([*args, "--base-url", server.base_url], monkeypatch, capsys)
    assert code == 0, err
    summary = json.loads((tmp_path / "grid" / "grid.json").read_text())["summary"]
    cells = {c["id"]: c for c in summary["cells"]}
    close, far = cells["suite-prompt__close"], cells["suite-prompt__far"]
    assert summary["primary_metric"] == "mae" and not close["higher_is_better"]
    assert close["quality"] == 0.0 < far["quality"]
    assert close["mean_score"] == 1.0
    far_errors = [min(5, i % 5 + 2) - i % 5 for i in range(10)]
    assert far["mean_score"] == pytest.approx(1 - sum(far_errors) / 10 / 5)
    assert summary["best"] == close["id"] and summary["cost_frontier"] == [close["id"]]
    (pair,) = summary["pairs"]
    assert pair["test"] != "McNemar mid-p" and pair["n_shared"] == 10
