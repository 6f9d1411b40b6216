"""The serving logic behind the HTTP layer: which arm answers, the deadline, the fallback,
the candidate in the background, metrics and the request log.

Nothing here keeps per-request state between requests: everything mutable is either loaded
once at start-up (arms, calibration, baseline, redactor) or an operator's switch (kill).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from promptops.pii import Redactor, load_redactor
from promptops.serve.arm import Answer, Arm
from promptops.serve.config import ServeConfig
from promptops.serve.metrics import ServeMetrics
from promptops.serve.rag_arm import RagArm, rag_suite_of
from promptops.serve.release import (
    Fallback,
    KillSwitch,
    fit_fallback,
    routed_to_canary,
    same_inputs,
    suite_for,
)
from promptops.serve.requestlog import RequestLog, input_hash, worker_path
from promptops.tokens import count_tokens

log = logging.getLogger("promptops.serve")


ServedArm = Arm | RagArm


def make_arm(config: ServeConfig, prompt_ref: str, rag_suite: str | None) -> ServedArm:
    """A RAG suite's pipeline when one is served, else the prompt alone."""
    return Arm(config, prompt_ref) if rag_suite is None else RagArm(config, prompt_ref, rag_suite)


def refused_entities(arm: ServedArm) -> tuple[str, ...]:
    f = arm.prompt.input_filter
    return tuple(f.refuse_pii) if f is not None else ()


WARMUP_RETRY_S = 2.0


@dataclass
class Reply:
    """An HTTP status and JSON body for one prediction request."""

    status: int
    body: dict[str, Any]


class Service:
    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.rag_suite = rag_suite_of(config)
        self.primary = make_arm(config, config.prompt, self.rag_suite)
        self.candidate = (
            make_arm(config, config.candidate, self.rag_suite) if config.candidate else None
        )
        if self.candidate is not None:
            same_inputs(self.primary.prompt, self.candidate.prompt)
        self.candidate_role = "shadow" if config.shadow else "canary"
        self.metrics = ServeMetrics()
        self.kill = KillSwitch(config.kill_file)
        self.log = (
            RequestLog(
                worker_path(config.log, config.workers), config.log_max_bytes, config.log_backups
            )
            if config.log is not None
            else None
        )
        self.redactor: Redactor | None = None
        self.fallback: Fallback | None = None
        self.ready = False
        self.not_ready_reason = "warming up"
        self._background: set[asyncio.Task[None]] = set()

    @property
    def needs_redactor(self) -> bool:
        arms = [self.primary, *([self.candidate] if self.candidate else [])]
        return self.config.log_inputs or any(refused_entities(arm) for arm in arms)

    async def refused(self, arm: ServedArm, inputs: dict[str, Any]) -> list[dict[str, str]]:
        """Fields the arm's input filter refuses, with the PII kinds found in each."""
        entities = refused_entities(arm)
        if not entities:
            return []
        redactor = self.redactor
        if redactor is None:  # not ready: predict is refused before it gets here
            raise RuntimeError("input filter declared but the PII analyzer is not loaded")
        found = await asyncio.to_thread(
            lambda: {k: redactor.find(str(v), entities) for k, v in inputs.items()}
        )
        return [
            {
                "field": f"inputs.{name}",
                "message": f"refused by the input filter of {arm.identity}: contains "
                + ", ".join(kinds),
                "type": "input_filter",
            }
            for name, kinds in found.items()
            if kinds
        ]

    # -- lifecycle -----------------------------------------------------------------------

    async def warm_up(self) -> None:
        """Load what requests need and send warm-up calls, retrying until it works; only
        then does /readyz say ready."""
        while True:
            try:
                if self.needs_redactor and self.redactor is None:
                    self.redactor = await asyncio.to_thread(load_redactor)
                if self.config.fallback == "baseline" and self.fallback is None:
                    prompt = self.primary.prompt
                    suite = suite_for(prompt, self.config.suite)
                    self.fallback = await asyncio.to_thread(
                        fit_fallback, prompt, suite, self.config.fallback_baseline
                    )
                await self.primary.start()
                if self.candidate is not None:
                    await self.candidate.start()
            except Exception as exc:  # reported on /readyz, then tried again
                self.not_ready_reason = f"warm-up failed: {exc}"
                log.warning("%s; retrying in %.0f s", self.not_ready_reason, WARMUP_RETRY_S)
                await asyncio.sleep(WARMUP_RETRY_S)
                continue
            self.ready = True
            self.not_ready_reason = ""
            return

    async def aclose(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.primary.aclose()
        if self.candidate is not None:
            await self.candidate.aclose()
        if self.log is not None:
            self.log.close()

    # -- requests ------------------------------------------------------------------------

    async def predict(self, inputs: dict[str, Any], request_id: str | None) -> Reply:
        started = time.perf_counter()
        rid = request_id or uuid.uuid4().hex
        candidate_on = self.candidate is not None and not self.kill.off
        arm, role = self.primary, "primary"
        if (
            candidate_on
            and self.candidate is not None
            and self.config.canary is not None
            and routed_to_canary(rid, self.config.canary_share, self.config.seed)
        ):
            arm, role = self.candidate, "canary"
        refused = await self.refused(arm, inputs)
        if refused:
            self.rejected(arm, 422, "input_filter", rid, [r["field"] for r in refused])
            message = f"{refused[0]['field']}: {refused[0]['message']}"
            body = {"kind": "input_filter", "message": message, "details": refused}
            return Reply(422, {"error": body, "request_id": rid, "prompt": arm.identity})
        answer = await arm.answer(inputs)
        reply = self._reply(arm, role, answer, inputs, rid, started)
        if candidate_on and self.config.shadow is not None:
            self._start_shadow(inputs, rid)
        await self._record(arm, role, answer, inputs, rid, reply)
        return reply

    def rejected(
        self, arm: ServedArm, status: int, kind: str, rid: str | None, fields: list[str]
    ) -> None:
        """Count and log a request refused before anything was sent (its input is not logged,
        only which fields were wrong)."""
        self.metrics.requests.labels(arm.identity, str(status)).inc()
        if self.log is not None:
            self.log.write(
                {
                    "request_id": rid,
                    "arm": "primary" if arm is self.primary else self.candidate_role,
                    "prompt": arm.identity,
                    "prompt_hash": arm.prompt.content_hash,
                    "status": status,
                    "error_kind": kind,
                    "fields": fields,
                }
            )

    def _reply(
        self,
        arm: ServedArm,
        role: str,
        answer: Answer,
        inputs: dict[str, Any],
        rid: str,
        started: float,
    ) -> Reply:
        base: dict[str, Any] = {
            "prompt": arm.identity,
            "prompt_hash": arm.prompt.content_hash,
            "request_id": rid,
            "arm": role,
        }
        completion = answer.completion
        if answer.ok and completion is not None:
            label = completion.label
            confidence = (
                completion.label_probs.get(label)
                if completion.label_probs is not None and label is not None
                else None
            )
            body = {
                "output": label if label is not None else completion.text,
                "label": label,
                "confidence": confidence,
                "model": completion.model or arm.profile.model,
                "fallback": False,
                **answer.response,
                **base,
            }
            status = 200
        elif self.fallback is not None:
            label, confidence = self.fallback.answer(inputs)
            body = {
                "output": label,
                "label": label,
                "confidence": confidence,
                "model": f"baseline:{self.fallback.name}",
                "fallback": True,
                "fallback_reason": answer.error_kind,
                **base,
            }
            status = 200
        else:
            status = 504 if answer.timed_out else 502
            body = {
                "error": {"kind": answer.error_kind, "message": answer.error},
                "model": arm.profile.model,
                **base,
            }
        body["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return Reply(status, body)

    async def _record(
        self,
        arm: ServedArm,
        role: str,
        answer: Answer,
        inputs: dict[str, Any],
        rid: str,
        reply: Reply,
    ) -> None:
        body = reply.body
        identity = arm.identity
        m = self.metrics
        m.requests.labels(identity, str(reply.status)).inc()
        m.duration.labels(identity).observe(body["latency_ms"] / 1000)
        if answer.error_kind is not None:
            m.upstream_errors.labels(answer.error_kind).inc()
        if body.get("fallback"):
            m.fallbacks.labels(identity).inc()
        if reply.status == 200:
            m.predictions.labels(identity, str(body.get("label"))).inc()
        self._count_usage(arm, answer)
        if role == "canary":
            m.candidate.labels("canary", str(reply.status)).inc()
        if self.log is not None:
            record = await self._log_record(arm, role, answer, inputs, rid)
            record.update(
                **answer.logged,
                status=reply.status,
                output=body.get("output"),
                label=body.get("label"),
                confidence=body.get("confidence"),
                fallback=bool(body.get("fallback")),
                latency_ms=body["latency_ms"],
            )
            self.log.write(record)

    def _count_usage(self, arm: ServedArm, answer: Answer) -> None:
        if answer.completion is None:
            return
        usage = answer.completion.usage
        self.metrics.tokens.labels(arm.identity, "prompt").inc(usage.prompt_tokens)
        self.metrics.tokens.labels(arm.identity, "completion").inc(usage.completion_tokens)
        self.metrics.cost.labels(arm.identity).inc(answer.completion.cost_usd)

    async def _log_record(
        self, arm: ServedArm, role: str, answer: Answer, inputs: dict[str, Any], rid: str
    ) -> dict[str, Any]:
        text = "\n".join(str(v) for v in inputs.values())
        completion = answer.completion
        record: dict[str, Any] = {
            "request_id": rid,
            "arm": role,
            "prompt": arm.identity,
            "prompt_hash": arm.prompt.content_hash,
            "model": (completion.model if completion else None) or arm.profile.model,
            "input_chars": len(text),
            "input_tokens": count_tokens(text),
            "input_hash": input_hash(inputs),
            "error_kind": answer.error_kind,
            "upstream_latency_ms": round(answer.latency_s * 1000, 3),
            "attempts": completion.attempts if completion else None,
        }
        if self.redactor is not None:
            redactor = self.redactor
            record["input"] = await asyncio.to_thread(
                lambda: {k: redactor.redact(str(v)) for k, v in inputs.items()}
            )
        return record

    def _start_shadow(self, inputs: dict[str, Any], rid: str) -> None:
        """Run the candidate on the same inputs after the primary has answered, detached
        from the request: its latency, errors or hangs never reach the caller."""
        if len(self._background) >= self.config.max_shadow_in_flight:
            self.metrics.candidate.labels("shadow", "skipped").inc()
            return
        task = asyncio.create_task(self._shadow(inputs, rid))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _shadow(self, inputs: dict[str, Any], rid: str) -> None:
        assert self.candidate is not None
        if self.kill.off:
            return
        if await self.refused(self.candidate, inputs):
            self.metrics.candidate.labels("shadow", "refused").inc()
            return
        started = time.perf_counter()
        answer = await self.candidate.answer(inputs)
        completion = answer.completion
        status = 200 if answer.ok else (504 if answer.timed_out else 502)
        self.metrics.candidate.labels("shadow", str(status)).inc()
        self._count_usage(self.candidate, answer)
        if self.log is None:
            return
        with contextlib.suppress(Exception):  # a shadow's log line must never crash a task
            record = await self._log_record(self.candidate, "shadow", answer, inputs, rid)
            label = completion.label if completion is not None and answer.ok else None
            probs = completion.label_probs if completion is not None else None
            record.update(
                status=status,
                output=label if label is not None else (completion.text if completion else None),
                label=label,
                confidence=probs.get(label) if probs and label else None,
                fallback=False,
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
            )
            self.log.write(record)
