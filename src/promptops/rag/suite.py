"""A RAG suite: `evalsets/NAME.yaml` names the corpus, the questions, the retrievers to compare,
the pipeline that generates, the prompt, the context budget and the thresholds.

Threshold keys say what they measure on the generating pipeline (`generate_with`, reranked
when a reranker is set with `use_for_generation`):

    retrieval.<measure>   e.g. retrieval.recall@5: the ranking as retrieved
    delivered.<measure>   the same ranking after the context guard: what reached the model
    generation.<name>     rouge_l, bleu, exact_match, token_f1, error_rate, overflow_rate
    grounding.<name>      support, validity, coverage, unsupported_rate

`<measure>` must be one of the suite's retrieval `metrics` (default: recall, precision, hit and
nDCG at k, MRR and MAP). Command-line options override a suite field by field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from promptops.errors import ConfigError, UserInputError
from promptops.llm.profile import EndpointOverrides
from promptops.metrics.generation import GENERATION_METRICS
from promptops.rag.grounding import DEFAULT_THRESHOLD
from promptops.suites import Bound, SuiteFile, load_suite

DEFAULT_SUITE = "covid_qa"
RUN_RATES = ("error_rate", "overflow_rate")  # generation keys beside the metrics
GROUNDING_KEYS = ("support", "validity", "coverage", "unsupported_rate")
RANKING_SCOPES = ("retrieval", "delivered")


def _generation_keys() -> list[str]:
    """The registered generation metrics and the run's error and overflow rates."""
    return [name for name, _ in GENERATION_METRICS] + list(RUN_RATES)


def default_metrics(k: int) -> tuple[str, ...]:
    """The retrieval measures reported unless a suite lists its own."""
    return (f"recall@{k}", f"p@{k}", f"hit@{k}", "mrr", f"ndcg@{k}", "map")


def canonical_metrics(names: tuple[str, ...]) -> tuple[str, ...]:
    """Measure names as evaluate_retrieval reports them (`precision@5` -> `p@5`)."""
    from promptops.metrics.retrieval import parse_metrics

    try:
        return tuple(metric.name for metric in parse_metrics(names))
    except UserInputError as exc:
        raise ValueError(exc.reason) from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChunkingSettings(_Strict):
    size: int = Field(256, ge=1, description="tokens per chunk (o200k_base)")
    overlap: int = Field(32, ge=0, description="tokens shared by neighbouring chunks")

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingSettings:
        if self.overlap >= self.size:
            raise ValueError(f"overlap ({self.overlap}) must be smaller than size ({self.size})")
        return self


class RerankSettings(_Strict):
    """Rerank the first stage's top `candidates`, then keep the top k. Every retriever is
    measured before and after; `use_for_generation` says which ranking the answers get."""

    name: str = "minilm-fusion"
    candidates: int = Field(20, ge=1)
    params: dict[str, Any] = Field(default_factory=dict)
    use_for_generation: bool = True

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        from promptops.rag.rerank import RERANKERS

        try:
            RERANKERS.get(value)
        except ConfigError as exc:
            raise ValueError(exc.reason) from None
        return value


class ContextSettings(_Strict):
    """What the guard does when the retrieved chunks do not fit the context window."""

    policy: Literal["drop", "truncate", "fail"] = "drop"
    context_window: int | None = Field(
        None, gt=0, description="tokens; overrides the prompt's and the profile's window"
    )


class GroundingSettings(_Strict):
    threshold: float = Field(DEFAULT_THRESHOLD, ge=0, le=1)


class RagSuite(SuiteFile):
    name: str
    description: str = ""
    corpus: str
    queries: str
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    retrievers: tuple[str, ...] = ("bm25", "dense", "hybrid")
    generate_with: str = "hybrid"
    k: int = Field(5, ge=1)
    metrics: tuple[str, ...] | None = None
    rerank: RerankSettings | None = None
    prompt: str = "rag_answer"
    profile: str = "embedded"
    endpoint: EndpointOverrides = Field(default_factory=EndpointOverrides)
    context: ContextSettings = Field(default_factory=ContextSettings)
    questions: int | None = Field(None, ge=1, description="generate for the first N (all if unset)")
    grounding: GroundingSettings = Field(default_factory=GroundingSettings)
    thresholds: dict[str, Bound] = Field(default_factory=dict)

    @field_validator("retrievers")
    @classmethod
    def _known_retrievers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from promptops.rag.retrievers import RETRIEVERS

        if not value:
            raise ValueError("list at least one retriever")
        unknown = [name for name in value if name not in RETRIEVERS]
        if unknown:
            raise ValueError(
                f"unknown retriever(s) {', '.join(map(repr, unknown))} "
                f"(known: {', '.join(RETRIEVERS.names())})"
            )
        if len(set(value)) != len(value):
            raise ValueError("a retriever is listed twice")
        return value

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if value is None else canonical_metrics(value)

    @model_validator(mode="after")
    def _consistent(self) -> RagSuite:
        if self.generate_with not in self.retrievers:
            raise ValueError(
                f"generate_with {self.generate_with!r} must be one of the retrievers "
                f"({', '.join(self.retrievers)})"
            )
        if self.rerank is not None and self.rerank.candidates < self.k:
            raise ValueError(
                f"rerank.candidates ({self.rerank.candidates}) must be at least k ({self.k})"
            )
        bad = [key for key in self.thresholds if not self._known_threshold(key)]
        if bad:
            raise ValueError(
                f"unknown threshold(s) {', '.join(map(repr, bad))}; use retrieval.<measure> or "
                f"delivered.<measure> with a measure of {', '.join(self.metric_names)}, "
                f"generation.<{'|'.join(_generation_keys())}> or "
                f"grounding.<{'|'.join(GROUNDING_KEYS)}>"
            )
        return self

    def _known_threshold(self, key: str) -> bool:
        scope, _, name = key.partition(".")
        if scope in RANKING_SCOPES:
            return name in self.metric_names
        return (scope == "generation" and name in _generation_keys()) or (
            scope == "grounding" and name in GROUNDING_KEYS
        )

    @property
    def generates_reranked(self) -> bool:
        return self.rerank is not None and self.rerank.use_for_generation

    @property
    def metric_names(self) -> tuple[str, ...]:
        """The retrieval measures to report, canonical names."""
        return self.metrics if self.metrics is not None else default_metrics(self.k)


def resolve_rag_suite(ref: str | None) -> tuple[RagSuite, Path]:
    """`covid_qa` -> evalsets/covid_qa.yaml (the default); a .yaml path is read as is."""
    return load_suite(ref or DEFAULT_SUITE, RagSuite)
