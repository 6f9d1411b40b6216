"""The embedded model behind an OpenAI-compatible chat-completions API.

Callers reach the local model through the same OpenAI SDK path as any remote endpoint,
in-process (`httpx2.ASGITransport(app=create_app())`) or over HTTP (`promptops serve-model`).

A classification request is recognised by its `response_format`: a JSON schema for an object
with a single string property that carries an `enum`. Such a request is answered by scoring
every enum value as a complete reply, not by sampling: the content is `{"<property>": "<most
likely label>"}` and the choice carries the extension field `label_probs` (label -> probability,
summing to 1), which the OpenAI SDK exposes through `model_extra`. Any other request generates
text. Fields that would change the answer but are not supported (`stream`, `n` > 1, `tools`)
are refused with 400 rather than ignored; other unknown fields are ignored.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from typing import Any, Literal

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from promptops.embedded import EMBEDDED_MODEL
from promptops.errors import ContextOverflowError, PromptopsError, UserInputError
from promptops.extras import EMBEDDED_MODEL_STACK, require_local
from promptops.local import engine

_CREATED = 1_730_000_000  # a fixed timestamp for the model card: the weights never change


class _TextPart(BaseModel):
    type: Literal["text"]
    text: str


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[_TextPart]

    def as_dict(self) -> dict[str, str]:
        role = "system" if self.role == "developer" else self.role
        content = (
            self.content
            if isinstance(self.content, str)
            else "".join(part.text for part in self.content)
        )
        return {"role": role, "content": content}


class ChatBody(BaseModel):
    """The subset of the OpenAI chat-completions body the embedded model honours."""

    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[_Message] = Field(min_length=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    response_format: dict[str, Any] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=engine.MAX_TOP_LOGPROBS)
    n: Literal[1] | None = None
    stream: Literal[False] | None = None
    tools: None = None

    def stops(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


def label_request(response_format: dict[str, Any] | None) -> tuple[str, list[str]] | None:
    """(property name, labels) when `response_format` asks for one enum-valued string."""
    if not response_format or response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return None
    properties = schema.get("properties")
    if not isinstance(properties, dict) or len(properties) != 1:
        return None
    ((name, prop),) = properties.items()
    prop = _resolve_ref(schema, prop)
    enum = prop.get("enum") if isinstance(prop, dict) else None
    if prop is None or prop.get("type", "string") != "string" or not isinstance(enum, list):
        return None
    if not enum or not all(isinstance(value, str) for value in enum):
        return None
    return str(name), list(enum)


def _resolve_ref(schema: dict[str, Any], prop: Any) -> dict[str, Any] | None:
    """Follow one local `$ref` (pydantic puts Enum classes under `$defs`)."""
    if not isinstance(prop, dict):
        return None
    ref = prop.get("$ref")
    if not isinstance(ref, str):
        return prop
    section, _, key = ref.removeprefix("#/").partition("/")
    target = schema.get(section, {}).get(key) if section in ("$defs", "definitions") else None
    return target if isinstance(target, dict) else None


def _error(
    status: int, message: str, kind: str, param: str | None = None, code: str | None = None
) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


def _completion(
    content: str,
    finish_reason: str,
    usage: tuple[int, int],
    extra: dict[str, Any],
    logprobs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    prompt_tokens, completion_tokens = usage
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": content, "refusal": None},
        "logprobs": logprobs,
        "finish_reason": finish_reason,
        **extra,
    }
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": EMBEDDED_MODEL,
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _logprobs_json(tokens: tuple[engine.TokenLogprob, ...]) -> dict[str, Any]:
    def entry(token: str, logprob: float) -> dict[str, Any]:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}

    content = [
        {**entry(t.token, t.logprob), "top_logprobs": [entry(s, lp) for s, lp in t.top]}
        for t in tokens
    ]
    return {"content": content, "refusal": None}


async def _answer(body: ChatBody) -> dict[str, Any]:
    messages = [message.as_dict() for message in body.messages]
    labelled = label_request(body.response_format)
    if labelled is not None:
        name, labels = labelled
        scores = await anyio.to_thread.run_sync(engine.label_scores, messages, labels)
        best = scores.best
        usage = (scores.prompt_tokens, scores.label_tokens[best])
        content = json.dumps({name: best})
        return _completion(content, "stop", usage, {"label_probs": scores.probs})
    work = functools.partial(
        engine.generate,
        messages,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=1.0 if body.temperature is None else body.temperature,
        top_p=body.top_p,
        seed=body.seed,
        stop=body.stops(),
        top_logprobs=(body.top_logprobs or 0) if body.logprobs else None,
    )
    result = await anyio.to_thread.run_sync(work)
    logprobs = _logprobs_json(result.logprobs) if result.logprobs is not None else None
    usage = (result.prompt_tokens, result.completion_tokens)
    return _completion(result.text, result.finish_reason, usage, {}, logprobs)


async def chat_completions(request: Request) -> Response:
    try:
        raw = await request.json()
    except ValueError:
        return _error(400, "the request body is not valid JSON", "invalid_request_error")
    try:
        body = ChatBody.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(part) for part in first["loc"]) or None
        message = f"{param}: {first['msg']}" if param else str(first["msg"])
        return _error(400, message, "invalid_request_error", param=param)
    if body.model != EMBEDDED_MODEL:
        message = f"the model `{body.model}` does not exist; this server has `{EMBEDDED_MODEL}`"
        return _error(404, message, "invalid_request_error", "model", "model_not_found")
    try:
        return JSONResponse(await _answer(body))
    except ContextOverflowError as exc:
        return _error(
            400, exc.reason, "invalid_request_error", exc.where, "context_length_exceeded"
        )
    except UserInputError as exc:
        return _error(400, exc.reason, "invalid_request_error", exc.where)
    except PromptopsError as exc:
        return _error(500, str(exc), "server_error")


def _model_card() -> dict[str, Any]:
    return {"id": EMBEDDED_MODEL, "object": "model", "created": _CREATED, "owned_by": "promptops"}


async def list_models(request: Request) -> Response:
    return JSONResponse({"object": "list", "data": [_model_card()]})


async def retrieve_model(request: Request) -> Response:
    if request.path_params["model"] != EMBEDDED_MODEL:
        message = f"the model `{request.path_params['model']}` does not exist"
        return _error(404, message, "invalid_request_error", "model", "model_not_found")
    return JSONResponse(_model_card())


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer in the OpenAI error shape too."""
    status = int(getattr(exc, "status_code", 500))
    detail = getattr(exc, "detail", "internal error")
    return _error(status, f"{request.method} {request.url.path}: {detail}", "invalid_request_error")


def create_app() -> Starlette:
    """The ASGI app; the model loads on the first request that needs it. Without the local
    extra this fails at once, before any request is sent."""
    require_local("the embedded model", EMBEDDED_MODEL_STACK)
    routes = [
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", retrieve_model, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
