"""One question through a RAG suite's generating pipeline: the steps rag-eval and serve share.

    GeneratingPipeline.rank   the suite's `generate_with` retriever (reranked when the suite
                              generates from the reranked ranking), cut to k
    question_job              the context guard on those chunks and the chat request
    answering.answer_question the model call (under an optional deadline), then citations
                              and grounding: one results.jsonl record

`rag-eval` ranks every question with every pipeline first (`retrieve_all`) and fits every
context before sending anything, then sends each job through `answer_question`. `promptops
serve` loads a `GeneratingPipeline` once and runs the same three steps per request, so an
answer served in production is the answer, citations and grounding the eval measured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from promptops.errors import EvalsetError
from promptops.llm.profile import EndpointProfile
from promptops.prompts import Prompt, declared_variables
from promptops.rag.answering import AnswerJob
from promptops.rag.chunking import Chunk, ChunkingConfig
from promptops.rag.corpus import Document
from promptops.rag.delivery import ContextFitter, context_window
from promptops.rag.guard import CountTokens
from promptops.rag.index import RetrievalIndex, build_index
from promptops.rag.rankings import PipelineKey, make_reranker, retrieve_all
from promptops.rag.relevance import QAQuery, delivered_ranking
from promptops.rag.rerank import Reranker
from promptops.rag.retrievers import create_retriever
from promptops.rag.suite import RagSuite

PROMPT_VARIABLES = frozenset({"question", "context"})


def rag_prompt(suite: RagSuite, override: str | None) -> Prompt:
    """The suite's answer prompt (or `override`): a generation prompt taking exactly
    `question` and `context`."""
    prompt = suite.prompt_from(suite.prompt, override)
    names = set(declared_variables(prompt))
    if prompt.task != "generation" or names != PROMPT_VARIABLES:
        raise EvalsetError(
            f"{prompt.identity} is a {prompt.task} prompt with variables "
            f"{', '.join(sorted(names)) or 'none'}; a RAG suite needs a generation prompt with "
            "exactly `question` and `context`",
            where=prompt.source,
        )
    return prompt


def token_counter(profile: EndpointProfile) -> CountTokens | None:
    """The embedded model counts with its own tokenizer; other endpoints get tiktoken."""
    if not profile.embedded:
        return None
    from promptops.rag.guard import embedded_model_counter

    return embedded_model_counter()


def context_fitter(suite: RagSuite, prompt: Prompt, profile: EndpointProfile) -> ContextFitter:
    """The guard as the suite sets it up for this prompt and endpoint."""
    return ContextFitter(
        prompt=prompt,
        model=profile.model,
        context_window=context_window(suite.context.context_window, prompt, profile),
        policy=suite.context.policy,
        count_tokens=token_counter(profile),
    )


def tune_metric(suite: RagSuite) -> str | None:
    """nDCG@k tunes a fusion reranker's alpha on dev questions, unless the suite fixes it."""
    rerank = suite.rerank
    if rerank is None or rerank.name != "minilm-fusion" or "alpha" in rerank.params:
        return None
    return f"ndcg@{suite.k}"


def generating_key(suite: RagSuite) -> PipelineKey:
    """The pipeline whose ranking the answers get."""
    return PipelineKey(
        suite.generate_with, "reranked" if suite.generates_reranked else "first_stage"
    )


@dataclass(frozen=True)
class GeneratingPipeline:
    """The ranking a suite answers from, ready to rank new questions: the first stage's top
    `depth` hits (`candidates` with a reranker), reranked when the suite generates reranked,
    cut to k; exactly how `retrieve_all` ranks that pipeline."""

    index: RetrievalIndex
    k: int
    depth: int
    reranker: Reranker | None

    @property
    def chunks(self) -> dict[str, Chunk]:
        return {c.chunk_id: c for c in self.index.chunks}

    def rank(self, texts: Sequence[str]) -> list[list[str]]:
        hits = self.index.retrieve(list(texts), self.depth)
        if self.reranker is None:
            return [[cid for cid, _ in found[: self.k]] for found in hits]
        lookup = self.index.chunk_texts()
        return [
            [cid for cid, _ in self.reranker.rerank(text, found, lookup, self.depth)[: self.k]]
            for text, found in zip(texts, hits, strict=True)
        ]


def load_generating(
    suite: RagSuite, docs: Sequence[Document], queries: Sequence[QAQuery]
) -> GeneratingPipeline:
    """Fit (or load from the index cache) the generating retriever. A fusion reranker whose
    weight rag-eval tunes on the suite's dev questions is tuned here the same way, over the
    same retrievers, so the weight is the one the eval used."""
    chunking = ChunkingConfig(suite.chunking.size, suite.chunking.overlap)
    index = build_index(docs, create_retriever(suite.generate_with), chunking)
    if not suite.generates_reranked or suite.rerank is None:
        return GeneratingPipeline(index, suite.k, suite.k, None)
    reranker = make_reranker(suite.rerank)
    candidates = suite.rerank.candidates
    metric = tune_metric(suite)
    if metric is not None and reranker is not None:
        tuned = retrieve_all(
            docs,
            queries,
            chunking,
            suite.retrievers,
            suite.k,
            reranker,
            candidates,
            tune_metric=metric,
        )
        reranker = tuned.reranker
    return GeneratingPipeline(index, suite.k, max(suite.k, candidates), reranker)


def question_job(
    query: QAQuery,
    retrieved: Sequence[str],
    chunks: Mapping[str, Chunk],
    fitter: ContextFitter,
    *,
    relevant: frozenset[str] = frozenset(),
    remember: bool = True,
) -> AnswerJob:
    """The guard's choice of the retrieved chunks and the request that sends it. A context
    the suite's policy refuses raises `ContextOverflowError` naming the question.
    `remember=False` keeps the fitter's memo untouched (a server sees each question once)."""
    delivery = fitter.fit(query, [chunks[cid] for cid in retrieved], strict=True, remember=remember)
    guard = delivery.guard
    return AnswerJob(
        query=query,
        retrieved=list(retrieved),
        delivered=delivered_ranking(guard.kept, guard.truncated, query),
        relevant=relevant,
        delivery=delivery,
        request=fitter.request(query, guard),
    )
