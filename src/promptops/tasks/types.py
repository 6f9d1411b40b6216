"""The task types a prompt file's `task:` names, each with what its evalset's `expected`
must be and its headline metric.

`expected` is checked for every case before anything is sent, and every bad case is named by
file and line: a scoring suite with "five" as a gold value, or a binary suite whose gold label
is not one of the prompt's labels, costs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from promptops.evals.evalset import Case, Problem, raise_problems
from promptops.prompts import Prompt
from promptops.prompts.model import TASK_NAMES
from promptops.registry import Registry

# (case, prompt) -> why its expected value does not fit the task, or None
CheckExpected = Callable[[Case, Prompt], str | None]


@dataclass(frozen=True)
class TaskType:
    name: str
    primary_metric: str
    higher_is_better: bool
    check_expected: CheckExpected
    description: str


def _label(case: Case, prompt: Prompt) -> str | None:
    labels = list(prompt.labels or ())
    if case.expected is not None and case.expected not in labels:
        return f"expected {case.expected!r} is not one of the labels {labels}"
    return None


def _number(case: Case, prompt: Prompt) -> str | None:
    if case.expected is None:
        return None
    try:
        value = float(case.expected)
    except ValueError:
        return f"expected {case.expected!r} is not a number"
    lo, hi = prompt.score_range or (float("-inf"), float("inf"))
    if not lo <= value <= hi:
        return f"expected {value:g} is outside the prompt's range [{lo:g}, {hi:g}]"
    return None


def _json_object(case: Case, prompt: Prompt) -> str | None:
    if case.expected is None:
        return None
    try:
        value = json.loads(case.expected)
    except json.JSONDecodeError:
        return f"expected is not a JSON object: {case.expected[:40]!r}"
    return None if isinstance(value, dict) else "expected must be a JSON object"


def _text(case: Case, prompt: Prompt) -> str | None:
    return None  # a reference string (or none: assertions and judges need no reference)


TASK_TYPES: Registry[TaskType] = Registry("task type")


def register_builtins() -> None:
    """The five task types, classification first; the names match the prompt model's."""
    if len(TASK_TYPES):
        return
    for task in (
        TaskType("classification", "macro_f1", True, _label, "one of several labels"),
        TaskType("binary", "pr_auc", True, _label, "yes/no with a probability"),
        TaskType("scoring", "mae", False, _number, "one number within a range"),
        TaskType("extraction", "field_f1", True, _json_object, "a JSON object of fields"),
        TaskType("generation", "rouge_l", True, _text, "free text"),
    ):
        TASK_TYPES.register(task.name, task)
    if tuple(name for name, _ in TASK_TYPES) != TASK_NAMES:
        raise RuntimeError("task types and the prompt model disagree")


def check_expected(cases: Iterable[Case], prompt: Prompt, path: str) -> None:
    """Raise one `EvalsetError` naming every case whose `expected` does not fit the task."""
    task = TASK_TYPES.get(prompt.task, where=prompt.source)
    problems: list[Problem] = []
    for case in cases:
        reason = task.check_expected(case, prompt)
        if reason is not None:
            problems.append((f"{path}:{case.line}", f"expected: {reason}"))
    if problems:
        raise_problems(problems)
