"""The Markdown backend: any report `Document` to `report.md`, made to be diffed.

A pure function of the document in a fixed layout (blocks separated by one blank line, no
trailing whitespace, one final newline), so two runs with the same answers give the same
bytes and `git diff report.md` shows only real changes. Every text in the document goes
through `escape`, so no output of a prompt, a data set or a model can break a table or inject
markup; only figures formatted by `reports.fmt` (`Num`) print as they are.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

from promptops.reports.document import (
    Banner,
    Block,
    BulletList,
    Cell,
    Chart,
    Code,
    Details,
    Document,
    Heading,
    Inline,
    Num,
    Paragraph,
    Section,
    Span,
    Status,
    Strong,
    Table,
    Text,
)

LINE_BREAK = " ↵ "
_SPECIAL = frozenset("\\`*_[]<>|~&$")


def escape(text: str, limit: int | None = None) -> str:
    """Make `text` print literally in Markdown, on one line, inside or outside a table.

    Line breaks of every kind become " ↵ ", control and bidi-override characters are
    dropped, and each Markdown-significant character gets a backslash (CommonMark lets any
    ASCII punctuation be escaped), so `|`, backticks, `<script>` or `[x](y)` stay text.
    Underscores inside words are left bare: they cannot start emphasis, and labels such
    as `card_arrival` stay readable.
    """
    lines = [_drop_controls(line).strip() for line in text.splitlines()]
    flat = LINE_BREAK.join(line for line in lines if line)
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return "".join(
        "\\" + char if char in _SPECIAL and not _inert(flat, i) else char
        for i, char in enumerate(flat)
    )


def _inert(text: str, i: int) -> bool:
    """An underscore between two letters or digits (`card_arrival`) can never be emphasis."""
    return (
        text[i] == "_" and 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()
    )


def _drop_controls(line: str) -> str:
    kept = []
    for char in line:
        if char == "\t":
            kept.append(" ")
        elif unicodedata.category(char) not in ("Cc", "Cf") or char == "\u200d":
            kept.append(char)
    return "".join(kept)


def fence_for(text: str, least: int = 3) -> str:
    """A backtick fence longer than any backtick run inside `text`, so it cannot close early."""
    longest, run = 0, 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return "`" * max(least, longest + 1)


def inline(parts: Span) -> str:
    """A span on one line. Each text is escaped on its own (its outer whitespace trimmed as
    `escape` does), but the spaces that join it to its neighbours are kept: in
    `span("Model: ", Text(name), " via ...")` the words stay apart."""
    out = []
    last = len(parts) - 1
    for i, part in enumerate(parts):
        if not isinstance(part, Text):
            out.append(_mark(part))
            continue
        body = escape(part.text, part.limit)
        if not body:
            out.append(part.text if 0 < i < last and part.text.strip(" ") == "" else "")
            continue
        lead = part.text[: len(part.text) - len(part.text.lstrip(" "))] if i > 0 else ""
        trail = part.text[len(part.text.rstrip(" ")) :] if i < last else ""
        out.append(lead + body + trail)
    return "".join(out)


def _mark(part: Inline) -> str:
    if isinstance(part, Num):
        return part.text
    if isinstance(part, Strong):
        return f"**{escape(part.text)}**"
    if isinstance(part, Code):
        fence = fence_for(part.text, 1)
        return f"{fence} {part.text} {fence}" if "`" in part.text else f"`{part.text}`"
    return escape(part.text, part.limit)


def cell(value: Cell) -> str:
    if isinstance(value, Num):
        return value.text
    if isinstance(value, Status):
        return value.text if value.passed else f"**{escape(value.text)}**"
    return inline(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> list[str]:
    """A GitHub table; an empty cell is one space, so every row keeps its columns."""
    out = [
        "| " + " | ".join(escape(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"table row has {len(row)} cells, header has {len(headers)}")
        out.append("| " + " | ".join(cell(c) or " " for c in row) + " |")
    return out


def block(b: Block) -> list[str]:
    """One block as lines (a code block is one multi-line element, kept as written)."""
    if isinstance(b, Heading):
        return ["#" * b.level + " " + escape(b.text)]
    if isinstance(b, Paragraph):
        return [("> " if b.tone == "warning" else "") + inline(b.content)]
    if isinstance(b, BulletList):
        return ["- " + inline(item) for item in b.items]
    if isinstance(b, Table):
        return table(b.headers, b.rows)
    if isinstance(b, Chart):
        return blocks(b.fallback)
    if isinstance(b, Banner):
        return blocks([Paragraph(b.headline), *b.body])
    if isinstance(b, Details):
        return blocks([Paragraph((Strong(b.summary),)), *b.body])
    fence = fence_for(b.text)
    return [f"{fence}{b.language}", b.text, fence]


def blocks(items: Iterable[Block]) -> list[str]:
    """Blocks separated by one blank line; a block with nothing to say leaves no gap."""
    return join_lines(block(b) for b in items)


def section(s: Section) -> list[str]:
    """`## Title` and its blocks; a volatile section, or one whose blocks are all HTML-only
    (charts without a fallback), is left out."""
    body = blocks(s.blocks)
    if s.volatile or (s.blocks and not body):
        return []
    heading = "#" * s.level + " " + escape(s.title)
    return [heading, "", *body] if body else [heading]


def render_markdown(doc: Document) -> str:
    """The whole report; ends with exactly one newline and has no trailing whitespace."""
    meta = [f"- {escape(label)}: {inline(text)}" for label, text in doc.meta]
    under = join_lines([blocks(doc.intro), meta])
    head = [f"# {escape(doc.title)}", *([""] if under else []), *under]
    lines = join_lines([head, *(section(s) for s in doc.sections)])
    return "\n".join(line.rstrip() for line in lines) + "\n"


def join_lines(parts: Iterable[list[str]]) -> list[str]:
    lines: list[str] = []
    for part in parts:
        if part:
            if lines:
                lines.append("")
            lines.extend(part)
    return lines
