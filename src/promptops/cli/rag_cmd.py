"""`promptops rag-eval [NAME]`: run the RAG suite `evalsets/NAME.yaml` and report."""

from __future__ import annotations

from pathlib import Path

import typer

from promptops.cli.common import (
    embed_corpora_on,
    endpoint_options,
    executor_options,
    ray_settings,
    settle_imports,
)
from promptops.errors import ConfigError


def _int_list(value: str | None, option: str) -> tuple[int, ...] | None:
    """`128,256,512` -> (128, 256, 512); anything else is a ConfigError naming the option."""
    if value is None:
        return None
    try:
        numbers = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise ConfigError(
            f"expected comma-separated integers, got {value!r}", where=option
        ) from None
    if not numbers or min(numbers) < 0:
        raise ConfigError(f"expected non-negative integers, got {value!r}", where=option)
    return numbers


def rag_eval_command(
    name: str | None = typer.Argument(
        None, help="Suite name (evalsets/NAME.yaml) or a suite file; default covid_qa."
    ),
    prompt: str | None = typer.Option(
        None, "--prompt", help="Prompt NAME or NAME@VERSION, or a file."
    ),
    base_url: str | None = endpoint_options.BASE_URL,
    model: str | None = endpoint_options.MODEL,
    concurrency: int | None = endpoint_options.CONCURRENCY,
    timeout: float | None = endpoint_options.TIMEOUT,
    max_retries: int | None = endpoint_options.MAX_RETRIES,
    max_wait: float | None = endpoint_options.MAX_WAIT,
    no_cache: bool = endpoint_options.NO_CACHE,
    no_retry_errors: bool = endpoint_options.NO_RETRY_ERRORS,
    questions: int | None = typer.Option(
        None, "--questions", min=1, help="Answer only the first N questions (default: the suite's)."
    ),
    chunk_sizes: str | None = typer.Option(
        None, "--chunk-sizes", help="Sweep chunk sizes, e.g. 128,256,512 (retrieval only)."
    ),
    overlaps: str | None = typer.Option(
        None, "--overlaps", help="Sweep overlaps, e.g. 0,32 (retrieval only)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Run folder (default reports/runs/<run id>); reuse it to resume."
    ),
    executor: str = executor_options.EXECUTOR,
    ray_address: str | None = executor_options.RAY_ADDRESS,
    workers: int | None = executor_options.WORKERS,
) -> None:
    """Measure a RAG pipeline: retrieval (per retriever, before and after reranking, as
    retrieved and as delivered to the model) apart from generation (answer quality,
    grounding, context overflows).

    Exit code 0 when the suite's thresholds hold, 1 when one fails, 2 for bad input.
    """
    from promptops.api import run_suite
    from promptops.lifecycle import RagOptions
    from promptops.rag.suite import DEFAULT_SUITE

    embed_corpora_on(ray_settings(executor, ray_address, workers))
    settle_imports()
    options = RagOptions(
        prompt=prompt,
        base_url=base_url,
        model=model,
        concurrency=concurrency,
        timeout=timeout,
        max_retries=max_retries,
        max_wait=max_wait,
        no_cache=no_cache,
        retry_errors=not no_retry_errors,
        out=out,
        questions=questions,
        chunk_sizes=_int_list(chunk_sizes, "--chunk-sizes"),
        overlaps=_int_list(overlaps, "--overlaps"),
    )
    outcome = run_suite(name or DEFAULT_SUITE, options=options)
    s = outcome.summary
    typer.echo(
        f"{s.prompt.identity} on {s.suite}: {s.questions.n_judged} judged questions, "
        f"{s.corpus.n_chunks} chunks ({s.chunking.size}/{s.chunking.overlap} tokens), "
        f"k={s.retrieval.k}"
    )
    for p in s.retrieval.pipelines:
        shown = "  ".join(f"{m} {p.retrieved[m]:.3f}/{p.delivered[m]:.3f}" for m in p.retrieved)
        mark = "*" if p.generates else " "
        typer.echo(f" {mark} {p.label:<28} retrieved/delivered  {shown}")
    if s.generation is not None:
        g = s.generation
        quality = "  ".join(
            f"{m} {'n/a' if v is None else f'{v:.3f}'}" for m, v in g.metrics.items()
        )
        typer.echo(f"generation ({g.n_questions} questions, {g.n_errors} errors): {quality}")
        gr = g.grounding
        typer.echo(
            "grounding: "
            + "  ".join(
                f"{name} {'n/a' if v is None else f'{v:.3f}'}"
                for name, v in (
                    ("support", gr.support),
                    ("validity", gr.validity),
                    ("coverage", gr.coverage),
                    ("unsupported", gr.unsupported_rate),
                )
            )
        )
        typer.echo(
            f"context guard ({s.retrieval.context.policy}): {g.guard.overflowed} overflowed, "
            f"{g.guard.chunks_dropped} chunks dropped, {g.guard.chunks_truncated} truncated"
        )
    if s.sweep is not None:
        for best in s.sweep.best:
            typer.echo(
                f"sweep: best {s.sweep.primary_metric} for {best.label}: {best.value:.3f} "
                f"at {best.size}/{best.overlap}"
            )
    for check in s.thresholds:
        actual = "n/a" if check.actual is None else f"{check.actual:.3f}"
        mark = "PASS" if check.passed else "FAIL"
        typer.echo(f"  {mark} {check.metric} {check.op} {check.value:g} (actual {actual})")
    typer.echo(f"reports: {outcome.folder / 'report.md'}  {outcome.folder / 'report.html'}")
    raise typer.Exit(outcome.exit_code)


def register(app: typer.Typer) -> None:
    app.command("rag-eval")(rag_eval_command)
