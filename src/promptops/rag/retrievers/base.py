"""The retriever contract and the one registry of retriever classes.

A retriever indexes chunks (`fit`), answers a batch of queries with chunk ids and scores, best
first (`search`), and persists itself to a folder (`save`, classmethod `load`). `config()`
returns every parameter that changes results, model ids included, as JSON-ready data: the index
cache fingerprints it, so two retrievers with equal configs must give equal results.

`save` writes a `retriever.json` manifest (name and config) beside its own files, so
`load_retriever(folder)` can rebuild any registered retriever without knowing its class.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, Self, runtime_checkable

from promptops.errors import ConfigError
from promptops.rag.chunking import Chunk
from promptops.registry import Registry

Hits = list[tuple[str, float]]
MANIFEST = "retriever.json"


@runtime_checkable
class Retriever(Protocol):
    """What every retriever provides; see the module docstring for the contract."""

    name: str

    def config(self) -> dict[str, Any]:
        """Parameters that change results (JSON-ready), used in the index fingerprint."""
        ...

    def fit(self, chunks: Sequence[Chunk]) -> None:
        """Index `chunks` (their `retrieval_text`), replacing any previous index."""
        ...

    def search(self, queries: Sequence[str], k: int) -> list[Hits]:
        """For each query, up to `k` (chunk_id, score) pairs, best first."""
        ...

    def save(self, directory: Path) -> None:
        """Write the fitted index into `directory` (created if missing)."""
        ...

    @classmethod
    def load(cls, directory: Path) -> Self:
        """A fitted retriever read back from a folder written by `save`."""
        ...


RETRIEVERS: Registry[type[Retriever]] = Registry("retriever")
"""Retriever classes by name; `promptops.rag.retrievers` registers the built-ins."""


def create_retriever(name: str, **params: Any) -> Retriever:
    """A new, unfitted retriever; bad parameters are a `ConfigError`."""
    cls = RETRIEVERS.get(name, where="retriever")
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for retriever {name!r}: {exc}", where=name) from exc


def write_manifest(directory: Path, retriever: Retriever) -> None:
    """Record which retriever wrote `directory` (called by every `save`)."""
    directory.mkdir(parents=True, exist_ok=True)
    payload = {"name": retriever.name, "config": retriever.config()}
    (directory / MANIFEST).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest `write_manifest` wrote; a missing or broken one is a `ConfigError`."""
    path = directory / MANIFEST
    try:
        payload = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"not a saved retriever: {exc}", where=str(path)) from exc
    if not isinstance(payload, dict) or "name" not in payload:
        raise ConfigError("retriever manifest has no name", where=str(path))
    return payload


def load_retriever(directory: Path) -> Retriever:
    """Any registered retriever saved in `directory`, by the name in its manifest."""
    name = str(read_manifest(directory)["name"])
    return RETRIEVERS.get(name, where=str(directory / MANIFEST)).load(directory)
