"""Results reach results.jsonl in case order whatever order answers arrive in."""

from __future__ import annotations

import random
from typing import Any

from promptops.runs.sending import InOrder


def _feed(order: list[int], limit: int) -> list[int]:
    written: list[dict[str, Any]] = []
    ordered = InOrder(written.append, limit=limit)
    for seq in order:
        ordered.add(seq, {"seq": seq})
    return [r["seq"] for r in written]


def test_any_arrival_order_is_written_in_sequence() -> None:
    rng = random.Random(7)
    for _ in range(50):
        order = list(range(40))
        rng.shuffle(order)
        assert _feed(order, limit=100) == list(range(40))


def test_records_wait_only_for_earlier_ones() -> None:
    written: list[dict[str, Any]] = []
    ordered = InOrder(written.append)
    ordered.add(1, {"seq": 1})
    ordered.add(2, {"seq": 2})
    assert written == []
    ordered.add(0, {"seq": 0})
    assert [r["seq"] for r in written] == [0, 1, 2]


def test_a_stuck_record_holds_at_most_limit_others() -> None:
    """Past the limit the lowest held record is written early and not again in its turn."""
    out = _feed([*range(1, 8), 0], limit=3)
    assert out == [1, 2, 3, 4, 0, 5, 6, 7]
    assert sorted(out) == list(range(8))  # every record exactly once


def test_flush_keeps_answers_that_wait_when_a_run_stops() -> None:
    written: list[dict[str, Any]] = []
    ordered = InOrder(written.append)
    for seq in (3, 1, 2):
        ordered.add(seq, {"seq": seq})
    assert written == []  # case 0 never answered: the run was interrupted
    ordered.flush()
    assert [r["seq"] for r in written] == [1, 2, 3]
