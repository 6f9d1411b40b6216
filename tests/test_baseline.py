"""Baselines in the repo (`promptops baseline save`) and `eval --against-baseline`, end to end
through the real `promptops` entry point against the local OpenAI-compatible server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _eval_util import make_project
from _regress_util import cli, degraded_prompt, results, run
from promptops.regress.baseline import BaselineRecord, load_baseline
from promptops.regress.compare import compare_paths
from promptops.runs.comparison import ComparisonSummary
from promptops.runs.summary import ClassificationSummary
from promptops.testing.openai_server import FakeOpenAIServer


@pytest.fixture(scope="module")
def server() -> FakeOpenAIServer:
    with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    return make_project(tmp_path)


def eval_args(server: FakeOpenAIServer, out: Path, *extra: str) -> list[str]:
    return [
        "eval",
        "router",
        "--base-url",
        server.base_url,
        "--model",
        "fake-model",
        "--out",
        str(out),
        *extra,
    ]


def test_saved_record_is_small_sorted_and_reviewable(
    project: Path,
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = run(server, project / "runs" / "one").out_dir
    code, stdout, _ = cli(["baseline", "save", str(out)], monkeypatch, capsys)
    assert code == 0 and "written: baselines/router.json" in stdout
    path = project / "baselines" / "router.json"
    text = path.read_text()
    data = json.loads(text)
    assert json.dumps(data) == json.dumps(data, sort_keys=True)  # keys written sorted
    rows_in_file = {line.strip().rstrip(",") for line in text.splitlines()}
    summary = ClassificationSummary.model_validate_json((out / "summary.json").read_text())
    assert data["prompt"]["content_hash"] == summary.prompt.content_hash
    assert data["evalset"]["sha256"] == summary.evalset.sha256
    assert data["metrics"]["macro_f1"] == round(summary.metrics.macro_f1, 6)
    assert data["prompt_snapshot"]["messages"][1]["content"] == "{{ message }}"
    rows = results(out)
    ids = [c["id"] for c in data["cases"]]
    assert ids == sorted(rows) and len(ids) == 30
    for case in data["cases"]:
        row = rows[case["id"]]
        assert case == {
            "id": row["id"],
            "expected": row["expected"],
            "predicted": row["predicted"],
            "correct": row["predicted"] == row["expected"],
        }
        assert json.dumps(case, sort_keys=True) in rows_in_file  # one case per line
    for volatile in ("run_id", "started_at", "latency", "duration"):
        assert volatile not in text

    again = run(server, project / "runs" / "two").out_dir
    code, _, _ = cli(["baseline", "save", str(again), "--path", "other.json"], monkeypatch, capsys)
    assert code == 0 and (project / "other.json").read_bytes() == path.read_bytes()
    assert isinstance(load_baseline(path), BaselineRecord)


def test_a_baseline_compares_like_the_run_it_came_from(
    project: Path, server: FakeOpenAIServer
) -> None:
    from promptops.regress.baseline import save_baseline

    good = run(server, project / "runs" / "good").out_dir
    bad = run(server, project / "runs" / "bad", prompt=degraded_prompt(project)).out_dir
    record_path, _ = save_baseline(good)
    from_run = compare_paths(good, bad)
    from_record = compare_paths(record_path, bad)
    assert from_record.a.source == "baseline" and from_run.a.source == "run"
    assert from_record.metrics == from_run.metrics
    assert from_record.mcnemar == from_run.mcnemar
    assert [c.id for c in from_record.flips.broken] == [c.id for c in from_run.flips.broken]
    assert from_record.flips.broken[0].output_a is None  # a record keeps predictions only
    assert from_record.flips.broken[0].input == from_run.flips.broken[0].input
    assert from_record.prompt.diff.splitlines()[2:] == from_run.prompt.diff.splitlines()[2:]


def test_eval_against_baseline_end_to_end(
    project: Path,
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, _ = cli(eval_args(server, project / "runs" / "base"), monkeypatch, capsys)
    assert code == 0
    assert cli(["baseline", "save", str(project / "runs" / "base")], monkeypatch, capsys)[0] == 0

    same = project / "runs" / "same"
    code, out, _ = cli(eval_args(server, same, "--against-baseline"), monkeypatch, capsys)
    assert code == 0
    assert "against baseline baselines/router.json:" in out
    assert "PASS: no significant difference" in out
    for name in ("comparison.json", "comparison.md", "comparison.html"):
        assert (same / name).is_file()
    s = ComparisonSummary.model_validate_json((same / "comparison.json").read_text())
    assert s.a.source == "baseline" and s.n_shared == 30 and s.metrics[0].diff == 0

    worse = project / "runs" / "worse"
    prompt = str(degraded_prompt(project))
    code, out, _ = cli(
        eval_args(server, worse, "--prompt", prompt, "--against-baseline"), monkeypatch, capsys
    )
    assert code == 1 and "FAIL: B is significantly worse than A" in out
    md = (worse / "comparison.md").read_text()
    assert "**FAIL: REGRESSION**" in md and "### Broken (8)" in md
    assert "test-password-1" in md


def test_missing_baseline_fails_before_sending_anything(
    project: Path,
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = len(server.requests)
    code, _, err = cli(
        eval_args(server, project / "runs" / "x", "--against-baseline"), monkeypatch, capsys
    )
    assert code == 2 and "baselines/router.json" in err and "baseline save" in err
    assert len(server.requests) == before and not (project / "runs" / "x").exists()


def test_explicit_baseline_path_and_a_broken_record(
    project: Path,
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from promptops.regress.baseline import save_baseline

    base = run(server, project / "runs" / "base").out_dir
    save_baseline(base, project / "kept" / "router-v1.json")
    code, out, _ = cli(
        eval_args(server, project / "runs" / "y", "--baseline", "kept/router-v1.json"),
        monkeypatch,
        capsys,
    )
    assert code == 0 and "against baseline kept/router-v1.json" in out

    broken = project / "kept" / "broken.json"
    data = json.loads((project / "kept" / "router-v1.json").read_text())
    del data["cases"]
    broken.write_text(json.dumps(data))
    code, _, err = cli(["compare", str(broken), str(base)], monkeypatch, capsys)
    assert code == 2 and "invalid baseline record: cases" in err
