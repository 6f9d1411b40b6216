"""Time in evalsets: temporal leakage and `split: auto`.

A model deployed today answers tomorrow's inputs. When rows carry a `time`, a train or dev
row later than the earliest test row means the baselines (and any threshold tuned on dev)
learned from the future of what they are tested on: a temporal-leakage finding, which the
suite turns into a refusal (`temporal_leakage: fail`, the default) or a warning.

`split: auto` assigns splits instead of reading them: by time when every row has one (the
earliest rows train, the next dev, the latest test, ties broken by id), else by a seeded
hash of the id (a random split that does not move when rows are added or reordered). Rows
whose own split is `auto` are assigned the same way whatever the suite says.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from promptops.errors import EvalsetError
from promptops.evals.evalset import Case, EvalsetFile
from promptops.evals.suite import SplitFractionsModel
from promptops.runs import summary as s

AUTO = "auto"
MAX_LISTED = 10


class Splitting(Protocol):
    """The suite settings `split_evalset` reads (every task type's suite has them)."""

    @property
    def split(self) -> str: ...
    @property
    def split_fractions(self) -> SplitFractionsModel: ...
    @property
    def seed(self) -> int: ...


@dataclass(frozen=True)
class SplitFractions:
    train: float = 0.6
    dev: float = 0.2  # the rest is test


@dataclass(frozen=True)
class Assignment:
    """The split given to each auto-assigned id, and how it was decided."""

    splits: Mapping[str, str]
    by: str  # "time" or "hash"


def _hash_unit(case_id: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_splits(
    cases: Iterable[Case],
    *,
    all_rows: bool,
    fractions: SplitFractions = SplitFractions(),
    seed: int = 13,
) -> Assignment:
    """Splits for the rows marked `auto` (every row with `all_rows`)."""
    picked = [(c.id, c.time) for c in cases if all_rows or c.split == AUTO]
    if not picked:
        return Assignment({}, "none")
    if all(t is not None for _, t in picked):
        ordered = sorted(picked, key=lambda row: (row[1], row[0]))
        n = len(ordered)
        n_train = round(n * fractions.train)
        n_dev = round(n * fractions.dev)
        splits = {}
        for i, (case_id, _) in enumerate(ordered):
            splits[case_id] = "train" if i < n_train else "dev" if i < n_train + n_dev else "test"
        return Assignment(splits, "time")
    splits = {}
    for case_id, _ in picked:
        u = _hash_unit(case_id, seed)
        splits[case_id] = (
            "train"
            if u < fractions.train
            else "dev"
            if u < fractions.train + fractions.dev
            else "test"
        )
    return Assignment(splits, "hash")


def temporal_findings(cases: Iterable[Case], *, fail: bool, path: Path | str) -> list[s.Finding]:
    """Train or dev rows later than the earliest test row (rows without a time are not
    compared). Raises an `EvalsetError` when the suite fails on it."""
    test_times: list[datetime] = []
    fitted: list[tuple[str, str, datetime]] = []
    for case in cases:
        if case.time is None:
            continue
        if case.split == "test":
            test_times.append(case.time)
        elif case.split in ("train", "dev"):
            fitted.append((case.id, case.split, case.time))
    if not test_times or not fitted:
        return []
    first_test = min(test_times)
    late = sorted((t, i, sp) for i, sp, t in fitted if t > first_test)
    if not late:
        return [
            s.Finding(
                check="temporal",
                severity="info",
                message=(
                    f"no temporal leakage: every train/dev row ({len(fitted)}) is at or before "
                    f"the earliest test row ({first_test.isoformat()})"
                ),
            )
        ]
    details = [f"{i} ({sp}) {t.isoformat()}" for t, i, sp in late[:MAX_LISTED]]
    message = (
        f"temporal leakage: {len(late)} train/dev row(s) are later than the earliest test row "
        f"({first_test.isoformat()}); the baselines and the dev threshold saw the future"
    )
    if fail:
        listed = "\n  ".join(details)
        raise EvalsetError(
            f"{message}; use `split: auto` to split by time, or set "
            f"`temporal_leakage: warn` in the suite\n  {listed}",
            where=str(path),
        )
    return [s.Finding(check="temporal", severity="warning", message=message, details=details)]


def split_evalset(suite: Splitting, path: Path) -> EvalsetFile:
    """The suite's evalset with `split: auto` applied (rows marked `auto` always)."""
    fractions = SplitFractions(suite.split_fractions.train, suite.split_fractions.dev)
    assignment = assign_splits(
        EvalsetFile(path), all_rows=suite.split == AUTO, fractions=fractions, seed=suite.seed
    )
    return EvalsetFile(path, assigned=assignment.splits or None)
