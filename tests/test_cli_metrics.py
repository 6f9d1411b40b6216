"""`promptops retrieval-metrics` on TREC files, through the real entry point (exit codes too)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import pytrec_eval

from promptops.cli import main
from promptops.metrics import evaluate_retrieval

QRELS = "q1 0 a 2\nq1 0 b 1\nq1 0 c 0\nq2 0 c 1\nq2 0 e 3\nq3 0 z 1\n"
RUN = (
    "q1 Q0 c 1 0.9 t\nq1 Q0 a 2 0.8 t\nq1 Q0 b 3 0.8 t\n"
    "q2 Q0 d 1 0.5 t\nq2 Q0 e 2 0.4 t\nq2 Q0 c 3 0.3 t\n"
    "q9 Q0 a 1 1.0 t\n"
)


def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["promptops", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "qrels.trec").write_text(QRELS)
    (tmp_path / "run.trec").write_text(RUN)
    return str(tmp_path / "qrels.trec"), str(tmp_path / "run.trec")


def test_json_has_the_documented_shape(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], files: tuple[str, str]
) -> None:
    code, out, _ = cli(monkeypatch, capsys, "retrieval-metrics", *files, "-m", "ndcg@10", "--json")
    assert code == 0
    payload = json.loads(out)
    assert set(payload) == {
        "aggregate",
        "per_query",
        "missing_queries",
        "unjudged_queries",
        "judged_fraction",
    }
    assert payload["per_query"] == {}
    # q1 ranks a, b, c (all judged), q2 ranks d (unjudged), e, c; q9 has no judgments.
    assert payload["judged_fraction"] == pytest.approx(5 / 6, abs=1e-12)
    assert payload["missing_queries"] == 1 and payload["unjudged_queries"] == 1
    # trec_eval -c: q3 is judged but not ranked and counts as 0 in the mean.
    qrels = {"q1": {"a": 2, "b": 1, "c": 0}, "q2": {"c": 1, "e": 3}}
    run = {"q1": {"c": 0.9, "a": 0.8, "b": 0.8}, "q2": {"d": 0.5, "e": 0.4, "c": 0.3}}
    theirs = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut_10"}).evaluate(run)
    expected = sum(v["ndcg_cut_10"] for v in theirs.values()) / 3
    assert payload["aggregate"] == {"ndcg@10": pytest.approx(expected, abs=1e-12)}


def test_per_query_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], files: tuple[str, str]
) -> None:
    args = ("retrieval-metrics", *files, "-m", "mrr", "-m", "precision@2", "--per-query", "--json")
    code, out, _ = cli(monkeypatch, capsys, *args)
    assert code == 0
    per_query = json.loads(out)["per_query"]
    # q1: c (grade 0) first, then a and b tied at 0.8: b ranks before a (docid descending).
    assert per_query == {
        "q1": {"mrr": 0.5, "p@2": 0.5},
        "q2": {"mrr": 0.5, "p@2": 0.5},
        "q3": {"mrr": 0.0, "p@2": 0.0},
    }


def test_text_table_matches_the_library(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], files: tuple[str, str]
) -> None:
    code, out, _ = cli(monkeypatch, capsys, "retrieval-metrics", *files, "--per-query")
    assert code == 0
    lines = out.splitlines()
    header = lines[0].split()
    assert header == ["query", "ndcg@10", "map", "mrr", "p@10", "recall@100"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:5]}
    assert list(rows) == ["q1", "q2", "q3", "all"]
    from promptops.metrics.trec import read_qrels, read_run

    result = evaluate_retrieval(read_qrels(files[0]), read_run(files[1]), header[1:])
    assert rows["all"] == [f"{result.aggregate[name]:.4f}" for name in header[1:]]
    assert "1 missing from the run" in lines[5] and "1 run queries without judgments" in lines[5]


@pytest.mark.parametrize(
    ("which", "content", "fragment"),
    [
        ("run", "q1 Q0 a 1 0.9 t\nq1 Q0 b 2 0.8 t\nq1 Q0 a 3 0.1\n", "run.trec:3: expected 6"),
        ("run", "q1 Q0 a 1 0.9 t\n\nq1 Q0 a 2 0.8 t\n", "run.trec:3: document 'a' is listed twice"),
        ("qrels", "q1 0 a 1\nq1 0 b yes\n", "qrels.trec:2: expected an integer grade"),
    ],
)
def test_bad_files_exit_2_with_the_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    files: tuple[str, str],
    which: str,
    content: str,
    fragment: str,
) -> None:
    Path(files[0] if which == "qrels" else files[1]).write_text(content)
    code, out, err = cli(monkeypatch, capsys, "retrieval-metrics", *files)
    assert code == 2
    assert fragment in err
    assert "Traceback" not in err and out == ""


def test_unknown_metrics_exit_2_listing_all(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], files: tuple[str, str]
) -> None:
    args = ("retrieval-metrics", *files, "-m", "ndcg@10", "-m", "rouge", "-m", "p")
    code, _, err = cli(monkeypatch, capsys, *args)
    assert code == 2
    assert "'rouge' (unknown measure)" in err and "'p' (needs a cutoff @k)" in err
