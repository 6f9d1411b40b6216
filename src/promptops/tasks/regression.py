"""Baselines in the repo for binary and scoring runs, and `eval --against-baseline` for them.

`baseline save RUN` writes `baselines/<suite>.json`: the prompt, the headline metrics and one
answer per test case (id, expected, answer), sorted, one case per line, for review in a pull
request. A later run is compared with it case by case: the paired bootstrap on the primary
metric over the cases both answered validly, decided by `evals.paired.decide`; significantly
worse is a regression (exit 1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from promptops.errors import UserInputError
from promptops.runs.folder import SUMMARY, write_atomic
from promptops.tasks import binary as b
from promptops.tasks import scoring as sc
from promptops.tasks.stats import MetricFn, PairedTest, paired_test
from promptops.tasks.summary import TaskSummary

RESULTS = "results.jsonl"
DIGITS = 6
BASELINES_DIR = Path("baselines")


def default_path(suite: str) -> Path:
    return BASELINES_DIR / f"{suite}.json"


def is_task_run(run_dir: Path) -> bool:
    try:
        kind = json.loads((run_dir / SUMMARY).read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError):
        return False
    return kind in ("binary", "scoring")


def _answers(run_dir: Path) -> dict[str, tuple[str | None, float | None]]:
    out = {}
    with (run_dir / RESULTS).open(encoding="utf-8") as lines:
        for line in lines:
            r = json.loads(line)
            if r.get("split") == "test" and int(r.get("sample", 0)) == 0:
                out[str(r["id"])] = (r.get("expected"), r.get("answer"))
    return out


def save_task_baseline(run_dir: Path, path: Path | None = None) -> tuple[Path, dict[str, Any]]:
    summary = TaskSummary.model_validate_json((run_dir / SUMMARY).read_text(encoding="utf-8"))
    record = {
        "kind": "task_baseline",
        "task": summary.kind,
        "suite": summary.suite,
        "prompt": summary.prompt.model_dump(mode="json"),
        "model": summary.model.model,
        "evalset_sha256": summary.evalset.sha256,
        "primary_metric": summary.primary_metric,
        "higher_is_better": summary.higher_is_better,
        "positive_label": summary.positive_label,
        "threshold": summary.threshold,
        "target_precision": summary.target_precision,
        "metrics": {
            k: None if v is None else round(v, 6) for k, v in sorted(summary.metrics.items())
        },
    }
    cases = sorted(_answers(run_dir).items())
    head = json.dumps(record, sort_keys=True, indent=1)[:-2]
    lines = [
        json.dumps(
            {"id": i, "expected": e, "answer": None if a is None else round(a, DIGITS)},
            sort_keys=True,
        )
        for i, (e, a) in cases
    ]
    text = head + ',\n "cases": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n"
    target = path or default_path(summary.suite)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, text)
    return target, record


@dataclass(frozen=True)
class Regression:
    test: PairedTest
    n_shared: int
    baseline_metric: float | None
    run_metric: float | None

    @property
    def exit_code(self) -> int:
        return 1 if self.test.b_worse else 0

    def lines(self) -> list[str]:
        t = self.test
        d = t.decision
        word = "REGRESSION" if t.b_worse else "improved" if t.b_better else "no significant change"
        return [
            f"{t.metric}: baseline {_n(t.a)} -> run {_n(t.b)} ({t.diff:+.3f}, 95% CI "
            f"[{t.low:+.3f}, {t.high:+.3f}]) on {self.n_shared} shared cases",
            f"{d.test}: p {d.p_value:.3g}, {d.outcome.replace('_', ' ')}: {word}",
        ]


def _n(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def check_against(record_path: Path, run_dir: Path, *, alpha: float, seed: int = 13) -> Regression:
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserInputError(
            f"cannot read the baseline record: {exc}", where=str(record_path)
        ) from exc
    if record.get("kind") != "task_baseline":
        raise UserInputError(
            "not a binary/scoring baseline record (save one with `promptops baseline save RUN`)",
            where=str(record_path),
        )
    old = {c["id"]: c["answer"] for c in record["cases"]}
    new = _answers(run_dir)
    shared = sorted(i for i, (_, a) in new.items() if a is not None and old.get(i) is not None)
    primary = str(record["primary_metric"])
    if record["task"] == "binary":
        truth = np.array([1.0 if new[i][0] == record["positive_label"] else 0.0 for i in shared])
        metric: MetricFn = b.metric_of(
            primary, float(record["threshold"] or 0.5), float(record["target_precision"] or 0.8)
        )
    else:
        truth = np.array([float(new[i][0] or "nan") for i in shared])
        metric = sc.METRICS[primary]
    a = np.array([float(old[i]) for i in shared])
    bb = np.round(np.array([float(new[i][1] or 0.0) for i in shared]), DIGITS)  # as saved
    test = paired_test(
        primary,
        metric,
        truth,
        a,
        bb,
        higher_is_better=bool(record["higher_is_better"]),
        alpha=alpha,
        seed=seed,
    )
    return Regression(test, len(shared), record["metrics"].get(primary), test.b)
