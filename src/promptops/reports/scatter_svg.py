"""A labelled scatter plot as a standalone SVG string, for trade-offs such as quality against
cost: each point (label, x, y, on_frontier); frontier points are joined by a step line from
the cheapest up, so the dominated points sit visibly below and to the right of it."""

from __future__ import annotations

from collections.abc import Sequence

from promptops.reports.svg import BLUE, FONT, GRID, INK, MUTED, short, text

Point = tuple[str, float, float, bool]
Row = Sequence[float | str | None]


def _n(value: float) -> str:
    return f"{value:.1f}"


def _span(values: Sequence[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or max(abs(hi) * 0.1, 1e-9)
    return lo - pad, hi + pad


def points_of(rows: Sequence[Row]) -> list[Point]:
    """Chart rows (label, x, y, flag) with numbers for x and y; other rows are not drawn."""
    return [
        (str(r[0]), float(r[1]), float(r[2]), bool(r[3]) if len(r) > 3 else False)
        for r in rows
        if isinstance(r[1], int | float) and isinstance(r[2], int | float)
    ]


def scatter(rows: Sequence[Row], *, title: str, axes: Sequence[str] = ("x", "y")) -> str:
    """The SVG of the rows; `axes` names the x and y axes."""
    points = points_of(rows)
    x_label, y_label = (*axes, "x", "y")[:2]
    if not points:
        return ""
    width, height, left, right, top, bottom = 560.0, 320.0, 56.0, 150.0, 14.0, 40.0
    plot_w, plot_h = width - left - right, height - top - bottom
    (x0, x1), (y0, y1) = _span([p[1] for p in points]), _span([p[2] for p in points])

    def xy(x: float, y: float) -> tuple[float, float]:
        return left + plot_w * (x - x0) / (x1 - x0), top + plot_h * (1 - (y - y0) / (y1 - y0))

    body = []
    for i in range(3):
        tx, ty = x0 + (x1 - x0) * i / 2, y0 + (y1 - y0) * i / 2
        (gx, _), (_, gy) = xy(tx, y0), xy(x0, ty)
        body.append(
            f'<line x1="{_n(gx)}" y1="{_n(top)}" x2="{_n(gx)}" y2="{_n(top + plot_h)}"'
            f' stroke="{GRID}"/><text x="{_n(gx)}" y="{_n(top + plot_h + 16)}"'
            f' text-anchor="middle" fill="{MUTED}" font-size="11">{tx:.4g}</text>'
            f'<line x1="{_n(left)}" y1="{_n(gy)}" x2="{_n(left + plot_w)}" y2="{_n(gy)}"'
            f' stroke="{GRID}"/><text x="{_n(left - 6)}" y="{_n(gy + 4)}" text-anchor="end"'
            f' fill="{MUTED}" font-size="11">{ty:.3g}</text>'
        )
    body.append(
        f'<text x="{_n(left + plot_w / 2)}" y="{_n(height - 6)}" text-anchor="middle"'
        f' fill="{MUTED}">{text(x_label)}</text>'
        f'<text x="12" y="{_n(top + plot_h / 2)}" text-anchor="middle" fill="{MUTED}"'
        f' transform="rotate(-90 12 {_n(top + plot_h / 2)})">{text(y_label)}</text>'
    )
    front = sorted((p for p in points if p[3]), key=lambda p: (p[1], p[2]))
    if len(front) > 1:
        path = " ".join(f"{_n(a)},{_n(b)}" for a, b in (xy(p[1], p[2]) for p in front))
        body.append(
            f'<polyline class="frontier" points="{path}" fill="none" stroke="{BLUE}"'
            f' stroke-width="1.5" stroke-dasharray="5 3"/>'
        )
    for label, x, y, on_front in points:
        cx, cy = xy(x, y)
        fill = BLUE if on_front else MUTED
        body.append(
            f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="5" fill="{fill}"><title>{text(label)}'
            f"</title></circle>"
            f'<text x="{_n(cx + 8)}" y="{_n(cy - 6)}" font-size="11">{text(short(label))}</text>'
        )
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(width)}" height="{_n(height)}"'
            f' viewBox="0 0 {_n(width)} {_n(height)}" role="img" aria-label="{text(title)}"'
            f' font-family="{text(FONT)}" font-size="12" fill="{INK}">',
            f"<title>{text(title)}</title>",
            *body,
            "</svg>",
        ]
    )
