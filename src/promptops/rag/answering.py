"""Sending the questions and writing each scored answer as it lands.

A question's row in results.jsonl holds everything needed to audit it without re-running:
what was retrieved, what the guard delivered, dropped or truncated (and why), the answer, its
citations, its grounding in the delivered passages and its quality against the gold answers.
Scoring (embedding for grounding) runs on a worker thread, so answers keep arriving meanwhile;
a row is appended, and flushed, only once it is complete.
"""

from __future__ import annotations

import asyncio
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


async def answer_all(
    client: LLMClient,
    folder: RunFolder,
    work: Iterator[AnswerJob],
    scorer: GroundingScorer,
    progress: Progress,
) -> None:
    """Send every job through the client's bounded window, appending each scored answer as
    it completes."""
    in_flight: dict[int, AnswerJob] = {}

    def requests() -> Iterator[ChatRequest]:
        for index, job in enumerate(work):
            in_flight[index] = job
            yield job.request

    async for index, completion in client.complete_many(requests()):
        job = in_flight.pop(index)
        record = await asyncio.to_thread(answer_record, job, completion, scorer)
        folder.append(record)
        progress.update(completion.ok)
