"""The Python API: what `promptops run`, `eval` and `rag-eval` do, callable from a script.

Thin on purpose: the commands call these functions (the prompt store, the client with its
cache and the prompt's calibration, the run lifecycle), so a notebook and CI get the same
answers, the same cache and the same run folder. Heavy parts load on first
use; `import promptops` stays light.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from promptops.errors import UserInputError

if TYPE_CHECKING:
    from promptops.lifecycle import EvalOptions, RagOptions
    from promptops.llm.client import LLMClient
    from promptops.llm.profile import EndpointProfile
    from promptops.llm.types import ChatRequest, Completion
    from promptops.prompts import Prompt
    from promptops.prompts.calibrator import Calibrator
    from promptops.runs.envelope import EvalEnvelope
    from promptops.runs.rag_summary import RagSummary

__all__ = ["Client", "SuiteRun", "load_prompt", "run_suite"]


def load_prompt(name_or_path: str | Path, *, prompts_dir: Path | None = None) -> Prompt:
    """A prompt by `NAME`, `NAME@VERSION` (from `prompts_dir`, default $PROMPTOPS_PROMPTS_DIR
    or ./prompts) or a YAML file path; bad files raise `PromptFileError` naming file and line."""
    from promptops.prompts import resolve_prompt

    return resolve_prompt(str(name_or_path), prompts_dir)


class Client:
    """One endpoint, answering prompts as `promptops run` does: rendered, cached, with the
    prompt's calibration applied. Without `base_url` it is the embedded model. The endpoint
    and model are the client's own (`promptops run` also reads a prompt's `model.name`).

    `await client.complete(...)` opens a connection per call; inside
    `async with Client(...) as client:` calls share one (and its adaptive concurrency).
    `complete_sync` is the same call for code that has no event loop.
    """

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        *,
        profile: str = "embedded",
        api_key: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        cache: bool = True,
        profiles_path: Path = Path("profiles.yaml"),
    ) -> None:
        from promptops.llm.profile import EndpointOverrides, resolve_profile

        overrides = EndpointOverrides(
            base_url=base_url, model=model, timeout=timeout, max_retries=max_retries
        )
        self.profile: EndpointProfile = resolve_profile(profile, overrides, path=profiles_path)
        self._api_key = api_key
        self._cache = cache
        self._open_client: LLMClient | None = None
        self._closing: AbstractAsyncContextManager[LLMClient] | None = None
        self._calibrators: dict[str, Calibrator] = {}

    async def complete(
        self, prompt: Prompt | str | Path, variables: Mapping[str, Any] | None = None
    ) -> Completion:
        """Render `prompt` with `variables`, send it and return the answer; a failed call is a
        `Completion` with `error` set, never an exception lost on the way."""
        from promptops.prompts import Prompt, build_request

        loaded = prompt if isinstance(prompt, Prompt) else load_prompt(prompt)
        request = build_request(loaded, dict(variables or {}))
        if self._open_client is not None:
            return await self._answer(self._open_client, loaded, request)
        async with self._connect() as client:
            return await self._answer(client, loaded, request)

    def complete_sync(
        self, prompt: Prompt | str | Path, variables: Mapping[str, Any] | None = None
    ) -> Completion:
        """`complete` for code without an event loop (inside one, await `complete`)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.complete(prompt, variables))
        raise UserInputError(
            "complete_sync cannot run inside an event loop; use `await client.complete(...)`",
            where="promptops.Client",
        )

    async def __aenter__(self) -> Client:
        closing = self._connect()
        self._open_client = await closing.__aenter__()
        self._closing = closing
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        closing, self._closing, self._open_client = self._closing, None, None
        if closing is not None:
            await closing.__aexit__(exc_type, exc, tb)

    def _connect(self) -> AbstractAsyncContextManager[LLMClient]:
        from promptops.runs.lifecycle import open_client

        return open_client(self.profile, cache=self._cache, api_key=self._api_key)

    async def _answer(self, client: LLMClient, prompt: Prompt, request: ChatRequest) -> Completion:
        from promptops.prompts.calibrator import calibrator_for

        calibrator = self._calibrators.get(prompt.content_hash)
        if calibrator is None:
            calibrator = await calibrator_for(client, prompt)
            self._calibrators[prompt.content_hash] = calibrator
        return calibrator.apply(await client.complete(request))


S = TypeVar("S", bound="EvalEnvelope | RagSummary")


@dataclass(frozen=True)
class SuiteRun(Generic[S]):
    """A finished suite run: the typed summary (a `ClassificationSummary`, a `RagSummary`,
    or another kind's, by the prompt's task) and the run folder its reports are in."""

    summary: S
    folder: Path

    @property
    def passed(self) -> bool:
        return self.summary.passed

    @property
    def exit_code(self) -> int:
        """What `promptops eval` exits with: 0 when the thresholds hold, else 1."""
        return 0 if self.passed else 1


@overload
def run_suite(suite: str | Path, *, options: EvalOptions) -> SuiteRun[EvalEnvelope]: ...
@overload
def run_suite(suite: str | Path, *, options: RagOptions) -> SuiteRun[RagSummary]: ...
@overload
def run_suite(
    suite: str | Path,
    *,
    prompt: str | Path | None = None,
    evalset: str | Path | None = None,
    base_url: str | None = None,
    model: str | None = None,
    out: str | Path | None = None,
) -> SuiteRun[EvalEnvelope | RagSummary]: ...
def run_suite(
    suite: str | Path,
    *,
    prompt: str | Path | None = None,
    evalset: str | Path | None = None,
    base_url: str | None = None,
    model: str | None = None,
    out: str | Path | None = None,
    options: EvalOptions | RagOptions | None = None,
) -> SuiteRun[Any]:
    """Run a suite as `promptops eval` (an evalset suite) or `promptops rag-eval` (a suite
    with a `corpus`) does: same checks, cache, resume, run folder and reports; `None` keeps
    the suite's own prompt, evalset and endpoint. `options` (what the commands pass) holds
    every other setting and wins over the keywords. Bad input raises a `PromptopsError`
    naming file and line; failed thresholds do not raise: read `.passed`."""
    from promptops import lifecycle

    if options is None:
        ref = None if prompt is None else str(prompt)
        folder = None if out is None else Path(out)
        if not lifecycle.is_rag_suite(str(suite)):
            given = None if evalset is None else Path(evalset)
            options = lifecycle.EvalOptions(
                prompt=ref, evalset=given, base_url=base_url, model=model, out=folder
            )
        elif evalset is not None:
            raise UserInputError("a RAG suite has questions, not an evalset", where="evalset")
        else:
            options = lifecycle.RagOptions(prompt=ref, base_url=base_url, model=model, out=folder)
    if not isinstance(options, lifecycle.EvalOptions):  # RAG: its stack loads only now
        answered = lifecycle.run_rag_eval(str(suite), options)
        return SuiteRun(answered.summary, answered.out_dir)
    outcome = lifecycle.run_eval(str(suite), options)
    return SuiteRun(outcome.summary, outcome.out_dir)
