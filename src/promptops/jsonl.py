"""Reading JSON Lines input files one validated record at a time, with the line in every error.

Corpora, question sets and grounding inputs all read the same way: blank lines are skipped,
a line that is not JSON or does not fit the record model stops the read with
`file:line: field: reason`, and the file is streamed rather than read whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from promptops.errors import EvalsetError

M = TypeVar("M", bound=BaseModel)


def first_problem(exc: ValidationError) -> str:
    """`field: reason` for the first validation error of a record."""
    err = exc.errors()[0]
    field = ".".join(str(part) for part in err["loc"]) or "record"
    return f"{field}: {err['msg']}"


def read_records(
    path: Path,
    model: type[M],
    *,
    describe: Callable[[ValidationError], str] = first_problem,
) -> Iterator[tuple[int, M]]:
    """(line number, record) for every non-blank line of `path`."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise EvalsetError(f"cannot read file: {exc.strerror}", where=str(path)) from exc
    with handle:
        try:
            for lineno, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = f"{path}:{lineno}"
                try:
                    yield lineno, model.model_validate(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise EvalsetError(f"invalid JSON: {exc.msg}", where=where) from exc
                except ValidationError as exc:
                    raise EvalsetError(describe(exc), where=where) from exc
        except UnicodeDecodeError as exc:
            raise EvalsetError("file is not valid UTF-8", where=str(path)) from exc
