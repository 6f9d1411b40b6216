"""`--executor ray` on a real two-node Ray cluster on 127.0.0.1 (a head and a second
`ray start --address`), started and stopped by this module: evals equal to a single-process
run, resumed runs, and dense indexing on Ray Data."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from _eval_util import cases, make_project
from promptops.distributed import RaySettings
from promptops.lifecycle import EvalOptions, run_eval

SUITE = """\
name: router
prompt: router
evalset: router.jsonl
thresholds:
  macro_f1: {min: 0.0}
must_beat: none
baselines: [majority]
bootstrap_samples: 200
"""
N_TEST = 12


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    ray = pytest.importorskip("ray")
    from promptops.testing.ray_cluster import LocalRayCluster

    with LocalRayCluster(nodes=2, cpus_per_node=1) as local:
        ray.init(address=local.address, logging_level="ERROR", log_to_driver=False)
        try:
            yield local.address
        finally:
            ray.shutdown()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    rows = [r for r in cases() if r["split"] == "train"]
    rows += [r for r in cases() if r["split"] == "test"][:N_TEST]
    return make_project(tmp_path, rows, suite=SUITE)


def _records(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def _answers(out: Path) -> list[tuple[object, ...]]:
    """What a result says about the case (not when or how fast it was answered)."""
    fields = ("id", "index", "sample", "predicted", "raw_output", "label_probs", "invalid")
    return [tuple(json.dumps(r[f], sort_keys=True) for f in fields) for r in _records(out)]


def test_cluster_has_two_nodes(cluster: str) -> None:
    import ray

    alive = [node for node in ray.nodes() if node["Alive"]]
    assert len(alive) == 2
    assert ray.cluster_resources()["CPU"] == 2


@pytest.mark.slow
def test_ray_eval_equals_single_process_and_resumes(cluster: str, project: Path) -> None:
    ray_out, local_out = project / "ray", project / "local"
    settings = RaySettings(address=cluster, workers=2)
    on_ray = run_eval(
        "router", EvalOptions(out=ray_out, no_cache=True, executor="ray", ray=settings)
    )
    single = run_eval("router", EvalOptions(out=local_out, no_cache=True))

    assert on_ray.summary.n_cases == single.summary.n_cases == N_TEST
    assert (ray_out / "report.md").read_bytes() == (local_out / "report.md").read_bytes()
    assert [r["index"] for r in _records(ray_out)] == list(range(N_TEST))
    assert _answers(ray_out) == _answers(local_out)

    # An interrupted Ray run: keep the first 5 results, run again into the same folder.
    lines = (ray_out / "results.jsonl").read_text().splitlines(keepends=True)
    (ray_out / "results.jsonl").write_text("".join(lines[:5]))
    resumed = run_eval(
        "router", EvalOptions(out=ray_out, no_cache=True, executor="ray", ray=settings)
    )
    assert resumed.summary.n_cases == N_TEST
    assert _answers(ray_out) == _answers(local_out)
    assert (ray_out / "report.md").read_bytes() == (local_out / "report.md").read_bytes()


@pytest.mark.slow
def test_dense_index_on_ray_data_equals_local(cluster: str) -> None:
    from promptops.distributed.embedding import ray_embed
    from promptops.embeddings import bundled_model_path, embed, load_sentence_model
    from promptops.rag.chunking import Chunk
    from promptops.rag.retrievers.dense import DenseRetriever

    texts = [f"{r['input']['message']} ({i})" for i, r in enumerate(cases())][:70]
    path = bundled_model_path()
    local = embed(load_sentence_model(path), texts, 16)
    remote = ray_embed(path, texts, 16, RaySettings(address=cluster, workers=2))
    assert remote.shape == local.shape and remote.dtype == np.float32
    np.testing.assert_allclose(remote, local, atol=1e-5)

    from promptops.embeddings import use_corpus_embedder

    chunks = [Chunk(f"c{i}", f"d{i}", text, 0, len(text), 0) for i, text in enumerate(texts)]
    plain, distributed = DenseRetriever(), DenseRetriever()
    plain.fit(chunks)
    use_corpus_embedder(lambda p, t, b: ray_embed(p, t, b, RaySettings(address=cluster)))
    try:
        distributed.fit(chunks)
    finally:
        use_corpus_embedder(None)
    queries = ["where is my parcel", "refund for the lamp", "forgot my password"]
    assert [[d for d, _ in hits] for hits in distributed.search(queries, 5)] == [
        [d for d, _ in hits] for hits in plain.search(queries, 5)
    ]


def test_without_ray_the_extra_is_named(tmp_path: Path) -> None:
    """A process where `import ray` fails: one line naming the extra, exit code 2."""
    make_project(tmp_path)
    script = (
        "import sys; sys.modules['ray'] = None\n"
        "from promptops.cli import main\n"
        "sys.argv = ['promptops', 'eval', 'router', '--executor', 'ray']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "promptops[ray]" in lines[0] and "--executor ray" in lines[0]
    assert not (tmp_path / "reports").exists()  # refused before anything was written
