"""Test doubles that other projects and our own tests share: a local OpenAI-compatible server."""

from __future__ import annotations

from promptops.testing.openai_server import (
    TRANSIENT_FAULTS,
    FakeOpenAIServer,
    FaultPlan,
    default_answer,
    last_user_message,
)
from promptops.testing.ratelimit import ProviderLimits, TokenBucket

__all__ = [
    "TRANSIENT_FAULTS",
    "FakeOpenAIServer",
    "FaultPlan",
    "ProviderLimits",
    "TokenBucket",
    "default_answer",
    "last_user_message",
]
