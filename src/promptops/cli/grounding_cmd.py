"""`promptops grounding FILE.jsonl`: score answers against the context they were given.

Each line is `{"id": ..., "context": ["passage 1", "passage 2"] or "one passage", "answer": "..."}`;
citations `[n]` in the answer refer to the 1-based passages. Prints per answer support,
citation validity, coverage and the unsupported-sentence rate (see promptops.rag.grounding),
then the means, then each unsupported sentence with its reasons: the claim spans (entities,
numbers, phrases, words) that its evidence does not hold. `--json` carries them per sentence
as `missing_claims` ({kind, text}) and `reasons`. A malformed line stops the run with
`file:line` and exit code 2.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from promptops.cli.grounding_input import GroundingRow
    from promptops.rag.grounding import GroundingResult


def report(rows: Sequence[GroundingRow], results: Sequence[GroundingResult]) -> dict[str, Any]:
    from promptops.rag.grounding import aggregate

    summary = aggregate(results)
    summary["threshold"] = results[0].threshold if results else None
    return {
        "rows": [
            {"id": row.id, **result.to_record()} for row, result in zip(rows, results, strict=True)
        ],
        "aggregate": summary,
    }


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_table(payload: dict[str, Any]) -> None:
    header = ("ID", "SUPPORT", "VALIDITY", "COVERAGE", "UNSUPPORTED", "SENTENCES")
    keys = ("support", "validity", "coverage", "unsupported_rate")
    lines: list[tuple[str, ...]] = [header]
    for row in payload["rows"]:
        lines.append((row["id"], *(_cell(row[k]) for k in keys), str(len(row["sentences"]))))
    total = payload["aggregate"]
    lines.append(("MEAN", *(_cell(total[k]) for k in keys), str(total["sentences"])))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
    typer.echo(f"threshold {total['threshold']}; invalid citations {total['invalid_citations']}")
    for row in payload["rows"]:
        for sentence in row["sentences"]:
            if not sentence["supported"]:
                typer.echo(f"unsupported {row['id']}#{sentence['index']}: {sentence['text']}")
                for reason in sentence["reasons"]:
                    typer.echo(f"  {reason}")


def grounding(
    file: Path = typer.Argument(..., help="JSONL: one {id, context, answer} object per line."),
    as_json: bool = typer.Option(False, "--json", help="Print rows and aggregate as JSON."),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        min=0.0,
        max=1.0,
        help="Support below this marks a sentence unsupported (default: the HaluEval-fitted one).",
    ),
) -> None:
    """Citation validity, coverage and support of answers against their numbered context."""
    from promptops.extras import SENTENCE_STACK, require_local

    require_local("grounding", SENTENCE_STACK)
    from transformers.utils import logging as hf_logging

    from promptops.cli.grounding_input import read_rows
    from promptops.rag.grounding import DEFAULT_THRESHOLD, GroundingScorer

    rows = read_rows(file)
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    scorer = GroundingScorer(threshold=DEFAULT_THRESHOLD if threshold is None else threshold)
    results = scorer.score_many([(row.answer, row.passages) for row in rows])
    payload = report(rows, results)
    if as_json:
        typer.echo(json.dumps(payload, indent=2))
    else:
        print_table(payload)


def register(app: typer.Typer) -> None:
    app.command("grounding")(grounding)
