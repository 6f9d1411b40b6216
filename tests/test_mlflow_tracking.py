"""`eval --mlflow`: a run's parameters, metrics and report files logged to a real local
MLflow file store and read back with MLflow's own client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _eval_util import make_project
from _regress_util import cli
from promptops.testing.openai_server import FakeOpenAIServer

mlflow = pytest.importorskip("mlflow")


def test_a_run_logged_with_mlflow_reads_back(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    make_project(tmp_path)
    store = tmp_path / "tracking"
    with FakeOpenAIServer() as server:
        args = ["eval", "router", "--base-url", server.base_url, "--model", "fake-model"]
        code, out, err = cli(
            [*args, "--out", "runs/one", "--mlflow", "--mlflow-uri", str(store)],
            monkeypatch,
            capsys,
        )
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("mlflow run "))
    run_id = line.split()[2]

    client = MlflowClient(tracking_uri=store.resolve().as_uri())
    experiment = client.get_experiment_by_name("promptops/router")
    assert experiment is not None
    [found] = client.search_runs([experiment.experiment_id])
    assert found.info.run_id == run_id and found.info.status == "FINISHED"
    summary = json.loads((tmp_path / "runs" / "one" / "summary.json").read_text())
    assert found.data.params["prompt"] == "router@1.0.0"
    assert found.data.params["prompt_hash"] == summary["prompt"]["content_hash"]
    assert found.data.params["model"] == "fake-model"
    assert found.data.params["evalset_sha256"] == summary["evalset"]["sha256"]
    assert found.data.metrics["macro_f1"] == pytest.approx(summary["metrics"]["macro_f1"])
    assert found.data.metrics["macro_f1_ci_low"] == pytest.approx(
        summary["intervals"]["macro_f1"]["low"]
    )
    assert found.data.metrics["n_cases"] == 30
    assert found.data.tags["promptops.run_folder"] == str((tmp_path / "runs" / "one").resolve())
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"summary.json", "report.md", "report.html", "prompt.json"} <= artifacts
    local = Path(client.download_artifacts(run_id, "report.md", str(tmp_path / "dl")))
    assert local.read_text() == (tmp_path / "runs" / "one" / "report.md").read_text()
