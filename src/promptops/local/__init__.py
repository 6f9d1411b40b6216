"""The embedded local model (SmolLM2-135M-Instruct, offline, CPU) and its OpenAI-compatible app.

Importing this package is cheap: torch and transformers load with the model, on first use.
"""

from __future__ import annotations

from promptops.local.engine import (
    Generation,
    LabelScores,
    TokenLogprob,
    generate,
    label_scores,
    score_labels,
)
from promptops.local.model import LoadedModel, cache_root, get_model, load_model
from promptops.local.server import create_app, label_request

__all__ = [
    "Generation",
    "LabelScores",
    "LoadedModel",
    "TokenLogprob",
    "cache_root",
    "create_app",
    "generate",
    "get_model",
    "label_request",
    "label_scores",
    "load_model",
    "score_labels",
]
