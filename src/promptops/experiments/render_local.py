"""A stop-gap rendering of report Documents until the shared backends (`reports.render`)
land: plain Markdown, and HTML with every text escaped and scatter charts drawn as SVG.
Replace the two imports in `grid_report.write_grid_report` with `promptops.reports.render`."""

from __future__ import annotations

from html import escape

from promptops.reports.document import (
    Banner,
    Block,
    BulletList,
    Cell,
    Chart,
    Code,
    Document,
    Heading,
    Num,
    Paragraph,
    Span,
    Status,
    Strong,
    Table,
)


def _md_span(s: Span) -> str:
    out = []
    for part in s:
        if isinstance(part, Strong):
            out.append(f"**{part.text}**")
        elif isinstance(part, Code):
            out.append(f"`{part.text}`")
        else:
            out.append(part.text)
    return "".join(out).replace("|", "\\|")


def _md_cell(c: Cell) -> str:
    if isinstance(c, Num):
        return c.text
    if isinstance(c, Status):
        return c.text if c.passed else f"**{c.text}**"
    return _md_span(c)


def _md_block(b: Block) -> list[str]:
    if isinstance(b, Heading):
        return ["#" * b.level + " " + b.text, ""]
    if isinstance(b, Paragraph):
        return [_md_span(b.content), ""]
    if isinstance(b, BulletList):
        return [*(f"- {_md_span(i)}" for i in b.items), ""]
    if isinstance(b, Table):
        lines = ["| " + " | ".join(b.headers) + " |", "|" + "---|" * len(b.headers)]
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
        return [*lines, ""]
    if isinstance(b, Chart):
        return [f"*{b.title}*", "", *(x for f in b.fallback for x in _md_block(f))]
    if isinstance(b, Banner):
        mark = "PASS" if b.passed else "FAIL"
        return [f"> **{mark}**: {_md_span(b.headline)}", "", *_md_blocks(b.body)]
    return [f"**{b.summary}**", "", *_md_blocks(b.body)]


def _md_blocks(blocks: tuple[Block, ...]) -> list[str]:
    return [line for b in blocks for line in _md_block(b)]


def render_markdown(doc: Document) -> str:
    lines = [f"# {doc.title}", ""]
    lines += [f"- {name}: {_md_span(value)}" for name, value in doc.meta]
    lines += [""] if doc.meta else []
    for section in doc.sections:
        lines += [f"## {section.title}", "", *_md_blocks(section.blocks)]
    return "\n".join(lines).rstrip() + "\n"


def _h_span(s: Span) -> str:
    out = []
    for part in s:
        text = escape(part.text)
        out.append(
            f"<strong>{text}</strong>"
            if isinstance(part, Strong)
            else f"<code>{text}</code>"
            if isinstance(part, Code)
            else text
        )
    return "".join(out)


def _h_cell(c: Cell) -> str:
    if isinstance(c, Num):
        return f'<td class="num">{escape(c.text)}</td>'
    if isinstance(c, Status):
        return f'<td class="{"ok" if c.passed else "bad"}">{escape(c.text)}</td>'
    return f"<td>{_h_span(c)}</td>"


def _scatter_svg(chart: Chart) -> str:
    points = [(str(r[0]), r[1], r[2], r[3]) for r in chart.data]
    xs = [float(x) for _, x, _, _ in points if isinstance(x, int | float)]
    ys = [float(y) for _, _, y, _ in points if isinstance(y, int | float)]
    if not xs or not ys:
        return ""
    w, h, pad = 520, 300, 40
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1
    parts = [f'<svg width="{w}" height="{h}" role="img" aria-label="{escape(chart.title)}">']
    for name, x, y, flag in points:
        if not isinstance(x, int | float) or not isinstance(y, int | float):
            continue
        cx = pad + (float(x) - x0) / (x1 - x0) * (w - 2 * pad)
        cy = h - pad - (float(y) - y0) / (y1 - y0) * (h - 2 * pad)
        fill = "#1a7f37" if flag else "#888"
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{fill}"/>'
            f'<text x="{cx + 7:.1f}" y="{cy - 7:.1f}" font-size="11">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _h_block(b: Block) -> str:
    if isinstance(b, Heading):
        return f"<h{b.level}>{escape(b.text)}</h{b.level}>"
    if isinstance(b, Paragraph):
        return f"<p>{_h_span(b.content)}</p>"
    if isinstance(b, BulletList):
        return "<ul>" + "".join(f"<li>{_h_span(i)}</li>" for i in b.items) + "</ul>"
    if isinstance(b, Table):
        head = "".join(f"<th>{escape(x)}</th>" for x in b.headers)
        body = "".join("<tr>" + "".join(_h_cell(c) for c in r) + "</tr>" for r in b.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(b, Chart):
        inner = _scatter_svg(b) if b.kind == "scatter" else ""
        rest = "".join(_h_block(f) for f in b.fallback)
        return f"<figure><figcaption>{escape(b.title)}</figcaption>{inner}{rest}</figure>"
    if isinstance(b, Banner):
        cls = "ok" if b.passed else "bad"
        body = "".join(_h_block(x) for x in b.body)
        return f'<div class="banner {cls}"><p>{_h_span(b.headline)}</p>{body}</div>'
    body = "".join(_h_block(x) for x in b.body)
    return f"<details><summary>{escape(b.summary)}</summary>{body}</details>"


_STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px}"
    "td.num{text-align:right}td.bad{color:#b00;font-weight:bold}"
    ".banner{padding:8px;border-left:4px solid #1a7f37;background:#f3faf5}"
)


def render_html(doc: Document) -> str:
    meta = "".join(f"<li>{escape(n)}: {_h_span(v)}</li>" for n, v in doc.meta)
    sections = "".join(
        f'<section id="{escape(s.anchor)}"><h2>{escape(s.title)}</h2>'
        + "".join(_h_block(b) for b in s.blocks)
        + "</section>"
        for s in doc.sections
    )
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(doc.title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{escape(doc.title)}</h1><ul>{meta}</ul>"
        f"{sections}</body></html>\n"
    )
