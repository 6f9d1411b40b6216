"""What every summary.json holds, whatever its kind: the envelope and the parts it shares.

`Envelope` is the base of every run summary (`kind`, `schema_version`, suite, prompt,
findings, thresholds and the verdict `passed`); `EvalEnvelope` adds what every run over an
evalset has (model, evalset, case counts, usage, volatile fields). `Header` is what the
lifecycle knows before any row is read; a kind's `summarize` spreads it into its summary.
Fields that change between two runs with the same answers live under `volatile`, so the
Markdown report can leave them out and stay byte-identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PromptInfo(_Model):
    name: str
    version: str
    identity: str
    content_hash: str
    source: str | None = None


class ModelInfo(_Model):
    """Where answers came from; never carries an API key."""

    profile: str
    model: str
    base_url: str | None  # None = embedded local model
    temperature: float
    max_tokens: int | None
    calibration: str = "none"


class EvalsetInfo(_Model):
    path: str
    sha256: str
    n_cases: int
    n_by_split: dict[str, int]


class Finding(_Model):
    """A pre-flight check result shown in reports (leakage, PII, balance)."""

    check: str
    severity: Literal["info", "warning", "error"]
    message: str
    details: list[str] = Field(default_factory=list)


class ThresholdResult(_Model):
    metric: str
    op: Literal[">=", "<="]
    value: float
    actual: float | None
    passed: bool
    note: str | None = None


class Volatile(_Model):
    """Values that differ between runs with identical answers: never in report.md."""

    run_id: str
    started_at: str
    finished_at: str
    duration_s: float
    latency_p50_s: float | None
    latency_p95_s: float | None
    latency_p99_s: float | None = None  # RAG summaries written before the envelope lack it
    cache_hits: int
    cache_misses: int
    retries: int
    rate_limited: int = 0  # 429 answers waited out (never counted against --max-retries)
    rate_limit_wait_s: float = 0.0


class Usage(_Model):
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class Envelope(_Model):
    """The fields every summary shares; `kind` routes it to its model and its reports."""

    schema_version: int = SCHEMA_VERSION
    kind: str
    suite: str
    prompt: PromptInfo
    findings: list[Finding]
    thresholds: list[ThresholdResult]
    passed: bool


class EvalEnvelope(Envelope):
    """The envelope of a run over an evalset (every `eval` kind)."""

    model: ModelInfo
    evalset: EvalsetInfo
    n_cases: int
    n_errors: int
    n_resent: int = 0  # cases re-sent on resume after a transient error
    n_invalid: int
    usage: Usage
    volatile: Volatile


@dataclass
class Header:
    """What the lifecycle knows of an eval run before any row is read: spread it into the
    summary with `**header.fields()`."""

    suite: str
    prompt: PromptInfo
    model: ModelInfo
    evalset: EvalsetInfo
    findings: list[Finding]

    def fields(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "prompt": self.prompt,
            "model": self.model,
            "evalset": self.evalset,
            "findings": list(self.findings),
        }
