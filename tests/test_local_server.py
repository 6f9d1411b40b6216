"""The OpenAI-compatible app, driven in-process by the real OpenAI SDK."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx2
import openai
import pytest
import typer
from openai import AsyncOpenAI
from typer.testing import CliRunner

from promptops.cli import serve_cmd
from promptops.embedded import EMBEDDED_MODEL
from promptops.errors import ConfigError
from promptops.local import create_app, engine, label_request
from promptops.serve.config import is_loopback

T = TypeVar("T")

LABELS = ["card_arrival", "change_pin", "exchange_rate", "terminate_account"]
MESSAGES: list[Any] = [
    {"role": "system", "content": "Classify the message. Labels: " + ", ".join(LABELS)},
    {"role": "user", "content": "Please close my account, I am leaving the bank."},
]


def label_format(labels: list[str]) -> Any:
    """The response_format a client sends to ask for one label out of `labels`."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "classification",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {"label": {"type": "string", "enum": labels}},
                "required": ["label"],
                "additionalProperties": False,
            },
        },
    }


def with_client(use: Callable[[AsyncOpenAI], Awaitable[T]]) -> T:
    async def go() -> T:
        transport = httpx2.ASGITransport(app=create_app())
        async with httpx2.AsyncClient(transport=transport) as http:
            client = AsyncOpenAI(
                base_url="http://embedded.local/v1", api_key="x", max_retries=0, http_client=http
            )
            return await use(client)

    return asyncio.run(go())


def raw_post(path: str, content: bytes) -> httpx2.Response:
    async def go() -> httpx2.Response:
        transport = httpx2.ASGITransport(app=create_app())
        async with httpx2.AsyncClient(transport=transport, base_url="http://x") as http:
            return await http.post(path, content=content)

    return asyncio.run(go())


# --- no model needed ---


def test_models_list() -> None:
    async def use(client: AsyncOpenAI) -> tuple[list[str], str]:
        page = await client.models.list()
        card = await client.models.retrieve(EMBEDDED_MODEL)
        return [m.id for m in page.data], card.id

    assert with_client(use) == ([EMBEDDED_MODEL], EMBEDDED_MODEL)


def test_label_request_detection() -> None:
    assert label_request(label_format(["a", "b"])) == ("label", ["a", "b"])
    pydantic_style = {  # an Enum class puts the values under $defs
        "type": "json_schema",
        "json_schema": {
            "name": "x",
            "schema": {
                "$defs": {"Intent": {"enum": ["a", "b"], "type": "string"}},
                "type": "object",
                "properties": {"intent": {"$ref": "#/$defs/Intent"}},
            },
        },
    }
    assert label_request(pydantic_style) == ("intent", ["a", "b"])
    two_fields = label_format(["a"])
    two_fields["json_schema"]["schema"]["properties"]["why"] = {"type": "string"}
    numbers = label_format(["a"])
    numbers["json_schema"]["schema"]["properties"]["label"] = {"type": "integer", "enum": [1, 2]}
    for other in (None, {"type": "json_object"}, {"type": "text"}, two_fields, numbers):
        assert label_request(other) is None


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"temperature": 5}, "temperature"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages.0.role"),
        ({"stream": True}, "stream"),
        ({"n": 2}, "n"),
    ],
)
def test_bad_bodies_are_openai_style_400(changes: dict[str, Any], param: str) -> None:
    async def use(client: AsyncOpenAI) -> None:
        body: dict[str, Any] = {"model": EMBEDDED_MODEL, "messages": MESSAGES, **changes}
        await client.chat.completions.create(**body)

    with pytest.raises(openai.BadRequestError) as caught:
        with_client(use)
    assert caught.value.status_code == 400
    assert caught.value.param == param
    assert caught.value.type == "invalid_request_error"


def test_unknown_model_is_404() -> None:
    async def use(client: AsyncOpenAI) -> None:
        await client.chat.completions.create(model="gpt-9", messages=MESSAGES)

    with pytest.raises(openai.NotFoundError) as caught:
        with_client(use)
    assert caught.value.code == "model_not_found"


def test_invalid_json_and_unknown_path() -> None:
    bad = raw_post("/v1/chat/completions", b"{not json")
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "invalid_request_error"
    missing = raw_post("/v1/embeddings", b"{}")
    assert missing.status_code == 404
    assert "error" in missing.json()


def test_serve_model_refuses_remote_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("example.com")
    app = typer.Typer()
    serve_cmd.register(app)
    app.command("noop")(lambda: None)  # keeps serve-model a named subcommand
    result = CliRunner().invoke(app, ["serve-model", "--host", "0.0.0.0", "--port", "9"])
    assert isinstance(result.exception, ConfigError)
    assert result.exception.where == "--host"


# --- with the model ---


@pytest.mark.slow
def test_label_request_returns_label_probs() -> None:
    async def use(client: AsyncOpenAI) -> Any:
        return await client.chat.completions.create(
            model=EMBEDDED_MODEL,
            messages=MESSAGES,
            temperature=0,
            response_format=label_format(LABELS),
        )

    response = with_client(use)
    choice = response.choices[0]
    probs = (choice.model_extra or {})["label_probs"]
    assert set(probs) == set(LABELS)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-9)
    answer = json.loads(choice.message.content or "")
    assert answer == {"label": max(probs, key=probs.__getitem__)}
    assert probs == pytest.approx(engine.score_labels(MESSAGES, LABELS))
    assert choice.finish_reason == "stop"
    usage = response.usage
    assert usage is not None
    assert usage.prompt_tokens > 20
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert response.model == EMBEDDED_MODEL


@pytest.mark.slow
def test_text_generation_with_usage_and_logprobs() -> None:
    question = [{"role": "user", "content": "What is the capital of France?"}]

    async def use(client: AsyncOpenAI) -> Any:
        return await client.chat.completions.create(
            model=EMBEDDED_MODEL,
            messages=question,  # type: ignore[arg-type]
            temperature=0,
            max_tokens=3,
            logprobs=True,
            top_logprobs=2,
        )

    response = with_client(use)
    choice = response.choices[0]
    direct = engine.generate(question, max_tokens=3, temperature=0)
    assert choice.message.content == direct.text
    assert choice.finish_reason == "length"
    assert response.usage is not None
    assert response.usage.completion_tokens == 3
    assert response.usage.prompt_tokens == direct.prompt_tokens
    assert choice.logprobs is not None and choice.logprobs.content is not None
    assert "".join(t.token for t in choice.logprobs.content) == direct.text
    assert all(len(t.top_logprobs) == 2 for t in choice.logprobs.content)


@pytest.mark.slow
def test_context_overflow_is_a_400() -> None:
    huge = [{"role": "user", "content": "word " * 9000}]

    async def use(client: AsyncOpenAI) -> None:
        await client.chat.completions.create(
            model=EMBEDDED_MODEL,
            messages=huge,  # type: ignore[arg-type]
            max_tokens=1,
        )

    with pytest.raises(openai.BadRequestError) as caught:
        with_client(use)
    assert caught.value.code == "context_length_exceeded"
