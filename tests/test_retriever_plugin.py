"""Adding a retriever is one class and one registration line: a retriever written here is
registered from the test, then used by `retrieve`, by a saved index and by a whole rag-eval
suite, with no change to promptops."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import pytest
from typer.testing import CliRunner

from _rag_eval_util import SUITE, cite_first_sentence, make_rag_project
from _rag_small import SMALL_DOCS, SMALL_QUERIES
from promptops.cli import app
from promptops.errors import ConfigError, EvalsetError
from promptops.rag import Chunk, ChunkingConfig, build_index, create_retriever, load_retriever
from promptops.rag.retrievers import RETRIEVERS, Hits
from promptops.rag.retrievers.base import write_manifest
from promptops.rag.runner import RagOptions, run_rag_eval
from promptops.testing.openai_server import FakeOpenAIServer


class OverlapRetriever:
    """Scores a chunk by the share of the query's distinct words it contains."""

    name = "overlap"

    def __init__(self, min_length: int = 3) -> None:
        self.min_length = min_length
        self.chunks: dict[str, set[str]] = {}

    def _words(self, text: str) -> set[str]:
        return {w for w in text.lower().split() if len(w) >= self.min_length}

    def config(self) -> dict[str, Any]:
        return {"min_length": self.min_length}

    def fit(self, chunks: Sequence[Chunk]) -> None:
        self.chunks = {c.chunk_id: self._words(c.retrieval_text) for c in chunks}

    def search(self, queries: Sequence[str], k: int) -> list[Hits]:
        out = []
        for query in queries:
            words = self._words(query)
            scored = [
                (cid, len(words & have) / max(1, len(words))) for cid, have in self.chunks.items()
            ]
            out.append(sorted(scored, key=lambda hit: (-hit[1], hit[0]))[:k])
        return out

    def save(self, directory: Path) -> None:
        write_manifest(directory, self)
        state = {cid: sorted(words) for cid, words in self.chunks.items()}
        (directory / "overlap.json").write_text(json.dumps(state))

    @classmethod
    def load(cls, directory: Path) -> Self:
        manifest = json.loads((directory / "retriever.json").read_text())
        retriever = cls(**manifest["config"])
        state = json.loads((directory / "overlap.json").read_text())
        retriever.chunks = {cid: set(words) for cid, words in state.items()}
        return retriever


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registration line, on a copy of the registry that the test leaves behind."""
    monkeypatch.setattr(RETRIEVERS, "_items", dict(RETRIEVERS._items))
    RETRIEVERS.register("overlap", OverlapRetriever)


@pytest.mark.usefixtures("registered")
def test_a_registered_retriever_indexes_saves_and_loads(tmp_path: Path) -> None:
    index = build_index(
        SMALL_DOCS, create_retriever("overlap"), ChunkingConfig(), cache_dir=tmp_path
    )
    queries = ["the largest planet in the solar system", "roasted beans with caffeine"]
    assert [hits[0][0] for hits in index.retrieve(queries, 2, doc_level=True)] == [
        "jupiter",
        "coffee",
    ]
    saved = create_retriever("overlap", min_length=4)
    saved.fit(index.chunks)
    saved.save(tmp_path / "saved")
    loaded = load_retriever(tmp_path / "saved")
    assert isinstance(loaded, OverlapRetriever) and loaded.config() == {"min_length": 4}
    assert loaded.search(queries, 3) == saved.search(queries, 3)
    with pytest.raises(ConfigError, match=r"'overlap' is already registered \(known: bm25"):
        RETRIEVERS.register("overlap", OverlapRetriever)


@pytest.mark.usefixtures("registered")
def test_retrieve_command_runs_a_registered_retriever(tmp_path: Path) -> None:
    corpus, queries = tmp_path / "corpus.jsonl", tmp_path / "queries.jsonl"
    corpus.write_text(
        "".join(json.dumps({"_id": d.doc_id, "text": d.text}) + "\n" for d in SMALL_DOCS)
    )
    pairs = list(SMALL_QUERIES.items())
    queries.write_text(
        "".join(json.dumps({"_id": f"q{i}", "text": q}) + "\n" for i, (q, _) in enumerate(pairs))
    )
    out = tmp_path / "run.trec"
    args = ["retrieve", "--corpus", str(corpus), "--queries", str(queries)]
    args += ["--retriever", "overlap", "--out", str(out), "--cache-dir", str(tmp_path / "c")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in out.read_text().splitlines()]
    assert {tag for *_, tag in lines} == {"promptops-overlap"}
    assert {qid for qid, *_ in lines} == {f"q{i}" for i in range(len(pairs))}


def test_unregistered_retriever_in_a_suite_names_file_and_known_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    make_rag_project(tmp_path, SUITE.replace("[bm25, dense]", "[bm25, overlap]"))
    with pytest.raises(EvalsetError) as info:
        run_rag_eval("mini", RagOptions(base_url="http://127.0.0.1:9", model="m", out=tmp_path))
    where = "evalsets/mini.yaml:6: retrievers: Value error, "
    assert f"{where}unknown retriever(s) 'overlap' (known: bm25, dense, hybrid)" in str(info.value)


@pytest.mark.usefixtures("registered")
def test_rag_suite_runs_with_a_registered_retriever(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    suite = SUITE.replace("[bm25, dense]", "[bm25, overlap]").replace(
        "generate_with: bm25", "generate_with: overlap"
    )
    suite = suite.replace("rerank: {name: minilm-fusion, candidates: 8}\n", "")
    make_rag_project(tmp_path, suite)
    with FakeOpenAIServer(answer=cite_first_sentence) as server:
        outcome = run_rag_eval(
            "mini", RagOptions(base_url=server.base_url, model="fake-model", out=tmp_path / "run")
        )
        sent = len(server.requests)
    summary = outcome.summary
    assert [p.label for p in summary.retrieval.pipelines] == ["bm25", "overlap"]
    assert summary.generation is not None and summary.generation.pipeline == "overlap"
    assert sent == 16
    overlap = summary.retrieval.pipelines[1].retrieved
    assert 0.0 < overlap["recall@3"] <= 1.0
