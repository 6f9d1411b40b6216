"""A served RAG suite: retrieve, guard the context, answer, cite and ground, as `rag-eval` does.

Corpus, index (from the index cache when it is there), reranker and guard are loaded once at
start-up, and the warm-up answers one of the suite's own questions, so retrieval, the model and
the grounding scorer's MiniLM are all loaded before the port reports ready. A request runs
`promptops.rag.question` (rank, `question_job`) and `answer_question`, the same functions
rag-eval runs per question, so the served answer, citations and grounding are the eval's.

The body takes `question` only: `context` is what retrieval fills in. The deadline covers
retrieval and the model call; scoring a reply that arrived in time is not cut short.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from promptops.errors import ConfigError, ContextOverflowError, UserInputError
from promptops.llm.client import LLMClient
from promptops.llm.prompted import Calibrator
from promptops.prompts import declared_variables, resolve_prompt
from promptops.prompts.model import Variable
from promptops.rag.answering import AnswerJob, QuestionAnswer, answer_question
from promptops.rag.corpus import load_corpus
from promptops.rag.grounding import GroundingScorer
from promptops.rag.question import (
    PROMPT_VARIABLES,
    GeneratingPipeline,
    context_fitter,
    load_generating,
    question_job,
    rag_prompt,
)
from promptops.rag.relevance import QAQuery, load_qa_queries
from promptops.rag.suite import DEFAULT_SUITE, resolve_rag_suite
from promptops.serve.arm import Answer, served_profile
from promptops.serve.config import ServeConfig

FILLED_BY_RETRIEVAL = "context"
SERVED_QID = "served"
WARM_UP_FALLBACK = "What is this about?"


class RagArm:
    """A RAG suite's answer prompt with its retriever, guard and grounding scorer."""

    def __init__(self, config: ServeConfig, prompt_ref: str, suite_ref: str) -> None:
        self.suite, _ = resolve_rag_suite(suite_ref)
        self.prompt = rag_prompt(self.suite, prompt_ref)
        self.profile = served_profile(config, self.suite.profile, self.suite.endpoint)
        self.deadline_s = self.profile.timeout
        self.client = LLMClient(self.profile)
        self.calibrator = Calibrator()  # generation prompts are not calibrated
        self.fitter = context_fitter(self.suite, self.prompt, self.profile)
        self.scorer = GroundingScorer(threshold=self.suite.grounding.threshold)
        self.pipeline: GeneratingPipeline | None = None
        self._warm_up_questions: list[str] = []
        self._retrieving = threading.Lock()  # retriever encoders are not safe across threads

    @property
    def identity(self) -> str:
        return self.prompt.identity

    @property
    def inputs(self) -> dict[str, Variable]:
        """The variables a request body gives: `question`; retrieval fills the context."""
        return {
            name: spec
            for name, spec in declared_variables(self.prompt).items()
            if name != FILLED_BY_RETRIEVAL
        }

    def _load(self) -> None:
        suite = self.suite
        docs = load_corpus(suite.path_of(suite.corpus))
        queries = load_qa_queries(suite.path_of(suite.queries), docs)
        self.pipeline = load_generating(suite, docs, queries)
        self._warm_up_questions = [q.text for q in queries] or [WARM_UP_FALLBACK]

    async def start(self) -> None:
        """Load the corpus and index, then answer one of the suite's questions end to end
        (the first whose context policy `fail` does not refuse; refusals cost no call)."""
        if self.pipeline is None:
            await asyncio.to_thread(self._load)
        for question in self._warm_up_questions:
            try:
                answer = await self.answer({"question": question})
            except ContextOverflowError:
                continue
            if not answer.ok:
                raise RuntimeError(f"{self.identity}: warm-up request failed: {answer.error}")
            return
        raise RuntimeError(f"{self.identity}: the context policy refuses every warm-up question")

    def _job(self, question: str) -> AnswerJob:
        pipeline = self.pipeline
        if pipeline is None:
            raise RuntimeError("the RAG arm answered before start()")
        query = QAQuery(qid=SERVED_QID, text=question, answers=(), spans=())
        with self._retrieving:
            [retrieved] = pipeline.rank([question])
        return question_job(query, retrieved, pipeline.chunks, self.fitter, remember=False)

    async def answer(self, inputs: dict[str, Any]) -> Answer:
        """Retrieve, guard and answer within the deadline. A context the suite's policy
        (`fail`) refuses raises `ContextOverflowError` before anything is sent."""
        started = time.perf_counter()
        job = await asyncio.to_thread(self._job, str(inputs["question"]))
        left = self.deadline_s - (time.perf_counter() - started)
        answered = await answer_question(self.client, job, self.scorer, deadline_s=max(left, 0))
        elapsed = time.perf_counter() - started
        logged = _logged(answered)
        if answered.completion is None or answered.record is None:
            return Answer(None, elapsed, timed_out=True, logged=logged)
        return Answer(answered.completion, elapsed, response=_response(answered), logged=logged)

    async def aclose(self) -> None:
        await self.client.aclose()


def _overflow(job: AnswerJob) -> dict[str, Any]:
    guard = job.delivery.guard
    return {
        "overflowed": guard.overflowed,
        "policy": guard.policy,
        "dropped": list(guard.dropped),
        "truncated": guard.truncated,
        "limit": guard.limit,
        "prompt_tokens": guard.prompt_tokens,
    }


def _response(answered: QuestionAnswer) -> dict[str, Any]:
    """What a caller sees beside the answer: its citations, the numbered passages they point
    to (as delivered: a truncated passage is its kept prefix), the grounding and the guard."""
    record = answered.record or {}
    grounding = record.get("grounding") or {}
    sentences = grounding.get("sentences", [])
    return {
        "citations": record.get("citations", []),
        "passages": [
            {"n": n, "chunk_id": chunk.chunk_id, "doc_id": chunk.doc_id, "text": chunk.text}
            for n, chunk in enumerate(answered.job.delivery.guard.kept, start=1)
        ],
        "grounding": {
            "support": grounding.get("support"),
            "unsupported_rate": grounding.get("unsupported_rate"),
            "validity": grounding.get("validity"),
            "coverage": grounding.get("coverage"),
            "threshold": grounding.get("threshold"),
            "unsupported": [
                {"sentence": s["text"], "support": s["support"], "reasons": s["reasons"]}
                for s in sentences
                if not s["supported"]
            ],
        },
        "overflow": _overflow(answered.job),
    }


def _logged(answered: QuestionAnswer) -> dict[str, Any]:
    """The request's log fields: grounding and overflow figures and chunk ids, no text."""
    record = answered.record or {}
    grounding = record.get("grounding") or {}
    return {
        "retrieved": answered.job.retrieved,
        "delivered": answered.job.delivered,
        "citations": record.get("citations", []),
        "grounding_support": grounding.get("support"),
        "unsupported_rate": grounding.get("unsupported_rate"),
        "citation_validity": grounding.get("validity"),
        "overflow": _overflow(answered.job),
    }


def rag_suite_of(config: ServeConfig) -> str | None:
    """The RAG suite to serve, or None for a plain prompt: `--suite` when it names a RAG
    suite; else the default suite (as `rag-eval`) when the prompt takes `question` and
    `context`. Release guardrails (candidate, baseline fallback) are classification-only."""
    prompt = resolve_prompt(config.prompt)
    takes_context = (
        prompt.task == "generation" and set(declared_variables(prompt)) == PROMPT_VARIABLES
    )
    suite = config.suite
    if suite is not None:
        try:
            resolve_rag_suite(suite)
        except UserInputError:
            if takes_context:
                raise
            return None
    elif not takes_context:
        return None
    if config.candidate is not None or config.fallback != "none":
        raise ConfigError(
            "shadow, canary and the baseline fallback are not available for a RAG suite yet",
            where="--shadow/--canary/--fallback",
        )
    return suite or DEFAULT_SUITE
