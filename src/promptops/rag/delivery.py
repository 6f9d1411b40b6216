"""What reaches the model: a question's ranked chunks through the context guard.

The prompt is rendered with the question and the numbered context exactly as it will be sent,
and `fit_context` counts the whole chat prompt (with the embedded model's own tokenizer when
the endpoint is the embedded model). The context window is the suite's override, else the
prompt's, else the profile's; the reply's room is the prompt's `max_tokens`.

Only a question that will be sent must fit under policy `fail`: there an overflow is a
`ContextOverflowError` naming the question. For the other rankings (other pipelines, questions
past `questions`) the same overflow means nothing would have been delivered; it is recorded as
an overflow with every chunk dropped, so delivered metrics show it instead of stopping the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from promptops.errors import ConfigError, ContextOverflowError
from promptops.llm.profile import EndpointProfile
from promptops.llm.types import ChatRequest
from promptops.prompts import Prompt, build_request, render_messages
from promptops.rag.chunking import Chunk
from promptops.rag.guard import CountTokens, GuardResult, Messages, Policy, fit_context
from promptops.rag.relevance import QAQuery

DEFAULT_MAX_TOKENS = 256
"""Room kept for the reply when the prompt sets no max_tokens."""


def context_window(override: int | None, prompt: Prompt, profile: EndpointProfile) -> int:
    window = override or prompt.model.context_window or profile.context_window
    if window is None:
        raise ConfigError(
            "no context window is known: set context.context_window in the suite, "
            "model.context_window in the prompt, or context_window in the profile",
            where=f"profile {profile.name}",
        )
    return window


@dataclass
class ContextFitter:
    """Fits chunk lists for one prompt and endpoint; identical lists are fitted once."""

    prompt: Prompt
    model: str
    context_window: int
    policy: Policy
    count_tokens: CountTokens | None = None
    _memo: dict[tuple[str, tuple[str, ...]], Delivery] = field(default_factory=dict)

    @property
    def max_tokens(self) -> int:
        return self.prompt.model.max_tokens or DEFAULT_MAX_TOKENS

    def values(self, question: str, context: str) -> dict[str, str]:
        return {"question": question, "context": context}

    def messages(self, question: str, context: str) -> Messages:
        pairs = render_messages(self.prompt, self.values(question, context))
        return [{"role": role, "content": content} for role, content in pairs]

    def request(self, query: QAQuery, guard: GuardResult) -> ChatRequest:
        """The chat request sent for `query` with the guard's context filled in."""
        request = build_request(self.prompt, self.values(query.text, guard.context))
        return (
            request
            if request.max_tokens is not None
            else replace(request, max_tokens=self.max_tokens)
        )

    def fit(
        self, query: QAQuery, chunks: Sequence[Chunk], *, strict: bool, remember: bool = True
    ) -> Delivery:
        """The guard's choice for these chunks; `strict` lets a refused overflow raise.
        `remember=False` neither reads nor fills the memo (a server must not grow it)."""
        key = (query.qid, tuple(c.chunk_id for c in chunks))
        cached = self._memo.get(key) if remember else None
        if cached is not None and not (strict and cached.refused):
            return cached
        try:
            delivery = Delivery(
                fit_context(
                    chunks,
                    lambda context: self.messages(query.text, context),
                    model=self.model,
                    context_window=self.context_window,
                    max_tokens=self.max_tokens,
                    policy=self.policy,
                    count_tokens=self.count_tokens,
                )
            )
        except ContextOverflowError as exc:
            if strict:
                raise ContextOverflowError(exc.reason, where=f"question {query.qid}") from exc
            delivery = self._refused(chunks, exc)
        if remember:
            self._memo[key] = delivery
        return delivery

    def _refused(self, chunks: Sequence[Chunk], exc: ContextOverflowError) -> Delivery:
        """An overflow the policy (or an oversize prompt) refused: nothing was delivered."""
        limit = self.context_window - self.max_tokens
        guard = GuardResult(
            kept=(),
            dropped=tuple(c.chunk_id for c in chunks),
            truncated=None,
            overflowed=True,
            policy=self.policy,
            limit=limit,
            budget=0,
            needed=0,
            used=0,
            prompt_tokens=0,
            counter="not counted",
        )
        return Delivery(guard, refused=exc.reason)


@dataclass(frozen=True)
class Delivery:
    """The guard's result for one ranking; `refused` says why nothing was delivered at all."""

    guard: GuardResult
    refused: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {**self.guard.to_record(), "refused": self.refused}
