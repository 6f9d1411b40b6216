"""Result rows: one line of `results.jsonl` per answered case, written and read by one model.

Every row carries the same per-call facts (`CallFacts`: attempts, tokens, cost, latency,
cache hit, error and its kind); a kind's row model adds what the kind needs. The fields stay
flat on disk (no nesting), so run folders written before these models resume unchanged.
`Tally` sums the facts of the headline rows for a summary.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from promptops.llm.client import ClientStats
from promptops.llm.types import Completion
from promptops.runs.envelope import Usage, Volatile

__all__ = [
    "CallFacts",
    "CaseRow",
    "ClassificationRow",
    "GroundingRecord",
    "GuardRecord",
    "RagRow",
    "Tally",
]


class CallFacts(BaseModel):
    """What one model call cost and how it went, whatever the kind of run."""

    model_config = ConfigDict(extra="ignore")

    latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False
    attempts: int = 1
    error: str | None = None
    error_kind: str | None = None

    @staticmethod
    def of(completion: Completion) -> dict[str, Any]:
        """The facts of a completion, as keyword arguments for a row model."""
        return {
            "latency_s": round(completion.latency_s, 6),
            "prompt_tokens": completion.usage.prompt_tokens,
            "completion_tokens": completion.usage.completion_tokens,
            "cost_usd": completion.cost_usd,
            "cached": completion.cached,
            "attempts": completion.attempts,
            "error": completion.error,
            "error_kind": completion.error_kind,
        }

    def line(self) -> dict[str, Any]:
        """The JSON object written to results.jsonl (`resent` only when set)."""
        data = self.model_dump(mode="json")
        if data.get("resent") is False:
            del data["resent"]
        return data


class CaseRow(CallFacts):
    """One answered evalset case (sample `sample` of the case at `index` in its `split`):
    the case, the raw output and the kind's parsed answer (`predicted`, None when invalid or
    failed). `resent` marks a case sent again after an earlier run ended in a transient error."""

    id: str
    index: int
    sample: int = 0
    split: str = "test"
    tags: list[str] = []
    input: dict[str, str] = {}
    expected: str | None = None
    predicted: Any = None
    invalid: bool = False
    raw_output: str | None = None
    resent: bool = False


class ClassificationRow(CaseRow):
    """With calibration, `predicted` is the calibrated label and the model's own
    probabilities are in `raw_label_probs`."""

    predicted: str | None = None
    label_probs: dict[str, float] | None = None
    raw_label_probs: dict[str, float] | None = None


class GuardRecord(BaseModel):
    """What the context guard did to one question's chunks (the fields a summary reads;
    the guard's other figures are kept as they are)."""

    model_config = ConfigDict(extra="allow")

    kept: list[str]
    dropped: list[str]
    truncated: str | None
    overflowed: bool
    budget: int
    needed: int
    refused: str | None = None


class GroundingRecord(BaseModel):
    """How well one answer is grounded in its delivered passages (`rag.grounding`); the
    per-sentence detail stays as written."""

    model_config = ConfigDict(extra="allow")

    support: float | None
    validity: float | None
    coverage: float | None
    unsupported_rate: float | None
    invalid_citations: list[int]
    sentences: list[dict[str, Any]]


class RagRow(CallFacts):
    """One answered RAG question: what was retrieved and delivered, the answer, its
    citations, its grounding and its quality against the gold answers (empty without
    gold answers); a failed call has no answer and no grounding."""

    id: str
    sample: int = 0
    question: str
    gold: list[str]
    retrieved: list[str]
    delivered: list[str]
    relevant_retrieved: int
    relevant_delivered: int
    guard: GuardRecord
    answer: str | None
    citations: list[int]
    quality: dict[str, float]
    grounding: GroundingRecord | None
    finish_reason: str | None = None


@dataclass
class Tally:
    """Sums over every sample of every evaluated case (repeats included); the counts are of
    headline samples (sample 0)."""

    n_cases: int = 0
    n_errors: int = 0
    n_invalid: int = 0  # invalid answers, errors apart
    resent: int = 0  # results sent again after an earlier run's transient error
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latencies: array[float] = field(default_factory=lambda: array("f"))  # calls, not cache hits

    def add(self, row: CaseRow) -> None:
        self.add_call(row)
        if row.sample == 0:
            self.n_cases += 1
            self.n_errors += row.error is not None
            self.n_invalid += row.invalid and row.error is None

    def add_call(self, facts: CallFacts) -> None:
        self.prompt_tokens += facts.prompt_tokens
        self.completion_tokens += facts.completion_tokens
        self.cost_usd += facts.cost_usd
        self.resent += bool(getattr(facts, "resent", False))
        if not facts.cached:
            self.latencies.append(facts.latency_s)

    def usage(self) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cost_usd=round(self.cost_usd, 6),
        )

    def quantile(self, q: float) -> float | None:
        if not len(self.latencies):
            return None
        values = np.frombuffer(self.latencies, dtype=np.float32)
        return round(float(np.quantile(values, q)), 6)

    def volatile(self, stats: ClientStats) -> Volatile:
        """The volatile fields known at summary time; the lifecycle stamps the run id and
        times when the run finishes."""
        return Volatile(
            run_id="",
            started_at="",
            finished_at="",
            duration_s=0.0,
            latency_p50_s=self.quantile(0.50),
            latency_p95_s=self.quantile(0.95),
            latency_p99_s=self.quantile(0.99),
            cache_hits=stats.cache_hits,
            cache_misses=stats.cache_misses,
            retries=stats.retries,
            rate_limited=stats.rate_limited,
            rate_limit_wait_s=round(stats.rate_limit_wait_s, 3),
        )

    def fields(self, stats: ClientStats) -> dict[str, Any]:
        """The envelope's counts, usage and volatile fields, for `Summary(**...)`."""
        return {
            "n_cases": self.n_cases,
            "n_errors": self.n_errors,
            "n_resent": self.resent,
            "n_invalid": self.n_invalid,
            "usage": self.usage(),
            "volatile": self.volatile(stats),
        }
