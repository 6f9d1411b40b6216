"""TREC files with trec_eval 10's comment lines, and the judged-coverage warning.

The commented files are built from Cranfield's real qrels and a TF-IDF run, laid out like
trec_eval's own comment fixtures (comments first, consecutive, between lines, and a ``#``
inside a document id), and scored against pytrec_eval on the same data with the comment
lines stripped by hand.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest
import pytrec_eval

from promptops.cli import main
from promptops.metrics import evaluate_retrieval, read_qrels, read_run, write_qrels, write_run
from promptops.metrics.coverage import judged_coverage
from test_retrieval_metrics import TREC_NAMES, cranfield

Qrels = dict[str, dict[str, int]]
Run = dict[str, dict[str, float]]


def _commented(lines: list[str], seed: int) -> list[str]:
    """`lines` with comment lines put first, in runs of two, and at random places."""
    rng = random.Random(seed)
    out = ["# made for promptops' tests\n", "# a second comment line in a row\n"]
    for line in lines:
        if rng.random() < 0.05:
            out.append(rng.choice(["# note\n", "#\n", "#1 0 5 2 looks like data\n"]))
        out.append(line)
    return [*out, "# the last line is a comment without a newline"]


def _strip_comments(text: str) -> list[list[str]]:
    """An independent reading: drop lines starting with '#', split the rest."""
    return [line.split() for line in text.splitlines() if line.strip() and line[0] != "#"]


def _with_hash_ids(qrels: Qrels, run: Run) -> tuple[Qrels, Run]:
    """Add documents whose ids hold a '#' (not a comment), judged and retrieved."""
    qrels = {q: dict(g) for q, g in qrels.items()}
    run = {q: dict(s) for q, s in run.items()}
    qrels["1"]["18#60"] = 3
    qrels["2"]["#x"] = 2
    run["1"]["18#60"] = max(run["1"].values()) + 1.0
    run["2"]["#x"] = min(run["2"].values()) - 1.0
    return qrels, run


def test_commented_files_score_like_trec_eval_on_the_stripped_data(tmp_path: Path) -> None:
    qrels, run = _with_hash_ids(*cranfield())
    write_qrels(tmp_path / "plain.qrels", qrels)
    write_run(tmp_path / "plain.run", run, tag="tfidf")
    qrels_text = "".join(
        _commented((tmp_path / "plain.qrels").read_text().splitlines(keepends=True), seed=1)
    )
    run_text = "".join(
        _commented((tmp_path / "plain.run").read_text().splitlines(keepends=True), seed=2)
    )
    assert qrels_text.count("\n#") > 10 and run_text.count("\n#") > 100
    (tmp_path / "c.qrels").write_text(qrels_text)
    (tmp_path / "c.run").write_text(run_text)

    ours_qrels, ours_run = read_qrels(tmp_path / "c.qrels"), read_run(tmp_path / "c.run")
    assert ours_qrels["1"]["18#60"] == 3 and "#x" in ours_run["2"]

    ref_qrels: Qrels = {}
    for qid, _, doc, grade in _strip_comments(qrels_text):
        ref_qrels.setdefault(qid, {})[doc] = int(grade)
    ref_run: Run = {}
    for qid, _, doc, _, score, _ in _strip_comments(run_text):
        ref_run.setdefault(qid, {})[doc] = float(score)
    assert ours_qrels == ref_qrels and ours_run == ref_run

    ours = evaluate_retrieval(ours_qrels, ours_run, TREC_NAMES, per_query=True)
    theirs = pytrec_eval.RelevanceEvaluator(ref_qrels, set(TREC_NAMES.values())).evaluate(ref_run)
    for qid, values in theirs.items():
        for name, trec_name in TREC_NAMES.items():
            assert ours.per_query[qid][name] == pytest.approx(values[trec_name], abs=1e-9)
    # The '#' documents count: query 1 ranks its best-graded document first.
    assert ours.per_query["1"]["p@1"] == 1.0


def test_a_comment_is_only_a_line_that_starts_with_hash(tmp_path: Path) -> None:
    path = tmp_path / "q.trec"
    path.write_text("#1 0 a 1\n1 0 b#2 1\n  # 0 c 1\n1 0 #d 0\n")
    assert read_qrels(path) == {"1": {"b#2": 1, "#d": 0}, "#": {"c": 1}}


def _cli(
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


def test_chunk_ids_against_document_qrels_warn_with_the_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    qrels, run = cranfield()
    chunk_run = {q: {f"{d}#0": s for d, s in scores.items()} for q, scores in run.items()}
    write_qrels(tmp_path / "qrels.trec", qrels)
    write_run(tmp_path / "chunks.trec", chunk_run)
    write_run(tmp_path / "docs.trec", run)
    n_lines = sum(map(len, run.values()))

    code, out, err = _cli(
        monkeypatch,
        capsys,
        "retrieval-metrics",
        str(tmp_path / "qrels.trec"),
        str(tmp_path / "chunks.trec"),
        "--json",
    )
    assert code == 0
    assert f"0 of {n_lines:,} retrieved documents are judged" in err
    assert "are these chunk ids?" in err
    payload = json.loads(out)
    assert payload["judged_fraction"] == 0.0 and payload["aggregate"]["map"] == 0.0

    code, out, err = _cli(
        monkeypatch,
        capsys,
        "retrieval-metrics",
        str(tmp_path / "qrels.trec"),
        str(tmp_path / "docs.trec"),
        "--json",
    )
    assert code == 0 and "warning" not in err
    judged = sum(d in qrels[q] for q, scores in run.items() for d in scores)
    assert 0 < judged < n_lines
    assert json.loads(out)["judged_fraction"] == pytest.approx(judged / n_lines, abs=1e-12)


def test_another_collections_ids_warn_without_the_chunk_hint() -> None:
    qrels, run = cranfield()
    shifted = {q: {f"x{d}": s for d, s in scores.items()} for q, scores in run.items()}
    coverage = judged_coverage(qrels, shifted)
    assert coverage.judged == 0 and coverage.suspicious
    warning = coverage.warning()
    assert warning is not None and "same document ids" in warning
    assert not judged_coverage(qrels, run).suspicious
    # Suspicious once fewer than half of the ranked queries find any judged document.
    qids = sorted(run)
    for share, expected in ((0.4, False), (0.6, True)):
        moved = set(qids[: int(share * len(qids))])
        mixed = {q: shifted[q] if q in moved else run[q] for q in qids}
        coverage = judged_coverage(qrels, mixed)
        assert coverage.suspicious is expected, share
        assert coverage.queries_hit <= len(qids) - len(moved)
