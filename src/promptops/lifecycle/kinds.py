"""The registry of run kinds: which kind scores a prompt's `task`.

Built-in kinds are registered here, one line each, when the registry is first asked for;
nothing registers itself by being imported. Registering a kind also registers its summary
model, so `promptops.runs.read_summary` reads its summary.json back.
"""

from __future__ import annotations

from functools import cache

from promptops.evals.classification import Classification
from promptops.registry import Registry
from promptops.runs.kinds import RunKind
from promptops.runs.read import SUMMARY_MODELS

__all__ = ["register_kind", "run_kinds"]


@cache
def run_kinds() -> Registry[RunKind]:
    """Every kind of run `eval` can score, by name (the summary's `kind`)."""
    kinds: Registry[RunKind] = Registry("run kind")
    register_kind(kinds, Classification())
    return kinds


def register_kind(kinds: Registry[RunKind], kind: RunKind) -> RunKind:
    """Add `kind` (a duplicate name is a ConfigError) and its summary model."""
    kinds.register(kind.name, kind)
    if kind.name not in SUMMARY_MODELS:
        SUMMARY_MODELS.register(kind.name, kind.summary_model)
    return kind
