"""The HTML backend: any report `Document` to `report.html`, one self-contained page.

This is the only code that writes report markup. No scripts, stylesheets, fonts or images are
loaded: CSS is inline, charts are inline SVG (`reports.svg`), and a Content-Security-Policy
forbids everything else, so the file opens offline and a hostile model output cannot run code
even if it slipped past escaping. Every text of the document passes through `esc`
(html.escape); only fragments built here are marked `Safe`, so escaping holds by construction.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence

from promptops.reports import series_svg, svg
from promptops.reports.document import (
    Banner,
    Block,
    BulletList,
    Cell,
    Chart,
    Code,
    CodeBlock,
    Details,
    Document,
    Heading,
    Num,
    Paragraph,
    Section,
    Span,
    Status,
    Strong,
    Table,
    Text,
)
from promptops.runs.summary import ReliabilityBin

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: #1f2937;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 48px; }
h1 { font-size: 26px; margin: 0 0 6px; }
h2 { font-size: 19px; margin: 0 0 12px; }
h3 { font-size: 16px; margin: 18px 0 8px; }
section { background: #fff; border: 1px solid #e5e7eb; border-radius: 10px;
  padding: 18px 22px; margin: 16px 0; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 10px 0 0;
  color: #374151; }
.meta dt { color: #6b7280; }
.meta dd { margin: 0; overflow-wrap: anywhere; }
nav { margin: 14px 0 0; font-size: 14px; }
nav a { color: #2563eb; text-decoration: none; margin-right: 14px; }
.banner { border-radius: 10px; padding: 16px 22px; margin: 18px 0; border: 1px solid; }
.banner.pass { background: #ecfdf3; border-color: #86efac; color: #14532d; }
.banner.fail { background: #fef2f2; border-color: #fca5a5; color: #7f1d1d; }
.banner .status { font-size: 22px; font-weight: 700; letter-spacing: 0.02em; }
.banner p { margin: 6px 0 0; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 14px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e5e7eb;
  vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; }
tbody tr:nth-child(even) { background: #f9fafb; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.id { white-space: nowrap; }
td.text { white-space: pre-wrap; overflow-wrap: anywhere; min-width: 16ch; max-width: 420px;
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
tr.flag td { background: #fff7ed; }
.ok { color: #15803d; font-weight: 600; }
.bad { color: #b91c1c; font-weight: 600; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px;
  font-weight: 600; }
.badge.info { background: #e0f2fe; color: #075985; }
.badge.warning { background: #fef3c7; color: #92400e; }
.badge.error { background: #fee2e2; color: #991b1b; }
.chart { overflow-x: auto; margin: 10px 0; }
.scroll { overflow-x: auto; max-width: 100%; }
.chart svg { max-width: 100%; height: auto; }
.row { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.row > * { flex: 1 1 auto; max-width: 100%; }
.note { color: #6b7280; font-size: 13px; }
p.warning { background: #fffbeb; border-left: 4px solid #f59e0b; padding: 8px 12px; }
.banner p.warning { color: #78350f; }
pre.code { margin: 8px 0; padding: 10px 12px; background: #f9fafb; border: 1px solid #e5e7eb;
  border-radius: 6px; overflow-x: auto; white-space: pre;
  font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre .add { color: #15803d; }
pre .del { color: #b91c1c; }
pre .hunk { color: #6b7280; }
details { margin: 8px 0; }
summary { cursor: pointer; font-weight: 600; }
footer { color: #9ca3af; font-size: 12px; text-align: center; margin-top: 24px; }
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'"
TEXT_LIMIT = 600
DIFF_CLASSES = {"+": "add", "-": "del", "@": "hunk"}


class Safe(str):
    """HTML this module built itself; anything else is escaped before it is placed."""


def esc(value: str) -> Safe:
    return Safe(html.escape(svg.xml_safe(value), quote=True))


def clip(value: str, limit: int = TEXT_LIMIT) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def join(parts: Iterable[str | Safe]) -> Safe:
    return Safe("".join(p if isinstance(p, Safe) else esc(p) for p in parts))


def tag(name: str, content: str | Safe = "", *, cls: str = "", **attrs: str) -> Safe:
    """`<name class=...>content</name>`, escaping content and attribute values."""
    pairs = ([("class", cls)] if cls else []) + sorted(attrs.items())
    attr_text = "".join(f' {key}="{esc(value)}"' for key, value in pairs)
    return Safe(f"<{name}{attr_text}>{join([content])}</{name}>")


def inline(parts: Span) -> Safe:
    """A span. Text with a Markdown `limit` is clipped at the page's longer `TEXT_LIMIT`:
    a page wraps long text where a Markdown table cell cannot."""
    out: list[Safe] = []
    for part in parts:
        if isinstance(part, Text):
            out.append(esc(clip(part.text) if part.limit is not None else part.text))
        elif isinstance(part, Strong):
            out.append(tag("strong", part.text))
        elif isinstance(part, Code):
            out.append(tag("code", part.text))
        else:
            out.append(esc(part.text))
    return join(out)


def plain(parts: Span) -> str:
    """A span's words without marks (a banner's status line is bold already)."""
    return "".join(part.text for part in parts)


def cell(value: Cell) -> Safe:
    if isinstance(value, Num):
        return tag("td", value.text, cls="num")
    if isinstance(value, Status):
        return tag("td", tag("span", value.text, cls="ok" if value.passed else "bad"))
    wraps = any(isinstance(p, Text) and p.limit is not None for p in value)
    return tag("td", inline(value), cls="text" if wraps else "")


def table(t: Table) -> Safe:
    """Numbers align right, long free text wraps in monospace, flagged rows are shaded; a wide
    table scrolls inside its card, never past it."""
    head = join(tag("th", h) for h in t.headers)
    body = []
    for i, row in enumerate(t.rows):
        flagged = i < len(t.flagged) and t.flagged[i]
        body.append(tag("tr", join(cell(c) for c in row), cls="flag" if flagged else ""))
    grid = tag("table", join([tag("thead", tag("tr", head)), tag("tbody", join(body))]))
    return tag("div", grid, cls="scroll")


def nice_reach(values: Sequence[float]) -> float:
    """A symmetric axis half-width that holds every value: a multiple of 0.05 or 0.1."""
    biggest = max((abs(v) for v in values), default=0.0) * 1.1
    step = 0.05 if biggest <= 0.3 else 0.1
    return max(step, math.ceil(biggest / step - 1e-9) * step)


def _floats(row: Sequence[float | str | None]) -> list[float]:
    return [float(v) if isinstance(v, int | float) else 0.0 for v in row]


def _optional(v: float | str | None) -> float | None:
    return float(v) if isinstance(v, int | float) else None


def drawing(c: Chart) -> str:
    """The SVG of a chart; `reports.svg` escapes every label it places."""
    labels = [str(row[0]) for row in c.data]
    columns = [[row[i + 1] for row in c.data] for i in range(len(c.series))]
    if c.kind == "bars":
        return svg.grouped_bars(
            labels, [(n, _floats(v)) for n, v in zip(c.series, columns, strict=True)], title=c.title
        )
    if c.kind == "heatmap":
        matrix = [[int(v) for v in _floats(row[1:])] for row in c.data]
        return svg.confusion_heatmap(labels, list(c.series), matrix)
    if c.kind == "reliability":
        bins = [
            ReliabilityBin(
                lower=float(lo or 0),
                upper=float(hi or 0),
                count=int(float(n or 0)),
                confidence=_optional(conf),
                accuracy=_optional(acc),
            )
            for lo, hi, n, conf, acc in c.data
        ]
        return svg.reliability_diagram(bins)
    if c.kind == "whiskers":
        numbers = [_floats(r[1:4]) for r in c.data]
        whiskers = [(label, n[0], n[1], n[2]) for label, n in zip(labels, numbers, strict=True)]
        if c.reference is None:
            return svg.ci_whiskers(whiskers, title=c.title)
        reach = nice_reach([x for n in numbers for x in n])
        return svg.ci_whiskers(
            whiskers, title=c.title, domain=(-reach, reach), reference=c.reference, signed=True
        )
    series = [(n, [_optional(v) for v in vs]) for n, vs in zip(c.series, columns, strict=True)]
    return series_svg.time_series(
        labels, series, title=c.title, threshold=c.reference, alerts=c.marks
    )


def code_block(b: CodeBlock) -> Safe:
    lines = []
    for line in b.text.splitlines():
        kind = DIFF_CLASSES.get(line[:1], "") if b.language == "diff" else ""
        if line.startswith(("+++", "---")):
            kind = ""
        lines.append(tag("span", line, cls=kind))
    return tag("pre", Safe("\n".join(lines)), cls="code")


def block(b: Block) -> Safe:
    if isinstance(b, Heading):
        return tag(f"h{min(max(b.level, 2), 6)}", b.text, **({"id": b.anchor} if b.anchor else {}))
    if isinstance(b, Paragraph):
        return tag("p", inline(b.content), cls="" if b.tone == "plain" else b.tone)
    if isinstance(b, BulletList):
        return tag("ul", join(tag("li", inline(item)) for item in b.items))
    if isinstance(b, Table):
        return table(b)
    if isinstance(b, Chart):
        return Safe(f'<div class="chart">{drawing(b)}</div>')
    if isinstance(b, Banner):
        status = tag("div", plain(b.headline), cls="status")
        body = join([status, *(block(x) for x in b.body)])
        return tag("div", body, cls=f"banner {'pass' if b.passed else 'fail'}")
    if isinstance(b, Details):
        return tag("details", join([tag("summary", b.summary), *(block(x) for x in b.body)]))
    return code_block(b)


def section(s: Section) -> Safe:
    return tag("section", join([tag("h2", s.title), *(block(b) for b in s.blocks)]), id=s.anchor)


def header(doc: Document) -> Safe:
    meta = join(join([tag("dt", k), tag("dd", inline(v))]) for k, v in doc.meta)
    links = join(tag("a", s.title, href=f"#{s.anchor}") for s in doc.sections)
    return tag(
        "header",
        join(
            [
                tag("h1", doc.title),
                *(block(b) for b in doc.intro),
                tag("dl", meta, cls="meta") if doc.meta else Safe(""),
                tag("nav", links) if doc.sections else Safe(""),
            ]
        ),
    )


def render_html(doc: Document) -> str:
    """The one page template: inline CSS, a strict CSP, no external resources; the same
    document always gives the same bytes."""
    body = [header(doc), *(section(s) for s in doc.sections)]
    if doc.footer:
        body.append(tag("footer", doc.footer))
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            f"<title>{esc(doc.title)}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            "<main>",
            *body,
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )
