"""Shared helpers for the LLM client tests: profiles pointing at the fake server, labelled cases."""

from __future__ import annotations

from typing import Any

from promptops.llm.profile import EndpointProfile
from promptops.llm.retry import BackoffPolicy
from promptops.llm.types import ChatRequest
from promptops.testing import FakeOpenAIServer

LABELS = ("alpha", "beta", "gamma", "delta")
ZERO_BACKOFF = BackoffPolicy(base_s=0.0)


def profile_for(srv: FakeOpenAIServer, **overrides: Any) -> EndpointProfile:
    """A profile for the fake server: generous timeout, a few retries, modest concurrency."""
    fields: dict[str, Any] = {
        "name": "fake",
        "base_url": srv.base_url,
        "model": "fake-model",
        "timeout": 10.0,
        "max_retries": 3,
        "concurrency": 8,
    }
    fields.update(overrides)
    return EndpointProfile(**fields)


def labelled_case(i: int, labels: tuple[str, ...] = LABELS) -> tuple[ChatRequest, str]:
    """A distinct classification request whose right answer is named in the user message."""
    expected = labels[i % len(labels)]
    req = ChatRequest(
        messages=(("system", "Pick one label."), ("user", f"case {i}: this one is {expected}")),
        labels=labels,
    )
    return req, expected


def user_text(req: ChatRequest) -> str:
    """The server's case key for a request (its last user message)."""
    return next(content for role, content in reversed(req.messages) if role == "user")
