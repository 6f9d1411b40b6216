"""The one registry of report writers: a name maps to a renderer for one kind of summary.

`write_reports` asks the registry for every writer of a summary's `kind` ("classification"
today; RAG runs and `compare` later), so adding a report format is one `register` call and
no caller changes. Files are written atomically: a reader never sees half a report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from promptops.errors import PromptopsError
from promptops.runs.folder import write_atomic

S = TypeVar("S")


class DuplicateWriterError(PromptopsError):
    """Two writers were registered under one name: a programming error, caught at import."""


class UnknownWriterError(PromptopsError):
    """No writer is registered under a name, or none renders a summary's kind."""


class Summary(Protocol):
    """What a summary needs for the registry to route it: its `kind`."""

    @property
    def kind(self) -> str: ...


@dataclass(frozen=True)
class ReportWriter(Generic[S]):
    """Renders one kind of summary to the text of one file in the run folder."""

    name: str
    kind: str
    filename: str
    render: Callable[[S], str]


_WRITERS: dict[str, ReportWriter[Any]] = {}


def register(writer: ReportWriter[S]) -> ReportWriter[S]:
    """Add a writer; a second writer with the same name raises."""
    if writer.name in _WRITERS:
        raise DuplicateWriterError(f"a report writer named {writer.name!r} is already registered")
    _WRITERS[writer.name] = writer
    return writer


def get_writer(name: str) -> ReportWriter[Any]:
    try:
        return _WRITERS[name]
    except KeyError:
        known = ", ".join(sorted(_WRITERS)) or "none"
        raise UnknownWriterError(f"no report writer named {name!r} (known: {known})") from None


def writer_names() -> list[str]:
    return sorted(_WRITERS)


def writers_for(kind: str) -> list[ReportWriter[Any]]:
    """Every writer of one summary kind, in registration order."""
    return [writer for writer in _WRITERS.values() if writer.kind == kind]


def write_all(summary: Summary, out_dir: Path) -> list[Path]:
    """Render `summary` with every writer of its kind into `out_dir`; returns the paths."""
    writers = writers_for(summary.kind)
    if not writers:
        raise UnknownWriterError(f"no report writers for summaries of kind {summary.kind!r}")
    paths: list[Path] = []
    for writer in writers:
        path = out_dir / writer.filename
        write_atomic(path, writer.render(summary))
        paths.append(path)
    return paths
