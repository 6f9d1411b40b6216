"""`promptops power SUITE --detect D`: how many cases a suite needs to detect a difference.

For paired right/wrong outcomes (accuracy, and as a first guide for macro-F1) the answer is
the McNemar sample size, which depends on how often the two systems disagree (psi, the
discordant rate): Connor (1987), with Miettinen (1968) beside it (see `power`). The suite's
own size gives, at each psi, the minimum detectable difference (MDE) it has today.

A finished run of the suite makes it concrete: its summary holds the MDE of the primary
metric against the baseline that decided its verdict, measured at its size (for macro-F1
from the sign-flip and bootstrap spreads), and the McNemar discordance against that
baseline. An MDE shrinks as 1 / sqrt(n), so n (MDE / D)^2 cases bring it down to D.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from promptops.errors import UserInputError
from promptops.evals.evalset import iter_cases
from promptops.evals.suite import resolve_suite
from promptops.metrics import power as pw
from promptops.runs.summary import ClassificationSummary

DEFAULT_DISCORDANCE = (0.05, 0.10, 0.20, 0.40)
METHOD = "McNemar sample size for paired proportions, Connor (1987); Miettinen (1968) beside it"


@dataclass(frozen=True)
class PlanRow:
    discordance: float
    connor_n: int | None  # None: a gain of `detect` needs psi >= detect
    miettinen_n: int | None
    mde_now: float | None  # what the suite's current size detects at this psi


@dataclass(frozen=True)
class RunEvidence:
    """What a finished run measured: its MDE and the discordance against a baseline."""

    path: str
    metric: str
    against: str | None
    n: int
    mde: float | None
    method: str
    cases_needed: int | None  # n (mde / detect)^2
    discordance: float | None  # McNemar (b + c) / n against the same baseline
    connor_n: int | None  # the McNemar sample size at that discordance


@dataclass(frozen=True)
class PowerPlan:
    suite: str
    evalset: str
    n_cases: int  # test split
    primary_metric: str
    detect: float
    alpha: float
    power: float
    method: str
    rows: list[PlanRow]
    run: RunEvidence | None


def plan(
    suite_ref: str,
    detect: float,
    *,
    discordance: Sequence[float] = (),
    power: float = pw.DEFAULT_POWER,
    alpha: float | None = None,
    run_dir: Path | None = None,
) -> PowerPlan:
    if not 0 < detect < 1:
        raise UserInputError(f"need 0 < D < 1, got {detect}", where="--detect")
    if not 0 < power < 1:
        raise UserInputError(f"need 0 < power < 1, got {power}", where="--power")
    for psi in discordance:
        if not 0 < psi <= 1:
            raise UserInputError(f"need 0 < psi <= 1, got {psi}", where="--discordance")
    suite, _ = resolve_suite(suite_ref)
    a = suite.alpha if alpha is None else alpha
    if not 0 < a < 1:
        raise UserInputError(f"need 0 < alpha < 1, got {a}", where="--alpha")
    path = suite.path_of(suite.evalset)
    n = sum(1 for _ in iter_cases(path, "test"))
    rows = [_row(detect, psi, n, a, power) for psi in (discordance or DEFAULT_DISCORDANCE)]
    return PowerPlan(
        suite=suite.name,
        evalset=str(path),
        n_cases=n,
        primary_metric=suite.primary_metric,
        detect=detect,
        alpha=a,
        power=power,
        method=METHOD,
        rows=rows,
        run=None if run_dir is None else _evidence(run_dir, detect, a, power),
    )


def _row(detect: float, psi: float, n: int, alpha: float, power: float) -> PlanRow:
    possible = detect <= psi
    return PlanRow(
        discordance=psi,
        connor_n=pw.connor_n(detect, psi, alpha=alpha, power=power) if possible else None,
        miettinen_n=pw.miettinen_n(detect, psi, alpha=alpha, power=power) if possible else None,
        mde_now=pw.connor_mde(psi, n, alpha=alpha, power=power),
    )


def _evidence(run_dir: Path, detect: float, alpha: float, power: float) -> RunEvidence:
    path = run_dir / "summary.json" if run_dir.is_dir() else run_dir
    try:
        summary = ClassificationSummary.model_validate(json.loads(path.read_text("utf-8")))
    except (OSError, ValueError) as exc:
        raise UserInputError(f"not a classification run summary: {exc}", str(path)) from None
    v = summary.sensitivity
    if v is None:
        raise UserInputError("the run has no MDE (made before promptops measured it)", str(path))
    best = next((b for b in summary.baselines if b.name == v.against), None)
    psi = None
    if best is not None and best.mcnemar is not None and v.n:
        psi = (best.mcnemar.b + best.mcnemar.c) / v.n
    scale = v.power == power and v.alpha == alpha
    return RunEvidence(
        path=str(path),
        metric=v.metric,
        against=v.against,
        n=v.n,
        mde=v.mde,
        method=v.method,
        cases_needed=pw.cases_for(detect, v.mde, v.n) if v.mde and scale else None,
        discordance=psi,
        connor_n=(
            pw.connor_n(detect, psi, alpha=alpha, power=power)
            if psi is not None and detect <= psi
            else None
        ),
    )
