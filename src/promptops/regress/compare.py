"""`compare A B`: did the candidate B get better or worse than the reference A, for sure?

Both sides are scored on the cases they share (same id, sample 0, same expected label), so
case difficulty cancels out and the tests are paired:

- macro-F1: the paired sign-flip permutation test of B minus A, and a paired bootstrap
  interval (shown, never deciding); accuracy: a bootstrap interval of the difference;
- correctness: McNemar's test on the flipped cases (fixed vs broken), mid-p and exact.

The primary metric of B's suite decides the verdict through `evals.paired.compare_cells`,
the rule the eval verdict and `must_beat` use: the sign-flip test for macro-F1, McNemar
mid-p for accuracy, both valid at any size. B fails when it is significantly worse
(difference < 0 and p < alpha) or fails one of its own thresholds. A non-significant result
says whether the shared cases could have shown a change at all (the minimum detectable
difference at 80% power). Resamples and seed are B's (the suite's), so the numbers are
reproducible.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import ConfigDict, Field

from promptops.errors import EvalsetError, UserInputError
from promptops.evals import metrics as m
from promptops.evals import paired, stats
from promptops.evals.cells import tally
from promptops.evals.summarize import decision_model
from promptops.prompts.diff import diff_prompts
from promptops.regress.baseline import default_path, load_baseline, side_from_record
from promptops.regress.sides import CaseOutcome, RunSide, load_run
from promptops.reports import fmt
from promptops.reports.words import decision_words, p_words
from promptops.runs import comparison as c
from promptops.runs.folder import write_json
from promptops.runs.summary import ClassMetrics, PairedBootstrap, SignFlip
from promptops.suites import SuiteFile, load_suite

COMPARISON_JSON = "comparison.json"


def load_side(path: Path) -> RunSide:
    """A run folder, or a baseline record file written by `baseline save`."""
    if path.is_dir():
        return load_run(path)
    if path.is_file():
        return side_from_record(load_baseline(path), path)
    raise UserInputError("no run folder or baseline record here", where=str(path))


def compare_paths(a: Path, b: Path, *, alpha: float = 0.05) -> c.ComparisonSummary:
    return compare(load_side(a), load_side(b), alpha=alpha)


def compare(a: RunSide, b: RunSide, *, alpha: float = 0.05) -> c.ComparisonSummary:
    if not 0 < alpha < 1:
        raise UserInputError(f"alpha must be between 0 and 1, got {alpha}", where="--alpha")
    evalset, shared = _match(a, b)
    if not shared:
        raise EvalsetError(
            f"A and B share no case (by id, with the same expected label): nothing to compare. "
            f"{evalset.message}",
            where=f"{a.info.path} vs {b.info.path}",
        )
    labels = _labels(a, b, shared)
    y_true = [b.cases[i].expected for i in shared]
    pred_a = [a.cases[i].predicted for i in shared]
    pred_b = [b.cases[i].predicted for i in shared]
    right_a = np.array([a.cases[i].correct for i in shared], dtype=np.float64)
    right_b = np.array([b.cases[i].correct for i in shared], dtype=np.float64)
    n_boot, seed = b.n_boot, b.seed
    metrics_a = m.classification_metrics(y_true, pred_a, labels)
    metrics_b = m.classification_metrics(y_true, pred_b, labels)
    true, codes_a = m.encode(y_true, pred_a, labels)
    _, codes_b = m.encode(y_true, pred_b, labels)
    k = len(labels)
    primary = b.info.primary_metric
    result = paired.compare_cells(
        tally([true, codes_a, codes_b], [k, k + 1, k + 1]),
        k,
        metric="accuracy" if primary == "accuracy" else "macro_f1",
        alpha=alpha,
        n_resamples=n_boot,
        seed=seed,
    )
    paired_boot, perm, mc = result.bootstrap, result.permutation, result.mcnemar
    accuracy = stats.bootstrap_ci(
        lambda ix: float(right_b[ix].mean() - right_a[ix].mean()),
        len(shared),
        n_resamples=n_boot,
        seed=seed,
    )
    deltas = [
        c.MetricDelta(
            metric="macro_f1",
            a=metrics_a.macro_f1,
            b=metrics_b.macro_f1,
            diff=paired_boot.difference,
            low=paired_boot.low,
            high=paired_boot.high,
            level=paired_boot.confidence,
            n_boot=n_boot,
            seed=seed,
        ),
        c.MetricDelta(
            metric="accuracy",
            a=metrics_a.accuracy,
            b=metrics_b.accuracy,
            diff=accuracy.estimate,
            low=accuracy.low,
            high=accuracy.high,
            level=accuracy.confidence,
            n_boot=n_boot,
            seed=seed,
        ),
    ]
    mcnemar = c.McNemarFlips(broken=mc.b, fixed=mc.c, p_value=mc.p_value, mid_p=mc.mid_p)
    return c.ComparisonSummary(
        alpha=alpha,
        primary_metric=primary,
        a=a.info,
        b=b.info,
        labels=labels,
        n_shared=len(shared),
        metrics=deltas,
        paired_bootstrap=PairedBootstrap(
            metric="macro_f1",
            diff=paired_boot.difference,
            low=paired_boot.low,
            high=paired_boot.high,
            p_value=paired_boot.p_value,
            n_boot=n_boot,
            seed=seed,
        ),
        sign_flip=SignFlip(
            metric="macro_f1",
            diff=perm.difference,
            p_value=perm.p_value,
            n_perm=perm.n_resamples,
            seed=seed,
        ),
        mcnemar=mcnemar,
        per_class=[
            c.ClassDelta(
                label=label,
                support=metrics_b.per_class[label].support,
                a=_scores(metrics_a.per_class[label]),
                b=_scores(metrics_b.per_class[label]),
            )
            for label in labels
        ],
        flips=_flips(a, b, shared),
        prompt=_prompt_change(a, b),
        evalset=evalset,
        setup=_setup(a, b),
        verdict=_verdict(primary, deltas, result.decision, mcnemar, b, alpha, len(shared)),
    )


def _match(a: RunSide, b: RunSide) -> tuple[c.EvalsetChange, list[str]]:
    common = sorted(set(a.cases) & set(b.cases))
    relabelled = [i for i in common if a.cases[i].expected != b.cases[i].expected]
    shared = [i for i in common if a.cases[i].expected == b.cases[i].expected]
    only_a = sorted(set(a.cases) - set(b.cases))
    only_b = sorted(set(b.cases) - set(a.cases))
    same_file = a.info.evalset.sha256 == b.info.evalset.sha256
    changed = not same_file or bool(only_a or only_b or relabelled)
    if changed:
        parts = [
            "The evalset changed between A and B"
            + (
                ""
                if same_file
                else f" (sha256 {a.info.evalset.sha256[:12]} → {b.info.evalset.sha256[:12]})"
            ),
            f"{len(only_a)} case(s) only in A",
            f"{len(only_b)} only in B",
            f"{len(relabelled)} relabelled",
        ]
        message = (
            ", ".join(parts)
            + f"; metrics and tests use the {len(shared)} shared case(s) only, so they are "
            "not the headline scores of either run."
        )
    else:
        message = f"Same evalset (sha256 {b.info.evalset.sha256[:12]}), {len(shared)} cases."
    return (
        c.EvalsetChange(
            changed=changed,
            same_file=same_file,
            n_shared=len(shared),
            only_in_a=only_a,
            only_in_b=only_b,
            relabelled=relabelled,
            message=message,
        ),
        shared,
    )


def _labels(a: RunSide, b: RunSide, shared: list[str]) -> list[str]:
    """B's labels, then any expected label B's prompt lacks (so scoring never drops a case)."""
    labels = list(b.info.labels)
    extra = sorted({b.cases[i].expected for i in shared} - set(labels))
    return labels + extra


def _scores(scores: m.ClassScores) -> ClassMetrics:
    return ClassMetrics(
        precision=scores.precision, recall=scores.recall, f1=scores.f1, support=scores.support
    )


def _flipped(case_a: CaseOutcome, case_b: CaseOutcome) -> c.FlippedCase:
    return c.FlippedCase(
        id=case_b.id,
        expected=case_b.expected,
        predicted_a=case_a.predicted,
        predicted_b=case_b.predicted,
        input=case_b.input if case_b.input is not None else case_a.input,
        output_a=case_a.output,
        output_b=case_b.output,
    )


def _flips(a: RunSide, b: RunSide, shared: list[str]) -> c.Flips:
    fixed, broken, still_wrong = [], [], 0
    for i in shared:
        ca, cb = a.cases[i], b.cases[i]
        if cb.correct and not ca.correct:
            fixed.append(_flipped(ca, cb))
        elif ca.correct and not cb.correct:
            broken.append(_flipped(ca, cb))
        elif not ca.correct and ca.predicted != cb.predicted:
            still_wrong += 1
    return c.Flips(fixed=fixed, broken=broken, changed_still_wrong=still_wrong)


def _prompt_change(a: RunSide, b: RunSide) -> c.PromptChange:
    changed = a.info.prompt.content_hash != b.info.prompt.content_hash
    if not changed:
        return c.PromptChange(changed=False, diff="")
    if a.prompt is None or b.prompt is None:
        return c.PromptChange(
            changed=True,
            diff="",
            note="a side kept no prompt snapshot (prompt.json), so only the hashes differ",
        )
    return c.PromptChange(changed=True, diff=diff_prompts(a.prompt, b.prompt))


def _settings(s: c.Side) -> list[tuple[str, str]]:
    """What a side ran with, as (name, value) rows for the setup table."""
    max_tokens = s.model.max_tokens
    return [
        ("Suite", s.suite),
        ("Prompt", s.prompt.identity),
        ("Prompt content hash", s.prompt.content_hash[:12]),
        ("Model", s.model.model),
        ("Profile", s.model.profile),
        ("Endpoint", s.model.base_url or "embedded"),
        ("Temperature", fmt.num(s.model.temperature, 2)),
        ("Max tokens", fmt.MISSING if max_tokens is None else str(max_tokens)),
        ("Calibration", s.model.calibration),
        ("Labels", ", ".join(s.labels)),
        ("Primary metric", s.primary_metric),
        ("Evalset", s.evalset.path),
        ("Evalset sha256", s.evalset.sha256[:12]),
        ("Evalset cases", fmt.count(s.evalset.n_cases)),
        ("Scored cases", fmt.count(s.n_cases)),
    ]


def _setup(a: RunSide, b: RunSide) -> list[c.SettingRow]:
    return [
        c.SettingRow(name=name, a=x, b=y, changed=x != y)
        for (name, x), (_, y) in zip(_settings(a.info), _settings(b.info), strict=True)
    ]


def _verdict(
    primary: str,
    deltas: list[c.MetricDelta],
    decision: paired.Decision,
    mcnemar: c.McNemarFlips,
    b: RunSide,
    alpha: float,
    n_shared: int,
) -> c.ComparisonVerdict:
    delta = next((d for d in deltas if d.metric == primary), deltas[0])
    test, p = decision.test, decision.p_value
    significant = decision.significant
    status: c.Status = (
        "no_significant_change"
        if not significant
        else ("regressed" if decision.diff < 0 else "improved")
    )
    name = fmt.metric_name(delta.metric)
    change = (
        f"{name} {fmt.num(delta.a)} → {fmt.num(delta.b)} ({fmt.signed(delta.diff)}, "
        f"{fmt.level(delta.level)} CI {fmt.interval(delta.low, delta.high, sign=True)}, "
        f"{test} {p_words(p)}) on {fmt.count(n_shared)} shared cases; "
        f"{mcnemar.broken} broken, {mcnemar.fixed} fixed"
    )
    head = {
        "regressed": f"B is significantly worse than A (p < alpha {alpha:g})",
        "improved": f"B is significantly better than A (p < alpha {alpha:g})",
        "no_significant_change": f"no significant difference between A and B (alpha {alpha:g})",
    }[status]
    model = decision_model(decision)
    failed = [t for t in b.info.thresholds if not t.passed]
    words = [f"{head}: {change}."]
    if not significant:
        words.append(decision_words(model, "B", "A"))
    if failed:
        names = ", ".join(
            f"{fmt.metric_name(t.metric)} {fmt.rule_text(t.op, t.value)}" for t in failed
        )
        words.append(f"B fails {len(failed)} of its own thresholds ({names}).")
    return c.ComparisonVerdict(
        status=status,
        test=test,
        p_value=p,
        diff=decision.diff,
        decision=model,
        b_passed=b.info.passed,
        fails=status == "regressed" or not b.info.passed,
        explanation=" ".join(words),
    )


def write_comparison(summary: c.ComparisonSummary, out_dir: Path) -> list[Path]:
    """comparison.json plus every report writer of kind "comparison" (Markdown, HTML)."""
    from promptops.reports.registry import write_all

    write_json(out_dir / COMPARISON_JSON, summary.model_dump(mode="json"))
    return [out_dir / COMPARISON_JSON, *write_all(summary, out_dir)]


class _SuiteRef(SuiteFile):
    """What `baseline_for` reads of a suite of any kind (the run validates the rest)."""

    model_config = ConfigDict(extra="ignore")

    name: str
    alpha: float = Field(0.05, gt=0, lt=1)
    seed: int = 13


def baseline_for(suite_ref: str, explicit: Path | None) -> tuple[Path, float, int]:
    """The baseline record `eval --against-baseline` compares with, and the suite's alpha
    and seed.

    Checked before the run starts, so a missing baseline costs no model calls."""
    suite, _ = load_suite(suite_ref, _SuiteRef)
    path = explicit or default_path(suite.name)
    if not path.is_file():
        raise UserInputError(
            "no baseline record; run the suite once and save it with "
            "`promptops baseline save <run folder>`",
            where=str(path),
        )
    return path, suite.alpha, suite.seed


def compare_with_baseline(
    baseline: Path, run_dir: Path, *, alpha: float
) -> tuple[c.ComparisonSummary, list[Path]]:
    """Compare a finished run with a baseline record; the reports go into the run folder."""
    summary = compare(
        side_from_record(load_baseline(baseline), baseline), load_run(run_dir), alpha=alpha
    )
    return summary, write_comparison(summary, run_dir)
