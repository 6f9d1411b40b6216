"""Sending the questions and writing each scored answer as it lands.

A question's row in results.jsonl holds everything needed to audit it without re-running:
what was retrieved, what the guard delivered, dropped or truncated (and why), the answer, its
citations, its grounding in the delivered passages and its quality against the gold answers.
Scoring (embedding for grounding) runs on a worker thread, so answers keep arriving meanwhile;
a row is appended, and flushed, only once it is complete.

`answer_question` is the one path from a prepared job to its record: rag-eval runs it for every
question and `promptops serve` for each request (`promptops.rag.question` builds the job).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from promptops.evals.sending import Progress
from promptops.llm.client import LLMClient
from promptops.llm.types import ChatRequest, Completion
from promptops.metrics.generation import generation_scores
from promptops.rag.citations import parse_citations
from promptops.rag.delivery import Delivery
from promptops.rag.grounding import GroundingScorer
from promptops.rag.relevance import QAQuery
from promptops.runs.folder import RunFolder


@dataclass(frozen=True)
class AnswerJob:
    query: QAQuery
    retrieved: list[str]
    delivered: list[str]
    relevant: frozenset[str]
    delivery: Delivery
    request: ChatRequest


def answer_record(
    job: AnswerJob, completion: Completion, scorer: GroundingScorer
) -> dict[str, Any]:
    """One line of results.jsonl; a failed call has no answer, no grounding and scores 0.

    `quality` holds the per-answer ROUGE-L, sentence BLEU, exact match and token F1 against
    the best-matching gold answer (empty for a question without gold answers).
    """
    answer = completion.text if completion.ok else None
    passages = [chunk.text for chunk in job.delivery.guard.kept]
    grounding = scorer.score(answer, passages).to_record() if answer is not None else None
    return {
        "id": job.query.qid,
        "sample": 0,
        "question": job.query.text,
        "gold": list(job.query.answers),
        "retrieved": job.retrieved,
        "delivered": job.delivered,
        "relevant_retrieved": sum(cid in job.relevant for cid in job.retrieved),
        "relevant_delivered": sum(cid in job.relevant for cid in job.delivered),
        "guard": job.delivery.to_record(),
        "answer": answer,
        "citations": parse_citations(answer) if answer is not None else [],
        "quality": generation_scores(answer or "", job.query.answers) if job.query.answers else {},
        "grounding": grounding,
        "error": completion.error,
        "error_kind": completion.error_kind,
        "finish_reason": completion.finish_reason,
        "latency_s": round(completion.latency_s, 6),
        "prompt_tokens": completion.usage.prompt_tokens,
        "completion_tokens": completion.usage.completion_tokens,
        "cost_usd": completion.cost_usd,
        "cached": completion.cached,
        "attempts": completion.attempts,
    }


_SCORING = threading.Lock()
"""Grounding embeds with one shared MiniLM whose fast tokenizer must not be entered by two
threads at once ("Already borrowed"); answers from concurrent calls are scored in turn."""


def _scored(job: AnswerJob, completion: Completion, scorer: GroundingScorer) -> dict[str, Any]:
    with _SCORING:
        return answer_record(job, completion, scorer)


@dataclass(frozen=True)
class QuestionAnswer:
    """A job's completion and its results.jsonl record; both None when the deadline passed
    before the model answered."""

    job: AnswerJob
    completion: Completion | None
    record: dict[str, Any] | None
    latency_s: float

    @property
    def timed_out(self) -> bool:
        return self.completion is None


async def answer_question(
    client: LLMClient,
    job: AnswerJob,
    scorer: GroundingScorer,
    *,
    deadline_s: float | None = None,
) -> QuestionAnswer:
    """Send the job's request and score the reply (citations, grounding, quality). With a
    deadline the model call is cancelled when it passes (its connection closed); scoring a
    reply that did arrive is not cut short. `latency_s` is the model call's, queueing included."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(deadline_s):
            completion = await client.complete(job.request)
    except TimeoutError:
        return QuestionAnswer(job, None, None, time.perf_counter() - started)
    latency_s = time.perf_counter() - started
    record = await asyncio.to_thread(_scored, job, completion, scorer)
    return QuestionAnswer(job, completion, record, latency_s)


async def answer_all(
    client: LLMClient,
    folder: RunFolder,
    work: Iterator[AnswerJob],
    scorer: GroundingScorer,
    progress: Progress,
) -> None:
    """Answer every job with `answer_question`, at most a few times the client's concurrency
    at once (the client's limiter bounds what is really in flight; `work` is read lazily),
    appending each record as it completes."""
    window = 4 * client.profile.concurrency
    pending: set[asyncio.Task[QuestionAnswer]] = set()

    def finish(done: set[asyncio.Task[QuestionAnswer]]) -> None:
        for task in done:
            answered = task.result()
            assert answered.record is not None and answered.completion is not None  # no deadline
            folder.append(answered.record)
            progress.update(answered.completion.ok)

    try:
        for job in work:
            if len(pending) >= window:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                finish(done)
            pending.add(asyncio.create_task(answer_question(client, job, scorer)))
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            finish(done)
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
