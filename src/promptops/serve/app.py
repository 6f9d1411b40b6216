"""The FastAPI app: HTTP concerns only (limits, auth, status codes); `Service` does the work.

Auth and body limits are enforced in the ASGI layer before the route runs: a declared or streamed
body over `max_body_bytes` is answered 413 without being read further. The JSON is parsed
by pydantic-core (nesting depth bounded) straight into the prompt's own body model.
Neither FastAPI nor uvicorn has a request timeout; the deadline lives in `Arm.answer`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from promptops.errors import ContextOverflowError, RenderError
from promptops.serve.config import CONFIG_ENV, ServeConfig
from promptops.serve.schema import body_model, error_details
from promptops.serve.service import Service

OPEN_PATHS = frozenset({"/healthz", "/readyz"})


class _TooLarge(Exception):
    pass


class Guard:
    """The ASGI layer in front of every route: 401 without the bearer token (when one is
    configured; compared in constant time; /healthz and /readyz stay open) and 413 for a
    body over `limit` bytes, by Content-Length or as it streams in. Plain ASGI rather than
    FastAPI's `@app.middleware`, which costs a task and a stream per request."""

    def __init__(self, app: ASGIApp, limit: int, token: str | None) -> None:
        self.app, self.limit = app, limit
        self.token = token.encode() if token is not None else None

    def _authorised(self, scope: Scope) -> bool:
        if self.token is None or scope["path"] in OPEN_PATHS:
            return True
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, given = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(
                    given.strip(), self.token
                )
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._authorised(scope):
            await _error(401, "unauthorized", "send Authorization: Bearer <token>")(
                scope, receive, send
            )
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _too_large(self.limit)(scope, receive, send)
                return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracking)
        except _TooLarge:
            if not started:
                await _too_large(self.limit)(scope, receive, send)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"error": {"kind": "body_too_large", "message": f"request body over {limit} bytes"}},
        status_code=413,
    )


def _error(status: int, kind: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"kind": kind, "message": message, **extra}}, status_code=status)


def create_app(config: ServeConfig) -> ASGIApp:
    """The app for `config`: FastAPI routes behind the auth and body-limit layer."""
    token = config.token()
    holder: dict[str, Service] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = Service(config)
        holder["service"] = service
        warm = asyncio.create_task(service.warm_up())
        try:
            yield
        finally:
            warm.cancel()
            await asyncio.gather(warm, return_exceptions=True)
            await service.aclose()

    app = FastAPI(title="promptops serve", lifespan=lifespan, docs_url=None, redoc_url=None)

    def service() -> Service:
        return holder["service"]

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "live"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        s = service()
        if not s.ready:
            return JSONResponse({"ready": False, "reason": s.not_ready_reason}, status_code=503)
        return JSONResponse(
            {
                "ready": True,
                "prompt": s.primary.identity,
                "suite": s.rag_suite,
                "calibration": s.primary.calibrator.status,
                "candidate": s.candidate.identity if s.candidate else None,
                "candidate_off": s.kill.off,
            }
        )

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(service().metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.post("/admin/candidate/off")
    async def candidate_off() -> dict[str, Any]:
        service().kill.turn_off()
        return {"candidate_off": True}

    @app.post("/admin/candidate/on")
    async def candidate_on() -> dict[str, Any]:
        service().kill.turn_on()
        return {"candidate_off": service().kill.off}

    predict_model = None

    @app.post("/v1/predict")
    async def predict(request: Request) -> JSONResponse:
        nonlocal predict_model
        s = service()
        if predict_model is None:
            predict_model = body_model(s.primary.prompt, s.primary.inputs)
        raw = await request.body()
        try:
            body = predict_model.model_validate_json(raw)
        except ValidationError as exc:
            details = error_details(exc, s.primary.prompt, s.primary.inputs)
            s.rejected(s.primary, 422, "invalid_input", None, [d["field"] for d in details])
            first = details[0]
            return _error(
                422, "invalid_input", f"{first['field']}: {first['message']}", details=details
            )
        if not s.ready:
            return _error(503, "not_ready", s.not_ready_reason)
        inputs = getattr(body, "inputs").model_dump(exclude_none=True)  # noqa: B009
        try:
            reply = await s.predict(inputs, getattr(body, "request_id"))  # noqa: B009
        except RenderError as exc:
            return _error(422, "invalid_input", str(exc))
        except ContextOverflowError as exc:  # a RAG suite whose context policy is `fail`
            rid = getattr(body, "request_id")  # noqa: B009
            s.rejected(s.primary, 422, "context_overflow", rid, ["inputs.question"])
            return _error(422, "context_overflow", str(exc), field="inputs.question")
        return JSONResponse(reply.body, status_code=reply.status)

    return Guard(app, config.max_body_bytes, token)


def app_from_env() -> ASGIApp:
    """The app factory uvicorn calls in each worker process (`--workers N`)."""
    return create_app(ServeConfig.model_validate(json.loads(os.environ[CONFIG_ENV])))
