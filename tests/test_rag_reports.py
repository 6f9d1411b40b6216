"""The RAG report writers: byte-stable Markdown without volatile data, a self-contained HTML
page with inline SVG charts, and hostile strings from the corpus or the model kept inert."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from _report_util import HOSTILE
from promptops.reports import rag
from promptops.reports import render_html as render_rag_html
from promptops.reports import render_markdown as render_rag_markdown
from promptops.reports.rag import guard_sentence, measure_name
from promptops.reports.registry import REPORT_KINDS, write_all
from promptops.runs import rag_summary as rs
from promptops.runs.summary import Finding, PromptInfo, ThresholdResult, Usage

METRICS = ["recall@4", "p@4", "hit@4", "mrr", "ndcg@4", "map"]


def values(base: float) -> dict[str, float]:
    return {m: round(base - 0.05 * i, 4) for i, m in enumerate(METRICS)}


def guard(overflowed: int, dropped: int, truncated: int) -> rs.GuardCounts:
    return rs.GuardCounts(
        questions=40,
        overflowed=overflowed,
        refused=0,
        chunks_retrieved=160,
        chunks_delivered=160 - dropped,
        chunks_dropped=dropped,
        chunks_truncated=truncated,
    )


def answer(i: int, text: str) -> rs.AnswerView:
    return rs.AnswerView(
        id=f"q{i}",
        question=text,
        gold=[HOSTILE[(i + 1) % len(HOSTILE)]],
        answer=HOSTILE[(i + 2) % len(HOSTILE)] + " [1]",
        delivered=[f"doc#{i}"],
        relevant_delivered=i % 2,
        token_f1=0.1 * i,
        rouge_l=0.05 * i,
        support=0.5,
        unsupported_rate=1.0,
        unsupported_claims=[f'#0 “{HOSTILE[i % len(HOSTILE)]}”: number "198{i}" not found in [1]'],
    )


def volatile(seed: int = 1) -> rs.RagVolatile:
    return rs.RagVolatile(
        run_id=f"covid_qa-2025010{seed}T000000Z-abcdef12",
        started_at=f"2025-01-0{seed}T00:00:00+00:00",
        finished_at=f"2025-01-0{seed}T00:03:00+00:00",
        duration_s=180.5 + seed,
        retrieval_s=20.25,
        generation_s=150.125,
        latency_p50_s=2.5,
        latency_p95_s=4.75,
        latency_p99_s=None,
        cache_hits=seed,
        cache_misses=40 - seed,
        retries=0,
    )


def make_summary(*, passed: bool = True, n_overflows: int = 3, sweep: bool = True) -> rs.RagSummary:
    pipelines = [
        rs.PipelineMetrics(
            retriever=name,
            stage=stage,
            label=name if stage == "first_stage" else f"{name} + minilm-fusion",
            generates=(name, stage) == ("hybrid", "reranked"),
            retrieved=values(0.8 - 0.1 * i),
            delivered=values(0.7 - 0.1 * i),
            guard=guard(n_overflows, 2 * n_overflows, n_overflows),
        )
        for i, (name, stage) in enumerate(
            (n, s) for n in ("bm25", "dense", "hybrid") for s in ("first_stage", "reranked")
        )
    ]
    overflows = [
        rs.OverflowView(
            id=f"q{i}",
            needed=700,
            budget=600,
            delivered=[f"doc#{i}", f"doc#{i + 1}"],
            dropped=[f"doc#{i + 2}", HOSTILE[i % len(HOSTILE)]],
            truncated=None if i == 1 else f"doc#{i + 1}",
            refused="the context needs 700 tokens but the budget is 600" if i == 1 else None,
        )
        for i in range(n_overflows)
    ]
    generation = rs.GenerationSection(
        pipeline="hybrid + minilm-fusion",
        n_questions=40,
        n_errors=1,
        metrics={"rouge_l": 0.2345, "bleu": 0.0512, "exact_match": 0.0, "token_f1": 0.3123},
        grounding=rs.GroundingFigures(
            threshold=0.8,
            answers=39,
            answers_citing=12,
            sentences=55,
            invalid_citations=2,
            validity=0.9,
            coverage=0.25,
            support=0.71,
            unsupported_rate=0.44,
        ),
        guard=guard(n_overflows, 2 * n_overflows, n_overflows),
        overflows=overflows,
        worst=[answer(i, text) for i, text in enumerate(HOSTILE[:5])],
        errors=[
            rs.AnswerView(
                id="q9",
                question="why?",
                gold=["because"],
                answer=None,
                delivered=[],
                relevant_delivered=0,
                token_f1=0.0,
                rouge_l=0.0,
                support=None,
                unsupported_rate=None,
                error="embedded: HTTP 500 server (gave up) after 7 attempts: <b>boom</b>",
            )
        ],
        usage=Usage(prompt_tokens=24000, completion_tokens=2100, cost_usd=0.0),
    )
    sweep_section = None
    if sweep:
        points = [
            rs.SweepPoint(
                size=size,
                overlap=overlap,
                n_chunks=30000 // size,
                pipelines=[
                    rs.SweepPipeline(
                        retriever=p.retriever,
                        stage=p.stage,
                        label=p.label,
                        metrics=values(0.5 + size / 2048 + overlap / 1000),
                    )
                    for p in pipelines
                ],
            )
            for size in (128, 256, 512)
            for overlap in (0, 32)
        ]
        sweep_section = rs.SweepSection(
            k=4,
            metrics=METRICS,
            primary_metric="ndcg@4",
            points=points,
            best=[
                rs.SweepBest(label=p.label, size=512, overlap=32, value=0.582) for p in pipelines
            ],
        )
    return rs.RagSummary(
        suite="covid_qa",
        description=HOSTILE[0],
        prompt=PromptInfo(
            name="rag_answer", version="1.0.0", identity="rag_answer@1.0.0", content_hash="c" * 64
        ),
        model=rs.RagModelInfo(
            profile="embedded",
            model="smollm2-135m-instruct",
            base_url=None,
            temperature=0.0,
            max_tokens=64,
        ),
        corpus=rs.CorpusInfo(
            path="evalsets/covid_qa/corpus.jsonl", sha256="a" * 64, n_docs=20, n_chunks=600
        ),
        questions=rs.QuestionsInfo(
            path="evalsets/covid_qa/queries.jsonl",
            sha256="b" * 64,
            n_questions=80,
            n_judged=80,
            n_generated=40,
        ),
        chunking=rs.ChunkingInfo(size=128, overlap=32, encoding="o200k_base"),
        retrieval=rs.RetrievalSection(
            relevance="a chunk is relevant when it overlaps an answer span",
            k=4,
            metrics=METRICS,
            n_judged=80,
            unjudged=[],
            reranker=rs.RerankInfo(
                name="minilm-fusion",
                candidates=20,
                config={"alpha": 0.4},
                tuning=rs.AlphaTuningInfo(
                    alpha=0.4,
                    metric="ndcg@4",
                    dev_questions=38,
                    test_questions=42,
                    grid={"0.0": 0.41, "0.4": 0.52, "1.0": 0.5},
                ),
            ),
            context=rs.ContextInfo(
                policy="truncate", context_window=768, max_tokens=64, counter="smollm2 tokenizer"
            ),
            pipelines=pipelines,
            rerank_tests=[
                rs.RerankTest(
                    retriever="bm25",
                    metric="ndcg@4",
                    questions="test",
                    n=42,
                    mean_before=0.61,
                    mean_after=0.52,
                    mean_difference=-0.09,
                    better=4,
                    worse=15,
                    p_permutation=0.0123,
                    p_wilcoxon=0.0101,
                    verdict="hurt",
                ),
            ],
        ),
        generation=generation,
        sweep=sweep_section,
        findings=[
            Finding(check="relevance", severity="warning", message=HOSTILE[3], details=[HOSTILE[6]])
        ],
        thresholds=[
            ThresholdResult(
                metric="retrieval.recall@4", op=">=", value=0.5, actual=0.6, passed=True
            ),
            ThresholdResult(
                metric="grounding.support", op=">=", value=0.8, actual=0.71, passed=passed
            ),
        ],
        passed=passed,
        volatile=volatile(),
    )


@pytest.fixture(scope="module")
def summary() -> rs.RagSummary:
    return make_summary()


def md_parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def test_markdown_ignores_volatile_and_renders_from_json(summary: rs.RagSummary) -> None:
    markdown = render_rag_markdown(summary)
    other = summary.model_copy(update={"volatile": volatile(seed=2)})
    assert render_rag_markdown(other).encode() == markdown.encode()
    assert render_rag_html(other) != render_rag_html(summary)
    for value in (summary.volatile.run_id, "180.5", "latency", "cache"):
        assert value not in markdown
    # summary.json is written with sorted keys: the reports must not follow dict order
    stored = json.dumps(summary.model_dump(mode="json"), sort_keys=True)
    reloaded = rs.RagSummary.model_validate_json(stored)
    assert render_rag_markdown(reloaded) == markdown
    assert render_rag_html(reloaded) == render_rag_html(summary)


def test_markdown_layout_and_numbers(summary: rs.RagSummary) -> None:
    markdown = render_rag_markdown(summary)
    assert markdown.endswith("\n") and not markdown.endswith("\n\n")
    assert all(line == line.rstrip() for line in markdown.split("\n"))
    headings = [line for line in markdown.split("\n") if line.startswith("## ")]
    assert headings == [
        "## Verdict",
        "## Retrieval",
        "## Generation",
        "## Chunking sweep (retrieval only)",
        "## Findings",
        "## Usage",
    ]
    assert (
        "| hybrid + minilm-fusion (generates) | 0.300 | 0.250 | 0.200 | 0.150 | 0.100 | 0.050 |"
        in markdown
    )
    delivered = "| 0.200 | 0.150 | 0.100 | 0.050 | 0.000 | -0.050 | 3 | 6 | 3 |"
    assert f"| hybrid + minilm-fusion (generates) {delivered}" in markdown
    assert "| ROUGE-L F1 | 0.234 |" in markdown and "| Token F1 | 0.312 |" in markdown
    assert "| Support (mean per answer) | 0.710 |" in markdown
    assert "3 of 40 questions overflowed the context (policy truncate): 6 of 160" in markdown
    assert "**PASS**: all 2 thresholds passed." in markdown
    assert "| 512 | 32 | 58 |" in markdown
    assert "12 of 39 answers cite a passage" in markdown
    assert "| Truncated | Refused |" in markdown
    assert "| q1 | 700 | 600 | doc#1, doc#2 | doc#3, " in markdown
    assert "| none | the context needs 700 tokens but the budget is 600 |" in markdown
    assert "Refused" not in render_rag_markdown(make_summary(n_overflows=1))


def test_markdown_tables_keep_their_columns_and_no_markup(summary: rs.RagSummary) -> None:
    markdown = render_rag_markdown(summary)
    tokens = md_parser().parse(markdown)
    tables, widths = 0, []
    for tok in tokens:
        if tok.type == "table_open":
            tables, widths = tables + 1, []
        elif tok.type == "tr_open":
            widths.append(0)
        elif tok.type in ("th_open", "td_open"):
            widths[-1] += 1
        elif tok.type == "table_close":
            assert len(set(widths)) == 1, widths
    assert tables == 12  # with the rerank tests table
    forbidden = {
        "html_inline",
        "html_block",
        "link_open",
        "image",
        "code_inline",
        "fence",
        "em_open",
    }
    found = {tok.type for tok in tokens} | {c.type for tok in tokens for c in tok.children or []}
    assert not found & forbidden
    assert "<script>" not in md_parser().render(markdown)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend((tag, name, value) for name, value in attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_self_contained_and_hostile_strings_stay_text(summary: rs.RagSummary) -> None:
    page = render_rag_html(summary)
    parser = _Parser()
    parser.feed(page)
    assert "<script" not in page.lower() and "img" not in parser.tags
    assert parser.tags.count("h1") == 1
    for tag, name, value in parser.attrs:
        assert not name.startswith("on") and name != "src", (tag, name)
        if name == "href":
            assert value is not None and value.startswith("#")
    assert "Content-Security-Policy" in page
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in page
    assert html.escape("<b>boom</b>") in page
    assert summary.volatile.run_id in page and "20.250 s" in page


def test_html_charts_are_well_formed_svg(summary: rs.RagSummary) -> None:
    page = render_rag_html(summary)
    svgs = [ET.fromstring(s) for s in re.findall(r"<svg .*?</svg>", page, flags=re.S)]
    titles = [s.get("aria-label") for s in svgs]
    assert titles == [
        "Retrieval per pipeline (as retrieved)",
        "Recall@4 before and after the context guard",
        "Answer quality and grounding",
        "nDCG@4 per chunk size/overlap",
        "nDCG@4 per chunk size/overlap",
    ]
    bars = svgs[0].findall(".//{http://www.w3.org/2000/svg}rect[@class='bar']")
    assert len(bars) == 6 * len(rag.chart_metrics(METRICS))
    assert render_rag_html(summary) == page


def test_long_overflow_lists_point_to_results_and_retrieval_only_runs(
    summary: rs.RagSummary,
) -> None:
    many = make_summary(n_overflows=rag.LISTED + 5, sweep=False)
    markdown = render_rag_markdown(many)
    assert "5 more in results.jsonl." in markdown and "5 more in results.jsonl." in render_rag_html(
        many
    )
    retrieval_only = summary.model_copy(update={"generation": None})
    text = render_rag_markdown(retrieval_only)
    assert "Nothing was generated in this run (retrieval only)." in text and "## Usage" not in text
    assert "Nothing was generated" in render_rag_html(retrieval_only)
    failing = render_rag_markdown(make_summary(passed=False))
    assert "**FAIL**: 1 of 2 thresholds failed." in failing


def test_words_shared_by_both_reports() -> None:
    assert measure_name("ndcg@10") == "nDCG@10" and measure_name("p@5") == "Precision@5"
    assert measure_name("mrr") == "MRR" and measure_name("odd@3") == "odd@3"
    quiet = guard(0, 0, 0)
    assert guard_sentence(quiet, "drop").startswith("Every question's 160 retrieved chunks fit")


def test_writers_are_registered_for_rag(tmp_path: Path, summary: rs.RagSummary) -> None:
    kind = REPORT_KINDS.get("rag")
    assert (kind.markdown, kind.html) == ("report.md", "report.html")
    paths = write_all(summary, tmp_path)
    assert sorted(p.name for p in paths) == ["report.html", "report.md"]
    assert (tmp_path / "report.md").read_text() == render_rag_markdown(summary)


def test_reasons_and_rerank_tests_reach_both_reports(summary: rs.RagSummary) -> None:
    markdown = render_rag_markdown(summary)
    page = render_rag_html(summary)
    assert 'number "1980" not found in \\[1\\]' in markdown
    assert "number &quot;1980&quot; not found in [1]" in page
    for text in (markdown, page):
        assert "Did reranking help?" in text
        assert "chosen on 38 dev questions" in text and "only the other 42 questions" in text
        assert "42 test" in text and "hurt" in text and "0.012" in text
