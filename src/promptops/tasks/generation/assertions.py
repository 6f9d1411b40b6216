"""Assertions on generated answers, as promptfoo users write them, with three outcomes.

Declared in the suite (`assertions:`), for every case or, with `cases:` / `tags:`, for some:

    assertions:
      - {type: contains, value: "Italian", ignore_case: true, tags: [food:Italian]}
      - {type: not-contains, value: "As an AI"}
      - {type: regex, value: "^[A-Z]"}
      - {type: is-json, schema: {type: object}}
      - {type: max-chars, value: 300}
      - {type: similar, threshold: 0.75}          # value omitted: the case's references
      - {type: max-latency-ms, value: 5000}
      - {type: max-cost-usd, value: 0.0005}

Every check ends in `pass`, `fail` or `error`. An error is a check that could not be made:
no answer (the call failed), no latency (a cached answer was not timed), no cost (unknown
price), no reference for `similar`. Errors are counted and shown, and left out of the pass
rate (pass / (pass + fail)), never folded into it as fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from promptops.tasks.extraction.scoring import schema_problems
from promptops.tasks.resample import wilson

Outcome = Literal["pass", "fail", "error"]
Similarity = Callable[[str, Sequence[str]], float]
"""Best cosine of an output against texts (the suite's embedder)."""


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, description="shown in reports; default: type and value")
    cases: tuple[str, ...] = Field((), description="only these case ids")
    tags: tuple[str, ...] = Field((), description="only cases with one of these tags")

    def applies(self, case_id: str, tags: Sequence[str]) -> bool:
        if self.cases and case_id not in self.cases:
            return False
        return not self.tags or any(tag in self.tags for tag in tags)

    def label(self) -> str:
        return self.name or self._default_label()

    def _default_label(self) -> str:
        value = getattr(self, "value", None)
        shown = f"{value:g}" if isinstance(value, float) else value
        return str(getattr(self, "type", "?")) + ("" if value is None else f":{shown}")


class Contains(_Base):
    type: Literal["contains", "not-contains"]
    value: str = Field(min_length=1)
    ignore_case: bool = False


class Regex(_Base):
    type: Literal["regex"]
    value: str

    @field_validator("value")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from exc
        return value


class IsJson(_Base):
    type: Literal["is-json"]
    schema_: dict[str, Any] | None = Field(None, alias="schema")

    def _default_label(self) -> str:
        return "is-json" if self.schema_ is None else "is-json:schema"


class MaxChars(_Base):
    type: Literal["max-chars"]
    value: int = Field(gt=0)


class Similar(_Base):
    type: Literal["similar"]
    value: str | None = Field(None, description="text to compare with; default: references")
    threshold: float = Field(0.75, ge=-1, le=1)

    def _default_label(self) -> str:
        return f"similar>={self.threshold:g}"


class MaxLatency(_Base):
    type: Literal["max-latency-ms"]
    value: float = Field(gt=0)


class MaxCost(_Base):
    type: Literal["max-cost-usd"]
    value: float = Field(gt=0)


AssertionSpec = Annotated[
    Contains | Regex | IsJson | MaxChars | Similar | MaxLatency | MaxCost,
    Field(discriminator="type"),
]


@dataclass(frozen=True)
class Answer:
    """What an assertion may look at for one case."""

    id: str
    output: str | None  # None: the call failed
    references: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    latency_ms: float | None = None  # None: not timed (a cached answer)
    cost_usd: float | None = None  # None: price unknown


@dataclass(frozen=True)
class Check:
    name: str
    outcome: Outcome
    reason: str = ""


def check(spec: AssertionSpec, answer: Answer, similarity: Similarity | None = None) -> Check:
    """One assertion on one answer."""
    name = spec.label()
    if answer.output is None:
        return Check(name, "error", "no answer")
    text = answer.output
    if isinstance(spec, Contains):
        hay, needle = (
            (text.casefold(), spec.value.casefold()) if spec.ignore_case else (text, spec.value)
        )
        found = needle in hay
        ok = found if spec.type == "contains" else not found
        return Check(name, _verdict(ok), "" if ok else ("missing" if not found else "present"))
    if isinstance(spec, Regex):
        ok = re.search(spec.value, text) is not None
        return Check(name, _verdict(ok), "" if ok else "no match")
    if isinstance(spec, IsJson):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            return Check(name, "fail", f"not JSON: {exc.msg} (char {exc.pos})")
        problems = schema_problems(value, spec.schema_)
        return Check(name, _verdict(not problems), "; ".join(problems[:3]))
    if isinstance(spec, MaxChars):
        ok = len(text) <= spec.value
        return Check(name, _verdict(ok), "" if ok else f"{len(text)} chars")
    if isinstance(spec, Similar):
        targets = (spec.value,) if spec.value is not None else answer.references
        if not targets:
            return Check(name, "error", "no reference to compare with")
        if similarity is None:
            return Check(name, "error", "no embedder")
        score = similarity(text, targets)
        ok = score >= spec.threshold
        return Check(name, _verdict(ok), "" if ok else f"similarity {score:.3f}")
    if isinstance(spec, MaxLatency):
        if answer.latency_ms is None:
            return Check(name, "error", "latency not measured (cached answer)")
        ok = answer.latency_ms <= spec.value
        return Check(name, _verdict(ok), "" if ok else f"{answer.latency_ms:.0f} ms")
    if answer.cost_usd is None:
        return Check(name, "error", "cost unknown")
    ok = answer.cost_usd <= spec.value
    return Check(name, _verdict(ok), "" if ok else f"${answer.cost_usd:.6f}")


def _verdict(ok: bool) -> Outcome:
    return "pass" if ok else "fail"


def unique_labels(specs: Sequence[AssertionSpec]) -> list[str]:
    """Each spec's label, numbered when two specs would share one."""
    seen: dict[str, int] = {}
    labels = []
    for spec in specs:
        label = spec.label()
        seen[label] = seen.get(label, 0) + 1
        labels.append(label if seen[label] == 1 else f"{label}#{seen[label]}")
    return labels


def run_checks(
    specs: Sequence[AssertionSpec],
    answers: Sequence[Answer],
    similarity: Similarity | None = None,
) -> list[list[Check]]:
    """The checks of every answer, in spec order (only the specs that apply to it)."""
    labels = unique_labels(specs)
    out = []
    for answer in answers:
        checks = []
        for spec, label in zip(specs, labels, strict=True):
            if spec.applies(answer.id, answer.tags):
                result = check(spec, answer, similarity)
                checks.append(Check(label, result.outcome, result.reason))
        out.append(checks)
    return out


@dataclass(frozen=True)
class AssertionSummary:
    name: str
    passed: int
    failed: int
    errors: int
    pass_rate: float  # passed / (passed + failed); 0 when nothing could be checked
    low: float  # Wilson interval of the pass rate
    high: float

    @property
    def checked(self) -> int:
        return self.passed + self.failed


def summarize_checks(
    checks: Sequence[Sequence[Check]], confidence: float = 0.95
) -> list[AssertionSummary]:
    """Pass rate with its Wilson interval per assertion, in first-seen order."""
    tallies: dict[str, list[int]] = {}
    for case in checks:
        for c in case:
            row = tallies.setdefault(c.name, [0, 0, 0])
            row[("pass", "fail", "error").index(c.outcome)] += 1
    out = []
    for name, (passed, failed, errors) in tallies.items():
        n = passed + failed
        low, high = wilson(passed, n, confidence)
        out.append(
            AssertionSummary(name, passed, failed, errors, passed / n if n else 0.0, low, high)
        )
    return out
