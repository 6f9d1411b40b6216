"""Benchmark: promptops retrieval metrics against pytrec_eval (and ranx when installed).

50,000 queries x 100 retrieved documents, seeded synthetic data with graded qrels, three
measures. Times are best of 3 and include building the inputs each library needs from the
dicts (pytrec_eval's evaluator construction, our dict-to-matrix conversion). Fails unless we
are at least 3x faster than pytrec_eval.

    .venv/bin/python benchmarks/retrieval_metrics.py
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable

import numpy as np

from promptops.metrics import evaluate_retrieval

N_QUERIES = 50_000
DEPTH = 100
N_DOCS = 20_000
JUDGED_PER_QUERY = 20
REPEATS = 3
REQUIRED_SPEEDUP = 3.0
OURS = ("ndcg@10", "recall@100", "mrr")
TREC = ("ndcg_cut_10", "recall_100", "recip_rank")


def synthetic(
    seed: int = 0,
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    """Qrels with grades 0-3 (half of them retrieved) and runs with some tied scores."""
    rng = np.random.default_rng(seed)
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for q in range(N_QUERIES):
        docs = [f"d{d}" for d in rng.choice(N_DOCS, DEPTH + JUDGED_PER_QUERY // 2, replace=False)]
        scores = np.round(rng.random(DEPTH), 3).tolist()  # 3 decimals: some ties
        run[f"q{q}"] = dict(zip(docs[:DEPTH], scores, strict=True))
        judged = docs[DEPTH // 2 : DEPTH // 2 + JUDGED_PER_QUERY // 2] + docs[DEPTH:]
        grades = rng.integers(0, 4, len(judged)).tolist()
        qrels[f"q{q}"] = dict(zip(judged, grades, strict=True))
    return qrels, run


def best_of(fn: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    import pytrec_eval

    qrels, run = synthetic()
    ours_s, ours = best_of(lambda: evaluate_retrieval(qrels, run, OURS, per_query=True))
    trec_s, trec = best_of(
        lambda: pytrec_eval.RelevanceEvaluator(qrels, set(TREC)).evaluate(run)
    )
    assert isinstance(trec, dict)
    for name, trec_name in zip(OURS, TREC, strict=True):
        reference = np.mean([values[trec_name] for values in trec.values()])
        assert abs(ours.aggregate[name] - reference) < 1e-9, (name, reference)  # type: ignore[attr-defined]
    print(f"{N_QUERIES} queries x {DEPTH} docs, measures {', '.join(OURS)}, best of {REPEATS}")
    print(f"promptops    {ours_s:7.3f} s")
    print(f"pytrec_eval  {trec_s:7.3f} s")
    if importlib.util.find_spec("ranx") is not None:
        from ranx import Qrels, Run, evaluate

        ranx_s, _ = best_of(lambda: evaluate(Qrels(qrels), Run(run), ["ndcg@10", "recall@100", "mrr"]))
        print(f"ranx         {ranx_s:7.3f} s")
    ratio = trec_s / ours_s
    print(f"speed-up over pytrec_eval: {ratio:.1f}x")
    assert ratio >= REQUIRED_SPEEDUP, (
        f"promptops is only {ratio:.2f}x faster than pytrec_eval; {REQUIRED_SPEEDUP}x is required"
    )


if __name__ == "__main__":
    main()
