"""Charts as standalone SVG strings: pure functions of plain numbers and labels.

The HTML report inlines these (no scripts, no images, no network), and each one is a
well-formed XML document on its own. Every label goes through `text`, which escapes it and
drops characters XML cannot hold, so a label such as `</svg>` stays text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence

from promptops.reports import fmt
from promptops.runs.summary import ReliabilityBin

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
BLUE = "#2563eb"
ORANGE = "#ea580c"
RED = "#dc2626"
SERIES_COLORS = ("#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2")
LABEL_CHARS = 22

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_safe(value: str) -> str:
    """Drop the control characters that XML 1.0 cannot hold (they would break parsing)."""
    return _XML_ILLEGAL.sub("", value)


def text(value: str) -> str:
    """Escape a string for SVG/HTML text or a quoted attribute."""
    return html.escape(xml_safe(value), quote=True)


def short(value: str, limit: int = LABEL_CHARS) -> str:
    """Trim a label to fit an axis; the full label stays in the element's <title>."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _n(value: float) -> str:
    return f"{value:.1f}"


def _svg(width: float, height: float, label: str, body: list[str]) -> str:
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(width)}" height="{_n(height)}"'
            f' viewBox="0 0 {_n(width)} {_n(height)}" role="img" aria-label="{text(label)}"'
            f' font-family="{text(FONT)}" font-size="12" fill="{INK}">',
            f"<title>{text(label)}</title>",
            *body,
            "</svg>",
        ]
    )


def _label_width(labels: Sequence[str]) -> float:
    longest = max((len(short(label)) for label in labels), default=4)
    return 12 + 6.6 * longest


def confusion_heatmap(
    rows: Sequence[str],
    columns: Sequence[str],
    matrix: Sequence[Sequence[int]],
    *,
    row_title: str = "Expected",
    col_title: str = "Predicted",
) -> str:
    """A heat map with one `rect.cell` per entry, shaded by the share of its row.

    Correct answers (row label == column label) are blue, mistakes orange, so the eye finds
    the diagonal and the largest confusions at once. Counts are printed when cells are big
    enough to hold them, and every cell has a <title> with the full labels and share.
    """
    cell = max(10.0, min(46.0, 640.0 / max(len(columns), 1)))
    left = _label_width(rows) + 24
    top = 34.0
    col_label_height = 0.72 * _label_width(columns)
    width = left + cell * len(columns) + 16
    height = top + cell * len(rows) + col_label_height + 24
    body = [
        f'<text x="{_n(left + cell * len(columns) / 2)}" y="18" text-anchor="middle"'
        f' font-weight="600">{text(col_title)}</text>',
        f'<text transform="translate(14 {_n(top + cell * len(rows) / 2)}) rotate(-90)"'
        f' text-anchor="middle" font-weight="600">{text(row_title)}</text>',
    ]
    for i, (row, counts) in enumerate(zip(rows, matrix, strict=True)):
        total = sum(counts)
        y = top + i * cell
        body.append(
            f'<text x="{_n(left - 6)}" y="{_n(y + cell / 2 + 4)}" text-anchor="end">'
            f"<title>{text(row)}</title>{text(short(row))}</text>"
        )
        for j, (col, n) in enumerate(zip(columns, counts, strict=True)):
            body.extend(_heat_cell(left + j * cell, y, cell, (i, row), (j, col), n, total))
    base = top + cell * len(rows) + 8
    for j, col in enumerate(columns):
        x = left + j * cell + cell / 2
        body.append(
            f'<text transform="translate({_n(x + 4)} {_n(base)}) rotate(-45)" text-anchor="end">'
            f"<title>{text(col)}</title>{text(short(col))}</text>"
        )
    return _svg(width, height, f"Confusion matrix: {row_title} by {col_title}", body)


def _heat_cell(
    x: float, y: float, size: float, row: tuple[int, str], col: tuple[int, str], n: int, total: int
) -> list[str]:
    share = n / total if total else 0.0
    color = BLUE if row[1] == col[1] else ORANGE
    fill, opacity = ("#f3f4f6", 1.0) if n == 0 else (color, max(0.08, share))
    tip = f"expected {row[1]}, predicted {col[1]}: {n} ({fmt.pct(share)} of row)"
    out = [
        f'<rect class="cell" data-row="{row[0]}" data-col="{col[0]}" x="{_n(x)}" y="{_n(y)}"'
        f' width="{_n(size - 1)}" height="{_n(size - 1)}" fill="{fill}"'
        f' fill-opacity="{opacity:.3f}"><title>{text(tip)}</title></rect>'
    ]
    if size >= 18 and n:
        ink = "#ffffff" if opacity > 0.55 else INK
        out.append(
            f'<text x="{_n(x + (size - 1) / 2)}" y="{_n(y + size / 2 + 4)}" text-anchor="middle"'
            f' fill="{ink}" font-size="{11 if size < 30 else 12}">{n}</text>'
        )
    return out


def grouped_bars(
    groups: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, title: str
) -> str:
    """Bars grouped per label (e.g. precision, recall and F1 per class) on a 0–1 axis."""
    bar = 16.0
    group_width = bar * len(series) + 18
    left, top, plot_h = 44.0, 40.0, 200.0
    label_h = 0.6 * _label_width(groups) + 8
    width = left + group_width * len(groups) + 20
    height = top + plot_h + label_h + 12

    def y_of(v: float) -> float:
        return top + plot_h * (1 - min(max(v, 0.0), 1.0))

    body = _y_axis(left, width - 20, y_of, [0.0, 0.25, 0.5, 0.75, 1.0])
    for k, (name, _) in enumerate(series):
        lx = left + k * 110
        body.append(
            f'<rect x="{_n(lx)}" y="12" width="12" height="12" rx="2"'
            f' fill="{SERIES_COLORS[k % len(SERIES_COLORS)]}"/>'
            f'<text x="{_n(lx + 17)}" y="22">{text(name)}</text>'
        )
    for g, group in enumerate(groups):
        gx = left + 8 + g * group_width
        for k, (name, values) in enumerate(series):
            v = values[g]
            y = y_of(v)
            body.append(
                f'<rect class="bar" x="{_n(gx + k * bar)}" y="{_n(y)}" width="{_n(bar - 2)}"'
                f' height="{_n(top + plot_h - y)}" fill="{SERIES_COLORS[k % len(SERIES_COLORS)]}">'
                f"<title>{text(f'{group}: {name} {fmt.num(v)}')}</title></rect>"
            )
        cx = gx + bar * len(series) / 2
        body.append(
            f'<text transform="translate({_n(cx + 4)} {_n(top + plot_h + 14)}) rotate(-35)"'
            f' text-anchor="end"><title>{text(group)}</title>{text(short(group))}</text>'
        )
    return _svg(width, height, title, body)


def _y_axis(
    left: float, right: float, y_of: Callable[[float], float], ticks: Sequence[float]
) -> list[str]:
    """Horizontal grid lines with their values on the left."""
    out = []
    for t in ticks:
        y = y_of(t)
        out.append(
            f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(right)}" y2="{_n(y)}" stroke="{GRID}"/>'
            f'<text x="{_n(left - 6)}" y="{_n(y + 4)}" text-anchor="end" fill="{MUTED}"'
            f' font-size="11">{fmt.num(t, 2)}</text>'
        )
    return out


def reliability_diagram(bins: Sequence[ReliabilityBin]) -> str:
    """Accuracy against confidence per bin, with the diagonal of perfect calibration.

    Each non-empty bin is a bar spanning its confidence range up to its accuracy, with a dot
    at (mean confidence, accuracy) and its case count above; bars under the diagonal mean
    the model is over-confident there.
    """
    left, top, size = 52.0, 20.0, 300.0
    width, height = left + size + 24, top + size + 52

    def x_of(v: float) -> float:
        return left + size * min(max(v, 0.0), 1.0)

    def y_of(v: float) -> float:
        return top + size * (1 - min(max(v, 0.0), 1.0))

    ticks = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    body = _y_axis(left, left + size, y_of, ticks)
    for t in ticks:
        body.append(
            f'<text x="{_n(x_of(t))}" y="{_n(top + size + 16)}" text-anchor="middle"'
            f' fill="{MUTED}" font-size="11">{fmt.num(t, 1)}</text>'
        )
    body.append(
        f'<line class="diagonal" x1="{_n(x_of(0))}" y1="{_n(y_of(0))}" x2="{_n(x_of(1))}"'
        f' y2="{_n(y_of(1))}" stroke="{MUTED}" stroke-dasharray="4 4"/>'
    )
    for b in bins:
        if b.count == 0 or b.accuracy is None:
            continue
        x0, x1, y = x_of(b.lower), x_of(b.upper), y_of(b.accuracy)
        tip = (
            f"confidence {fmt.num(b.lower, 2)}–{fmt.num(b.upper, 2)}: {b.count} cases, "
            f"accuracy {fmt.num(b.accuracy)}, mean confidence {fmt.num(b.confidence)}"
        )
        body.append(
            f'<rect class="bin" x="{_n(x0 + 1)}" y="{_n(y)}" width="{_n(max(x1 - x0 - 2, 1))}"'
            f' height="{_n(top + size - y)}" fill="{BLUE}" fill-opacity="0.28" stroke="{BLUE}">'
            f"<title>{text(tip)}</title></rect>"
            f'<text class="bin-count" x="{_n((x0 + x1) / 2)}" y="{_n(y - 8)}"'
            f' text-anchor="middle" font-size="10" fill="{MUTED}">{b.count}</text>'
        )
        if b.confidence is not None:
            body.append(
                f'<circle cx="{_n(x_of(b.confidence))}" cy="{_n(y)}" r="3.5" fill="{BLUE}"/>'
            )
    body.append(
        f'<text x="{_n(left + size / 2)}" y="{_n(height - 14)}" text-anchor="middle"'
        f' font-weight="600">Confidence (numbers: cases per bin)</text>'
        f'<text transform="translate(14 {_n(top + size / 2)}) rotate(-90)"'
        f' text-anchor="middle" font-weight="600">Accuracy</text>'
    )
    return _svg(width, height, "Reliability diagram", body)


def ci_whiskers(
    rows: Sequence[tuple[str, float, float, float]],
    *,
    title: str,
    domain: tuple[float, float] = (0.0, 1.0),
    reference: float | None = None,
    signed: bool = False,
) -> str:
    """One row per (label, estimate, low, high): a dot on a whisker from low to high.

    `reference` draws a dashed line (0 for differences), so a whisker that crosses it is a
    difference the data cannot tell from zero.
    """
    left = _label_width([r[0] for r in rows]) + 8
    plot_w, row_h, top = 240.0, 30.0, 12.0
    width = left + plot_w + 170
    height = top + row_h * len(rows) + 30
    lo, hi = domain
    show = fmt.signed if signed else fmt.num

    def x_of(v: float) -> float:
        return left + plot_w * (min(max(v, lo), hi) - lo) / (hi - lo)

    bottom = top + row_h * len(rows)
    body = []
    for t in (lo, (lo + hi) / 2, hi):
        body.append(
            f'<line x1="{_n(x_of(t))}" y1="{_n(top)}" x2="{_n(x_of(t))}" y2="{_n(bottom)}"'
            f' stroke="{GRID}"/><text x="{_n(x_of(t))}" y="{_n(bottom + 16)}"'
            f' text-anchor="middle" fill="{MUTED}" font-size="11">{show(t, 2)}</text>'
        )
    if reference is not None:
        body.append(
            f'<line class="reference" x1="{_n(x_of(reference))}" y1="{_n(top)}"'
            f' x2="{_n(x_of(reference))}" y2="{_n(bottom)}" stroke="{MUTED}"'
            f' stroke-dasharray="4 3"/>'
        )
    for i, (label, estimate, low, high) in enumerate(rows):
        y = top + row_h * i + row_h / 2
        x0, x1, xe = x_of(low), x_of(high), x_of(estimate)
        body.append(
            f'<text x="{_n(left - 8)}" y="{_n(y + 4)}" text-anchor="end">'
            f"<title>{text(label)}</title>{text(short(label))}</text>"
            f'<g class="whisker" stroke="{BLUE}" stroke-width="2">'
            f'<line x1="{_n(x0)}" y1="{_n(y)}" x2="{_n(x1)}" y2="{_n(y)}"/>'
            f'<line x1="{_n(x0)}" y1="{_n(y - 6)}" x2="{_n(x0)}" y2="{_n(y + 6)}"/>'
            f'<line x1="{_n(x1)}" y1="{_n(y - 6)}" x2="{_n(x1)}" y2="{_n(y + 6)}"/></g>'
            f'<circle cx="{_n(xe)}" cy="{_n(y)}" r="4.5" fill="{BLUE}"/>'
            f'<text x="{_n(left + plot_w + 12)}" y="{_n(y + 4)}">'
            f"{show(estimate)} {fmt.interval(low, high, sign=signed)}</text>"
        )
    return _svg(width, height, title, body)


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
            f' fill="{SERIES_COLORS[k % len(SERIES_COLORS)]}"/>'
            f'<text x="{_n(lx + 17)}" y="18">{text(name)}</text>'
        )
    if threshold is not None:
        y = y_of(threshold)
        body.append(
            f'<line class="threshold" x1="{_n(left)}" y1="{_n(y)}" x2="{_n(left + plot_w)}"'
            f' y2="{_n(y)}" stroke="{RED}" stroke-dasharray="6 4"/>'
        )
    for k, (_, vs) in enumerate(series):
        color = SERIES_COLORS[k % len(SERIES_COLORS)]
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
        v = first[i] if i < len(first) else None
        if v is not None:
            body.append(
                f'<circle class="alert" cx="{_n(x_of(i))}" cy="{_n(y_of(v))}" r="4" fill="{RED}">'
                f"<title>{text(f'alert in window {i}: {x_labels[i]}')}</title></circle>"
            )
    for i in sorted({0, (n - 1) // 2, n - 1}):
        if i < len(x_labels):
            body.append(
                f'<text x="{_n(x_of(i))}" y="{_n(top + plot_h + 18)}" text-anchor="middle"'
                f' fill="{MUTED}" font-size="11">{text(x_labels[i])}</text>'
            )
    return _svg(width, height, title, body)


def scatter(
    points: Sequence[tuple[str, float, float]], *, title: str, x_name: str, y_name: str
) -> str:
    """One labelled dot per (label, x, y), e.g. cost against quality per prompt and model;
    both axes start at zero when every value is positive."""
    left, top, plot_w, plot_h = 64.0, 16.0, 480.0, 260.0
    width, height = left + plot_w + 150, top + plot_h + 48
    xs, ys = [p[1] for p in points], [p[2] for p in points]
    x_low, y_low = min([0.0, *xs]), min([0.0, *ys])
    x_high, y_high = max([*xs, 1e-9]) * 1.05, max([*ys, 1e-9]) * 1.05

    def x_of(v: float) -> float:
        return left + plot_w * (v - x_low) / (x_high - x_low)

    def y_of(v: float) -> float:
        return top + plot_h * (1 - (v - y_low) / (y_high - y_low))

    body = _y_axis(left, left + plot_w, y_of, _ticks(y_low, y_high))
    for t in _ticks(x_low, x_high):
        body.append(
            f'<text x="{_n(x_of(t))}" y="{_n(top + plot_h + 16)}" text-anchor="middle"'
            f' fill="{MUTED}" font-size="11">{fmt.num(t, 2)}</text>'
        )
    body.append(
        f'<text x="{_n(left + plot_w / 2)}" y="{_n(height - 6)}" text-anchor="middle"'
        f' fill="{MUTED}">{text(x_name)}</text>'
        f'<text x="12" y="{_n(top + plot_h / 2)}" text-anchor="middle" fill="{MUTED}"'
        f' transform="rotate(-90 12 {_n(top + plot_h / 2)})">{text(y_name)}</text>'
    )
    for k, (label, x, y) in enumerate(points):
        color = SERIES_COLORS[k % len(SERIES_COLORS)]
        body.append(
            f'<g class="point"><circle cx="{_n(x_of(x))}" cy="{_n(y_of(y))}" r="5"'
            f' fill="{color}"><title>{text(f"{label}: {fmt.num(x)}, {fmt.num(y)}")}</title>'
            f'</circle><text x="{_n(x_of(x) + 8)}" y="{_n(y_of(y) + 4)}">{text(short(label))}'
            "</text></g>"
        )
    return _svg(width, height, title, body)
