"""The binary and scoring kinds of run on the run lifecycle.

Each answer is read as one number when it comes back (binary: P(positive label) from the
label probabilities, else the hard label; scoring: the number within the prompt's range,
else invalid, never clipped) and kept on its row as `answer`. A binary kind sends the dev
split too: its decision threshold is chosen on the dev answers, never on test; without a
dev split it is 0.5 and the report says so. The maths is `tasks.evaluate`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from promptops.evals.evalset import Case
from promptops.llm.types import Completion
from promptops.prompts import Prompt
from promptops.runs import summary as s
from promptops.runs.kinds import Answer, ScoredRun
from promptops.runs.rows import CaseRow, Tally
from promptops.tasks import evaluate as ev
from promptops.tasks import scoring as sc
from promptops.tasks import summary as ts
from promptops.tasks.baselines import BINARY_BASELINES, SCORING_BASELINES, Training, fit_all
from promptops.tasks.suite import TaskSuite
from promptops.tasks.types import TASK_TYPES, register_builtins

DEFAULT_BASELINES = {
    "binary": ("majority", "tfidf_lr"),
    "scoring": ("train_mean", "tfidf_ridge", "minilm_cosine"),
}


class ScoreRow(CaseRow):
    """`predicted` is the label answered (binary; None for scoring), `answer` the number the
    case is scored on, `invalid_reason` why there is none."""

    predicted: str | None = None
    label_probs: dict[str, float] | None = None
    answer: float | None = None
    invalid_reason: str | None = None


class _ScoreKind:
    """What binary and scoring share: one number per answer, scored by `tasks.evaluate`."""

    name: str
    tasks: tuple[str, ...]
    splits: tuple[str, ...]
    row_model = ScoreRow
    summary_model = ts.TaskSummary
    suite_model = TaskSuite

    def check_expected(self, prompt: Prompt, expected: str | None) -> str | None:
        register_builtins()
        case = Case("", {}, expected, "test", (), 0)
        return TASK_TYPES.get(prompt.task).check_expected(case, prompt)

    def parse(self, prompt: Prompt, completion: Completion) -> Answer:
        record = {
            "error": completion.error,
            "label_probs": completion.label_probs,
            "predicted": completion.label if completion.ok else None,
            "raw_output": completion.text,
        }
        answer = ev.read_answer(record, prompt)
        return Answer(
            value=completion.label,
            invalid=answer.value is None and not answer.error,
            extra={
                "label_probs": completion.label_probs,
                "answer": answer.value,
                "invalid_reason": None if answer.error else answer.reason,
            },
        )

    def summarize(self, run: ScoredRun) -> ts.TaskSummary:
        return _summarize(run)


class Binary(_ScoreKind):
    name = "binary"
    tasks = ("binary",)
    splits = ("dev", "test")


class Scoring(_ScoreKind):
    name = "scoring"
    tasks = ("scoring",)
    splits = ("test",)


def _headline(rows: list[CaseRow], n: int) -> list[dict[str, Any]]:
    """The sample-0 row of each of `n` cases, in case order, as records."""
    first = {r.index: r.model_dump(mode="json") for r in rows if r.sample == 0}
    return [first[i] for i in range(n)]


def _summarize(run: ScoredRun) -> ts.TaskSummary:
    suite: TaskSuite = run.suite
    prompt = run.prompt
    task = TASK_TYPES.get(prompt.task)
    primary = suite.primary_metric or task.primary_metric
    higher = (
        task.higher_is_better
        if suite.primary_metric is None
        else sc.HIGHER_IS_BETTER.get(primary, True)
    )
    binary = prompt.task == "binary"
    test_cases: list[Case] = list(run.test())
    dev_cases: list[Case] = list(run.dev())  # baselines predict them (binary: threshold)
    sent_dev = dev_cases if binary else []  # the dev cases answered (scoring sends none)
    test_rows, dev_rows = list(run.rows()), list(run.dev_rows())
    records = _headline(test_rows, len(test_cases))
    answers = [ev.read_answer(r, prompt) for r in records]
    dev_answers = [ev.read_answer(r, prompt) for r in _headline(dev_rows, len(sent_dev))]
    dev = ev.Scored.of(sent_dev, dev_answers, prompt)
    test = ev.Scored.of(test_cases, answers, prompt)
    threshold, source = ev.choose_threshold(dev) if binary else (0.5, "")
    metrics = ev.Metrics(prompt, suite, threshold)
    values = metrics.all(test.truth, test.pred)
    tally = Tally()
    for r in test_rows:
        tally.add(r)
    for r in dev_rows:
        tally.add_call(r)  # the dev answers cost calls too
    n = len(test_cases)
    values["invalid_rate"] = tally.n_invalid / n
    values["error_rate"] = tally.n_errors / n
    training = Training(
        run.train, np.array([ev.truth_of(c, prompt) for c in run.train], dtype=np.float64)
    )
    names = suite.baselines if suite.baselines is not None else DEFAULT_BASELINES[prompt.task]
    fitted = fit_all(
        BINARY_BASELINES if binary else SCORING_BASELINES,
        names,
        training,
        dev_cases,
        test_cases,
        where=f"{suite.name}: baselines",
    )
    dev_truth = np.array([ev.truth_of(c, prompt) for c in dev_cases], dtype=np.float64)
    baselines = ev.baseline_rows(
        fitted, metrics, test, test_cases, dev_truth, primary, higher, suite
    )
    worst, invalid = ev.worst_cases(test_cases, answers, records, prompt, suite.worst_cases)
    header = run.header.fields()
    header["findings"] += _findings(baselines, binary, records)
    checks = ev.threshold_checks(suite, values, baselines)
    return ts.TaskSummary(
        kind="binary" if binary else "scoring",
        **header,
        **tally.fields(run.stats),
        primary_metric=primary,
        higher_is_better=higher,
        metrics=values,
        intervals=ev.intervals(metrics, test, suite),
        positive_label=prompt.positive_label,
        threshold=threshold if binary else None,
        threshold_source=source or None,
        target_precision=suite.target_precision if binary else None,
        score_range=prompt.score_range,
        baselines=baselines,
        verdict=ev.verdict(primary, values.get(primary), baselines),
        slices=ev.slices(metrics, test, primary),
        worst_cases=worst,
        invalid_cases=invalid,
        calibration=_calibration(prompt, test) if not binary else [],
        repeats=_agreement(test_rows, test_cases, threshold if binary else None)
        if run.repeat > 1
        else None,
        thresholds=checks,
        passed=all(t.passed for t in checks),
    )


def _findings(
    baselines: list[ts.TaskBaseline], binary: bool, records: list[dict[str, Any]]
) -> list[s.Finding]:
    out = [
        s.Finding(check="baselines", severity="warning", message=f"{x.name}: {x.reason}")
        for x in baselines
        if x.status == "not_fit"
    ]
    if binary and not any(r.get("label_probs") for r in records):
        out.append(
            s.Finding(
                check="scores",
                severity="warning",
                message=(
                    "the endpoint returned no label probabilities: scores are hard labels, "
                    "so PR-AUC and ROC-AUC rest on one operating point"
                ),
            )
        )
    return out


def _calibration(prompt: Prompt, test: ev.Scored) -> list[ts.CalibrationPoint]:
    if prompt.score_range is None:
        return []
    lo, hi = prompt.score_range
    return [
        ts.CalibrationPoint(**vars(x)) for x in sc.calibration_bins(test.truth, test.pred, lo, hi)
    ]


def _agreement(
    rows: list[CaseRow], cases: list[Case], threshold: float | None
) -> ts.Agreement | None:
    samples: dict[str, list[float | None]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: (r.index, r.sample)):
        samples[r.id].append(getattr(r, "answer", None))
    return ev.agreement({c.id: samples[c.id] for c in cases}, threshold)
