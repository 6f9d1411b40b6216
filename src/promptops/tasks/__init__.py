"""Task types beyond classification: what each prompt `task:` is scored by.

`types.TASK_TYPES` names the five task types; binary and scoring are run by `runner`, with
their metrics (`binary`, `scoring`), baselines (`baselines`) and report sections (`report`).
"""

from __future__ import annotations

from promptops.tasks import baselines, types


def register_builtins() -> None:
    """Fill the task-type and baseline registries (idempotent)."""
    types.register_builtins()
    baselines.register_builtins()


register_builtins()
