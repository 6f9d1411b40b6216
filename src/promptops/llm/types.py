"""The contract between callers (eval, rag, run, serve) and the client wrapper.

A `ChatRequest` holds everything that determines an answer, so it is also what the response
cache hashes. A `Completion` is what came back, including failures: a call that failed for
good is a `Completion` with `error` set, never an exception lost in a log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ChatRequest:
    """One chat-completions call.

    `labels` marks a classification call: the client asks the endpoint for a constrained
    answer and label probabilities where it can, and validates the answer against the set.
    `sample_index` separates repeated samples of the same case in the cache.
    """

    messages: tuple[tuple[str, str], ...]  # (role, content) pairs
    temperature: float = 0.0
    max_tokens: int | None = None
    labels: tuple[str, ...] | None = None
    top_p: float | None = None
    stop: tuple[str, ...] | None = None
    seed: int | None = None
    sample_index: int = 0

    def message_dicts(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]


@dataclass
class TokenCounts:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Completion:
    """The outcome of one `ChatRequest`.

    For classification calls, `label` is the answer when it is one of the allowed labels and
    `None` otherwise (then `invalid` is True): an answer outside the set is never mapped to a
    near label. `label_probs` holds per-label probabilities when the endpoint gave them.
    """

    text: str | None
    label: str | None = None
    label_probs: dict[str, float] | None = None
    raw_label_probs: dict[str, float] | None = None  # before calibration, when calibrated
    invalid: bool = False
    finish_reason: str | None = None
    usage: TokenCounts = field(default_factory=TokenCounts)
    cost_usd: float = 0.0
    latency_s: float = 0.0
    cached: bool = False
    attempts: int = 1
    error: str | None = None
    error_kind: str | None = None
    model: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict for results files."""
        return {
            "text": self.text,
            "label": self.label,
            "label_probs": self.label_probs,
            "raw_label_probs": self.raw_label_probs,
            "invalid": self.invalid,
            "finish_reason": self.finish_reason,
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
            "cost_usd": self.cost_usd,
            "latency_s": self.latency_s,
            "cached": self.cached,
            "attempts": self.attempts,
            "error": self.error,
            "error_kind": self.error_kind,
            "model": self.model,
        }
