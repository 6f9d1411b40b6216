"""Answer parsing: exact labels only, probabilities from the extension field or logprobs."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import httpx2
import pytest

from _llm_util import ZERO_BACKOFF, profile_for
from promptops.llm.client import LLMClient
from promptops.llm.parse import match_label, parse_choice, probs_from_logprobs
from promptops.llm.profile import EndpointProfile
from promptops.llm.retry import MalformedResponseError
from promptops.llm.types import ChatRequest
from promptops.testing import FakeOpenAIServer

LABELS = ("positive", "negative", "neutral")


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("positive", "positive"),
        ("  Positive.  \n", "positive"),
        ('"negative"', "negative"),
        ("`neutral`", "neutral"),
        ("'NEUTRAL'.", "neutral"),
        ('"positive."', "positive"),
        ('{"label": "negative"}', "negative"),
        ('{"label": " Negative. "}', "negative"),
        ('```json\n{"label": "neutral"}\n```', "neutral"),
        ("```\npositive\n```", "positive"),
        ("positively", None),
        ("positive negative", None),
        ("The answer is positive", None),
        ("positive!", None),
        ("pos", None),
        ('{"label": "mixed"}', None),
        ('{"answer": "positive"}', None),
        ('{"label": 1}', None),
        ('{"label": "positive"', None),
        ("", None),
        ("..", None),
    ],
)
def test_match_label_is_exact_after_trimming(text: str, label: str | None) -> None:
    assert match_label(text, LABELS) == label


def test_labels_with_punctuation_or_case_twins() -> None:
    assert match_label("U.S.", ("U.S.", "U.K.")) == "U.S."
    assert match_label("u.k.", ("U.S.", "U.K.")) == "U.K."
    assert match_label("A", ("A", "a")) == "A"
    assert match_label("a", ("A", "a")) == "a"
    # Equal up to case and neither exact: ambiguous, so not matched.
    assert match_label("Ab", ("AB", "ab")) is None


def _choice(content: str | None, **extra: Any) -> dict[str, Any]:
    """One entry of a chat completion's `choices`, as JSON on the wire."""
    return {
        "index": 0,
        "message": {"role": "assistant", "content": content},
        "finish_reason": "stop",
        **extra,
    }


def _logprobs(tokens: list[tuple[str, float, list[tuple[str, float]]]]) -> dict[str, Any]:
    return {
        "content": [
            {
                "token": token,
                "logprob": logprob,
                "bytes": None,
                "top_logprobs": [{"token": t, "logprob": lp, "bytes": None} for t, lp in top],
            }
            for token, logprob, top in tokens
        ]
    }


def test_extension_label_probs_are_used_as_given() -> None:
    choice = _choice("positive", label_probs={"positive": 0.7, "negative": 0.2, "neutral": 0.1})
    parsed = parse_choice(choice, LABELS)
    assert (parsed.label, parsed.invalid) == ("positive", False)
    assert parsed.label_probs == {"positive": 0.7, "negative": 0.2, "neutral": 0.1}
    partial = parse_choice(_choice("meh", label_probs={"negative": 1.0}), LABELS)
    assert partial.label_probs == {"positive": 0.0, "negative": 1.0, "neutral": 0.0}
    assert (partial.label, partial.invalid, partial.text) == (None, True, "meh")
    broken = parse_choice(_choice("neutral", label_probs={"neutral": "high"}), LABELS)
    assert broken.label_probs is None and broken.label == "neutral"


def test_free_text_calls_only_carry_text() -> None:
    parsed = parse_choice(_choice("positive", label_probs={"positive": 1.0}), None)
    assert (parsed.text, parsed.label, parsed.label_probs, parsed.invalid) == (
        "positive",
        None,
        None,
        False,
    )


def test_logprobs_at_the_json_label_position() -> None:
    top = [("pos", -0.2), ("neg", -1.8), ("neutral", -3.0), ("mixed", -4.0), ("{", -6.0)]
    lp = _logprobs(
        [
            ('{"', -0.01, []),
            ("label", -0.01, []),
            ('":"', -0.01, []),
            ("pos", -0.2, top),
            ("itive", -0.01, []),
            ('"}', -0.01, []),
        ]
    )
    choice = _choice('{"label":"positive"}', logprobs=lp)
    parsed = parse_choice(choice, LABELS)
    mass = {"positive": math.exp(-0.2), "negative": math.exp(-1.8), "neutral": math.exp(-3.0)}
    total = sum(mass.values())
    assert parsed.label == "positive"
    assert parsed.label_probs == pytest.approx({k: v / total for k, v in mass.items()})


def test_logprobs_in_plain_text_with_a_token_spanning_the_prefix() -> None:
    # " Neg" covers the leading space; "positive." contains a whole label and a period;
    # "ne" begins both "negative" and "neutral" and is split between them.
    top = [(" Neg", -0.5), (" positive.", -1.0), (" ne", -2.0), (" The", -2.5), ("neg", -1.0)]
    lp = _logprobs([(" Neg", -0.5, top), ("ative", -0.01, [])])
    probs = probs_from_logprobs(lp, LABELS)
    # "neg" does not share the token's leading-space prefix, so it is not comparable: skipped.
    mass = {
        "negative": math.exp(-0.5) + math.exp(-2.0) / 2,
        "positive": math.exp(-1.0),
        "neutral": math.exp(-2.0) / 2,
    }
    total = sum(mass.values())
    assert probs == pytest.approx({k: mass[k] / total for k in LABELS})


def test_logprobs_without_any_label_token_give_none() -> None:
    lp = _logprobs([("Sorry", -0.1, [("Sorry", -0.1), ("I", -2.0)])])
    assert probs_from_logprobs(lp, LABELS) is None
    assert probs_from_logprobs({"content": []}, LABELS) is None
    # No top_logprobs at all: the sampled token alone decides.
    alone = _logprobs([("negative", -0.3, [])])
    probs = probs_from_logprobs(alone, LABELS)
    assert probs == {"positive": 0.0, "negative": 1.0, "neutral": 0.0}


def test_malformed_logprobs_give_no_probabilities() -> None:
    good = _logprobs([("negative", -0.3, [("negative", -0.3), ("positive", -1.5)])])
    assert probs_from_logprobs(good, LABELS) is not None
    bad_entries: list[Any] = [
        {"content": "negative"},
        {"content": [{"token": "negative"}]},
        {"content": [{"token": 3, "logprob": -0.3}]},
        {"content": [{"token": "negative", "logprob": True}]},
        {"content": [{"token": "negative", "logprob": float("nan")}]},
        {"content": [{"token": "negative", "logprob": -0.3, "top_logprobs": "x"}]},
        {"content": [{"token": "negative", "logprob": -0.3, "top_logprobs": [{"token": "x"}]}]},
    ]
    for bad in bad_entries:
        assert probs_from_logprobs(bad, LABELS) is None, bad
    parsed = parse_choice(_choice("negative", logprobs={"content": [None]}), LABELS)
    assert (parsed.label, parsed.label_probs) == ("negative", None)


@pytest.mark.parametrize(
    "choice",
    [None, "negative", {}, {"message": "negative"}, _choice(None) | {"message": {"content": 1}}],
)
def test_a_choice_without_a_text_message_is_malformed(choice: Any) -> None:
    with pytest.raises(MalformedResponseError):
        parse_choice(choice, LABELS)


def test_extension_wins_over_logprobs_end_to_end_through_the_sdk() -> None:
    def extra(body: dict[str, Any], text: str) -> dict[str, Any]:
        label = json.loads(text)["label"]
        fields: dict[str, Any] = {
            "logprobs": _logprobs(
                [('{"label": "', -0.01, []), (label, -0.1, [(label, -0.1), ("neutral", -2.3)])]
            )
        }
        if "ext" in body["messages"][-1]["content"]:
            fields["label_probs"] = {"positive": 0.25, "negative": 0.5, "neutral": 0.25}
        return fields

    with FakeOpenAIServer(choice_extra=extra) as srv:
        profile = profile_for(srv, logprobs=True)

        async def scenario() -> list[Any]:
            async with LLMClient(profile) as client:
                return [
                    await client.complete(ChatRequest((("user", text),), labels=LABELS))
                    for text in ("this is negative", "ext: negative")
                ]

        from_logprobs, from_extension = asyncio.run(scenario())
    total = math.exp(-0.1) + math.exp(-2.3)
    assert from_logprobs.label == "negative"
    assert from_logprobs.label_probs == pytest.approx(
        {"positive": 0.0, "negative": math.exp(-0.1) / total, "neutral": math.exp(-2.3) / total}
    )
    assert from_extension.label_probs == {"positive": 0.25, "negative": 0.5, "neutral": 0.25}
    assert all(r["logprobs"] is True and r["top_logprobs"] == 20 for r in srv.requests)


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2]",
        b'{"choices": []}',
        b'{"choices": [{"index": 0}]}',
        b'{"choices": [{"message": {"content": ["positive"]}}]}',
        b'{"choices": [{"message": {"content": "positive"}}',
    ],
)
def test_a_200_that_is_not_a_chat_completion_is_retried_as_malformed(body: bytes) -> None:
    served: list[bytes] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        served.append(request.content)
        return httpx2.Response(200, content=body, headers={"content-type": "application/json"})

    profile = EndpointProfile(name="mock", base_url="http://127.0.0.1:9/v1", max_retries=2)

    async def scenario() -> Any:
        http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
        async with LLMClient(profile, http_client=http, backoff=ZERO_BACKOFF) as client:
            result = await client.complete(ChatRequest((("user", "hi"),), labels=LABELS))
        await http.aclose()
        return result

    completion = asyncio.run(scenario())
    assert (completion.error_kind, completion.attempts, len(served)) == ("malformed", 3, 3)
    assert "malformed (gave up) after 3 attempts" in (completion.error or "")


def test_odd_optional_fields_are_read_defensively() -> None:
    reply = {
        "model": 7,
        "choices": [{"message": {"content": "Neutral."}, "finish_reason": None}],
        "usage": {"prompt_tokens": 12, "completion_tokens": float("nan")},
    }

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=json.dumps(reply).encode())

    profile = EndpointProfile(name="mock", base_url="http://127.0.0.1:9/v1")

    async def scenario() -> Any:
        http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
        async with LLMClient(profile, http_client=http) as client:
            result = await client.complete(ChatRequest((("user", "hi"),), labels=LABELS))
        await http.aclose()
        return result

    completion = asyncio.run(scenario())
    assert (completion.label, completion.error, completion.model) == ("neutral", None, None)
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (12, 0)
    assert (completion.finish_reason, completion.attempts) == (None, 1)
