"""Retrieval metrics against pytrec_eval (trec_eval) on random and real (Cranfield) data.

pytrec_eval is the reference. It reports only queries that are both judged and ranked, so
per-query values are compared on those, and our treatment of the rest (judged but missing:
0; ranked but unjudged: ignored) is checked on its own. Grades stay within 0..4 in the
random runs: pytrec_eval can hang on negative grades, which are checked by hand instead.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import pytrec_eval
from hypothesis import given, settings
from hypothesis import strategies as st

from promptops.errors import ConfigError, EvalsetError
from promptops.metrics import evaluate_retrieval, parse_metrics, register_measure
from promptops.metrics import retrieval as retrieval_module
from promptops.metrics.retrieval import aggregate
from promptops.metrics.trec import read_qrels, read_run, write_qrels, write_run

Qrels = dict[str, dict[str, int]]
Run = dict[str, dict[str, float]]

DATA = Path(os.environ.get("PROMPTOPS_DATA_DIR", Path(__file__).parents[2] / "shared" / "data"))
CRANFIELD = DATA / "cranfield"

# Our name -> trec_eval's name.
TREC_NAMES = {
    "map": "map",
    "mrr": "recip_rank",
    "ndcg": "ndcg",
    "ndcg@5": "ndcg_cut_5",
    "ndcg@10": "ndcg_cut_10",
    "p@1": "P_1",
    "p@5": "P_5",
    "p@20": "P_20",
    "recall@5": "recall_5",
    "recall@100": "recall_100",
    "hit@1": "success_1",
    "hit@10": "success_10",
    "map@10": "map_cut_10",
}


def reference(qrels: Mapping[str, Mapping[str, int]], run: Run) -> dict[str, dict[str, float]]:
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, set(TREC_NAMES.values()))
    return evaluator.evaluate(run)  # type: ignore[no-any-return]


def assert_matches_trec_eval(qrels: Qrels, run: Run) -> None:
    ours = evaluate_retrieval(qrels, run, TREC_NAMES, per_query=True)
    theirs = reference(qrels, run)
    assert theirs, "the reference scored no query"
    for qid, values in theirs.items():
        for name, trec_name in TREC_NAMES.items():
            assert ours.per_query[qid][name] == pytest.approx(values[trec_name], abs=1e-9), (
                qid,
                name,
            )
    judged = [qid for qid, grades in qrels.items() if grades]
    assert sorted(ours.per_query) == sorted(judged)
    for name, trec_name in TREC_NAMES.items():
        expected = sum(theirs[qid][trec_name] for qid in theirs) / len(judged)
        assert ours.aggregate[name] == pytest.approx(expected, abs=1e-9)


def random_collection(seed: int, n_queries: int = 120) -> tuple[Qrels, Run]:
    """Graded qrels and a run with many tied scores and docids of mixed length and case."""
    rng = random.Random(seed)
    names = [f"d{i}" for i in range(60)] + [f"D{i}" for i in range(5)] + ["10", "9", "doc-é"]
    qrels: Qrels = {}
    run: Run = {}
    for q in range(n_queries):
        pool = rng.sample(names, rng.randint(1, 40))
        judged = rng.sample(pool, rng.randint(1, len(pool)))
        qrels[f"q{q}"] = {doc: rng.choice([0, 0, 1, 2, 3, 4]) for doc in judged}
        if rng.random() < 0.9:
            ranked = rng.sample(pool, rng.randint(0, len(pool)))
            run[f"q{q}"] = {doc: float(rng.randint(0, 5)) / 2 for doc in ranked}
    run["unjudged"] = {"d1": 1.0}
    return qrels, run


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_runs_match_trec_eval(seed: int) -> None:
    qrels, run = random_collection(seed)
    assert_matches_trec_eval(qrels, run)


def test_float_scores_and_long_rankings_match_trec_eval() -> None:
    rng = np.random.default_rng(7)
    qrels: Qrels = {}
    run: Run = {}
    for q in range(300):
        depth = int(rng.choice([1, 3, 100, 1000]))
        docs = [f"doc{d}" for d in rng.choice(5000, depth, replace=False)]
        run[f"q{q}"] = dict(zip(docs, rng.normal(size=depth).tolist(), strict=True))
        judged = [*docs[: depth // 2 + 1], f"unretrieved{q}"]
        qrels[f"q{q}"] = dict(zip(judged, rng.integers(0, 5, len(judged)).tolist(), strict=True))
    assert_matches_trec_eval(qrels, run)


def test_blocks_do_not_change_results(monkeypatch: pytest.MonkeyPatch) -> None:
    qrels, run = random_collection(3)
    run["q0"] = {f"x{i}": float(i % 7) for i in range(3000)} | run.get("q0", {})
    whole = evaluate_retrieval(qrels, run, TREC_NAMES, per_query=True)
    monkeypatch.setattr(retrieval_module, "_BLOCK_CELLS", 64)
    blocked = evaluate_retrieval(qrels, run, TREC_NAMES, per_query=True)
    assert blocked.per_query.keys() == whole.per_query.keys()
    for qid, values in whole.per_query.items():
        assert blocked.per_query[qid] == pytest.approx(values, abs=1e-12)
    assert_matches_trec_eval(qrels, run)


@pytest.mark.parametrize("k", [1, 3, 10])
def test_mrr_at_k_is_recip_rank_of_the_truncated_run(k: int) -> None:
    qrels, run = random_collection(4)
    top_k = {
        qid: dict(sorted(scores.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)[:k])
        for qid, scores in run.items()
    }
    theirs = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top_k)
    ours = evaluate_retrieval(qrels, run, [f"mrr@{k}"], per_query=True).per_query
    for qid, values in theirs.items():
        assert ours[qid][f"mrr@{k}"] == pytest.approx(values["recip_rank"], abs=1e-12)


@cache
def cranfield() -> tuple[Qrels, Run]:
    """Cranfield's real qrels and a TF-IDF cosine top-100 run (read in place, never shipped)."""
    if not (CRANFIELD / "qrels.trec").is_file():
        pytest.skip(f"the Cranfield collection is not under {CRANFIELD}")
    from sklearn.feature_extraction.text import TfidfVectorizer

    def rows(name: str) -> list[dict[str, str]]:
        return [json.loads(line) for line in (CRANFIELD / name).read_text().splitlines() if line]

    docs, queries = rows("corpus.jsonl"), rows("queries.jsonl")
    vectorizer = TfidfVectorizer(sublinear_tf=True)
    doc_vectors = vectorizer.fit_transform([f"{d['title']} {d['text']}" for d in docs])
    similarity = (vectorizer.transform([q["text"] for q in queries]) @ doc_vectors.T).toarray()
    run: Run = {}
    for query, scores in zip(queries, similarity, strict=True):
        top = np.argsort(-scores, kind="stable")[:100]
        run[query["_id"]] = {docs[i]["_id"]: float(scores[i]) for i in top}
    return read_qrels(CRANFIELD / "qrels.trec"), run


def test_cranfield_tfidf_run_matches_trec_eval() -> None:
    qrels, run = cranfield()
    assert len(qrels) == 225 and all(len(r) == 100 for r in run.values())
    assert_matches_trec_eval(qrels, run)
    ours = evaluate_retrieval(qrels, run, ["ndcg@10", "map"])
    assert 0.2 < ours.aggregate["ndcg@10"] < 0.6  # a sane TF-IDF baseline, not a degenerate run


def test_cranfield_through_trec_files(tmp_path: Path) -> None:
    qrels, run = cranfield()
    write_run(tmp_path / "run.trec", run, tag="tfidf")
    assert read_run(tmp_path / "run.trec") == run
    ours = evaluate_retrieval(qrels, read_run(tmp_path / "run.trec"), ["ndcg@10", "recall@100"])
    theirs = reference(qrels, run)
    expected = np.mean([v["ndcg_cut_10"] for v in theirs.values()])
    assert ours.aggregate["ndcg@10"] == pytest.approx(expected, abs=1e-9)


# Semantics checked by hand.


def test_ties_break_by_docid_descending_in_byte_order() -> None:
    run = {"q": {"10": 1.0, "9": 1.0, "a": 1.0, "B": 1.0}}
    # Rank order: "a" > "B" > "9" > "10" (byte order, descending).
    for doc, rank in [("a", 1), ("B", 2), ("9", 3), ("10", 4)]:
        result = evaluate_retrieval({"q": {doc: 1}}, run, ["mrr"])
        assert result.aggregate["mrr"] == pytest.approx(1 / rank)


def test_missing_query_scores_zero_and_is_counted() -> None:
    qrels = {"a": {"d1": 1}, "b": {"d2": 1}, "c": {"d3": 0}}
    run = {"a": {"d1": 0.5}, "x": {"d2": 1.0}}
    result = evaluate_retrieval(qrels, run, ["ndcg@10", "mrr"], per_query=True)
    assert result.missing_queries == ("b", "c")
    assert result.unjudged_queries == ("x",)
    assert result.per_query["b"] == {"ndcg@10": 0.0, "mrr": 0.0}
    assert result.aggregate == {"ndcg@10": pytest.approx(1 / 3), "mrr": pytest.approx(1 / 3)}
    assert result.num_queries == 3
    assert result.to_json()["missing_queries"] == 2


def test_query_without_judgments_is_not_a_judged_query() -> None:
    result = evaluate_retrieval(
        {"a": {"d": 1}, "b": {}}, {"a": {"d": 1.0}, "b": {"d": 1.0}}, ["map"]
    )
    assert result.num_queries == 1
    assert result.aggregate["map"] == 1.0
    assert result.unjudged_queries == ("b",)


def test_negative_grades_gain_nothing() -> None:
    # trec_eval (checked once with pytrec_eval): the -2 document costs rank, adds no gain.
    result = evaluate_retrieval({"q": {"a": -2, "b": 2}}, {"q": {"a": 2.0, "b": 1.0}}, ["ndcg"])
    assert result.aggregate["ndcg"] == pytest.approx(1 / math.log2(3))


def test_precision_divides_by_k_even_when_fewer_are_retrieved() -> None:
    result = evaluate_retrieval({"q": {"a": 1}}, {"q": {"a": 1.0}}, ["p@10", "recall@10"])
    assert result.aggregate == {"p@10": pytest.approx(0.1), "recall@10": 1.0}


def test_graded_ndcg_uses_linear_gain() -> None:
    qrels = {"q": {"a": 1, "b": 3}}
    result = evaluate_retrieval(qrels, {"q": {"a": 2.0, "b": 1.0}}, ["ndcg@2"])
    dcg, ideal = 1 + 3 / math.log2(3), 3 + 1 / math.log2(3)
    assert result.aggregate["ndcg@2"] == pytest.approx(dcg / ideal)


def test_unknown_metric_names_are_all_listed() -> None:
    with pytest.raises(ConfigError) as caught:
        evaluate_retrieval({"q": {"a": 1}}, {}, ["ndcg@10", "bleu", "recall", "p@0", "x@y"])
    message = str(caught.value)
    for bad in ("'bleu'", "'recall'", "'p@0'", "'x@y'"):
        assert bad in message
    assert "'ndcg@10'" not in message


def test_names_are_canonical_and_parse_back() -> None:
    names = ["precision@5", "P@5", "NDCG@10", "mrr", "mrr@3", "map@100", "hit@1", "recall@20"]
    canonical = [m.name for m in parse_metrics(names)]
    assert canonical == ["p@5", "ndcg@10", "mrr", "mrr@3", "map@100", "hit@1", "recall@20"]
    assert [m.name for m in parse_metrics(canonical)] == canonical


def test_registry_refuses_duplicate_names() -> None:
    with pytest.raises(ConfigError, match=r"already registered \(known: .*ndcg"):
        register_measure("ndcg", lambda block, k: block.num_rel, cutoff_required=False)
    with pytest.raises(ConfigError, match="'precision' is already registered"):
        register_measure(
            "new_measure",
            lambda block, k: block.num_rel,
            cutoff_required=True,
            aliases=("precision",),
        )
    assert "new_measure" not in retrieval_module.MEASURES
    assert retrieval_module.measure_names() == ["hit", "map", "mrr", "ndcg", "p", "recall"]
    with pytest.raises(ConfigError, match=r"unknown measure 'ndgc' \(known: .*ndcg"):
        retrieval_module.MEASURES.get("ndgc")


def test_bad_values_name_the_document() -> None:
    with pytest.raises(EvalsetError, match=r"'q'.*'b'"):
        evaluate_retrieval({"q": {"a": 1}}, {"q": {"a": 1.0, "b": math.nan}}, ["map"])
    with pytest.raises(EvalsetError, match=r"not an integer.*'a'"):
        evaluate_retrieval({"q": {"a": 1.5}}, {"q": {"a": 1.0}}, ["map"])  # type: ignore[dict-item]


def test_aggregate_helper_means_a_subset() -> None:
    qrels, run = random_collection(5)
    result = evaluate_retrieval(qrels, run, ["ndcg@10", "map"], per_query=True)
    assert aggregate(result.per_query) == pytest.approx(result.aggregate)
    subset = {qid: result.per_query[qid] for qid in ("q1", "q2")}
    assert aggregate(subset)["map"] == pytest.approx(
        (result.per_query["q1"]["map"] + result.per_query["q2"]["map"]) / 2
    )


# TREC files.


def test_trec_files_round_trip(tmp_path: Path) -> None:
    qrels, run = random_collection(6)
    write_qrels(tmp_path / "qrels", qrels)
    write_run(tmp_path / "run", run)
    assert read_qrels(tmp_path / "qrels") == qrels
    assert read_run(tmp_path / "run") == {q: docs for q, docs in run.items() if docs}
    first = (tmp_path / "run").read_text().splitlines()[0].split()
    assert first[1] == "Q0" and first[3] == "1"


def test_duplicate_document_in_run_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "run.trec"
    path.write_text("q1 Q0 a 1 2.0 t\nq1 Q0 b 2 1.0 t\n\nq1 Q0 a 3 0.5 t\n")
    with pytest.raises(EvalsetError) as caught:
        read_run(path)
    assert caught.value.where == f"{path}:4"
    assert "'a'" in caught.value.reason and "'q1'" in caught.value.reason
    assert "line 1" in caught.value.reason


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("q 0 a 1\nq 0 b\n", 2, "expected 4 fields"),
        ("q 0 a 1\nq 0 b high\n", 2, "integer grade"),
        ("q 0 a 1\n\nq 0 b 2.5\n", 3, "integer grade"),
    ],
)
def test_bad_qrels_lines_are_located(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = tmp_path / "qrels"
    path.write_text(text)
    with pytest.raises(EvalsetError, match=fragment) as caught:
        read_qrels(path)
    assert caught.value.where == f"{path}:{line}"


def test_bad_run_scores_are_located(tmp_path: Path) -> None:
    path = tmp_path / "run"
    path.write_text("q Q0 a 1 0.5 t\nq Q0 b 2 nan t\n")
    with pytest.raises(EvalsetError, match="numeric score") as caught:
        read_run(path)
    assert caught.value.where == f"{path}:2"
    with pytest.raises(EvalsetError, match="cannot read"):
        read_run(tmp_path / "absent")


# Properties.

DOCS = st.sampled_from([f"d{i}" for i in range(12)] + ["10", "9", "Z"])


@st.composite
def collections(draw: st.DrawFn) -> tuple[Qrels, Run]:
    qrels: Qrels = {}
    run: Run = {}
    for q in range(draw(st.integers(1, 4))):
        qrels[f"q{q}"] = draw(st.dictionaries(DOCS, st.integers(0, 3), min_size=1, max_size=8))
        run[f"q{q}"] = draw(
            st.dictionaries(DOCS, st.sampled_from([0.0, 0.5, 1.0, 2.0, -1.0]), max_size=12)
        )
    return qrels, run


ALL = ["map", "map@3", "mrr", "mrr@2", "ndcg", "ndcg@3", "p@3", "recall@3", "hit@2"]


@settings(max_examples=150, deadline=None)
@given(collections())
def test_values_lie_in_the_unit_interval(data: tuple[Qrels, Run]) -> None:
    result = evaluate_retrieval(*data, ALL, per_query=True)
    for values in result.per_query.values():
        assert all(0.0 <= v <= 1.0 + 1e-12 for v in values.values())


@settings(max_examples=150, deadline=None)
@given(collections(), st.randoms(use_true_random=False))
def test_input_order_does_not_change_results(data: tuple[Qrels, Run], rnd: random.Random) -> None:
    qrels, run = data

    def shuffled(table: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
        return {q: dict(rnd.sample(list(v.items()), len(v))) for q, v in table.items()}

    expected = evaluate_retrieval(qrels, run, ALL, per_query=True).per_query
    again = evaluate_retrieval(shuffled(qrels), shuffled(run), ALL, per_query=True).per_query  # type: ignore[arg-type]
    assert again == expected


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(DOCS, st.integers(1, 4), min_size=1, max_size=10), st.integers(0, 5))
def test_perfect_ranking_scores_one(grades: dict[str, int], noise: int) -> None:
    # Highest grade first; unjudged documents after every judged one.
    ranking = {doc: 10.0 + grade for doc, grade in grades.items()}
    ranking |= {f"junk{i}": float(-i) for i in range(noise)}
    n = len(grades)
    names = ["map", "mrr", "ndcg", "ndcg@5", f"recall@{n}", f"p@{n}", "hit@1"]
    result = evaluate_retrieval({"q": grades}, {"q": ranking}, names)
    assert result.aggregate == pytest.approx(dict.fromkeys(names, 1.0))
