"""Suite files (`evalsets/NAME.yaml`), shared by `eval` and `rag-eval`: how a name becomes
a file, how a file becomes a validated model, and how paths inside it resolve."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from promptops.errors import EvalsetError
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


S = TypeVar("S", bound=SuiteFile)


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
