"""Hybrid retrieval: reciprocal rank fusion (RRF) of several member retrievers.

Each member returns its top `depth` chunks; a chunk's fused score is
    sum over members m of  weight_m / (rrf_k + rank_m(chunk))      (ranks start at 1),
a member that did not return the chunk adds nothing. RRF uses ranks only, so members whose
scores live on different scales (BM25 vs cosine) need no normalisation. Defaults: BM25 + dense,
equal weights, rrf_k = 60 (Cormack et al., 2009), depth = 100. Ties are broken by chunk id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from promptops.errors import ConfigError
from promptops.rag.chunking import Chunk
from promptops.rag.retrievers.base import (
    Hits,
    Retriever,
    create_retriever,
    load_retriever,
    write_manifest,
)

_STATE_FILE = "hybrid.json"


def reciprocal_rank_fusion(
    rankings: Sequence[Hits], weights: Sequence[float], rrf_k: float, k: int
) -> Hits:
    """Fuse several rankings of one query into the top `k` by weighted RRF score."""
    fused: dict[str, float] = {}
    for hits, weight in zip(rankings, weights, strict=True):
        for rank, (chunk_id, _) in enumerate(hits, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (rrf_k + rank)
    ordered = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
    return ordered[:k]


class HybridRetriever:
    """RRF over member retrievers (see module docstring).

    `members` are registered retriever names, or already-built retrievers; `member_params`
    gives constructor parameters per member name.
    """

    name = "hybrid"

    def __init__(
        self,
        members: Sequence[str | Retriever] = ("bm25", "dense"),
        weights: Sequence[float] | None = None,
        rrf_k: float = 60.0,
        depth: int = 100,
        member_params: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        if not members:
            raise ConfigError("a hybrid retriever needs at least one member", where="members")
        params = member_params or {}
        self.members: list[Retriever] = [
            create_retriever(m, **params.get(m, {})) if isinstance(m, str) else m for m in members
        ]
        self.weights = [1.0] * len(self.members) if weights is None else [float(w) for w in weights]
        if len(self.weights) != len(self.members):
            raise ConfigError(
                f"{len(self.weights)} weights for {len(self.members)} members", where="weights"
            )
        if rrf_k <= 0 or depth < 1:
            raise ConfigError("rrf_k must be positive and depth at least 1", where="hybrid")
        self.rrf_k = float(rrf_k)
        self.depth = depth

    def config(self) -> dict[str, Any]:
        return {
            "members": [{"name": m.name, "config": m.config()} for m in self.members],
            "weights": self.weights,
            "rrf_k": self.rrf_k,
            "depth": self.depth,
        }

    def fit(self, chunks: Sequence[Chunk]) -> None:
        for member in self.members:
            member.fit(chunks)

    def search(self, queries: Sequence[str], k: int) -> list[Hits]:
        depth = max(k, self.depth)
        per_member = [member.search(queries, depth) for member in self.members]
        return [
            reciprocal_rank_fusion([hits[qi] for hits in per_member], self.weights, self.rrf_k, k)
            for qi in range(len(queries))
        ]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for i, member in enumerate(self.members):
            member.save(directory / f"member-{i}")
        state = {"weights": self.weights, "rrf_k": self.rrf_k, "depth": self.depth}
        (directory / _STATE_FILE).write_text(json.dumps(state))
        write_manifest(directory, self)

    @classmethod
    def load(cls, directory: Path) -> Self:
        state = json.loads((directory / _STATE_FILE).read_text())
        members = [load_retriever(directory / f"member-{i}") for i in range(len(state["weights"]))]
        return cls(
            members=members,
            weights=state["weights"],
            rrf_k=state["rrf_k"],
            depth=state["depth"],
        )
