"""Baselines in the repository: a small JSON record of a run that later runs must not lose to.

`promptops baseline save RUN` writes `baselines/<suite>.json` (relative to the project root,
where `prompts/` and `evalsets/` live) from a finished run folder. The record holds what
`compare` needs and nothing volatile: the suite, the prompt (identity, content hash and a
full snapshot, for the prompt diff), the model, the evalset hash and counts, the headline
metrics, the thresholds, and one outcome per case (id, expected, predicted, correct).

It is written for review in a pull request: keys sorted, cases sorted by id and one case
per line, metrics rounded to six decimals, so `git diff baselines/intent.json` shows which
cases changed and nothing else. `compare` and `eval --against-baseline` accept the record
wherever they accept a run folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from promptops.errors import UserInputError
from promptops.regress.sides import CaseOutcome, RunSide, load_prompt_snapshot, load_run, read_json
from promptops.runs.comparison import Side
from promptops.runs.folder import write_atomic
from promptops.runs.summary import EvalsetInfo, ModelInfo, PromptInfo, ThresholdResult

SCHEMA_VERSION = 1
BASELINES_DIR = Path("baselines")
DIGITS = 6


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BaselineCase(_Model):
    id: str
    expected: str
    predicted: str | None
    correct: bool


class BaselineRecord(_Model):
    schema_version: int = SCHEMA_VERSION
    kind: Literal["baseline"] = "baseline"
    suite: str
    prompt: PromptInfo
    prompt_snapshot: dict[str, Any] | None
    model: ModelInfo
    evalset: EvalsetInfo
    labels: list[str]
    primary_metric: str
    metrics: dict[str, float]
    thresholds: list[ThresholdResult]
    passed: bool
    n_boot: int
    seed: int
    cases: list[BaselineCase]


def default_path(suite: str) -> Path:
    return BASELINES_DIR / f"{suite}.json"


def record_from_run(side: RunSide) -> BaselineRecord:
    info = side.info
    snapshot = None
    if side.prompt is not None:
        snapshot = side.prompt.model_dump(mode="json")
    return BaselineRecord(
        suite=info.suite,
        prompt=info.prompt,
        prompt_snapshot=snapshot,
        model=info.model,
        evalset=info.evalset,
        labels=info.labels,
        primary_metric=info.primary_metric,
        metrics={name: round(value, DIGITS) for name, value in sorted(info.metrics.items())},
        thresholds=[
            t.model_copy(update={"actual": None if t.actual is None else round(t.actual, DIGITS)})
            for t in info.thresholds
        ],
        passed=info.passed,
        n_boot=side.n_boot,
        seed=side.seed,
        cases=[
            BaselineCase(id=c.id, expected=c.expected, predicted=c.predicted, correct=c.correct)
            for c in sorted(side.cases.values(), key=lambda c: c.id)
        ],
    )


def render_record(record: BaselineRecord) -> str:
    """Sorted-key JSON, two-space indent, with every list of flat objects one item per line."""
    return _dumps(record.model_dump(mode="json"), 0) + "\n"


def _flat(value: Any) -> bool:
    return isinstance(value, dict) and not any(isinstance(v, dict | list) for v in value.values())


def _dumps(value: Any, depth: int) -> str:
    pad, inner = "  " * depth, "  " * (depth + 1)
    if isinstance(value, dict) and value:
        items = [
            f"{inner}{json.dumps(key)}: {_dumps(value[key], depth + 1)}" for key in sorted(value)
        ]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and value:
        if all(_flat(item) for item in value):
            rows = [inner + json.dumps(item, sort_keys=True, ensure_ascii=False) for item in value]
        else:
            rows = [inner + _dumps(item, depth + 1) for item in value]
        return "[\n" + ",\n".join(rows) + f"\n{pad}]"
    return json.dumps(value, ensure_ascii=False)


def save_baseline(run_dir: Path, path: Path | None = None) -> tuple[Path, BaselineRecord]:
    """Write the record of a finished run to `path` (default `baselines/<suite>.json`)."""
    record = record_from_run(load_run(run_dir))
    target = path or default_path(record.suite)
    write_atomic(target, render_record(record))
    return target, record


def load_baseline(path: Path) -> BaselineRecord:
    payload = read_json(path)
    if not isinstance(payload, dict) or payload.get("kind") != "baseline":
        raise UserInputError('not a baseline record (expected "kind": "baseline")', str(path))
    try:
        return BaselineRecord.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise UserInputError(
            f"invalid baseline record: {field}: {first['msg']}", str(path)
        ) from None


def side_from_record(record: BaselineRecord, path: Path) -> RunSide:
    prompt = (
        load_prompt_snapshot(record.prompt_snapshot, str(path))
        if record.prompt_snapshot is not None
        else None
    )
    return RunSide(
        info=Side(
            source="baseline",
            path=str(path),
            suite=record.suite,
            prompt=record.prompt,
            model=record.model,
            evalset=record.evalset,
            labels=record.labels,
            n_cases=len(record.cases),
            primary_metric=record.primary_metric,
            metrics=record.metrics,
            thresholds=record.thresholds,
            passed=record.passed,
        ),
        prompt=prompt,
        cases={
            c.id: CaseOutcome(id=c.id, expected=c.expected, predicted=c.predicted)
            for c in record.cases
        },
        n_boot=record.n_boot,
        seed=record.seed,
    )
