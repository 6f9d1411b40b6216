"""The versioned results model of a RAG run: what `summary.json` holds for `rag-eval`.

Retrieval and generation are kept apart, because they fail for different reasons:

- `retrieval`: for every pipeline (a retriever, alone and after the reranker) the ranking
  measures on what was retrieved and on what was delivered, i.e. what the context guard let
  through to the model, with the guard's counts;
- `generation`: answer quality against the gold answers, grounding of the answers in the
  delivered context, every context overflow, the worst answers and the failed calls;
- `sweep` (optional): retrieval measures per chunk size and overlap.

Reports render from this model alone. Values that change between two runs with identical
answers (run id, times, latencies, cache counts) live under `volatile`, which report.md leaves
out so that it stays byte-identical.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from promptops.runs.envelope import Envelope, Usage, Volatile

Stage = Literal["first_stage", "reranked"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RagModelInfo(_Model):
    """Where answers came from; never carries an API key."""

    profile: str
    model: str
    base_url: str | None  # None = embedded local model
    temperature: float
    max_tokens: int


class CorpusInfo(_Model):
    path: str
    sha256: str
    n_docs: int
    n_chunks: int


class QuestionsInfo(_Model):
    path: str
    sha256: str
    n_questions: int
    n_judged: int = Field(description="questions with answer spans (scored for retrieval)")
    n_generated: int = Field(description="questions answered (0 in a retrieval-only sweep)")


class ChunkingInfo(_Model):
    size: int
    overlap: int
    encoding: str


class AlphaTuningInfo(_Model):
    """The fusion weight, chosen on dev questions only (the tests use the others)."""

    alpha: float
    metric: str
    dev_questions: int
    test_questions: int
    grid: dict[str, float] = Field(description="alpha -> mean dev value of `metric`")


class RerankInfo(_Model):
    name: str
    candidates: int
    config: dict[str, Any]
    tuning: AlphaTuningInfo | None = None


class RerankTest(_Model):
    """Did reranking help this retriever? Paired over the test questions (see rerank_eval)."""

    retriever: str
    metric: str
    questions: Literal["test", "all"] = Field(
        description="test: the questions not used to choose alpha; all: nothing was tuned"
    )
    n: int
    mean_before: float
    mean_after: float
    mean_difference: float
    better: int
    worse: int
    p_permutation: float
    p_wilcoxon: float | None
    mde: float | None = None  # minimum detectable mean difference, 80% power, alpha 0.05
    verdict: str


class ContextInfo(_Model):
    policy: Literal["drop", "truncate", "fail"]
    context_window: int
    max_tokens: int
    counter: str = Field(description="which tokenizer counted the prompt")


class GuardCounts(_Model):
    """What the context guard did to one pipeline's rankings."""

    questions: int
    overflowed: int = Field(description="questions whose retrieved chunks did not all fit")
    refused: int = Field(description="overflows where nothing was delivered (policy fail)")
    chunks_retrieved: int
    chunks_delivered: int
    chunks_dropped: int
    chunks_truncated: int


class PipelineMetrics(_Model):
    retriever: str
    stage: Stage
    label: str
    generates: bool = Field(description="the pipeline whose chunks were sent to the model")
    retrieved: dict[str, float]
    delivered: dict[str, float]
    guard: GuardCounts


class RetrievalSection(_Model):
    relevance: str = Field(description="how relevant chunks were decided")
    k: int
    metrics: list[str]
    n_judged: int
    unjudged: list[str] = Field(description="question ids without answer spans")
    reranker: RerankInfo | None
    context: ContextInfo
    pipelines: list[PipelineMetrics]
    rerank_tests: list[RerankTest] = Field(default_factory=list)


class GroundingFigures(_Model):
    """Means over answers (each skips answers where it is undefined), and totals."""

    threshold: float
    answers: int
    answers_citing: int = Field(description="answers with at least one citation")
    sentences: int
    invalid_citations: int
    validity: float | None
    coverage: float | None
    support: float | None
    unsupported_rate: float | None


class OverflowView(_Model):
    """One question whose chunks did not all fit, and what the guard did."""

    id: str
    needed: int
    budget: int
    delivered: list[str]
    dropped: list[str]
    truncated: str | None
    refused: str | None = None


class AnswerView(_Model):
    """One answered question shown in a report."""

    id: str
    question: str
    gold: list[str]
    answer: str | None
    delivered: list[str]
    relevant_delivered: int
    token_f1: float | None
    rouge_l: float | None
    support: float | None
    unsupported_rate: float | None
    error: str | None = None
    unsupported_claims: list[str] = Field(
        default_factory=list,
        description="per unsupported sentence: its start and the claim spans not found",
    )


class GenerationSection(_Model):
    pipeline: str
    n_questions: int
    n_errors: int
    metrics: dict[str, float | None] = Field(
        description="corpus BLEU; mean ROUGE-L, exact match, token F1; a failed call scores 0"
    )
    grounding: GroundingFigures
    guard: GuardCounts
    overflows: list[OverflowView]
    worst: list[AnswerView]
    errors: list[AnswerView]
    usage: Usage


class SweepPipeline(_Model):
    retriever: str
    stage: Stage
    label: str
    metrics: dict[str, float]


class SweepPoint(_Model):
    size: int
    overlap: int
    n_chunks: int
    pipelines: list[SweepPipeline]


class SweepBest(_Model):
    label: str
    size: int
    overlap: int
    value: float


class SweepSection(_Model):
    """Retrieval only (nothing generated) for each chunking setting."""

    k: int
    metrics: list[str]
    primary_metric: str
    points: list[SweepPoint]
    best: list[SweepBest] = Field(description="per pipeline, the setting that maximises it")


class RagVolatile(Volatile):
    """Values that differ between runs with identical answers: never in report.md."""

    retrieval_s: float
    generation_s: float


class RagSummary(Envelope):
    kind: Literal["rag"] = "rag"
    description: str
    model: RagModelInfo
    corpus: CorpusInfo
    questions: QuestionsInfo
    chunking: ChunkingInfo
    retrieval: RetrievalSection
    generation: GenerationSection | None
    sweep: SweepSection | None = None
    volatile: RagVolatile
