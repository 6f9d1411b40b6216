"""Signals of one window against the reference: each says its value, its threshold, whether it
alerts, or why it cannot say (too few requests, or nothing logged to measure it on)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from promptops.monitor.mmd import mmd_test
from promptops.monitor.reference import Reference
from promptops.monitor.stats import (
    binomial_p,
    bootstrap_f1,
    exact_quantiles,
    linf,
    psi,
    smallest_flagged,
)
from promptops.monitor.window import ERROR_KINDS, Window
from promptops.runs.monitor_config import MonitorConfig
from promptops.runs.monitor_summary import Signal

Embed = Callable[[list[str]], NDArray[np.float64]]


def predictions(w: Window, ref: Reference, c: MonitorConfig) -> Signal:
    n = sum(w.labels.values())
    if not ref.shares:
        return Signal("predictions", "unavailable", detail="the reference has no predictions")
    if n < c.min_predictions:
        return Signal(
            "predictions",
            "too_few",
            threshold=c.class_shift,
            n=n,
            detail=f"{n} predictions, {c.min_predictions} needed",
        )
    value, label = linf(ref.shares, dict(w.labels))
    share = w.labels.get(label, 0) / n
    return Signal(
        "predictions",
        "alert" if value > c.class_shift else "ok",
        value,
        c.class_shift,
        n=n,
        detail=f"largest change: {label} {ref.shares.get(label, 0.0):.3f} -> {share:.3f}",
    )


def input_psi(
    name: str,
    counts: list[int],
    n: int,
    ref_values: NDArray[np.float64],
    edges: NDArray[np.float64],
    c: MonitorConfig,
) -> Signal:
    if ref_values.size == 0:
        return Signal(name, "unavailable", detail="the reference has no inputs measured")
    if n == 0:
        return Signal(name, "unavailable", detail="the log does not record it")
    if n < c.min_inputs:
        return Signal(
            name, "too_few", threshold=c.psi, n=n, detail=f"{n} inputs, {c.min_inputs} needed"
        )
    ref_counts = np.bincount(
        np.searchsorted(edges, ref_values, side="left"), minlength=edges.size + 1
    )
    value = psi(ref_counts, counts)
    return Signal(
        name,
        "alert" if value > c.psi else "ok",
        value,
        c.psi,
        n=n,
        detail=f"PSI over {edges.size + 1} reference-quantile bins",
    )


def embeddings(
    w: Window,
    ref: Reference,
    c: MonitorConfig,
    embed: Embed,
    ref_vectors: Callable[[], NDArray[np.float64]],
) -> Signal:
    name = "embeddings"
    if not ref.texts:
        return Signal(name, "unavailable", detail="the reference has no input texts")
    if w.texts.seen == 0:
        return Signal(
            name,
            "unavailable",
            detail="inputs are not logged (serve with --log-inputs to measure it)",
        )
    if w.texts.seen < c.min_inputs:
        return Signal(
            name,
            "too_few",
            threshold=c.embedding_alpha,
            direction="below",
            n=w.texts.seen,
            detail=f"{w.texts.seen} inputs, {c.min_inputs} needed",
        )
    test = mmd_test(
        ref_vectors(), embed(w.texts.items), permutations=c.permutations, seed=c.seed + w.index
    )
    return Signal(
        name,
        "alert" if test.p_value < c.embedding_alpha else "ok",
        test.p_value,
        c.embedding_alpha,
        direction="below",
        n=w.texts.seen,
        detail=(
            f"MMD² {test.mmd2:.4f} (MiniLM, {test.n_current} sampled vs "
            f"{test.n_reference} reference inputs, {test.permutations} permutations)"
        ),
        extra={"mmd2": test.mmd2},
    )


def latency(w: Window, c: MonitorConfig) -> Signal:
    n = len(w.latencies)
    if n == 0:
        return Signal("latency_p99_ms", "too_few", threshold=c.slo_p99_ms, detail="no requests")
    p50, p95, p99 = exact_quantiles(np.frombuffer(w.latencies, dtype=np.float64), (0.5, 0.95, 0.99))
    over = c.slo_p99_ms is not None and p99 > c.slo_p99_ms
    note = "" if n >= 100 else f"; with {n} requests p99 is the slowest few"
    return Signal(
        "latency_p99_ms",
        "alert" if over else "ok",
        p99,
        c.slo_p99_ms,
        n=n,
        detail=f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms (exact){note}",
        extra={"p50": p50, "p95": p95},
    )


def errors(w: Window, c: MonitorConfig) -> list[Signal]:
    """An exact binomial test per error kind of "rate <= c.error_rate": a window alerts only
    when its errors are too many for that rate (so at most alpha of windows alarm at it)."""
    n = w.n_served
    out = []
    for kind in ERROR_KINDS:
        name = f"error_rate:{kind}"
        if n == 0:
            out.append(Signal(name, "too_few", threshold=c.error_rate, detail="no requests"))
            continue
        k = w.errors.get(kind, 0)
        p = binomial_p(k, n, c.error_rate)
        floor = smallest_flagged(n, c.error_rate, c.alpha) / n
        out.append(
            Signal(
                name,
                "alert" if p < c.alpha else "ok",
                k / n,
                c.error_rate,
                n=n,
                detail=f"{k} of {n}; this window can flag rates of {floor:.2%} and more",
                extra={"p_value": p, "smallest_flagged_rate": floor},
            )
        )
    return out


def invalid(w: Window, ref: Reference, c: MonitorConfig) -> Signal:
    n = w.n_answers
    if ref.invalid_rate is None:
        return Signal("invalid_rate", "unavailable", detail="the reference has no label answers")
    bar = min(ref.invalid_rate + c.invalid_margin, 1.0)
    if n == 0:
        return Signal("invalid_rate", "too_few", threshold=bar, detail="no model answers")
    p = binomial_p(w.n_invalid, n, bar) if bar < 1 else 1.0
    return Signal(
        "invalid_rate",
        "alert" if p < c.alpha else "ok",
        w.n_invalid / n,
        bar,
        n=n,
        detail=f"{w.n_invalid} of {n} answers outside the label set (reference "
        f"{ref.invalid_rate:.2%} + margin {c.invalid_margin:.2%})",
        extra={"p_value": p, "fallback": float(w.n_fallback)},
    )


def usage(w: Window, ref: Reference) -> Signal:
    """Input tokens per request (always logged), with the billed prompt tokens and cost when
    the log carries them; reported beside the reference's, never alerting."""
    tokens, n_tok = w.prompt_tokens
    cost, n_cost = w.cost
    if w.n_tokens == 0 and n_tok == 0:
        return Signal("usage", "unavailable", detail="the log records no token counts")
    per_input = w.token_sum / w.n_tokens if w.n_tokens else None
    ref_input = float(ref.tokens.mean()) if ref.tokens.size else None
    parts = []
    if per_input is not None:
        ref_text = f" (reference {ref_input:.1f})" if ref_input is not None else ""
        parts.append(f"input tokens per request {per_input:.1f}{ref_text}")
    if n_tok:
        parts.append(f"prompt tokens billed {tokens / n_tok:.1f}")
    if n_cost:
        parts.append(f"cost ${cost / n_cost:.6f} per request")
    return Signal(
        "usage",
        "ok",
        per_input,
        n=max(w.n_tokens, int(n_tok)),
        detail="; ".join(parts),
        extra={
            "reference_input_tokens": ref_input,
            "prompt_tokens": tokens / n_tok if n_tok else None,
            "reference_prompt_tokens": ref.prompt_tokens,
            "cost_usd": cost / n_cost if n_cost else None,
            "reference_cost_usd": ref.cost_usd,
        },
    )


def rag(w: Window) -> list[Signal]:
    """RAG serving: mean grounding support of the answers and the share of requests whose
    context overflowed the window (reported per window; no reference to alert against)."""
    total, n = w.support
    over, m = w.overflow
    if n == 0 and m == 0:
        return []
    return [
        Signal(
            "rag_grounding_support",
            "ok" if n else "unavailable",
            total / n if n else None,
            n=int(n),
            detail="mean share of answer sentences supported by their passages",
        ),
        Signal(
            "rag_overflow_rate",
            "ok" if m else "unavailable",
            over / m if m else None,
            n=m,
            detail=f"{over} of {m} requests had passages dropped or cut by the context guard",
        ),
    ]


def codes(
    ref: Reference, pairs: list[tuple[str, str | None]]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(true, predicted) codes of labelled requests whose true label is in the label set."""
    index = {label: i for i, label in enumerate(ref.labels)}
    invalid_code = len(ref.labels)
    true = np.fromiter((index.get(t, -1) for t, _ in pairs), dtype=np.int64, count=len(pairs))
    pred = np.fromiter(
        (index.get(p, invalid_code) if p is not None else invalid_code for _, p in pairs),
        dtype=np.int64,
        count=len(pairs),
    )
    keep = true >= 0
    return true[keep], pred[keep]


def feedback_f1(w: Window, ref: Reference, c: MonitorConfig, *, has_feedback: bool) -> Signal:
    name = "feedback_macro_f1"
    if not has_feedback:
        return Signal(
            name,
            "unavailable",
            direction="below",
            detail="no feedback labels (--feedback LABELS.jsonl)",
        )
    true, pred = codes(ref, w.feedback)
    bar = ref.macro_f1 * (1 - c.f1_drop) if ref.macro_f1 is not None else None
    if true.size < c.min_feedback:
        return Signal(
            name,
            "too_few",
            threshold=bar,
            direction="below",
            n=int(true.size),
            detail=f"{true.size} labelled requests, {c.min_feedback} needed",
        )
    f1, low, high = bootstrap_f1(
        true, pred, len(ref.labels), n_boot=c.bootstrap, level=1 - c.alpha, seed=c.seed + w.index
    )
    extra: dict[str, float | None] = {"low": low, "high": high, "reference": ref.macro_f1}
    if bar is None:
        return Signal(
            name,
            "ok",
            f1,
            None,
            "below",
            int(true.size),
            "no reference macro-F1 to compare with",
            extra,
        )
    return Signal(
        name,
        "alert" if high < bar else "ok",
        f1,
        bar,
        "below",
        int(true.size),
        f"macro-F1 {f1:.3f} [{low:.3f}, {high:.3f}] vs reference {ref.macro_f1:.3f}; alerts "
        f"when the whole interval is below {bar:.3f}",
        extra,
    )
