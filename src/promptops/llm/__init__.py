"""The OpenAI-compatible client: what other packages use from `promptops.llm`.

    client = LLMClient(resolve_profile("embedded", EndpointOverrides()), cache=ResponseCache(path))
    completion: Completion = await client.complete(ChatRequest(messages=[...]))

The names below are the package's public surface; its modules are private to it. They are
loaded on first use, as `promptops` itself does, so importing a light module of the package
(`promptops.llm.types`) does not pull in the OpenAI SDK.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptops.llm.cache import ResponseCache
    from promptops.llm.calibration import calibrate, content_free_prior
    from promptops.llm.client import EMBEDDED_BASE_URL, ClientStats, LLMClient
    from promptops.llm.profile import EndpointOverrides, EndpointProfile, Prices, resolve_profile
    from promptops.llm.retry import TRANSIENT_KINDS, MalformedResponseError
    from promptops.llm.types import ChatRequest, Completion, TokenCounts

_WHERE = {
    "ChatRequest": "types",
    "ClientStats": "client",
    "Completion": "types",
    "EMBEDDED_BASE_URL": "client",
    "EndpointOverrides": "profile",
    "EndpointProfile": "profile",
    "LLMClient": "client",
    "MalformedResponseError": "retry",
    "Prices": "profile",
    "ResponseCache": "cache",
    "TRANSIENT_KINDS": "retry",
    "TokenCounts": "types",
    "calibrate": "calibration",
    "content_free_prior": "calibration",
    "resolve_profile": "profile",
}

__all__ = [
    "EMBEDDED_BASE_URL",
    "TRANSIENT_KINDS",
    "ChatRequest",
    "ClientStats",
    "Completion",
    "EndpointOverrides",
    "EndpointProfile",
    "LLMClient",
    "MalformedResponseError",
    "Prices",
    "ResponseCache",
    "TokenCounts",
    "calibrate",
    "content_free_prior",
    "resolve_profile",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module when first asked."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'promptops.llm' has no attribute {name!r}")
    value = getattr(import_module(f"promptops.llm.{module}"), name)
    globals()[name] = value
    return value
