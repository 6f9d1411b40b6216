"""The input file of `promptops grounding`: one `{id, context, answer}` object a line.

Kept apart from the command so that pydantic is imported when the command runs, not when
`promptops --help` registers it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from promptops.errors import EvalsetError
from promptops.jsonl import read_records

_CONTEXT_ERROR = "expected a list of passage strings or one string"


class GroundingRow(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(min_length=1)
    context: list[str] | str
    answer: str

    @field_validator("id", mode="before")
    @classmethod
    def _number_id(cls, value: object) -> object:
        """Numeric ids are common in JSONL exports; they are kept as their decimal text."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @property
    def passages(self) -> list[str]:
        return [self.context] if isinstance(self.context, str) else self.context


def _describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    field = str(err["loc"][0]) if err["loc"] else "line"
    return f"{field}: {_CONTEXT_ERROR if field == 'context' else err['msg']}"


def read_rows(path: Path) -> list[GroundingRow]:
    """Every non-blank line as a row; the first bad one raises `EvalsetError` at file:line."""
    rows: list[GroundingRow] = []
    seen: dict[str, int] = {}
    for lineno, row in read_records(path, GroundingRow, describe=_describe):
        if row.id in seen:
            raise EvalsetError(
                f"duplicate id {row.id!r} (first on line {seen[row.id]})", f"{path}:{lineno}"
            )
        seen[row.id] = lineno
        rows.append(row)
    if not rows:
        raise EvalsetError("no rows", where=str(path))
    return rows
