"""Sending the questions and writing each scored answer as it lands.

A question's row in results.jsonl holds everything needed to audit it without re-running:
what was retrieved, what the guard delivered, dropped or truncated (and why), the answer, its
citations, its grounding in the delivered passages and its quality against the gold answers.
Scoring (embedding for grounding) runs on a worker thread, so answers keep arriving meanwhile;
rag-eval sends through the one send loop (`runs.sending`), which appends a row only once it is
complete.

`answer_question` is the one path from a prepared job to its record: rag-eval runs it for every
question and `promptops serve` for each request (`promptops.rag.question` builds the job).
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

from promptops.llm.client import LLMClient
from promptops.llm.types import ChatRequest, Completion
from promptops.metrics.generation import generation_scores
from promptops.rag.citations import parse_citations
from promptops.rag.delivery import Delivery
from promptops.rag.grounding import GroundingScorer
from promptops.rag.relevance import QAQuery
from promptops.runs.rows import CallFacts, RagRow


@dataclass(frozen=True)
class AnswerJob:
    query: QAQuery
    retrieved: list[str]
    delivered: list[str]
    relevant: frozenset[str]
    delivery: Delivery
    request: ChatRequest


def answer_row(job: AnswerJob, completion: Completion, scorer: GroundingScorer) -> RagRow:
    """One line of results.jsonl; a failed call has no answer, no grounding and scores 0.

    `quality` holds the per-answer ROUGE-L, sentence BLEU, exact match and token F1 against
    the best-matching gold answer (empty for a question without gold answers).
    """
    answer = completion.text if completion.ok else None
    passages = [chunk.text for chunk in job.delivery.guard.kept]
    grounding = scorer.score(answer, passages).to_record() if answer is not None else None
    return RagRow.model_validate(
        {
            "id": job.query.qid,
            "question": job.query.text,
            "gold": list(job.query.answers),
            "retrieved": job.retrieved,
            "delivered": job.delivered,
            "relevant_retrieved": sum(cid in job.relevant for cid in job.retrieved),
            "relevant_delivered": sum(cid in job.relevant for cid in job.delivered),
            "guard": job.delivery.to_record(),
            "answer": answer,
            "citations": parse_citations(answer) if answer is not None else [],
            "quality": (
                generation_scores(answer or "", job.query.answers) if job.query.answers else {}
            ),
            "grounding": grounding,
            "finish_reason": completion.finish_reason,
            **CallFacts.of(completion),
        }
    )


_SCORING = threading.Lock()
"""Grounding embeds with one shared MiniLM whose fast tokenizer must not be entered by two
threads at once ("Already borrowed"); answers from concurrent calls are scored in turn."""


def _scored(job: AnswerJob, completion: Completion, scorer: GroundingScorer) -> RagRow:
    with _SCORING:
        return answer_row(job, completion, scorer)


async def scored_row(job: AnswerJob, completion: Completion, scorer: GroundingScorer) -> RagRow:
    """Score an answer on a worker thread, so answers keep arriving meanwhile."""
    return await asyncio.to_thread(_scored, job, completion, scorer)


@dataclass(frozen=True)
class QuestionAnswer:
    """A job's completion and its results.jsonl row; both None when the deadline passed
    before the model answered."""

    job: AnswerJob
    completion: Completion | None
    row: RagRow | None
    latency_s: float

    @property
    def timed_out(self) -> bool:
        return self.completion is None

    @property
    def record(self) -> dict[str, Any] | None:
        """The row as written to results.jsonl."""
        return None if self.row is None else self.row.line()


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
    return QuestionAnswer(job, completion, await scored_row(job, completion, scorer), latency_s)
