"""A generation run scored end to end: reference metrics with intervals, semantic
similarity, assertions, the rubric judge, the nearest-reference baseline and the paired
test against it, slices by tag, worst cases and per-case records.

The primary metric is `rouge_l` unless the suite names another reference metric; ROUGE and
similarity are means over the cases with references, BLEU and chrF corpus scores, and each
has per-case columns whose sums give it (`resample`), so intervals and paired tests treat
them alike. The judge's grades come in from outside (it is a second prompt, sent by the
runner): this module reads and counts them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from promptops.errors import EvalsetError
from promptops.tasks.casework import (
    Paired,
    TaskRow,
    baseline_entries,
    interval_dict,
    paired,
    slices,
)
from promptops.tasks.generation.assertions import (
    Answer,
    AssertionSpec,
    Check,
    run_checks,
    summarize_checks,
)
from promptops.tasks.generation.judge import (
    Grade,
    JudgeSpec,
    agreement,
    human_label,
    summarize_grades,
)
from promptops.tasks.generation.nearest import fit_nearest
from promptops.tasks.generation.textmetrics import (
    CORPUS_METRICS,
    ROUGE_NAMES,
    corpus_stats,
    reference_scores,
    references_of,
)
from promptops.tasks.resample import SumStatistic, mean_statistic, sums_ci

NEAREST = "nearest_reference"
SIMILARITY = "semantic_similarity"
BASELINE_DESCRIPTIONS = {
    NEAREST: "the first reference of the most similar train input (word TF-IDF cosine)"
}
BatchSimilarity = Callable[[Sequence[str], Sequence[Sequence[str]]], list[float]]
"""Best similarity of each text to its targets (the bundled embedder, or a test double)."""


class GenerationSettings(BaseModel):
    """`generation:` in a suite."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stemming: bool = Field(True, description="Porter stemming in ROUGE (rouge-score)")
    similarity: bool = Field(True, description="MiniLM embedding cosine to the references")
    assertions: tuple[AssertionSpec, ...] = ()
    judge: JudgeSpec | None = None


def _columns(
    metric: str, outputs: Sequence[str], refs: Sequence[Sequence[str]], stemming: bool
) -> tuple[NDArray[np.float64], SumStatistic]:
    """Per-case columns of `metric` and the statistic of their sums."""
    if metric in CORPUS_METRICS:
        stats = corpus_stats(metric, outputs, refs)
        return stats.rows, stats.score_of_sums
    if metric in ROUGE_NAMES.values():
        values = reference_scores(outputs, refs, stemming=stemming).per_case[metric]
        n = len(values)
        return np.asarray(values, dtype=np.float64), lambda s: mean_statistic(s, n)
    raise EvalsetError(
        f"unknown generation primary metric {metric!r}; known: rouge1, rouge2, rouge_l, bleu, chrf",
        where="primary_metric",
    )


@dataclass(frozen=True)
class GenerationRun:
    primary: str
    metrics: dict[str, float]
    intervals: dict[str, dict[str, float]]
    no_reference: int
    assertions: list[dict[str, Any]]
    judge: dict[str, Any] | None
    baselines: dict[str, dict[str, float]]
    comparisons: list[Paired]
    slices: list[dict[str, Any]]
    worst: list[dict[str, Any]]
    records: list[dict[str, Any]]
    similarity_method: str | None = None

    def payload(self) -> dict[str, Any]:
        """The task's part of summary.json: everything its report sections read."""
        return {
            "primary_metric": self.primary,
            "metrics": self.metrics,
            "intervals": self.intervals,
            "no_reference": self.no_reference,
            "similarity_method": self.similarity_method,
            "assertions": self.assertions,
            "judge": self.judge,
            "baselines": baseline_entries(self.baselines, BASELINE_DESCRIPTIONS, self.comparisons),
            "slices": self.slices,
            "worst_cases": self.worst,
        }


def _reference_metrics(
    outputs: Sequence[str], refs: Sequence[Sequence[str]], stemming: bool
) -> dict[str, float]:
    scores = reference_scores(outputs, refs, stemming=stemming)
    return {**scores.means(), **scores.corpus}


def evaluate_generation(
    rows: Sequence[TaskRow],
    train: Sequence[TaskRow],
    settings: GenerationSettings,
    *,
    similarity: BatchSimilarity | None = None,
    similarity_method: str | None = None,
    grades: Sequence[Grade] | None = None,
    judge_raw: Sequence[str | None] | None = None,
    primary: str = "rouge_l",
    alpha: float = 0.05,
    n_resamples: int = 2000,
    seed: int = 0,
    worst_cases: int = 10,
) -> GenerationRun:
    if not rows:
        raise EvalsetError("no cases to score", where="evalset")
    outputs = [r.output or "" for r in rows]
    all_refs = [references_of(r.expected) for r in rows]
    scored = [i for i, refs in enumerate(all_refs) if refs]
    if not scored:
        raise EvalsetError("no case has a reference to score against", where="evalset")
    outs = [outputs[i] for i in scored]
    refs = [all_refs[i] for i in scored]
    ref_scores = reference_scores(outs, refs, stemming=settings.stemming)
    metrics = {**ref_scores.means(), **ref_scores.corpus}
    intervals = {}
    for name in (*ROUGE_NAMES.values(), *CORPUS_METRICS):
        cols, stat = _columns(name, outs, refs, settings.stemming)
        intervals[name] = interval_dict(sums_ci(cols, stat, n_resamples=n_resamples, seed=seed))
    per_case_sim: list[float] | None = None
    if settings.similarity and similarity is not None:
        per_case_sim = similarity(outs, refs)
        metrics[SIMILARITY] = float(np.mean(per_case_sim))
        intervals[SIMILARITY] = interval_dict(
            sums_ci(
                np.asarray(per_case_sim),
                lambda s: mean_statistic(s, len(scored)),
                n_resamples=n_resamples,
                seed=seed,
            )
        )

    def best_similarity(text: str, targets: Sequence[str]) -> float:
        assert similarity is not None
        return similarity([text], [targets])[0]

    answers = [
        Answer(r.id, r.output, tuple(all_refs[i]), r.tags, r.latency_ms, r.cost_usd)
        for i, r in enumerate(rows)
    ]
    checks = run_checks(
        settings.assertions, answers, best_similarity if similarity is not None else None
    )
    assertion_rows: list[dict[str, Any]] = [
        {
            "name": s.name,
            "passed": s.passed,
            "failed": s.failed,
            "errors": s.errors,
            "pass_rate": s.pass_rate,
            "low": s.low,
            "high": s.high,
        }
        for s in summarize_checks(checks)
    ]
    for a in assertion_rows:
        metrics[f"assertions.{a['name']}.pass_rate"] = float(a["pass_rate"])
    judge = _judge(grades, rows, metrics, n_resamples, seed) if grades is not None else None

    baselines: dict[str, dict[str, float]] = {}
    comparisons = []
    train_refs = [references_of(r.expected) for r in train]
    if any(train_refs):
        nearest = fit_nearest([r.text for r in train], train_refs)
        base_outs = nearest.answer_all([rows[i].text for i in scored])
        baselines[NEAREST] = _reference_metrics(base_outs, refs, settings.stemming)
        if per_case_sim is not None and similarity is not None:
            baselines[NEAREST][SIMILARITY] = float(np.mean(similarity(base_outs, refs)))
        base_cols, stat = _columns(primary, base_outs, refs, settings.stemming)
        cols, _ = _columns(primary, outs, refs, settings.stemming)
        comparisons.append(
            paired(
                primary,
                (NEAREST, "prompt"),
                (base_cols, cols),
                stat,
                alpha=alpha,
                n_resamples=n_resamples,
                seed=seed,
            )
        )
    position = {i: k for k, i in enumerate(scored)}
    records = [
        _record(r, i, position, ref_scores.per_case, per_case_sim, checks[i], grades, judge_raw)
        for i, r in enumerate(rows)
    ]
    return GenerationRun(
        primary=primary,
        metrics=metrics,
        intervals=intervals,
        no_reference=len(rows) - len(scored),
        assertions=assertion_rows,
        judge=judge,
        baselines=baselines,
        comparisons=comparisons,
        slices=slices(rows, lambda ix: _slice(ix, position, ref_scores.per_case, checks)),
        worst=_worst(records, worst_cases),
        records=records,
        similarity_method=similarity_method if per_case_sim is not None else None,
    )


def _judge(
    grades: Sequence[Grade],
    rows: Sequence[TaskRow],
    metrics: dict[str, float],
    n_resamples: int,
    seed: int,
) -> dict[str, Any]:
    summary = summarize_grades(grades)
    metrics["judge.pass_rate"] = summary.pass_rate
    metrics["judge.error_rate"] = summary.error_rate
    if summary.mean_score is not None:
        metrics["judge.mean_score"] = summary.mean_score
    agree = agreement(
        grades, [human_label(r.tags) for r in rows], n_resamples=n_resamples, seed=seed
    )
    if agree is not None and agree.n:
        metrics["judge.kappa"] = agree.kappa
    return {
        "graded": summary.graded,
        "errors": summary.errors,
        "passed": summary.passed,
        "pass_rate": summary.pass_rate,
        "low": summary.low,
        "high": summary.high,
        "mean_score": summary.mean_score,
        "agreement": None
        if agree is None
        else {
            "n": agree.n,
            "judge_errors": agree.judge_errors,
            "kappa": agree.kappa,
            "low": agree.low,
            "high": agree.high,
            "raw_agreement": agree.raw_agreement,
        },
    }


def _record(
    row: TaskRow,
    i: int,
    position: dict[int, int],
    per_case: dict[str, list[float]],
    sims: list[float] | None,
    checks: list[Check],
    grades: Sequence[Grade] | None,
    judge_raw: Sequence[str | None] | None,
) -> dict[str, Any]:
    k = position.get(i)
    record: dict[str, Any] = {
        "id": row.id,
        "expected": row.expected,
        "raw_output": row.output,
        "answer": row.output,
        "tags": list(row.tags),
    }
    for name, values in per_case.items():
        record[name] = None if k is None else values[k]
    record[SIMILARITY] = None if k is None or sims is None else sims[k]
    record["checks"] = [{"name": c.name, "outcome": c.outcome, "reason": c.reason} for c in checks]
    if grades is not None:
        g = grades[i]
        record["judge"] = {
            "outcome": g.outcome,
            "score": g.score,
            "reason": g.reason,
            "raw": None if judge_raw is None else judge_raw[i],
        }
    return record


def _slice(
    ix: list[int],
    position: dict[int, int],
    per_case: dict[str, list[float]],
    checks: list[list[Check]],
) -> dict[str, float | None]:
    scored = [position[i] for i in ix if i in position]
    out: dict[str, float | None] = {
        name: float(np.mean([per_case[name][k] for k in scored])) if scored else 0.0
        for name in ("rouge_l", "rouge2")
    }
    done = [c for i in ix for c in checks[i] if c.outcome != "error"]
    out["assertion_pass_rate"] = (
        sum(c.outcome == "pass" for c in done) / len(done) if done else None
    )
    return out


def _worst(records: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Cases with failed checks first, then those with check or judge errors, then the
    lowest ROUGE-L. An errored check (e.g. the latency of a cached answer) is named as an
    error, never as a failure."""

    def key(r: dict[str, Any]) -> tuple[int, int, float, str]:
        failed = sum(c["outcome"] == "fail" for c in r["checks"])
        errors = sum(c["outcome"] == "error" for c in r["checks"])
        errors += r.get("judge", {}).get("outcome") == "error"
        rouge = r["rouge_l"] if r["rouge_l"] is not None else 2.0
        return (-failed, -errors, rouge, r["id"])

    return [
        {
            "id": r["id"],
            "raw_output": r["raw_output"],
            "expected": r["expected"],
            "rouge_l": r["rouge_l"],
            "failed_checks": [
                c["name"] if c["outcome"] == "fail" else f"{c['name']} (error)"
                for c in r["checks"]
                if c["outcome"] != "pass"
            ],
            "judge": r.get("judge"),
        }
        for r in sorted(records, key=key)[:limit]
    ]


def against_saved(
    rows: Sequence[TaskRow],
    saved_outputs: Sequence[str | None],
    settings: GenerationSettings,
    *,
    primary: str = "rouge_l",
    alpha: float = 0.05,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Paired:
    """This run (B) against a saved run's answers (A) on the same cases with references."""
    scored = [i for i, r in enumerate(rows) if references_of(r.expected)]
    refs = [references_of(rows[i].expected) for i in scored]
    now, stat = _columns(primary, [rows[i].output or "" for i in scored], refs, settings.stemming)
    then, _ = _columns(primary, [saved_outputs[i] or "" for i in scored], refs, settings.stemming)
    return paired(
        primary,
        ("saved", "current"),
        (then, now),
        stat,
        alpha=alpha,
        n_resamples=n_resamples,
        seed=seed,
    )
