"""`promptops retrieve`: TREC runs from the command line, scored independently with
pytrec_eval on Cranfield; document ids by default, chunk ids on request; clean user errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from _rag_small import SMALL_DOCS, SMALL_QUERIES
from _rag_util import cranfield_qrels, cranfield_queries, mean_metrics, require_cranfield
from promptops.cli import app

runner = CliRunner()


def _read_run(path: Path) -> dict[str, list[tuple[str, int, float]]]:
    run: dict[str, list[tuple[str, int, float]]] = {}
    for line in path.read_text().splitlines():
        qid, q0, doc_id, rank, score, tag = line.split()
        assert q0 == "Q0" and tag.startswith("promptops-")
        run.setdefault(qid, []).append((doc_id, int(rank), float(score)))
    return run


def test_bm25_run_on_cranfield_scores_like_the_library(tmp_path: Path) -> None:
    root = require_cranfield()
    out = tmp_path / "run.trec"
    args = [
        "retrieve",
        "--corpus",
        str(root / "corpus.jsonl"),
        "--queries",
        str(root / "queries.jsonl"),
        "--retriever",
        "bm25",
        "--no-chunking",
        "-k",
        "100",
        "--out",
        str(out),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "index built" in result.stderr
    run = _read_run(out)
    assert len(run) == 225
    for rows in run.values():
        assert [r for _, r, _ in rows] == list(range(1, len(rows) + 1))
        assert [s for _, _, s in rows] == sorted((s for _, _, s in rows), reverse=True)
        assert len(rows) <= 100
    scores = mean_metrics(
        cranfield_qrels(), {q: {d: s for d, _, s in rows} for q, rows in run.items()}
    )
    assert scores["ndcg_cut_10"] == pytest.approx(0.3651, abs=5e-4)
    assert scores["recall_100"] == pytest.approx(0.7349, abs=5e-4)

    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "loaded from cache" in again.stderr
    assert _read_run(out) == run


def test_default_chunked_run_has_document_ids_and_scores_on_document_qrels(
    tmp_path: Path,
) -> None:
    """The default flow scores what `index.retrieve(doc_level=True)` scores (the old
    `--doc-level`); the same run with `--chunk-ids` scores 0 and `retrieval-metrics` warns."""
    from promptops.rag import ChunkingConfig, build_index, create_retriever, load_corpus

    root = require_cranfield()
    common = ["--corpus", str(root / "corpus.jsonl"), "--queries", str(root / "queries.jsonl")]
    common += ["--retriever", "bm25", "--cache-dir", str(tmp_path / "cache"), "-k", "100"]
    docs_run, chunks_run = tmp_path / "docs.trec", tmp_path / "chunks.trec"
    result = runner.invoke(app, ["retrieve", *common, "--out", str(docs_run)])
    assert result.exit_code == 0, result.output
    assert "document ids" in result.stderr
    run = {q: {d: s for d, _, s in rows} for q, rows in _read_run(docs_run).items()}
    corpus_ids = {doc.doc_id for doc in load_corpus(root / "corpus.jsonl")}
    assert all(doc in corpus_ids for scores in run.values() for doc in scores)

    index = build_index(
        load_corpus(root / "corpus.jsonl"),
        create_retriever("bm25"),
        ChunkingConfig(),
        cache_dir=tmp_path / "cache",
    )
    queries = cranfield_queries()
    qids = list(queries)
    library = index.retrieve([queries[q] for q in qids], 100, doc_level=True)
    assert run == {q: dict(hits) for q, hits in zip(qids, library, strict=True)}
    scores = mean_metrics(cranfield_qrels(), run)
    assert scores["ndcg_cut_10"] > 0.3 and scores["recall_100"] > 0.6

    result = runner.invoke(app, ["retrieve", *common, "--chunk-ids", "--out", str(chunks_run)])
    assert result.exit_code == 0, result.output
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "promptops",
            "retrieval-metrics",
            str(root / "qrels.trec"),
            *[
                str(chunks_run),
                "--json",
            ],
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    n_lines = len(chunks_run.read_text().splitlines())
    assert f"0 of {n_lines:,} retrieved documents are judged" in proc.stderr
    assert "are these chunk ids?" in proc.stderr


def _small_corpus(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "docs"
    folder.mkdir()
    for doc in SMALL_DOCS:
        (folder / f"{doc.doc_id}.txt").write_text(" ".join([doc.text] * 20), encoding="utf-8")
    queries = tmp_path / "queries.tsv"
    lines = ["qid\ttext"] + [f"q{i}\t{q}" for i, q in enumerate(SMALL_QUERIES)]
    queries.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder, queries


def test_chunked_hybrid_with_rerank_and_doc_level(tmp_path: Path) -> None:
    folder, queries = _small_corpus(tmp_path)
    common = ["--corpus", str(folder), "--queries", str(queries), "--cache-dir", str(tmp_path)]
    chunked = tmp_path / "chunks.trec"
    result = runner.invoke(
        app,
        [
            "retrieve",
            *common,
            "--retriever",
            "hybrid",
            "--chunk-size",
            "64",
            "--overlap",
            "8",
            "-k",
            "5",
            "--out",
            str(chunked),
            "--rerank",
            "minilm-fusion",
            "--chunk-ids",
        ],
    )
    assert result.exit_code == 0, result.output
    chunk_run = _read_run(chunked)
    assert all("#" in doc for rows in chunk_run.values() for doc, _, _ in rows)

    docs = tmp_path / "docs.trec"
    result = runner.invoke(
        app,
        [
            "retrieve",
            *common,
            "--retriever",
            "hybrid",
            "--chunk-size",
            "64",
            "--overlap",
            "8",
            "-k",
            "3",
            "--out",
            str(docs),
            "--rerank",
            "minilm-fusion",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "index loaded from cache" in result.stderr  # same corpus, chunking and retriever
    doc_run = _read_run(docs)
    expected = list(SMALL_QUERIES.values())
    top1 = [doc_run[f"q{i}"][0][0] for i in range(len(expected))]
    assert top1 == [f"{doc}.txt" for doc in expected]
    for rows in doc_run.values():
        assert len({d for d, _, _ in rows}) == len(rows)  # one line per document


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--no-chunking", "--chunk-size", "64"], "--no-chunking: cannot be combined"),
        (["--retriever", "splade"], "unknown retriever 'splade'"),
        (["--chunk-size", "10", "--overlap", "10"], "overlap: overlap must be in"),
        (["--rerank", "cross-encoder"], "--rerank: --rerank cross-encoder and --rerank-model"),
        (["--no-chunking", "--chunk-ids"], "--chunk-ids: there are no chunks"),
    ],
)
def test_user_errors_exit_2_without_traceback(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    folder, queries = _small_corpus(tmp_path)
    cmd = [sys.executable, "-m", "promptops", "retrieve", "--corpus", str(folder)]
    cmd += ["--queries", str(queries), "--out", str(tmp_path / "r.trec"), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_queries_file_names_the_line(tmp_path: Path) -> None:
    folder, _ = _small_corpus(tmp_path)
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"_id": "1", "text": "ok"}\n{"_id": "2"}\n', encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "promptops",
            "retrieve",
            "--corpus",
            str(folder),
            "--queries",
            str(bad),
            "--out",
            str(tmp_path / "r.trec"),
            "--no-chunking",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert f"{bad}:2: text" in proc.stderr


def test_dense_defaults_to_chunks_that_fit_minilm(tmp_path: Path) -> None:
    from promptops.rag import DENSE_CHUNK_SIZE, ChunkingConfig, chunk_corpus, load_corpus

    folder = tmp_path / "docs"
    folder.mkdir()
    sentence = "Shell buckling under axial compression depends on imperfections. "
    for name in ("a", "b"):
        (folder / f"{name}.txt").write_text(sentence * 40, encoding="utf-8")
    queries = tmp_path / "q.tsv"
    queries.write_text("qid\ttext\nq1\tshell buckling\n", encoding="utf-8")
    out = tmp_path / "dense.trec"
    args = ["retrieve", "--corpus", str(folder), "--queries", str(queries), "--out", str(out)]
    result = runner.invoke(app, [*args, "--retriever", "dense", "--no-cache", "-k", "2"])
    assert result.exit_code == 0, result.output
    docs = load_corpus(folder)
    dense_chunks = chunk_corpus(docs, ChunkingConfig(size=DENSE_CHUNK_SIZE))
    assert len(dense_chunks) > len(chunk_corpus(docs, ChunkingConfig()))
    assert f"over {len(dense_chunks)} chunks" in result.stderr
    assert set(_read_run(out)["q1"][i][0] for i in range(2)) == {"a.txt", "b.txt"}
