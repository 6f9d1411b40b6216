"""The classification kind of run: labels checked, answers read as labels, the summary with
baselines, paired tests, intervals, slices, worst cases and calibration.

Scoring streams: the test split becomes compact columns and `read_results` keeps about five
bytes per case (see `evals.results`), so a 100,000-case run scores in flat memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from promptops.evals import summarize as sm
from promptops.evals.baselines import fit_baselines
from promptops.evals.columns import TestColumns
from promptops.evals.evalset import Case
from promptops.evals.metrics import classification_metrics_codes
from promptops.evals.results import Outcomes, read_results
from promptops.evals.suite import ClassificationSuite
from promptops.llm.types import Completion
from promptops.prompts import Prompt
from promptops.prompts.calibrator import Calibrator
from promptops.runs import summary as s
from promptops.runs.kinds import Answer, ScoredRun
from promptops.runs.rows import ClassificationRow

EXAMPLES_PER_CLASS = 3  # wrong answers shown for each lowest-recall class


class Classification:
    """One label of the prompt's `labels` per case (`expected`), scored against baselines."""

    name = "classification"
    tasks = ("classification",)
    row_model = ClassificationRow
    summary_model = s.ClassificationSummary
    suite_model = ClassificationSuite

    def check_expected(self, prompt: Prompt, expected: str | None) -> str | None:
        labels = prompt.labels or ()
        if expected is None or expected in labels:
            return None
        return (
            f"expected {expected!r} is not one of the prompt's labels ({', '.join(sorted(labels))})"
        )

    def parse(self, prompt: Prompt, completion: Completion) -> Answer:
        """The client already read the label (an answer outside the set is invalid, never
        mapped to a near label); the probabilities are kept for calibration and PR-AUC."""
        return Answer(
            value=completion.label if completion.ok else None,
            invalid=completion.invalid,
            extra={
                "label_probs": completion.label_probs,
                "raw_label_probs": completion.raw_label_probs,
            },
        )

    def summarize(self, run: ScoredRun) -> s.ClassificationSummary:
        suite, prompt = run.suite, run.prompt
        labels = list(prompt.labels or ())
        columns = TestColumns(tuple(labels))
        for case in run.test():
            columns.add(case)
        outcomes, tally, samples = read_results(
            run.results_path,
            columns,
            repeat=run.repeat,
            worst=suite.worst_cases,
            per_class=EXAMPLES_PER_CLASS,
        )
        result = sm.metrics_model(
            classification_metrics_codes(outcomes.true, outcomes.pred, labels, outcomes.probs())
        )
        fits = fit_baselines(
            list(run.train),
            run.test(),
            run.n_test,
            labels,
            names=list(suite.baselines),
            seed=suite.seed,
        )
        baselines = sm.compare_baselines(outcomes, fits, suite)
        header = run.header.fields()
        header["findings"] += [
            s.Finding(check="baselines", severity="warning", message=f"{b.name}: {b.reason}")
            for b in baselines
            if b.status == "not_fit"
        ]
        calibrator = run.calibrator
        if calibrator.status not in ("none", "contextual"):
            header["findings"].append(
                s.Finding(check="calibration", severity="warning", message=calibrator.status)
            )
        n_cases = len(outcomes)
        error_rate = tally.n_errors / n_cases if n_cases else 0.0
        checks = run.check_thresholds(sm.measured(result, error_rate))
        rule = sm.must_beat(suite, baselines)
        if rule is not None:
            checks.append(rule)
        slice_rows, gap = sm.slices(outcomes, columns)
        intervals = sm.intervals(outcomes, suite)
        primary = suite.primary_metric
        return s.ClassificationSummary(
            **header,
            **tally.fields(run.stats),
            labels=labels,
            primary_metric=suite.primary_metric,
            metrics=result,
            intervals=intervals,
            sensitivity=sm.sensitivity(primary, baselines, intervals, n_cases, suite.alpha),
            baselines=baselines,
            verdict=sm.verdict(getattr(result, primary), baselines, suite.alpha, primary),
            slices=slice_rows,
            largest_gap=gap,
            worst_cases=sm.worst_cases(outcomes, result),
            calibration=_calibration_effect(calibrator, outcomes),
            repeats=sm.repeats(outcomes, samples, lambda at: _ids_at(run.test(), at)),
            thresholds=checks,
            passed=all(t.passed for t in checks),
        )


def _calibration_effect(calibrator: Calibrator, outcomes: Outcomes) -> s.CalibrationEffect | None:
    """The run's answers decided without calibration, scored the same way."""
    if calibrator.prior is None or not len(outcomes):
        return None
    raw = classification_metrics_codes(outcomes.true, outcomes.raw_pred, outcomes.labels)
    changed = int((outcomes.raw_pred != outcomes.pred).sum())
    return s.CalibrationEffect(
        method="contextual",
        prior=calibrator.prior,
        uncalibrated_accuracy=raw.accuracy,
        uncalibrated_macro_f1=raw.macro_f1,
        changed_answers=changed,
    )


def _ids_at(cases: Iterable[Case | Any], positions: NDArray[np.int64]) -> list[str]:
    """The ids of the cases at `positions`, streamed from the evalset (none kept)."""
    wanted = set(positions.tolist())
    return [case.id for i, case in enumerate(cases) if i in wanted]
