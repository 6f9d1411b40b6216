"""Plain-text facts and sentences that every report writer shows the same way.

They return unescaped text: each writer escapes it for its own format, so the Markdown and
HTML reports say exactly the same thing in the same words.
"""

from __future__ import annotations

import json
from typing import Any

from promptops.reports import fmt
from promptops.runs.summary import (
    BaselineResult,
    CaseView,
    ClassificationSummary,
    PairedDecision,
    Sensitivity,
)

_KNOWN_METRICS = ("accuracy", "macro_f1", "pr_auc_macro", "ece", "invalid_rate")


def best_baseline(s: ClassificationSummary) -> BaselineResult | None:
    return next((b for b in s.baselines if b.name == s.verdict.best_baseline), None)


def p_words(p: float) -> str:
    """A p-value inside a sentence: "p = 0.012" or "p below 0.001"."""
    return "p below 0.001" if p < 0.001 else f"p = {fmt.pvalue(p)}"


TEST_REASONS = {
    "McNemar mid-p": (
        "accuracy is right/wrong per case, so only the cases where one side is right and the "
        "other wrong count; the mid-p version holds its size at every n (Fagerland et al. "
        "2013) where the exact one is needlessly conservative"
    ),
    "paired sign-flip permutation": (
        "macro-F1 is not a mean over cases; swapping the two answers of a case at random is "
        "exact at any size, while the bootstrap under-covers on small suites"
    ),
}

OUTCOME_WORDS = {
    "significant": "significant",
    "not_significant": "not significant",
    "underpowered": "inconclusive (underpowered)",
    "too_small": "too small to decide",
    "identical": "no case differs",
}


def decision_words(
    d: PairedDecision, ours: str = "the prompt", theirs: str = "the baseline"
) -> str:
    """One or two sentences: what the deciding test found and, when it found nothing,
    whether the sample could have found anything."""
    name = fmt.metric_name(d.metric)
    mde = (
        f"{fmt.num(d.mde)} in {name} at {fmt.pct(d.power, 0)} power" if d.mde is not None else None
    )
    unit = "case" if d.discordant == 1 else "cases"
    differ = "right on one side only" if d.metric == "accuracy" else "answered differently"
    if d.outcome == "significant":
        return f"Significant: {d.test} {p_words(d.p_value)} (alpha {d.alpha:g})."
    if d.outcome == "identical":
        same = (
            f"is right on exactly the same cases as {theirs}"
            if d.metric == "accuracy"
            else f"gives the same answer as {theirs} on every case"
        )
        return (
            f"{ours[0].upper()}{ours[1:]} {same}, so there is nothing to test: "
            f"{fmt.count(d.n)} cases cannot tell them apart."
        )
    if d.outcome == "too_small":
        return (
            f"Too small to decide: only {fmt.count(d.discordant)} {unit} {differ}, and even if "
            f"all of them went one way the {d.test} test could not reach p below {d.alpha:g} "
            f"(smallest possible p {fmt.pvalue(d.smallest_p)}). More cases are needed before "
            f"any difference between {ours} and {theirs} can be shown."
        )
    if d.outcome == "underpowered":
        reach = (
            f"the difference {fmt.signed(d.diff)} is smaller than the {mde} that "
            f"{fmt.count(d.n)} cases can detect"
            if mde is not None
            else f"at {fmt.count(d.n)} cases no difference is detectable at "
            f"{fmt.pct(d.power, 0)} power"
        )
        return (
            f"Inconclusive (underpowered): {d.test} {p_words(d.p_value)}, and {reach}; "
            "a real difference of this size could well go unseen."
        )
    return (
        f"Not significant ({d.test} {p_words(d.p_value)}), although {fmt.count(d.n)} cases "
        f"could detect {mde}."
    )


def test_reason(d: PairedDecision) -> str:
    """Which test decides, and why this one."""
    why = TEST_REASONS.get(d.test)
    head = f"The {d.test} test on {fmt.metric_name(d.metric)} decides"
    return f"{head}: {why}." if why else f"{head}."


def baseline_sentence(s: ClassificationSummary) -> str:
    """Whether the prompt beats the best baseline, with the statistics behind the claim:
    the deciding test first, then every other figure, saying it does not decide."""
    best = best_baseline(s)
    if best is None or s.verdict.beats_best_baseline is None:
        return "No baseline could be compared, so there is no baseline verdict."
    d = best.decision
    if s.verdict.beats_best_baseline:
        verb = "beats"
    elif d is not None and d.outcome in ("too_small", "underpowered", "identical"):
        verb = "is not shown to beat"
    else:
        verb = "does not beat"
    words = [f"The prompt {verb} the best baseline, {best.name}."]
    if d is not None:
        ours = fmt.metric_value(s.metrics, d.metric)
        theirs = fmt.metric_value(best.metrics, d.metric) if best.metrics else None
        words.append(
            f"{fmt.metric_name(d.metric)} {fmt.num(ours)} against {fmt.num(theirs)}: "
            f"difference {fmt.signed(d.diff)}. {decision_words(d)} {test_reason(d)}"
        )
    pb = best.paired_bootstrap
    if pb is not None:
        decides = d is None or d.test == "paired bootstrap"
        words.append(
            f"Paired bootstrap on {fmt.metric_name(pb.metric)}: 95% CI from {fmt.signed(pb.low)} "
            f"to {fmt.signed(pb.high)} ({fmt.count(pb.n_boot)} resamples, "
            f"{p_words(pb.p_value)})" + ("." if decides else ", shown only: it does not decide.")
        )
        clash = disagreement(pb.p_value, d, d.alpha) if d is not None and not decides else None
        if clash:
            words.append(clash)
    if best.mcnemar is not None:
        m = best.mcnemar
        mid = f", mid-{p_words(m.mid_p)}" if m.mid_p is not None else ""
        words.append(
            f"McNemar's test: only the prompt was right on {fmt.count(m.b)} cases, only the "
            f"baseline on {fmt.count(m.c)} (exact {p_words(m.p_value)}{mid})."
        )
    return " ".join(words)


def disagreement(bootstrap_p: float, d: PairedDecision, alpha: float) -> str | None:
    """When the paired bootstrap alone would decide otherwise than the deciding test: say so,
    and which of the two is valid at this size."""
    if (bootstrap_p < alpha) == (d.outcome == "significant"):
        return None
    verb = "call" if bootstrap_p < alpha else "not call"
    return (
        f"The two disagree: the bootstrap alone would {verb} this significant; the "
        f"{d.test} test is the one valid at {fmt.count(d.n)} cases."
    )


def decision_cells(b: BaselineResult) -> list[str]:
    """The baseline table's statistics columns, from "Prompt minus baseline" to the McNemar
    p-values: the deciding test first, the figures that do not decide after it."""
    d, pb, mc = b.decision, b.paired_bootstrap, b.mcnemar
    if d is not None:
        diff = fmt.signed(d.diff) + f" ({fmt.metric_name(d.metric)})"
        decided = [d.test, fmt.pvalue(d.p_value), fmt.num(d.mde), OUTCOME_WORDS[d.outcome]]
        if d.outcome == "significant":
            decided[3] = "prompt better" if d.diff > 0 else "prompt worse"
    else:
        diff = fmt.signed(pb.diff) if pb else fmt.MISSING
        better = b.prompt_significantly_better
        decided = [
            "paired bootstrap" if pb else fmt.MISSING,
            fmt.pvalue(pb.p_value if pb else None),
            fmt.MISSING,
            {True: "prompt better", False: "not significant", None: fmt.MISSING}[better],
        ]
    mcnemar = fmt.MISSING
    if mc is not None:
        mcnemar = fmt.pvalue(mc.p_value) + (
            f" / {fmt.pvalue(mc.mid_p)}" if mc.mid_p is not None else ""
        )
    return [
        diff,
        *decided,
        fmt.interval(pb.low, pb.high, sign=True) if pb else fmt.MISSING,
        fmt.pvalue(pb.p_value if pb else None),
        mcnemar,
    ]


def sensitivity_sentence(s: ClassificationSummary) -> str | None:
    """The minimum detectable difference of the primary metric, in words."""
    v: Sensitivity | None = s.sensitivity
    if v is None:
        return None
    name = fmt.metric_name(v.metric)
    against = f"against the {v.against} baseline" if v.against else "for the metric alone"
    head = (
        f"Minimum detectable difference ({fmt.pct(v.power, 0)} power, alpha {v.alpha:g}, "
        f"{fmt.count(v.n)} cases, {against})"
    )
    if v.mde is None:
        return f"{head}: none; no difference in {name} is detectable at this size ({v.method})."
    return f"{head}: {fmt.num(v.mde)} in {name} ({v.method})."


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
