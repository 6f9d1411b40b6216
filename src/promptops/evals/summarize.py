"""From a finished run folder to its `ClassificationSummary`: metrics, intervals, baselines,
slices, worst cases and the verdict. Pure: everything comes from the outcomes (compact columns
read once from results.jsonl, see `results.py`) and the cases."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from promptops.evals import metrics as m
from promptops.evals import stats
from promptops.evals.baselines import BaselineResult as FitResult
from promptops.evals.cells import tally
from promptops.evals.columns import TestColumns
from promptops.evals.results import MISSING, Outcomes
from promptops.evals.suite import Suite
from promptops.runs import summary as s

MIN_SLICE = 5


def metrics_model(result: m.ClassificationMetrics) -> s.ClassificationMetrics:
    prob = result.probability
    return s.ClassificationMetrics(
        accuracy=result.accuracy,
        macro_f1=result.macro_f1,
        invalid_rate=result.invalid_rate,
        per_class={
            label: s.ClassMetrics(
                precision=c.precision, recall=c.recall, f1=c.f1, support=c.support
            )
            for label, c in result.per_class.items()
        },
        confusion=s.Confusion(
            labels=list(result.labels),
            columns=list(result.confusion_columns),
            matrix=result.confusion,
        ),
        pr_auc_macro=prob.macro_pr_auc if prob else None,
        ece=prob.ece if prob else None,
        reliability=reliability_model(prob.reliability) if prob else None,
    )


def reliability_model(bins: Sequence[m.ReliabilityBin]) -> list[s.ReliabilityBin]:
    return [
        s.ReliabilityBin(
            lower=b.lower,
            upper=b.upper,
            count=b.count,
            confidence=b.mean_confidence,
            accuracy=b.accuracy,
        )
        for b in bins
    ]


def intervals(outcomes: Outcomes, suite: Suite) -> dict[str, s.Interval]:
    kwargs = {"n_resamples": suite.bootstrap_samples, "seed": suite.seed}
    n_labels = len(outcomes.labels)
    cells = tally([outcomes.true, outcomes.pred], [n_labels, n_labels + 1])
    f1 = stats.macro_f1_ci_cells(cells, n_labels, **kwargs)
    acc = stats.accuracy_ci_cells(cells, **kwargs)
    return {
        name: s.Interval(
            estimate=ci.estimate,
            low=ci.low,
            high=ci.high,
            level=ci.confidence,
            n_boot=ci.n_resamples,
            seed=suite.seed,
        )
        for name, ci in (("macro_f1", f1), ("accuracy", acc))
    }


BASELINE_TEXT = {
    "majority": "always the most frequent train label",
    "tfidf_lr": "TF-IDF word+char n-grams, logistic regression, fit on the train split",
    "embedding_lr": "all-MiniLM-L6-v2 embeddings, logistic regression, fit on the train split",
}


def compare_baselines(
    outcomes: Outcomes, fits: Sequence[FitResult], suite: Suite
) -> list[s.BaselineResult]:
    out = []
    positions, k = outcomes.positions, len(outcomes.labels)
    for fit in fits:
        description = BASELINE_TEXT.get(fit.name, fit.name)
        if not fit.ok or fit.codes is None:
            out.append(
                s.BaselineResult(
                    name=fit.name, description=description, status="not_fit", reason=fit.error
                )
            )
            continue
        preds = fit.codes if positions is None else fit.codes[positions]
        probabilities = fit.probabilities
        if probabilities is not None and positions is not None:
            probabilities = probabilities[positions]
        base_metrics = m.classification_metrics_codes(
            outcomes.true, preds, outcomes.labels, probabilities
        )
        cells = tally([outcomes.true, preds, outcomes.pred], [k, k + 1, k + 1])
        base_right = cells.column(0) == cells.column(1)
        prompt_right = cells.column(0) == cells.column(2)
        mc = stats.mcnemar_counts(
            int(cells.counts[prompt_right & ~base_right].sum()),
            int(cells.counts[base_right & ~prompt_right].sum()),
        )
        pb = stats.paired_bootstrap_cells(
            cells, k, n_resamples=suite.bootstrap_samples, seed=suite.seed
        )
        out.append(
            s.BaselineResult(
                name=fit.name,
                description=description,
                status="ok",
                metrics=metrics_model(base_metrics),
                mcnemar=s.McNemar(b=mc.b, c=mc.c, p_value=mc.p_value),
                paired_bootstrap=s.PairedBootstrap(
                    metric="macro_f1",
                    diff=pb.difference,
                    low=pb.low,
                    high=pb.high,
                    p_value=pb.p_value,
                    n_boot=pb.n_resamples,
                    seed=suite.seed,
                ),
                prompt_significantly_better=pb.difference > 0 and pb.p_value < suite.alpha,
            )
        )
    return out


def verdict(prompt_f1: float, baselines: list[s.BaselineResult], alpha: float) -> s.Verdict:
    fitted = [b for b in baselines if b.status == "ok" and b.metrics is not None]
    if not fitted:
        return s.Verdict(
            best_baseline=None,
            beats_best_baseline=None,
            explanation="no baseline could be fit: nothing shows the prompt beats a trivial rule",
        )
    best = max(fitted, key=lambda b: b.metrics.macro_f1 if b.metrics else 0.0)
    assert best.metrics is not None and best.paired_bootstrap is not None
    pb = best.paired_bootstrap
    beats = bool(best.prompt_significantly_better)
    relation = "beats" if beats else "does not significantly beat"
    return s.Verdict(
        best_baseline=best.name,
        beats_best_baseline=beats,
        explanation=(
            f"the prompt (macro-F1 {prompt_f1:.3f}) {relation} the best baseline {best.name} "
            f"(macro-F1 {best.metrics.macro_f1:.3f}): difference {pb.diff:+.3f}, "
            f"95% CI [{pb.low:+.3f}, {pb.high:+.3f}], paired bootstrap p={pb.p_value:.3g} "
            f"(alpha {alpha})"
        ),
    )


def slices(
    outcomes: Outcomes, columns: TestColumns
) -> tuple[list[s.SliceMetrics], s.SliceGap | None]:
    """Accuracy and macro-F1 per tag (tags with at least MIN_SLICE evaluated cases); the
    largest accuracy gap between two tags of the same family (`family:value`) is flagged."""
    rows = []
    n_labels = len(outcomes.labels)
    for tag, positions in columns.tag_positions().items():
        indices = outcomes.at(positions)
        if len(indices) < MIN_SLICE:
            continue
        confusion = m.confusion_from_codes(outcomes.true[indices], outcomes.pred[indices], n_labels)
        rows.append(
            s.SliceMetrics(
                tag=tag,
                n=len(indices),
                accuracy=m.accuracy_of(confusion),
                macro_f1=_present_macro_f1(confusion),
            )
        )
    families: dict[str, list[s.SliceMetrics]] = defaultdict(list)
    for row in rows:
        families[row.tag.split(":", 1)[0] if ":" in row.tag else ""].append(row)
    gap: s.SliceGap | None = None
    for members in families.values():
        if len(members) < 2:
            continue
        lo = min(members, key=lambda r: r.accuracy)
        hi = max(members, key=lambda r: r.accuracy)
        if gap is None or hi.accuracy - lo.accuracy > gap.gap:
            gap = s.SliceGap(
                tag_a=hi.tag, tag_b=lo.tag, metric="accuracy", gap=hi.accuracy - lo.accuracy
            )
    return rows, gap


def _present_macro_f1(confusion: NDArray[np.int64]) -> float:
    """Macro-F1 over the labels that occur in a slice: an answer naming any other label
    counts as invalid there, as it would if the slice were scored on its own."""
    present = np.flatnonzero(confusion.sum(axis=1))
    kept = confusion[np.ix_(present, present)]
    other = confusion[present].sum(axis=1) - kept.sum(axis=1)
    return float(m.class_scores(np.column_stack([kept, other]))[2].mean())


def _view(record: dict[str, Any]) -> s.CaseView:
    probs = record.get("label_probs") or {}
    predicted = record.get("predicted")
    return s.CaseView(
        id=str(record["id"]),
        input=record["input"],
        expected=record.get("expected"),
        predicted=predicted,
        confidence=probs.get(predicted) if predicted is not None else None,
        raw_output=record.get("raw_output"),
        error=record.get("error"),
    )


def worst_cases(outcomes: Outcomes, metrics: s.ClassificationMetrics) -> s.WorstCases:
    """The cases `Picks` chose while the results were read; only their records are read
    back. The lowest-recall classes show their first wrong answers."""
    picks = outcomes.picks
    by_class = sorted(metrics.per_class.items(), key=lambda kv: (kv[1].recall, kv[0]))[:3]
    code = {label: i for i, label in enumerate(outcomes.labels)}
    lowest = [
        s.ClassRecall(
            label=label,
            recall=scores.recall,
            support=scores.support,
            examples=_views(outcomes, picks.first_wrong(code[label])),
        )
        for label, scores in by_class
    ]
    return s.WorstCases(
        confident_wrong=_views(outcomes, picks.confident_wrong()),
        lowest_recall=lowest,
        errors=_views(outcomes, picks.first_errors()),
    )


def _views(outcomes: Outcomes, picked: list[tuple[int, int]]) -> list[s.CaseView]:
    return [_view(record) for record in outcomes.records(picked)]


def repeats(
    outcomes: Outcomes,
    samples: NDArray[np.int16] | None,
    ids_at: Callable[[NDArray[np.int64]], list[str]],
) -> s.Repeats | None:
    """Agreement across the k samples of each evaluated case; `samples` holds the label
    code of every (test case, sample), MISSING where a sample has no result. `ids_at`
    names the flaky cases from their positions."""
    if samples is None:
        return None
    k = samples.shape[1]
    rows = samples if outcomes.positions is None else samples[outcomes.positions]
    complete = np.flatnonzero((rows != MISSING).all(axis=1))
    if not len(complete):
        return None
    names: list[str | None] = [*outcomes.labels, None]
    result = stats.repeated_samples(
        [[names[c] for c in row] for row in rows[complete].tolist()],
        [outcomes.labels[c] for c in outcomes.true[complete].tolist()],
        ks=[k],
    )
    flaky = complete[np.asarray(result.per_case_agreement) < 1.0]
    positions = flaky if outcomes.positions is None else outcomes.positions[flaky]
    return s.Repeats(
        k=k,
        mean_agreement=result.mean_agreement,
        pass_hat_k=result.pass_hat_k[k],
        flaky_cases=sorted(ids_at(positions.astype(np.int64))),
    )


def thresholds(
    suite: Suite, metrics: s.ClassificationMetrics, error_rate: float
) -> list[s.ThresholdResult]:
    actual = {
        "macro_f1": metrics.macro_f1,
        "accuracy": metrics.accuracy,
        "invalid_rate": metrics.invalid_rate,
        "error_rate": error_rate,
    }
    out = []
    for name in sorted(suite.thresholds):
        bound = suite.thresholds[name]
        value = actual[name]
        if bound.min is not None:
            out.append(
                s.ThresholdResult(
                    metric=name, op=">=", value=bound.min, actual=value, passed=value >= bound.min
                )
            )
        if bound.max is not None:
            out.append(
                s.ThresholdResult(
                    metric=name, op="<=", value=bound.max, actual=value, passed=value <= bound.max
                )
            )
    return out


def must_beat(suite: Suite, baselines: list[s.BaselineResult]) -> s.ThresholdResult | None:
    """The suite's `must_beat` rule as a pass/fail row (1 = significantly better)."""
    if suite.must_beat == "none":
        return None
    fitted = [b for b in baselines if b.status == "ok" and b.metrics is not None]
    if suite.must_beat == "majority":
        fitted = [b for b in fitted if b.name == "majority"]
    if not fitted:
        return s.ThresholdResult(
            metric=f"beats_{suite.must_beat}_baseline", op=">=", value=1, actual=None, passed=False
        )
    target = max(fitted, key=lambda b: b.metrics.macro_f1 if b.metrics else 0.0)
    ok = bool(target.prompt_significantly_better)
    return s.ThresholdResult(
        metric=f"beats_{target.name}_baseline",
        op=">=",
        value=1,
        actual=1.0 if ok else 0.0,
        passed=ok,
    )
