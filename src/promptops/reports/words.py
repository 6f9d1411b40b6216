"""Plain-text facts and sentences that every report writer shows the same way.

They return unescaped text: each writer escapes it for its own format, so the Markdown and
HTML reports say exactly the same thing in the same words.
"""

from __future__ import annotations

import json
from typing import Any

from promptops.reports import fmt
from promptops.runs.summary import BaselineResult, CaseView, ClassificationSummary

_KNOWN_METRICS = ("accuracy", "macro_f1", "pr_auc_macro", "ece", "invalid_rate")


def threshold_status(s: ClassificationSummary) -> str:
    failed = sum(not t.passed for t in s.thresholds)
    if not s.thresholds:
        return "no thresholds were set."
    if failed:
        return f"{failed} of {len(s.thresholds)} thresholds failed."
    return f"all {len(s.thresholds)} thresholds passed."


def best_baseline(s: ClassificationSummary) -> BaselineResult | None:
    return next((b for b in s.baselines if b.name == s.verdict.best_baseline), None)


def p_words(p: float) -> str:
    """A p-value inside a sentence: "p = 0.012" or "p below 0.001"."""
    return "p below 0.001" if p < 0.001 else f"p = {fmt.pvalue(p)}"


def baseline_sentence(s: ClassificationSummary) -> str:
    """Whether the prompt beats the best baseline, with the statistics behind the claim."""
    best = best_baseline(s)
    if best is None or s.verdict.beats_best_baseline is None:
        return "No baseline could be compared, so there is no baseline verdict."
    verb = "beats" if s.verdict.beats_best_baseline else "does not beat"
    words = [f"The prompt {verb} the best baseline, {best.name}."]
    pb = best.paired_bootstrap
    if pb is not None:
        ours = fmt.metric_value(s.metrics, pb.metric)
        theirs = fmt.metric_value(best.metrics, pb.metric) if best.metrics else None
        words.append(
            f"{fmt.metric_name(pb.metric)} {fmt.num(ours)} against {fmt.num(theirs)}: "
            f"difference {fmt.signed(pb.diff)}, 95% CI from {fmt.signed(pb.low)} to "
            f"{fmt.signed(pb.high)} (paired bootstrap, {fmt.count(pb.n_boot)} resamples, "
            f"{p_words(pb.p_value)})."
        )
    if best.mcnemar is not None:
        m = best.mcnemar
        words.append(
            f"McNemar's test: only the prompt was right on {fmt.count(m.b)} cases, only the "
            f"baseline on {fmt.count(m.c)} ({p_words(m.p_value)})."
        )
    return " ".join(words)


def ordered_metrics(s: ClassificationSummary) -> list[str]:
    """Headline metric keys: the primary metric first, then a fixed order, then the rest."""
    present = [
        m for m in _KNOWN_METRICS if fmt.metric_value(s.metrics, m) is not None or m in s.intervals
    ]
    names = present + sorted(m for m in s.intervals if m not in _KNOWN_METRICS)
    if s.primary_metric in names:
        names.remove(s.primary_metric)
        names.insert(0, s.primary_metric)
    return names


def headline_value(s: ClassificationSummary, key: str) -> float | None:
    """The point estimate on all cases; an interval's estimate only for extra metrics."""
    value = fmt.metric_value(s.metrics, key)
    interval = s.intervals.get(key)
    return value if value is not None or interval is None else interval.estimate


def bootstrap_note(s: ClassificationSummary) -> str | None:
    """How the intervals were computed, e.g. "bootstrap percentiles (1,000 resamples, seed 0)"."""
    runs = sorted({(iv.n_boot, iv.seed) for iv in s.intervals.values()})
    if not runs:
        return None
    parts = "; ".join(f"{fmt.count(n)} resamples, seed {seed}" for n, seed in runs)
    return f"Intervals are bootstrap percentiles ({parts})."


def format_input(values: dict[str, Any]) -> str:
    """A case's input as text: the bare value for one field, `key: value` lines else."""
    parts = [
        (key, v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True))
        for key, v in values.items()
    ]
    if len(parts) == 1:
        return parts[0][1]
    return "\n".join(f"{key}: {value}" for key, value in parts)


def case_output(case: CaseView) -> str:
    """What the model said: its raw output when kept, else the parsed prediction."""
    if case.raw_output is not None:
        return case.raw_output
    return case.predicted if case.predicted is not None else ""


def error_share(s: ClassificationSummary) -> str:
    return fmt.pct(s.n_errors / s.n_cases) if s.n_cases else fmt.MISSING


def resent_note(s: ClassificationSummary) -> str:
    """How many results a resumed run sent again after a transient error ("" for none)."""
    if not s.n_resent:
        return ""
    return f"; {fmt.count(s.n_resent)} re-sent on resume after a transient error"


def calibration_sentence(s: ClassificationSummary) -> str | None:
    """What contextual calibration changed on this run, or None when it was off."""
    c = s.calibration
    if c is None:
        return None
    prior = ", ".join(
        f"{label} {fmt.num(c.prior[label])}" for label in s.labels if label in c.prior
    )
    return (
        f"Contextual calibration changed {fmt.count(c.changed_answers)} of {fmt.count(s.n_cases)} "
        f"answers: macro-F1 {fmt.num(s.metrics.macro_f1)} with it, "
        f"{fmt.num(c.uncalibrated_macro_f1)} without (accuracy {fmt.num(s.metrics.accuracy)} "
        f"vs {fmt.num(c.uncalibrated_accuracy)}). Content-free prior: {prior}."
    )
