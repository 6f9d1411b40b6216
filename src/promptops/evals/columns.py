"""The test split as compact columns: what scoring needs of each case, without the case.

A run over 100,000 cases must not hold 100,000 `Case` objects (ids, inputs, tag tuples) from
the pre-flight checks to the summary. Scoring needs only each case's expected label, its
tags and a way to tie a result line back to it; the cases themselves are streamed from the
evalset file again when they are sent, and the few a report shows are read back from
`results.jsonl`. A case is known by its position in the test split (evalset order).
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from promptops.evals.evalset import Case


def id_digest(case_id: str) -> int:
    """64 bits of the case id: enough to catch a result line that belongs to another case."""
    return int.from_bytes(hashlib.blake2b(case_id.encode(), digest_size=8).digest(), "little")


@dataclass
class TestColumns:
    """Per test case, in evalset order: the expected label's index in `labels` (-1 when it
    is no label; the checks reject such evalsets), the id digest, and per tag the positions
    of the cases carrying it. About 10 bytes a case plus 4 per tag."""

    labels: tuple[str, ...]
    expected: array[int] = field(default_factory=lambda: array("h"))
    digests: array[int] = field(default_factory=lambda: array("Q"))
    tags: dict[str, array[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._code = {label: i for i, label in enumerate(self.labels)}

    @classmethod
    def of(cls, labels: Sequence[str], cases: Sequence[Case]) -> TestColumns:
        columns = cls(tuple(labels))
        for case in cases:
            columns.add(case)
        return columns

    def add(self, case: Case) -> None:
        position = len(self.expected)
        self.expected.append(self._code.get(case.expected, -1))  # type: ignore[arg-type]
        self.digests.append(id_digest(case.id))
        for tag in case.tags:
            self.tags.setdefault(tag, array("i")).append(position)

    def __len__(self) -> int:
        return len(self.expected)

    def expected_codes(self) -> NDArray[np.int16]:
        """A read-only view of the expected codes (no copy)."""
        return _read_only(np.frombuffer(self.expected, dtype=np.int16))

    def tag_positions(self) -> dict[str, NDArray[np.int32]]:
        """Per tag, a read-only view of its cases' positions (no copy), tags sorted."""
        return {
            tag: _read_only(np.frombuffer(rows, dtype=np.int32))
            for tag, rows in sorted(self.tags.items())
        }


def _read_only(view: NDArray[Any]) -> NDArray[Any]:
    view.flags.writeable = False
    return view
