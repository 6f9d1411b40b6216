"""`--mlflow [URI]`: a finished run's parameters, metrics and report files logged to MLflow,
so teams that track models there see prompt evals beside them.

MLflow is an optional extra (`pip install 'promptops[mlflow]'`) imported only here, only
when asked. The default store is a local `mlruns/` folder; MLflow 3 keeps its file store in
maintenance mode behind `MLFLOW_ALLOW_FILE_STORE`, which is set for a `file:` URI only (a
database or server URI is used as given). One experiment per suite; the run is named after
the promptops run id, and tagged with the run folder so it can be found again.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from promptops.errors import ConfigError
from promptops.runs.folder import SUMMARY

DEFAULT_URI = "mlruns"
_REPORT_FILES = (
    "summary.json",
    "manifest.json",
    "prompt.json",
    "report.md",
    "report.html",
    "comparison.json",
    "business_cost.json",
    "grid.json",
)


def tracking_uri(uri: str) -> str:
    """A bare folder becomes an absolute `file:` URI; anything with a scheme is kept."""
    if "://" in uri or uri.startswith("file:"):
        return uri
    return Path(uri).resolve().as_uri()


def _params(summary: dict[str, Any]) -> dict[str, str]:
    prompt, model = summary.get("prompt") or {}, summary.get("model") or {}
    evalset = summary.get("evalset") or {}
    values = {
        "suite": summary.get("suite"),
        "prompt": prompt.get("identity"),
        "prompt_hash": prompt.get("content_hash"),
        "model": model.get("model"),
        "profile": model.get("profile"),
        "base_url": model.get("base_url") or "embedded",
        "temperature": model.get("temperature"),
        "evalset_sha256": evalset.get("sha256"),
        "primary_metric": summary.get("primary_metric"),
    }
    return {k: str(v) for k, v in values.items() if v is not None}


def _metrics(summary: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in (summary.get("metrics") or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = float(value)
    for name, interval in (summary.get("intervals") or {}).items():
        out[f"{name}_ci_low"] = float(interval["low"])
        out[f"{name}_ci_high"] = float(interval["high"])
    for name in ("n_cases", "n_errors", "n_invalid"):
        if isinstance(summary.get(name), int):
            out[name] = float(summary[name])
    usage = summary.get("usage") or {}
    if isinstance(usage.get("cost_usd"), int | float):
        out["cost_usd"] = float(usage["cost_usd"])
    volatile = summary.get("volatile") or {}
    for name in ("latency_p50_s", "latency_p95_s", "duration_s"):
        if isinstance(volatile.get(name), int | float):
            out[name] = float(volatile[name])
    if isinstance(summary.get("passed"), bool):
        out["passed"] = 1.0 if summary["passed"] else 0.0
    return out


def log_run(run_folder: Path, uri: str = DEFAULT_URI) -> str:
    """Log one finished run folder; returns the MLflow run id."""
    try:
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise ConfigError(
            "MLflow is not installed; pip install 'promptops[mlflow]'", where="--mlflow"
        ) from None
    summary = json.loads((run_folder / SUMMARY).read_text(encoding="utf-8"))
    target = tracking_uri(uri)
    if target.startswith("file:"):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=target)
    name = f"promptops/{summary.get('suite', 'runs')}"
    found = client.get_experiment_by_name(name)
    experiment = found.experiment_id if found else client.create_experiment(name)
    run_name = str((summary.get("volatile") or {}).get("run_id") or run_folder.name)
    run = client.create_run(
        experiment,
        run_name=run_name,
        tags={"promptops.run_folder": str(run_folder.resolve()), "promptops.kind": "eval"},
    )
    run_id = str(run.info.run_id)
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, v, now, 0) for k, v in _metrics(summary).items()],
        params=[Param(k, v) for k, v in _params(summary).items()],
        tags=[RunTag("promptops.passed", str(summary.get("passed")))],
    )
    for file in _REPORT_FILES:
        if (run_folder / file).is_file():
            client.log_artifact(run_id, str(run_folder / file))
    client.set_terminated(run_id)
    return run_id
