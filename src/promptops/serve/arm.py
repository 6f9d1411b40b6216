"""One served prompt (primary or candidate): loaded once, answering with the eval code path.

An answer is `build_request` -> `LLMClient.complete` -> `Calibrator.apply`, exactly what
`eval` does per case (`evals/sending.py`), so a label seen in production is the label the
eval measured for the same input. Each arm owns its client: a candidate whose upstream hangs
holds only its own connections and concurrency slots, never the primary's.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from promptops.llm.client import LLMClient
from promptops.llm.profile import EndpointOverrides, EndpointProfile, resolve_profile
from promptops.llm.prompted import Calibrator, calibrator_for
from promptops.llm.types import Completion
from promptops.prompts import Prompt, build_request, declared_variables, resolve_prompt
from promptops.prompts.model import Variable
from promptops.serve.config import ServeConfig

DEFAULT_DEADLINE_S = 30.0


@dataclass(frozen=True)
class Answer:
    """What one arm answered: a completion, or `timed_out` when the deadline passed first.
    A RAG arm adds `response` fields (citations, passages, grounding, overflow) to a 200 and
    `logged` fields (grounding and overflow figures, chunk ids) to the request's log line."""

    completion: Completion | None
    latency_s: float
    timed_out: bool = False
    response: dict[str, Any] = field(default_factory=dict)
    logged: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.completion is not None and self.completion.ok

    @property
    def error_kind(self) -> str | None:
        if self.timed_out:
            return "deadline"
        if self.completion is None or self.completion.ok:
            return None
        return self.completion.error_kind or "error"

    @property
    def error(self) -> str | None:
        if self.timed_out:
            return "the model did not answer within the deadline"
        return None if self.completion is None else self.completion.error


def served_profile(config: ServeConfig, name: str, defaults: EndpointOverrides) -> EndpointProfile:
    """The endpoint as `run`/`eval`/`rag-eval` resolve it (profile `name`, then `defaults`,
    then the command line), with the deadline as the per-attempt timeout and the bound on
    rate-limit waits: no attempt or wait may outlive the request."""
    profile = resolve_profile(
        config.profile or name,
        defaults,
        EndpointOverrides(
            base_url=config.base_url,
            model=config.model,
            max_retries=config.max_retries,
            concurrency=config.concurrency,
        ),
        path=config.profiles_path,
    )
    deadline = config.timeout or min(profile.timeout, DEFAULT_DEADLINE_S)
    return profile.model_copy(
        update={"timeout": deadline, "max_wait": min(profile.max_wait, deadline)}
    )


def arm_profile(config: ServeConfig, prompt: Prompt) -> EndpointProfile:
    return served_profile(
        config, prompt.model.profile or "embedded", EndpointOverrides(model=prompt.model.name)
    )


def _warm_up_inputs(prompt: Prompt) -> dict[str, Any]:
    """A harmless value of the right type for every declared variable."""
    typed: dict[str, Any] = {"integer": 0, "number": 0.0, "boolean": False}
    return {
        name: typed.get(spec.type, "warm-up") for name, spec in declared_variables(prompt).items()
    }


class Arm:
    """A prompt with its endpoint client and calibration; `start()` before `answer()`."""

    def __init__(self, config: ServeConfig, prompt_ref: str) -> None:
        self.prompt = resolve_prompt(prompt_ref)
        self.profile = arm_profile(config, self.prompt)
        self.deadline_s = self.profile.timeout
        self.client = LLMClient(self.profile)
        self.calibrator = Calibrator()

    @property
    def identity(self) -> str:
        return self.prompt.identity

    @property
    def inputs(self) -> dict[str, Variable]:
        """The variables a request body gives: all the prompt declares."""
        return declared_variables(self.prompt)

    async def start(self) -> None:
        """Measure the calibration prior and send one warm-up request, so the first real
        request meets a loaded model and warm connections. Raises when calibration the
        prompt asks for cannot be done: serving uncalibrated would not be what eval scored."""
        self.calibrator = await calibrator_for(self.client, self.prompt)
        wanted = self.prompt.calibration is not None and self.prompt.calibration.method != "none"
        if wanted and not self.calibrator.active:
            raise RuntimeError(f"{self.identity}: {self.calibrator.status}")
        answer = await self.answer(_warm_up_inputs(self.prompt))
        if not answer.ok:
            raise RuntimeError(f"{self.identity}: warm-up request failed: {answer.error}")

    async def answer(self, inputs: dict[str, Any]) -> Answer:
        """The calibrated answer within the deadline; on time-out the upstream call is
        cancelled (its connection closed), not left running."""
        started = time.perf_counter()
        request = build_request(self.prompt, inputs)
        try:
            async with asyncio.timeout(self.deadline_s):
                raw = await self.client.complete(request)
        except TimeoutError:
            return Answer(None, time.perf_counter() - started, timed_out=True)
        return Answer(self.calibrator.apply(raw), time.perf_counter() - started)

    async def aclose(self) -> None:
        await self.client.aclose()
