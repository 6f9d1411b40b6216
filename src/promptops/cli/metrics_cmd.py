"""`promptops retrieval-metrics QRELS RUN`: trec_eval-style scores for TREC files.

Text output is a table: one row per query with ``--per-query``, then the ``all`` row of
means over judged queries, then how many judged queries the run lacks (they score 0) and how
many run queries have no judgments (ignored). ``--json`` prints
``{"aggregate": {...}, "per_query": {qid: {...}}, "missing_queries": n, "unjudged_queries": n,
"judged_fraction": f}`` where ``per_query`` is empty unless ``--per-query`` is given and
``judged_fraction`` is the share of the judged queries' retrieved documents that the qrels
judge (null when nothing was retrieved for them). A run whose documents the qrels barely judge
(chunk ids against document judgments, another collection's ids) gets a warning on stderr
with the counts: see `promptops.metrics.coverage`.
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
    from promptops.metrics.coverage import judged_coverage
    from promptops.metrics.retrieval import evaluate_retrieval, parse_metrics
    from promptops.metrics.trec import read_qrels, read_run

    names = [m.name for m in parse_metrics(metric or DEFAULT_METRICS)]
    judgments, ranking = read_qrels(qrels), read_run(run)
    result = evaluate_retrieval(judgments, ranking, names, per_query=per_query)
    coverage = judged_coverage(judgments, ranking)
    warning = coverage.warning()
    if warning is not None:
        typer.echo(warning, err=True)
    if as_json:
        payload = {**result.to_json(), "judged_fraction": coverage.judged_fraction}
        typer.echo(json.dumps(payload, indent=2))
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
        f"run (scored 0); {len(result.unjudged_queries)} run queries without judgments (ignored); "
        f"{coverage.judged:,} of {coverage.retrieved:,} retrieved documents judged"
    )


def register(app: typer.Typer) -> None:
    app.command("retrieval-metrics")(retrieval_metrics)
