"""`promptops eval` end to end against a real local OpenAI-compatible server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _eval_util import cases, make_project
from promptops.errors import EvalsetError, UserInputError
from promptops.lifecycle import EvalOptions, run_eval
from promptops.testing.openai_server import FakeOpenAIServer


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    return make_project(tmp_path)


@pytest.fixture(scope="module")
def server() -> FakeOpenAIServer:
    with FakeOpenAIServer() as srv:
        yield srv


def options(server: FakeOpenAIServer, out: Path, **kw: object) -> EvalOptions:
    return EvalOptions(base_url=server.base_url, model="fake-model", out=out, **kw)  # type: ignore[arg-type]


def results(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_run_scores_reports_and_matches_the_server(project: Path, server: FakeOpenAIServer) -> None:
    out = project / "run"
    outcome = run_eval("router", options(server, out))
    summary = outcome.summary
    assert summary.n_cases == 30
    assert summary.metrics.accuracy == pytest.approx(0.8)
    assert summary.n_errors == 0
    assert {b.name for b in summary.baselines} == {"majority", "tfidf_lr"}
    majority = next(b for b in summary.baselines if b.name == "majority")
    assert majority.metrics is not None and majority.metrics.accuracy == pytest.approx(1 / 3)
    assert majority.mcnemar is not None and majority.mcnemar.b >= majority.mcnemar.c
    assert (
        summary.intervals["macro_f1"].low
        <= summary.metrics.macro_f1
        <= summary.intervals["macro_f1"].high
    )
    assert summary.passed and outcome.exit_code == 0
    rows = results(out)
    assert len(rows) == 30 and len({r["id"] for r in rows}) == 30
    wrong = [r for r in rows if r["predicted"] != r["expected"]]
    assert len(wrong) == 6
    saved = json.loads((out / "summary.json").read_text())
    assert saved["metrics"]["macro_f1"] == pytest.approx(summary.metrics.macro_f1)
    assert saved["prompt"]["content_hash"] == summary.prompt.content_hash
    assert (out / "report.md").exists() and (out / "report.html").exists()


def test_cached_rerun_sends_nothing(project: Path, server: FakeOpenAIServer) -> None:
    run_eval("router", options(server, project / "a"))
    before = len(server.requests)
    second = run_eval("router", options(server, project / "b"))
    assert len(server.requests) == before
    assert second.summary.volatile.cache_hits == 30
    first_md = (project / "a" / "report.md").read_bytes()
    assert (project / "b" / "report.md").read_bytes() == first_md


def test_interrupted_run_resumes_without_resending(project: Path, server: FakeOpenAIServer) -> None:
    out = project / "run"
    run_eval("router", options(server, out, no_cache=True))
    lines = (out / "results.jsonl").read_text().splitlines(keepends=True)
    kept = lines[:17]
    (out / "results.jsonl").write_text("".join(kept) + lines[17][:25])  # a torn last line
    before = len(server.requests)
    outcome = run_eval("router", options(server, out, no_cache=True))
    assert len(server.requests) - before == 13
    rows = results(out)
    assert len(rows) == 30 and len({r["id"] for r in rows}) == 30
    assert outcome.summary.metrics.accuracy == pytest.approx(0.8)


def test_resume_with_other_settings_is_refused(project: Path, server: FakeOpenAIServer) -> None:
    out = project / "run"
    run_eval("router", options(server, out))
    with pytest.raises(UserInputError, match="different settings"):
        run_eval("router", options(server, out, repeat=2))


def test_unknown_label_fails_before_sending(project: Path, server: FakeOpenAIServer) -> None:
    rows = cases()
    rows[3]["expected"] = "refunds"
    make_project(project, rows)
    before = len(server.requests)
    with pytest.raises(EvalsetError) as info:
        run_eval("router", options(server, project / "run"))
    assert "router.jsonl:4" in str(info.value) and "'refunds'" in str(info.value)
    assert len(server.requests) == before
    assert not (project / "run").exists()


def test_leakage_fails_unless_allowed(project: Path, server: FakeOpenAIServer) -> None:
    rows = cases()
    test_row = next(r for r in rows if r["split"] == "test")
    rows.append({**test_row, "id": "train-copy", "split": "train"})
    make_project(project, rows)
    with pytest.raises(EvalsetError, match="leakage: 1 test case"):
        run_eval("router", options(server, project / "run"))
    from _eval_util import SUITE

    make_project(project, rows, SUITE + "leakage: {allow: true}\n")
    summary = run_eval("router", options(server, project / "run")).summary
    leak = next(f for f in summary.findings if f.check == "leakage")
    assert leak.severity == "warning" and "train-copy" in leak.details[0]


def test_pii_fails_without_justification(project: Path, server: FakeOpenAIServer) -> None:
    rows = cases()
    rows[0]["input"] = {"message": "refund to jane.doe@example.com please"}
    make_project(project, rows)
    with pytest.raises(EvalsetError, match="PII") as info:
        run_eval("router", options(server, project / "run"))
    assert "jane.doe@example.com" not in str(info.value)


def test_no_train_split_runs_and_says_which_baselines_could_not_fit(
    project: Path, server: FakeOpenAIServer
) -> None:
    make_project(project, [r for r in cases() if r["split"] == "test"])
    summary = run_eval("router", options(server, project / "run")).summary
    assert {b.status for b in summary.baselines} == {"not_fit"}
    assert summary.verdict.beats_best_baseline is None
    assert any(f.check == "baselines" for f in summary.findings)


def test_repeats_are_independent_samples(project: Path, server: FakeOpenAIServer) -> None:
    before = len(server.requests)
    summary = run_eval("router", options(server, project / "run", repeat=3)).summary
    assert len(server.requests) - before == 90
    assert summary.repeats is not None
    assert summary.repeats.k == 3 and summary.repeats.mean_agreement == 1.0
    assert summary.repeats.pass_hat_k == pytest.approx(0.8)


def test_failing_threshold_gives_exit_code_1(project: Path, server: FakeOpenAIServer) -> None:
    from _eval_util import SUITE

    make_project(project, None, SUITE.replace("min: 0.5", "min: 0.95"))
    outcome = run_eval("router", options(server, project / "run"))
    assert outcome.exit_code == 1
    failed = [t for t in outcome.summary.thresholds if not t.passed]
    assert [t.metric for t in failed] == ["macro_f1"]
