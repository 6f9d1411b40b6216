"""A time-series chart for the monitor report: one line per series over windows, the alert
threshold as a dashed line, alerted windows as red dots. Built on `svg`'s document, axis and
escaping helpers, so it is as self-contained and safe as the other charts."""

from __future__ import annotations

from collections.abc import Sequence

from promptops.reports import svg
from promptops.reports.svg import _n, _svg, _y_axis

RED = "#dc2626"


def _ticks(low: float, high: float) -> list[float]:
    if high <= low:
        high = low + 1.0
    return [low + (high - low) * i / 4 for i in range(5)]


def time_series(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    title: str,
    threshold: float | None = None,
    alerts: Sequence[int] = (),
) -> str:
    """Windows on the x axis (labels under the first, middle and last), values on y; a None
    value (too few requests, nothing logged) leaves a gap."""
    left, top, plot_w, plot_h = 64.0, 34.0, 640.0, 180.0
    width, height = left + plot_w + 20, top + plot_h + 44
    values = [v for _, vs in series for v in vs if v is not None]
    low = min([0.0, *values])
    high = max([*values, *([threshold * 1.1] if threshold is not None else []), 1e-9])
    n = max(len(x_labels), 1)

    def x_of(i: int) -> float:
        return left + (plot_w * (i + 0.5) / n)

    def y_of(v: float) -> float:
        return top + plot_h * (1 - (v - low) / (high - low))

    body = _y_axis(left, left + plot_w, y_of, _ticks(low, high))
    for k, (name, _) in enumerate(series):
        lx = left + k * 130
        body.append(
            f'<rect x="{_n(lx)}" y="8" width="12" height="12" rx="2"'
            f' fill="{svg.SERIES_COLORS[k % len(svg.SERIES_COLORS)]}"/>'
            f'<text x="{_n(lx + 17)}" y="18">{svg.text(name)}</text>'
        )
    if threshold is not None:
        y = y_of(threshold)
        body.append(
            f'<line class="threshold" x1="{_n(left)}" y1="{_n(y)}" x2="{_n(left + plot_w)}"'
            f' y2="{_n(y)}" stroke="{RED}" stroke-dasharray="6 4"/>'
        )
    for k, (_, vs) in enumerate(series):
        color = svg.SERIES_COLORS[k % len(svg.SERIES_COLORS)]
        runs: list[list[str]] = [[]]
        for i, v in enumerate(vs):
            if v is None:
                runs.append([])
            else:
                runs[-1].append(f"{_n(x_of(i))},{_n(y_of(v))}")
        for run in runs:
            if len(run) > 1:
                body.append(
                    f'<polyline class="series" fill="none" stroke="{color}"'
                    f' stroke-width="1.5" points="{" ".join(run)}"/>'
                )
            elif run:
                cx, cy = run[0].split(",")
                body.append(f'<circle cx="{cx}" cy="{cy}" r="2" fill="{color}"/>')
    first = series[0][1] if series else []
    for i in alerts:
        if i < len(first) and first[i] is not None:
            v = first[i]
            assert v is not None
            body.append(
                f'<circle class="alert" cx="{_n(x_of(i))}" cy="{_n(y_of(v))}" r="4" fill="{RED}">'
                f"<title>{svg.text(f'alert in window {i}: {x_labels[i]}')}</title></circle>"
            )
    for i in sorted({0, (n - 1) // 2, n - 1}):
        if i < len(x_labels):
            body.append(
                f'<text x="{_n(x_of(i))}" y="{_n(top + plot_h + 18)}" text-anchor="middle"'
                f' fill="{svg.MUTED}" font-size="11">{svg.text(x_labels[i])}</text>'
            )
    return _svg(width, height, title, body)
