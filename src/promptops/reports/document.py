"""The one report document: section builders produce it, the Markdown and HTML backends render it.

A builder never writes markup. It states *what* a report says with a few block types (heading,
paragraph, list, table with typed cells, chart, banner, details), so Markdown and HTML agree by
construction, and the HTML backend is the only code that writes tags (and escapes every text it
is given). A new kind of run brings its section builders and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Text:
    """Plain text, escaped by every backend; `limit` truncates long user text with an ellipsis."""

    text: str
    limit: int | None = None


@dataclass(frozen=True)
class Strong:
    text: str


@dataclass(frozen=True)
class Code:
    text: str


Inline = Text | Strong | Code
Span = tuple[Inline, ...]


def span(*parts: str | Inline) -> Span:
    """A span from plain strings and inline parts: `span("p = ", Code("0.03"))`."""
    return tuple(Text(p) if isinstance(p, str) else p for p in parts)


@dataclass(frozen=True)
class Num:
    """A number already formatted for display; HTML aligns it right."""

    text: str


@dataclass(frozen=True)
class Status:
    """A pass/fail cell: Markdown bolds a failure, HTML colours it."""

    passed: bool
    text: str


Cell = Span | Num | Status


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2
    anchor: str | None = None


@dataclass(frozen=True)
class Paragraph:
    content: Span


@dataclass(frozen=True)
class BulletList:
    items: tuple[Span, ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


@dataclass(frozen=True)
class Chart:
    """A figure: HTML draws it as SVG; Markdown shows `fallback` (usually a table) or nothing.

    `kind` names the drawing ("reliability", "bars", "series", "scatter"); `data` holds its
    numbers as plain tuples so the document stays a value.
    """

    kind: Literal["reliability", "bars", "series", "scatter"]
    title: str
    data: tuple[tuple[float | str | None, ...], ...]
    fallback: tuple[Block, ...] = ()


@dataclass(frozen=True)
class Banner:
    """The verdict: a pass/fail headline with the sentences that explain it."""

    passed: bool
    headline: Span
    body: tuple[Block, ...] = ()


@dataclass(frozen=True)
class Details:
    """Folded detail: HTML `<details>`, Markdown a titled block."""

    summary: str
    body: tuple[Block, ...]


Block = Heading | Paragraph | BulletList | Table | Chart | Banner | Details


@dataclass(frozen=True)
class Section:
    """One titled part of a report; `anchor` links the HTML navigation to it."""

    anchor: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Document:
    title: str
    meta: tuple[tuple[str, Span], ...] = ()
    sections: tuple[Section, ...] = ()
    footer: str = ""
    extra: dict[str, str] = field(default_factory=dict)
