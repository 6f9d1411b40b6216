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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar, runtime_checkable

from promptops.errors import ConfigError
from promptops.rag.chunking import Chunk

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


R = TypeVar("R", bound=type[Retriever])

_REGISTRY: dict[str, type[Retriever]] = {}


def register_retriever(name: str) -> Callable[[R], R]:
    """Class decorator adding a retriever under `name`; a second use of a name is a bug."""

    def decorate(cls: R) -> R:
        if name in _REGISTRY:
            raise ValueError(
                f"retriever {name!r} is already registered by {_REGISTRY[name].__qualname__}"
            )
        _REGISTRY[name] = cls
        return cls

    return decorate


def retriever_names() -> list[str]:
    """Registered retriever names, sorted."""
    return sorted(_REGISTRY)


def retriever_class(name: str) -> type[Retriever]:
    """The class registered as `name`; unknown names are a `ConfigError`."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown retriever {name!r}; available: {', '.join(retriever_names())}",
            where="retriever",
        ) from None


def create_retriever(name: str, **params: Any) -> Retriever:
    """A new, unfitted retriever; bad parameters are a `ConfigError`."""
    cls = retriever_class(name)
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
    return retriever_class(str(read_manifest(directory)["name"])).load(directory)
