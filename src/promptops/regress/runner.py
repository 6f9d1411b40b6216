"""Run a prompt on cases from inside a test: what the `prompt_runner` fixture hands out.

A prompt regression test should read like any other test: run the prompt, assert on the
label or on a metric. `PromptRunner` resolves the prompt and its endpoint profile the way
`promptops run` does, sends the requests through the real `LLMClient` (no response cache,
so every answer comes from the transport), and routes the HTTP calls through a
`RecordReplayTransport`: replayed from the recordings file in CI, recorded from the real
endpoint once. A request with no recording is a `RecordingMissingError` that names the
prompt, the case and the command that records it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from promptops.errors import EvalsetError, PromptopsError, UserInputError
from promptops.evals import metrics as m
from promptops.evals.evalset import Case, load_evalset
from promptops.llm.profile import EndpointOverrides, EndpointProfile, resolve_profile
from promptops.llm.types import ChatRequest, Completion
from promptops.prompts import Prompt, PromptStore, build_request, load_prompt
from promptops.prompts.calibrator import calibrator_for
from promptops.regress.recording import Mode, Recordings, RecordReplayTransport
from promptops.runs.lifecycle import open_client

REPLAY_API_KEY = "promptops-replay"  # a placeholder: replayed calls reach no endpoint
LISTED_CASES = 8


class RecordingMissingError(PromptopsError):
    """Replay found no recorded response for a request: the test cannot be answered."""


@dataclass(frozen=True)
class PromptResult:
    """One answer: `label` is None when the output was not a valid label (or failed)."""

    prompt: str
    case_id: str
    input: dict[str, Any]
    expected: str | None
    label: str | None
    text: str | None
    label_probs: dict[str, float] | None
    error: str | None

    @property
    def correct(self) -> bool:
        return self.expected is not None and self.label == self.expected


@dataclass(frozen=True)
class PromptReport:
    """A prompt's answers on a list of cases, with metrics computed as `eval` does."""

    prompt: str
    labels: tuple[str, ...]
    results: tuple[PromptResult, ...]
    accuracy: float
    macro_f1: float
    per_class: dict[str, m.ClassScores]

    @property
    def failures(self) -> list[PromptResult]:
        return [r for r in self.results if not r.correct]

    def describe(self) -> str:
        """A short text for assertion messages: the score and every wrong answer."""
        lines = [
            f"{self.prompt}: accuracy {self.accuracy:.3f}, macro-F1 {self.macro_f1:.3f} "
            f"on {len(self.results)} cases"
        ]
        lines += [
            f"  {r.case_id}: expected {r.expected}, got {r.label or r.error or 'an invalid answer'}"
            for r in self.failures
        ]
        return "\n".join(lines)


CaseLike = Case | Mapping[str, Any]


@dataclass(frozen=True)
class _Row:
    case_id: str
    input: dict[str, Any]
    expected: str | None


@dataclass(frozen=True)
class _Job:
    case_id: str
    input: dict[str, Any]
    expected: str | None
    request: ChatRequest


class PromptRunner:
    """Runs prompts (by name from `prompts_dir`, or by file path) through recorded HTTP."""

    def __init__(
        self,
        *,
        recordings: Recordings,
        mode: Mode,
        root: Path,
        prompts_dir: Path | None = None,
        profiles_path: Path | None = None,
        overrides: EndpointOverrides | None = None,
        record_hint: str = "run again in record mode (PROMPTOPS_RECORD=1)",
        on_missing: Callable[[str], None] | None = None,
    ) -> None:
        self.recordings = recordings
        self.mode = mode
        self.root = root
        self.prompts_dir = prompts_dir or root / "prompts"
        self.profiles_path = profiles_path or root / "profiles.yaml"
        self.overrides = overrides or EndpointOverrides()
        self.record_hint = record_hint
        self.on_missing = on_missing
        self._store: PromptStore | None = None

    def prompt(self, ref: str | Path | Prompt) -> Prompt:
        """A prompt object, a prompt file (relative to the project root) or a prompt name."""
        if isinstance(ref, Prompt):
            return ref
        text = str(ref)
        if isinstance(ref, Path) or text.endswith((".yaml", ".yml")):
            path = Path(text)
            return load_prompt(path if path.is_absolute() else self.root / path)
        if self._store is None:
            self._store = PromptStore.scan(self.prompts_dir)
        return self._store.get(text)

    def run(
        self,
        prompt: str | Path | Prompt,
        inputs: Mapping[str, Any] | None = None,
        *,
        case_id: str | None = None,
        expected: str | None = None,
        **variables: Any,
    ) -> PromptResult:
        """Answer one input, given as a mapping and/or keyword variables."""
        loaded = self.prompt(prompt)
        values = {**(inputs or {}), **variables}
        name = case_id or ", ".join(f"{k}={v!r}" for k, v in sorted(values.items()))
        return self._answer(loaded, [self._job(loaded, name, values, expected)])[0]

    def evaluate(
        self,
        prompt: str | Path | Prompt,
        cases: Sequence[CaseLike] | str | Path,
        *,
        split: str | None = "test",
    ) -> PromptReport:
        """Answer every case (an evalset file, `Case`s, or mappings with id, input and
        expected) and score them; a file's cases are filtered to `split` (None: all)."""
        loaded = self.prompt(prompt)
        labels = tuple(loaded.labels or ())
        if not labels:
            raise UserInputError(f"{loaded.identity} has no labels to score", where=loaded.source)
        rows = self._cases(cases, split)
        for row in rows:
            if row.expected not in labels:
                raise EvalsetError(
                    f"expected label {row.expected!r} is not one of {loaded.identity}'s labels",
                    where=f"case {row.case_id}",
                )
        jobs = [self._job(loaded, r.case_id, r.input, r.expected) for r in rows]
        results = self._answer(loaded, jobs)
        scores = m.classification_metrics(
            [str(r.expected) for r in results], [r.label for r in results], labels
        )
        return PromptReport(
            prompt=loaded.identity,
            labels=labels,
            results=tuple(results),
            accuracy=scores.accuracy,
            macro_f1=scores.macro_f1,
            per_class=scores.per_class,
        )

    # -- internals ---------------------------------------------------------------------------

    def _cases(self, cases: Sequence[CaseLike] | str | Path, split: str | None) -> list[_Row]:
        if isinstance(cases, str | Path):
            path = Path(cases)
            loaded: Sequence[CaseLike] = load_evalset(
                path if path.is_absolute() else self.root / path
            )
            if split is not None:
                loaded = [c for c in loaded if isinstance(c, Case) and c.split == split]
            cases = loaded
        out = []
        for i, case in enumerate(cases):
            if isinstance(case, Case):
                out.append(_Row(case.id, dict(case.input), case.expected))
                continue
            if "input" not in case:
                raise EvalsetError("a case needs an `input` mapping", where=f"case #{i + 1}")
            case_id = str(case.get("id", f"case-{i + 1}"))
            out.append(_Row(case_id, dict(case["input"]), case.get("expected")))
        return out

    def _job(
        self, prompt: Prompt, case_id: str, values: Mapping[str, Any], expected: str | None
    ) -> _Job:
        return _Job(case_id, dict(values), expected, build_request(prompt, values))

    def _profile(self, prompt: Prompt) -> EndpointProfile:
        return resolve_profile(
            prompt.model.profile or "embedded",
            EndpointOverrides(model=prompt.model.name),
            self.overrides,
            path=self.profiles_path,
        )

    def _upstream(self, profile: EndpointProfile) -> httpx2.AsyncBaseTransport | None:
        if self.mode == "replay":
            return None
        if profile.embedded:
            from promptops.local.server import create_app  # loads the model stack

            return httpx2.ASGITransport(app=create_app())
        return httpx2.AsyncHTTPTransport()

    def _answer(self, prompt: Prompt, jobs: list[_Job]) -> list[PromptResult]:
        profile = self._profile(prompt)
        transport = RecordReplayTransport(self.recordings, self.mode, self._upstream(profile))
        completions = asyncio.run(self._send(prompt, profile, transport, [j.request for j in jobs]))
        if transport.misses:
            self._missing(prompt, jobs, transport.misses)
        return [
            PromptResult(
                prompt=prompt.identity,
                case_id=job.case_id,
                input=job.input,
                expected=job.expected,
                label=done.label,
                text=done.text,
                label_probs=done.label_probs,
                error=done.error,
            )
            for job, done in zip(jobs, completions, strict=True)
        ]

    async def _send(
        self,
        prompt: Prompt,
        profile: EndpointProfile,
        transport: RecordReplayTransport,
        requests: list[ChatRequest],
    ) -> list[Completion]:
        api_key = REPLAY_API_KEY if self.mode == "replay" else None
        out: list[Completion | None] = [None] * len(requests)
        async with (
            httpx2.AsyncClient(transport=transport, timeout=profile.timeout) as http,
            open_client(profile, cache=False, http_client=http, api_key=api_key) as client,
        ):
            calibrator = await calibrator_for(client, prompt)
            async for index, completion in client.complete_many(requests):
                out[index] = calibrator.apply(completion)
        return [c for c in out if c is not None]

    def _missing(self, prompt: Prompt, jobs: list[_Job], misses: list[Any]) -> None:
        sent = [j.request.message_dicts() for j in jobs]
        names = sorted(
            {
                jobs[sent.index(body["messages"])].case_id
                if isinstance(body, dict) and body.get("messages") in sent
                else "(an extra request)"
                for body in misses
            }
        )
        listed = ", ".join(map(repr, names[:LISTED_CASES]))
        if len(names) > LISTED_CASES:
            listed += f" and {len(names) - LISTED_CASES} more"
        message = (
            f"no recorded response for prompt {prompt.identity} "
            f"(content hash {prompt.short_hash}), case(s) {listed}, "
            f"in {self.recordings.path}. Replay sends nothing to a model; the prompt, the "
            f"case or the endpoint settings changed since the recording. Record with: "
            f"{self.record_hint}"
        )
        if self.on_missing is not None:
            self.on_missing(message)
        raise RecordingMissingError(message)
