"""Candidate arms against the primary, per window, so a candidate is promoted on evidence.

- shadow: the same requests answered by both arms (joined by request id): their agreement,
  and with feedback the paired difference of macro-F1 (candidate minus primary) with a
  bootstrap interval that resamples requests for both arms together;
- canary: different requests (each goes to one arm), so no agreement; the change of its
  label shares from the primary's in the same window (L-infinity) and, with feedback, the
  unpaired difference of macro-F1 with independent resamples.
These never alert: they inform the promote/rollback decision.
"""

from __future__ import annotations

import numpy as np

from promptops.monitor.reference import Reference
from promptops.monitor.signals import codes
from promptops.monitor.stats import linf, paired_f1_difference, unpaired_f1_difference
from promptops.monitor.window import Window
from promptops.runs.monitor_config import MonitorConfig
from promptops.runs.monitor_summary import Signal


def candidate_signals(w: Window, ref: Reference, c: MonitorConfig) -> list[Signal]:
    out: list[Signal] = []
    shadow = w.candidates.get("shadow")
    if shadow is not None:
        out.append(_agreement(shadow.pairs, c))
        out.append(_paired(shadow.pairs, ref, c, w.index))
    canary = w.candidates.get("canary")
    if canary is not None:
        out.append(_canary_shares(w, canary.labels, c))
        out.append(_unpaired(w, canary.feedback, ref, c))
    return out


def _agreement(pairs: list[tuple[str | None, str | None, str | None]], c: MonitorConfig) -> Signal:
    both = [(a, b) for a, b, _ in pairs if a is not None and b is not None]
    if not both:
        return Signal("agreement:shadow", "too_few", detail="no request answered by both arms")
    agree = sum(a == b for a, b in both)
    return Signal(
        "agreement:shadow",
        "ok",
        agree / len(both),
        n=len(both),
        detail=f"{agree} of {len(both)} requests got the same label from both arms",
    )


def _paired(
    pairs: list[tuple[str | None, str | None, str | None]],
    ref: Reference,
    c: MonitorConfig,
    index: int,
) -> Signal:
    name = "f1_difference:shadow"
    labelled = [(t, a, b) for a, b, t in pairs if t is not None]
    if len(labelled) < c.min_feedback:
        return Signal(
            name,
            "too_few",
            n=len(labelled),
            detail=f"{len(labelled)} labelled pairs, {c.min_feedback} needed",
        )
    true, a = codes(ref, [(t, x) for t, x, _ in labelled])
    _, b = codes(ref, [(t, y) for t, _, y in labelled])
    diff, low, high = paired_f1_difference(
        true, a, b, len(ref.labels), n_boot=c.bootstrap, level=1 - c.alpha, seed=c.seed + index
    )
    return Signal(
        name,
        "ok",
        diff,
        n=int(true.size),
        detail=f"shadow minus primary macro-F1 {diff:+.3f} [{low:+.3f}, {high:+.3f}], "
        "paired on the same requests",
        extra={"low": low, "high": high},
    )


def _canary_shares(w: Window, labels: dict[str, int], c: MonitorConfig) -> Signal:
    n = sum(labels.values())
    total = sum(w.labels.values())
    if n < c.min_predictions or total == 0:
        return Signal(
            "predictions:canary",
            "too_few",
            n=n,
            detail=f"{n} canary predictions, {c.min_predictions} needed",
        )
    primary = {k: v / total for k, v in w.labels.items()}
    value, label = linf(primary, dict(labels))
    return Signal(
        "predictions:canary",
        "ok",
        value,
        n=n,
        detail=f"largest share change from the primary's: {label}",
    )


def _unpaired(
    w: Window, feedback: list[tuple[str, str | None]], ref: Reference, c: MonitorConfig
) -> Signal:
    name = "f1_difference:canary"
    true_b, b = codes(ref, feedback)
    true_a, a = codes(ref, w.feedback)
    if min(true_a.size, true_b.size) < c.min_feedback:
        return Signal(
            name,
            "too_few",
            n=int(true_b.size),
            detail=f"{true_b.size} labelled canary and {true_a.size} primary requests, "
            f"{c.min_feedback} each needed",
        )
    diff, low, high = unpaired_f1_difference(
        true_a,
        a,
        true_b,
        b,
        len(ref.labels),
        n_boot=c.bootstrap,
        level=1 - c.alpha,
        seed=c.seed + w.index,
    )
    return Signal(
        name,
        "ok",
        diff,
        n=int(np.int64(true_b.size)),
        detail=f"canary minus primary macro-F1 {diff:+.3f} [{low:+.3f}, {high:+.3f}], "
        "different requests",
        extra={"low": low, "high": high},
    )
