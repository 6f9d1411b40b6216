"""The two report backends render any `Document`: Markdown byte-stable and escaped, HTML
self-contained and escaped by construction, both saying the same things."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from promptops.reports.document import (
    Banner,
    BulletList,
    Chart,
    CodeBlock,
    Details,
    Document,
    Heading,
    Num,
    Paragraph,
    Section,
    Status,
    Strong,
    Table,
    Text,
    span,
)
from promptops.reports.render import escape, render_html, render_markdown

HOSTILE = "<script>alert(1)</script> | `x` *y* [a](b)\nsecond line"


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def doc() -> Document:
    return Document(
        title=f"Report: {HOSTILE}",
        intro=(Paragraph(span(HOSTILE)),),
        meta=(("Model", span(Text("gpt <x>"), " at ", Num("$0.0100"))),),
        sections=(
            Section(
                "verdict",
                "Verdict",
                (
                    Banner(False, span(Strong("FAIL"), ": 1 of 2 failed.")),
                    Table(
                        ("Metric", "Actual", "Result", "Text"),
                        (
                            (span("acc"), Num("0.700"), Status(True, "pass"), span(HOSTILE)),
                            (span("f1"), Num("< 0.001"), Status(False, "FAIL"), ()),
                        ),
                        flagged=(False, True),
                    ),
                    Paragraph(span(Strong("Warning."), " ", HOSTILE), tone="warning"),
                ),
            ),
            Section(
                "chart",
                "Only a chart",
                (Chart("bars", "Scores", (("a", 0.5, 0.25), ("b", 1.0, 0.75)), series=("x", "y")),),
            ),
            Section("sub", "A sub-part", (BulletList((span("one"), span("two"))),), level=3),
            Section("diff", "Diff", (CodeBlock("+added ``` fence\n-removed", "diff"),)),
            Section(
                "more",
                "More",
                (
                    Heading("Deeper", level=3),
                    Details("Folded", (Paragraph(span("inside")),)),
                    Chart(
                        "whiskers",
                        "CI",
                        (("m", 0.1, -0.1, 0.3),),
                        reference=0.0,
                        fallback=(Paragraph(span("fallback text")),),
                    ),
                ),
            ),
            Section("run", "Run details", (Paragraph(span("took 1 s")),), volatile=True),
        ),
        footer="Rendered by a test.",
    )


def test_markdown_layout_is_fixed_and_escaped() -> None:
    md = render_markdown(doc())
    lines = md.split("\n")
    assert md.endswith("\n") and not md.endswith("\n\n")
    assert all(line == line.rstrip() for line in lines)
    assert lines[0] == f"# Report: {escape(HOSTILE)}"
    assert "- Model: gpt \\<x\\> at $0.0100" in lines  # spaces between parts kept, Num raw
    assert "**FAIL**: 1 of 2 failed." in lines
    assert "| f1 | < 0.001 | **FAIL** |   |" in lines  # an empty cell keeps its column
    assert f"> **Warning.** {escape(HOSTILE)}" in lines
    assert "### A sub-part" in lines and "## Only a chart" not in md  # chart without fallback
    assert "fallback text" in md and "Run details" not in md and "took 1 s" not in md
    assert "````diff" in lines  # the fence outgrows the backticks inside
    assert "**Folded**" in lines and "### Deeper" in lines
    assert render_markdown(doc()) == md


def test_markdown_tables_parse_with_their_columns_and_no_markup() -> None:
    tokens = MarkdownIt("commonmark").enable("table").parse(render_markdown(doc()))
    kinds = {t.type for t in tokens} | {c.type for t in tokens for c in (t.children or [])}
    assert "html_inline" not in kinds and "html_block" not in kinds and "link_open" not in kinds
    rows = [t for t in tokens if t.type == "tr_open"]
    assert len(rows) == 3


def test_escape_keeps_one_line_and_readable_labels() -> None:
    assert escape("a\r\nb\u202ec") == "a ↵ bc"
    assert escape("card_arrival _x_") == "card_arrival \\_x\\_"
    assert escape("x" * 10, 5) == "xxxx…"


def test_html_escapes_every_text_and_loads_nothing() -> None:
    page = render_html(doc())
    parsed = Tags()
    parsed.feed(page)
    assert "script" not in parsed.tags and "a" in parsed.tags
    assert "<script>alert(1)</script>" in "".join(parsed.text)  # shown as text, never run
    assert "Content-Security-Policy" in page and " src=" not in page and "<link" not in page
    assert '<tr class="flag">' in page and '<span class="bad">FAIL</span>' in page
    assert '<td class="num">&lt; 0.001</td>' in page
    assert '<p class="warning"><strong>Warning.</strong>' in page
    assert '<span class="add">+added ``` fence</span>' in page
    assert '<div class="banner fail"><div class="status">FAIL: 1 of 2 failed.</div>' in page
    assert "took 1 s" in page and "<footer>Rendered by a test.</footer>" in page


def test_html_nav_links_every_section_and_charts_are_svg() -> None:
    page = render_html(doc())
    for anchor in ("verdict", "chart", "sub", "diff", "more", "run"):
        assert f'href="#{anchor}"' in page and f'<section id="{anchor}">' in page
    svgs = page.split('<div class="chart">')[1:]
    assert len(svgs) == 2
    for piece in svgs:
        root = ET.fromstring(piece.split("</div>")[0])
        assert root.tag.endswith("svg")


@pytest.mark.parametrize("limit", [None, 5])
def test_html_clips_only_limited_text_at_its_own_longer_limit(limit: int | None) -> None:
    long = "y" * 700
    page = render_html(
        Document("t", sections=(Section("s", "S", (Paragraph((Text(long, limit),)),)),))
    )
    assert (long in page) is (limit is None)
    assert ("y" * 599 + "…" in page) is (limit is not None)
