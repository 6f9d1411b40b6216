"""Baselines in the repository for extraction and generation runs, and `--against-baseline`.

`save_task_baseline(run)` writes `baselines/<suite>.json`: the suite, the prompt, the
headline metrics and every test case's raw answer (sorted by id, one per line, so a pull
request's diff shows the answers that changed). `against_task_baseline(record, run)`
re-scores the saved answers and this run's answers on the cases both have, with this run's
scoring (prompt schema, normalisation, references), and runs the paired bootstrap on the
primary metric: a significant drop is a regression and the command exits 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptops.errors import UserInputError
from promptops.reports import fmt
from promptops.runs.folder import write_atomic
from promptops.tasks.casework import Paired, TaskRow
from promptops.tasks.textkinds import expected_value

KINDS = ("extraction", "generation")
RECORD_KIND = "task_baseline"
DIGITS = 6


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserInputError(f"cannot read: {exc}", where=str(path)) from exc


def run_kind(run_dir: Path) -> str | None:
    """The kind in a run folder's summary.json (None when there is none)."""
    path = run_dir / "summary.json"
    return str(_read_json(path).get("kind")) if path.is_file() else None


def _headline_rows(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "results.jsonl").read_text("utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    return sorted((r for r in rows if r.get("sample", 0) == 0), key=lambda r: r["id"])


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    return {
        k: round(float(v), DIGITS)
        for k, v in sorted(metrics.items())
        if k != "n" and isinstance(v, int | float) and not isinstance(v, bool)
    }


def save_task_baseline(run_dir: Path, path: Path | None = None) -> tuple[Path, dict[str, Any]]:
    summary = _read_json(run_dir / "summary.json")
    if summary.get("kind") not in KINDS:
        raise UserInputError("not an extraction or generation run", where=str(run_dir))
    record = {
        "schema_version": 1,
        "kind": RECORD_KIND,
        "task": summary["kind"],
        "suite": summary["suite"],
        "prompt": summary["prompt"],
        "primary_metric": summary["primary_metric"],
        "metrics": _scalars(summary["metrics"]),
        "cases": [
            {"id": r["id"], "raw_output": None if r.get("error") else r.get("raw_output")}
            for r in _headline_rows(run_dir)
        ],
    }
    target = path or Path("baselines") / f"{summary['suite']}.json"
    head = json.dumps({k: v for k, v in record.items() if k != "cases"}, indent=2, sort_keys=True)
    cases = ",\n".join(
        "    " + json.dumps(c, ensure_ascii=False, sort_keys=True) for c in record["cases"]
    )
    text = head[:-2] + ',\n  "cases": [\n' + cases + "\n  ]\n}\n"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, text)
    return target, record


@dataclass(frozen=True)
class Regression:
    record: Path
    paired: Paired
    shared: int
    only_now: int  # cases of this run the record lacks (not compared)
    passed: bool = True  # the current run's own thresholds

    @property
    def exit_code(self) -> int:
        """1 when the current run is significantly worse (its thresholds are the caller's)."""
        return 1 if self.paired.b_worse else 0

    def lines(self) -> list[str]:
        p, c = self.paired, self.paired.comparison
        verdict = "REGRESSION" if p.b_worse else "better" if p.b_better else "no significant change"
        return [
            f"{p.metric}: {p.b} minus {p.a} {c.difference:+.3f} "
            f"(95% CI [{c.low:+.3f}, {c.high:+.3f}], paired bootstrap p {fmt.pvalue(c.p_value)}, "
            f"{self.shared} shared cases): {verdict}",
            *(
                [f"{self.only_now} cases of this run are not in the baseline (not compared)"]
                if self.only_now
                else []
            ),
        ]


def _saved(reference: Path) -> tuple[str, dict[str, str | None], str]:
    """(task, case id -> raw answer, label) of a saved record or of a run folder."""
    if reference.is_dir():
        task = run_kind(reference)
        if task not in KINDS:
            raise UserInputError("not an extraction or generation run", where=str(reference))
        rows = _headline_rows(reference)
        answers = {r["id"]: None if r.get("error") else r.get("raw_output") for r in rows}
        return str(task), answers, "A"
    record = _read_json(reference)
    if record.get("kind") != RECORD_KIND:
        raise UserInputError(
            "not an extraction/generation baseline record; save one from this kind of run",
            where=str(reference),
        )
    return record["task"], {c["id"]: c["raw_output"] for c in record["cases"]}, "saved"


def against_task_baseline(record_path: Path, run_dir: Path, alpha: float) -> Regression:
    """This run against the saved record, or another run folder, on their shared cases (see
    the module docstring); `compare A B` is this with A's folder as the record."""
    task, saved, label = _saved(record_path)
    summary = _read_json(run_dir / "summary.json")
    if summary["kind"] != task:
        raise UserInputError(
            f"the reference is a {task} run, this is a {summary['kind']} run",
            where=str(record_path),
        )
    rows = [r for r in _headline_rows(run_dir) if r["id"] in saved]
    if not rows:
        raise UserInputError("no case in common with the baseline", where=str(record_path))
    now = [
        TaskRow(
            r["id"],
            r.get("input", {}),
            expected_value(r.get("expected")),
            tuple(r.get("tags", [])),
            None if r.get("error") else r.get("raw_output"),
        )
        for r in rows
    ]
    then = [saved[r["id"]] for r in rows]
    primary, settings = summary["primary_metric"], summary["settings"]
    if summary["kind"] == "extraction":
        from promptops.tasks.extraction import evaluate as ex

        paired = ex.against_saved(
            now,
            then,
            settings.get("output_schema"),
            ex.ExtractionSettings.model_validate(
                {k: v for k, v in settings.items() if k != "output_schema"}
            ),
            primary=primary,
            alpha=alpha,
        )
    else:
        from promptops.tasks.generation import evaluate as gen

        paired = gen.against_saved(
            now,
            then,
            gen.GenerationSettings.model_validate(settings),
            primary=primary,
            alpha=alpha,
        )
    total = len(_headline_rows(run_dir))
    current = "B" if label == "A" else "current"
    named = Paired(paired.metric, label, current, paired.n, paired.comparison, paired.alpha)
    return Regression(record_path, named, len(rows), total - len(rows), bool(summary["passed"]))
