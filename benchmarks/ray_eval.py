"""`--executor ray`: wall time of the shipped `intent` suite by number of model actors, beside
a single-process run, on a real multi-node Ray cluster on this machine; and dense indexing
of the COVID-QA corpus on Ray Data beside a single-process embedding.

The cluster is NODES `ray start` nodes on 127.0.0.1 with one CPU each (as separate machines
would be), started once; each Ray run then starts its actors (each loads the model) and sends
every case. Figures per setting: the whole `run_eval` call (checks, actor start, sending,
summary, reports), the sending part (`duration_s`, actor start included) and the actors' start
(each loads the model); s/case and the ratio leave the actor start out.
Runs are sequential and the response cache is off; answers are checked equal to the
single-process run's (report.md bytes).

    python benchmarks/ray_eval.py [--nodes 2] [--workers 1,2] [--cases 240] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from promptops.distributed import RaySettings
from promptops.lifecycle import EvalOptions, run_eval
from promptops.testing.ray_cluster import LocalRayCluster

ROOT = Path(__file__).resolve().parent.parent
INDEX_COPIES = 4  # the corpus is small: repeated so fixed costs (actor start) weigh less


def subset(cases: int | None, folder: Path) -> Path | None:
    """The suite's evalset cut to its first `cases` test cases (train split kept)."""
    if cases is None:
        return None
    source = ROOT / "evalsets" / "banking77" / "intent.jsonl"
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    test = [r for r in rows if r["split"] == "test"][:cases]
    path = folder / "intent_subset.jsonl"
    kept = [r for r in rows if r["split"] != "test"] + test
    path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
    return path


def timed_eval(out: Path, evalset: Path | None, ray: RaySettings | None) -> dict[str, Any]:
    options = EvalOptions(evalset=evalset, out=out, no_cache=True)
    if ray is not None:
        options.executor, options.ray = "ray", ray
    log = io.StringIO()
    started = time.perf_counter()
    outcome = run_eval(str(ROOT / "evalsets" / "intent.yaml"), options, stream=log)
    ready = re.search(r"ready in ([0-9.]+) s", log.getvalue())
    return {
        "wall_s": time.perf_counter() - started,
        "sending_s": outcome.summary.volatile.duration_s,
        "actor_start_s": float(ready.group(1)) if ready else 0.0,
        "cases": outcome.summary.n_cases,
        "report": (out / "report.md").read_bytes(),
    }


def dense_index(cluster: str, workers: list[int]) -> dict[str, float]:
    """Seconds to embed the COVID-QA corpus chunks: this process, then Ray Data."""
    from promptops.distributed.embedding import ray_embed
    from promptops.embeddings import bundled_model_path, embed, load_sentence_model
    from promptops.rag import ChunkingConfig, load_corpus
    from promptops.rag.chunking import chunk_corpus

    corpus = load_corpus(ROOT / "evalsets" / "covid_qa" / "corpus.jsonl")
    chunks = [c.retrieval_text for c in chunk_corpus(corpus, ChunkingConfig(size=64, overlap=0))]
    texts = chunks * INDEX_COPIES
    path = bundled_model_path()
    model = load_sentence_model(path)
    started = time.perf_counter()
    embed(model, texts, 32)
    result = {"chunks": float(len(texts)), "single_process_s": time.perf_counter() - started}
    for count in workers:
        started = time.perf_counter()
        ray_embed(path, texts, 32, RaySettings(address=cluster, workers=count))
        result[f"ray_{count}_workers_s"] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--workers", default="1,2", help="actor counts to time")
    parser.add_argument("--cases", type=int, default=None, help="first N test cases")
    parser.add_argument("--skip-index", action="store_true", help="skip the Ray Data part")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]

    import ray

    report: dict[str, Any] = {"nodes": args.nodes, "eval": {}}
    with (
        tempfile.TemporaryDirectory(prefix="promptops-ray-bench-") as tmp,
        LocalRayCluster(nodes=args.nodes) as cluster,
    ):
        ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
        folder = Path(tmp)
        evalset = subset(args.cases, folder)
        single = timed_eval(folder / "single", evalset, None)
        for count in workers:
            settings = RaySettings(address=cluster.address, workers=count)
            run = timed_eval(folder / f"ray{count}", evalset, settings)
            run["same_report"] = run.pop("report") == single["report"]
            report["eval"][f"ray, {count} actor(s)"] = run
        single.pop("report")
        report["eval"] = {"single process": single, **report["eval"]}
        if not args.skip_index:
            report["index"] = dense_index(cluster.address, workers)
        ray.shutdown()

    if args.json:
        print(json.dumps(report, indent=2))
        return
    base = report["eval"]["single process"]
    print(f"intent suite, {base['cases']} cases, {args.nodes}-node local cluster (1 CPU each)")
    print(
        f"{'setting':<20} {'wall s':>7} {'sending s':>9} {'actors s':>8} {'s/case':>7} "
        f"{'vs single':>9}"
    )
    for name, row in report["eval"].items():
        same = "" if row.get("same_report", True) else "  REPORT DIFFERS"
        scoring = row["sending_s"] - row["actor_start_s"]  # actor start is paid once a run
        print(
            f"{name:<20} {row['wall_s']:>7.1f} {row['sending_s']:>9.1f} "
            f"{row['actor_start_s']:>8.1f} {scoring / row['cases']:>7.3f} "
            f"{base['sending_s'] / scoring:>8.2f}x{same}"
        )
    if "index" in report:
        index = report["index"]
        print(f"\ndense index, {int(index['chunks'])} COVID-QA chunk texts embedded (MiniLM):")
        for name, seconds in index.items():
            if name != "chunks":
                print(f"  {name}: {seconds:.1f} s")


if __name__ == "__main__":
    main()
