"""Reading evalsets: JSONL, CSV or YAML files of cases, each problem named by file and line.

Every format yields the same `Case` records. A case is validated on its own by a pydantic
model (unknown keys are errors, so a typo such as `expeted` cannot silently drop the gold
label); whether the cases fit a given prompt is checked later by `checks.validate_cases`.

Formats, chosen by file extension:

- `.jsonl`: one JSON object per line, `{"id", "input": {var: value}, "expected", "split",
  "tags": [...], "time"}`; blank lines are skipped. `time` is ISO 8601.
- `.csv`: a header row; the columns `id`, `expected`, `split`, `tags` (semicolon-separated)
  and `time` are reserved, every other column is an input variable, written either
  `input.<var>` or just `<var>`. An empty `id`, `expected` or `split` cell means "not given".
- `.yaml` / `.yml`: a list of case mappings with the JSONL keys.

Defaults: a case without `id` gets `line-<n>`, without `split` gets `test`; number values
become strings (a template renders text anyway).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from promptops.errors import EvalsetError
from promptops.yamlio import read_yaml

DEFAULT_SPLIT = "test"
_MAX_LISTED = 25
_RESERVED_CSV = ("id", "expected", "split", "tags", "time")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Case:
    """One evaluation case; `line` is where it starts in its file (1-based). Slotted: a
    100,000-case evalset holds 100,000 of them."""

    id: str
    input: dict[str, str]
    expected: str | None
    split: str
    tags: tuple[str, ...]
    line: int
    time: datetime | None = None  # when the case happened: temporal leakage, `split: auto`


class _CaseModel(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    @field_validator("expected", mode="before")
    @classmethod
    def _json_text(cls, value: object) -> object:
        """An extraction object or a list of generation references, as JSON text: a case
        stays flat (`Case.expected` is text) and the task's kind reads it back."""
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False)
        return value

    id: str | None = Field(None, min_length=1)
    input: dict[str, str]
    expected: str | None = None  # a JSON object or list is kept as its JSON text
    split: str = Field(DEFAULT_SPLIT, min_length=1)
    tags: list[str] = Field(default_factory=list)
    time: datetime | None = None

    @field_validator("time", mode="before")
    @classmethod
    def _iso(cls, value: object) -> object:
        """ISO 8601 text only (never a bare number read as epoch seconds); a date or time
        without a zone is read as UTC, so every case compares with every other."""
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("time must be an ISO 8601 string, e.g. 2026-03-01T12:00:00Z")
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 date or time") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def raise_problems(problems: Sequence[tuple[str, str]]) -> NoReturn:
    """Raise one `EvalsetError` listing every (where, reason) problem found."""
    if len(problems) == 1:
        where, reason = problems[0]
        raise EvalsetError(reason, where=where)
    shown = [f"  {where}: {reason}" for where, reason in problems[:_MAX_LISTED]]
    if len(problems) > _MAX_LISTED:
        shown.append(f"  ... and {len(problems) - _MAX_LISTED} more")
    raise EvalsetError(f"{len(problems)} problems:\n" + "\n".join(shown), where=problems[0][0])


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _model_problems(exc: ValidationError) -> list[tuple[tuple[str | int, ...], str]]:
    """(location inside the case, reason naming the bad value) per problem."""
    out = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if isinstance(p, (str, int)))
        field = ".".join(str(p) for p in loc) or "(case)"
        if err["type"] == "extra_forbidden":
            reason = f"unknown key {loc[-1]!r} (allowed: id, input, expected, split, tags, time)"
        else:
            reason = f"{field}: {err['msg']} (got {_short(err['input'])})"
        out.append((loc, reason))
    return out


class _Shared:
    """One copy of each value that repeats across cases (splits, labels, tag tuples, input
    keys): a large evalset would otherwise hold one string per case for each of them."""

    def __init__(self) -> None:
        self._seen: dict[object, object] = {}

    def __call__(self, value: _T) -> _T:
        return cast(_T, self._seen.setdefault(value, value))


def _to_case(model: _CaseModel, line: int, shared: _Shared) -> Case:
    return Case(
        id=model.id if model.id is not None else f"line-{line}",
        input={shared(key): value for key, value in model.input.items()},
        expected=shared(model.expected),
        split=shared(model.split),
        tags=shared(tuple(shared(tag) for tag in model.tags)),
        line=line,
        time=model.time,
    )


Problem = tuple[str, str]  # (where, reason)
Parsed = Iterator[Case | Problem]


def _parse_jsonl(path: Path, lines: Iterable[str]) -> Parsed:
    shared = _Shared()
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield (where, f"not valid JSON: {exc.msg} (column {exc.colno})")
            continue
        if not isinstance(obj, dict):
            yield (where, f"expected a JSON object, got {_short(obj)}")
            continue
        yield from _validated(obj, number, shared, where)


def _validated(obj: Any, line: int, shared: _Shared, where: str) -> Parsed:
    try:
        yield _to_case(_CaseModel.model_validate(obj), line, shared)
    except ValidationError as exc:
        yield from ((where, reason) for _, reason in _model_problems(exc))


def _csv_records(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """Rows with the line each starts on (a quoted cell may span several lines)."""
    reader = csv.reader(lines)
    start = 1
    for row in reader:
        yield start, row
        start = reader.line_num + 1


def _csv_columns(path: Path, header: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Map header cells to case keys: reserved names stay, the rest become `input.<var>`."""
    keys: list[str] = []
    problems: list[tuple[str, str]] = []
    for cell in header:
        name = cell.strip()
        if name in _RESERVED_CSV:
            key = name
        else:
            var = name.removeprefix("input.")
            key = f"input.{var}" if var else ""
        if not key:
            problems.append((f"{path}:1", f"empty column name in header {_short(header)}"))
        elif key in keys:
            problems.append((f"{path}:1", f"column {name!r} given twice (as var and input.var?)"))
        keys.append(key)
    return keys, problems


def _parse_csv(path: Path, lines: Iterable[str]) -> Parsed:
    records = _csv_records(lines)
    first = next(records, None)
    if first is None:
        return
    keys, problems = _csv_columns(path, first[1])
    if problems:
        yield from problems
        return
    shared = _Shared()
    for line, row in records:
        where = f"{path}:{line}"
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(keys):
            yield (where, f"{len(row)} cells but the header has {len(keys)} columns")
            continue
        obj: dict[str, Any] = {"input": {}}
        for key, cell in zip(keys, row, strict=True):
            if key.startswith("input."):
                obj["input"][key.removeprefix("input.")] = cell
            elif key == "tags":
                obj["tags"] = [t.strip() for t in cell.split(";") if t.strip()]
            elif cell.strip():
                obj[key] = cell.strip()
        yield from _validated(obj, line, shared, where)


def _parse_yaml(path: Path) -> Parsed:
    """YAML has no streaming reader with line numbers: the document is read whole (a YAML
    evalset is for hand-written cases; large ones belong in JSONL)."""
    doc = read_yaml(path, EvalsetError)
    if doc.data is None:
        return
    if not isinstance(doc.data, list):
        yield (doc.where(()), "a YAML evalset must be a list of cases")
        return
    shared = _Shared()
    for i, item in enumerate(doc.data):
        line = doc.line_of((i,)) or 1
        if not isinstance(item, dict):
            yield (doc.where((i,)), f"a case must be a mapping, got {_short(item)}")
            continue
        try:
            yield _to_case(_CaseModel.model_validate(item), line, shared)
        except ValidationError as exc:
            yield from ((doc.where((i, *loc)), r) for loc, r in _model_problems(exc))


def load_evalset(path: Path | str) -> list[Case]:
    """Read every case of an evalset file; raise one `EvalsetError` listing all bad cases."""
    return list(iter_cases(path))


def iter_cases(
    path: Path | str, split: str | None = None, assigned: Mapping[str, str] | None = None
) -> Iterator[Case]:
    """Stream the cases of an evalset file (of one split, if given) without holding them:
    a 100,000-case evalset is read again rather than kept. Bad cases are collected while the
    good ones stream and raised together as one `EvalsetError` at the end. `assigned` (case
    id -> split, from `split: auto`) overrides the split a row gives."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv", ".yaml", ".yml"):
        raise EvalsetError(
            f"unknown evalset format {suffix or '(no extension)'!r}; use .jsonl, .csv or .yaml",
            where=str(path),
        )
    problems: list[Problem] = []
    for item in _parse(path, suffix):
        if isinstance(item, Case):
            if assigned is not None and item.id in assigned:
                item = replace(item, split=assigned[item.id])
            if split is None or item.split == split:
                yield item
        else:
            problems.append(item)
    if problems:
        raise_problems(problems)


def _parse(path: Path, suffix: str) -> Parsed:
    if suffix in (".yaml", ".yml"):
        yield from _parse_yaml(path)
        return
    parse = _parse_jsonl if suffix == ".jsonl" else _parse_csv
    # read line by line, never the whole text at once; lines end at \n only (JSON strings
    # may hold U+2028 and friends, and CSV cells a lone \r)
    try:
        with path.open(encoding="utf-8-sig", newline="\n") as lines:
            yield from parse(path, lines)
    except OSError as exc:
        raise EvalsetError(f"cannot read file: {exc.strerror}", where=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise EvalsetError("file is not valid UTF-8", where=str(path)) from exc


@dataclass(frozen=True)
class EvalsetFile:
    """An evalset file as a re-iterable stream of its cases (of one split, if given): each
    iteration reads the file again, so a pass over 100,000 cases holds one case at a time."""

    path: Path
    split: str | None = None
    assigned: Mapping[str, str] | None = None  # case id -> split, from `split: auto`

    def __iter__(self) -> Iterator[Case]:
        return iter_cases(self.path, self.split, self.assigned)

    def of_split(self, split: str) -> EvalsetFile:
        return EvalsetFile(self.path, split, self.assigned)


def evalset_hash(path: Path | str) -> str:
    """sha256 of the file's bytes: results record exactly which evalset they came from.
    Read in blocks, so a large evalset is not held in memory twice."""
    try:
        with Path(path).open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise EvalsetError(f"cannot read file: {exc.strerror}", where=str(path)) from exc


def case_text(case: Case) -> str:
    """The case's input values joined by newlines, in key order: the text baselines and
    leakage checks compare."""
    return "\n".join(case.input.values())


def cases_in_split(cases: Sequence[Case], split: str) -> list[Case]:
    return [case for case in cases if case.split == split]
