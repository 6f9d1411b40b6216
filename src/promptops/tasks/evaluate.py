"""From a run's answers to the numbers of a binary or scoring summary: the answer of each
case, the metrics with intervals, the baselines with paired tests, slices, worst cases and
thresholds. Pure: no sending, no files."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from promptops.evals.evalset import Case
from promptops.evals.summarize import decision_model
from promptops.prompts import Prompt
from promptops.runs import summary as s
from promptops.tasks import binary as b
from promptops.tasks import scoring as sc
from promptops.tasks import summary as ts
from promptops.tasks.baselines import Fitted
from promptops.tasks.stats import MetricFn, bootstrap_interval, paired_test
from promptops.tasks.suite import TaskSuite

BINARY_METRICS = ("pr_auc", "roc_auc", "recall_at_precision", "f1", "precision", "recall")
SCORING_METRICS = ("mae", "rmse", "pearson", "spearman")


@dataclass(frozen=True)
class Answer:
    """One case's answer: a score (binary: P(positive)) or None with the reason."""

    value: float | None
    reason: str | None
    error: bool  # the request failed (transport, endpoint), not the answer


def read_answer(record: Mapping[str, Any], prompt: Prompt) -> Answer:
    if record.get("error"):
        return Answer(None, f"request failed: {record['error']}", True)
    if prompt.task == "binary":
        probs = record.get("label_probs") or {}
        positive = prompt.positive_label or ""
        if positive in probs:
            return Answer(float(probs[positive]), None, False)
        label = record.get("predicted")
        if label is not None:  # no probabilities: the hard label, PR-AUC at one point
            return Answer(1.0 if label == positive else 0.0, None, False)
        return Answer(None, "the answer is not one of the labels", False)
    probs = record.get("label_probs")
    if prompt.labels and probs:  # number labels: the probability-weighted mean
        total = sum(float(p) for p in probs.values())
        if total > 0:
            mean = sum(float(k) * float(p) for k, p in probs.items()) / total
            return Answer(mean, None, False)
    lo, hi = prompt.score_range or (float("-inf"), float("inf"))
    parsed = sc.parse_score(record.get("raw_output"), lo, hi)
    return Answer(parsed.value, parsed.reason, False)


def truth_of(case: Case, prompt: Prompt) -> float:
    if prompt.task == "binary":
        return 1.0 if case.expected == prompt.positive_label else 0.0
    return float(case.expected or "nan")


@dataclass(frozen=True)
class Scored:
    """The test (or dev) cases with an answer, as columns."""

    cases: list[Case]
    truth: NDArray[np.float64]
    pred: NDArray[np.float64]

    @classmethod
    def of(cls, cases: Sequence[Case], answers: Sequence[Answer], prompt: Prompt) -> Scored:
        kept = [(c, a.value) for c, a in zip(cases, answers, strict=True) if a.value is not None]
        return cls(
            [c for c, _ in kept],
            np.array([truth_of(c, prompt) for c, _ in kept], dtype=np.float64),
            np.array([v for _, v in kept], dtype=np.float64),
        )

    def subset(self, mask: NDArray[np.bool_]) -> Scored:
        return Scored(
            [c for c, m in zip(self.cases, mask, strict=True) if m],
            self.truth[mask],
            self.pred[mask],
        )


class Metrics:
    """The task's metric functions at one decision threshold."""

    def __init__(self, prompt: Prompt, suite: TaskSuite, threshold: float) -> None:
        self.task = prompt.task
        self.threshold = threshold
        self.target = suite.target_precision
        self.names = BINARY_METRICS if self.task == "binary" else SCORING_METRICS

    def fn(self, name: str, threshold: float | None = None) -> MetricFn:
        if self.task == "binary":
            t = self.threshold if threshold is None else threshold
            return b.metric_of(name, t, self.target)
        return sc.METRICS[name]

    def all(
        self, truth: NDArray[Any], pred: NDArray[np.float64], threshold: float | None = None
    ) -> dict[str, float | None]:
        if self.task == "binary":
            t = self.threshold if threshold is None else threshold
            m = b.binary_metrics(
                truth.astype(bool), pred, threshold=t, target_precision=self.target
            )
            return {k: v for k, v in m.as_dict().items() if k in self.names}
        return sc.scoring_metrics(truth, pred).as_dict()


def choose_threshold(dev: Scored) -> tuple[float, str]:
    if not len(dev.truth) or not dev.truth.any():
        why = "no dev split" if not len(dev.truth) else "no positive case in the dev split"
        return b.DEFAULT_THRESHOLD, f"default {b.DEFAULT_THRESHOLD}: {why}"
    return b.choose_threshold(dev.truth.astype(bool), dev.pred), (
        f"max F1 on the dev split ({len(dev.truth)} cases)"
    )


def intervals(metrics: Metrics, test: Scored, suite: TaskSuite) -> dict[str, ts.TaskInterval]:
    out = {}
    for name in metrics.names:
        ci = bootstrap_interval(
            metrics.fn(name),
            test.truth,
            test.pred,
            n_resamples=suite.bootstrap_samples,
            seed=suite.seed,
        )
        out[name] = ts.TaskInterval(
            estimate=ci.estimate,
            low=ci.low,
            high=ci.high,
            n_resamples=ci.n_resamples,
            undefined=ci.undefined,
        )
    return out


def baseline_rows(
    fitted: Sequence[Fitted],
    metrics: Metrics,
    test: Scored,
    test_cases: Sequence[Case],
    dev_truth: NDArray[np.float64],
    primary: str,
    higher_is_better: bool,
    suite: TaskSuite,
) -> list[ts.TaskBaseline]:
    """Each baseline's metrics on the same test cases the prompt answered, and the paired
    test of the prompt against it on the primary metric."""
    position = {c.id: i for i, c in enumerate(test_cases)}
    rows = [position[c.id] for c in test.cases]
    out = []
    for fit in fitted:
        if fit.test is None or fit.error is not None:
            out.append(ts.TaskBaseline(name=fit.name, status="not_fit", reason=fit.error))
            continue
        pred = fit.test[rows]
        threshold = None
        if metrics.task == "binary":
            has_dev = fit.dev is not None and len(dev_truth) and dev_truth.any()
            threshold = (
                b.choose_threshold(dev_truth.astype(bool), fit.dev)
                if has_dev and fit.dev is not None
                else b.DEFAULT_THRESHOLD
            )
        values = metrics.all(test.truth, pred, threshold)
        correct = None
        if metrics.task == "binary" and threshold is not None:
            truth = test.truth.astype(bool)
            correct = ((pred >= threshold) == truth, (test.pred >= metrics.threshold) == truth)
        pt = paired_test(
            primary,
            metrics.fn(primary),  # F1-like metrics compare at the prompt's threshold
            test.truth,
            pred,
            test.pred,
            higher_is_better=higher_is_better,
            alpha=suite.alpha,
            n_resamples=suite.bootstrap_samples,
            seed=suite.seed,
            correct=correct,
        )
        comparison = ts.TaskComparison(
            metric=primary,
            prompt=pt.b,
            baseline=pt.a,
            diff=pt.diff,
            low=pt.low,
            high=pt.high,
            decision=decision_model(pt.decision),
            mcnemar_mid_p=None if pt.mcnemar is None else pt.mcnemar.mid_p,
            prompt_better=pt.b_better,
            prompt_worse=pt.b_worse,
        )
        out.append(
            ts.TaskBaseline(
                name=fit.name,
                status="fit",
                metrics=values,
                threshold=threshold,
                comparison=comparison,
            )
        )
    return out


def verdict(primary: str, value: float | None, baselines: Sequence[ts.TaskBaseline]) -> str:
    fit = [x for x in baselines if x.comparison is not None]
    if not fit:
        return f"{primary} {_num(value)}; no baseline could be fit, so nothing says it is good"
    beaten = [x.name for x in fit if x.comparison and x.comparison.prompt_better]
    lost = [x.name for x in fit if x.comparison and x.comparison.prompt_worse]
    parts = [f"{primary} {_num(value)}"]
    parts.append(
        f"significantly better than {', '.join(beaten)}"
        if beaten
        else "beats no baseline significantly"
    )
    if lost:
        parts.append(f"significantly worse than {', '.join(lost)}")
    return "; ".join(parts)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def slices(metrics: Metrics, test: Scored, primary: str) -> list[ts.TaskSlice]:
    tags = Counter(tag for c in test.cases for tag in set(c.tags))
    out = []
    for tag in sorted(tags):
        mask = np.array([tag in c.tags for c in test.cases])
        part = test.subset(mask)
        out.append(
            ts.TaskSlice(tag=tag, n=int(mask.sum()), metrics=metrics.all(part.truth, part.pred))
        )
    return out


def worst_cases(
    test_cases: Sequence[Case],
    answers: Sequence[Answer],
    records: Sequence[Mapping[str, Any]],
    prompt: Prompt,
    k: int,
) -> tuple[list[ts.TaskCase], list[ts.TaskCase]]:
    """The k largest errors (binary: most confident wrong scores) and the invalid answers
    with their raw output."""
    scored, invalid = [], []
    for case, answer, record in zip(test_cases, answers, records, strict=True):
        raw = record.get("raw_output")
        if answer.value is None:
            invalid.append(
                ts.TaskCase(
                    id=case.id,
                    expected=case.expected,
                    answer=None,
                    error=None,
                    raw_output=raw,
                    reason=answer.reason,
                    input=case.input,
                )
            )
            continue
        err = abs(answer.value - truth_of(case, prompt))
        scored.append(
            (
                -err,
                case.id,
                ts.TaskCase(
                    id=case.id,
                    expected=case.expected,
                    answer=round(answer.value, 6),
                    error=round(err, 6),
                    raw_output=raw,
                    input=case.input,
                ),
            )
        )
    scored.sort(key=lambda row: (row[0], row[1]))
    return [row[2] for row in scored[:k]], invalid[:k]


def agreement(
    values: Mapping[str, list[float | None]], binary_threshold: float | None
) -> ts.Agreement | None:
    """With several samples per case: how often a case's samples agree (binary: on the
    decision; scoring: on the number)."""
    per_case = [v for v in values.values() if len(v) > 1]
    if not per_case:
        return None
    shares, unanimous = [], 0
    for samples in per_case:
        keys = [
            None
            if v is None
            else (v >= binary_threshold if binary_threshold is not None else round(v, 6))
            for v in samples
        ]
        top = Counter(keys).most_common(1)[0][1]
        shares.append(top / len(keys))
        unanimous += top == len(keys)
    return ts.Agreement(
        samples=max(len(v) for v in per_case),
        mean_agreement=float(np.mean(shares)),
        unanimous_cases=unanimous,
        n_cases=len(per_case),
    )


def threshold_checks(
    suite: TaskSuite, values: Mapping[str, float | None], baselines: Sequence[ts.TaskBaseline]
) -> list[s.ThresholdResult]:
    out = []
    for name, bound in sorted(suite.thresholds.items()):
        actual = values.get(name)
        for op, limit in ((">=", bound.min), ("<=", bound.max)):
            if limit is None:
                continue
            ok = actual is not None and (actual >= limit if op == ">=" else actual <= limit)
            out.append(
                s.ThresholdResult(
                    metric=name,
                    op=op,
                    value=limit,
                    actual=actual,
                    passed=ok,
                    note=None if actual is not None else "undefined on these cases",
                )
            )
    compared = [x for x in baselines if x.comparison is not None]
    if suite.must_beat != "none":
        targets = compared[:1] if suite.must_beat == "first" else compared
        for x in targets:
            if x.comparison is None:
                continue
            out.append(
                s.ThresholdResult(
                    metric=f"beats {x.name}",
                    op=">=",
                    value=1.0,
                    actual=1.0 if x.comparison.prompt_better else 0.0,
                    passed=x.comparison.prompt_better,
                    note=(
                        f"paired bootstrap p {x.comparison.decision.p_value:.3g} "
                        f"({x.comparison.decision.outcome})"
                    ),
                )
            )
    return out
