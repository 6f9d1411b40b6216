"""`promptops retrieve`: run a retriever over a query set and write a TREC run file.

Each output line is `qid Q0 docid rank score tag` (written by promptops.metrics.trec in
trec_eval's order). The "docid" is always a document id by default, so the run scores against
a test collection's document-level qrels as it is: with chunking, each document scores its
best chunk (see `promptops.rag.index.doc_level_hits`). `--chunk-ids` writes chunk ids
(`<doc_id>#<n>`) instead, for chunk-level judgments; scored against document qrels they match
nothing, which `retrieval-metrics` warns about. The index is cached (see promptops.rag.index)
and reused when the corpus, chunking and retriever settings are unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from promptops.cli.common import embed_corpora_on, executor_options, ray_settings
from promptops.errors import ConfigError


def retrieve(
    corpus: Path = typer.Option(..., "--corpus", help="Corpus: BEIR corpus.jsonl or a folder."),
    queries: Path = typer.Option(..., "--queries", help="Queries: BEIR JSONL or id<TAB>text TSV."),
    retriever: str = typer.Option("bm25", "--retriever", help="bm25, dense or hybrid."),
    rerank: str | None = typer.Option(
        None, "--rerank", help="Reranker: minilm-fusion or cross-encoder (needs --rerank-model)."
    ),
    rerank_model: Path | None = typer.Option(
        None, "--rerank-model", help="Local model folder for the cross-encoder reranker."
    ),
    chunk_size: int | None = typer.Option(
        None,
        "--chunk-size",
        help="Tokens per chunk [256; 160 for dense and hybrid, to fit MiniLM's 256 word pieces].",
    ),
    overlap: int | None = typer.Option(None, "--overlap", help="Overlapping tokens [32]."),
    no_chunking: bool = typer.Option(
        False, "--no-chunking", help="Index whole documents (ids are doc ids)."
    ),
    chunk_ids: bool = typer.Option(
        False,
        "--chunk-ids",
        help="Write chunk ids (<doc_id>#<n>) instead of document ids (each scored by its best "
        "chunk).",
    ),
    ann: bool = typer.Option(False, "--ann", help="Approximate (HNSW) dense search."),
    k: int = typer.Option(100, "-k", "--top-k", help="Results per query."),
    out: Path = typer.Option(..., "--out", help="TREC run file to write."),
    tag: str | None = typer.Option(None, "--tag", help="Run tag (default promptops-RETRIEVER)."),
    cache_dir: Path | None = typer.Option(
        None, "--cache-dir", help="Index cache (default $PROMPTOPS_CACHE_DIR/indexes)."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Build the index in memory only."),
    executor: str = executor_options.EXECUTOR,
    ray_address: str | None = executor_options.RAY_ADDRESS,
    workers: int | None = executor_options.WORKERS,
) -> None:
    """Retrieve the top-k documents (or chunks) for every query into a TREC run file."""
    from promptops.metrics.trec import write_run
    from promptops.rag import (
        DENSE_CHUNK_SIZE,
        ChunkingConfig,
        build_index,
        create_reranker,
        create_retriever,
        load_corpus,
        load_queries,
    )

    embed_corpora_on(ray_settings(executor, ray_address, workers))
    if no_chunking and (chunk_size is not None or overlap is not None):
        raise ConfigError("cannot be combined with --chunk-size/--overlap", where="--no-chunking")
    if no_chunking and chunk_ids:
        raise ConfigError("there are no chunks to name without chunking", where="--chunk-ids")
    if k < 1:
        raise ConfigError(f"must be at least 1, got {k}", where="-k")
    if (rerank == "cross-encoder") != (rerank_model is not None):
        raise ConfigError("--rerank cross-encoder and --rerank-model go together", where="--rerank")
    chunking = None
    if not no_chunking:
        defaults = ChunkingConfig()
        default_size = DENSE_CHUNK_SIZE if retriever in ("dense", "hybrid") else defaults.size
        chunking = ChunkingConfig(
            size=chunk_size if chunk_size is not None else default_size,
            overlap=overlap if overlap is not None else defaults.overlap,
        )
    params: dict[str, Any] = {}
    if ann and retriever == "dense":
        params["index"] = "hnsw"
    elif ann and retriever == "hybrid":
        params["member_params"] = {"dense": {"index": "hnsw"}}
    elif ann:
        raise ConfigError("--ann applies to the dense and hybrid retrievers", where="--ann")
    model = create_retriever(retriever, **params)
    reranker = None
    if rerank is not None:
        rerank_params = {"model": str(rerank_model)} if rerank_model is not None else {}
        reranker = create_reranker(rerank, **rerank_params)

    docs = load_corpus(corpus)
    query_map = load_queries(queries)
    index = build_index(docs, model, chunking, cache_dir=cache_dir, use_cache=not no_cache)
    qids = list(query_map)
    results = index.retrieve(
        [query_map[q] for q in qids],
        k,
        reranker=reranker,
        doc_level=chunking is not None and not chunk_ids,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    write_run(
        out,
        {q: dict(hits) for q, hits in zip(qids, results, strict=True)},
        tag or f"promptops-{retriever}",
    )
    n_lines = sum(len(hits) for hits in results)
    source = "loaded from cache" if index.loaded else "built"
    typer.echo(
        f"{n_lines} results for {len(qids)} queries over {len(index.chunks)} "
        f"{'chunks' if chunking else 'documents'} (index {source}; "
        f"{'chunk' if chunk_ids else 'document'} ids) -> {out}",
        err=True,
    )


def register(app: typer.Typer) -> None:
    app.command("retrieve")(retrieve)
