"""Retry classification and backoff: what is retried, how long we wait, Retry-After honoured."""

from __future__ import annotations

import email.utils
import json
import random
import statistics

import httpx2
import openai
import pydantic
import pytest

from promptops.llm.retry import (
    DEFAULT_BASE_S,
    DEFAULT_CAP_S,
    BackoffPolicy,
    MalformedResponseError,
    retry_after_seconds,
    should_retry,
)

_REQUEST = httpx2.Request("POST", "http://127.0.0.1:1/v1/chat/completions")


def status_error(status: int, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    response = httpx2.Response(status, headers=headers or {}, request=_REQUEST)
    return openai.APIStatusError(f"Error code: {status}", response=response, body=None)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, "rate_limit"),
        (500, "server_error"),
        (502, "server_error"),
        (503, "server_error"),
        (504, "server_error"),
        (408, "timeout"),
    ],
)
def test_transient_statuses_are_retried(status: int, kind: str) -> None:
    for subject in (status, status_error(status)):
        decision = should_retry(subject)
        assert (decision.retry, decision.kind, decision.status) == (True, kind, status)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "bad_request"),
        (401, "auth"),
        (403, "permission"),
        (404, "not_found"),
        (422, "unprocessable"),
        (418, "client_error"),
    ],
)
def test_client_errors_are_not_retried(status: int, kind: str) -> None:
    for subject in (status, status_error(status)):
        decision = should_retry(subject)
        assert (decision.retry, decision.kind, decision.status) == (False, kind, status)


def _validation_error() -> pydantic.ValidationError:
    class Model(pydantic.BaseModel):
        x: int

    try:
        Model.model_validate({"x": "not a number"})
    except pydantic.ValidationError as exc:
        return exc
    raise AssertionError("validation should have failed")


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (openai.APITimeoutError(request=_REQUEST), "timeout"),
        (TimeoutError(), "timeout"),
        (openai.APIConnectionError(request=_REQUEST), "connection"),
        (json.JSONDecodeError("Unterminated string", '{"id": "x', 7), "malformed"),
        (_validation_error(), "malformed"),
        (MalformedResponseError("no choices"), "malformed"),
    ],
)
def test_transient_exceptions_are_retried(exc: BaseException, kind: str) -> None:
    decision = should_retry(exc)
    assert (decision.retry, decision.kind, decision.status) == (True, kind, None)


def test_other_errors_are_final() -> None:
    assert should_retry(openai.OpenAIError("weird")).kind == "api_error"
    assert not should_retry(openai.OpenAIError("weird")).retry
    bug = should_retry(KeyError("our own bug"))
    assert (bug.retry, bug.kind) == (False, "unexpected")


def test_retry_after_is_read_from_the_error_response() -> None:
    decision = should_retry(status_error(429, {"Retry-After": "7"}))
    assert decision.retry_after_s == 7.0
    decision = should_retry(status_error(503, {"retry-after-ms": "1500"}))
    assert decision.retry_after_s == 1.5
    assert should_retry(status_error(500)).retry_after_s is None


def test_retry_after_formats() -> None:
    now = 1_700_000_000.0
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after": "0.5"}) == 0.5
    assert retry_after_seconds(httpx2.Headers({"Retry-After": "4"})) == 4.0
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    in_ten = email.utils.formatdate(now + 10, usegmt=True)
    assert retry_after_seconds({"retry-after": in_ten}, now=now) == pytest.approx(10.0)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert retry_after_seconds({"retry-after": past}, now=now) == 0.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({"retry-after": "-2"}) is None
    assert retry_after_seconds({"retry-after-ms": "junk", "retry-after": "2"}) == 2.0
    assert retry_after_seconds({}) is None


def test_backoff_is_full_jitter_within_the_exponential_ceiling() -> None:
    policy = BackoffPolicy(base_s=0.1, cap_s=2.0, rng=random.Random(7))
    for retry in range(8):
        ceiling = min(2.0, 0.1 * 2**retry)
        delays = [policy.delay(retry) for _ in range(400)]
        assert all(0.0 <= d <= ceiling for d in delays)
        # Uniform on [0, ceiling]: the mean is near half the ceiling and the spread is wide.
        assert statistics.fmean(delays) == pytest.approx(ceiling / 2, rel=0.12)
        assert min(delays) < 0.1 * ceiling
        assert max(delays) > 0.9 * ceiling


def test_backoff_honours_retry_after_up_to_its_cap() -> None:
    policy = BackoffPolicy(base_s=5.0, max_retry_after_s=10.0)
    assert policy.delay(0, retry_after_s=2.5) == 2.5
    assert policy.delay(3, retry_after_s=0.0) == 0.0
    assert policy.delay(0, retry_after_s=3600.0) == 10.0


def test_zero_base_retries_immediately_and_defaults_are_module_level() -> None:
    assert all(BackoffPolicy(base_s=0.0).delay(r) == 0.0 for r in range(100))
    default = BackoffPolicy()
    assert (default.base_s, default.cap_s) == (DEFAULT_BASE_S, DEFAULT_CAP_S)
    assert default.delay(1000) <= DEFAULT_CAP_S
