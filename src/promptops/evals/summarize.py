"""From a finished run folder to its `ClassificationSummary`: metrics, intervals, baselines,
slices, worst cases and the verdict. Pure: everything comes from the outcomes (compact columns
read once from results.jsonl, see `results.py`) and the cases."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import cast

import numpy as np
from numpy.typing import NDArray

from promptops.evals import metrics as m
from promptops.evals import paired, stats
from promptops.evals.baselines import BaselinePredictions as FitResult
from promptops.evals.cells import tally
from promptops.evals.columns import TestColumns
from promptops.evals.results import MISSING, Outcomes
from promptops.evals.suite import Suite
from promptops.metrics import power
from promptops.runs import summary as s
from promptops.runs.rows import ClassificationRow

MIN_SLICE = 5


def metrics_model(result: m.ClassificationScores) -> s.ClassificationMetrics:
    """The summary's view of computed scores."""
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
        reliability=list(prob.reliability) if prob else None,
    )


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
    """Each fitted baseline against the prompt on the same cases; the suite's primary metric
    picks the test that decides (`paired.compare_cells`), the others are shown beside it."""
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
        result = paired.compare_cells(
            cells,
            k,
            metric=cast(paired.Metric, suite.primary_metric),
            alpha=suite.alpha,
            n_resamples=suite.bootstrap_samples,
            seed=suite.seed,
        )
        mc, pb, perm, decision = (
            result.mcnemar,
            result.bootstrap,
            result.permutation,
            result.decision,
        )
        out.append(
            s.BaselineResult(
                name=fit.name,
                description=description,
                status="ok",
                metrics=metrics_model(base_metrics),
                # the model's b counts the prompt's wins: cells hold (true, baseline, prompt)
                mcnemar=s.McNemar(b=mc.c, c=mc.b, p_value=mc.p_value, mid_p=mc.mid_p),
                paired_bootstrap=s.PairedBootstrap(
                    metric="macro_f1",
                    diff=pb.difference,
                    low=pb.low,
                    high=pb.high,
                    p_value=pb.p_value,
                    n_boot=pb.n_resamples,
                    seed=suite.seed,
                ),
                sign_flip=s.SignFlip(
                    metric="macro_f1",
                    diff=perm.difference,
                    p_value=perm.p_value,
                    n_perm=perm.n_resamples,
                    seed=suite.seed,
                ),
                decision=decision_model(decision),
                prompt_significantly_better=decision.significant and decision.diff > 0,
            )
        )
    return out


def decision_model(d: paired.Decision) -> s.PairedDecision:
    return s.PairedDecision(
        metric=d.metric,
        test=d.test,
        diff=d.diff,
        p_value=d.p_value,
        alpha=d.alpha,
        outcome=d.outcome,
        n=d.n,
        discordant=d.discordant,
        smallest_p=d.smallest_p,
        mde=d.mde,
        power=d.power,
        mde_method=d.mde_method,
    )


def _primary(b: s.BaselineResult, metric: str) -> float:
    return float(getattr(b.metrics, metric)) if b.metrics else 0.0


def best_baseline(baselines: list[s.BaselineResult], metric: str) -> s.BaselineResult | None:
    """The fitted baseline scoring highest on the primary metric (first on ties)."""
    fitted = [b for b in baselines if b.status == "ok" and b.metrics is not None]
    return max(fitted, key=lambda b: _primary(b, metric)) if fitted else None


OUTCOMES = {
    "significant": "significant",
    "not_significant": "not significant",
    "underpowered": "inconclusive (underpowered)",
    "too_small": "too small to decide",
    "identical": "no case differs",
}


def verdict(
    prompt_score: float, baselines: list[s.BaselineResult], alpha: float, metric: str = "macro_f1"
) -> s.Verdict:
    best = best_baseline(baselines, metric)
    if best is None:
        return s.Verdict(
            best_baseline=None,
            beats_best_baseline=None,
            explanation="no baseline could be fit: nothing shows the prompt beats a trivial rule",
        )
    d = best.decision
    assert d is not None
    beats = bool(best.prompt_significantly_better)
    relation = "beats" if beats else "is not shown to beat"
    name = "accuracy" if metric == "accuracy" else "macro-F1"
    return s.Verdict(
        best_baseline=best.name,
        beats_best_baseline=beats,
        explanation=(
            f"the prompt ({name} {prompt_score:.3f}) {relation} the best baseline {best.name} "
            f"({name} {_primary(best, metric):.3f}): difference {d.diff:+.3f}, "
            f"{d.test} p={d.p_value:.3g} (alpha {alpha}): {OUTCOMES[d.outcome]}"
        ),
    )


def sensitivity(
    metric: str,
    baselines: list[s.BaselineResult],
    intervals: dict[str, s.Interval],
    n: int,
    alpha: float,
) -> s.Sensitivity:
    """The primary metric's MDE: paired with the best baseline when one was fit, else the
    metric alone (what a test against a fixed value could see)."""
    best = best_baseline(baselines, metric)
    if best is not None and best.decision is not None:
        d = best.decision
        return s.Sensitivity(
            metric=metric,
            n=d.n,
            alpha=alpha,
            power=d.power,
            mde=d.mde,
            method=f"{d.test}; {d.mde_method}",
            against=best.name,
        )
    iv = intervals[metric]
    key: paired.Metric = "accuracy" if metric == "accuracy" else "macro_f1"
    return s.Sensitivity(
        metric=metric,
        n=n,
        alpha=alpha,
        power=power.DEFAULT_POWER,
        mde=paired.one_sample_mde(key, iv.estimate, iv.low, iv.high, n, alpha=alpha),
        method="one sample, from the metric's standard error (no baseline to pair with)",
        against=None,
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


def _view(row: ClassificationRow) -> s.CaseView:
    probs = row.label_probs or {}
    predicted = row.predicted
    return s.CaseView(
        id=row.id,
        input=row.input,
        expected=row.expected,
        predicted=predicted,
        confidence=probs.get(predicted) if predicted is not None else None,
        raw_output=row.raw_output,
        error=row.error,
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
    return [_view(row) for row in outcomes.rows(picked)]


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


def measured(metrics: s.ClassificationMetrics, error_rate: float) -> dict[str, float | None]:
    """The values a classification suite's thresholds may name."""
    return {
        "macro_f1": metrics.macro_f1,
        "accuracy": metrics.accuracy,
        "invalid_rate": metrics.invalid_rate,
        "error_rate": error_rate,
    }


def must_beat(suite: Suite, baselines: list[s.BaselineResult]) -> s.ThresholdResult | None:
    """The suite's `must_beat` rule as a pass/fail row (1 = significantly better). A rule the
    suite cannot decide fails: it is not demonstrated, and the row's note says why."""
    if suite.must_beat == "none":
        return None
    fitted = [b for b in baselines if b.status == "ok" and b.metrics is not None]
    if suite.must_beat == "majority":
        fitted = [b for b in fitted if b.name == "majority"]
    target = best_baseline(fitted, suite.primary_metric)
    if target is None:
        return s.ThresholdResult(
            metric=f"beats_{suite.must_beat}_baseline",
            op=">=",
            value=1,
            actual=None,
            passed=False,
            note="not demonstrated (no such baseline could be fit)",
        )
    ok = bool(target.prompt_significantly_better)
    d = target.decision
    note = None
    if not ok and d is not None:
        reason = {
            "significant": "the prompt is significantly worse",
            "not_significant": "no significant difference",
            "underpowered": "inconclusive, underpowered",
            "too_small": "the suite is too small to decide",
            "identical": "the prompt and the baseline answer every case alike",
        }[d.outcome]
        note = f"not demonstrated ({reason})"
    return s.ThresholdResult(
        metric=f"beats_{target.name}_baseline",
        op=">=",
        value=1,
        actual=1.0 if ok else 0.0,
        passed=ok,
        note=note,
    )
