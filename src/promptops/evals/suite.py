"""An eval suite: `evalsets/NAME.yaml` names the prompt, the evalset, the endpoint, the
thresholds and the baselines. Command-line options override it field by field."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from promptops.errors import EvalsetError
from promptops.llm.profile import EndpointOverrides
from promptops.yamlio import read_yaml, validation_errors

SUITES_DIR = Path("evalsets")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Bound(_Strict):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("give min or max")
        return self


class LeakagePolicy(_Strict):
    allow: bool = False
    near_duplicate_threshold: float = Field(0.9, gt=0, le=1)


class PiiPolicy(_Strict):
    allow: bool = False
    justification: str | None = None

    @model_validator(mode="after")
    def _justified(self) -> PiiPolicy:
        if self.allow and not (self.justification and self.justification.strip()):
            raise ValueError("allowing PII needs a written justification")
        return self


class Suite(_Strict):
    name: str
    description: str = ""
    prompt: str
    evalset: str
    profile: str = "embedded"
    endpoint: EndpointOverrides = Field(default_factory=EndpointOverrides)
    primary_metric: Literal["macro_f1", "accuracy"] = "macro_f1"
    thresholds: dict[Literal["macro_f1", "accuracy", "invalid_rate", "error_rate"], Bound] = Field(
        default_factory=dict
    )
    must_beat: Literal["none", "majority", "best"] = Field(
        "majority",
        description="which baseline the prompt must beat significantly for the run to pass",
    )
    baselines: tuple[str, ...] = ("majority", "tfidf_lr", "embedding_lr")
    leakage: LeakagePolicy = Field(default_factory=LeakagePolicy)
    pii: PiiPolicy = Field(default_factory=PiiPolicy)
    repeat: int = Field(1, ge=1)
    seed: int = 13
    bootstrap_samples: int = Field(2000, ge=100)
    alpha: float = Field(0.05, gt=0, lt=1)
    worst_cases: int = Field(10, ge=0)

    _dir: Path = Path(".")

    def path_of(self, ref: str) -> Path:
        """A path in the suite resolves against the suite file's folder."""
        candidate = Path(ref)
        return candidate if candidate.is_absolute() else self._dir / candidate


def resolve_suite(ref: str) -> tuple[Suite, Path]:
    """`intent` -> evalsets/intent.yaml; a path is read as is."""
    path = Path(ref)
    if path.suffix not in {".yaml", ".yml"}:
        path = SUITES_DIR / f"{ref}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in SUITES_DIR.glob("*.yaml")) if SUITES_DIR.is_dir() else []
        raise EvalsetError(
            f"no suite file (known suites: {', '.join(known) or 'none'})", where=str(path)
        )
    doc = read_yaml(path, EvalsetError)
    if not isinstance(doc.data, dict):
        raise EvalsetError("expected a mapping (name, prompt, evalset, ...)", where=str(path))
    try:
        suite = Suite.model_validate(doc.data)
    except ValidationError as exc:
        problems = validation_errors(doc, exc)
        lines = "\n".join(f"  {w}: {r}" for w, r in problems)
        raise EvalsetError(f"invalid suite:\n{lines}", where=problems[0][0]) from exc
    suite._dir = path.parent
    return suite, path
