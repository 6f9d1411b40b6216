"""Embedding a corpus with Ray Data: `map_batches` over a pool of embedder actors.

Each actor loads the sentence model once (it is given the model's folder, never the model
object, so nothing large is pickled). Rows carry their position, so the shards that come back
in any order are put back in corpus order and go into one faiss index exactly as a
single-process embedding would (equal up to float rounding of different batchings).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from promptops.distributed.cluster import RaySettings, connect, worker_count
from promptops.embeddings import embed, load_sentence_model

ROWS_PER_BATCH = 256  # rows a Ray Data batch hands one actor (it encodes them in smaller ones)


class Embedder:
    """A Ray Data actor: the sentence model, loaded once; batches in, vectors out."""

    def __init__(self, model_path: str, batch_size: int, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self._model = load_sentence_model(Path(model_path))
        self._batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        vectors = embed(self._model, [str(t) for t in batch["text"]], self._batch_size)
        return {"row": batch["row"], "vector": list(vectors)}


def ray_embed(
    model_path: Path, texts: Sequence[str], batch_size: int, settings: RaySettings
) -> np.ndarray:
    """L2-normalised float32 embeddings of `texts`, in their order, computed on Ray."""
    ray = connect(settings)
    workers = worker_count(ray, settings)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # a command's output is its own, not Ray Data's
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    items = [{"row": i, "text": t} for i, t in enumerate(texts)]
    # every actor gets a share, even of a corpus smaller than workers x ROWS_PER_BATCH
    rows = max(1, min(ROWS_PER_BATCH, -(-len(items) // workers)))
    dataset = ray.data.from_items(items, override_num_blocks=max(1, -(-len(items) // rows)))
    vectors = dataset.map_batches(
        Embedder,
        fn_constructor_kwargs={
            "model_path": str(model_path),
            "batch_size": batch_size,
            "threads": settings.cpus_per_worker,
        },
        batch_size=rows,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=settings.cpus_per_worker,
    )
    positions: list[np.ndarray] = []
    parts: list[np.ndarray] = []
    for batch in vectors.iter_batches(batch_format="numpy", batch_size=None):
        positions.append(np.asarray(batch["row"], dtype=np.int64))
        parts.append(np.stack(list(batch["vector"])).astype(np.float32))
    if not parts:
        return np.zeros((0, 0), dtype=np.float32)
    order = np.argsort(np.concatenate(positions), kind="stable")
    return np.ascontiguousarray(np.concatenate(parts)[order])
