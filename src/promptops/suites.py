"""Suite files (`evalsets/NAME.yaml`), shared by `eval` and `rag-eval`: how a name becomes
a file, how a file becomes a validated model, and how paths inside it resolve."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from promptops.errors import EvalsetError
from promptops.llm.profile import EndpointOverrides, EndpointProfile, resolve_profile
from promptops.prompts import Prompt, resolve_prompt
from promptops.yamlio import read_yaml, validation_errors

SUITES_DIR = Path("evalsets")


class Bound(BaseModel):
    """A threshold: the metric must be at least `min` and/or at most `max`."""

    model_config = ConfigDict(extra="forbid")

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("give min or max")
        return self


class SuiteFile(BaseModel):
    """Base of suite models: unknown keys are errors, paths resolve against the file's folder."""

    model_config = ConfigDict(extra="forbid")

    _dir: Path = Path(".")

    def path_of(self, ref: str) -> Path:
        candidate = Path(ref)
        return candidate if candidate.is_absolute() else self._dir / candidate

    def prompt_from(self, ref: str, override: str | None = None) -> Prompt:
        """The prompt a suite names: `override` (from the command line) wins; a `.yaml`
        path resolves against the suite's folder; a name comes from the prompts folder."""
        if override is not None:
            return resolve_prompt(override)
        if ref.endswith((".yaml", ".yml")):
            return resolve_prompt(str(self.path_of(ref)))
        return resolve_prompt(ref)


@dataclass
class RunFlags:
    """Command-line options every suite runner takes; None keeps the suite's value."""

    prompt: str | None = None
    base_url: str | None = None
    model: str | None = None
    concurrency: int | None = None
    timeout: float | None = None
    max_retries: int | None = None
    max_wait: float | None = None
    no_cache: bool = False
    retry_errors: bool = True  # on resume, send again the cases that ended in a transient error
    out: Path | None = None
    profiles_path: Path = Path("profiles.yaml")
    endpoint_profile: str | None = None  # a profile other than the suite's (grid cells)

    def profile(self, name: str, suite_endpoint: EndpointOverrides) -> EndpointProfile:
        """The suite's profile with its own overrides, then the command line's."""
        cli = EndpointOverrides(
            base_url=self.base_url,
            model=self.model,
            timeout=self.timeout,
            max_retries=self.max_retries,
            max_wait=self.max_wait,
            concurrency=self.concurrency,
        )
        if self.endpoint_profile is not None and self.endpoint_profile != name:
            suite_endpoint = EndpointOverrides()  # the suite's overrides are for its own profile
            name = self.endpoint_profile
        return resolve_profile(name, suite_endpoint, cli, path=self.profiles_path)


S = TypeVar("S", bound=SuiteFile)


class _Judged(Protocol):
    passed: bool


J = TypeVar("J", bound=_Judged)


@dataclass
class RunOutcome(Generic[J]):
    """A finished suite run: its summary and folder; exit code 0 when the thresholds hold."""

    summary: J
    out_dir: Path

    @property
    def exit_code(self) -> int:
        return 0 if self.summary.passed else 1


def load_suite(ref: str, cls: type[S]) -> tuple[S, Path]:
    """`NAME` -> evalsets/NAME.yaml (a .yaml path is read as is), validated as `cls`; every
    problem is reported with its file and line."""
    path = Path(ref)
    if path.suffix not in {".yaml", ".yml"}:
        path = SUITES_DIR / f"{ref}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in SUITES_DIR.glob("*.yaml")) if SUITES_DIR.is_dir() else []
        raise EvalsetError(
            f"no suite file (suites in {SUITES_DIR}: {', '.join(known) or 'none'})",
            where=str(path),
        )
    doc = read_yaml(path, EvalsetError)
    if not isinstance(doc.data, dict):
        raise EvalsetError("expected a mapping of suite settings", where=str(path))
    try:
        suite = cls.model_validate(doc.data)
    except ValidationError as exc:
        problems = validation_errors(doc, exc)
        lines = "\n".join(f"  {w}: {r}" for w, r in problems)
        raise EvalsetError(f"invalid suite:\n{lines}", where=problems[0][0]) from exc
    suite._dir = path.parent
    return suite, path
