"""`promptops retrieval-metrics QRELS RUN`: trec_eval-style scores for TREC files.

Text output is a table: one row per query with ``--per-query``, then the ``all`` row of
means over judged queries, then how many judged queries the run lacks (they score 0) and how
many run queries have no judgments (ignored). ``--json`` prints
``{"aggregate": {...}, "per_query": {qid: {...}}, "missing_queries": n, "unjudged_queries": n}``
where ``per_query`` is empty unless ``--per-query`` is given.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

DEFAULT_METRICS = ("ndcg@10", "map", "mrr", "p@10", "recall@100")


def retrieval_metrics(
    qrels: Path = typer.Argument(..., help="TREC qrels file: qid iteration docid grade."),
    run: Path = typer.Argument(..., help="TREC run file: qid Q0 docid rank score tag."),
    metric: list[str] | None = typer.Option(
        None,
        "--metric",
        "-m",
        help="Measure, repeatable: recall@k, p@k, hit@k, mrr, mrr@k, ndcg, ndcg@k, map, map@k. "
        f"Default: {', '.join(DEFAULT_METRICS)}.",
    ),
    per_query: bool = typer.Option(False, "--per-query", help="Also show every query's values."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Score a run against relevance judgments with trec_eval's semantics."""
    from promptops.metrics.retrieval import evaluate_retrieval, parse_metrics
    from promptops.metrics.trec import read_qrels, read_run

    names = [m.name for m in parse_metrics(metric or DEFAULT_METRICS)]
    result = evaluate_retrieval(read_qrels(qrels), read_run(run), names, per_query=per_query)
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    rows = [*result.per_query.items(), ("all", result.aggregate)]
    width = max(len("query"), *(len(qid) for qid, _ in rows))
    columns = [max(len(name), 6) for name in names]
    header = (name.rjust(w) for name, w in zip(names, columns, strict=True))
    typer.echo("  ".join(["query".ljust(width), *header]))
    for qid, values in rows:
        cells = (f"{values[n]:.4f}".rjust(w) for n, w in zip(names, columns, strict=True))
        typer.echo("  ".join([qid.ljust(width), *cells]))
    typer.echo(
        f"{result.num_queries} judged queries; {len(result.missing_queries)} missing from the "
        f"run (scored 0); {len(result.unjudged_queries)} run queries without judgments (ignored)"
    )


def register(app: typer.Typer) -> None:
    app.command("retrieval-metrics")(retrieval_metrics)
