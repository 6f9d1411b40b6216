"""How a kind of run plugs into the one run lifecycle.

A kind (classification, binary, scoring, extraction, generation) is what a prompt's `task`
asks for. The lifecycle does everything that is the same for every kind: it loads and checks
the suite and its evalset (ids, variables, leakage, PII), starts the run folder (run id,
manifest, prompt snapshot, resume), opens the client with its response cache, sends every
case through one send loop, writes each result row, stamps the volatile fields, writes
`summary.json` and renders the reports. A kind supplies only what differs:

- `name`: its summary's `kind`; the report registry renders a summary by this name;
- `tasks`: the prompt `task` values it scores (`eval` picks the kind by `prompt.task`);
- `check_expected(prompt, expected)`: is one evalset row's `expected` of this kind's form?
  Run for every case before anything is sent (None: fine; else the reason, shown with the
  file and line);
- `parse(prompt, completion)`: one raw output read into an `Answer` (its value, or invalid);
- `summarize(run)`: the typed summary (an `EvalEnvelope` subclass) from the scored rows, the
  evalset's train and test splits (baselines fit on train) and the common header;
- `summary_model`: that summary's class (`read_summary` validates summary.json with it).

Two optional attributes, read with `getattr` so a kind that needs neither omits them:

- `splits`: the evalset splits whose cases are sent, in order (default `("test",)`); a binary
  kind sends `("dev", "test")` to choose its decision threshold on the dev answers, never on
  test. A split the evalset lacks sends nothing. Rows carry their `split`; `row.index` is
  the case's position in its split;
- `suite_model`: the suite file's model when the kind has settings of its own (default
  `promptops.evals.suite.Suite`).

A kind registers in the orchestration layer (`promptops.lifecycle.kinds.run_kinds`), one
`register` line per kind; nothing registers itself by being imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from promptops.llm.client import ClientStats
from promptops.llm.profile import EndpointProfile
from promptops.llm.types import Completion
from promptops.prompts import Prompt
from promptops.prompts.calibrator import Calibrator
from promptops.runs.envelope import EvalEnvelope, Header, ThresholdResult
from promptops.runs.rows import CaseRow
from promptops.runs.thresholds import check_thresholds

__all__ = ["Answer", "RunKind", "ScoredRun", "sent_splits"]

DEFAULT_SPLITS = ("test",)


@dataclass(frozen=True)
class Answer:
    """One raw output read as this kind's answer. `value` (JSON-ready) is written as the row's
    `predicted`; `invalid` means the output could not be read as an answer (a failed call is
    an error, not an invalid answer); `extra` holds kind-specific row fields."""

    value: Any = None
    invalid: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ScoredRun:
    """What `summarize` reads once every case is answered.

    `rows()` streams `results.jsonl` (at `results_path`) as the kind's `row_model` (call it
    again for a second pass); `row.index` is the case's position in `test()`, a view that streams
    the test split's cases (`promptops.evals.evalset.Case`) from the evalset file each time it
    is iterated; `train` holds the train split's cases (baselines fit on them). A kind that
    sends the dev split too (`splits`) reads its answers with `dev_rows()` and its cases
    with `dev()`; `rows()` and `test()` stay the test split's. Build the summary with
    `Summary(**run.header.fields(), **tally.fields(run.stats), ...)` (`runs.rows.Tally` sums
    the rows); `check_thresholds(values)` turns the suite's thresholds and the measured values
    into pass/fail rows.
    """

    suite: Any  # the suite model the run started from (`promptops.evals.suite.Suite`)
    prompt: Prompt
    profile: EndpointProfile
    header: Header
    repeat: int
    n_test: int
    results_path: Path
    rows: Callable[[], Iterator[CaseRow]]
    test: Callable[[], Iterable[Any]]
    train: Sequence[Any]
    calibrator: Calibrator
    stats: ClientStats
    dev_rows: Callable[[], Iterator[CaseRow]] = lambda: iter(())
    dev: Callable[[], Iterable[Any]] = lambda: ()

    def check_thresholds(self, values: Mapping[str, float | None]) -> list[ThresholdResult]:
        """Pass/fail rows of the suite's thresholds; a threshold on a value this run did not
        measure fails (its row says so)."""
        unmeasured = dict.fromkeys(self.suite.thresholds)
        rows, _ = check_thresholds(self.suite.thresholds, {**unmeasured, **values})
        return rows


class RunKind(Protocol):
    """A kind of run: see the module docstring. Implementations are plain classes (no base
    class needed); `row_model` is `CaseRow` or a subclass adding the kind's own fields."""

    @property
    def name(self) -> str: ...
    @property
    def tasks(self) -> tuple[str, ...]: ...
    @property
    def row_model(self) -> type[CaseRow]: ...
    @property
    def summary_model(self) -> type[EvalEnvelope]: ...

    def check_expected(self, prompt: Prompt, expected: str | None) -> str | None: ...

    def parse(self, prompt: Prompt, completion: Completion) -> Answer: ...

    def summarize(self, run: ScoredRun) -> EvalEnvelope: ...


def sent_splits(kind: RunKind) -> tuple[str, ...]:
    """The splits `kind` has sent, in order: its `splits`, else the test split alone."""
    splits: tuple[str, ...] = getattr(kind, "splits", DEFAULT_SPLITS)
    return splits
