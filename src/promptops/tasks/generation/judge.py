"""The rubric judge: a prompt file that grades an answer, read with three outcomes.

The judge is a versioned prompt like any other (`prompts/<name>.yaml`, its hash in the run),
rendered with the case's input variables it declares, `output` (the answer graded) and, if
it declares it, `reference` (the case's first reference, "" when none). The suite says how
to read its answer:

    judge:
      prompt: judge_e2e
      answer: score        # or pass_fail
      range: [1, 5]        # score only
      pass_at: 4           # score only: a score >= pass_at passes

Reading is strict, never a guess (unlike promptfoo, which fails an unparseable grade, and
OpenAI Evals, which scores it as the minimum):

- `pass_fail`: the answer, stripped of whitespace, trailing punctuation and quotes, is one of
  PASS/FAIL/YES/NO in any case, or a JSON object with a boolean `pass`.
- `score`: the answer is one number (or a JSON object with a numeric `score`) inside `range`.

Anything else is an `error`: counted, shown with the raw answer, and left out of the pass
rate and the mean score, which are over the graded cases only.

Human agreement: rows tagged `human:pass` or `human:fail` carry a human verdict; Cohen's kappa
between judge and human is computed on the rows with both (judge errors excluded, and
counted), with a bootstrap interval over those rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from promptops.tasks.generation.assertions import Outcome
from promptops.tasks.resample import wilson

HUMAN_TAG = "human:"
_PASS = {"pass", "yes", "true"}
_FAIL = {"fail", "no", "false"}
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


class JudgeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str = Field(description="judge prompt name or path")
    answer: Literal["score", "pass_fail"] = "pass_fail"
    range: tuple[float, float] | None = None
    pass_at: float | None = None

    @model_validator(mode="after")
    def _score_needs_range(self) -> JudgeSpec:
        if self.answer == "score":
            if self.range is None or self.pass_at is None:
                raise ValueError("a score judge needs `range: [lo, hi]` and `pass_at`")
            lo, hi = self.range
            if not lo < hi or not lo <= self.pass_at <= hi:
                raise ValueError(f"need lo < hi and pass_at in range, got {self.range}")
        elif self.range is not None or self.pass_at is not None:
            raise ValueError("`range` and `pass_at` are for `answer: score` judges")
        return self


@dataclass(frozen=True)
class Grade:
    outcome: Outcome
    score: float | None  # the number read (score judges only)
    reason: str = ""


def _json_field(text: str, key: str) -> object:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return None
    return obj.get(key) if isinstance(obj, dict) else None


def read_grade(raw: str | None, spec: JudgeSpec) -> Grade:
    """The judge's answer as pass, fail or error; see the module docstring for the rules."""
    if raw is None:
        return Grade("error", None, "no judge answer (the call failed)")
    text = raw.strip()
    if spec.answer == "pass_fail":
        value = _json_field(text, "pass")
        if isinstance(value, bool):
            return Grade("pass" if value else "fail", None)
        word = text.strip(" \t\n.!\"'`*").casefold()
        if word in _PASS:
            return Grade("pass", None)
        if word in _FAIL:
            return Grade("fail", None)
        return Grade("error", None, f"not PASS or FAIL: {text[:80]!r}")
    value = _json_field(text, "score")
    token = text.strip(" \t\n.\"'`*")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        score = float(value)
    elif _NUMBER.match(token):
        score = float(token)
    else:
        return Grade("error", None, f"not one number: {text[:80]!r}")
    assert spec.range is not None and spec.pass_at is not None
    lo, hi = spec.range
    if not lo <= score <= hi:
        return Grade("error", score, f"score {score:g} outside [{lo:g}, {hi:g}]")
    return Grade("pass" if score >= spec.pass_at else "fail", score)


def judge_variables(
    declared: Sequence[str], inputs: Mapping[str, str], output: str, references: Sequence[str]
) -> dict[str, str]:
    """The judge prompt's variables for one case (see the module docstring)."""
    values = {name: value for name, value in inputs.items() if name in declared}
    values["output"] = output
    if "reference" in declared:
        values["reference"] = references[0] if references else ""
    return values


def human_label(tags: Sequence[str]) -> bool | None:
    """True/False from a `human:pass` / `human:fail` tag; None when the row has none."""
    for tag in tags:
        if tag.startswith(HUMAN_TAG):
            verdict = tag[len(HUMAN_TAG) :]
            if verdict in ("pass", "fail"):
                return verdict == "pass"
    return None


def cohen_kappa(
    a: Sequence[bool] | NDArray[np.bool_], b: Sequence[bool] | NDArray[np.bool_]
) -> float:
    """Cohen's kappa of two binary raters; 1.0 when they agree and chance agreement is 1
    (scikit-learn returns NaN there; one label used by both raters is perfect agreement)."""
    x, y = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    observed = float(np.mean(x == y))
    px, py = float(x.mean()), float(y.mean())
    expected = px * py + (1 - px) * (1 - py)
    if expected >= 1.0:
        return 1.0 if observed == 1.0 else 0.0
    return (observed - expected) / (1 - expected)


@dataclass(frozen=True)
class Agreement:
    n: int  # rows with a human label and a judge grade
    judge_errors: int  # rows with a human label whose judge answer was an error
    kappa: float
    low: float
    high: float
    raw_agreement: float


def agreement(
    grades: Sequence[Grade],
    humans: Sequence[bool | None],
    *,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Agreement | None:
    """Judge vs human on the rows with both; None when no row carries a human label."""
    pairs = [
        (g.outcome == "pass", h)
        for g, h in zip(grades, humans, strict=True)
        if h is not None and g.outcome != "error"
    ]
    errors = sum(
        1 for g, h in zip(grades, humans, strict=True) if h is not None and g.outcome == "error"
    )
    if not pairs:
        return None if errors == 0 else Agreement(0, errors, 0.0, 0.0, 0.0, 0.0)
    judge = np.array([p[0] for p in pairs])
    human = np.array([p[1] for p in pairs])
    kappa = cohen_kappa(judge, human)
    rng = np.random.default_rng(seed)
    draws = [
        cohen_kappa(judge[ix], human[ix])
        for ix in rng.integers(0, len(pairs), size=(n_resamples, len(pairs)))
    ]
    low, high = np.quantile(draws, [0.025, 0.975])
    return Agreement(
        len(pairs), errors, kappa, float(low), float(high), float(np.mean(judge == human))
    )


@dataclass(frozen=True)
class JudgeSummary:
    graded: int
    errors: int
    passed: int
    pass_rate: float  # over graded cases
    low: float
    high: float
    mean_score: float | None  # over graded cases (score judges)

    @property
    def error_rate(self) -> float:
        total = self.graded + self.errors
        return self.errors / total if total else 0.0


def summarize_grades(grades: Sequence[Grade]) -> JudgeSummary:
    graded = [g for g in grades if g.outcome != "error"]
    passed = sum(g.outcome == "pass" for g in graded)
    low, high = wilson(passed, len(graded))
    scores = [g.score for g in graded if g.score is not None]
    return JudgeSummary(
        graded=len(graded),
        errors=len(grades) - len(graded),
        passed=passed,
        pass_rate=passed / len(graded) if graded else 0.0,
        low=low,
        high=high,
        mean_score=float(np.mean(scores)) if scores else None,
    )
