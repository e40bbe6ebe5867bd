"""Hand-made SVG charts: horizontal bars and a line over days, with title, axes and units.

Why by hand: the charts go into Dagster metadata (as a base64 data URI in Markdown) and
into an offline HTML page, so they must be self-contained; a plotting library would be a
large new dependency for two chart types. Text is escaped; sizes are fixed so the page
lays out before any data is drawn.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from html import escape

WIDTH = 640
FONT = "font-family=\"DejaVu Sans, Arial, sans-serif\""
COLORS = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#718096")


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5, 5 × 10^k)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover


def _fmt(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.0f}%" if value == int(value) else f"{value:.1f}%"
    if abs(value) >= 1000:
        return f"{value / 1000:,.0f}k" if value % 1000 == 0 or abs(value) >= 10000 else f"{value / 1000:,.1f}k"
    return f"{value:g}"


def _frame(title: str, height: int, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">'
            f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>'
            f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold" '
            f'{FONT}>{escape(title)}</text>' + "".join(body) + "</svg>")


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float | None], *,
              x_label: str, unit: str = "", y_label: str = "") -> str:
    """Horizontal bars, one per label; a None value is drawn as "n/a" (e.g. suppressed)."""
    left, right, top, row = 230, 60, 40, 22
    plot_w = WIDTH - left - right
    height = top + max(len(labels), 1) * row + 60
    axis_max = _nice_max(max([v for v in values if v is not None] or [0]))
    body = []
    bottom = top + max(len(labels), 1) * row
    for i in range(5):
        tick = axis_max * i / 4
        x = left + plot_w * i / 4
        body.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="#e2e8f0"/>'
                    f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" font-size="11" '
                    f'{FONT}>{escape(_fmt(tick, unit))}</text>')
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * row
        body.append(f'<text x="{left - 6}" y="{y + row * 0.68:.1f}" text-anchor="end" '
                    f'font-size="12" {FONT}>{escape(label)}</text>')
        if value is None:
            body.append(f'<text x="{left + 4}" y="{y + row * 0.68:.1f}" font-size="11" '
                        f'fill="#718096" {FONT}>n/a</text>')
            continue
        w = plot_w * value / axis_max
        body.append(f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
                    f'fill="{COLORS[0]}"><title>{escape(label)}: {escape(_fmt(value, unit))}'
                    f'</title></rect>'
                    f'<text x="{left + w + 4:.1f}" y="{y + row * 0.68:.1f}" font-size="11" '
                    f'{FONT}>{escape(_fmt(value, unit))}</text>')
    body.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#1a202c"/>'
                f'<line x1="{left}" y1="{bottom}" x2="{left + plot_w}" y2="{bottom}" '
                f'stroke="#1a202c"/>'
                f'<text x="{left + plot_w / 2}" y="{bottom + 36}" text-anchor="middle" '
                f'font-size="12" {FONT}>{escape(x_label)}</text>')
    if y_label:
        body.append(f'<text x="14" y="{(top + bottom) / 2}" text-anchor="middle" font-size="12" '
                    f'transform="rotate(-90 14 {(top + bottom) / 2})" {FONT}>{escape(y_label)}</text>')
    return _frame(title, height, body)


def line_chart(title: str, x_labels: Sequence[str], series: dict[str, Sequence[float | None]],
               *, y_label: str, unit: str = "", x_label: str = "day (UTC)") -> str:
    """One line per series over ``x_labels`` (days), with markers, legend and y axis."""
    left, right, top, bottom_pad = 70, 20, 60, 60
    height = 320
    plot_w, plot_h = WIDTH - left - right, height - top - bottom_pad
    bottom = top + plot_h
    values = [v for s in series.values() for v in s if v is not None]
    axis_max = _nice_max(max(values or [0]))
    n = max(len(x_labels), 1)

    def px(i: int) -> float:
        return left + (plot_w * (i + 0.5) / n)

    def py(v: float) -> float:
        return bottom - plot_h * v / axis_max

    body = []
    for i in range(5):
        tick = axis_max * i / 4
        y = py(tick)
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                    f'stroke="#e2e8f0"/><text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
                    f'font-size="11" {FONT}>{escape(_fmt(tick, unit))}</text>')
    step = max(1, math.ceil(n / 8))
    for i, label in enumerate(x_labels):
        if i % step == 0:
            body.append(f'<text x="{px(i):.1f}" y="{bottom + 16}" text-anchor="middle" '
                        f'font-size="11" {FONT}>{escape(label)}</text>')
    for k, (name, points) in enumerate(series.items()):
        color = COLORS[k % len(COLORS)]
        coords = [(px(i), py(v)) for i, v in enumerate(points) if v is not None]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            body.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for (x, y), v in zip(coords, [v for v in points if v is not None], strict=True):
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}">'
                        f'<title>{escape(name)}: {escape(_fmt(v, unit))}</title></circle>')
        lx = left + 10 + k * 150
        body.append(f'<rect x="{lx}" y="34" width="12" height="12" fill="{color}"/>'
                    f'<text x="{lx + 16}" y="44" font-size="12" {FONT}>{escape(name)}</text>')
    body.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#1a202c"/>'
                f'<line x1="{left}" y1="{bottom}" x2="{left + plot_w}" y2="{bottom}" '
                f'stroke="#1a202c"/>'
                f'<text x="{left + plot_w / 2}" y="{bottom + 40}" text-anchor="middle" '
                f'font-size="12" {FONT}>{escape(x_label)}</text>'
                f'<text x="16" y="{(top + bottom) / 2}" text-anchor="middle" font-size="12" '
                f'transform="rotate(-90 16 {(top + bottom) / 2})" {FONT}>{escape(y_label)}</text>')
    return _frame(title, height, body)


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def markdown_image(svg: str, alt: str = "chart") -> str:
    """The chart as Markdown metadata, the way Dagster's own examples embed images."""
    return f"![{alt}]({data_uri(svg)})"
