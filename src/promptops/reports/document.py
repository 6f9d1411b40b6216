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


@dataclass(frozen=True)
class Num:
    """A number already formatted for display (by `reports.fmt`): ours, never user text, so
    Markdown prints it as it is (`$0.0120`, `[0.712, 0.790]`); in a table HTML aligns it right.
    Inside a span it is a figure in a sentence."""

    text: str


Inline = Text | Strong | Code | Num
Span = tuple[Inline, ...]


def span(*parts: str | Inline) -> Span:
    """A span from plain strings and inline parts: `span("p = ", Code("0.03"))`."""
    return tuple(Text(p) if isinstance(p, str) else p for p in parts)


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
    """`tone` "note" is a side remark (HTML sets it small and grey); "warning" is a callout
    (Markdown quotes it with `>`, HTML frames it)."""

    content: Span
    tone: Literal["plain", "note", "warning"] = "plain"


@dataclass(frozen=True)
class BulletList:
    items: tuple[Span, ...]


@dataclass(frozen=True)
class Table:
    """`flagged` marks rows to highlight (the best baseline, a changed setting): HTML shades
    them; Markdown says it in a cell of its own when it matters."""

    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    flagged: tuple[bool, ...] = ()


@dataclass(frozen=True)
class Chart:
    """A figure: HTML draws it as SVG; Markdown shows `fallback` (usually a table) or nothing.

    `kind` names the drawing; `data` holds its numbers as plain tuples so the document stays
    a value, one row per drawn item:

    - "bars": (group, value per series); `series` names the bars of a group.
    - "heatmap": (row label, count per column); `series` names the columns.
    - "reliability": (lower, upper, count, mean confidence or None, accuracy or None).
    - "whiskers": (label, estimate, low, high); a `reference` (0 for differences) draws a
      dashed line and a symmetric axis around it.
    - "series": (x label, value or None per series); `reference` is the alert threshold and
      `marks` the indices of alerted points.
    """

    kind: Literal["reliability", "bars", "series", "scatter", "heatmap", "whiskers"]
    title: str
    data: tuple[tuple[float | str | None, ...], ...]
    fallback: tuple[Block, ...] = ()
    series: tuple[str, ...] = ()
    reference: float | None = None
    marks: tuple[int, ...] = ()


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


@dataclass(frozen=True)
class CodeBlock:
    """Preformatted text shown as it is (a prompt diff): Markdown fences it, HTML sets it in
    `<pre>`, colouring added and removed lines when `language` is "diff"."""

    text: str
    language: str = ""


Block = Heading | Paragraph | BulletList | Table | Chart | Banner | Details | CodeBlock


@dataclass(frozen=True)
class Section:
    """One titled part of a report; `anchor` links the HTML navigation to it.

    `level` is the Markdown heading level (a sub-part of the section before it is 3); HTML
    gives every section its own card. A `volatile` section (times, latencies, cache counts)
    is shown in HTML only, so report.md stays byte-stable for the same answers.
    """

    anchor: str
    title: str
    blocks: tuple[Block, ...]
    level: int = 2
    volatile: bool = False


@dataclass(frozen=True)
class Document:
    """`intro` blocks sit under the title, before the `meta` facts (a description, a verdict
    line); the footer is HTML only."""

    title: str
    meta: tuple[tuple[str, Span], ...] = ()
    sections: tuple[Section, ...] = ()
    footer: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    intro: tuple[Block, ...] = ()
