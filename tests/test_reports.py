"""Report writers: stable Markdown, self-contained HTML, SVG charts, escaping, registry."""

from __future__ import annotations

import html
import os
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from _report_util import HOSTILE, HOSTILE_LABEL, make_summary, volatile
from promptops.errors import ConfigError
from promptops.registry import Registry
from promptops.reports import (
    REPORT_KINDS,
    ReportKind,
    fmt,
    registry,
    render_html,
    render_markdown,
    svg,
    write_reports,
)
from promptops.reports.backends.markdown import LINE_BREAK, escape
from promptops.reports.classification import classification_document
from promptops.runs.summary import ClassificationSummary, ReliabilityBin

SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def summary() -> ClassificationSummary:
    return make_summary()


@pytest.fixture(scope="module")
def markdown(summary: ClassificationSummary) -> str:
    return render_markdown(summary)


@pytest.fixture(scope="module")
def page(summary: ClassificationSummary) -> str:
    return render_html(summary)


def md_parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


# --- number formatting -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: fmt.num(0.5), "0.500"),
        (lambda: fmt.num(0.12345), "0.123"),
        (lambda: fmt.num(-0.0004), "0.000"),
        (lambda: fmt.num(None), "n/a"),
        (lambda: fmt.signed(0.05), "+0.050"),
        (lambda: fmt.signed(-0.0004), "+0.000"),
        (lambda: fmt.signed(-0.25), "-0.250"),
        (lambda: fmt.pct(0.1234), "12.3%"),
        (lambda: fmt.pct(1.0), "100.0%"),
        (lambda: fmt.pvalue(0.0004), "< 0.001"),
        (lambda: fmt.pvalue(0.05), "0.050"),
        (lambda: fmt.interval(0.7123, 0.79), "[0.712, 0.790]"),
        (lambda: fmt.interval(-0.01, 0.2, sign=True), "[-0.010, +0.200]"),
        (lambda: fmt.level(0.95), "95%"),
        (lambda: fmt.level(0.975), "97.5%"),
        (lambda: fmt.count(12345), "12,345"),
        (lambda: fmt.seconds(1.23456), "1.235 s"),
        (lambda: fmt.money(0.01234), "$0.0123"),
        (lambda: fmt.rule_text(">=", 0.7), "≥ 0.700"),
    ],
)
def test_fmt_fixed_precision(call: object, expected: str) -> None:
    assert callable(call)
    assert call() == expected


# --- Markdown ----------------------------------------------------------------------------


def test_markdown_byte_identical_when_only_volatile_differs(summary: ClassificationSummary) -> None:
    other = summary.model_copy(update={"volatile": volatile(seed=3)})
    assert other.volatile != summary.volatile
    assert render_markdown(other).encode() == render_markdown(summary).encode()
    # ... but HTML shows the run details, so it does change.
    assert render_html(other) != render_html(summary)


def test_markdown_changes_when_answers_change(summary: ClassificationSummary) -> None:
    metrics = summary.metrics.model_copy(update={"accuracy": 0.5})
    changed = render_markdown(summary.model_copy(update={"metrics": metrics}))
    assert changed != render_markdown(summary)


def test_markdown_leaves_out_every_volatile_value(
    summary: ClassificationSummary, markdown: str
) -> None:
    v = summary.volatile
    for value in (
        v.run_id,
        v.started_at,
        v.finished_at,
        fmt.seconds(v.latency_p95_s),
        fmt.seconds(v.duration_s),
        "cache",
        "latency",
        "Run details",
    ):
        assert value not in markdown


def test_markdown_renders_from_summary_json(summary: ClassificationSummary) -> None:
    reloaded = ClassificationSummary.model_validate_json(summary.model_dump_json())
    assert render_markdown(reloaded) == render_markdown(summary)
    assert render_html(reloaded) == render_html(summary)


def test_markdown_layout(markdown: str) -> None:
    assert markdown.endswith("\n") and not markdown.endswith("\n\n")
    assert "\r" not in markdown
    assert all(line == line.rstrip() for line in markdown.split("\n"))
    headings = [line for line in markdown.split("\n") if line.startswith("## ")]
    assert headings == [
        "## Verdict",
        "## Headline metrics",
        "## Baselines",
        "## Per-class metrics",
        "## Confusion matrix",
        "## Calibration",
        "## Slices",
        "## Worst cases",
        "## Pre-flight findings",
        "## Repeats",
        "## Errors and invalid outputs",
        "## Usage",
    ]
    assert markdown.startswith("# Eval report: banking-intents\n")
    assert "- Prompt: intent@1.3.0 (content hash 9f2c4e1ab37d5c88e0f1a2b3c4d5e6f7)" in markdown
    assert "**PASS**: all 2 thresholds passed." in markdown
    assert "The prompt beats the best baseline, tfidf_logreg." in markdown
    assert "95% CI from +0.031 to +0.129" in markdown
    assert "The paired sign-flip permutation test on Macro-F1 decides:" in markdown
    assert "shown only: it does not decide" in markdown
    assert (
        "Minimum detectable difference (80% power, alpha 0.05, 300 cases, against the "
        "tfidf_logreg baseline): 0.061 in Macro-F1" in markdown
    )
    assert "| tfidf_logreg (best) | ok | 0.701 | 0.664 |" in markdown


def test_markdown_says_when_a_suite_is_too_small_and_must_beat_is_not_demonstrated() -> None:
    base = make_summary()
    small = base.model_copy(deep=True)
    best = next(b for b in small.baselines if b.name == "tfidf_logreg")
    assert best.decision is not None
    best.decision = best.decision.model_copy(
        update={"outcome": "too_small", "p_value": 0.125, "discordant": 4, "smallest_p": 0.125}
    )
    best.prompt_significantly_better = False
    small.verdict = small.verdict.model_copy(update={"beats_best_baseline": False})
    small.thresholds.append(
        small.thresholds[0].model_copy(
            update={
                "metric": "beats_tfidf_logreg_baseline",
                "passed": False,
                "note": "not demonstrated (the suite is too small to decide)",
            }
        )
    )
    text = render_markdown(small)
    assert "The prompt is not shown to beat the best baseline" in text
    assert "Too small to decide: only 4 cases answered differently" in text
    assert "not demonstrated (the suite is too small to decide)" in text
    assert "too small to decide |" in text
    assert render_markdown(small) == text
    page = render_html(small)
    assert "Too small to decide" in page and "not demonstrated" in page


def test_markdown_says_fail_in_plain_words() -> None:
    text = render_markdown(make_summary(passed=False))
    assert "**FAIL**: 1 of 2 thresholds failed." in text
    assert "| Invalid-output rate | ≤ 0.001 | 0.027 | **FAIL** |" in text


def table_blocks(text: str) -> list[list[str]]:
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in [*text.split("\n"), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    return blocks


def test_markdown_tables_keep_their_columns_with_hostile_strings(markdown: str) -> None:
    blocks = table_blocks(markdown)
    assert len(blocks) >= 10
    for block in blocks:
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in block}
        # an escaped pipe is "\|" but "\\|" is an escaped backslash then a real pipe
        assert len(widths) == 1, block
    # The same check with a real CommonMark + GFM-table parser.
    tokens = md_parser().parse(markdown)
    tables = 0
    cells: list[int] = []
    for tok in tokens:
        if tok.type == "table_open":
            tables += 1
            cells = []
        elif tok.type == "tr_open":
            cells.append(0)
        elif tok.type in ("th_open", "td_open"):
            cells[-1] += 1
        elif tok.type == "table_close":
            assert len(set(cells)) == 1, cells
    assert tables == len(blocks)


def test_markdown_has_no_markup_from_hostile_strings(markdown: str) -> None:
    forbidden = {
        "html_inline",
        "html_block",
        "link_open",
        "image",
        "code_inline",
        "fence",
        "code_block",
        "s_open",
        "em_open",
        "blockquote_open",
    }
    found = set()
    for tok in md_parser().parse(markdown):
        found.add(tok.type)
        found.update(child.type for child in tok.children or [])
    assert not found & forbidden
    assert "<script>" not in md_parser().render(markdown)


def plain(text: str) -> str:
    return LINE_BREAK.join(line.strip() for line in text.splitlines() if line.strip())


@pytest.mark.parametrize("hostile", [*HOSTILE, HOSTILE_LABEL])
def test_escape_keeps_hostile_text_literal_in_a_table_cell(hostile: str) -> None:
    escaped = escape(hostile)
    assert "\n" not in escaped and "\r" not in escaped
    tokens = md_parser().parse(f"| a | b |\n|---|---|\n| {escaped} | x |\n")
    cells = [t for t in tokens if t.type == "inline"]
    assert len(cells) == 4  # two header cells, two body cells: nothing split or merged
    body = cells[2]
    assert [child.type for child in body.children or []] == ["text"]
    assert (body.children or [])[0].content == plain(hostile)


def test_escape_handles_controls_and_limits() -> None:
    assert escape("a\tb\x00c\x1b[31m\u202eevil") == "a bc\\[31mevil"
    assert escape("line\r\n\r\nnext") == "line ↵ next"
    assert escape("card_arrival") == "card_arrival"  # intraword underscore stays bare
    assert escape("_it_") == "\\_it\\_"
    assert escape("x" * 50, limit=10) == "x" * 9 + "…"


def test_markdown_numbers_have_fixed_precision(
    summary: ClassificationSummary, markdown: str
) -> None:
    section = markdown.split("## Per-class metrics")[1].split("##")[0]
    rows = [line for line in section.split("\n") if line.startswith("| ") and "Label" not in line]
    assert len(rows) == 6
    for label, row in zip(summary.labels[:5], rows, strict=False):
        c = summary.metrics.per_class[label]
        assert row == (
            f"| {label} | {c.precision:.3f} | {c.recall:.3f} | {c.f1:.3f} | {c.support} |"
        )
    tables = "\n".join(line for block in table_blocks(markdown) for line in block)
    numbers = re.findall(r"(?<![\w.@])\d+\.\d+%?(?![\w.])", tables)
    assert numbers
    for number in numbers:
        digits = len(number.rstrip("%").split(".")[1])
        assert digits == (1 if number.endswith("%") else 3) or digits == 2, number
    assert re.search(r"invalid outputs: 8 \(2\.7%\)", markdown)


def test_markdown_orders_slices_by_tag_and_flags_the_gap(markdown: str) -> None:
    section = markdown.split("## Slices")[1].split("## ")[0]
    tags = [
        line.split(" | ")[0][2:]
        for line in section.split("\n")
        if line.startswith("| ") and not line.startswith("| Tag")
    ]
    assert tags == sorted(tags)
    flagged = [line for line in section.split("\n") if "**largest gap**" in line]
    assert len(flagged) == 2 and any(line.startswith("| short |") for line in flagged)


def test_markdown_confusion_matrix_matches_counts(
    summary: ClassificationSummary, markdown: str
) -> None:
    section = markdown.split("## Confusion matrix")[1].split("## ")[0]
    rows = [line for line in section.split("\n") if line.startswith("| ")][1:]
    cm = summary.metrics.confusion
    assert len(rows) == len(cm.labels)
    for i, (line, counts) in enumerate(zip(rows, cm.matrix, strict=True)):
        cells = [c.strip().strip("*") for c in re.split(r"(?<!\\)\|", line)[2:-1]]
        assert cells == [str(n) for n in counts]
        assert f"**{counts[i]}**" in line


# --- HTML --------------------------------------------------------------------------------


class PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend((tag, name, value) for name, value in attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


EMITTED_TAGS = {  # every tag the writer emits; anything else was injected
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "main",
    "header",
    "footer",
    "nav",
    "section",
    "div",
    "p",
    "span",
    "strong",
    "h1",
    "h2",
    "h3",
    "dl",
    "dt",
    "dd",
    "a",
    "ul",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "svg",
    "g",
    "rect",
    "line",
    "circle",
    "text",
}


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    parser.close()
    return parser


def test_html_has_no_script_and_no_external_resources(page: str) -> None:
    assert "<script" not in page.lower()
    parsed = parse(page)
    assert set(parsed.tags) <= EMITTED_TAGS  # no <script>, <img>, <link>, ... got through
    assert parsed.tags.count("h1") == 1  # the hostile "<h1>injected</h1>" stayed text
    for tag, name, value in parsed.attrs:
        assert not name.startswith("on"), (tag, name)
        assert name != "src", tag
        if name == "href":
            assert value is not None and value.startswith("#")
    assert "url(" not in page and "@import" not in page
    assert "Content-Security-Policy" in page


def test_html_escapes_every_hostile_string(page: str) -> None:
    text = "".join(parse(page).text)
    for hostile in [*HOSTILE, HOSTILE_LABEL]:
        single_line = hostile.replace("\u2028", " ")
        assert html.escape(hostile) in page or html.escape(single_line) in page, hostile
        assert hostile.split("\n")[0] in text
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in page


def test_html_shows_verdict_and_volatile_details(summary: ClassificationSummary, page: str) -> None:
    assert 'class="banner pass"' in page
    assert "PASS: all 2 thresholds passed." in page
    v = summary.volatile
    for value in (v.run_id, v.started_at, "0.412 s / 1.234 s / 2.500 s", "0 / 300"):
        assert html.escape(value) in page
    failing = render_html(make_summary(passed=False))
    assert 'class="banner fail"' in failing and "FAIL: 1 of 2 thresholds failed." in failing


def test_html_inline_svgs_parse_as_xml(summary: ClassificationSummary, page: str) -> None:
    svgs = re.findall(r"<svg .*?</svg>", page, flags=re.S)
    assert len(svgs) == 5  # headline whiskers, baseline diffs, bars, heat map, reliability
    roots = [ET.fromstring(s) for s in svgs]
    heat = [r for r in roots if r.get("aria-label", "").startswith("Confusion")]
    assert len(heat) == 1
    cells = heat[0].findall(f".//{SVG_NS}rect[@class='cell']")
    assert len(cells) == len(summary.labels) * (len(summary.labels) + 1)


def test_html_is_deterministic(summary: ClassificationSummary, page: str) -> None:
    assert render_html(summary) == page


# --- SVG ---------------------------------------------------------------------------------


def test_confusion_heatmap_has_one_cell_per_entry_with_counts() -> None:
    rows = ["a", HOSTILE[2], "c"]
    cols = [*rows, "invalid"]
    matrix = [[5, 1, 0, 2], [0, 7, 3, 0], [1, 0, 9, 0]]
    root = ET.fromstring(svg.confusion_heatmap(rows, cols, matrix))
    cells = root.findall(f".//{SVG_NS}rect[@class='cell']")
    assert len(cells) == 12
    assert {(c.get("data-row"), c.get("data-col")) for c in cells} == {
        (str(i), str(j)) for i in range(3) for j in range(4)
    }
    tips = [c.find(f"{SVG_NS}title") for c in cells]
    assert (
        tips[4] is not None
        and tips[4].text == f"expected {HOSTILE[2]}, predicted a: 0 (0.0% of row)"
    )
    counts = [
        int(t.text or "")
        for t in root.iter(f"{SVG_NS}text")
        if t.get("text-anchor") == "middle" and (t.text or "").isdigit()
    ]
    assert counts == [n for row in matrix for n in row if n]  # row-major, zero cells blank
    titles = {t.text for t in root.iter(f"{SVG_NS}title")}
    assert HOSTILE[2] in titles  # the full label round-trips, escaped in the markup


def test_grouped_bars_heights_follow_values() -> None:
    root = ET.fromstring(
        svg.grouped_bars(["x", "y"], [("P", [1.0, 0.5]), ("R", [0.25, 0.0])], title="t")
    )
    bars = root.findall(f".//{SVG_NS}rect[@class='bar']")
    assert [float(b.get("height", "nan")) for b in bars] == [200.0, 50.0, 100.0, 0.0]


def test_reliability_diagram_has_diagonal_bins_and_counts() -> None:
    bins = [
        ReliabilityBin(lower=0.0, upper=0.5, count=0, confidence=None, accuracy=None),
        ReliabilityBin(lower=0.5, upper=0.75, count=12, confidence=0.6, accuracy=0.5),
        ReliabilityBin(lower=0.75, upper=1.0, count=30, confidence=0.9, accuracy=0.8),
    ]
    root = ET.fromstring(svg.reliability_diagram(bins))
    assert len(root.findall(f".//{SVG_NS}line[@class='diagonal']")) == 1
    assert len(root.findall(f".//{SVG_NS}rect[@class='bin']")) == 2
    counts = [t.text for t in root.findall(f".//{SVG_NS}text[@class='bin-count']")]
    assert counts == ["12", "30"]
    heights = [
        float(r.get("height", "nan")) for r in root.findall(f".//{SVG_NS}rect[@class='bin']")
    ]
    assert heights == [150.0, 240.0]  # accuracy times the 300 px plot


def test_ci_whiskers_place_estimate_and_reference() -> None:
    root = ET.fromstring(
        svg.ci_whiskers(
            [("d", 0.1, -0.1, 0.3)], title="t", domain=(-0.5, 0.5), reference=0.0, signed=True
        )
    )
    assert len(root.findall(f".//{SVG_NS}g[@class='whisker']")) == 1
    ref = root.find(f".//{SVG_NS}line[@class='reference']")
    dot = root.find(f".//{SVG_NS}circle")
    assert ref is not None and dot is not None
    # estimate 0.1 on a 240 px axis from -0.5 to 0.5 sits 24 px right of the zero line
    assert float(dot.get("cx", "nan")) - float(ref.get("x1", "nan")) == pytest.approx(24.0, abs=0.1)
    assert "+0.100 [-0.100, +0.300]" in ET.tostring(root, encoding="unicode")


def test_svg_text_drops_xml_illegal_characters() -> None:
    root = ET.fromstring(svg.ci_whiskers([("bad\x00\x1b</svg>", 0.5, 0.4, 0.6)], title="t"))
    titles = [t.text for t in root.iter(f"{SVG_NS}title")]
    assert "bad</svg>" in titles


# --- registry and files ------------------------------------------------------------------


def test_report_kinds_are_registered_explicitly() -> None:
    builtins = {"classification", "comparison", "monitor", "rag"}
    # the task kinds' builders live above the reports layer: `lifecycle.run_kinds()` adds them
    tasks = {"binary", "scoring", "extraction", "generation"}
    assert builtins <= set(REPORT_KINDS.names()) <= builtins | tasks
    assert REPORT_KINDS.get("classification").build is classification_document
    with pytest.raises(ConfigError, match=r"unknown report kind 'nope'.*known: .*classification"):
        REPORT_KINDS.get("nope")


def test_a_new_kind_is_one_builder_and_one_registration(
    tmp_path: Path, summary: ClassificationSummary, monkeypatch: pytest.MonkeyPatch
) -> None:
    kinds: Registry[ReportKind[object]] = Registry("report kind")
    registry.register_builtins(kinds)
    with pytest.raises(ConfigError, match="already registered"):
        kinds.register("classification", ReportKind(classification_document))
    kinds.register("renamed", ReportKind(classification_document, "r.md", "r.html"))
    monkeypatch.setattr(registry, "REPORT_KINDS", kinds)
    paths = write_reports(summary.model_copy(update={"kind": "renamed"}), tmp_path)
    assert [p.name for p in paths] == ["r.md", "r.html"]
    assert paths[0].read_text() == render_markdown(summary)


def test_write_reports_writes_both_files(tmp_path: Path, summary: ClassificationSummary) -> None:
    paths = write_reports(summary, tmp_path / "run")
    assert [p.name for p in paths] == ["report.md", "report.html"]
    assert paths[0].read_bytes() == render_markdown(summary).encode("utf-8")
    assert paths[1].read_bytes() == render_html(summary).encode("utf-8")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["report.html", "report.md"]


def test_write_is_atomic_on_failure(
    tmp_path: Path, summary: ClassificationSummary, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_reports(summary, tmp_path)
    before = (tmp_path / "report.md").read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    changed = summary.model_copy(update={"suite": "other"})
    with pytest.raises(OSError, match="disk full"):
        write_reports(changed, tmp_path)
    assert (tmp_path / "report.md").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.md"]


def test_write_all_refuses_unknown_kind(tmp_path: Path, summary: ClassificationSummary) -> None:
    class Other:
        kind = "nothing"

    with pytest.raises(ConfigError, match="unknown report kind 'nothing'"):
        registry.write_all(Other(), tmp_path)
