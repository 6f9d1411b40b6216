"""Ranking metrics with trec_eval's exact semantics, vectorised with numpy.

Inputs are the dict-of-dicts that pytrec_eval and ranx take: qrels ``{qid: {docid: grade}}``
(integer grades) and a run ``{qid: {docid: score}}``. Results agree with trec_eval
(pytrec_eval) to floating-point rounding; the tests check that on random and real data.

Semantics, all as trec_eval does them:

* Ranking: documents sort by score descending, ties by docid descending (byte order, so
  ``"9"`` ranks before ``"10"`` and ``"a"`` before ``"B"``). Ranks written in a run file are
  ignored. Documents missing from the qrels are non-relevant.
* Relevance: binary measures (``p``, ``recall``, ``hit``, ``mrr``, ``map``) count grade >= 1.
  ``ndcg`` uses linear gain = grade (grades <= 0 gain nothing), discount 1 / log2(rank + 1),
  and an ideal ranking of every positively judged document (trec_eval's ``ndcg_cut_k``;
  plain ``ndcg`` has no cutoff on either side).
* ``p@k`` divides by k even when fewer than k documents were retrieved; ``recall@k`` and
  ``map`` divide by the number of relevant documents; ``map@k`` is trec_eval's ``map_cut_k``;
  ``mrr@k`` is 1/rank of the first relevant document at rank <= k, else 0.
* Queries: the evaluated queries are the judged ones (qrels keys with at least one judgment;
  trec_eval cannot see a query without one). A judged query the run does not rank scores 0
  on every measure and is listed in ``missing_queries`` (trec_eval ``-c``); run queries
  without judgments are ignored and listed in ``unjudged_queries``. A judged query with no
  relevant document scores 0. Aggregates are means over judged queries.

Names are ``<measure>[@k]`` with measures from the registry (`register_measure`); canonical
names parse back to themselves (``precision@5`` is an alias and comes back as ``p@5``).

Speed: turning dicts into arrays costs more than the measures, so Python touches only what
it must: each ranking's scores are read in one C-level pass and only the judged documents
with a gain are looked up. A document's rank comes from a binary search in its query's
sorted scores; only documents whose score is tied go to Python for the docid tie-break.
Queries are processed in blocks of similar ranking length to bound the matrices' memory.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain, compress, filterfalse, islice, repeat
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from promptops.errors import ConfigError, EvalsetError
from promptops.registry import Registry

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Mapping[str, float]]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
_V = TypeVar("_V", int, float)
_T = TypeVar("_T")

RELEVANCE_LEVEL = 1
"""Lowest grade that counts as relevant for binary measures (trec_eval's default)."""

_BLOCK_CELLS = 1 << 20
"""Matrix cells per block of queries: bounds memory when one query ranks far more documents."""


@dataclass(frozen=True)
class RankedRelevance:
    """A block of queries as matrices: everything a measure may look at.

    ``grades[i, r]`` is the grade of query i's document at rank r + 1, or 0 when it is
    non-relevant, unjudged or past the end of the ranking. ``ideal[i]`` holds query i's
    positive grades sorted descending (0-padded); ``num_rel[i]`` counts grades >= 1.
    """

    grades: FloatArray
    ideal: FloatArray
    num_rel: FloatArray

    @cached_property
    def relevant(self) -> NDArray[np.bool_]:
        return self.grades >= RELEVANCE_LEVEL


MeasureFn = Callable[[RankedRelevance, int | None], FloatArray]
"""Per-query values of one measure for a block; the int is the cutoff k, None for none."""


@dataclass(frozen=True)
class MeasureSpec:
    name: str
    compute: MeasureFn
    cutoff_required: bool


MEASURES: Registry[MeasureSpec] = Registry("measure")
"""Measures by name and alias (an alias maps to its measure's spec); the built-ins are
registered at the end of this module."""
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_METRIC = re.compile(r"([a-z][a-z0-9_]*)(?:@(\d+))?")


def register_measure(
    name: str, compute: MeasureFn, *, cutoff_required: bool, aliases: Sequence[str] = ()
) -> None:
    """Add a measure under its name and aliases; all of them must be new (none is added
    otherwise)."""
    keys = (name, *aliases)
    for key in keys:
        if not _NAME.fullmatch(key):
            raise ConfigError(f"bad measure name {key!r}", where="metric registry")
    taken = [key for key in keys if key in MEASURES]
    if taken:
        raise ConfigError(
            f"a measure named {taken[0]!r} is already registered "
            f"(known: {', '.join(MEASURES.names())})",
            where="metric registry",
        )
    spec = MeasureSpec(name, compute, cutoff_required)
    for key in keys:
        MEASURES.register(key, spec)


def measure_names() -> list[str]:
    """Registered measure names (aliases excluded), for help texts and errors."""
    return [key for key in MEASURES.names() if MEASURES.get(key).name == key]


@dataclass(frozen=True)
class Metric:
    """A measure with its cutoff, e.g. ``ndcg@10``."""

    spec: MeasureSpec
    k: int | None

    @property
    def name(self) -> str:
        return self.spec.name if self.k is None else f"{self.spec.name}@{self.k}"

    def compute(self, block: RankedRelevance) -> FloatArray:
        return self.spec.compute(block, self.k)


def _parse_one(text: str) -> Metric | str:
    """The metric, or why the name is bad."""
    match = _METRIC.fullmatch(text.strip().lower())
    if match is None:
        return "not of the form measure[@k]"
    base, digits = match.groups()
    if base not in MEASURES:
        return "unknown measure"
    spec = MEASURES.get(base)
    if digits is None:
        return "needs a cutoff @k" if spec.cutoff_required else Metric(spec, None)
    k = int(digits)
    return Metric(spec, k) if k >= 1 else "cutoff must be >= 1"


def parse_metrics(names: Iterable[str]) -> list[Metric]:
    """Parse metric names, dropping repeats; one error lists every bad name."""
    metrics: dict[str, Metric] = {}
    problems: list[str] = []
    for text in names:
        parsed = _parse_one(text)
        if isinstance(parsed, str):
            problems.append(f"{text!r} ({parsed})")
        else:
            metrics.setdefault(parsed.name, parsed)
    if problems:
        known = ", ".join(measure_names())
        raise ConfigError(
            f"bad metric names: {'; '.join(problems)}. Known measures: {known}", where="metrics"
        )
    if not metrics:
        raise ConfigError("no metrics requested", where="metrics")
    return list(metrics.values())


def _per_relevant(total: FloatArray, num_rel: FloatArray) -> FloatArray:
    """total / num_rel, and 0 for queries without relevant documents (as trec_eval)."""
    out = np.zeros_like(total)
    np.divide(total, num_rel, out=out, where=num_rel > 0)
    return out


def _dcg(gains: FloatArray) -> FloatArray:
    dcg: FloatArray = gains @ (1.0 / np.log2(np.arange(2, gains.shape[1] + 2)))
    return dcg


def _relevant_in_top(block: RankedRelevance, k: int | None) -> FloatArray:
    count: FloatArray = block.relevant[:, :k].sum(axis=1, dtype=np.float64)
    return count


def _precision(block: RankedRelevance, k: int | None) -> FloatArray:
    assert k is not None  # the registry guarantees a cutoff
    return _relevant_in_top(block, k) / k


def _recall(block: RankedRelevance, k: int | None) -> FloatArray:
    return _per_relevant(_relevant_in_top(block, k), block.num_rel)


def _hit(block: RankedRelevance, k: int | None) -> FloatArray:
    return (_relevant_in_top(block, k) > 0).astype(np.float64)


def _mrr(block: RankedRelevance, k: int | None) -> FloatArray:
    hits = block.relevant[:, :k]
    first_rank = hits.argmax(axis=1) + 1.0
    return np.where(hits.any(axis=1), 1.0 / first_rank, 0.0)


def _average_precision(block: RankedRelevance, k: int | None) -> FloatArray:
    hits = block.relevant[:, :k]
    precision_at = np.cumsum(hits, axis=1) / np.arange(1.0, hits.shape[1] + 1)
    return _per_relevant((precision_at * hits).sum(axis=1), block.num_rel)


def _ndcg(block: RankedRelevance, k: int | None) -> FloatArray:
    ideal = _dcg(block.ideal[:, :k])
    out = np.zeros_like(ideal)
    np.divide(_dcg(block.grades[:, :k]), ideal, out=out, where=ideal > 0)
    return out


# The built-in measures, all registered here.
register_measure("p", _precision, cutoff_required=True, aliases=("precision",))
register_measure("recall", _recall, cutoff_required=True)
register_measure("hit", _hit, cutoff_required=True)
register_measure("mrr", _mrr, cutoff_required=False)
register_measure("map", _average_precision, cutoff_required=False)
register_measure("ndcg", _ndcg, cutoff_required=False)


@dataclass(frozen=True)
class RetrievalResult:
    """Aggregates, optional per-query values, and the queries that did not line up."""

    aggregate: dict[str, float]
    num_queries: int
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)
    missing_queries: tuple[str, ...] = ()
    unjudged_queries: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        """The JSON shape of the CLI: ``per_query`` is empty unless it was requested."""
        return {
            "aggregate": self.aggregate,
            "per_query": self.per_query,
            "missing_queries": len(self.missing_queries),
            "unjudged_queries": len(self.unjudged_queries),
        }


def evaluate_retrieval(
    qrels: Qrels, run: Run, metrics: Iterable[str], *, per_query: bool = False
) -> RetrievalResult:
    """Score `run` against `qrels` on every metric; see the module docstring for semantics."""
    wanted = parse_metrics(metrics)
    qids, judged = list(qrels), _dicts(qrels.values())
    if not all(map(len, judged)):  # as in trec_eval, a query without judgments does not exist
        kept = list(map(len, judged))
        qids, judged = list(compress(qids, kept)), list(compress(judged, kept))
    if not qids:
        raise EvalsetError("the qrels judge no queries", where="qrels")
    rankings = _dicts(map(run.get, qids, repeat({})))
    depths = _lengths(rankings)
    values = np.zeros((len(wanted), len(qids)))
    for rows in _blocks(depths + _lengths(judged)):
        block = _relevance(_take(qids, rows), _take(judged, rows), _take(rankings, rows))
        for j, metric in enumerate(wanted):
            values[j, rows] = metric.compute(block)
    names = [metric.name for metric in wanted]
    missing = np.flatnonzero(depths == 0).tolist()
    return RetrievalResult(
        aggregate={name: float(v) for name, v in zip(names, values.mean(axis=1), strict=True)},
        num_queries=len(qids),
        per_query=_per_query(qids, names, values) if per_query else {},
        missing_queries=tuple(qids[i] for i in missing),
        unjudged_queries=tuple(filterfalse(qrels.get, run)),
    )


def _per_query(
    qids: list[str], names: list[str], values: FloatArray
) -> dict[str, dict[str, float]]:
    """{qid: {metric: value}}, built in C-level passes: 50,000 dicts in the benchmark."""
    rows = zip(*values.tolist(), strict=True)
    return dict(zip(qids, map(dict, map(zip, repeat(names), rows)), strict=True))


def aggregate(per_query: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Mean of each measure over queries, e.g. over a subset of `RetrievalResult.per_query`."""
    if not per_query:
        raise EvalsetError("no per-query values to aggregate", where="per_query")
    names = list(next(iter(per_query.values())))
    try:
        table = np.array([[values[name] for name in names] for values in per_query.values()])
    except KeyError as exc:
        raise EvalsetError(f"measure {exc.args[0]!r} is missing for some queries") from None
    return {name: float(v) for name, v in zip(names, table.mean(axis=0), strict=True)}


def _dicts(mappings: Iterable[Mapping[str, _V]]) -> list[dict[str, _V]]:
    """Plain dicts, which the C-level passes below need; copies only what is not one."""
    items = list(mappings)
    if all(map(isinstance, items, repeat(dict))):
        return items  # type: ignore[return-value]
    return [dict(mapping) for mapping in items]


def _lengths(mappings: Sequence[Mapping[str, object]]) -> IntArray:
    return np.fromiter(map(len, mappings), np.int64, len(mappings))


def _blocks(sizes: IntArray) -> Iterator[IntArray]:
    """Ascending query indices in blocks of similar size, each about `_BLOCK_CELLS` cells."""
    order = np.argsort(sizes, kind="stable")
    widths = np.maximum(sizes[order], 1)
    start = 0
    while start < len(order):
        cells = np.arange(1, len(order) - start + 1) * widths[start:]
        stop = start + max(1, int(np.searchsorted(cells, _BLOCK_CELLS, side="right")))
        yield np.sort(order[start:stop])
        start = stop


def _take(items: list[_T], rows: IntArray) -> list[_T]:
    """items[rows] for ascending rows: a plain slice when they are contiguous."""
    start, stop = int(rows[0]), int(rows[-1]) + 1
    return items[start:stop] if stop - start == len(rows) else [items[i] for i in rows.tolist()]


def _relevance(
    qids: list[str], judged: list[dict[str, int]], rankings: list[dict[str, float]]
) -> RankedRelevance:
    """The relevance matrices of one block of queries."""
    judged_lengths = _lengths(judged)
    grade = _numbers(chain.from_iterable(map(dict.values, judged)), int(judged_lengths.sum()))
    if not (np.isfinite(grade) & (grade == np.round(grade))).all():
        raise _culprit(qids, judged, "grade is not an integer", _not_integer, "qrels")
    ideal = -np.sort(-np.maximum(_padded(grade, judged_lengths, 0.0), 0.0), axis=1)

    lengths = _lengths(rankings)
    scores = _numbers(chain.from_iterable(map(dict.values, rankings)), int(lengths.sum()))
    if np.isnan(scores).any():
        raise _culprit(qids, rankings, "score is NaN", math.isnan, "run")
    # Scores negated, so that ascending order is rank order; NaN pads the short rows.
    by_column = _padded(-scores, lengths, math.nan)
    by_rank = np.sort(by_column, axis=1)

    # Look up the judged documents with a gain (grade > 0) in one C-level pass that touches
    # each once: their negated scores, NaN where the ranking lacks them.
    positive = grade > 0
    keep = positive.tolist()
    owners = compress(chain.from_iterable(map(repeat, rankings, judged_lengths.tolist())), keep)
    docs = compress(chain.from_iterable(judged), keep)
    item = np.flatnonzero(positive)
    value = -_numbers(map(dict.get, owners, docs, repeat(math.nan)), len(item))
    retrieved = ~np.isnan(value)
    item, value = item[retrieved], value[retrieved]
    row = np.repeat(np.arange(len(judged)), judged_lengths)[item]

    rank = _count_below(by_rank, row, value)
    after = np.minimum(rank + 1, by_rank.shape[1] - 1)
    tied = np.flatnonzero((after > rank) & (by_rank[row, after] == value))
    if len(tied):
        all_docs = list(chain.from_iterable(judged))
        tied_docs = [all_docs[i] for i in item[tied].tolist()]
        rank[tied] += _docid_tiebreak(by_column, row[tied], value[tied], tied_docs, rankings)
    grades = np.zeros_like(by_rank)
    grades[row, rank] = grade[item]
    return RankedRelevance(grades, ideal, (ideal >= RELEVANCE_LEVEL).sum(axis=1, dtype=np.float64))


def _numbers(values: Iterable[object], count: int) -> FloatArray:
    try:
        return np.fromiter(values, np.float64, count)
    except (TypeError, ValueError):
        raise EvalsetError("scores and grades must be numbers", where="qrels/run") from None


def _padded(values: FloatArray, lengths: IntArray, fill: float) -> FloatArray:
    """Ragged rows (concatenated in `values`) as a matrix 2**n - 1 columns wide."""
    width = (1 << int(lengths.max(initial=0)).bit_length()) - 1
    out = np.full((len(lengths), max(width, 1)), fill)
    if len(lengths) and (lengths == lengths[0]).all():  # the usual fixed-depth run
        out[:, : lengths[0]] = values.reshape(len(lengths), int(lengths[0]))
    else:
        out[np.arange(out.shape[1]) < lengths[:, None]] = values
    return out


def _count_below(table: FloatArray, row: IntArray, value: FloatArray) -> IntArray:
    """How many entries of its row each value exceeds, in a table of ascending rows.

    A vectorised binary search (numpy's searchsorted takes one array, not one per row). The
    table is 2**n - 1 columns wide and NaN-padded, so probes never leave their row.
    """
    width = table.shape[1]
    flat = table.ravel()
    before_row = row * width - 1
    count = np.zeros(len(row), dtype=np.int64)
    step = (width + 1) // 2
    while step:
        count += step * (flat[before_row + count + step] < value)
        step //= 2
    return count


def _docid_tiebreak(
    by_column: FloatArray,
    row: IntArray,
    value: FloatArray,
    docs: list[str],
    rankings: list[dict[str, float]],
) -> IntArray:
    """For documents whose score is tied: how many tied documents rank first by docid."""
    item, column = np.nonzero(by_column[row] == value[:, None])
    reach = np.full(len(rankings), -1)
    np.maximum.at(reach, row[item], column)
    keys = {r: list(islice(rankings[r], int(reach[r]) + 1)) for r in np.unique(row).tolist()}
    ahead = [
        keys[r][c] > docs[i]
        for i, r, c in zip(item.tolist(), row[item].tolist(), column.tolist(), strict=True)
    ]
    return np.bincount(item, weights=ahead, minlength=len(row)).astype(np.int64)


def _not_integer(grade: float) -> bool:
    return not float(grade).is_integer()


def _culprit(
    qids: list[str],
    mappings: Sequence[Mapping[str, float]],
    problem: str,
    bad: Callable[[float], bool],
    where: str,
) -> EvalsetError:
    """The error naming the first (qid, docid) whose value is bad."""
    for qid, mapping in zip(qids, mappings, strict=True):
        for doc, value in mapping.items():
            if bad(value):
                return EvalsetError(f"{problem} for query {qid!r}, document {doc!r}", where=where)
    return EvalsetError(problem, where=where)
